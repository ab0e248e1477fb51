import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Synchronization
import Testing

@Suite("The PostgreSQL store shared by several daemons")
struct PostgresStoreTests {
    let claim = "The stock market lost $1 trillion in value after the open model was released in January."
    let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."

    @Test func daemonsShareInsightsAndKeepTheirOwnFilesApart() throws {
        let url = try SharedPostgres.newDatabase()
        let alpha = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        let beta = try PostgresInsightStore(url: url, host: "beta", inbox: "/srv/inbox")
        defer { try? alpha.close(); try? beta.close() }
        #expect(try alpha.ingestOne(file("notes.txt", [claim, "Remote work moved spending from city centres to the suburbs."]))
                == .stored(newInsights: 2, occurrences: 2))
        // The same path on another machine is another file; the insights are the same ones.
        #expect(try beta.ingestOne(file("notes.txt", [claim])) == .stored(newInsights: 0, occurrences: 1))
        // A wording first seen on beta joins the insight first seen on alpha.
        #expect(try beta.ingestOne(file("later.txt", [typo])) == .stored(newInsights: 0, occurrences: 1, variants: 1))
        try beta.recordProblem(path: "broken.bin", state: .skipped, reason: "a binary file", size: 3, mtime: 1, sha256: nil)
        #expect(try alpha.sources(states: []).map(\.path) == ["notes.txt"])
        #expect(try beta.sources(states: []).map(\.path) == ["broken.bin", "later.txt", "notes.txt"])
        #expect(try alpha.counts().sourcesByState[.ingested] == 1)
        #expect(try beta.counts().sourcesByState[.ingested] == 2)
        #expect(try alpha.counts().uniqueInsights == 2)
        #expect(try alpha.counts().variants == 1)
        let id = try #require(try alpha.search("trillion", limit: 5).results.first?.id)
        let detail = try #require(try beta.insight(id: id))
        #expect(detail.sources.map { "\($0.host ?? "?"):\($0.path)" } == ["alpha:notes.txt", "beta:later.txt", "beta:notes.txt"])
        #expect(detail.variants.map(\.text) == [typo])
        // A file removed on one machine leaves the other's copy alone.
        try alpha.markRemoved(path: "notes.txt")
        #expect(try beta.source(path: "notes.txt")?.state == .ingested)
    }

    @Test func manyDaemonsStartingAtOnceMigrateOnce() throws {
        let url = try SharedPostgres.newDatabase()
        let opened = Mutex<[PostgresInsightStore]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            if let store = try? PostgresInsightStore(url: url, host: "host\(index)", inbox: "/inbox") {
                _ = try? store.counts()
                opened.withLock { $0.append(store) }
            }
        }
        let stores = opened.withLock { $0 }
        #expect(stores.count == 6)
        for store in stores { #expect(throws: Never.self) { try store.counts() } }
        let server = try SharedPostgres.server.get()
        let database = String(url.split(separator: "?")[0].split(separator: "/").last ?? "")
        // Each schema version applied once.
        #expect(try server.psql(database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM insightd_migration") == "1,2,3,4,5,6")
        for store in stores { try? store.close() }
    }

    @Test func concurrentWritersStoreWhatOneWriterStores() throws {
        // 40 claims; each writer gets the first 24 (overlapping) and a share of the rest, and the variants of
        // all of them are spread over the writers, so every kind of race happens: the same text, a wording and
        // its original, at the same moment on different connections.
        let claims = (0..<40).map(ClaimCorpus.claim)
        var perWriter: [[FileIngest]] = [[], [], []]
        for writer in 0..<3 {
            for index in 0..<24 { perWriter[writer].append(file("shared/\(index).txt", [claims[index]])) }
            for index in stride(from: 24 + writer, to: 40, by: 3) { perWriter[writer].append(file("own/\(index).txt", [claims[index]])) }
            for index in stride(from: writer, to: 40, by: 3) {
                perWriter[writer].append(file("variant/\(index).txt", [ClaimCorpus.variant(of: claims[index]), claims[(index + 7) % 40]]))
            }
            perWriter[writer].shuffle()
        }
        let sharedURL = try SharedPostgres.newDatabase()
        let writers = try (0..<3).map { try PostgresInsightStore(url: sharedURL, host: "host\($0)", inbox: "/inbox") }
        let plan = perWriter
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { writer in
            for batch in stride(from: 0, to: plan[writer].count, by: 5) {
                let files = Array(plan[writer][batch..<min(batch + 5, plan[writer].count)])
                do {
                    for case .failure(let error) in try writers[writer].ingestBatch(files) { failures.withLock { $0.append("\(error)") } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let single = try PostgresInsightStore(url: try SharedPostgres.newDatabase(), host: "one", inbox: "/inbox")
        for writer in 0..<3 {
            let files = perWriter[writer].map { var copy = $0; copy.path = "w\(writer)/" + copy.path; return copy }
            _ = try single.ingestBatch(files)
        }
        let shared = try StoreSummary(writers[0]), alone = try StoreSummary(single)
        #expect(alone.insights == 40)
        #expect(alone.variants == 40)
        #expect(shared.insights == alone.insights)
        #expect(shared.variants == alone.variants)
        #expect(shared.occurrences == alone.occurrences)
        #expect(shared.groups == alone.groups)
        for store in writers + [single] { try? store.close() }
    }

    @Test func aFileTheDatabaseRefusesFailsAloneAndTheRestOfItsBatchIsStored() throws {
        let store = try PostgresInsightStore(url: try SharedPostgres.newDatabase(), host: "alpha", inbox: "/inbox")
        defer { try? store.close() }
        // PostgreSQL refuses a NUL character in text, so the middle file fails once its rows are written; the batch
        // runs without savepoints first, and the files around it must still be stored, each whole.
        let results = try store.ingestBatch([
            file("first.txt", [ClaimCorpus.claim(0), ClaimCorpus.claim(1)]),
            file("broken.txt", [ClaimCorpus.claim(2), "A paragraph with a \u{0} in the middle of it."]),
            // A wording of the refused file's claim: nothing of that file was stored, so it is a new insight.
            file("last.txt", [ClaimCorpus.variant(of: ClaimCorpus.claim(2)), ClaimCorpus.claim(1)]),
        ])
        #expect(results.count == 3)
        #expect(try results[0].get() == .stored(newInsights: 2, occurrences: 2))
        #expect(throws: StoreError.self) { try results[1].get() }
        #expect(try results[2].get() == .stored(newInsights: 1, occurrences: 2))
        let counts = try store.countsWithFullCount()
        #expect(counts.kept == counts.counted)
        #expect(counts.counted.uniqueInsights == 3)
        #expect(counts.counted.variants == 0)
        #expect(counts.counted.occurrences == 4)
        #expect(counts.counted.sourcesByState == [.ingested: 2])
        #expect(try store.source(path: "broken.txt") == nil)
    }

    @Test func aServerThatGoesAwayMakesCallsUnavailableAndNothingIsCountedTwice() throws {
        let server = try PostgresTestServer()
        let url = try server.createDatabase("outage")
        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/inbox")
        defer { try? store.close() }
        _ = try store.ingestOne(file("one.txt", [claim]))
        try server.stop()
        let second = file("two.txt", [claim, ClaimCorpus.claim(1)])
        do {
            _ = try store.ingestOne(second)
            Issue.record("storing succeeded with the server stopped")
        } catch {
            #expect(error.code == .unavailable)
        }
        #expect(throws: StoreError.self) { try store.counts() }
        try server.restart()
        #expect(try store.ingestOne(second) == .stored(newInsights: 1, occurrences: 2))
        #expect(try store.ingestOne(second) == .unchanged)
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.occurrences == 3)
    }
}
