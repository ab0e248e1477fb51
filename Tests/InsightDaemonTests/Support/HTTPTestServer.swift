import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 server on 127.0.0.1 with an ephemeral port, for tests that need a real peer.
/// Every response closes its connection. The server logs when each request arrived and when its
/// response was completely written, so tests can assert on ordering.
final class HTTPTestServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [(String, String)]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
    }

    indirect enum Response: Sendable {
        /// A complete response; Content-Length is added unless `headers` has one or `chunked` is set.
        case full(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], chunked: Bool = false)
        /// Sends headers, then `count` chunks of `chunk` every `interval`, then ends.
        case drip(status: Int, headers: [(String, String)], chunk: [UInt8], interval: TimeAmount, count: Int)
        /// Says nothing for `delay`, then sends `then`.
        case delayed(TimeAmount, then: Response)
        /// Waits (up to `timeout`) until `count` requests are in flight at once, then sends `then`
        /// (or 503 on timeout).
        case barrier(count: Int, timeout: TimeAmount, then: Response)

        static func text(_ status: Int, _ body: String, type: String = "text/html; charset=utf-8",
                         headers: [(String, String)] = []) -> Response {
            .full(status: status, headers: [("Content-Type", type)] + headers, body: Array(body.utf8))
        }

        static func redirect(_ status: Int = 301, to location: String) -> Response {
            .full(status: status, headers: [("Location", location)], body: [])
        }
    }

    enum EventKind: Sendable { case received, completed }

    struct Event: Sendable {
        var kind: EventKind
        var path: String
        var sequence: Int
        var time: ContinuousClock.Instant
    }

    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let state: NIOLockedValueBox<State>

    private struct State {
        var events: [Event] = []
        var requests: [Request] = []
        var inFlight = 0
        var barrierWaiters: [@Sendable () -> Void] = []
        var nextSequence = 0
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts listening; `respond` picks the response for each request (called on the event loop).
    static func start(_ respond: @escaping @Sendable (Request) -> Response) async throws -> HTTPTestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = NIOLockedValueBox(State())
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(Handler(respond: respond, state: state))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            guard let port = channel.localAddress?.port else {
                try? await channel.close()
                try? await group.shutdownGracefully()
                throw ServerError.noPort
            }
            return HTTPTestServer(port: port, group: group, channel: channel, state: state)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    enum ServerError: Error { case noPort }

    private init(port: Int, group: MultiThreadedEventLoopGroup, channel: any Channel, state: NIOLockedValueBox<State>) {
        self.port = port
        self.group = group
        self.channel = channel
        self.state = state
    }

    func url(_ path: String) -> String { baseURL + path }

    /// Requests received so far, in arrival order.
    var requests: [Request] { state.withLockedValue { $0.requests } }

    /// Arrival and completion events so far, in order.
    var events: [Event] { state.withLockedValue { $0.events } }

    /// Waits (polling, bounded) until `condition` holds for the request log.
    func waitFor(timeout: Duration = .seconds(30), _ condition: @Sendable ([Request]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(requests) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(requests)
    }

    /// Waits (polling, bounded) until at least `count` events were logged; returns the log.
    func events(atLeast count: Int, timeout: Duration = .seconds(30)) async -> [Event] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, events.count < count {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return events
    }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let respond: @Sendable (Request) -> Response
        let state: NIOLockedValueBox<State>
        var head: HTTPRequestHead?

        init(respond: @escaping @Sendable (Request) -> Response, state: NIOLockedValueBox<State>) {
            self.respond = respond
            self.state = state
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
            case .body:
                break
            case .end:
                guard let head else { return }
                let request = Request(method: head.method.rawValue, path: head.uri,
                                      headers: head.headers.map { ($0.name, $0.value) })
                state.withLockedValue {
                    $0.requests.append(request)
                    $0.events.append(Event(kind: .received, path: request.path, sequence: $0.nextSequence, time: .now))
                    $0.nextSequence += 1
                    $0.inFlight += 1
                }
                send(respond(request), path: request.path, context: context)
            }
        }

        private func send(_ response: Response, path: String, context: ChannelHandlerContext) {
            let loop = context.eventLoop
            switch response {
            case .full(let status, let headers, let body, let chunked):
                var fields = HTTPHeaders(headers)
                if !chunked, !fields.contains(name: "content-length") {
                    fields.add(name: "Content-Length", value: String(body.count))
                }
                fields.add(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields))), promise: nil)
                if !body.isEmpty {
                    context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
                }
                finish(path: path, context: context)
            case .drip(let status, let headers, let chunk, let interval, let count):
                var fields = HTTPHeaders(headers)
                fields.add(name: "Connection", value: "close")
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: fields))), promise: nil)
                drip(chunk: chunk, interval: interval, remaining: count, path: path, context: context)
            case .delayed(let delay, let next):
                let bound = NIOLoopBound(context, eventLoop: loop)
                loop.scheduleTask(in: delay) {
                    guard bound.value.channel.isActive else { return }
                    self.send(next, path: path, context: bound.value)
                }
            case .barrier(let count, let timeout, let next):
                let bound = NIOLoopBound(context, eventLoop: loop)
                let release: @Sendable () -> Void = {
                    loop.execute { if bound.value.channel.isActive { self.send(next, path: path, context: bound.value) } }
                }
                let waiters: [@Sendable () -> Void]? = state.withLockedValue {
                    $0.barrierWaiters.append(release)
                    guard $0.inFlight >= count else { return nil }
                    let all = $0.barrierWaiters
                    $0.barrierWaiters = []
                    return all
                }
                if let waiters {
                    waiters.forEach { $0() }
                } else {
                    loop.scheduleTask(in: timeout) {
                        let stillWaiting = self.state.withLockedValue { s in
                            s.barrierWaiters.count > 0 && s.inFlight < count
                        }
                        if stillWaiting, bound.value.channel.isActive {
                            self.send(.text(503, "barrier timed out"), path: path, context: bound.value)
                        }
                    }
                }
            }
        }

        private func drip(chunk: [UInt8], interval: TimeAmount, remaining: Int, path: String, context: ChannelHandlerContext) {
            guard context.channel.isActive else { return }
            guard remaining > 0 else {
                finish(path: path, context: context)
                return
            }
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: chunk)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: interval) {
                self.drip(chunk: chunk, interval: interval, remaining: remaining - 1, path: path, context: bound.value)
            }
        }

        private func finish(path: String, context: ChannelHandlerContext) {
            let state = self.state
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                state.withLockedValue {
                    $0.events.append(Event(kind: .completed, path: path, sequence: $0.nextSequence, time: .now))
                    $0.nextSequence += 1
                    $0.inFlight -= 1
                }
                bound.value.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            context.fireChannelInactive()
        }
    }
}
