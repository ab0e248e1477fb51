import Foundation
import GRDB
import InsightClient
import InsightCore
import PostgresTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A daemon with the four fixture files stored and one file skipped.
func startedWithFixtures(environment: [String: String] = [:]) throws -> DaemonHarness {
    let daemon = try DaemonHarness(environment: environment)
    try daemon.start()
    for name in ["a.txt", "b.md", "c.txt", "d.txt"] { try daemon.write(name, fixture(name)) }
    try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]).write(to: URL(fileURLWithPath: daemon.inbox + "/picture.png"))
    try daemon.waitForStatus("four files stored, one skipped") { $0.files.ingested == 4 && $0.files.skipped == 1 }
    return daemon
}

/// The store a test daemon runs on: the embedded SQLite file, or a new database on the shared PostgreSQL server.
enum TestStore: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgresql
    var testDescription: String { rawValue }

    /// Environment variables selecting this store, merged with `extra`.
    func environment(_ extra: [String: String] = [:]) throws -> [String: String] {
        guard self == .postgresql else { return extra }
        return extra.merging(["INSIGHTD_STORE_URL": try SharedPostgres.newDatabase(), "INSIGHTD_STORE_HOST": "tester"]) { $1 }
    }
}

func decode<T: Decodable>(_ type: T.Type, _ result: CommandResult) throws -> T {
    guard result.status == 0 else { throw HarnessError("command failed (\(result.status)): \(result.stderr)") }
    return try WireJSON.decoder().decode(T.self, from: Data(result.stdout.utf8))
}

@Suite("insightctl commands against a real daemon, text and --json", .serialized)
struct CLICommandTests {
    @Test(arguments: TestStore.allCases)
    func readingCommands(store: TestStore) throws {
        let daemon = try startedWithFixtures(environment: try store.environment())
        defer { _ = try? daemon.stop() }

        // search: ranked hits, marked snippets, filters.
        let search = try decode(SearchReply.self, daemon.ctl(["search", "shipping", "--json"]))
        #expect(search.schema == 1)
        #expect(search.results.count == 1)
        let shipping = try #require(search.results.first)
        #expect(shipping.text.hasPrefix("Container shipping"))
        #expect(shipping.snippet.contains("[shipping]"))
        let text = try daemon.ctl(["search", "shipping"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("#\(shipping.id)"))
        #expect(text.stdout.contains("[shipping]"), "no colour when piped, so the marks stay")
        #expect(!text.stdout.contains("\u{1B}["))
        #expect(text.stdout.contains("1 result"))
        let faster = try decode(SearchReply.self, daemon.ctl(["search", "faster", "--json"]))
        #expect(faster.results.count >= 2)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "faster", "--limit", "1", "--json"])).results.count == 1)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "shipping", "--source", "d.txt", "--json"])).results.isEmpty)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "shipping", "--source", "c.txt", "--json"])).results.count == 1)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "shipping", "--since", "2099-01-01", "--json"])).results.isEmpty)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "shipping", "--since", "1h", "--json"])).results.count == 1)
        let none = try daemon.ctl(["search", "zzzqqq"])
        #expect(none.status == 0 && none.stdout.contains("no insight matches"))

        // recent: newest first, all ten.
        let recent = try decode(RecentReply.self, daemon.ctl(["recent", "--json"]))
        #expect(recent.insights.count == 10)
        #expect(recent.insights.map(\.createdAt) == recent.insights.map(\.createdAt).sorted(by: >))
        #expect(recent.insights.map(\.occurrences).reduce(0, +) == 15)
        #expect(try decode(RecentReply.self, daemon.ctl(["recent", "--limit", "3", "--json"])).insights.count == 3)
        let recentText = try daemon.ctl(["recent"])
        #expect(recentText.status == 0 && recentText.stdout.split(separator: "\n").count == 10)

        // show: every source, and the arrays later builds fill.
        let detail = try decode(InsightDetail.self, daemon.ctl(["show", String(shipping.id), "--json"]))
        #expect(detail.text == shipping.text)
        #expect(Set(detail.sources.map(\.path)) == ["a.txt", "c.txt"])
        #expect(detail.variants.isEmpty && detail.conflicts.isEmpty)
        let raw = try daemon.ctl(["show", String(shipping.id), "--json"]).stdout
        #expect(raw.contains("\"variants\":[]") && raw.contains("\"conflicts\":[]"))
        let shown = try daemon.ctl(["show", String(shipping.id)])
        #expect(shown.stdout.contains("seen in 2 places") && shown.stdout.contains("a.txt:") && shown.stdout.contains("c.txt:"))
        let missing = try daemon.ctl(["show", "99999"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no insight 99999"))

        // sources and failed.
        let sources = try decode(SourcesReply.self, daemon.ctl(["sources", "--json"]))
        #expect(sources.sources.map(\.path) == ["a.txt", "b.md", "c.txt", "d.txt", "picture.png"])
        #expect(sources.sources.first { $0.path == "a.txt" }?.insights == 5)
        #expect(try decode(SourcesReply.self, daemon.ctl(["sources", "--state", "skipped", "--json"])).sources.map(\.path) == ["picture.png"])
        let sourcesText = try daemon.ctl(["sources"])
        #expect(sourcesText.stdout.contains("PATH") && sourcesText.stdout.contains("picture.png") && sourcesText.stdout.contains("skipped"))
        let failed = try decode(SourcesReply.self, daemon.ctl(["failed", "--json"]))
        #expect(failed.sources.count == 1)
        #expect(failed.sources.first?.reason?.contains(".png") == true)
        let failedText = try daemon.ctl(["failed"])
        #expect(failedText.stdout.contains("picture.png") && failedText.stdout.contains("insightd ingests .txt"))

        // links: none, as the fixtures link nowhere.
        #expect(try decode(LinksReply.self, daemon.ctl(["links", "--json"])).links.isEmpty)
        #expect(try daemon.ctl(["links"]).stdout.contains("no links yet"))

        // status.
        let status = try decode(StatusReport.self, daemon.ctl(["status", "--json"]))
        #expect(status.insights.unique == 10)
        let human = try daemon.ctl(["status"])
        #expect(human.stdout.contains("10 unique") && human.stdout.contains("1 skipped"))
    }

    @Test(arguments: TestStore.allCases)
    func exportsStreamInEveryFormat(store: TestStore) throws {
        let daemon = try startedWithFixtures(environment: try store.environment())
        defer { _ = try? daemon.stop() }
        let jsonl = try daemon.ctl(["export"])
        let records = try jsonl.stdout.split(separator: "\n").map { try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8)) }
        #expect(records.count == 10)
        #expect(records.map(\.sources.count).reduce(0, +) == 15)

        let csv = try daemon.ctl(["export", "--format", "csv"])
        #expect(csv.status == 0)
        let rows = csv.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(rows.first == "id,text,created_at,sources,tags,formats,locations,added_at,notes")
        #expect(rows.count == 11)
        // The quoted text of the fixture survives CSV quoting.
        #expect(csv.stdout.contains("\"\"actually\"\""))

        let markdown = try daemon.ctl(["export", "--format", "markdown"])
        #expect(markdown.stdout.hasPrefix("# Insights\n"))
        #expect(markdown.stdout.components(separatedBy: "\n- ").count - 1 == 10)

        let file = daemon.root + "/out.jsonl"
        let written = try daemon.ctl(["export", "--output", file])
        #expect(written.status == 0 && written.stdout.isEmpty)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == jsonl.stdout)
        #expect(!FileManager.default.fileExists(atPath: file + ".partial"))

        #expect(try daemon.ctl(["export", "--since", "2099-01-01"]).stdout.isEmpty)
        #expect(try daemon.ctl(["export", "--format", "xml"]).status == 2)
        let unwritable = try daemon.ctl(["export", "--output", "/nonexistent-folder/x.jsonl"])
        #expect(unwritable.status == 1 && unwritable.stderr.contains("cannot write"))
    }

    @Test(arguments: TestStore.allCases)
    func actingCommands(store: TestStore) throws {
        let daemon = try startedWithFixtures(environment: try store.environment(["INSIGHTD_FETCH_ENABLED": "false"]))
        defer { _ = try? daemon.stop() }

        // pause / resume, text and JSON.
        let paused = try decode(ActionReply.self, daemon.ctl(["pause", "--json"]))
        #expect(paused.ok && paused.message.contains("paused"))
        #expect(try daemon.status().state == "paused")
        try daemon.write("e.txt", "A paused daemon keeps this file queued until someone resumes ingestion again.\n")
        usleep(300_000)
        #expect(try daemon.status().files.pending == 1)
        let resumed = try daemon.ctl(["resume"])
        #expect(resumed.status == 0 && resumed.stdout.contains("resumed"))
        try daemon.waitForStatus("e.txt is stored after resume") { $0.files.ingested == 5 && $0.state == "running" }

        #expect(try daemon.ctl(["rescan"]).stdout.contains("full scan"))

        // retry: one file by inbox path or absolute path, all problems, or a clear refusal.
        let one = try daemon.ctl(["retry", "picture.png"])
        #expect(one.status == 0 && one.stdout.contains("picture.png queued again"))
        let absolute = try daemon.ctl(["retry", daemon.inbox + "/picture.png"])
        #expect(absolute.status == 0 && absolute.stdout.contains("picture.png queued again"))
        let all = try decode(ActionReply.self, daemon.ctl(["retry", "--all", "--json"]))
        #expect(all.message.contains("1 failed or skipped file queued again"))
        let unknown = try daemon.ctl(["retry", "nothing-here.txt"])
        #expect(unknown.status == 1 && unknown.stderr.contains("no file nothing-here.txt"))
        let escape = try daemon.ctl(["retry", "../etc/passwd"])
        #expect(escape.status == 1 && escape.stderr.contains("not a plain path inside the inbox"))
        #expect(try daemon.ctl(["retry"]).status == 2)
        #expect(try daemon.ctl(["retry", "a.txt", "--all"]).status == 2)
        #expect(try daemon.ctl(["retry", "--all", "--links"]).status == 2)
        try daemon.waitForStatus("the retried file is skipped again") { $0.files.skipped == 1 }

        // add: queued once (fetching is off here, so nothing leaves the machine); bad URLs are usage errors.
        let add = try daemon.ctl(["add", "https://example.org/article?utm_source=x"])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.contains("queued https://example.org/article"))
        #expect(try daemon.ctl(["add", "https://example.org/article"]).stdout.contains("already known"))
        let links = try decode(LinksReply.self, daemon.ctl(["links", "--json"]))
        #expect(links.schema == 1)
        #expect(links.links.map(\.url) == ["https://example.org/article"])
        #expect(links.links.first?.state == "queued")
        let linksText = try daemon.ctl(["links"])
        #expect(linksText.stdout.contains("https://example.org/article") && linksText.stdout.contains("queued"))
        #expect(try daemon.ctl(["links", "--failed"]).stdout.contains("no failed links"))
        #expect(try daemon.ctl(["retry", "--links"]).stdout.contains("0 links queued again"))
        #expect(try daemon.ctl(["add", "ftp://example.org/x"]).status == 2)
        #expect(try daemon.ctl(["add", "not a url"]).status == 2)

        // forget: the insight, its occurrences and its index entry go; nothing else does.
        let shipping = try #require(try decode(SearchReply.self, daemon.ctl(["search", "container", "shipping", "--json"])).results.first)
        let before = try daemon.status()
        let forgot = try daemon.ctl(["forget", String(shipping.id)])
        #expect(forgot.status == 0 && forgot.stdout.contains("forgot insight \(shipping.id) and its 2 occurrences"))
        let after = try daemon.status()
        #expect(after.insights.unique == before.insights.unique - 1)
        #expect(after.insights.occurrences == before.insights.occurrences - 2)
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "container", "--json"])).results.isEmpty)
        #expect(try daemon.ctl(["show", String(shipping.id)]).status == 1)
        let again = try daemon.ctl(["forget", String(shipping.id)])
        #expect(again.status == 1 && again.stderr.contains("no insight"))
        #expect(try decode(SourcesReply.self, daemon.ctl(["sources", "--json"])).sources.first { $0.path == "a.txt" }?.insights == 4)
        // A rescan does not bring it back: the file is unchanged.
        _ = try daemon.ctl(["rescan"])
        usleep(500_000)
        try daemon.waitForStatus("the rescan is done") { _ in true }
        #expect(try daemon.status().insights.unique == after.insights.unique)
        #expect(try daemon.ctl(["forget", "0"]).status == 2)
    }

    @Test(arguments: TestStore.allCases)
    func showListsVariantsAndConflictsAndForgetCleansThemUp(store: TestStore) throws {
        let daemon = try DaemonHarness(environment: try store.environment())
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let claim = "The stock market lost $1 trillion in value after the open model was released in January."
        let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."
        let other = "The stock market lost $3 trillion in value after the open model was released in January."
        try daemon.write("first.txt", claim + "\n")
        try daemon.waitForStatus("the claim is stored") { $0.files.ingested == 1 }
        try daemon.moveIn("second.txt", typo + "\n")
        try daemon.moveIn("third.txt", other + "\n")
        try daemon.waitForStatus("three files are stored") { $0.files.ingested == 3 }

        let recent = try decode(RecentReply.self, daemon.ctl(["recent", "--json"])).insights
        #expect(recent.count == 2)
        let claimID = try #require(recent.first { $0.text == claim }?.id)
        let otherID = try #require(recent.first { $0.text == other }?.id)
        let detail = try decode(InsightDetail.self, daemon.ctl(["show", String(claimID), "--json"]))
        #expect(detail.sources.map(\.path) == ["first.txt", "second.txt"])
        // A shared store also names each source's machine.
        let variants = detail.variants.map { VariantRef(text: $0.text, sources: $0.sources.map { var ref = $0; ref.host = nil; return ref }) }
        #expect(variants == [VariantRef(text: typo, sources: [SourceRef(path: "second.txt", line: 1, section: nil, date: nil, format: "text")])])
        #expect(detail.sources.map(\.host) == (store == .postgresql ? ["tester", "tester"] : [nil, nil]))
        #expect(detail.conflicts == [InsightConflict(id: otherID, text: other, kind: "number")])
        let otherDetail = try decode(InsightDetail.self, daemon.ctl(["show", String(otherID), "--json"]))
        #expect(otherDetail.conflicts.map(\.id) == [claimID])
        let human = try daemon.ctl(["show", String(claimID)])
        #expect(human.stdout.contains("also worded as:") && human.stdout.contains(typo))
        #expect(human.stdout.contains("conflicts:") && human.stdout.contains("#\(otherID)"))
        #expect(human.stdout.contains("(a number differs)"), "\(human.stdout)")

        // Forgetting one side of a conflict removes the link from the other side.
        #expect(try daemon.ctl(["forget", String(otherID)]).status == 0)
        #expect(try decode(InsightDetail.self, daemon.ctl(["show", String(claimID), "--json"])).conflicts.isEmpty)
        // Forgetting the claim takes its variant too, and the near-duplicate index lets go of it: the same
        // wording dropped again is a new insight, not a variant of a deleted one.
        #expect(try daemon.ctl(["forget", String(claimID)]).stdout.contains("2 occurrences"))
        var report = try daemon.status()
        #expect(report.insights.unique == 0 && report.insights.variants == 0 && report.insights.conflicts == 0)
        try daemon.moveIn("fourth.txt", typo + "\n")
        report = try daemon.waitForStatus("the new file is stored") { $0.files.ingested == 4 }
        #expect(report.insights.unique == 1)
        #expect(report.insights.variants == 0)
        #expect(report.files.failed == 0)
    }

    @Test func withJSONAnErrorIsAJSONObjectOnStandardOutputToo() throws {
        let none = try runCommand(Binaries.insightctl, ["--socket", "/tmp/insightd-no-daemon-\(getpid()).sock", "status", "--json"])
        #expect(none.status == 3)
        #expect(try WireJSON.decoder().decode(ErrorReply.self, from: Data(none.stdout.utf8)).error.code == "not_running")
        #expect(none.stderr.contains("insightd is not running"))

        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        // The daemon's own error reply, as is.
        let missing = try daemon.ctl(["show", "99999", "--json"])
        #expect(missing.status == 1)
        let reply = try WireJSON.decoder().decode(ErrorReply.self, from: Data(missing.stdout.utf8))
        #expect(reply.error.message.contains("no insight 99999"), "\(reply)")
        #expect(missing.stderr.contains("no insight 99999"))
        // Without --json, standard output stays empty.
        #expect(try daemon.ctl(["show", "99999"]).stdout.isEmpty)
    }

    @Test func showMarksAPlaceInAFileSinceRenamed() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.write("draft.txt", "Renaming a note keeps its insights but moves them to a place under the new name.\n")
        try daemon.waitForStatus("the note is stored") { $0.files.ingested == 1 }
        guard rename(daemon.inbox + "/draft.txt", daemon.inbox + "/final.txt") == 0 else { throw HarnessError("rename failed") }
        try daemon.waitForStatus("the renamed note is seen") { $0.files.ingested == 1 && $0.files.removed == 1 }
        let id = try #require(try decode(RecentReply.self, daemon.ctl(["recent", "--json"])).insights.first?.id)
        let detail = try decode(InsightDetail.self, daemon.ctl(["show", String(id), "--json"]))
        #expect(detail.sources.map(\.path) == ["draft.txt", "final.txt"])
        #expect(detail.sources.map(\.removed) == [true, nil])
        let human = try daemon.ctl(["show", String(id)]).stdout
        #expect(human.contains("seen in 2 places, 1 of them in files since removed:"), "\(human)")
        #expect(human.contains("draft.txt:1 (removed)"), "\(human)")
        #expect(!human.contains("final.txt:1 (removed)"), "\(human)")
    }

    @Test func colourAndInPlaceRefreshOnlyOnATerminalAndNeverWithNoColor() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal")
        let daemon = try startedWithFixtures()
        defer { _ = try? daemon.stop() }
        // script(1) gives insightctl a pseudo-terminal as standard output.
        func onTerminal(_ arguments: [String], noColor: Bool) throws -> String {
            var environment = ProcessInfo.processInfo.environment
            environment["TERM"] = "xterm"
            environment.removeValue(forKey: "NO_COLOR")
            if noColor { environment["NO_COLOR"] = "1" }
            let command = ([Binaries.insightctl, "--socket", daemon.socket] + arguments).map { "'\($0)'" }.joined(separator: " ")
            return try runCommand("/usr/bin/script", ["-qfec", command, "/dev/null"], environment: environment, timeout: 30).stdout
        }
        let coloured = try onTerminal(["search", "shipping"], noColor: false)
        #expect(coloured.contains("\u{1B}[1;33mshipping\u{1B}[0m"), "\(coloured.debugDescription)")
        let plain = try onTerminal(["search", "shipping"], noColor: true)
        #expect(plain.contains("[shipping]"))
        #expect(!plain.contains("\u{1B}["))
        // --watch on a terminal redraws in place: home and clear before each status.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qfec", "'\(Binaries.insightctl)' --socket '\(daemon.socket)' status --watch --interval 0.2", "/dev/null"]
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm"
        environment["NO_COLOR"] = "1"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = Pipe()
        try process.run()
        nonisolated(unsafe) var collected = Data()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { collected = out.fileHandleForReading.readDataToEndOfFile() }
        usleep(1_000_000)
        try daemon.stop()
        try waitUntil(timeout: 10, "the watching insightctl exits") { !process.isRunning }
        _ = reading.wait(timeout: .now() + 5)
        let screen = String(decoding: collected, as: UTF8.self)
        #expect(screen.components(separatedBy: "\u{1B}[H\u{1B}[J").count - 1 >= 3)
        #expect(screen.contains("10 unique"))
        #expect(!screen.contains("{\"database\""), "no JSON on a terminal")
    }

    @Test(arguments: TestStore.allCases)
    func statusVerifyChecksTheCountersAgainstAFullCount(store: TestStore) throws {
        let environment = try store.environment()
        let daemon = try startedWithFixtures(environment: environment)
        defer { _ = try? daemon.stop() }
        let verified = try daemon.ctl(["status", "--verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("agree with a full count"))
        let report = try decode(StatusReport.self, daemon.ctl(["status", "--verify", "--json"]))
        #expect(report.insights.unique == 10)
        #expect(report.verification?.agrees == true)
        #expect(report.verification?.differences == [])
        #expect(report.verification?.error == nil)
        #expect(try daemon.status().verification == nil, "only asked for with --verify")
        #expect(try daemon.ctl(["status", "--verify", "--watch"]).status == 2)

        // A counter knocked off by hand is found, named, and fails the command.
        let drift = "UPDATE stats SET value = value + 3 WHERE key = 'insight'"
        switch store {
        case .sqlite:
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            try DatabaseQueue(path: daemon.state + "/insights.sqlite", configuration: configuration).write { try $0.execute(sql: drift) }
        case .postgresql:
            let url = try #require(environment["INSIGHTD_STORE_URL"])
            let database = String(url.split(separator: "?")[0].split(separator: "/").last ?? "")
            // One shard row of the counter: the sum is what status shows.
            _ = try SharedPostgres.server.get().psql(database, drift + " AND origin = '' AND shard = (SELECT min(shard) FROM stats WHERE key = 'insight')")
        }
        let drifted = try daemon.ctl(["status", "--verify"])
        #expect(drifted.status == 1)
        #expect(drifted.stdout.contains("differ from a full count: insights.unique 13, counted 10"), "\(drifted.stdout)")
        #expect(drifted.stderr.contains("insights.unique 13 (counted 10)"), "\(drifted.stderr)")
        let json = try daemon.ctl(["status", "--verify", "--json"])
        #expect(json.status == 1)
        let driftedReport = try WireJSON.decoder().decode(StatusReport.self, from: Data(json.stdout.utf8))
        #expect(driftedReport.insights.unique == 13, "status shows the kept counter")
        #expect(driftedReport.verification?.agrees == false)
        #expect(driftedReport.verification?.differences == [.init(counter: "insights.unique", kept: 13, counted: 10)])
        // The API refuses a full count on every interval of a watch.
        let watching = try SocketClient(path: daemon.socket).request("GET", "/v1/status?watch=1&verify=1")
        #expect(watching.status == 400)
        #expect(String(decoding: watching.body, as: UTF8.self).contains("verify_with_watch"))
    }

    @Test func statusWatchStreamsLinesAndEndsWhenTheDaemonStops() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Binaries.insightctl)
        process.arguments = ["--socket", daemon.socket, "status", "--watch", "--interval", "0.2"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        nonisolated(unsafe) var collected = Data()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { collected = out.fileHandleForReading.readDataToEndOfFile() }
        usleep(1_200_000)
        try daemon.write("a.txt", fixture("a.txt"))
        usleep(800_000)
        try daemon.stop()
        try waitUntil(timeout: 10, "insightctl status --watch exits") { !process.isRunning }
        #expect(reading.wait(timeout: .now() + 5) == .success)
        #expect(process.terminationStatus == 0)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(errors.contains("insightd stopped"))
        let reports = try String(decoding: collected, as: UTF8.self).split(separator: "\n").map {
            try WireJSON.decoder().decode(StatusReport.self, from: Data($0.utf8))
        }
        #expect(reports.count >= 5)
        #expect(reports.first?.insights.unique == 0)
        #expect(reports.last?.insights.unique == 5)
        #expect(Set(reports.map(\.pid)).count == 1)
    }

    @Test(arguments: [
        ["status"], ["status", "--json"], ["status", "--watch"], ["search", "x"], ["search", "x", "--json"], ["search", "--tag", "x"],
        ["tags"], ["tags", "--json"], ["recent"], ["recent", "--json"],
        ["show", "1"], ["show", "1", "--json"], ["sources"], ["sources", "--json"], ["failed"], ["failed", "--json"],
        ["links"], ["links", "--json"], ["export"], ["export", "--format", "csv"], ["add", "https://example.org/"],
        ["retry", "--all"], ["rescan"], ["pause"], ["resume"], ["forget", "1"], ["metrics"],
    ])
    func everyCommandWithoutADaemonExitsThreeAndSaysHowToStartIt(arguments: [String]) throws {
        let result = try runCommand(Binaries.insightctl, ["--socket", "/tmp/insightd-no-daemon-\(getpid()).sock"] + arguments)
        #expect(result.status == 3)
        #expect(result.stderr.contains("insightd is not running"))
        #expect(result.stderr.contains("systemctl start insightd"))
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", "does not speak the insightd API"),
        ("HTTP/1.1 200 OK\r\nInsightd-API: 2\r\nServer: insightd/9.0.0\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", "speaks API version 2"),
        ("HTTP/1.1 200 OK\r\nInsightd-API: 1\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{\"schema\":1}", "not what this insightctl expects"),
        ("SSH-2.0-OpenSSH_9.2\r\n", "not HTTP"),
    ])
    func aServerSpeakingAnotherAPIIsAProtocolFailure(reply: String, message: String) throws {
        let path = "/tmp/insightd-fake-\(UUID().uuidString.prefix(8)).sock"
        let server = try FakeServer(path: path, reply: reply)
        defer { server.close() }
        let result = try runCommand(Binaries.insightctl, ["--socket", path, "status"])
        #expect(result.status == 4)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func usageHelpCompletionsAndManPage() throws {
        let noWords = try runCommand(Binaries.insightctl, ["search"])
        #expect(noWords.status == 2)
        #expect(try runCommand(Binaries.insightctl, ["frobnicate"]).status == 2)
        #expect(try runCommand(Binaries.insightctl, ["search", "x", "--limit", "0"]).status == 2)
        #expect(try runCommand(Binaries.insightctl, ["recent", "--since", "yesterday-ish"]).status == 2)
        let help = try runCommand(Binaries.insightctl, ["--help"])
        #expect(help.status == 0)
        let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("Exit status: 0 ok, 1 error, 2 usage, 3 daemon not running, 4 permission or protocol failure"))
        for command in ["status", "search", "tags", "recent", "show", "sources", "failed", "links", "export", "add", "retry", "rescan", "pause", "resume", "forget", "metrics"] {
            #expect(help.stdout.contains("  \(command) "), "--help lists \(command)")
        }
        #expect(!help.stdout.contains("generate-manual"))
        for shell in ["bash", "zsh", "fish"] {
            let script = try runCommand(Binaries.insightctl, ["--generate-completion-script", shell])
            #expect(script.status == 0)
            #expect(script.stdout.contains("insightctl") && script.stdout.contains("forget") && script.stdout.contains("since"))
        }
        let manual = try runCommand(Binaries.insightctl, ["generate-manual"])
        #expect(manual.status == 0)
        #expect(manual.stdout.hasPrefix(".TH INSIGHTCTL 1"))
        #expect(manual.stdout.contains(".SS \"search [WORDS...]\""))
        #expect(manual.stdout.contains(".SS \"tags\""))
        #expect(manual.stdout.contains("\\fB\\-\\-since\\fR \\fIwhen\\fR"))
        #expect(manual.stdout.contains(".SH EXIT STATUS"))
        // insightd(8), which the Debian package and install.sh ship beside insightctl(1).
        let daemonManual = try runCommand(Binaries.insightd, ["generate-manual"])
        #expect(daemonManual.status == 0)
        #expect(daemonManual.stdout.hasPrefix(".TH INSIGHTD 8"))
        #expect(daemonManual.stdout.contains("\\fB\\-\\-state\\-dir\\fR \\fIstate\\-dir\\fR"))
        #expect(daemonManual.stdout.contains(".SS \"insightd extract FILES...\""))
        for section in [".SH OPTIONS", ".SH SIGNALS", ".SH FILES", ".SH ENVIRONMENT", ".SH EXIT STATUS"] {
            #expect(daemonManual.stdout.contains(section), "insightd(8) has \(section)")
        }
        #expect(!(try runCommand(Binaries.insightd, ["--help"])).stdout.contains("generate-manual"))
    }

    @Test(arguments: [("90s", 90.0), ("30m", 1800), ("12h", 43200), ("7d", 604_800), ("2w", 1_209_600)])
    func sinceSpans(text: String, seconds: Double) {
        #expect(SinceParser.parse(text, now: 2_000_000_000) == 2_000_000_000 - seconds)
    }

    @Test func sinceDatesAndNonsense() {
        #expect(SinceParser.parse("2025-01-31") == 1_738_281_600)
        #expect(SinceParser.parse("2025-01-31T08:00:00Z") == 1_738_310_400)
        #expect(SinceParser.parse("soon") == nil)
        #expect(SinceParser.parse("-5d") == nil)
        #expect(SinceParser.parse("") == nil)
    }
}

/// Answers every connection on a Unix socket with fixed bytes, as a server that is not insightd would.
final class FakeServer: @unchecked Sendable {
    let fd: Int32
    let path: String

    init(path: String, reply: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket failed") }
        let bound = withUnixSocketAddress(path) { bind(fd, $0, $1) }
        guard bound == 0, listen(fd, 8) == 0 else { throw HarnessError("bind or listen failed") }
        let listener = fd
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = recv(client, &buffer, buffer.count, 0)
                _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                Glibc.close(client)
            }
        }
    }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        unlink(path)
    }
}
