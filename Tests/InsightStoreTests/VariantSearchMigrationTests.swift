import Foundation
import GRDB
import InsightCore
@testable import InsightPostgres
@testable import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Testing

/// Other wordings stored before their full-text index existed are found once a database is migrated.
@Suite("Search of other wordings in databases from before it")
struct VariantSearchMigrationTests {
    @Test func anSQLiteFileFromBeforeIndexesItsWordingsWhenOpened() throws {
        let old = try OldSQLiteFile(migratedUpTo: "v6: sentence vectors and paraphrase suggestions", rows: """
            INSERT INTO source (id, path, sha256, state, insightCount, firstSeenAt, updatedAt, ingestedAt) VALUES
                (1, 'a.txt', 'x', 'ingested', 1, 1, 1, 1);
            INSERT INTO insight (id, fingerprint, text, createdAt) VALUES (1, randomblob(16), 'The harbour reopened in spring.', 1);
            INSERT INTO variant (id, insightId, fingerprint, text, createdAt) VALUES (1, 1, randomblob(16), 'The harbor reopend in spring.', 1);
            INSERT INTO occurrence (insightId, sourceId, ordinal, line, variantId) VALUES (1, 1, 0, 1, NULL), (1, 1, 1, 2, 1);
            """)
        let database = try InsightDatabase(path: old.path)
        let found = try database.search("reopend", limit: 10).results
        #expect(found.map(\.id) == [1])
        #expect(found.first?.snippet.contains("[reopend]") == true, "\(found)")
        #expect(try database.integrityCheck() == "ok")
    }

    @Test func aPostgreSQLDatabaseFromBeforeIndexesItsWordingsWhenMigrated() throws {
        let server = try SharedPostgres.server.get()
        let (url, name) = try databaseAtSchemaVersion(5, on: server)
        _ = try server.psql(name, """
            INSERT INTO insight (id, fingerprint, text, created_at) VALUES (1, decode(md5('a'), 'hex'), 'The harbour reopened in spring.', 1);
            INSERT INTO variant (id, insight_id, fingerprint, text, created_at)
                VALUES (1, 1, decode(md5('b'), 'hex'), 'The harbor reopend in spring.', 1);
            """)
        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        defer { try? store.close() }
        #expect(try server.psql(name, "SELECT string_agg(version::text, ',' ORDER BY version) FROM insightd_migration") == "1,2,3,4,5,6")
        let found = try store.search("reopend", limit: 10).results
        #expect(found.map(\.id) == [1])
        #expect(found.first?.snippet.contains("[reopend]") == true, "\(found)")
    }
}
