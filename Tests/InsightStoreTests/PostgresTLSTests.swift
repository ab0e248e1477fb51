import Foundation
import InsightStoreCore
@testable import InsightPostgres
import InsightStore
import PostgresTestSupport
import Testing

/// Servers for the TLS tests besides the shared one (whose certificate names `localhost` and `127.0.0.1`).
enum TLSServers {
    /// A server whose certificate names only 127.0.0.1 (an IP address entry, and the common name).
    static let addressOnly = Result {
        try PostgresTestServer(certificate: SharedPostgres.authority.get().issue(names: ["127.0.0.1"]))
    }
    /// A server on 127.0.0.1 with `ssl = off`.
    static let plain = Result { try PostgresTestServer(listenOnLoopback: true) }
    /// A CA that signed none of the servers' certificates.
    static let otherAuthority = Result { try TestCertificateAuthority(name: "another CA") }
}

/// `sslmode` and `sslrootcert` against real PostgreSQL servers that speak TLS, with certificates made by openssl.
@Suite("PostgreSQL over TLS, as libpq's sslmode means it")
struct PostgresTLSTests {
    /// A new database on `server` and its URL over TCP to `host` with `query`.
    func database(on server: PostgresTestServer, host: String = "127.0.0.1", _ query: String) throws -> (url: String, name: String) {
        let name = "t\(UInt32.random(in: 0...UInt32.max))"
        _ = try server.createDatabase(name)
        return (server.tcpURL(database: name, host: host, query: query), name)
    }

    /// Opens the store and makes it reach the server (opening alone only warns when the server is out of reach).
    func connect(_ url: String) throws -> PostgresInsightStore {
        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        _ = try store.counts()
        return store
    }

    /// The error of reaching the server through `url`.
    func failure(_ url: String) throws -> StoreError {
        let store = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        defer { try? store.close() }
        do {
            _ = try store.counts()
        } catch {
            return error
        }
        throw TestFailure(description: "\(url) connected")
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// What the server says of the store's connections to `database`: TLS in use and its version, one line each.
    func sslOfConnections(on server: PostgresTestServer, to database: String) throws -> [String] {
        try server.psql(database, """
            SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.datname = current_database() AND a.application_name = 'insightd'
            """).split(separator: "\n").map(String.init)
    }

    var rootCert: String { get throws { try SharedPostgres.authority.get().certificate } }

    @Test(arguments: ["127.0.0.1", "localhost"])
    func verifyFullWithTheRightCAConnectsOverTLS(host: String) throws {
        let server = try SharedPostgres.tlsServer.get()
        let (url, name) = try database(on: server, host: host, "sslmode=verify-full&sslrootcert=\(try rootCert)")
        let store = try connect(url)
        defer { try? store.close() }
        let connections = try sslOfConnections(on: server, to: name)
        #expect(!connections.isEmpty)
        #expect(connections.allSatisfy { $0.hasPrefix("t|TLSv1.") }, "\(connections)")
    }

    @Test(arguments: ["sslmode=verify-full", "sslmode=verify-ca", "sslmode=require"])
    func aCertificateFromAnotherCAIsRefusedSayingSo(mode: String) throws {
        let wrongCA = try TLSServers.otherAuthority.get().certificate
        let (url, _) = try database(on: try SharedPostgres.tlsServer.get(), "\(mode)&sslrootcert=\(wrongCA)")
        let error = try failure(url)
        #expect(error.code == .unavailable)
        #expect(error.description.contains("cannot open a TLS connection to PostgreSQL"), "\(error)")
        #expect(error.description.contains("does not chain to a CA in sslrootcert=\(wrongCA)"), "\(error)")
        #expect(error.description.contains("point sslrootcert at the CA that signed the server's certificate"), "\(error)")
    }

    @Test func theSystemsCAsDoNotTrustAPrivateCA() throws {
        let (url, _) = try database(on: try SharedPostgres.tlsServer.get(), "sslrootcert=system")
        let error = try failure(url)
        #expect(error.description.contains("does not chain to a CA this system trusts"), "\(error)")
    }

    @Test func verifyFullRefusesAHostNameTheCertificateDoesNotCarry() throws {
        // The certificate names 127.0.0.1 as an address; localhost leads there, but is not a name the certificate carries.
        let server = try TLSServers.addressOnly.get()
        let (url, _) = try database(on: server, host: "localhost", "sslmode=verify-full&sslrootcert=\(try rootCert)")
        let error = try failure(url)
        #expect(error.code == .unavailable)
        #expect(error.description.contains("the server's certificate names 127.0.0.1, not localhost"), "\(error)")
        #expect(error.description.contains("use sslmode=verify-ca to check the CA only"), "\(error)")
    }

    @Test func verifyFullAcceptsTheAddressTheCertificateNames() throws {
        let server = try TLSServers.addressOnly.get()
        let (url, name) = try database(on: server, host: "127.0.0.1", "sslmode=verify-full&sslrootcert=\(try rootCert)")
        let store = try connect(url)
        defer { try? store.close() }
        #expect(try sslOfConnections(on: server, to: name).allSatisfy { $0.hasPrefix("t|") })
    }

    @Test func verifyCAChecksTheChainButNotTheHostName() throws {
        let server = try TLSServers.addressOnly.get()
        let (url, name) = try database(on: server, host: "localhost", "sslmode=verify-ca&sslrootcert=\(try rootCert)")
        let store = try connect(url)
        defer { try? store.close() }
        let connections = try sslOfConnections(on: server, to: name)
        #expect(!connections.isEmpty)
        #expect(connections.allSatisfy { $0.hasPrefix("t|") }, "\(connections)")
    }

    @Test func requireEncryptsWithoutCheckingTheCertificate() throws {
        // Neither the CA (no sslrootcert: unknown to this client) nor the host name is checked.
        let server = try TLSServers.addressOnly.get()
        let (url, name) = try database(on: server, host: "localhost", "sslmode=require")
        let store = try connect(url)
        defer { try? store.close() }
        let connections = try sslOfConnections(on: server, to: name)
        #expect(!connections.isEmpty)
        #expect(connections.allSatisfy { $0.hasPrefix("t|") }, "\(connections)")
    }

    @Test func aServerWithoutTLSIsRefusedSayingSo() throws {
        let server = try TLSServers.plain.get()
        let (url, _) = try database(on: server, "sslmode=require")
        let error = try failure(url)
        #expect(error.code == .unavailable)
        #expect(error.description.contains("does not accept TLS connections"), "\(error)")
        #expect(error.description.contains("turn ssl on"), "\(error)")
        // The same server in the clear, as sslmode=disable asks.
        let (clear, name) = try database(on: server, "sslmode=disable")
        let store = try connect(clear)
        defer { try? store.close() }
        #expect(try sslOfConnections(on: server, to: name).allSatisfy { $0.hasPrefix("f|") })
    }

    @Test func aMissingRootCertificateFileStopsTheStoreFromOpening() throws {
        let path = NSTemporaryDirectory() + "insightd-no-such-ca-\(UUID().uuidString).crt"
        let url = try SharedPostgres.tlsServer.get().tcpURL(query: "sslmode=verify-full&sslrootcert=\(path)")
        do {
            _ = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
            Issue.record("opened with a missing sslrootcert")
        } catch {
            #expect(error.code == .open)
            #expect(error.message.contains("cannot read sslrootcert=\(path) (No such file or directory)"), "\(error)")
        }
    }

    @Test func aRootCertificateFileWithoutCertificatesStopsTheStoreFromOpening() throws {
        let path = NSTemporaryDirectory() + "insightd-not-a-ca-\(UUID().uuidString).crt"
        try "not a certificate\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let url = try SharedPostgres.tlsServer.get().tcpURL(query: "sslmode=verify-ca&sslrootcert=\(path)")
        do {
            _ = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
            Issue.record("opened with an sslrootcert that holds no certificate")
        } catch {
            #expect(error.code == .open)
            #expect(error.message.contains("sslrootcert=\(path)"), "\(error)")
        }
    }
}

/// libpq's rule for the names of a server certificate, and reading them from certificates openssl made.
@Suite("The names a server certificate carries, compared with the host as libpq compares them")
struct CertificateNamesTests {
    func dns(_ name: String) -> CertificateNames.AlternativeName { .dns(Array(name.utf8)) }

    @Test func namesMatchExactlyCaseAside() {
        let names = CertificateNames(alternativeNames: [dns("DB.Example.net")])
        #expect(names.match(host: "db.example.net"))
        #expect(names.match(host: "DB.EXAMPLE.NET"))
        #expect(!names.match(host: "db.example.org"))
        #expect(!names.match(host: "example.net"))
    }

    @Test func aWildcardStandsForOneLabel() {
        let names = CertificateNames(alternativeNames: [dns("*.example.net")])
        #expect(names.match(host: "db.example.net"))
        #expect(names.match(host: "Replica-2.EXAMPLE.net"))
        #expect(!names.match(host: "a.db.example.net"))
        #expect(!names.match(host: "example.net"))
        #expect(!names.match(host: "dbexample.net"))
    }

    @Test func addressesMatchAsAddressesOnlyWhenTheHostIsOne() {
        let names = CertificateNames(alternativeNames: [.ip([127, 0, 0, 1]), .ip(Array(repeating: 0, count: 15) + [1])])
        #expect(names.match(host: "127.0.0.1"))
        // inet_aton's short form, which libpq accepts as an address.
        #expect(names.match(host: "127.1"))
        #expect(names.match(host: "::1"))
        #expect(names.match(host: "0:0:0:0:0:0:0:1"))
        #expect(!names.match(host: "127.0.0.2"))
        // A name is never compared with address entries, whatever it resolves to.
        #expect(!names.match(host: "localhost"))
    }

    @Test func theCommonNameCountsOnlyWithoutAnAlternativeNameOfTheHostsKind() {
        // No DNS entry: a name host falls back to the common name.
        let addressAndName = CertificateNames(alternativeNames: [.ip([10, 0, 0, 5])], commonName: Array("db.example.net".utf8))
        #expect(addressAndName.match(host: "db.example.net"))
        #expect(addressAndName.match(host: "10.0.0.5"))
        // A DNS entry rules the common name out for a name host...
        let nameAndName = CertificateNames(alternativeNames: [dns("replica.example.net")], commonName: Array("db.example.net".utf8))
        #expect(!nameAndName.match(host: "db.example.net"))
        // ...but not for an address host, which has no IP entry to go by.
        let addressInCommonName = CertificateNames(alternativeNames: [dns("db.example.net")], commonName: Array("10.0.0.5".utf8))
        #expect(addressInCommonName.match(host: "10.0.0.5"))
        // Without any alternative name, the common name alone.
        #expect(CertificateNames(alternativeNames: [], commonName: Array("db.example.net".utf8)).match(host: "db.example.net"))
        #expect(!CertificateNames(alternativeNames: []).match(host: "db.example.net"))
    }

    @Test func aNameWithANulByteFailsTheCheck() {
        let names = CertificateNames(alternativeNames: [.dns(Array("evil.example\0".utf8)), dns("db.example.net")])
        #expect(!names.match(host: "db.example.net"))
        #expect(!CertificateNames(alternativeNames: [], commonName: Array("db.example.net\0.evil".utf8)).match(host: "db.example.net"))
    }

    @Test func theNamesAreReadFromACertificate() throws {
        let authority = try SharedPostgres.authority.get()
        let issued = try authority.issue(names: ["db.example.net", "10.1.2.3", "::1", "*.replicas.example.net"], commonName: "insights db")
        let names = try CertificateNames(der: TestCertificateAuthority.der(ofPEM: issued.certificate))
        #expect(names.alternativeNames == [
            dns("db.example.net"), .ip([10, 1, 2, 3]), .ip(Array(repeating: 0, count: 15) + [1]), dns("*.replicas.example.net"),
        ])
        #expect(names.commonName == Array("insights db".utf8))
        #expect(names.listed == ["db.example.net", "10.1.2.3", "::1", "*.replicas.example.net", "insights db"])
    }

    @Test func aCertificateWithOnlyACommonName() throws {
        let issued = try SharedPostgres.authority.get().issue(names: [], commonName: "db.example.net")
        let names = try CertificateNames(der: TestCertificateAuthority.der(ofPEM: issued.certificate))
        #expect(names.alternativeNames.isEmpty)
        #expect(names.commonName == Array("db.example.net".utf8))
        #expect(names.match(host: "db.example.net"))
    }

    @Test func bytesThatAreNotACertificateAreRefused() {
        #expect(throws: (any Error).self) { try CertificateNames(der: [0x30, 0x82, 0x01]) }
        #expect(throws: (any Error).self) { try CertificateNames(der: Array("-----BEGIN CERTIFICATE-----".utf8)) }
    }
}
