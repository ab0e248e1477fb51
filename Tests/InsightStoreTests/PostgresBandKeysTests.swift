import Foundation
import InsightCore
import InsightStoreCore
@testable import InsightPostgres
import PostgresTestSupport
import Testing

@Suite("Band keys on each insight in a shared PostgreSQL database (schema version 5)")
struct PostgresBandKeysTests {
    let claim = "The stock market lost $1 trillion in value after the open model was released in January."
    let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."

    @Test func aDatabaseWithBandRowsKeepsItsNearDuplicatesWhenMigrated() throws {
        let server = try SharedPostgres.server.get()
        // The schema as a daemon of version 4 left it, with one insight and its band rows.
        let (url, name) = try databaseAtSchemaVersion(4, on: server)
        let stored = PreparedInsight(ParsedInsight(text: claim, line: 1, section: nil))
        let keys = Set(PostgresInsightStore.Signed(stored).keys).sorted()
        #expect(keys.count > 1)
        let hex = stored.fingerprint.map { String(format: "%02x", $0) }.joined()
        let keyList = keys.map(String.init).joined(separator: ",")
        _ = try server.psql(name, """
            INSERT INTO insight (id, fingerprint, text, created_at) VALUES (1, decode('\(hex)', 'hex'), '\(claim)', 1);
            SELECT setval('insight_id_seq', 1);
            INSERT INTO insight_band (band_key, insight_id) SELECT k, 1 FROM unnest('{\(keyList)}'::int8[]) AS k;
            """)

        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        defer { try? store.close() }
        #expect(try server.psql(name, "SELECT string_agg(version::text, ',' ORDER BY version) FROM insightd_migration") == "1,2,3,4,5,6")
        #expect(try server.psql(name, "SELECT bands FROM insight WHERE id = 1") == "{\(keyList)}")
        #expect(try server.psql(name, "SELECT count(*) FROM insight_band") == "0")
        // A wording stored after the migration finds the insight stored before it, through the keys moved into its row.
        #expect(try store.ingestOne(file("later.txt", [typo])) == .stored(newInsights: 0, occurrences: 1, variants: 1))
        #expect(try store.insight(id: 1)?.variants.map(\.text) == [typo])
        // A new insight gets its keys in its row.
        #expect(try store.ingestOne(file("new.txt", [ClaimCorpus.claim(7)])) == .stored(newInsights: 1, occurrences: 1))
        let newKeys = Set(PostgresInsightStore.Signed(ClaimCorpus.claim(7)).keys).sorted().map(String.init).joined(separator: ",")
        #expect(try server.psql(name, "SELECT bands FROM insight WHERE id <> 1") == "{\(newKeys)}")
        let (kept, counted) = try store.countsWithFullCount()
        #expect(kept == counted, "\(kept.differences(from: counted))")
    }

    @Test func aDaemonOfAnOlderVersionWaitsInsteadOfWritingBandRows() throws {
        let url = try SharedPostgres.newDatabase()
        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        defer { try? store.close() }
        _ = try store.counts()
        // What a daemon of version 4 sends in its write statement, even for a file whose texts were all stored already:
        // an insert into the band rows (here of no row).
        let error = #expect(throws: StoreError.self) {
            try store.session("cannot store a batch of files") { session in
                try session.transaction { try session.execute("INSERT INTO insight_band (band_key, insight_id) SELECT 1, 1 WHERE false") }
            }
        }
        // Unavailable: the daemon keeps the files queued and retries, as when the server is out of reach.
        #expect(error?.code == .unavailable)
        #expect(error.map { "\($0)" }?.contains("upgrade insightd on this machine") == true, "\(String(describing: error))")
    }
}
