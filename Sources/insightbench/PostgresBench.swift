import ArgumentParser
import Foundation
import PostgresTestSupport

/// One timed ingest into the shared PostgreSQL store.
struct SharedStoreRound: Codable {
    var daemons: Int
    /// Files each daemon was given: its share of the corpus, or all of it when `overlapping`.
    var filesPerDaemon: Int
    /// Every daemon was given every file, so each insight arrives several times at once (the duplicate paths);
    /// `run` then counts the insights and files of every daemon's copy.
    var overlapping: Bool
    var run: IngestRun
}

/// Several daemons feeding one PostgreSQL database, beside one daemon on its embedded SQLite file, on one corpus.
struct PostgresIngestResult: Codable {
    var corpus: CorpusSpec
    var occurrences: Int
    var unique: Int
    var bytes: Int
    /// The server's version and how the daemons reach it.
    var server: String
    var sqlite: IngestRun
    var rounds: [SharedStoreRound]
}

enum PostgresIngestBenchmark {
    /// Runs one daemon on SQLite, then 1, 2 and 3 daemons on a fresh database each, the corpus split between them
    /// file by file; with `overlapping`, a last round gives every file to each of 3 daemons.
    static func run(_ context: BenchContext, spec: CorpusSpec, overlapping: Bool) throws -> PostgresIngestResult {
        let (corpus, expected, bytes) = IngestBenchmark.generate(context, spec: spec)
        let timeout = context.quick ? 120.0 : 3600.0
        // Polled less often than in `ingest`: every status request is a round trip to the server, and the rounds
        // here share the cores with it.
        let interval = 0.1

        func round(_ name: String, shares: [[CorpusFile]], copies: Int, environment: (Int) -> [String: String]) throws -> IngestRun {
            let fleet = try DaemonFleet(context, name: name, shares: shares, environment: environment)
            let (seconds, reports) = try fleet.dropAndWait(timeout: timeout, interval: interval)
            fleet.stop()
            return IngestBenchmark.makeRun(seconds: seconds, reports: reports, expected: expected, files: corpus.count, copies: copies)
        }
        func log(_ label: String, _ run: IngestRun) {
            context.log("\(label): \(format(run.seconds, 2)) s, \(Int(run.insightsPerSecond)) insights/s"
                        + (run.countsMatch ? "" : " (counts differ from the corpus: \(run.unique) + \(run.variants) / \(run.occurrences))"))
        }

        let server = try PostgresTestServer()
        let version = (try? server.psql("postgres", "SHOW server_version")) ?? "?"
        context.log("PostgreSQL \(version) in \(server.directory.path), Unix socket")

        let sqlite = try round("sq", shares: [corpus], copies: 1) { _ in [:] }
        log("1 daemon, SQLite", sqlite)

        var rounds: [SharedStoreRound] = []
        for daemons in 1...3 {
            let url = try server.createDatabase("bench_n\(daemons)")
            // File k goes to daemon k mod N: every share is a like sample of the corpus.
            let shares = (0..<daemons).map { index in corpus.indices.filter { $0 % daemons == index }.map { corpus[$0] } }
            let run = try round("pg\(daemons)-", shares: shares, copies: 1) { index in Self.environment(url, index) }
            rounds.append(SharedStoreRound(daemons: daemons, filesPerDaemon: shares[0].count, overlapping: false, run: run))
            log("\(daemons) daemon\(daemons == 1 ? "" : "s"), PostgreSQL", run)
        }
        if overlapping {
            let daemons = 3
            let url = try server.createDatabase("bench_overlap\(daemons)")
            let run = try round("pgo-", shares: Array(repeating: corpus, count: daemons), copies: daemons) { index in Self.environment(url, index) }
            rounds.append(SharedStoreRound(daemons: daemons, filesPerDaemon: corpus.count, overlapping: true, run: run))
            log("\(daemons) daemons, PostgreSQL, every file to each", run)
        }
        return PostgresIngestResult(corpus: spec, occurrences: expected.occurrences, unique: expected.unique, bytes: bytes,
                                    server: "PostgreSQL \(version), same machine, Unix socket", sqlite: sqlite, rounds: rounds)
    }

    /// The shared store for daemon `index`, under a host name of its own as separate machines would have.
    static func environment(_ url: String, _ index: Int) -> [String: String] {
        ["INSIGHTD_STORE_URL": url, "INSIGHTD_STORE_HOST": "bench-\(index + 1)"]
    }
}

struct PostgresBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Bulk ingest by 1, 2 and 3 daemons into one PostgreSQL database beside one daemon on SQLite "
            + "(starts a throwaway PostgreSQL server; 3,000 files by default, 2 to 3 minutes on 2 cores).")
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: IngestOptions
    @Flag(inversion: .prefixedNo, help: "Also run 3 daemons that are each given every file (the duplicate paths).")
    var overlap = true

    func run() throws {
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.postgres = try PostgresIngestBenchmark.run(common.context(), spec: options.spec(common, files: 3_000), overlapping: overlap)
        try common.emit(report)
    }
}
