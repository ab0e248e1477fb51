import InsightPostgres
import InsightStore
import Testing

@Suite("store.url is read the way libpq reads it")
struct PostgresURLTests {
    @Test func aNetworkURLWithEveryPart() throws {
        let url = try PostgresURL("postgres://insightd:s%40cret@db.example.net:6543/insights")
        #expect(url.user == "insightd")
        #expect(url.password == "s@cret")
        #expect(url.host == "db.example.net")
        #expect(url.port == 6543)
        #expect(url.database == "insights")
        #expect(url.socketDirectory == nil)
        #expect(url.description == "postgres://insightd:***@db.example.net:6543/insights")
    }

    @Test func aUnixSocketDirectoryAndPortInTheQuery() throws {
        let url = try PostgresURL("postgresql://postgres@/team?host=/run/postgresql&port=5499")
        #expect(url.socketDirectory == "/run/postgresql")
        #expect(url.host == nil)
        #expect(url.port == 5499)
        #expect(url.database == "team")
    }

    @Test func theDatabaseDefaultsToTheUserAndThePortTo5432() throws {
        let url = try PostgresURL("postgres://alice@localhost")
        #expect(url.database == "alice")
        #expect(url.port == 5432)
    }

    @Test(arguments: ["mysql://x@y/z", "postgres//nothing", "postgres://u:pw@h/d?sslmode=require"])
    func otherURLsAreRefusedWithoutRepeatingThePassword(text: String) {
        #expect(throws: StoreError.self) { try PostgresURL(text) }
        #expect(!PostgresURL.redact(text).contains(":pw@"))
    }
}
