import InsightPostgres
import InsightStore
import InsightStoreCore
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

    @Test(arguments: ["mysql://x@y/z", "postgres//nothing", "postgres://u:pw@h/d?sslmode=prefer"])
    func otherURLsAreRefusedWithoutRepeatingThePassword(text: String) {
        #expect(throws: StoreError.self) { try PostgresURL(text) }
        #expect(!PostgresURL.redact(text).contains(":pw@"))
    }

    @Test func withoutSSLModeTheConnectionIsInTheClear() throws {
        let url = try PostgresURL("postgres://u@db.example.net/d")
        #expect(url.sslMode == .disable)
        #expect(url.sslRootCert == nil)
        #expect(!url.usesTLS)
    }

    @Test(arguments: [
        ("sslmode=disable", PostgresURL.SSLMode.disable, nil as String?),
        ("sslmode=require", .require, nil),
        ("sslmode=require&sslrootcert=/etc/insightd/root.crt", .require, "/etc/insightd/root.crt"),
        ("sslmode=verify-ca&sslrootcert=/etc/insightd/root.crt", .verifyCA, "/etc/insightd/root.crt"),
        ("sslmode=verify-full&sslrootcert=%2Fetc%2Finsightd%2Froot.crt", .verifyFull, "/etc/insightd/root.crt"),
        ("sslmode=verify-full&sslrootcert=system", .verifyFull, "system"),
        // libpq: the system's CAs alone make verify-full the mode.
        ("sslrootcert=system", .verifyFull, "system"),
    ])
    func eachSSLModeWithItsRootCertificate(query: String, mode: PostgresURL.SSLMode, rootCert: String?) throws {
        let url = try PostgresURL("postgres://insightd:secret@db.example.net:5432/insights?" + query)
        #expect(url.sslMode == mode)
        #expect(url.sslRootCert == rootCert)
        #expect(url.usesTLS == (mode != .disable))
        #expect(!url.description.contains("secret"))
        if mode != .disable {
            #expect(url.description.contains("sslmode=\(mode.rawValue)"))
        }
    }

    @Test func overAUnixSocketTLSIsNotUsedAsWithLibpq() throws {
        let url = try PostgresURL("postgres://insightd@/insights?host=/run/postgresql&sslmode=require")
        #expect(url.sslMode == .require)
        #expect(!url.usesTLS)
    }

    @Test(arguments: [
        ("sslmode=bogus", "sslmode=bogus is not a mode"),
        ("sslmode=VERIFY-FULL&sslrootcert=/ca.crt", "sslmode=VERIFY-FULL is not a mode"),
        ("sslmode=prefer", "falls back to an unencrypted connection"),
        ("sslmode=allow", "falls back to an unencrypted connection"),
        ("sslmode=verify-full", "add sslrootcert="),
        ("sslmode=verify-ca", "add sslrootcert="),
        ("sslmode=verify-ca&sslrootcert=", "add sslrootcert="),
        ("sslmode=require&sslrootcert=system", "only sslmode=verify-full"),
        ("sslmode=verify-ca&sslrootcert=system", "only sslmode=verify-full"),
        ("sslrootcert=/etc/insightd/root.crt", "add sslmode=verify-full"),
        ("sslmode=require&sslcert=/etc/insightd/client.crt", "sslcert is not supported"),
        ("sslmode=require&sslkey=/etc/insightd/client.key", "sslkey is not supported"),
    ])
    func badTLSOptionsAreRefusedSayingWhatToDo(query: String, expected: String) {
        let text = "postgres://insightd:secret@db.example.net/insights?" + query
        do {
            _ = try PostgresURL(text)
            Issue.record("\(query) was accepted")
        } catch {
            #expect(error.code == .open)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!error.message.contains("secret"))
        }
    }
}
