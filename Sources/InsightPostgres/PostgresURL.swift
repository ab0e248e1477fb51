import Foundation
import InsightStoreCore
import PostgresNIO

/// A `postgres://` URL, read the way libpq reads it: user, password, host, port, database, `?host=/run/postgresql`
/// for a Unix socket directory, and `sslmode` with `sslrootcert` for TLS.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    /// A host name or address, or nil when `socketDirectory` is set.
    public var host: String?
    public var port: Int
    public var database: String
    /// The directory holding `.s.PGSQL.<port>`, for a Unix socket connection.
    public var socketDirectory: String?
    /// Whether the connection is encrypted and what of the server's certificate is checked.
    public var sslMode: SSLMode
    /// `sslrootcert`: a PEM file of the CA certificates the server's certificate must chain to, or `system` for the
    /// system's trusted CAs; nil when not given.
    public var sslRootCert: String?

    /// libpq's `sslmode` values insightd supports.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS without checking the certificate, unless `sslrootcert` is given: then its chain is checked as with
        /// `verifyCA` (libpq does the same).
        case require
        /// TLS, and the certificate must chain to a CA of `sslrootcert`; the host name is not checked.
        case verifyCA = "verify-ca"
        /// TLS, the certificate must chain to a CA of `sslrootcert` and name the host of the URL.
        case verifyFull = "verify-full"
    }

    /// Parses `postgres://user:password@host:port/database?host=/socket/dir&sslmode=verify-full&sslrootcert=/etc/ca.crt`.
    public init(_ text: String) throws(StoreError) {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let components = URLComponents(string: text) else {
            throw StoreError(.open, "expected \"\" for the embedded SQLite database, or postgres://user:password@host:5432/database")
        }
        user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? NSUserName()
        password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        port = components.port ?? query["port"].flatMap { Int($0) } ?? 5432
        let name = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = name.isEmpty ? user : name
        if let directory = query["host"], directory.hasPrefix("/") {
            socketDirectory = directory
            host = nil
        } else {
            let named = components.host.map { $0.isEmpty ? nil : $0 } ?? nil
            if let named, named.hasPrefix("%2F") || named.hasPrefix("/") {
                socketDirectory = named.removingPercentEncoding
                host = nil
            } else {
                host = named ?? "localhost"
            }
        }
        sslRootCert = query["sslrootcert"].flatMap { $0.isEmpty ? nil : $0 }
        sslMode = try Self.sslMode(query["sslmode"], rootCert: sslRootCert)
        for unsupported in ["sslcert", "sslkey", "sslcrl", "sslcrldir"] where query[unsupported] != nil {
            throw StoreError(.open, "\(unsupported) is not supported: insightd does not present client certificates or read revocation lists; "
                             + "authenticate with a password and remove \(unsupported) from the URL")
        }
    }

    /// The mode `sslmode` names, checked against `sslrootcert` the way libpq checks it.
    private static func sslMode(_ text: String?, rootCert: String?) throws(StoreError) -> SSLMode {
        let choices = "disable, require, verify-ca or verify-full"
        guard let text else {
            // libpq: the system's CAs make sense only with the host name checked, so they make verify-full the default.
            if rootCert == "system" { return .verifyFull }
            if rootCert != nil {
                throw StoreError(.open, "sslrootcert is given without sslmode: add sslmode=verify-full (or verify-ca) to check the server's certificate against it")
            }
            return .disable
        }
        guard let mode = SSLMode(rawValue: text) else {
            if text == "allow" || text == "prefer" {
                throw StoreError(.open, "sslmode=\(text) is not supported: it falls back to an unencrypted connection without saying so; "
                                 + "use sslmode=require or stronger to encrypt, or sslmode=disable on a trusted network")
            }
            throw StoreError(.open, "sslmode=\(text) is not a mode; expected \(choices)")
        }
        if rootCert == "system", mode != .verifyFull {
            throw StoreError(.open, "sslmode=\(text) is too weak for sslrootcert=system: the system's CAs sign certificates for anyone, "
                             + "so only sslmode=verify-full (the host name checked too) is allowed with them")
        }
        if rootCert == nil, mode == .verifyCA || mode == .verifyFull {
            throw StoreError(.open, "sslmode=\(text) needs the CA that signed the server's certificate: add sslrootcert=/path/to/root.crt, "
                             + "or sslrootcert=system for the system's trusted CAs")
        }
        return mode
    }

    /// Whether connections use TLS. libpq never uses TLS over a Unix socket, whatever `sslmode` says; neither does insightd.
    public var usesTLS: Bool { socketDirectory == nil && sslMode != .disable }

    /// The URL without its password, for status and logs.
    public var description: String {
        let credentials = user + (password == nil ? "" : ":***")
        if let socketDirectory { return "postgres://\(credentials)@/\(database)?host=\(socketDirectory)&port=\(port)" }
        var tls = sslMode == .disable ? "" : "?sslmode=\(sslMode.rawValue)"
        if let sslRootCert, sslMode != .disable { tls += "&sslrootcert=\(sslRootCert)" }
        return "postgres://\(credentials)@\(host ?? "localhost"):\(port)/\(database)\(tls)"
    }

    /// The connection settings for PostgresNIO, for a connection without TLS.
    var configuration: PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            configuration = .init(host: host ?? "localhost", port: port, username: user, password: password, database: database, tls: .disable)
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", "insightd")]
        return configuration
    }

    /// `text` with any password replaced, for error messages about a URL that did not parse.
    public static func redact(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"), let colon = text[scheme.upperBound..<at].firstIndex(of: ":") else {
            return text
        }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
