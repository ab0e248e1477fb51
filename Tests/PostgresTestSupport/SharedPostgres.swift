import InsightStore
import InsightStoreCore

/// One PostgreSQL server per test process; each test gets a database of its own.
public enum SharedPostgres {
    public static let server = Result { try PostgresTestServer() }

    /// A new empty database on the shared server, as a URL.
    public static func newDatabase() throws -> String {
        try server.get().createDatabase("t\(UInt32.random(in: 0...UInt32.max))")
    }

    /// The CA of the shared TLS server's certificate.
    public static let authority = Result { try TestCertificateAuthority() }

    /// One PostgreSQL server per test process that takes TCP clients on 127.0.0.1 over TLS only, with a certificate
    /// for `localhost` and `127.0.0.1` issued by `authority`.
    public static let tlsServer = Result {
        try PostgresTestServer(certificate: authority.get().issue(names: ["localhost", "127.0.0.1"]))
    }

    /// A new empty database on the shared TLS server, as a URL over TCP to 127.0.0.1 with `sslmode=verify-full` and
    /// the CA as `sslrootcert`.
    public static func newTLSDatabase() throws -> String {
        let server = try tlsServer.get()
        let name = "t\(UInt32.random(in: 0...UInt32.max))"
        _ = try server.createDatabase(name)
        return server.tcpURL(database: name, query: "sslmode=verify-full&sslrootcert=\(try authority.get().certificate)")
    }
}

/// What a store holds, independent of which daemon stored what first: each insight with its other wordings as
/// one group of texts, and how many occurrences the group has.
public struct StoreSummary: Equatable, Sendable {
    public var insights: Int
    public var variants: Int
    public var occurrences: Int
    public var groups: [String: Int]

    public init(_ store: any InsightStoring) throws {
        var groups: [String: Int] = [:]
        var after: Int64 = 0
        while true {
            let page = try store.exportPage(afterID: after, limit: 500, since: nil)
            guard let last = page.last else { break }
            for record in page {
                groups[([record.text] + record.variants.map(\.text)).sorted().joined(separator: " | ")] = record.sources.count
            }
            after = last.id
        }
        let counts = try store.counts()
        insights = counts.uniqueInsights
        variants = counts.variants
        occurrences = counts.occurrences
        self.groups = groups
    }
}
