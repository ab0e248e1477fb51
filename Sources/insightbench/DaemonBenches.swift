import Foundation
import InsightCore
import InsightStore
import InsightStoreCore

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Results

/// One timed bulk ingest by the daemon.
struct IngestRun: Codable {
    var seconds: Double
    var insightsPerSecond: Double
    var filesPerSecond: Double
    var unique: Int
    /// Wordings merged into a stored insight as near-duplicate variants.
    var variants: Int
    var occurrences: Int
    /// The daemon stored exactly the rows the parser and normalizer say it should.
    var countsMatch: Bool
}

/// The same final rows inserted by the sqlite3 command-line tool in one transaction.
struct FloorRun: Codable {
    var tool: String
    var seconds: Double
    var insightsPerSecond: Double
    var rows: Int
    var rowsPerSecond: Double
}

/// Where the daemon's time per insight goes, measured in this process on the same corpus (no daemon, no files).
struct StageBreakdown: Codable {
    /// Decoding, parsing, normalizing and fingerprinting, SHA-256 of the file: what the daemon does before storing.
    var parseMicrosPerInsight: Double
    /// `InsightDatabase.ingest`, one write transaction per file, into a fresh database.
    var storeMicrosPerInsight: Double
    /// The sqlite3 floor's time per insight, for comparison.
    var floorMicrosPerInsight: Double?
}

struct IngestResult: Codable {
    var corpus: CorpusSpec
    var occurrences: Int
    var unique: Int
    var bytes: Int
    var droppedBeforeStart: IngestRun
    var droppedWhileRunning: IngestRun
    var floor: FloorRun?
    var rssAfterBulkKiB: Int
    var stages: StageBreakdown?
    /// Slowest daemon rate as a share of the floor's rate (insights/s).
    var shareOfFloor: Double?
}

struct LatencyResult: Codable {
    var drops: Int
    var settleMs: Int
    var p50Ms: Double
    var p90Ms: Double
    var p99Ms: Double
    var maxMs: Double
}

struct IdleResult: Codable {
    struct Thread: Codable {
        var name: String
        var wakeups: Int
    }
    var rssFreshKiB: Int
    var windowSeconds: Double
    var cpuSeconds: Double
    var cpuPercent: Double
    var wakeups: Int
    var wakeupsPerMinute: Double
    var threads: Int
    var busiestThreads: [Thread]
}

struct ScaleResult: Codable {
    var builtWith: String
    var insights: Int
    var files: Int
    var buildSeconds: Double
    var buildInsightsPerSecond: Double
    var readySeconds: Double
    var startupScanSeconds: Double
    var searches: Int
    var searchP50Ms: Double
    var searchP99Ms: Double
    var databaseBytes: Int64
    var bytesPerInsight: Double
    var rssKiB: Int
}

/// Everything one run measured.
struct BenchReport: Codable {
    struct Machine: Codable {
        var cpu: String
        var cores: Int
        var memoryGiB: Double
        var kernel: String
        var sqlite3: String
        var loadAverage: String
    }
    var machine: Machine
    var quick: Bool
    var ingest: IngestResult?
    var latency: LatencyResult?
    var idle: IdleResult?
    var scale: ScaleResult?
    var postgres: PostgresIngestResult?
}

// MARK: - Settings shared by the benchmarks

struct BenchContext {
    var insightd: String
    var quick: Bool
    var keep: Bool
    var seed: UInt64
    var log: (String) -> Void
}

// MARK: - Bulk ingest

enum IngestBenchmark {
    static func run(_ context: BenchContext, spec: CorpusSpec) throws -> IngestResult {
        let (corpus, expected, bytes) = IngestBenchmark.generate(context, spec: spec)
        let timeout = context.quick ? 120.0 : 3600.0

        // 1. Dropped before start: the start-up scan finds them all.
        let before: IngestRun
        do {
            let workspace = try Workspace("pre")
            defer { if !context.keep { workspace.remove() } }
            for file in corpus { try writeFile(workspace.inbox + "/" + file.name, file.bytes) }
            let daemon = try DaemonProcess(binary: context.insightd, workspace: workspace)
            try daemon.waitReady()
            let (report, at) = try daemon.waitUntilIdle(timeout: timeout) { $0.files.ingested + $0.files.failed + $0.files.skipped >= corpus.count }
            before = makeRun(seconds: at - daemon.startedAt, reports: [report], expected: expected, files: corpus.count)
            context.log("dropped before start: \(format(before.seconds, 2)) s, \(Int(before.insightsPerSecond)) insights/s")
            daemon.stop()
        }

        // 2. Dropped while running: renamed into the inbox of a running daemon, as fast as the bench can.
        let during: IngestRun
        let rssAfter: Int
        do {
            let fleet = try DaemonFleet(context, name: "run", shares: [corpus])
            let (seconds, reports) = try fleet.dropAndWait(timeout: timeout)
            during = makeRun(seconds: seconds, reports: reports, expected: expected, files: corpus.count)
            rssAfter = try ProcSample(pid: fleet.daemons[0].pid).rssKiB
            context.log("dropped while running: \(format(during.seconds, 2)) s, \(Int(during.insightsPerSecond)) insights/s")
            fleet.stop()
        }

        // 3. The floor: the same final rows, inserted by sqlite3 in one transaction, same schema and FTS5 triggers.
        let floor = try? sqliteFloor(context, expected: expected)
        if let floor { context.log("sqlite3 floor: \(format(floor.seconds, 2)) s, \(Int(floor.insightsPerSecond)) insights/s") }
        var stages = try stageBreakdown(context, corpus: corpus, occurrences: expected.occurrences)
        stages.floorMicrosPerInsight = floor.map { 1e6 / $0.insightsPerSecond }
        context.log("stages: parse \(format(stages.parseMicrosPerInsight, 1)) µs/insight, store \(format(stages.storeMicrosPerInsight, 1)) µs/insight")
        let slowest = min(before.insightsPerSecond, during.insightsPerSecond)
        return IngestResult(corpus: spec, occurrences: expected.occurrences, unique: expected.unique, bytes: bytes,
                            droppedBeforeStart: before, droppedWhileRunning: during, floor: floor, rssAfterBulkKiB: rssAfter,
                            stages: stages, shareOfFloor: floor.map { slowest / $0.insightsPerSecond })
    }

    /// The corpus `spec` describes, what the store should hold after ingesting it, and its size in bytes.
    static func generate(_ context: BenchContext, spec: CorpusSpec) -> (corpus: [CorpusFile], expected: ExpectedRows, bytes: Int) {
        context.log("generating \(spec.files) files of \(spec.paragraphs) paragraphs (seed \(spec.seed))")
        let corpus = CorpusGenerator.corpus(spec)
        let expected = ExpectedRows(corpus)
        let bytes = corpus.reduce(0) { $0 + $1.bytes.count }
        context.log("corpus: \(expected.occurrences) insights, \(expected.unique) unique, \(bytes / 1024) KiB")
        return (corpus, expected, bytes)
    }

    /// Times the daemon's two stages on their own, in this process: parsing (as FileProcessor does it) and storing.
    static func stageBreakdown(_ context: BenchContext, corpus: [CorpusFile], occurrences: Int) throws -> StageBreakdown {
        let workspace = try Workspace("stages")
        defer { if !context.keep { workspace.remove() } }
        let parser = DocumentParser()
        var ingests: [FileIngest] = []
        ingests.reserveCapacity(corpus.count)
        let parseStart = now()
        for file in corpus {
            let decoded = try TextDecoder.decode(file.bytes)
            let document = parser.parse(decoded.text)
            ingests.append(FileIngest(path: file.name, size: Int64(file.bytes.count), mtime: 0, sha256: Hashing.sha256Hex(file.bytes),
                                      encoding: decoded.encoding.rawValue, documentDate: document.date,
                                      insights: document.insights.map(PreparedInsight.init)))
        }
        let parseSeconds = now() - parseStart
        let database = try InsightDatabase(path: workspace.database)
        let storeStart = now()
        for ingest in ingests { _ = try database.ingest(ingest) }
        let storeSeconds = now() - storeStart
        try database.close()
        let count = Double(max(1, occurrences))
        return StageBreakdown(parseMicrosPerInsight: parseSeconds * 1e6 / count, storeMicrosPerInsight: storeSeconds * 1e6 / count)
    }

    /// The figures of one timed ingest of `files` files by one or more daemons into one store. `reports` holds each
    /// daemon's status at the end (file counts are each daemon's own, the last one's insight counts store-wide);
    /// `copies` says how many daemons were given each file.
    static func makeRun(seconds: Double, reports: [StatusReport], expected: ExpectedRows, files: Int, copies: Int = 1) -> IngestRun {
        let store = reports.last?.insights ?? StatusReport.Insights()
        let ingested = reports.reduce(0) { $0 + $1.files.ingested }
        return IngestRun(seconds: seconds, insightsPerSecond: Double(expected.occurrences * copies) / seconds,
                         filesPerSecond: Double(files * copies) / seconds,
                         unique: store.unique, variants: store.variants, occurrences: store.occurrences,
                         // Every exact-distinct insight is either stored or merged into one as a near-duplicate variant,
                         // once however many daemons read it; each daemon's copy of a file adds its own occurrences.
                         countsMatch: store.unique + store.variants == expected.unique
                             && store.occurrences == expected.occurrences * copies
                             && ingested == files * copies)
    }

    /// Times `sqlite3` inserting the rows the daemon ends up with into a database made by the store's own migrations.
    static func sqliteFloor(_ context: BenchContext, expected: ExpectedRows) throws -> FloorRun {
        guard let tool = sqlite3Path() else { throw DaemonBenchError("sqlite3 is not installed (apt-get install sqlite3)") }
        let workspace = try Workspace("floor")
        defer { if !context.keep { workspace.remove() } }
        // The schema comes from the store itself, so the floor always matches the current migration.
        let database = try InsightDatabase(path: workspace.database)
        try database.close()

        var sql = "PRAGMA synchronous = NORMAL;\nBEGIN;\n"
        sql.reserveCapacity(expected.occurrences * 260)
        var insightIDs: [[UInt8]: Int] = [:]
        let at = Date().timeIntervalSince1970
        var rows = 0
        for (sourceIndex, file) in expected.files.enumerated() {
            let sourceID = sourceIndex + 1
            sql += "INSERT INTO source (id, path, size, mtime, sha256, state, encoding, documentDate, insightCount, firstSeenAt, updatedAt, ingestedAt) VALUES ("
            sql += "\(sourceID), \(quote(file.name)), \(file.size), \(at), '\(file.sha256)', 'ingested', 'utf-8', \(file.date.map(quote) ?? "NULL"), \(file.insights.count), \(at), \(at), \(at));\n"
            rows += 1
            for (ordinal, insight) in file.insights.enumerated() {
                let id: Int
                if let known = insightIDs[insight.fingerprint] {
                    id = known
                } else {
                    id = insightIDs.count + 1
                    insightIDs[insight.fingerprint] = id
                    sql += "INSERT INTO insight (id, fingerprint, text, createdAt) VALUES (\(id), X'\(hexString(insight.fingerprint))', \(quote(insight.text)), \(at));\n"
                    rows += 1
                }
                sql += "INSERT INTO occurrence (insightId, sourceId, ordinal, line, section) VALUES (\(id), \(sourceID), \(ordinal), \(insight.line), \(insight.section.map(quote) ?? "NULL"));\n"
                rows += 1
            }
        }
        sql += "COMMIT;\n"
        let script = workspace.root + "/floor.sql"
        try writeFile(script, Array(sql.utf8))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["-bail", workspace.database]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: script))
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = now()
        try process.run()
        process.waitUntilExit()
        let seconds = now() - start
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw DaemonBenchError("sqlite3 failed on the floor script: \(message)")
        }
        // Check the floor stored what the daemon stores.
        let check = try InsightDatabase(path: workspace.database).counts()
        guard check.uniqueInsights == expected.unique, check.occurrences == expected.occurrences else {
            throw DaemonBenchError("the floor stored \(check.uniqueInsights)/\(check.occurrences) rows, expected \(expected.unique)/\(expected.occurrences)")
        }
        return FloorRun(tool: "sqlite3 " + sqliteVersion(tool), seconds: seconds, insightsPerSecond: Double(expected.occurrences) / seconds,
                        rows: rows, rowsPerSecond: Double(rows) / seconds)
    }

    private static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

func sqlite3Path() -> String? {
    ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3", "/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

func sqliteVersion(_ tool: String) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = ["--version"]
    let out = Pipe()
    process.standardOutput = out
    guard (try? process.run()) != nil else { return "?" }
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text.split(separator: " ").first.map(String.init) ?? "?"
}

// MARK: - Drop to searchable

enum LatencyBenchmark {
    static func run(_ context: BenchContext, drops: Int, settleMs: Int = 50) throws -> LatencyResult {
        let workspace = try Workspace("lat")
        defer { if !context.keep { workspace.remove() } }
        let daemon = try DaemonProcess(binary: context.insightd, workspace: workspace, settleMilliseconds: settleMs)
        try daemon.waitReady()
        _ = try daemon.waitUntilIdle(timeout: 30) { _ in true }
        var rng = SplitMix64(seed: context.seed)
        var words = CorpusGenerator(seed: context.seed &+ 7)
        var samples: [Double] = []
        samples.reserveCapacity(drops)
        context.log("\(drops) single-file drops, settle \(settleMs) ms")
        for index in 0..<drops {
            let token = probeToken(index)
            let name = "drop-\(index).txt"
            // A fresh paragraph each time: the same sentence with another token would be merged as a near duplicate.
            let text = "Probe \(token) " + words.paragraph() + "\n"
            try writeFile(workspace.staging + "/" + name, Array(text.utf8))
            let start = now()
            try renameFile(workspace.staging + "/" + name, workspace.inbox + "/" + name)
            while true {
                if try daemon.searchCount(token, limit: 1) > 0 { break }
                if now() - start > 30 { throw DaemonBenchError("drop \(index) was not searchable after 30 s; see \(workspace.log)") }
                sleepSeconds(0.001)
            }
            samples.append((now() - start) * 1000)
            // Idle between drops: the daemon is at rest when the next file arrives.
            sleepSeconds(0.02 + Double(rng.next() % 20) / 1000)
        }
        daemon.stop()
        return LatencyResult(drops: drops, settleMs: settleMs, p50Ms: percentile(samples, 50), p90Ms: percentile(samples, 90),
                             p99Ms: percentile(samples, 99), maxMs: samples.max() ?? .nan)
    }

    /// A word that occurs in no other insight: letters only, fixed width so a prefix query matches it alone.
    static func probeToken(_ index: Int) -> String {
        var value = index
        var letters: [Character] = []
        for _ in 0..<5 {
            letters.append(Character(UnicodeScalar(UInt8(97 + value % 26))))
            value /= 26
        }
        return "qzx" + String(letters)
    }
}

// MARK: - Idle cost

enum IdleBenchmark {
    static func run(_ context: BenchContext, window: Double) throws -> IdleResult {
        let workspace = try Workspace("idle")
        defer { if !context.keep { workspace.remove() } }
        let daemon = try DaemonProcess(binary: context.insightd, workspace: workspace)
        try daemon.waitReady()
        _ = try daemon.waitUntilIdle(timeout: 30) { _ in true }
        sleepSeconds(context.quick ? 0.2 : 2)  // let start-up work end before the window opens
        let first = try ProcSample(pid: daemon.pid)
        context.log("idle window: \(Int(window)) s, no requests")
        sleepSeconds(window)
        let last = try ProcSample(pid: daemon.pid)
        daemon.stop()
        let previous = Dictionary(first.threads.map { ($0.tid, $0) }, uniquingKeysWith: { a, _ in a })
        var threads: [IdleResult.Thread] = []
        for thread in last.threads {
            let before = previous[thread.tid]
            let wakeups = thread.voluntary - (before?.voluntary ?? 0)
            threads.append(.init(name: "\(thread.name)#\(thread.tid)", wakeups: wakeups))
        }
        threads.sort { $0.wakeups > $1.wakeups }
        let elapsed = last.at - first.at
        let cpu = Double(last.cpuTicks - first.cpuTicks) / ProcSample.ticksPerSecond
        let wakeups = threads.reduce(0) { $0 + $1.wakeups }
        return IdleResult(rssFreshKiB: first.rssKiB, windowSeconds: elapsed, cpuSeconds: cpu, cpuPercent: cpu / elapsed * 100,
                          wakeups: wakeups, wakeupsPerMinute: Double(wakeups) / elapsed * 60, threads: last.threads.count,
                          busiestThreads: Array(threads.filter { $0.wakeups > 0 }.prefix(5)))
    }
}

// MARK: - At scale

enum ScaleBenchmark {
    /// Builds a database of `insights` insights in files of 100 through the store's own ingest API (the code path
    /// the daemon uses after parsing), with the files in the inbox, then times a daemon start and searches on it.
    static func run(_ context: BenchContext, insights: Int, searches: Int) throws -> ScaleResult {
        let workspace = try Workspace("scale")
        defer { if !context.keep { workspace.remove() } }
        let perFile = 100
        let files = max(1, insights / perFile)
        context.log("building \(files * perFile) insights in \(files) files through InsightStore.ingest")
        let spec = CorpusSpec(files: files, paragraphs: perFile, exactShare: 0, nearShare: 0, seed: context.seed &+ 1, prefix: "scale")
        var generator = CorpusGenerator(seed: spec.seed)
        let parser = DocumentParser()
        let buildStart = now()
        do {
            let database = try InsightDatabase(path: workspace.database)
            for index in 0..<files {
                let name = "scale-\(padded(index, 6)).md"
                let bytes = Array(generator.fileText(paragraphs: perFile, spec: spec).utf8)
                let path = workspace.inbox + "/" + name
                try writeFile(path, bytes)
                var info = stat()
                guard stat(path, &info) == 0 else { throw DaemonBenchError("cannot stat \(path)") }
                let document = parser.parse(String(decoding: bytes, as: UTF8.self))
                _ = try database.ingest(FileIngest(
                    path: name, size: Int64(info.st_size), mtime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
                    sha256: Hashing.sha256Hex(bytes), encoding: "utf-8", documentDate: document.date,
                    insights: document.insights.map(PreparedInsight.init)))
                if index % 1000 == 999 { context.log("  \(index + 1) files") }
            }
            try database.close()
        }
        let buildSeconds = now() - buildStart
        let daemon = try DaemonProcess(binary: context.insightd, workspace: workspace)
        let ready = try daemon.waitReady()
        let (report, at) = try daemon.waitUntilIdle(timeout: 3600, interval: 0.02) { $0.files.ingested >= files }
        let scan = at - daemon.startedAt
        context.log("ready after \(format(ready * 1000, 1)) ms, start-up scan done after \(format(scan, 2)) s; \(report.insights.unique) insights")

        var rng = SplitMix64(seed: context.seed &+ 2)
        var generatorForWords = CorpusGenerator(seed: context.seed &+ 3)
        var samples: [Double] = []
        for index in 0..<searches {
            let words = (0...(index % 3)).map { _ in generatorForWords.word() }.joined(separator: " ")
            _ = rng.next()
            let start = now()
            _ = try daemon.searchCount(words, limit: 20)
            samples.append((now() - start) * 1000)
        }
        let rss = try ProcSample(pid: daemon.pid).rssKiB
        daemon.stop()
        let bytes = [workspace.database, workspace.database + "-wal"].reduce(Int64(0)) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0)
        }
        return ScaleResult(builtWith: "InsightStore.ingest (files of \(perFile), same files in the inbox)",
                           insights: report.insights.unique, files: files, buildSeconds: buildSeconds,
                           buildInsightsPerSecond: Double(files * perFile) / buildSeconds, readySeconds: ready,
                           startupScanSeconds: scan, searches: searches, searchP50Ms: percentile(samples, 50),
                           searchP99Ms: percentile(samples, 99), databaseBytes: bytes,
                           bytesPerInsight: Double(bytes) / Double(max(1, report.insights.unique)), rssKiB: rss)
    }
}

func format(_ value: Double, _ places: Int) -> String {
    value.isFinite ? String(format: "%.\(places)f", value) : "n/a"
}
