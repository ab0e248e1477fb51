import Foundation
import InsightStore
import PostgresNIO

/// A `postgres://` URL, read the way libpq reads it: user, password, host, port, database, and
/// `?host=/run/postgresql` for a Unix socket directory.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String?
    /// A host name or address, or nil when `socketDirectory` is set.
    public var host: String?
    public var port: Int
    public var database: String
    /// The directory holding `.s.PGSQL.<port>`, for a Unix socket connection.
    public var socketDirectory: String?
    /// `require` asks for TLS; anything else (the default `disable`) talks in the clear.
    public var sslMode: String

    /// Parses `postgres://user:password@host:port/database?host=/socket/dir&sslmode=disable`.
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
        sslMode = query["sslmode"] ?? "disable"
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
        if sslMode == "require" || sslMode == "verify-full" || sslMode == "verify-ca" {
            throw StoreError(.open, "sslmode=\(sslMode) is not supported yet; use a Unix socket or a trusted network with sslmode=disable")
        }
    }

    /// The URL without its password, for status and logs.
    public var description: String {
        let credentials = user + (password == nil ? "" : ":***")
        if let socketDirectory { return "postgres://\(credentials)@/\(database)?host=\(socketDirectory)&port=\(port)" }
        return "postgres://\(credentials)@\(host ?? "localhost"):\(port)/\(database)"
    }

    /// The connection settings for PostgresNIO.
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
