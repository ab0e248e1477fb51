import CLinux
import Foundation
import InsightCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import SystemPackage

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
    /// Open connections; a client beyond this gets a 503 and a close, unless it may use a reserved slot.
    var maxConnections = 128
    /// Slots beyond `maxConnections` that only root, the daemon's user and `admin_group` may use, so that an
    /// administrator can still run `status`, `pause` or `reload` while others fill the socket.
    var reservedConnections = 16
    /// Open connections of one uid (administrators excepted); more get a 503 and a close.
    var maxConnectionsPerUser = 16
    /// The whole request (line, headers and body) must arrive within this many seconds of the accept, however
    /// steadily its bytes trickle in; otherwise a 408 and a close (`socket_request_timeout_s`).
    var requestDeadlineSeconds = 10
    /// Streamed replies (export, status --watch) at once; each holds a thread. More get a 503.
    var maxStreams = 16
    /// A streamed chunk the client does not take within this long ends the reply.
    var writeTimeout: TimeAmount = .seconds(30)
}

/// Who holds the socket's connections, counted per uid, and when a refusal was last logged.
///
/// Refused connections are never counted: a client told to go away holds nothing.
struct ConnectionTable: Sendable {
    /// Why a connection was turned away, or that it was not.
    enum Verdict: Sendable, Equatable {
        case admitted
        /// The uid holds `maxConnectionsPerUser` already.
        case userFull
        /// Every slot open to this peer is taken.
        case serverFull(slots: Int)
    }

    /// What a log line is about; each is logged at most once a minute per uid.
    enum Offence: Sendable, Hashable {
        case refused
        case tooSlow
    }

    private(set) var total = 0
    private(set) var byUID: [UInt32: Int] = [:]
    private var lastLogged: [LogKey: (at: Double, unlogged: Int)] = [:]

    private struct LogKey: Hashable {
        var uid: UInt32
        var offence: Offence
    }

    /// Takes a slot for `uid` when its limits allow. Privileged peers skip the per-user cap and may use the
    /// reserved slots.
    mutating func admit(uid: UInt32, privileged: Bool, limits: ServerLimits) -> Verdict {
        if privileged {
            let slots = limits.maxConnections + limits.reservedConnections
            guard total < slots else { return .serverFull(slots: slots) }
        } else {
            guard byUID[uid, default: 0] < limits.maxConnectionsPerUser else { return .userFull }
            guard total < limits.maxConnections else { return .serverFull(slots: limits.maxConnections) }
        }
        total += 1
        byUID[uid, default: 0] += 1
        return .admitted
    }

    /// Gives back a slot taken by `admit`.
    mutating func release(uid: UInt32) {
        total -= 1
        let left = byUID[uid, default: 1] - 1
        byUID[uid] = left > 0 ? left : nil
    }

    /// How many such events of `uid` to report when one should be logged now (the first of a burst, then at
    /// most once per `interval`), or nil to stay quiet and count it for the next line.
    mutating func logDue(uid: UInt32, _ offence: Offence, now: Double, interval: Double = 60) -> Int? {
        let key = LogKey(uid: uid, offence: offence)
        if let last = lastLogged[key], now - last.at < interval {
            lastLogged[key] = (last.at, last.unlogged + 1)
            return nil
        }
        let count = (lastLogged[key]?.unlogged ?? 0) + 1
        // Bounded memory: forget uids that have been quiet for a whole interval.
        if lastLogged.count >= 1024 { lastLogged = lastLogged.filter { now - $0.value.at < interval } }
        lastLogged[key] = (now, 0)
        return count
    }
}

/// Counters shared by every connection.
final class ServerState: Sendable {
    let connections = Mutex(ConnectionTable())
    let streams = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
}

/// The uid a connection is counted under when the kernel would not say who it is.
let unknownPeerUID = UInt32.max

/// A reason the server cannot start, with what to do about it.
public struct ServerStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The HTTP/1.1 API on the Unix socket, served by NIO's handler-based pipeline.
///
/// Handlers run on NIO's shared event loop only to parse and write; the router's work (store reads) runs on the
/// server's own thread pool, so a slow query never stalls other clients' I/O. Streamed replies (`status --watch`,
/// `export`) are tasks of the API service that await each write: a slow reader slows its producer, and no thread
/// waits on a future.
final class SocketServer: Sendable {
    /// Where it serves: the configured path, or the inherited socket's.
    let path: String
    let mode: Int
    /// The listening socket the service manager passed (socket activation), served instead of binding `path`.
    let inherited: InheritedSocket?
    /// Read for each new connection, so a reload applies to the next one.
    let limits: @Sendable () -> ServerLimits
    /// Decides who is an administrator: they may use the reserved slots and are not held to the per-user cap.
    let access: AccessPolicy
    let logger: Logger
    let router: @Sendable (APIRequest) -> APIResponse
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    let state = ServerState()
    /// Threads for the router's blocking work (store reads and writes).
    private let work = NIOThreadPool(numberOfThreads: 4)
    /// Streamed replies to run, taken by `runStreams()` (the API service's task group).
    let streams: AsyncStream<@Sendable () async -> Void>
    private let streamJobs: AsyncStream<@Sendable () async -> Void>.Continuation

    /// - Parameter inherited: a listening socket passed by the service manager; when given, `path` and `mode`
    ///   are not used: the socket is served as it is, and left in place at stop.
    init(path: String, mode: Int, inherited: InheritedSocket? = nil, limits: @escaping @Sendable () -> ServerLimits = { ServerLimits() },
         access: AccessPolicy, logger: Logger, router: @escaping @Sendable (APIRequest) -> APIResponse) {
        self.path = inherited?.path ?? path
        self.mode = mode
        self.inherited = inherited
        self.limits = limits
        self.access = access
        self.logger = logger
        self.router = router
        (streams, streamJobs) = AsyncStream.makeStream(of: (@Sendable () async -> Void).self)
    }

    /// Replaces a stale socket file, refuses to start when another daemon answers on it, then listens; or serves
    /// the inherited socket as the service manager made it.
    func start() async throws {
        if inherited == nil { try Self.prepareSocketPath(path) }
        work.start()
        let work = self.work, streamJobs = self.streamJobs
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { [self] channel in
                let limits = self.limits()
                return Self.peerCredentials(of: channel).flatMapThrowing { peer in
                    try self.admit(channel, peer: peer, limits: limits, work: work, streamJobs: streamJobs)
                }
            }
        if let inherited {
            // Its owner, group and mode are the service manager's (SocketGroup=, SocketMode=).
            let listening = try await bootstrap.withBoundSocket(inherited.descriptor).get()
            channel.withLock { $0 = listening }
            return
        }
        let listening = try await bootstrap.bind(unixDomainSocketPath: path).get()
        guard chmod(path, mode_t(mode)) == 0 else {
            throw ServerStartError(message: "cannot set the mode of the socket \(path): \(Errno(rawValue: errno))")
        }
        channel.withLock { $0 = listening }
    }

    /// Gives the connection a slot and the HTTP pipeline, or a 503 that says why not and a close.
    private func admit(_ channel: any Channel, peer: PeerCredentials?, limits: ServerLimits, work: NIOThreadPool,
                       streamJobs: AsyncStream<@Sendable () async -> Void>.Continuation) throws {
        let uid = peer?.uid ?? unknownPeerUID
        var verdict = state.connections.withLock { $0.admit(uid: uid, privileged: false, limits: limits) }
        // The group database is asked only when a limit is reached, so ordinary connections never wait on it.
        if verdict != .admitted, case .allowed = access.decide(peer) {
            verdict = state.connections.withLock { $0.admit(uid: uid, privileged: true, limits: limits) }
        }
        let operations = channel.pipeline.syncOperations
        switch verdict {
        case .admitted:
            channel.closeFuture.whenComplete { [state] _ in state.connections.withLock { $0.release(uid: uid) } }
            try operations.addHandler(RequestHeadGuard(limits: limits))
            try operations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
            try operations.addHandler(HTTPHandler(router: router, work: work, streamJobs: streamJobs, limits: limits, state: state, peer: peer,
                                                  logger: logger))
        case .userFull:
            warnRefused(uid: uid, "uid \(uid) holds \(limits.maxConnectionsPerUser) connections, the most one user may")
            try operations.addHandler(RefusingHandler(
                status: 503, reason: "Service Unavailable", code: "too_many_connections",
                message: "uid \(uid) already has \(limits.maxConnectionsPerUser) connections open to insightd, the most one user may hold; "
                    + "close the ones you are not using (each request needs one, for a moment) and try again"))
        case .serverFull(let slots):
            warnRefused(uid: uid, "all \(slots) connection slots open to this uid are taken")
            try operations.addHandler(RefusingHandler(
                status: 503, reason: "Service Unavailable", code: "busy",
                message: "insightd has \(slots) connections open; try again shortly"))
        }
    }

    /// One warning per uid and minute, however many connections it opens: a flood must not flood the log too.
    private func warnRefused(uid: UInt32, _ why: String) {
        guard let count = state.connections.withLock({ $0.logDue(uid: uid, .refused, now: monotonicSeconds()) }) else { return }
        logger.warning("socket connections refused: \(why)",
                       metadata: ["uid": "\(uid)", "refused_since_last_warning": "\(count)", "next_warning": "in a minute at the earliest"])
    }

    /// The peer's uid, gid and groups as the kernel recorded them at connect time (`SO_PEERCRED`,
    /// `SO_PEERGROUPS`); nil when it will not say.
    static func peerCredentials(of channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeSucceededFuture(nil) }
        let credentials: EventLoopFuture<insight_ucred> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: insight_so_peercred))
        return credentials.flatMap { value in
            let peer = PeerCredentials(pid: value.pid, uid: value.uid, gid: value.gid)
            let groups: EventLoopFuture<insight_peergroups> = provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: insight_so_peergroups))
            return groups.map { list -> PeerCredentials? in
                // The buffer is zeroed before the call; unused slots stay 0. A peer whose only claim is gid 0
                // is still found through the group database.
                var peer = peer
                peer.groups = withUnsafeBytes(of: list.gids) { Array($0.bindMemory(to: UInt32.self)) }.filter { $0 != 0 }
                return peer
            }.recover { _ in peer }
        }.recover { _ in nil }
    }

    /// Stops listening, waits for the listener to close, removes the socket file (not an inherited one: it belongs
    /// to the service manager, which keeps listening on it and starts the daemon again on the next connection).
    func stop() async {
        // Long-lived streams (status --watch) see this and end their replies cleanly first.
        state.stopping.store(true, ordering: .relaxed)
        let deadline = monotonicSeconds() + 2
        while state.streams.load(ordering: .relaxed) > 0, monotonicSeconds() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let listening = channel.withLock { value -> (any Channel)? in defer { value = nil }; return value }
        if let listening { try? await listening.close() }
        if inherited == nil { unlink(path) }
        streamJobs.finish()
        try? await work.shutdownGracefully()
    }

    /// Runs streamed replies as child tasks until the server stops; the API service calls it.
    func runStreams() async {
        await withDiscardingTaskGroup { group in
            for await job in streams {
                group.addTask { await job() }
            }
        }
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
    let work: NIOThreadPool
    let streamJobs: AsyncStream<@Sendable () async -> Void>.Continuation
    let limits: ServerLimits
    let state: ServerState
    let logger: Logger
    /// Who is connecting decides what they may change; the kernel vouches for it (SO_PEERCRED, SO_PEERGROUPS).
    private let peer: PeerCredentials?
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var overLimit = false
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(router: @escaping @Sendable (APIRequest) -> APIResponse, work: NIOThreadPool,
         streamJobs: AsyncStream<@Sendable () async -> Void>.Continuation,
         limits: ServerLimits, state: ServerState, peer: PeerCredentials?, logger: Logger) {
        self.router = router
        self.work = work
        self.streamJobs = streamJobs
        self.limits = limits
        self.state = state
        self.peer = peer
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Counted from the accept and never reset: a client that sends a byte now and then must still finish
        // its request in time, or it could hold its slot for ever.
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: .seconds(Int64(limits.requestDeadlineSeconds))) {
            let (handler, context) = bound.value
            handler.requestTooSlow(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func requestTooSlow(context: ChannelHandlerContext) {
        deadline = nil
        guard !answered, context.channel.isActive else { return }
        answered = true
        let uid = peer?.uid ?? unknownPeerUID
        if let count = state.connections.withLock({ $0.logDue(uid: uid, .tooSlow, now: monotonicSeconds()) }) {
            logger.warning("socket connections closed: no complete request within \(limits.requestDeadlineSeconds) s",
                           metadata: ["uid": "\(uid)", "closed_since_last_warning": "\(count)"])
        }
        write(context: context, response: .error(408, "request_timeout",
                                                  "the request did not arrive in full within \(limits.requestDeadlineSeconds) s of connecting; "
                                                    + "send the whole request at once"),
              version: head?.version ?? .http1_1)
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
                answer(context: context, response: .error(413, "too_large", "the request body is over \(limits.maxBodyBytes) bytes"),
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
            if overLimit {
                answer(context: context, response: .error(413, "too_large", "the request body is over \(limits.maxBodyBytes) bytes"),
                       version: requestHead.version)
                return
            }
            let request: APIRequest
            do {
                request = try APIRequest(method: requestHead.method.rawValue, target: requestHead.uri, body: body, peer: peer)
            } catch {
                answer(context: context, response: error.response, version: requestHead.version)
                return
            }
            answered = true
            deadline?.cancel()
            body = []
            let router = self.router
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            work.runIfActive(eventLoop: loop) { router(request) }.whenComplete { result in
                let (handler, context) = bound.value
                let response = (try? result.get()) ?? .error(503, "stopping", "insightd is stopping; try again once it is back")
                handler.write(context: context, response: response, version: requestHead.version)
            }
        }
    }

    /// Replies at once, without the router, and stops reading the request.
    private func answer(context: ChannelHandlerContext, response: APIResponse, version: HTTPVersion) {
        answered = true
        deadline?.cancel()
        write(context: context, response: response, version: version)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("socket client error", metadata: ["error": "\(error)"])
        if error is HTTPParserError {
            // Bytes after a complete request do not cost it its reply, which closes the connection anyway.
            if answered { return }
            // A request the HTTP parser rejects still gets a JSON error, like every other refusal.
            if context.channel.isActive {
                answer(context: context, response: .error(400, "bad_request", "the request is not valid HTTP/1.1 (\(error))"),
                       version: head?.version ?? .http1_1)
                return
            }
        }
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
            let sink = ChannelChunkSink(channel: channel, state: state, timeout: limits.writeTimeout, work: work)
            let job: @Sendable () async -> Void = { [logger, state] in
                defer { state.streams.wrappingSubtract(1, ordering: .relaxed) }
                do {
                    try await produce(sink)
                    try await sink.finish()
                } catch {
                    logger.debug("streamed reply ended early", metadata: ["error": "\(error)"])
                }
                channel.close(promise: nil)
            }
            if case .terminated = streamJobs.yield(job) {
                state.streams.wrappingSubtract(1, ordering: .relaxed)
                channel.close(promise: nil)
            }
        }
    }
}

/// Writes chunks from a streamed reply's task, awaiting each write so a slow reader slows the producer instead
/// of filling memory; a reader that takes nothing for `timeout` is disconnected.
struct ChannelChunkSink: ChunkSink {
    let channel: any Channel
    let state: ServerState
    let timeout: TimeAmount
    let work: NIOThreadPool

    var shouldStop: Bool { !channel.isActive || state.stopping.load(ordering: .relaxed) }

    func write(_ bytes: [UInt8]) async throws {
        try await send(.body(.byteBuffer(channel.allocator.buffer(bytes: bytes))))
    }

    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await work.runIfActive(body)
    }

    /// Ends the chunked reply.
    func finish() async throws {
        try await send(.end(nil))
    }

    private func send(_ part: HTTPServerResponsePart) async throws {
        let channel = self.channel, timeout = self.timeout
        try await channel.eventLoop.flatSubmit {
            let written = channel.writeAndFlush(part)
            let guardTask = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            written.whenComplete { _ in guardTask.cancel() }
            return written
        }.get()
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

/// Looks at the request line and headers before the HTTP parser does: a longer request line gets a 414, more
/// header bytes a 431, `CONNECT` a 405 and a method insightd does not know a 501, each with a JSON error and a
/// close. The parser itself would answer an unknown method with a bare 400, and `CONNECT` would turn the rest
/// of the connection into a tunnel.
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The methods of RFC 9110 and PATCH (RFC 5789): the router answers those it has no route for with a 405.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"]

    let limits: ServerLimits
    private var seen = 0
    private var lineLength = 0
    private var firstLine = true
    private var method: [UInt8]? = []
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
            if !checkMethod(context, byte) { return }
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
                refuse(context, 414, "URI Too Long", "too_large", "the request line is over \(limits.maxRequestLineBytes) bytes")
                return
            }
            if seen > limits.maxHeaderBytes {
                refuse(context, 431, "Request Header Fields Too Large", "too_large", "the request headers are over \(limits.maxHeaderBytes) bytes")
                return
            }
        }
        context.fireChannelRead(data)
    }

    /// Collects the method up to its space and judges it there; false once the connection is refused.
    private func checkMethod(_ context: ChannelHandlerContext, _ byte: UInt8) -> Bool {
        guard var name = method else { return true }
        if byte != UInt8(ascii: " ") {
            // Not a token: the parser refuses it. A token over 32 bytes is no method insightd knows; keep no more.
            guard Self.isTokenByte(byte) else {
                method = nil
                return true
            }
            if name.count <= 32 { name.append(byte) }
            method = name
            return true
        }
        method = nil
        let text = String(decoding: name, as: UTF8.self)
        if text == "CONNECT" {
            refuse(context, 405, "Method Not Allowed", "method_not_allowed",
                   "CONNECT is not allowed: insightd is not a proxy; the API uses GET, POST and DELETE on /v1/…")
            return false
        }
        if !text.isEmpty, !Self.knownMethods.contains(text) {
            refuse(context, 501, "Not Implemented", "not_implemented",
                   "\(text) is not a method insightd knows; the API uses GET, POST and DELETE on /v1/…")
            return false
        }
        return true
    }

    private static let tokenSymbols = Set("!#$%&'*+-.^_`|~".utf8)

    /// A `tchar` of RFC 9110 §5.6.2.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): return true
        default: return tokenSymbols.contains(byte)
        }
    }

    private func refuse(_ context: ChannelHandlerContext, _ status: Int, _ reason: String, _ code: String, _ message: String) {
        refused = true
        let channel = context.channel
        let reply = rawErrorReply(status: status, reason: reason, code: code, message: message)
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
