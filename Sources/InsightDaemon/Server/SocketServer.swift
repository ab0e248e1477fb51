import CCurl
import CLinux
import Foundation
import InsightCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits that keep one client from hurting the daemon or other clients.
struct ServerLimits: Sendable {
    var maxBodyBytes = 64 * 1024
    var maxConnections = 128
    var idleTimeout: TimeAmount = .seconds(30)
}

/// A reason the server cannot start, with what to do about it.
public struct ServerStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The HTTP/1.1 API on the Unix socket, served by NIO's handler-based pipeline.
///
/// Handlers run on NIO's event loop only to parse and write; the router's work (SQLite reads) runs on a
/// dispatch queue, so a slow query never stalls other clients' I/O.
final class SocketServer: Sendable {
    let path: String
    let mode: Int
    let limits: ServerLimits
    let logger: Logger
    let router: @Sendable (APIRequest) -> APIResponse
    private let group: MultiThreadedEventLoopGroup
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let connections = Atomic<Int>(0)

    init(path: String, mode: Int, limits: ServerLimits = ServerLimits(), logger: Logger,
         router: @escaping @Sendable (APIRequest) -> APIResponse) {
        self.path = path
        self.mode = mode
        self.limits = limits
        self.logger = logger
        self.router = router
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Replaces a stale socket file, refuses to start when another daemon answers on it, then listens.
    func start() async throws {
        try Self.prepareSocketPath(path)
        let work = DispatchQueue(label: "insightd-api", attributes: .concurrent)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if connections.wrappingAdd(1, ordering: .relaxed).newValue > limits.maxConnections {
                        connections.wrappingSubtract(1, ordering: .relaxed)
                        throw ServerStartError(message: "too many connections")
                    }
                    channel.closeFuture.whenComplete { [self] _ in _ = connections.wrappingSubtract(1, ordering: .relaxed) }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(router: router, queue: work, maxBodyBytes: limits.maxBodyBytes, logger: logger))
                }
            }
        let listening = try await bootstrap.bind(unixDomainSocketPath: path).get()
        guard chmod(path, mode_t(mode)) == 0 else {
            throw ServerStartError(message: "cannot set the mode of the socket \(path): \(Errno.current)")
        }
        channel.withLock { $0 = listening }
    }

    /// Stops listening, waits for the listener to close, removes the socket file.
    func stop() async {
        let listening = channel.withLock { value -> (any Channel)? in defer { value = nil }; return value }
        if let listening { try? await listening.close() }
        unlink(path)
        try? await group.shutdownGracefully()
    }

    /// A socket file that nobody answers on is left over from a crash: remove it. One that answers belongs to
    /// a running daemon: refuse to start rather than steal it.
    static func prepareSocketPath(_ path: String) throws {
        guard path.utf8.count < 108 else {
            throw ServerStartError(message: "the socket path \(path) is longer than 107 bytes; choose a shorter --socket")
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ServerStartError(message: "cannot create the socket's folder \(directory): \(error.localizedDescription)")
        }
        guard let info = try? lstatPath(path) else { return }
        guard info.isSocket else {
            throw ServerStartError(message: "\(path) exists and is not a socket; remove it or choose another --socket")
        }
        if UnixSocketProbe.answers(path) {
            throw ServerStartError(message: "another insightd is already running on \(path); stop it first (insightctl status shows it)")
        }
        unlink(path)
    }

}

/// Connects to a Unix socket to learn whether a server answers there.
enum UnixSocketProbe {
    static func answers(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }
}

/// Collects one request, hands it to the router off the event loop, and writes the reply back.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: @Sendable (APIRequest) -> APIResponse
    let queue: DispatchQueue
    private var peer: PeerCredentials?
    let maxBodyBytes: Int
    let logger: Logger
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var overLimit = false

    init(router: @escaping @Sendable (APIRequest) -> APIResponse, queue: DispatchQueue, maxBodyBytes: Int, logger: Logger) {
        self.router = router
        self.queue = queue
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        // Who is connecting decides what they may change; the kernel vouches for it (SO_PEERCRED).
        if let provider = context.channel as? any SocketOptionProvider {
            let credentials: EventLoopFuture<insight_ucred> = provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: insight_so_peercred))
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            credentials.whenSuccess { value in
                bound.value.peer = PeerCredentials(pid: value.pid, uid: value.uid, gid: value.gid)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            overLimit = false
            if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                overLimit = true
            }
        case .body(var chunk):
            if overLimit { return }
            if body.count + chunk.readableBytes > maxBodyBytes {
                overLimit = true
                body = []
                return
            }
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let keepAlive = requestHead.isKeepAlive
            if overLimit {
                write(context: context, response: .error(413, "too_large", "the request body is over \(maxBodyBytes) bytes"), keepAlive: false, version: requestHead.version)
                return
            }
            let request = APIRequest(method: requestHead.method.rawValue, uri: requestHead.uri, body: body, peer: peer)
            body = []
            let router = self.router
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            queue.async {
                let response = router(request)
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(context: context, response: response, keepAlive: keepAlive, version: requestHead.version)
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A client that sends nothing for the read timeout is dropped; it cannot hold a connection slot forever.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("socket client error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func write(context: ChannelHandlerContext, response: APIResponse, keepAlive: Bool, version: HTTPVersion) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Server", value: "insightd/\(InsightVersion.current)")
        let status = HTTPResponseStatus(statusCode: response.status)
        switch response.body {
        case .bytes(let bytes):
            headers.add(name: "Content-Length", value: String(bytes.count))
            headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        case .stream(let produce):
            headers.add(name: "Transfer-Encoding", value: "chunked")
            headers.add(name: "Connection", value: "close")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            let channel = context.channel
            let sink = ChannelChunkSink(channel: channel)
            queue.async { [logger] in
                do {
                    try produce(sink)
                    try channel.eventLoop.submit {
                        channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                    }.flatMap { $0 }.wait()
                } catch {
                    logger.debug("streamed reply ended early", metadata: ["error": "\(error)"])
                }
                channel.close(promise: nil)
            }
        }
    }
}

/// Writes chunks from a worker thread, waiting for each write so a slow reader slows the producer
/// instead of filling memory.
struct ChannelChunkSink: ChunkSink {
    let channel: any Channel

    func write(_ bytes: [UInt8]) throws {
        let channel = self.channel
        try channel.eventLoop.submit {
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))))
        }.flatMap { $0 }.wait()
    }
}
