import Foundation
@testable import InsightDaemon
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The Prometheus text exposition format (version 0.0.4), parsed strictly: what `/v1/metrics` serves must pass.
///
/// Checks: `# HELP` and `# TYPE` lines (one each per family, TYPE before the family's first sample, a known type),
/// metric and label names by their grammar (no `__` label names), label values quoted with only `\\`, `\"` and `\n`
/// escapes, each value a float (`+Inf`, `-Inf`, `NaN` or decimal), a family's samples in one group, no duplicate series,
/// counters non-negative, and for histograms: buckets by ascending `le`, counts non-decreasing, a `+Inf` bucket equal
/// to `_count`, and a `_sum`. Stricter than the format in one way: every sample must belong to a family with a TYPE.
struct PrometheusText {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Family {
        var type: String
        var help: String?
        var samples: [Sample] = []
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    private(set) var families: [String: Family] = [:]

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw ParseError(line: 0, message: "the text does not end with a newline") }
        var helps: [String: String] = [:]
        var types: [String: String] = [:]
        var finished: Set<String> = []
        var current: String?
        var seen: Set<String> = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            let line = String(raw)
            func fail(_ message: String) -> ParseError { ParseError(line: number, message: "\(message): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { continue }  // a comment
                let name = parts[2]
                guard Self.isMetricName(name) else { throw fail("bad metric name in \(parts[1])") }
                if finished.contains(name) || (current != nil && current != name && families[name] != nil) {
                    throw fail("\(parts[1]) for \(name) after its samples")
                }
                if parts[1] == "HELP" {
                    guard helps[name] == nil else { throw fail("a second HELP for \(name)") }
                    let docstring = parts.count > 3 ? parts[3] : ""
                    helps[name] = try Self.unescape(docstring, quotes: false).get(orThrow: fail("bad escape in HELP"))
                } else {
                    guard types[name] == nil else { throw fail("a second TYPE for \(name)") }
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw fail("unknown TYPE")
                    }
                    guard families[name] == nil else { throw fail("TYPE for \(name) after its first sample") }
                    types[name] = parts[3]
                }
                continue
            }
            let sample = try Self.sample(line).get(orThrow: fail("not a sample line"))
            guard let family = Self.family(of: sample.name, types: types) else { throw fail("a sample of a family without TYPE") }
            if current != family {
                if let current { finished.insert(current) }
                guard !finished.contains(family) else { throw fail("the samples of \(family) are not in one group") }
                current = family
            }
            let series = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seen.insert(series).inserted else { throw fail("a duplicate series \(series)") }
            if types[family] == "counter", !(sample.value >= 0) { throw fail("a counter below 0 or NaN") }
            families[family, default: Family(type: types[family] ?? "untyped", help: helps[family])].samples.append(sample)
        }
        for (name, family) in families where family.type == "histogram" {
            try Self.checkHistogram(name, family.samples)
        }
        for (name, help) in helps where families[name] == nil && types[name] == nil {
            throw ParseError(line: 0, message: "HELP for \(name), which has no TYPE and no sample (\(help))")
        }
    }

    /// The value of the series `name` with exactly `labels`, if there is one.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        families.values.lazy.flatMap(\.samples).first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample of every family.
    var samples: [Sample] { families.values.flatMap(\.samples) }

    // MARK: - Grammar

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_", !name.hasPrefix("__") else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    /// A float as the format writes one: decimal (with an optional exponent), `+Inf`, `-Inf` or `NaN`.
    static func float(_ text: Substring) -> Double? {
        switch text {
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default: break
        }
        guard text.range(of: #"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"#, options: .regularExpression) != nil else { return nil }
        return Double(text)
    }

    /// `\\` and `\n` everywhere; `\"` in label values only. Any other escape is an error.
    static func unescape(_ text: String, quotes: Bool) -> String? {
        var out = ""
        var escaped = false
        for character in text {
            if escaped {
                switch character {
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "\"" where quotes: out.append("\"")
                default: return nil
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return escaped ? nil : out
    }

    /// `name{label="value",...} value [timestamp]`.
    static func sample(_ line: String) -> Sample? {
        let scalars = Array(line.unicodeScalars)
        var i = 0
        func text(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
        while i < scalars.count, scalars[i] != "{", scalars[i] != " " { i += 1 }
        let name = text(0..<i)
        guard isMetricName(name) else { return nil }
        var labels: [String: String] = [:]
        if i < scalars.count, scalars[i] == "{" {
            i += 1
            while true {
                guard i < scalars.count else { return nil }
                if scalars[i] == "}" { i += 1; break }
                let start = i
                while i < scalars.count, scalars[i] != "=" { i += 1 }
                let label = text(start..<i)
                guard isLabelName(label), labels[label] == nil, i + 1 < scalars.count, scalars[i + 1] == "\"" else { return nil }
                i += 2
                let valueStart = i
                var escaped = false
                while i < scalars.count, escaped || scalars[i] != "\"" {
                    escaped = !escaped && scalars[i] == "\\"
                    i += 1
                }
                guard i < scalars.count, let value = unescape(text(valueStart..<i), quotes: true) else { return nil }
                labels[label] = value
                i += 1
                guard i < scalars.count else { return nil }
                if scalars[i] == "," { i += 1 } else if scalars[i] != "}" { return nil }
            }
        }
        guard i < scalars.count, scalars[i] == " " else { return nil }
        let rest = text(i + 1..<scalars.count).split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(rest.count), let value = float(rest[0]) else { return nil }
        if rest.count == 2, Int64(rest[1]) == nil { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    /// The family a sample belongs to: its own name, or for histograms and summaries the name without the suffix.
    static func family(of name: String, types: [String: String]) -> String? {
        if types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if let type = types[base], type == "histogram" || (type == "summary" && suffix != "_bucket") { return base }
        }
        return nil
    }

    static func checkHistogram(_ name: String, _ samples: [Sample]) throws {
        var groups: [[String: String]: [Sample]] = [:]
        for sample in samples {
            var labels = sample.labels
            if sample.name == name + "_bucket" {
                guard labels.removeValue(forKey: "le") != nil else { throw ParseError(line: 0, message: "\(name): a bucket without le") }
            } else if sample.labels["le"] != nil {
                throw ParseError(line: 0, message: "\(name): le on \(sample.name)")
            }
            guard sample.name != name else { throw ParseError(line: 0, message: "\(name): a plain sample in a histogram") }
            groups[labels, default: []].append(sample)
        }
        for (labels, series) in groups {
            let buckets = series.filter { $0.name == name + "_bucket" }
            guard !buckets.isEmpty else { throw ParseError(line: 0, message: "\(name)\(labels): no buckets") }
            var previousLe = -Double.infinity, previousCount = -1.0
            for bucket in buckets {
                guard let le = float(Substring(bucket.labels["le"] ?? "")), !le.isNaN, le > previousLe else {
                    throw ParseError(line: 0, message: "\(name)\(labels): le \(bucket.labels["le"] ?? "") not above \(previousLe)")
                }
                guard bucket.value >= previousCount else {
                    throw ParseError(line: 0, message: "\(name)\(labels): bucket le=\(le) holds \(bucket.value), fewer than \(previousCount)")
                }
                previousLe = le
                previousCount = bucket.value
            }
            guard buckets.last?.labels["le"] == "+Inf" else { throw ParseError(line: 0, message: "\(name)\(labels): no +Inf bucket last") }
            guard let count = series.first(where: { $0.name == name + "_count" })?.value, count == previousCount else {
                throw ParseError(line: 0, message: "\(name)\(labels): _count is not the +Inf bucket (\(previousCount))")
            }
            guard series.contains(where: { $0.name == name + "_sum" }) else { throw ParseError(line: 0, message: "\(name)\(labels): no _sum") }
        }
    }
}

extension Optional {
    fileprivate func get(orThrow error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Reads `insightctl metrics` and parses it.
func readMetrics(_ daemon: DaemonHarness) throws -> PrometheusText {
    let result = try daemon.ctl(["metrics"])
    guard result.status == 0 else { throw HarnessError("insightctl metrics failed (\(result.status)): \(result.stderr)") }
    return try PrometheusText(result.stdout)
}

@Suite("metrics in the Prometheus text format: insightctl metrics and GET /v1/metrics", .serialized)
struct MetricsTests {
    @Test func theParserRefusesWhatTheFormatForbids() throws {
        let good = """
            # HELP a_total Things.
            # TYPE a_total counter
            a_total{kind="x\\"y\\\\z\\n"} 3
            # TYPE h_seconds histogram
            h_seconds_bucket{le="0.5"} 1
            h_seconds_bucket{le="1.0"} 2
            h_seconds_bucket{le="+Inf"} 2
            h_seconds_sum 0.7
            h_seconds_count 2

            """
        let parsed = try PrometheusText(good)
        #expect(parsed.value("a_total", ["kind": "x\"y\\z\n"]) == 3)
        #expect(parsed.value("h_seconds_count") == 2)
        let bad: [(String, String)] = [
            ("no newline at the end", "# TYPE a counter\na 1"),
            ("no TYPE", "a 1\n"),
            ("a value that is not a float", "# TYPE a gauge\na one\n"),
            ("a hex float", "# TYPE a gauge\na 0x1p3\n"),
            ("a bad escape", "# TYPE a gauge\na{l=\"\\t\"} 1\n"),
            ("an unquoted label value", "# TYPE a gauge\na{l=x} 1\n"),
            ("a reserved label name", "# TYPE a gauge\na{__l=\"x\"} 1\n"),
            ("a bad metric name", "# TYPE 1a gauge\n1a 1\n"),
            ("a duplicate series", "# TYPE a gauge\na{l=\"x\"} 1\na{l=\"x\"} 2\n"),
            ("a repeated label", "# TYPE a gauge\na{l=\"x\",l=\"y\"} 1\n"),
            ("two TYPE lines", "# TYPE a gauge\n# TYPE a gauge\na 1\n"),
            ("an unknown type", "# TYPE a meter\na 1\n"),
            ("a family in two groups", "# TYPE a gauge\n# TYPE b gauge\na{l=\"1\"} 1\nb 1\na{l=\"2\"} 1\n"),
            ("a negative counter", "# TYPE a_total counter\na_total -1\n"),
            ("buckets going down", "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n"),
            ("+Inf not the count", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"),
            ("no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"),
            ("le out of order", "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"),
        ]
        for (what, text) in bad {
            #expect(throws: PrometheusText.ParseError.self, "\(what)") { try PrometheusText(text) }
        }
    }

    /// While files queue and are ingested, two reads of `insightctl metrics` show the counters moving; every read
    /// parses strictly, and the final counts match the burst's, counted without insightd's code.
    @Test func duringABurstTheCountersMoveAndEveryReadParses() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let before = try readMetrics(daemon)
        let ingested = "insightd_files_total"
        #expect(before.value(ingested, ["outcome": "ingested"]) == 0)
        for outcome in ["unchanged", "skipped", "failed", "removed"] { #expect(before.value(ingested, ["outcome": outcome]) == 0) }
        #expect(before.value("insightd_ingest_batch_duration_seconds_count") == 0)
        #expect(before.families["insightd_ingest_batch_duration_seconds"]?.type == "histogram")
        #expect(before.families["insightd_files_total"]?.help?.isEmpty == false)

        // Paused, the files queue: the pending gauge shows them and nothing is ingested yet.
        #expect(try daemon.ctl(["pause"]).status == 0)
        let burst = Burst(files: 120, seed: 17)
        try burst.write(into: daemon.inbox, staging: daemon.root + "/staging")
        try waitUntil(timeout: 60, "the pending gauge shows every file of the burst") {
            try readMetrics(daemon).value("insightd_files_pending") == Double(burst.files.count)
        }
        let queued = try readMetrics(daemon)
        #expect(queued.value(ingested, ["outcome": "ingested"]) == 0)
        #expect(queued.value("insightd_paused") == 1)

        // Resumed: read while it works, until every file is in.
        #expect(try daemon.ctl(["resume"]).status == 0)
        var reads: [PrometheusText] = []
        try waitUntil(timeout: 120, "the burst is ingested") {
            let read = try readMetrics(daemon)
            reads.append(read)
            return read.value(ingested, ["outcome": "ingested"]) == Double(burst.files.count) && read.value("insightd_files_pending") == 0
        }
        let counts = reads.compactMap { $0.value(ingested, ["outcome": "ingested"]) }
        #expect(counts.count == reads.count)
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 <= $1 }, "a counter went down: \(counts)")
        #expect(Set(counts).count >= 2 || counts.first == Double(burst.files.count), "\(counts)")
        print("metrics test: ingested counter over \(reads.count) reads: \(counts.map { Int($0) })")

        let after = try #require(reads.last)
        #expect(after.value("insightd_insights_new_total") == Double(burst.expectedUnique))
        #expect(after.value("insightd_store_insights", ["kind": "unique"]) == Double(burst.expectedUnique))
        let batches = try #require(after.value("insightd_ingest_batch_duration_seconds_count"))
        #expect(batches >= 1 && batches <= Double(burst.files.count))
        #expect(after.value("insightd_ingest_batch_files_sum") == Double(burst.files.count))
        #expect(after.value("insightd_paused") == 0)
        #expect((after.value("insightd_database_size_bytes") ?? 0) > 0)
        #expect(after.value("insightd_api_requests_total", ["route": "/v1/metrics", "method": "GET", "status": "200"]).map { $0 >= Double(reads.count) } == true)
        #expect(after.value("insightd_api_requests_total", ["route": "/v1/pause", "method": "POST", "status": "200"]) == 1)
        #expect(after.value("insightd_store_errors_total", ["code": "write"]) == 0)

        // Removing files moves the removed counter.
        let gone = burst.files.prefix(5)
        for file in gone { unlink(daemon.inbox + "/" + file.relativePath) }
        try waitUntil(timeout: 60, "removals are counted") {
            try readMetrics(daemon).value(ingested, ["outcome": "removed"]) == Double(gone.count)
        }
    }

    /// Each stored file moves the insight counters by what it wrote: a new insight, a new wording (a near variant),
    /// nothing for a text stored word for word before (an exact duplicate, an exact variant), and a new insight
    /// stored as conflicting with another (a changed figure), which is also counted as new.
    @Test func insightCountersCountWhatEachFileWrote() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let claim = "The stock market lost $1 trillion in value after the open model was released in January."
        let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."
        let changed = "The stock market lost $3 trillion in value after the open model was released in January."
        let other = "Rivers that flood every spring leave behind soil that farmers prize for decades afterwards."
        var counts = (new: 0.0, variant: 0.0, conflict: 0.0)
        func check(_ step: String) throws {
            let metrics = try readMetrics(daemon)
            #expect(metrics.value("insightd_insights_new_total") == counts.new, "new after \(step)")
            #expect(metrics.value("insightd_insights_variant_total") == counts.variant, "variant after \(step)")
            #expect(metrics.value("insightd_insights_conflict_total") == counts.conflict, "conflict after \(step)")
            #expect(metrics.families["insightd_insights_variant_total"]?.type == "counter")
            #expect(metrics.families["insightd_insights_conflict_total"]?.type == "counter")
        }
        try check("start")
        // One file at a time, each ingested before the next is written, so each one's counts are seen alone.
        let steps: [(name: String, paragraphs: [String], new: Double, variant: Double, conflict: Double)] = [
            ("one.txt", [claim, other], 2, 0, 0),
            ("two.txt", [typo, claim], 0, 1, 0),      // a near variant; the claim word for word
            ("three.txt", [typo, changed], 1, 0, 1),  // the same variant word for word; a changed figure
        ]
        for (index, step) in steps.enumerated() {
            try daemon.moveIn(step.name, step.paragraphs.joined(separator: "\n\n") + "\n")
            try daemon.waitForStatus(timeout: 60, "\(step.name) is stored") { $0.files.ingested == index + 1 }
            counts.new += step.new
            counts.variant += step.variant
            counts.conflict += step.conflict
            try check(step.name)
        }
        let metrics = try readMetrics(daemon)
        #expect(metrics.value("insightd_store_insights", ["kind": "unique"]) == 3)
        #expect(metrics.value("insightd_store_insights", ["kind": "variant"]) == 1)
        #expect(metrics.value("insightd_store_insights", ["kind": "conflict"]) == 1)
    }

    /// `insightd_links_due` counts the links a fetcher would take now: every queued link while fetching is off, and
    /// none once the one fetched is done and the one that failed waits for a retry minutes away.
    @Test func dueLinksAreTheOnesToFetchNowNotTheOnesWaitingForARetry() async throws {
        let server = try await HTTPTestServer.start { request in
            switch request.path {
            case "/article": return .text(200, articlePage("Tides"))
            default: return .text(503, "try later")
            }
        }
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        #expect(try readMetrics(daemon).value("insightd_links_due") == 0)
        // Fetching off, links are still queued by hand (dropped files harvest none then).
        for path in ["/article", "/down"] { #expect(try daemon.ctl(["add", server.url(path)]).status == 0) }
        try waitUntil(timeout: 60, "both links are queued") { try readMetrics(daemon).value("insightd_links", ["state": "queued"]) == 2 }
        let queued = try readMetrics(daemon)
        #expect(queued.value("insightd_links_due") == 2)
        #expect(queued.families["insightd_links_due"]?.type == "gauge")

        // Fetching on, with a retry ten minutes or more after a failure.
        try daemon.stop()
        daemon.environment = LinkTests.fetchEnvironment.merging(["INSIGHTD_FETCH_BACKOFF_BASE_MS": "600000",
                                                                 "INSIGHTD_LOG_LEVEL": "notice"]) { $1 }
        try daemon.start()
        try daemon.waitForStatus(timeout: 60, "one link is fetched and one failed") { $0.links.fetched == 1 && $0.links.failed == 1 }
        let waiting = try readMetrics(daemon)
        #expect(waiting.value("insightd_links_due") == 0)
        #expect(waiting.value("insightd_links", ["state": "queued"]) == 0)
        let failed = try #require(try linkList(daemon).first { $0.state == "failed" })
        #expect(failed.failure == "transient")
        #expect(failed.attempts == 1)
        try daemon.stop()
        await server.stop()
    }

    /// The route label is the route's pattern whatever the path asked for: no id, no unknown path, no odd method.
    @Test func routeLabelsArePatternsNeverRawPaths() throws {
        let daemon = try startedWithFixtures()
        defer { _ = try? daemon.stop() }
        #expect(try daemon.ctl(["show", "1"]).status == 0)
        #expect(try daemon.ctl(["show", "987654"]).status != 0)
        _ = try daemon.ctl(["related", "123456"])
        #expect(send(daemon, "GET /v1/insights/555444333 HTTP/1.1").status == 404)
        #expect(send(daemon, "GET /v1/no/such/path/777888 HTTP/1.1").status == 404)
        #expect(send(daemon, "PUT /v1/insights/24680 HTTP/1.1").status == 405)
        #expect(send(daemon, "FROB%2F /v1/status HTTP/1.1").status != 200)
        #expect(send(daemon, "GET /v1/metrics?x=/etc/passwd HTTP/1.1").status == 200)

        let metrics = try readMetrics(daemon)
        let patterns = Set(APIRouter.routes.map(\.pattern) + ["unmatched"])
        let requestSeries = metrics.samples.filter { $0.name.hasPrefix("insightd_api_request") }
        #expect(!requestSeries.isEmpty)
        for sample in requestSeries {
            let route = try #require(sample.labels["route"], "\(sample)")
            #expect(patterns.contains(route), "route label \(route)")
            #expect(["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "other"].contains(sample.labels["method"] ?? ""))
        }
        for sample in metrics.samples {
            for value in sample.labels.values {
                for raw in ["987654", "123456", "555444333", "777888", "24680", "/no/such", "passwd", "FROB", "/tmp/"] {
                    #expect(!value.contains(raw), "\(sample.name) has the label value \(value)")
                }
            }
        }
        #expect(metrics.value("insightd_api_requests_total", ["route": "/v1/insights/:id", "method": "GET", "status": "200"]) == 1)
        #expect(metrics.value("insightd_api_requests_total", ["route": "/v1/insights/:id", "method": "GET", "status": "404"]) == 2)
        #expect(metrics.value("insightd_api_requests_total", ["route": "/v1/insights/:id", "method": "PUT", "status": "405"]) == 1)
        #expect(metrics.value("insightd_api_requests_total", ["route": "unmatched", "method": "GET", "status": "404"]) == 1)
        #expect(metrics.value("insightd_api_request_duration_seconds_count", ["route": "/v1/insights/:id", "method": "GET"]) == 3)
        #expect(metrics.value("insightd_files_total", ["outcome": "ingested"]) == 4)
        #expect(metrics.value("insightd_files_total", ["outcome": "skipped"]) == 1)
    }

    @Test func theHTTPReplyIsTheTextFormat() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let reply = send(daemon, "GET /v1/metrics HTTP/1.1")
        #expect(reply.status == 200)
        #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let parsed = try PrometheusText(reply.body)
        for family in ["insightd_files_total", "insightd_fetches_total", "insightd_store_errors_total", "insightd_rescans_total",
                       "insightd_inotify_overflows_total", "insightd_fetch_host_pause_seconds_total", "insightd_sentences_embedded_total",
                       "insightd_embeddings_pending", "insightd_links", "insightd_api_request_duration_seconds"] {
            #expect(parsed.families[family] != nil, "\(family) is served")
        }
        for outcome in ["success", "not_modified", "transient", "permanent", "deferred"] {
            #expect(parsed.value("insightd_fetches_total", ["class": outcome]) == 0)
        }
        // Counters are _total, sizes _bytes, durations _seconds, and every family has help.
        for (name, family) in parsed.families where name.hasPrefix("insightd_") {
            #expect(family.help?.isEmpty == false, "\(name) has HELP")
            if family.type == "counter" { #expect(name.hasSuffix("_total"), "\(name)") }
        }
        #expect(send(daemon, "POST /v1/metrics HTTP/1.1").status == 405)
    }

    @Test func anyoneWhoMayReadStatusMayReadMetrics() throws {
        try #require(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv")
        let group = try #require(existingGroup(), "needs a group such as users or staff")
        let daemon = try openDaemon(adminGroup: group.name)
        defer { _ = try? daemon.stop() }
        let status = try ctlAsNobody(daemon, ["status"])
        #expect(status.status == 0, "\(status.stderr)")
        let result = try ctlAsNobody(daemon, ["metrics"])
        #expect(result.status == 0, "\(result.stderr)")
        let parsed = try PrometheusText(result.stdout)
        #expect(parsed.value("insightd_files_total", ["outcome": "ingested"]) == 4)
        // Writes stay refused to the same reader.
        #expect(try ctlAsNobody(daemon, ["pause"]).status == 4)
    }
}
