import ArgumentParser
import Foundation
import InsightClient
import InsightCore
import InsightStore
import InsightStoreCore

#if canImport(Glibc)
import Glibc
#endif

/// `insightbench search`: fills a database with generated insights through the store's ingest transaction,
/// starts a real insightd on it, and measures `GET /v1/search` over the Unix socket, beside the same
/// queries run in-process against the store (the floor the socket adds to).
struct SearchBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Search latency with many stored insights.")

    @Option(help: "How many insights to store.") var insights = 1_000_000
    @Option(help: "Insights per generated file (one transaction each).") var perFile = 2_000
    @Option(help: "Queries per word-frequency band.") var queries = 100
    @Option(help: "Keep the database in this folder and reuse it when it already holds enough insights.") var directory: String?
    @Option(help: "The insightd to start (default: beside insightbench).") var insightd: String?

    func run() throws {
        let root = directory ?? "/tmp/insightbench-search-\(getpid())"
        let stateDir = root + "/state", inbox = root + "/inbox"
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let corpus = SearchCorpus(seed: 42)

        let database = try InsightDatabase(path: stateDir + "/insights.sqlite")
        var stored = try database.counts().uniqueInsights
        if stored < insights {
            let started = monotonicSeconds()
            var file = stored / perFile
            while stored < insights {
                var rng = SearchRandom(seed: UInt64(file) &+ 1)
                let batch = (0..<perFile).map { index in
                    PreparedInsight(ParsedInsight(text: corpus.sentence(&rng), line: index * 2 + 1, section: nil))
                }
                let outcome = try database.ingest(FileIngest(path: "bench/file-\(file).txt", size: 0, mtime: 0, sha256: "bench-\(file)",
                                                             encoding: "utf-8", documentDate: nil, insights: batch),
                                                  now: 1_700_000_000 + Double(file))
                if case .stored(let new, _, _, _) = outcome { stored += new }
                file += 1
                if file % 50 == 0 { print("  filled \(stored) insights (\(String(format: "%.0f", monotonicSeconds() - started)) s)") }
            }
            print("filled \(stored) insights in \(String(format: "%.1f", monotonicSeconds() - started)) s")
        }
        print("database: \(Output.count(try database.counts().uniqueInsights)) insights, \(Output.bytes(database.fileBytes()))")

        let bands: [(String, [String])] = [
            ("common word (rank 1-50)", corpus.pick(ranks: 0..<50, count: queries, seed: 1)),
            ("mid word (rank 500-2000)", corpus.pick(ranks: 500..<2000, count: queries, seed: 2)),
            ("rare word (rank 10000+)", corpus.pick(ranks: 10_000..<corpus.words.count, count: queries, seed: 3)),
            ("two words (mid + common)", zip(corpus.pick(ranks: 500..<2000, count: queries, seed: 4),
                                             corpus.pick(ranks: 0..<200, count: queries, seed: 5)).map { "\($0) \($1)" }),
            ("prefix (3 letters)", corpus.pick(ranks: 100..<5000, count: queries, seed: 6).map { String($0.prefix(3)) }),
        ]

        // In-process: the store's queries alone. The one-query search (rank, snippet and text together) is the
        // peer of the two-step search the API uses.
        var all: [Double] = []
        for (label, twoStep) in [("one-query InsightDatabase.search(_:limit:)", false), ("two-step InsightDatabase.search(_:limit:since:source:), as the API uses", true)] {
            print("\nin-process \(label), limit 20:")
            all = []
            for (name, terms) in bands {
                var times: [Double] = []
                for term in terms {
                    let start = monotonicSeconds()
                    if twoStep {
                        _ = try database.search(term, limit: 20, since: nil, source: nil)
                    } else {
                        _ = try database.search(term, limit: 20)
                    }
                    times.append(monotonicSeconds() - start)
                }
                all += times
                report(name, times)
            }
            report("all", all)
        }
        try database.close()

        // Over the socket, through a real insightd.
        let executable = insightd ?? (URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path + "/insightd")
        let socket = root + "/s.sock"
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: executable)
        daemon.arguments = ["--inbox", inbox, "--state-dir", stateDir, "--socket", socket]
        var environment = ProcessInfo.processInfo.environment
        environment["INSIGHTD_LOG_LEVEL"] = "warning"
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        daemon.environment = environment
        try daemon.run()
        defer { daemon.terminate(); daemon.waitUntilExit() }
        let client = SocketClient(path: socket)
        let deadline = monotonicSeconds() + 60
        while (try? client.request("GET", "/v1/status"))?.status != 200 {
            guard monotonicSeconds() < deadline, daemon.isRunning else { throw ValidationError("insightd did not start on \(socket)") }
            usleep(50_000)
        }
        print("\nGET /v1/search over the socket, real insightd \(executable) (limit 20, one connection per request):")
        all = []
        var hits = 0
        for (name, terms) in bands {
            var times: [Double] = []
            for term in terms {
                let query = term.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? term
                let start = monotonicSeconds()
                let reply = try client.request("GET", "/v1/search?q=\(query)&limit=20")
                times.append(monotonicSeconds() - start)
                guard reply.status == 200 else { throw ValidationError("search for \(term) answered \(reply.status)") }
                if let decoded = try? WireJSON.decoder().decode(SearchReply.self, from: Data(reply.body)), !decoded.results.isEmpty { hits += 1 }
            }
            all += times
            report(name, times)
        }
        report("all", all)
        print("queries with at least one result: \(hits) of \(all.count)")
    }

    func report(_ name: String, _ times: [Double]) {
        let sorted = times.sorted()
        func percentile(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)] * 1000 }
        print("  " + name.padding(toLength: 28, withPad: " ", startingAt: 0)
              + String(format: "n=%4d  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms", sorted.count, percentile(0.5), percentile(0.99), (sorted.last ?? 0) * 1000))
    }
}

/// A deterministic generator, so every run measures the same data.
struct SearchRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Made-up words with a Zipf-like frequency (rank r drawn with weight 1/r), like words of real text.
struct SearchCorpus {
    let words: [String]
    let cumulative: [Double]

    init(seed: UInt64) {
        var rng = SearchRandom(seed: seed)
        let onsets = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "br", "st", "tr", "pl", "gr", "ch", "sh"]
        let vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
        var seen = Set<String>()
        var words: [String] = []
        while words.count < 30_000 {
            let syllables = words.count < 200 ? Int.random(in: 1...2, using: &rng) : Int.random(in: 2...4, using: &rng)
            let word = (0..<syllables).map { _ in onsets.randomElement(using: &rng)! + vowels.randomElement(using: &rng)! }.joined()
                + (Bool.random(using: &rng) ? "n" : "")
            if seen.insert(word).inserted { words.append(word) }
        }
        self.words = words
        var total = 0.0
        cumulative = (1...words.count).map { rank in
            total += 1 / Double(rank)
            return total
        }
    }

    /// 10 to 25 words, a sentence as the store sees it.
    func sentence(_ rng: inout SearchRandom) -> String {
        let count = Int.random(in: 10...25, using: &rng)
        var out: [String] = []
        out.reserveCapacity(count)
        let total = cumulative[cumulative.count - 1]
        for _ in 0..<count {
            let target = Double.random(in: 0..<total, using: &rng)
            var low = 0, high = cumulative.count - 1
            while low < high {
                let mid = (low + high) / 2
                if cumulative[mid] < target { low = mid + 1 } else { high = mid }
            }
            out.append(words[low])
        }
        let text = out.joined(separator: " ")
        return text.prefix(1).uppercased() + text.dropFirst() + "."
    }

    func pick(ranks: Range<Int>, count: Int, seed: UInt64) -> [String] {
        var rng = SearchRandom(seed: seed &* 7919)
        return (0..<count).map { _ in words[Int.random(in: ranks, using: &rng)] }
    }
}
