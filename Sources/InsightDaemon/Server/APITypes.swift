import Foundation
import InsightCore
import InsightStoreCore

/// The identity of the process on the other end of the socket, from `SO_PEERCRED`.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups of the connecting process (`SO_PEERGROUPS`), when the kernel reports them.
    public var groups: [UInt32] = []
}

/// A request as the router sees it: target decoded and checked, so no handler sees a control character in
/// the path or a query parameter.
struct APIRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var body: [UInt8]
    var peer: PeerCredentials?

    /// Query parameters that hold free text, where a tab is an ordinary character.
    static let freeTextParameters: Set<String> = ["q"]

    /// Reads `target` in origin form (`/v1/status?watch=1`) or absolute form (`http://localhost/v1/status`,
    /// RFC 9112 §3.2.2), percent-decoding the path and each query key and value. Throws a 400 for a target that
    /// does not decode to UTF-8 or that holds a control character.
    init(method: String, target: String, body: [UInt8], peer: PeerCredentials?) throws(APIError) {
        self.method = method
        self.body = body
        self.peer = peer
        let parts = Self.originForm(target).split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = try Self.decode(parts.first.map(String.init) ?? "/", what: "the path", plusIsSpace: false)
        try TextCheck.plain(path, field: "the path")
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = try Self.decode(String(kv[0]), what: "a query parameter name", plusIsSpace: true)
                try TextCheck.plain(key, field: "a query parameter name")
                let value = kv.count > 1 ? try Self.decode(String(kv[1]), what: "the query parameter \(key)", plusIsSpace: true) : ""
                try TextCheck.check(value, field: "the query parameter \(key)", allowTab: Self.freeTextParameters.contains(key))
                query[key] = value
            }
        }
        self.query = query
    }

    /// The path and query of an absolute-form target; an origin-form target as it is.
    static func originForm(_ target: String) -> Substring {
        var rest = Substring(target)
        guard let separator = rest.range(of: "://"), ["http", "https"].contains(rest[..<separator.lowerBound].lowercased()) else {
            return rest
        }
        // The authority (`localhost`, `user@host:80`) names no resource on a Unix socket; the path does.
        rest = rest[separator.upperBound...]
        rest = rest[(rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex)...]
        return rest.first == "/" ? rest : "/" + rest
    }

    private static func decode(_ text: String, what: String, plusIsSpace: Bool) throws(APIError) -> String {
        let spaced = plusIsSpace ? text.replacingOccurrences(of: "+", with: " ") : text
        guard let decoded = spaced.removingPercentEncoding else {
            throw APIError(400, "bad_target", "\(what) is not valid percent-encoded UTF-8; encode each byte that is not a plain character as %XX")
        }
        return decoded
    }
}

/// Refuses control characters at the edge: C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F). They have no
/// place in a path, a URL or a name, and a NUL would cut a path short on its way to C.
enum TextCheck {
    /// Throws a 400 naming the first control character of `text` and where it is; a tab passes when `allowTab`.
    static func check(_ text: String, field: String, allowTab: Bool) throws(APIError) {
        for (offset, scalar) in text.unicodeScalars.enumerated() where isControl(scalar) && !(allowTab && scalar == "\t") {
            let code = "U+" + String(format: "%04X", scalar.value)
            throw APIError(400, "control_character",
                           "\(field) contains the control character \(code) at character \(offset + 1); remove it and send the request again")
        }
    }

    /// `check` for fields that are never free text: paths, URLs, names.
    static func plain(_ text: String, field: String) throws(APIError) {
        try check(text, field: field, allowTab: false)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}

/// Reads a request body that is one JSON object with known fields. A body the daemon cannot read fully is a 400,
/// never a guess: a misspelt or mistyped field must not widen what a request does.
enum JSONBody {
    /// Decodes `body` (`{}` when empty) as `T`; a body that is not a JSON object, or that has a field outside
    /// `fields`, or a field of the wrong type, is a 400 whose message ends with `usage`.
    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], fields: Set<String>, usage: String) throws(APIError) -> T {
        let data = Data(body.isEmpty ? Array("{}".utf8) : body)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIError(400, "bad_body", "the body is not a JSON object; send \(usage)")
        }
        if let unknown = object.keys.filter({ !fields.contains($0) }).sorted().first {
            throw APIError(400, "bad_body", "the body has an unknown field \"\(unknown.prefix(64))\"; send \(usage)")
        }
        do {
            return try WireJSON.decoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw APIError(400, "bad_body", "\(describe(error)); send \(usage)")
        } catch {
            throw APIError(400, "bad_body", "the body cannot be read (\(error)); send \(usage)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String {
            path.last.map { "the field \"\($0.stringValue)\"" } ?? "the body"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(field(context.codingPath)) must be \(type == String.self ? "a string" : type == Bool.self ? "true or false" : "a number")"
        case .valueNotFound(_, let context):
            return "\(field(context.codingPath)) has no value"
        case .keyNotFound(let key, _):
            return "the field \"\(key.stringValue)\" is missing"
        case .dataCorrupted(let context):
            return "\(field(context.codingPath)) cannot be read: \(context.debugDescription)"
        @unknown default:
            return "the body cannot be read"
        }
    }
}

/// Writes a streamed body chunk by chunk; throws when the client has gone away.
protocol ChunkSink: Sendable {
    /// Sends a chunk and returns once it is written, so a slow reader slows the producer.
    func write(_ bytes: [UInt8]) async throws
    /// Runs blocking work (a store read) on the server's threads.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T
    /// True once the client has gone or the daemon is stopping: a long-lived stream should end.
    var shouldStop: Bool { get }
}

/// A reply: a status and a whole body, or a body streamed in chunks.
struct APIResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case stream(@Sendable (any ChunkSink) async throws -> Void)
    }
    var status: Int
    var contentType: String
    var body: Body

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> APIResponse {
        do {
            var data = try WireJSON.encoder().encode(value)
            data.append(0x0A)
            return APIResponse(status: status, contentType: "application/json", body: .bytes(Array(data)))
        } catch {
            return .error(500, "internal", "cannot encode the reply: \(error)")
        }
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> APIResponse {
        let data = (try? WireJSON.encoder().encode(ErrorReply(code: code, message: message))) ?? Data("{}".utf8)
        return APIResponse(status: status, contentType: "application/json", body: .bytes(Array(data) + [0x0A]))
    }

    /// A store failure: 503 while a shared database cannot be reached (try again), 500 otherwise.
    static func store(_ error: any Error) -> APIResponse {
        if let error = error as? StoreError { DaemonMetrics.shared.storeError(error) }
        if let error = error as? StoreError, error.code == .unavailable { return .error(503, "unavailable", "\(error)") }
        return .error(500, "store", "\(error)")
    }
}
