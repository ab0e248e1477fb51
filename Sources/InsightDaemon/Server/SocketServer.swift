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
    /// The request line (`GET /v1/search?q=… HTTP/1.1`); longer gets a 414.
    var maxRequestLineBytes = 8 * 1024
    /// The request line and headers together; more gets a 431.
    var maxHeaderBytes = 32 * 1024
    /// The request body; more gets a 413.
    var maxBodyBytes = 64 * 1024
    /// Open connections; a client beyond this gets a 503 and a close.
    var maxConnections = 128
    /// Streamed replies (export, status --watch) at once; each holds a thread. More get a 503.
    var maxStreams = 16
    /// A client that sends nothing for this long is dropped.
    var idleTimeout: TimeAmount = .seconds(30)
    /// A streamed chunk the client does not take within this long ends the reply.
    var writeTimeout: TimeAmount = .seconds(30)
}

/// Counters shared by every connection.
final class ServerState: Sendable {
    let connections = Atomic<Int>(0)
    let streams = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
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
    let state = ServerState()

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
        // Quick requests run on a dispatch queue; streams get threads of their own (see HTTPHandler.write).
        let work = DispatchQueue(label: "insightd-api", attributes: .concurrent)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let open = state.connections.wrappingAdd(1, ordering: .relaxed).newValue
                    channel.closeFuture.whenComplete { [state] _ in _ = state.connections.wrappingSubtract(1, ordering: .relaxed) }
                    if open > limits.maxConnections {
                        try channel.pipeline.syncOperations.addHandler(
                            RefusingHandler(status: 503, reason: "Service Unavailable", code: "busy",
                                            message: "insightd has \(limits.maxConnections) connections open; try again shortly"))
                        return
                    }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(RequestHeadLimiter(limits: limits))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPHandler(router: router, queue: work, limits: limits, state: state, logger: logger))
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
        // Long-lived streams (status --watch) see this and end their replies cleanly first.
        state.stopping.store(true, ordering: .relaxed)
        let deadline = monotonicSeconds() + 2
        while state.streams.load(ordering: .relaxed) > 0, monotonicSeconds() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
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
        let fd = socket(AF_UNIX, insight_sock_stream_cloexec, 0)
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
/// One request per connection: every reply says `Connection: close`, which bounds what a client can hold.
final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: @Sendable (APIRequest) -> APIResponse
    let queue: DispatchQueue
    let limits: ServerLimits
    let state: ServerState
    let logger: Logger
    private var peer: PeerCredentials?
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var overLimit = false
    private var answered = false

    init(router: @escaping @Sendable (APIRequest) -> APIResponse, queue: DispatchQueue,
         limits: ServerLimits, state: ServerState, logger: Logger) {
        self.router = router
        self.queue = queue
        self.limits = limits
        self.state = state
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        // Who is connecting decides what they may change; the kernel vouches for it (SO_PEERCRED, SO_PEERGROUPS).
        if let provider = context.channel as? any SocketOptionProvider {
            let credentials: EventLoopFuture<insight_ucred> = provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: insight_so_peercred))
            let groups: EventLoopFuture<insight_peergroups> = provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: insight_so_peergroups))
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            credentials.whenSuccess { value in
                bound.value.peer = PeerCredentials(pid: value.pid, uid: value.uid, gid: value.gid)
                // The buffer is zeroed before the call; unused slots stay 0. A peer whose only claim is gid 0
                // is still found through the group database.
                groups.whenSuccess { list in
                    let gids = withUnsafeBytes(of: list.gids) { Array($0.bindMemory(to: UInt32.self)) }.filter { $0 != 0 }
                    bound.value.peer?.groups = gids
                }
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if answered { return }
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            overLimit = false
            if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
                // Answer now: waiting for a body we will not read only keeps the client busy.
                answered = true
                write(context: context, response: .error(413, "too_large", "the request body is over \(limits.maxBodyBytes) bytes"),
                      version: requestHead.version)
            }
        case .body(var chunk):
            if overLimit { return }
            if body.count + chunk.readableBytes > limits.maxBodyBytes {
                overLimit = true
                body = []
                return
            }
            body += chunk.readBytes(length: chunk.readableBytes) ?? []
        case .end:
            guard let requestHead = head else { return }
            head = nil
            answered = true
            if overLimit {
                write(context: context, response: .error(413, "too_large", "the request body is over \(limits.maxBodyBytes) bytes"), version: requestHead.version)
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
                    handler.write(context: context, response: response, version: requestHead.version)
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            // A client that sends nothing for the read timeout before its request is complete is dropped; it
            // cannot hold a connection slot forever. Once the request is in, the client only reads (a long
            // export, status --watch): the write timeout of the stream guards that part.
            if !answered { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("socket client error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func write(context: ChannelHandlerContext, response: APIResponse, version: HTTPVersion) {
        var response = response
        if case .stream = response.body, state.streams.wrappingAdd(1, ordering: .relaxed).newValue > limits.maxStreams {
            state.streams.wrappingSubtract(1, ordering: .relaxed)
            response = .error(503, "busy", "insightd is serving \(limits.maxStreams) streamed replies already; try again shortly")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Server", value: "insightd/\(InsightVersion.current)")
        headers.add(name: apiVersionHeader, value: String(InsightVersion.apiSchema))
        headers.add(name: "Connection", value: "close")
        let status = HTTPResponseStatus(statusCode: response.status)
        let channel = context.channel
        switch response.body {
        case .bytes(let bytes):
            headers.add(name: "Content-Length", value: String(bytes.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        case .stream(let produce):
            headers.add(name: "Transfer-Encoding", value: "chunked")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            let sink = ChannelChunkSink(channel: channel, state: state, timeout: limits.writeTimeout)
            // A thread of its own: the producer blocks while a slow client reads, and blocked dispatch workers
            // would starve every other request (libdispatch does not add threads for blocked ones on Linux).
            let thread = Thread { [logger, state] in
                defer { state.streams.wrappingSubtract(1, ordering: .relaxed) }
                do {
                    try produce(sink)
                    try sink.finish()
                } catch {
                    logger.debug("streamed reply ended early", metadata: ["error": "\(error)"])
                }
                channel.close(promise: nil)
            }
            thread.name = "insightd-api-stream"
            thread.start()
        }
    }
}

/// Writes chunks from a worker thread, waiting for each write so a slow reader slows the producer
/// instead of filling memory; a reader that takes nothing for `timeout` is disconnected.
struct ChannelChunkSink: ChunkSink {
    let channel: any Channel
    let state: ServerState
    let timeout: TimeAmount

    var shouldStop: Bool { !channel.isActive || state.stopping.load(ordering: .relaxed) }

    func write(_ bytes: [UInt8]) throws {
        try send(.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))))
    }

    /// Ends the chunked reply.
    func finish() throws {
        try send(.end(nil))
    }

    private func send(_ part: HTTPServerResponsePart) throws {
        let channel = self.channel, timeout = self.timeout
        try channel.eventLoop.flatSubmit {
            let written = channel.writeAndFlush(part)
            let guardTask = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            written.whenComplete { _ in guardTask.cancel() }
            return written
        }.wait()
    }
}

/// Answers every connection with one error and closes it (too many connections).
final class RefusingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let bytes: [UInt8]

    init(status: Int, reason: String, code: String, message: String) {
        bytes = rawErrorReply(status: status, reason: reason, code: code, message: message)
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// Caps the request line and headers before the HTTP parser sees them: a longer request line gets a 414,
/// more header bytes a 431, and the connection closes.
final class RequestHeadLimiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let limits: ServerLimits
    private var seen = 0
    private var lineLength = 0
    private var firstLine = true
    private var headDone = false
    private var refused = false

    init(limits: ServerLimits) { self.limits = limits }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        let buffer = unwrapInboundIn(data)
        if headDone {
            context.fireChannelRead(data)
            return
        }
        for byte in buffer.readableBytesView {
            seen += 1
            if byte == UInt8(ascii: "\n") {
                if lineLength == 0 && !firstLine {
                    headDone = true
                    break
                }
                firstLine = false
                lineLength = 0
            } else if byte != UInt8(ascii: "\r") {
                lineLength += 1
            }
            if firstLine && seen > limits.maxRequestLineBytes {
                refuse(context, 414, "URI Too Long", "the request line is over \(limits.maxRequestLineBytes) bytes")
                return
            }
            if seen > limits.maxHeaderBytes {
                refuse(context, 431, "Request Header Fields Too Large", "the request headers are over \(limits.maxHeaderBytes) bytes")
                return
            }
        }
        context.fireChannelRead(data)
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: Int, _ reason: String, _ message: String) {
        refused = true
        let channel = context.channel
        let reply = rawErrorReply(status: status, reason: reason, code: "too_large", message: message)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// A complete HTTP error reply as bytes, for handlers that sit below the HTTP encoder.
func rawErrorReply(status: Int, reason: String, code: String, message: String) -> [UInt8] {
    let body = Array(((try? WireJSON.encoder().encode(ErrorReply(code: code, message: message))) ?? Data("{}".utf8))) + [0x0A]
    let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: application/json\r\n\(apiVersionHeader): \(InsightVersion.apiSchema)\r\n"
        + "Server: insightd/\(InsightVersion.current)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
    return Array(head.utf8) + body
}
