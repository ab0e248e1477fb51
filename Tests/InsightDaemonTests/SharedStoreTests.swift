import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Testing

/// Files for daemons sharing one database: some dropped into every inbox, some into one, and other wordings
/// of the claims spread over the inboxes.
struct SharedBurst {
    /// Per daemon: (name, content).
    var files: [[(name: String, content: String)]]

    init(daemons: Int, claims: Int = 60) {
        let texts = (0..<claims).map(ClaimCorpus.claim)
        files = Array(repeating: [], count: daemons)
        for daemon in 0..<daemons {
            // The same twenty files, three claims each, in every inbox.
            for index in 0..<20 {
                files[daemon].append(("shared-\(index).txt", (0..<3).map { texts[(index * 3 + $0) % 30] }.joined(separator: "\n\n")))
            }
            // Claims only this inbox has.
            for index in stride(from: 30 + daemon, to: claims, by: daemons) {
                files[daemon].append(("own-\(index).txt", texts[index] + "\n\nRelated Insights\n\n" + texts[(index + 11) % claims]))
            }
            // Other wordings of every claim, each in one inbox.
            for index in stride(from: daemon, to: claims, by: daemons) {
                files[daemon].append(("variant-\(index).txt", ClaimCorpus.variant(of: texts[index])))
            }
        }
    }
}

@Suite("Several daemons feeding one PostgreSQL database", .serialized)
struct SharedStoreTests {
    /// Starts a daemon on `url` and drops nothing yet.
    func daemon(_ url: String, host: String) throws -> DaemonHarness {
        let harness = try DaemonHarness(environment: ["INSIGHTD_STORE_URL": url, "INSIGHTD_STORE_HOST": host,
                                                      "INSIGHTD_FETCH_ENABLED": "false"])
        try harness.start()
        return harness
    }

    /// The burst's files, all in one inbox (one folder per machine), stored by one daemon on a database of its
    /// own: what the shared database must hold. Returns the daemon (still running) and the summary.
    func storedByOneDaemon(_ burst: SharedBurst) throws -> (DaemonHarness, StoreSummary) {
        let url = try SharedPostgres.newDatabase()
        let alone = try daemon(url, host: "single")
        for (machine, files) in burst.files.enumerated() {
            try FileManager.default.createDirectory(atPath: alone.inbox + "/machine\(machine)", withIntermediateDirectories: true)
            for file in files { try alone.moveIn("machine\(machine)/" + file.name, file.content) }
        }
        let total = burst.files.map(\.count).reduce(0, +)
        try alone.waitForStatus(timeout: 120, "every file ingested by the single daemon") { $0.files.ingested == total }
        return (alone, try StoreSummary(PostgresInsightStore(url: url, host: "reader", inbox: "/none")))
    }

    @Test func threeDaemonsWithOverlappingBurstsStoreWhatOneDaemonStores() throws {
        let burst = SharedBurst(daemons: 3)
        let sharedURL = try SharedPostgres.newDatabase()
        let daemons = try (0..<3).map { try daemon(sharedURL, host: "machine\($0)") }
        // Interleave the drops so the three daemons ingest the same files at the same moments.
        let longest = burst.files.map(\.count).max() ?? 0
        for index in 0..<longest {
            for (daemon, files) in zip(daemons, burst.files) where index < files.count {
                try daemon.moveIn(files[index].name, files[index].content)
            }
        }
        for (daemon, files) in zip(daemons, burst.files) {
            let report = try daemon.waitForStatus(timeout: 120, "every file of the burst ingested") { $0.files.ingested == files.count }
            #expect(report.database.kind == "postgresql")
            #expect(report.files.failed == 0)
        }

        let (alone, reference) = try storedByOneDaemon(burst)
        let shared = try StoreSummary(PostgresInsightStore(url: sharedURL, host: "reader", inbox: "/none"))
        #expect(reference.insights == 60)
        #expect(reference.variants == 60)
        #expect(shared.insights == reference.insights)
        #expect(shared.variants == reference.variants)
        #expect(shared.occurrences == reference.occurrences)
        #expect(shared.groups == reference.groups)

        // Every daemon reports the shared totals, and the CLI shows where each source came from.
        for daemon in daemons {
            let report = try daemon.status()
            #expect(report.insights.unique == reference.insights)
            #expect(report.insights.variants == reference.variants)
        }
        let shown = try daemons[0].ctl(["show", "1", "--json"])
        #expect(shown.status == 0)
        let detail = try WireJSON.decoder().decode(InsightDetail.self, from: Data(shown.stdout.utf8))
        #expect(Set(detail.sources.compactMap(\.host)).isSubset(of: ["machine0", "machine1", "machine2"]))
        #expect(!detail.sources.isEmpty)
        for daemon in daemons + [alone] { #expect(try daemon.stop() == 0) }
    }

    @Test func theServerStoppedForTenSecondsMidBurstLosesNothingAndCountsNothingTwice() throws {
        let server = try PostgresTestServer()
        let url = try server.createDatabase("outage")
        let daemons = try (0..<2).map { try daemon(url, host: "machine\($0)") }
        let burst = SharedBurst(daemons: 2)
        let longest = burst.files.map(\.count).max() ?? 0
        let stopAt = longest / 3
        var stoppedAt: Date?
        for index in 0..<longest {
            if index == stopAt {
                try server.stop()
                stoppedAt = Date()
            }
            for (daemon, files) in zip(daemons, burst.files) where index < files.count {
                try daemon.moveIn(files[index].name, files[index].content)
            }
            usleep(20_000)
        }
        // While the server is away, status still answers and says ingestion waits for the database.
        do {
            try waitUntil(timeout: 30, "a daemon reports the database unreachable") {
                try daemons.contains { try !$0.status().database.reachable }
            }
        } catch {
            let logs = daemons.map { String($0.log.suffix(3000)) }.joined(separator: "\n----\n")
            Issue.record("\(error)\n\(logs)")
            throw error
        }
        let elapsed = Date().timeIntervalSince(stoppedAt ?? Date())
        if elapsed < 10 { usleep(UInt32((10 - elapsed) * 1_000_000)) }
        try server.restart()
        for (daemon, files) in zip(daemons, burst.files) {
            do {
                let report = try daemon.waitForStatus(timeout: 120, "every file ingested after the server came back") {
                    $0.files.ingested == files.count && $0.database.reachable
                }
                #expect(report.files.failed == 0)
            } catch {
                let status = (try? daemon.ctl(["status"]).stdout) ?? "no status"
                Issue.record("\(error)\n\(status)\n\(daemon.log.split(separator: "\n").filter { !$0.contains("DEBUG") }.suffix(40).joined(separator: "\n"))")
                throw error
            }
        }

        // The reference: the same files stored by one daemon that never lost its database.
        let (alone, reference) = try storedByOneDaemon(burst)
        let total = burst.files.map(\.count).reduce(0, +)
        let afterOutage = try StoreSummary(PostgresInsightStore(url: url, host: "reader", inbox: "/none"))
        #expect(afterOutage == reference)
        #expect(try server.psql("outage", "SELECT count(*) FROM source WHERE state = 'ingested'") == String(total))
        for daemon in daemons + [alone] { #expect(try daemon.stop() == 0) }
        #expect(daemons[0].log.contains("ingestion waits for the database") || daemons[1].log.contains("ingestion waits for the database"))
    }

    @Test func aLinkDroppedOnEveryMachineIsFetchedOnce() async throws {
        let server = try await HTTPTestServer.start { request in
            request.path.hasPrefix("/article-") ? .text(200, articlePage("Topic " + request.path.dropFirst(9))) : .text(404, "unknown")
        }
        let url = try SharedPostgres.newDatabase()
        var environment = LinkTests.fetchEnvironment
        environment["INSIGHTD_STORE_URL"] = url
        let daemons = try (0..<3).map { index -> DaemonHarness in
            var own = environment
            own["INSIGHTD_STORE_HOST"] = "machine\(index)"
            let harness = try DaemonHarness(environment: own)
            try harness.start()
            return harness
        }
        let links = (0..<8).map { "\(server.baseURL)/article-\($0)" }
        let note = "Reading list with enough words to be an insight of its own, and links:\n\n" + links.joined(separator: "\n") + "\n"
        for daemon in daemons { try daemon.moveIn("reading.txt", note) }
        try daemons[0].waitForStatus(timeout: 90, "every link fetched") { $0.links.found == 8 && $0.links.fetched == 8 }
        // Each article was requested once, whichever daemon claimed it.
        for index in 0..<8 {
            #expect(server.requests.filter { $0.path == "/article-\(index)" }.count == 1)
        }
        let report = try daemons[2].status()
        #expect(report.links.fetched == 8)
        #expect(report.insights.unique == 1 + 8 * 3)
        for daemon in daemons { #expect(try daemon.stop() == 0) }
    }

    @Test func killedAtRandomMomentsADaemonOnPostgreSQLEndsWithTheSameDatabase() throws {
        let burst = Burst(files: 1_000, seed: 13)
        let url = try SharedPostgres.newDatabase()
        let daemon = try DaemonHarness(environment: ["INSIGHTD_STORE_URL": url, "INSIGHTD_STORE_HOST": "crashy", "INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        try burst.write(into: daemon.inbox, staging: daemon.root + "/staging")
        var rng = SplitMix(seed: 42)
        for _ in 0..<10 {
            usleep(useconds_t(20_000 + rng.next() % 150_000))
            daemon.crash()
            try daemon.start()
        }
        let report = try daemon.waitForStatus(timeout: 300, "the burst is ingested after 10 kills") { $0.files.ingested == burst.files.count }
        #expect(report.insights.unique == burst.expectedUnique)
        #expect(report.insights.occurrences == burst.expectedOccurrences)
        // The status counters are written in the same transactions, so no kill leaves them off.
        let verified = try daemon.ctl(["status", "--verify"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(try daemon.stop() == 0)
        // Every source's count matches its occurrence rows: no file stored twice or in part.
        let server = try SharedPostgres.server.get()
        let database = String(url.split(separator: "?")[0].split(separator: "/").last ?? "")
        #expect(try server.psql(database, """
            SELECT count(*) FROM source s WHERE insight_count <> (SELECT count(*) FROM occurrence o WHERE o.source_id = s.id)
            """) == "0")
    }
}
