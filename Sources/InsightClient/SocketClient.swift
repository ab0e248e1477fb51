import Foundation
import InsightCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Why a request to the daemon failed, mapped to insightctl's exit codes.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable {
        /// The socket is missing or nobody listens: exit 3.
        case notRunning
        /// Permission denied on the socket, or a 403: exit 4.
        case permission
        /// The reply was not what the API promises: exit 4.
        case `protocol`
        /// The daemon answered with an error: exit 1.
        case daemon
        /// The daemon closed the connection before the reply was complete (it stopped): exit 4.
        case disconnected
        /// The command's arguments are wrong: exit 2.
        case usage
        /// A local failure (writing the output file): exit 1.
        case local
    }
    public var code: Code
    public var message: String
    /// The daemon's JSON error reply (`{"error":{"code":…,"message":…}}`), when it answered with one.
    public var reply: [UInt8]?
    public var description: String { message }

    /// The error as a JSON line for `--json`: the daemon's own reply when there is one, else one in the same shape.
    public var json: [UInt8] {
        if let reply, !reply.isEmpty { return reply.last == 0x0A ? reply : reply + [0x0A] }
        let name: String
        switch code {
        case .notRunning: name = "not_running"
        case .permission: name = "forbidden"
        case .protocol: name = "protocol"
        case .daemon: name = "daemon"
        case .disconnected: name = "disconnected"
        case .usage: name = "usage"
        case .local: name = "local"
        }
        return Array((try? WireJSON.encoder().encode(ErrorReply(code: name, message: message))) ?? Data()) + [0x0A]
    }

    /// insightctl's exit status for this error.
    public var exitCode: Int32 {
        switch code {
        case .notRunning: return 3
        case .permission, .protocol, .disconnected: return 4
        case .daemon, .local: return 1
        case .usage: return 2
        }
    }
}

/// A reply from the daemon.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
}

/// A small blocking HTTP/1.1 client over the daemon's Unix socket: one request per connection.
public struct SocketClient: Sendable {
    public let path: String
    public var timeoutSeconds: Int

    public init(path: String, timeoutSeconds: Int = 30) {
        self.path = path
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends one request and returns the whole reply.
    public func request(_ method: String, _ target: String, body: [UInt8]? = nil) throws(ClientError) -> HTTPReply {
        var collected: [UInt8] = []
        var reply = try stream(method, target, body: body) { collected += $0 }
        if (200..<300).contains(reply.status) { reply.body = collected }
        return reply
    }

    /// Sends one request and hands the reply body to `onBody` as it arrives (chunked or sized).
    public func stream(_ method: String, _ target: String, body: [UInt8]? = nil,
                       onBody: ([UInt8]) throws -> Void) throws(ClientError) -> HTTPReply {
        let fd = try connect()
        defer { close(fd) }
        var request = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: insightctl/\(InsightVersion.current)\r\nConnection: close\r\n"
        if let body {
            request += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        }
        request += "\r\n"
        var reader = ReplyReader(fd: fd)
        do {
            try send(fd, Array(request.utf8) + (body ?? []))
        } catch {
            // The daemon may have answered and closed early (a 413 or a 503): read what it said.
            if let reply = try? reader.read(onBody: onBody) { return reply }
            throw error
        }
        return try reader.read(onBody: onBody)
    }

    private func connect() throws(ClientError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(code: .protocol, message: "cannot create a socket: \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ClientError(code: .protocol, message: "the socket path \(path) is too long (at most 107 bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        do {
            try retryingSyscall("connect", path) {
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
            }
        } catch {
            close(fd)
            switch error.errno {
            case .noSuchFileOrDirectory, .connectionRefused, .notDirectory:
                throw ClientError(code: .notRunning, message: "insightd is not running (no daemon answers on \(path))")
            case .permissionDenied, .notPermitted:
                throw ClientError(code: .permission, message: "permission denied on \(path): ask to be added to the socket's group, or use sudo")
            default:
                throw ClientError(code: .protocol, message: "cannot connect to \(path): \(error.errno)")
            }
        }
        return fd
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            do {
                let written = try retryingSyscall("send") {
                    bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                }
                offset += written
            } catch {
                throw ClientError(code: .protocol, message: "cannot send the request: \(error.errno)")
            }
        }
    }
}

/// Reads and parses one HTTP/1.1 reply from a socket, incrementally.
struct ReplyReader {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    /// Reads the reply; a successful reply's body goes to `onBody`, an error reply's body is returned whole.
    mutating func read(onBody successBody: ([UInt8]) throws -> Void) throws(ClientError) -> HTTPReply {
        let statusLine = try line()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError(code: .protocol, message: "the daemon's reply is not HTTP: \(statusLine.prefix(80))")
        }
        var headers: [String: String] = [:]
        while true {
            let header = try line()
            if header.isEmpty { break }
            guard let colon = header.firstIndex(of: ":") else { continue }
            headers[header[..<colon].lowercased()] = header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var errorBody: [UInt8] = []
        let success = (200..<300).contains(status)
        func onBody(_ chunk: [UInt8]) throws {
            if success { try successBody(chunk) } else { errorBody += chunk }
        }
        do {
            if headers["transfer-encoding"]?.lowercased() == "chunked" {
                while true {
                    let sizeLine = try line()
                    guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else {
                        throw ClientError(code: .protocol, message: "bad chunk size in the daemon's reply")
                    }
                    if size == 0 { break }
                    try onBody(try bytes(size))
                    _ = try line()
                }
            } else if let length = headers["content-length"].flatMap(Int.init) {
                if length > 0 { try onBody(try bytes(length)) }
            } else {
                while try fill() {}
                try onBody(Array(buffer[start...]))
            }
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError(code: .protocol, message: "\(error)")
        }
        return HTTPReply(status: status, headers: headers, body: errorBody)
    }

    private mutating func fill() throws(ClientError) -> Bool {
        if eof { return false }
        if start > 65536 {
            buffer.removeFirst(start)
            start = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count: Int
        do {
            count = try retryingSyscall("recv") { chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }
        } catch {
            // SO_RCVTIMEO ran out.
            if error.errno == .resourceTemporarilyUnavailable || error.errno == .wouldBlock {
                throw ClientError(code: .protocol, message: "the daemon did not answer in time")
            }
            throw ClientError(code: .protocol, message: "cannot read the reply: \(error.errno)")
        }
        if count == 0 { eof = true; return false }
        buffer += chunk[0..<count]
        return true
    }

    private mutating func line() throws(ClientError) -> String {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return text
            }
            guard try fill() else { throw ClientError(code: .disconnected, message: "the daemon closed the connection mid-reply") }
        }
    }

    private mutating func bytes(_ count: Int) throws(ClientError) -> [UInt8] {
        while buffer.count - start < count {
            guard try fill() else { throw ClientError(code: .disconnected, message: "the daemon closed the connection mid-reply") }
        }
        let out = Array(buffer[start..<(start + count)])
        start += count
        return out
    }
}
