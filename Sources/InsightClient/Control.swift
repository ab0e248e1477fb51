import Foundation
import InsightCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The commands of insightctl, each returning the process exit status
/// (0 ok, 1 error, 2 usage, 3 daemon not running, 4 permission or protocol failure).
public struct Control: Sendable {
    public var client: SocketClient
    public let output: Output
    /// Whether anything was written to standard output: an error after a reply adds no second JSON document.
    private let wroteOutput = WrittenFlag()

    public init(socketPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        client = SocketClient(path: socketPath ?? SocketPath.resolve(environment: environment))
        output = Output(environment: environment)
    }

    /// Runs `body`, printing errors the way a user can act on them, and returns the exit status. With `json`, an
    /// error is also printed on standard output as a JSON object, so a script reading the output gets JSON either way.
    public func run(json: Bool = false, _ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch let error as ClientError {
            if json, !wroteOutput.value.load(ordering: .relaxed) { emit(error.json) }
            printError("insightctl: \(error.message)")
            if error.code == .notRunning {
                printError("Start it with `systemctl start insightd` (system service) or `systemctl --user start insightd` (user service), "
                           + "or run `insightd` in a terminal. Use --socket or $INSIGHTD_SOCKET if it listens elsewhere.")
            }
            return error.exitCode
        } catch {
            printError("insightctl: \(error)")
            return 1
        }
    }

    /// Sends a request and decodes a successful JSON reply, turning error replies into `ClientError`s.
    /// Returns the decoded value and the raw body (printed as is by `--json`).
    public func call<T: Decodable>(_ method: String, _ target: String, body: [UInt8]? = nil,
                                   as type: T.Type = T.self) throws(ClientError) -> (value: T, raw: [UInt8]) {
        let reply = try client.request(method, target, body: body)
        try check(reply)
        do {
            // What is shown comes from inbox writers; the decoded copy has every control character made visible,
            // while `--json` prints the exact reply.
            return (try WireJSON.decoder().decode(T.self, from: Data(VisibleText.escapingStrings(inJSON: reply.body))), reply.body)
        } catch {
            throw ClientError(code: .protocol, message: "the daemon's reply to \(target) is not what this insightctl expects (\(error)); are daemon and CLI the same version?")
        }
    }

    /// Checks the API version every reply carries, then turns an error status into a `ClientError`.
    func check(_ reply: HTTPReply) throws(ClientError) {
        guard let version = reply.headers[apiVersionHeader.lowercased()] else {
            throw ClientError(code: .protocol, message: "the server on \(client.path) does not speak the insightd API (its reply has no \(apiVersionHeader) header); check --socket")
        }
        guard version == String(InsightVersion.apiSchema) else {
            let server = reply.headers["server"] ?? "insightd"
            throw ClientError(code: .protocol, message: "the daemon (\(server)) speaks API version \(version) but this insightctl \(InsightVersion.current) speaks version \(InsightVersion.apiSchema); install matching versions of insightd and insightctl")
        }
        guard (200..<300).contains(reply.status) else {
            let message = (try? WireJSON.decoder().decode(ErrorReply.self, from: Data(VisibleText.escapingStrings(inJSON: reply.body))))?.error.message
                ?? "HTTP \(reply.status)"
            var error = ClientError(code: reply.status == 403 ? .permission : .daemon, message: message)
            error.reply = reply.body
            throw error
        }
    }

    func emit(_ bytes: [UInt8]) {
        wroteOutput.value.store(true, ordering: .relaxed)
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// A flag the copies of one `Control` share.
    final class WrittenFlag: Sendable {
        let value = Atomic(false)
    }

    // MARK: - status

    /// `insightctl status [--json] [--verify]`. With `verify`, the daemon also counts every row and says whether its
    /// kept counters agree; a disagreement (or a count that could not be taken) is an error, exit status 1.
    public func status(json: Bool, verify: Bool = false) throws {
        let (report, raw) = try call("GET", verify ? "/v1/status?verify=1" : "/v1/status", as: StatusReport.self)
        try checkSchema(report)
        if json { emit(raw) } else { print(render(report)) }
        guard verify else { return }
        guard let check = report.verification else {
            throw ClientError(code: .protocol, message: "the daemon did not check its counters; is it older than this insightctl?")
        }
        if let error = check.error {
            throw ClientError(code: .daemon, message: "cannot check the counters: \(error)")
        }
        guard check.agrees else {
            let list = check.differences.map { "\($0.counter) \($0.kept) (counted \($0.counted))" }.joined(separator: ", ")
            throw ClientError(code: .daemon, message: "the status counters differ from a full count: \(list)")
        }
    }

    func checkSchema(_ report: StatusReport) throws(ClientError) {
        guard report.schema == InsightVersion.apiSchema else {
            throw ClientError(code: .protocol, message: "the daemon speaks API schema \(report.schema) (insightd \(report.version)) but this insightctl speaks schema \(InsightVersion.apiSchema) (\(InsightVersion.current)); install matching versions")
        }
    }

    /// `insightctl status --watch`: one connection; redrawn in place on a terminal, one JSON line per
    /// interval otherwise. Ends cleanly (status 0) when the daemon stops.
    public func watchStatus(interval: Double, json: Bool) throws {
        var client = self.client
        client.timeoutSeconds = Int(interval.rounded(.up)) + 30
        let inPlace = !json && isatty(1) == 1
        let reader = LineCollector()
        let target = "/v1/status?watch=1&interval=\(interval)"
        let reply: HTTPReply
        do {
            reply = try client.stream("GET", target) { chunk in
                for line in reader.add(chunk) {
                    if !inPlace {
                        emit(line + [0x0A])
                        continue
                    }
                    let report: StatusReport
                    do {
                        report = try WireJSON.decoder().decode(StatusReport.self, from: Data(VisibleText.escapingStrings(inJSON: line)))
                    } catch {
                        throw ClientError(code: .protocol, message: "the daemon's status line cannot be read (\(error))")
                    }
                    try checkSchema(report)
                    // Home, clear to the end, draw: the screen shows one status that changes.
                    print("\u{1B}[H\u{1B}[J" + render(report) + "\n" + output.dim("refreshing every \(Output.seconds(interval)); Ctrl-C to stop"))
                }
            }
        } catch {
            // The daemon stopped while we watched: not an error of ours.
            guard error.code == .disconnected, reader.lines > 0 else { throw error }
            printError("insightd stopped; no more status")
            return
        }
        try check(reply)
        printError("insightd stopped; no more status")
    }

    func render(_ report: StatusReport) -> String {
        let state = report.state == "running" ? output.green(report.state) : output.yellow(report.state)
        var rows: [[String]] = []
        // Ingestion waits (a full disk, say): what to do comes first.
        if let detail = report.stateDetail { rows.append(["on hold", output.yellow(detail)]) }
        rows.append(["inbox", "\(report.inbox)  (\(report.watch.mode), \(Output.count(report.watch.folders)) folder\(report.watch.folders == 1 ? "" : "s"))"])
        var files = "\(Output.count(report.files.ingested)) ingested · \(Output.count(report.files.pending)) pending"
        files += " · \(Output.count(report.files.skipped)) skipped · "
        files += report.files.failed > 0 ? output.red("\(Output.count(report.files.failed)) failed") : "0 failed"
        if report.files.removed > 0 { files += " · \(Output.count(report.files.removed)) removed" }
        rows.append(["files", files])
        rows.append(["insights", "\(output.bold(Output.count(report.insights.unique))) unique · \(Output.count(report.insights.occurrences)) occurrences"])
        if report.database.kind == "sqlite" {
            let free = report.database.freeBytes.map { " · \(Output.bytes($0)) free" } ?? ""
            rows.append(["database", "\(report.database.path)  (\(Output.bytes(report.database.bytes))\(free))"])
        } else {
            let size = report.database.reachable ? Output.bytes(report.database.bytes) : "unreachable"
            rows.append(["database", "\(report.database.kind) \(report.database.path)  (\(size))"])
        }
        if let last = report.lastIngestAt { rows.append(["last ingest", Output.ago(last)]) }
        if let oldest = report.watch.oldestPendingS, report.files.pending > 0 { rows.append(["oldest pending", Output.duration(oldest)]) }
        if report.watch.overflows > 0 || report.watch.rescans > 0 {
            rows.append(["rescans", "\(Output.count(report.watch.rescans)) (\(Output.count(report.watch.overflows)) after queue overflow)"])
        }
        if let semantic = report.semantic { rows.append(["meaning", renderSemantic(semantic)]) }
        if let error = report.lastError {
            rows.append(["last error", output.red("\(error.path): \(error.message)") + " (\(Output.ago(error.at)))"])
        }
        if let check = report.verification {
            let took = " (full count: " + (check.seconds < 1 ? "\(Int((check.seconds * 1000).rounded())) ms" : Output.seconds(check.seconds)) + ")"
            if let error = check.error {
                rows.append(["counters", output.red("not checked: \(error)")])
            } else if check.agrees {
                rows.append(["counters", output.green("agree with a full count") + took])
            } else {
                let list = check.differences.map { "\($0.counter) \(Output.count($0.kept)), counted \(Output.count($0.counted))" }
                rows.append(["counters", output.red("differ from a full count: " + list.joined(separator: "; ")) + took])
            }
        }
        let header = "insightd \(report.version) · \(state) · up \(Output.duration(report.uptimeS)) · pid \(report.pid)"
        return header + "\n" + Output.table(rows.map { [output.dim($0[0]), $0[1]] })
    }

    /// The sentence-vector line of status: why it is off, or how far embedding has come, with a bar while a
    /// backlog runs.
    func renderSemantic(_ semantic: SemanticStatus) -> String {
        if semantic.state == "off" { return output.yellow("off: " + (semantic.reason ?? "no sentence model")) }
        if semantic.state == "loading" { return "loading \(semantic.model ?? "the sentence model")" }
        let total = semantic.embedded + semantic.pending
        var line = "\(Output.count(semantic.embedded)) of \(Output.count(total)) insights embedded"
        if semantic.pending > 0 {
            let done = total == 0 ? 1 : Double(semantic.embedded) / Double(total)
            let width = 20, filled = Int((done * Double(width)).rounded(.down))
            line = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
                + "\(Int((done * 100).rounded(.down)))% · " + line
            if let rate = semantic.ratePerS { line += " · \(rate)/s" }
            if let eta = semantic.etaS { line += " · \(Output.duration(eta)) left" }
        }
        return line + output.dim(" · \(semantic.model ?? "")")
    }

    // MARK: - search, recent, show

    /// How `conflicts` and `show` name a conflict's kind.
    static let conflictWording = ["number": "a number differs", "negation": "a negation differs", "contentWord": "a word differs"]

    /// `insightctl search [WORDS] [--tag T] [--since] [--source] [--limit] [--json]`: words ranked best first, or,
    /// with only a tag, that tag's insights newest first.
    public func search(_ query: String, tag: String? = nil, limit: Int, since: Double?, source: String?, mode: String? = nil,
                       json: Bool) throws {
        var target = "/v1/search?q=\(Self.encode(query))&limit=\(limit)"
        if let mode { target += "&mode=\(mode)" }
        if let tag { target += "&tag=\(Self.encode(tag))" }
        if let since { target += "&since=\(since)" }
        if let source { target += "&source=\(Self.encode(source))" }
        let (reply, raw) = try call("GET", target, as: SearchReply.self)
        if json { return emit(raw) }
        if reply.results.isEmpty {
            // Say which filters narrowed the search, so an empty answer is not read as "nothing has this tag".
            var narrowed: [String] = []
            if since != nil { narrowed.append("stored in that time") }
            if let source { narrowed.append("seen in a file whose path contains \"\(source)\"") }
            let filters = narrowed.isEmpty ? "" : " among insights " + narrowed.joined(separator: " and ")
            switch (query.isEmpty, reply.tag) {
            case (true, let tag?): print("no insight has the tag #\(tag)" + filters)
            case (false, let tag?): print("no insight tagged #\(tag) matches \"\(query)\"" + filters)
            default: print("no insight matches \"\(query)\"" + filters)
            }
            return
        }
        let rows = reply.results.map { hit in
            [output.dim("#\(hit.id)"), highlight(hit.snippet), output.dim(Output.ago(hit.createdAt)), output.dim(hashtags(hit.tags))]
        }
        print(Output.table(rows))
        print(output.dim("\(Output.count(reply.results.count)) result\(reply.results.count == 1 ? "" : "s")\(reply.results.count == limit ? " (limit reached; --limit shows more)" : "")"))
        if let note = reply.note { print(output.dim(note)) }
        if let window = reply.rankedAmongNewest {
            print(output.dim("these words are in very many insights: ranked among the newest \(Output.count(window)) matches; more words narrow it down"))
        }
    }

    /// A tag as given on the command line (`economics`, `#Economics`) as the daemon stores it; nil when it names none.
    public static func tagName(_ text: String) -> String? { TagName.normalize(text) }

    /// `#a #b`, or nothing.
    func hashtags(_ tags: [String]) -> String {
        tags.map { "#" + $0 }.joined(separator: " ")
    }

    /// `insightctl tags [--json]`: every tag with how many insights and occurrences carry it.
    public func tags(json: Bool) throws {
        let (reply, raw) = try call("GET", "/v1/tags", as: TagsReply.self)
        if json { return emit(raw) }
        if reply.tags.isEmpty {
            print("no tags yet")
            return
        }
        var rows = [["TAG", "INSIGHTS", "OCCURRENCES"].map(output.dim)]
        for tag in reply.tags {
            rows.append(["#" + tag.tag, Output.count(tag.insights), Output.count(tag.occurrences)])
        }
        print(Output.table(rows))
    }

    /// Matches between `[` `]` in bold yellow on a terminal; the brackets stay when there is no colour.
    func highlight(_ snippet: String) -> String {
        guard output.color else { return snippet }
        return snippet.replacingOccurrences(of: "[", with: "\u{1B}[1;33m").replacingOccurrences(of: "]", with: "\u{1B}[0m")
    }

    /// `insightctl recent [--limit] [--since] [--json]`.
    public func recent(limit: Int, since: Double?, json: Bool) throws {
        var target = "/v1/recent?limit=\(limit)"
        if let since { target += "&since=\(since)" }
        let (reply, raw) = try call("GET", target, as: RecentReply.self)
        if json { return emit(raw) }
        if reply.insights.isEmpty {
            print("no insights yet")
            return
        }
        let rows = reply.insights.map { insight in
            [output.dim("#\(insight.id)"), Output.ago(insight.createdAt), "×\(Output.count(insight.occurrences))", Output.truncate(insight.text, 100),
             output.dim(hashtags(insight.tags))]
        }
        print(Output.table(rows))
    }

    /// `insightctl conflicts [--limit N] [--json]`.
    public func conflicts(limit: Int, json: Bool) throws {
        let (reply, raw) = try call("GET", "/v1/conflicts?limit=\(limit)", as: ConflictsReply.self)
        if json { return emit(raw) }
        if reply.conflicts.isEmpty {
            print("no conflicting insights")
            return
        }
        for pair in reply.conflicts {
            print(output.bold(Self.conflictWording[pair.kind] ?? pair.kind) + output.dim(" · \(Output.ago(pair.createdAt))"))
            print(Output.table([[output.dim("#\(pair.first.id)"), Output.truncate(pair.first.text, 110)],
                               [output.dim("#\(pair.second.id)"), Output.truncate(pair.second.text, 110)]]))
            print("")
        }
    }

    /// `insightctl show ID [--json]`.
    public func show(id: Int64, json: Bool) throws {
        let (detail, raw) = try call("GET", "/v1/insights/\(id)", as: InsightDetail.self)
        if json { return emit(raw) }
        var lines = [output.bold("insight #\(detail.id)") + output.dim(" · stored \(Output.ago(detail.createdAt))"), "", detail.text, ""]
        if !detail.tags.isEmpty {
            lines.append("tags: " + hashtags(detail.tags))
            lines.append("")
        }
        let removed = detail.sources.filter { $0.removed == true }.count
        lines.append("seen in \(Output.count(detail.sources.count)) place\(detail.sources.count == 1 ? "" : "s")"
                     + (removed == 0 ? "" : ", \(Output.count(removed)) of them in files since removed") + ":")
        var rows: [[String]] = []
        for source in detail.sources {
            let place = "  \(source.path):\(source.line)" + (source.removed == true ? " " + output.dim("(removed)") : "")
            rows.append([place, source.section ?? "", source.date ?? "", output.dim(source.format ?? "")])
            // What the reader recorded with the passage, under its place.
            var reading: [String] = []
            if let location = source.location { reading.append(location) }
            if let added = source.addedAt { reading.append("added " + added.replacingOccurrences(of: "T", with: " ")) }
            if !source.tags.isEmpty { reading.append(hashtags(source.tags)) }
            if !reading.isEmpty { rows.append(["    " + output.dim(reading.joined(separator: " · "))]) }
            if let note = source.note { rows.append(["    note: " + note.replacingOccurrences(of: "\n", with: " ")]) }
        }
        if !rows.isEmpty { lines.append(Output.table(rows)) }
        if !detail.variants.isEmpty {
            lines.append("")
            lines.append("also worded as:")
            for variant in detail.variants {
                lines.append("  \(variant.text)  " + output.dim(variant.sources.map {
                    "\($0.path):\($0.line)" + ($0.removed == true ? " (removed)" : "")
                }.joined(separator: ", ")))
            }
        }
        if !detail.conflicts.isEmpty {
            lines.append("")
            lines.append(output.yellow("conflicts:"))
            for conflict in detail.conflicts {
                lines.append("  #\(conflict.id) \(conflict.text)  " + output.dim("(\(Self.conflictWording[conflict.kind] ?? conflict.kind))"))
            }
        }
        if !detail.related.isEmpty {
            lines.append("")
            lines.append("related:")
            // A table, so that ids of different widths keep the texts in one column.
            lines.append(Output.table(detail.related.map { related in
                ["  " + output.dim("#\(related.id)"), Output.truncate(related.text, 100), output.dim(Self.score(related.score))]
            }))
        }
        print(lines.joined(separator: "\n"))
    }

    static func score(_ score: Double) -> String { String(format: "%.2f", score) }

    /// `insightctl related ID [--limit N] [--json]`: the insights closest in meaning.
    public func related(id: Int64, limit: Int, json: Bool) throws {
        let (reply, raw) = try call("GET", "/v1/insights/\(id)/related?limit=\(limit)", as: RelatedReply.self)
        if json { return emit(raw) }
        if reply.related.isEmpty {
            print("no other insight is close in meaning yet")
            return
        }
        print(Output.table(reply.related.map { [output.dim("#\($0.id)"), Self.score($0.score), Output.truncate($0.text, 110)] }))
    }

    /// `insightctl paraphrases [--limit N] [--json]`: open suggestions, newest first.
    public func paraphrases(limit: Int, json: Bool) throws {
        let (reply, raw) = try call("GET", "/v1/paraphrases?limit=\(limit)", as: ParaphrasesReply.self)
        if json { return emit(raw) }
        if reply.paraphrases.isEmpty {
            print("no paraphrase suggestions")
            return
        }
        for pair in reply.paraphrases {
            print(output.bold("#\(pair.insight.id) says #\(pair.of.id) again") + output.dim(" · \(Self.score(pair.score)) · \(Output.ago(pair.createdAt))"))
            print(Output.table([[output.dim("#\(pair.insight.id)"), Output.truncate(pair.insight.text, 110)],
                               [output.dim("#\(pair.of.id)"), Output.truncate(pair.of.text, 110)]]))
            print(output.dim("  insightctl merge \(pair.insight.id) \(pair.of.id)   or   insightctl keep-apart \(pair.insight.id) \(pair.of.id)"))
            print("")
        }
    }

    // MARK: - sources, failed, links

    /// `insightctl sources [--state S] [--json]`.
    public func sources(states: [String], json: Bool) throws {
        let target = states.isEmpty ? "/v1/sources" : "/v1/sources?state=\(Self.encode(states.joined(separator: ",")))"
        let (reply, raw) = try call("GET", target, as: SourcesReply.self)
        if json { return emit(raw) }
        if reply.sources.isEmpty {
            print("no files seen yet")
            return
        }
        var rows = [["PATH", "STATE", "INSIGHTS", "SIZE", "UPDATED"].map(output.dim)]
        for source in reply.sources {
            rows.append([source.path, stateColor(source.state), Output.count(source.insights),
                         source.size.map(Output.bytes) ?? "", Output.ago(source.updatedAt)])
        }
        print(Output.table(rows))
    }

    func stateColor(_ state: String) -> String {
        switch state {
        case "failed": return output.red(state)
        case "skipped", "pending": return output.yellow(state)
        case "ingested", "fetched": return output.green(state)
        default: return state
        }
    }

    /// `insightctl failed [--json]`: failed and skipped files with the reason.
    public func failed(json: Bool) throws {
        let (reply, raw) = try call("GET", "/v1/failed", as: SourcesReply.self)
        if json { return emit(raw) }
        if reply.sources.isEmpty {
            print("no failed or skipped files")
            return
        }
        var rows = [["PATH", "STATE", "WHEN", "REASON"].map(output.dim)]
        for source in reply.sources {
            rows.append([source.path, stateColor(source.state), Output.ago(source.updatedAt), source.reason ?? ""])
        }
        print(Output.table(rows))
        print(output.dim("`insightctl retry PATH` or `insightctl retry --all` takes them again"))
    }

    /// `insightctl links [--failed] [--json]`.
    public func links(failedOnly: Bool, json: Bool) throws {
        let (reply, raw) = try call("GET", failedOnly ? "/v1/links?failed=1&limit=10000" : "/v1/links?limit=10000", as: LinksReply.self)
        if json { return emit(raw) }
        if reply.links.isEmpty {
            print(failedOnly ? "no failed links" : "no links yet")
            return
        }
        var rows = [["URL", "STATE", "TRIES", "UPDATED", "TITLE OR ERROR"].map(output.dim)]
        for link in reply.links {
            rows.append([link.url, stateColor(link.state), Output.count(link.attempts), Output.ago(link.updatedAt),
                         link.state == "failed" ? (link.error ?? "") : (link.title ?? "")])
        }
        print(Output.table(rows))
    }

    // MARK: - metrics

    /// `insightctl metrics`: the daemon's metrics in the Prometheus text format, printed as served, for a
    /// node_exporter textfile collector or a look by hand.
    public func metrics() throws {
        let reply = try client.request("GET", "/v1/metrics")
        try check(reply)
        guard reply.headers["content-type"]?.hasPrefix("text/plain") == true else {
            throw ClientError(code: .protocol, message: "the daemon's reply to /v1/metrics is not text/plain; are daemon and CLI the same version?")
        }
        // The daemon writes only ASCII names, bounded label values and numbers; anything else is not its reply.
        if let bad = reply.body.first(where: { ($0 < 0x20 && $0 != 0x0A) || $0 >= 0x7F }) {
            throw ClientError(code: .protocol, message: "the metrics reply holds the byte 0x\(String(bad, radix: 16)), which the text format never has")
        }
        emit(reply.body)
    }

    // MARK: - export

    /// `insightctl export --format jsonl|csv|markdown [--since] [--output FILE]`, streamed: the file is written
    /// beside its final name and renamed into place once complete.
    public func export(format: String, since: Double?, outputPath: String?) throws {
        var target = "/v1/export?format=\(Self.encode(format))"
        if let since { target += "&since=\(since)" }
        guard let outputPath else {
            // On a terminal, CSV and Markdown lines are shown with their control characters made visible; JSON
            // Lines, and anything written to a file or a pipe, stay exact.
            let lines = format != "jsonl" && isatty(1) == 1 ? LineCollector() : nil
            let reply = try client.stream("GET", target) { chunk in
                guard let lines else { return emit(chunk) }
                for line in lines.add(chunk) {
                    // CSV rows end in CRLF; the terminal needs no CR.
                    let row = line.last == 0x0D ? line.dropLast() : line[...]
                    emit(Array(VisibleText.escape(String(decoding: row, as: UTF8.self)).utf8) + [0x0A])
                }
            }
            try check(reply)
            return
        }
        let partial = outputPath + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
            throw ClientError(code: .local, message: "cannot write \(partial); check the folder exists and is writable")
        }
        do {
            let reply = try client.stream("GET", target) { chunk in
                do {
                    try handle.write(contentsOf: chunk)
                } catch {
                    throw ClientError(code: .local, message: "cannot write \(partial): \(error.localizedDescription)")
                }
            }
            try check(reply)
            try? handle.close()
            guard rename(partial, outputPath) == 0 else {
                throw ClientError(code: .local, message: "cannot rename \(partial) to \(outputPath): \(String(cString: strerror(errno)))")
            }
        } catch {
            try? handle.close()
            unlink(partial)
            throw error
        }
    }

    // MARK: - actions

    /// A request that changes state, printing the daemon's message.
    public func action(_ method: String = "POST", _ path: String, body: [UInt8] = Array("{}".utf8), json: Bool) throws {
        let (reply, raw) = try call(method, path, body: body, as: ActionReply.self)
        if json { return emit(raw) }
        print(reply.message)
    }

    /// `insightctl add URL`.
    public func add(url: String, json: Bool) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              ["http", "https"].contains(scheme), components.host?.isEmpty == false else {
            throw ClientError(code: .usage, message: "\"\(url)\" is not an http or https URL")
        }
        let body = Array(try WireJSON.encoder().encode(AddLinkRequest(url: url)))
        try action("POST", "/v1/links", body: body, json: json)
    }

    /// `insightctl retry PATH` or `insightctl retry --all`.
    public func retry(path: String?, all: Bool, json: Bool) throws {
        var request = RetryRequest(all: all ? true : nil)
        if let path {
            // A path given relative to the current folder is made absolute; the daemon accepts absolute
            // paths inside its inbox and paths relative to the inbox.
            let cwdRelative = FileManager.default.currentDirectoryPath + "/" + path
            request.path = !path.hasPrefix("/") && FileManager.default.fileExists(atPath: cwdRelative)
                ? (cwdRelative as NSString).standardizingPath : path
        }
        try action("POST", "/v1/retry", body: Array(try WireJSON.encoder().encode(request)), json: json)
    }

    /// `insightctl forget ID`.
    public func forget(id: Int64, json: Bool) throws {
        try action("DELETE", "/v1/insights/\(id)", body: [], json: json)
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// Splits a byte stream into lines.
final class LineCollector {
    private var pending: [UInt8] = []
    private(set) var lines = 0

    func add(_ chunk: [UInt8]) -> [[UInt8]] {
        pending += chunk
        var out: [[UInt8]] = []
        while let newline = pending.firstIndex(of: 0x0A) {
            out.append(Array(pending[..<newline]))
            pending.removeSubrange(...newline)
        }
        lines += out.count
        return out
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Parses `--since`: a span back from now (`90s`, `30m`, `12h`, `7d`, `2w`) or a date
/// (`2025-01-31`, `2025-01-31T08:00:00Z`). Returns seconds since the epoch.
public enum SinceParser {
    public static func parse(_ text: String, now: Double = Date().timeIntervalSince1970) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        if let unit = text.last, let factor = units[unit], let amount = Double(text.dropLast()), amount >= 0, amount.isFinite {
            return max(0, now - amount * factor)
        }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date.timeIntervalSince1970 }
        iso.formatOptions = [.withFullDate]
        if text.count == 10, let date = iso.date(from: text) { return date.timeIntervalSince1970 }
        return nil
    }
}
