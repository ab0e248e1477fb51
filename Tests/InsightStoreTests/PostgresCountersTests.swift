import Foundation
import InsightCore
import InsightStoreCore
@testable import InsightPostgres
import InsightStore
import PostgresTestSupport
import Synchronization
import Testing

@Suite("Status counters in a PostgreSQL database shared by several daemons")
struct PostgresCountersTests {
    @Test func aDatabaseFromBeforeTheCountersIsCountedPerDaemonWhenMigrated() throws {
        let server = try SharedPostgres.server.get()
        // The schema as a daemon of the previous version left it.
        let (url, name) = try databaseAtSchemaVersion(2, on: server)
        _ = try server.psql(name, """
            INSERT INTO source (id, origin, host, path, sha256, state, error, first_seen_at, updated_at, ingested_at) VALUES
                (1, 'alpha:/srv/inbox', 'alpha', 'a.txt', 'x', 'ingested', NULL, 1, 1, 1),
                (2, 'alpha:/srv/inbox', 'alpha', 'b.txt', 'y', 'ingested', NULL, 1, 1, 5),
                (3, 'alpha:/srv/inbox', 'alpha', 'c.bin', NULL, 'skipped', 'a binary file', 1, 1, NULL),
                (4, 'beta:/srv/inbox', 'beta', 'a.txt', 'x', 'ingested', NULL, 1, 1, 7),
                (5, 'beta:/srv/inbox', 'beta', 'd.txt', NULL, 'failed', 'permission denied', 1, 2, NULL);
            INSERT INTO source (id, origin, host, path, kind, sha256, state, first_seen_at, updated_at, ingested_at) VALUES
                (6, '', 'alpha', 'https://example.org/a', 'url', 'z', 'ingested', 1, 1, 9);
            SELECT setval('source_id_seq', 6);
            INSERT INTO insight (id, fingerprint, text, created_at) VALUES
                (1, decode(md5('1'), 'hex'), 'The first insight.', 1), (2, decode(md5('2'), 'hex'), 'The second insight.', 1),
                (3, decode(md5('3'), 'hex'), 'The third insight.', 1);
            SELECT setval('insight_id_seq', 3);
            INSERT INTO variant (id, insight_id, fingerprint, text, created_at) VALUES (1, 1, decode(md5('1!'), 'hex'), 'The first insight!', 1);
            SELECT setval('variant_id_seq', 1);
            INSERT INTO occurrence (insight_id, source_id, ordinal, line, variant_id) VALUES
                (1, 1, 0, 1, NULL), (1, 1, 1, 2, 1), (2, 2, 0, 1, NULL), (1, 4, 0, 1, NULL), (3, 6, 0, 1, NULL);
            INSERT INTO conflict (insight_id, other_id, kind, created_at) VALUES (1, 2, 'number', 1);
            INSERT INTO link (canonical_url, given_url, state, failure, error, created_at, updated_at) VALUES
                ('https://example.org/a', 'https://example.org/a', 'fetched', NULL, NULL, 1, 1),
                ('https://example.org/b', 'https://example.org/b', 'queued', NULL, NULL, 1, 1),
                ('https://example.org/c', 'https://example.org/c', 'failed', 'permanent', 'HTTP 404', 1, 1);
            """)
        let alpha = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        let beta = try PostgresInsightStore(url: url, host: "beta", inbox: "/srv/inbox")
        defer { try? alpha.close(); try? beta.close() }
        #expect(try server.psql(name, "SELECT string_agg(version::text, ',' ORDER BY version) FROM insightd_migration") == "1,2,3,4,5,6")
        for store in [alpha, beta] {
            let (kept, counted) = try store.countsWithFullCount()
            #expect(kept == counted, "\(store.origin): \(kept.differences(from: counted))")
            #expect(kept.linksByState == [.queued: 1, .fetched: 1, .failed: 1])
            #expect(kept.uniqueInsights == 3)
            #expect(kept.occurrences == 5)
            #expect(kept.variants == 1)
            #expect(kept.conflicts == 1)
        }
        #expect(try alpha.counts().sourcesByState == [.ingested: 2, .skipped: 1])
        #expect(try alpha.counts().lastIngestAt == 5)
        #expect(try beta.counts().sourcesByState == [.ingested: 1, .failed: 1])
        #expect(try beta.counts().lastError?.path == "d.txt")

        // Writes after the migration keep them, each daemon's files under its own counters.
        _ = try alpha.ingestOne(file("b.txt", ["Something else entirely, said in other words than any before."]))
        try beta.markRemoved(path: "a.txt")
        try beta.recordProblem(path: "d.txt", state: .skipped, reason: "not text after all")
        #expect(try alpha.forget(id: 1) != nil)
        for store in [alpha, beta] {
            let (kept, counted) = try store.countsWithFullCount()
            #expect(kept == counted, "\(store.origin): \(kept.differences(from: counted))")
            #expect(kept.uniqueInsights == 2)
            #expect(kept.variants == 0)
            #expect(kept.conflicts == 0)
        }
        #expect(try alpha.counts().sourcesByState == [.ingested: 2, .skipped: 1])
        #expect(try beta.counts().sourcesByState == [.removed: 1, .skipped: 1])
    }

    @Test func concurrentWritersSpreadOverShardsAndNeverWaitForOneAnother() throws {
        let url = try SharedPostgres.newDatabase()
        let writers = try (0..<4).map { try PostgresInsightStore(url: url, host: "host\($0)", inbox: "/inbox") }
        defer { for store in writers { try? store.close() } }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers.count) { writer in
            for batch in 0..<10 {
                let files = (0..<5).map { index in
                    file("w\(writer)/\(batch)-\(index).txt", [ClaimCorpus.claim(writer * 1000 + batch * 10 + index), ClaimCorpus.claim(index)])
                }
                do {
                    for case .failure(let error) in try writers[writer].ingestBatch(files) { failures.withLock { $0.append("\(error)") } }
                    try writers[writer].markRemoved(path: "w\(writer)/\(batch)-0.txt")
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        for store in writers {
            let (kept, counted) = try store.countsWithFullCount()
            #expect(kept == counted, "\(store.origin): \(kept.differences(from: counted))")
            #expect(kept.sourcesByState == [.ingested: 40, .removed: 10])
        }
    }
}

/// A new database with the schema as a daemon of `version` left it: migrations up to `version`, each in one
/// transaction as the store applies them (`LOCK TABLE` needs one).
func databaseAtSchemaVersion(_ version: Int, on server: PostgresTestServer) throws -> (url: String, name: String) {
    let name = "v\(version)_\(UInt32.random(in: 0...UInt32.max))"
    let url = try server.createDatabase(name)
    _ = try server.psql(name, """
        CREATE TABLE insightd_migration (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
        """)
    for migration in PostgresMigrations.all where migration.version <= version {
        _ = try server.psql(name, (migration.statements
            + ["INSERT INTO insightd_migration (version, name) VALUES (\(migration.version), '\(migration.name)')"]).joined(separator: ";\n"))
    }
    return (url, name)
}
