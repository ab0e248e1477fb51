import Foundation
import InsightStore
import InsightCore

/// The identity of the process on the other end of the socket, from `SO_PEERCRED`.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The supplementary groups of the connecting process (`SO_PEERGROUPS`), when the kernel reports them.
    public var groups: [UInt32] = []
}

/// A request as the router sees it.
struct APIRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var body: [UInt8]
    var peer: PeerCredentials?

    init(method: String, uri: String, body: [UInt8], peer: PeerCredentials?) {
        self.method = method
        self.body = body
        self.peer = peer
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts.first.map { String($0).removingPercentEncoding ?? String($0) } ?? "/"
        var query: [String: String] = [:]
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
                query[key] = value
            }
        }
        self.query = query
    }
}

/// Writes a streamed body chunk by chunk; throws when the client has gone away.
protocol ChunkSink: Sendable {
    func write(_ bytes: [UInt8]) throws
    /// True once the client has gone or the daemon is stopping: a long-lived stream should end.
    var shouldStop: Bool { get }
}

/// A reply: a status and a whole body, or a body streamed in chunks.
struct APIResponse: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        case stream(@Sendable (any ChunkSink) throws -> Void)
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
        if let error = error as? StoreError, error.code == .unavailable { return .error(503, "unavailable", "\(error)") }
        return .error(500, "store", "\(error)")
    }
}
