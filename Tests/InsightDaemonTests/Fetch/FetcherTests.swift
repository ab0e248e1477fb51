import Foundation
import InsightCore
import NIOConcurrencyHelpers
import NIOCore
import Testing
@testable import InsightDaemon

/// The fetcher against real HTTP servers on 127.0.0.1.
@Suite("Fetcher over real HTTP")
struct FetcherTests {
    /// Settings for loopback tests: private addresses allowed, no per-host pause, short timeouts.
    static func loopbackSettings() -> FetchSettings {
        var settings = FetchSettings()
        settings.allowPrivateAddresses = true
        settings.perHostDelay = 0
        settings.connectTimeout = 2
        settings.totalTimeout = 8
        return settings
    }

    static func withServer(_ respond: @escaping @Sendable (HTTPTestServer.Request) -> HTTPTestServer.Response,
                           _ body: (HTTPTestServer) async throws -> Void) async throws {
        let server = try await HTTPTestServer.start(respond)
        do {
            try await body(server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func request(_ url: String, etag: String? = nil, lastModified: String? = nil, attempt: Int = 0) throws -> FetchRequest {
        FetchRequest(url: try CanonicalURL(url), etag: etag, lastModified: lastModified, attempt: attempt)
    }

    @Test("200 with gzip: body decompressed, headers parsed, Accept-Encoding and User-Agent sent")
    func gzipSuccess() async throws {
        try await Self.withServer({ _ in
            .full(status: 200, headers: [("Content-Type", "text/html; charset=UTF-8"), ("Content-Encoding", "gzip"),
                                         ("ETag", "\"g1\""), ("Last-Modified", "Tue, 15 Nov 1994 12:45:26 GMT")],
                  body: GzipFixture.gzipped)
        }) { server in
            let fetcher = Fetcher(settings: Self.loopbackSettings())
            let outcome = await fetcher.fetch(try Self.request(server.url("/article")))
            guard case .success(let response) = outcome else {
                Issue.record("expected success, got \(outcome)")
                return
            }
            #expect(String(decoding: response.body, as: UTF8.self) == GzipFixture.body)
            #expect(response.body.count > GzipFixture.gzipped.count)
            #expect(response.status == 200)
            #expect(response.mediaType == "text/html")
            #expect(response.charset == "utf-8")
            #expect(response.etag == "\"g1\"")
            #expect(response.lastModified == "Tue, 15 Nov 1994 12:45:26 GMT")
            #expect(response.finalURL == server.url("/article"))
            let sent = try #require(server.requests.first)
            #expect(sent.header("Accept-Encoding")?.contains("gzip") == true)
            #expect(sent.header("User-Agent") == "insightd/\(InsightVersion.current) (+https://github.com/insightd/insightd)")
        }
    }

    @Test("301 chain is followed to the final URL")
    func redirectChain() async throws {
        try await Self.withServer({ request in
            switch request.path {
            case "/r1": .redirect(301, to: "/r2")
            case "/r2": .redirect(302, to: "/final")
            case "/final": .text(200, "<p>arrived</p>")
            default: .text(404, "no")
            }
        }) { server in
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/r1")))
            let response = try #require(outcome.response, "got \(outcome)")
            #expect(response.finalURL == server.url("/final"))
            #expect(response.redirectCount == 2)
            #expect(String(decoding: response.body, as: UTF8.self) == "<p>arrived</p>")
            #expect(server.requests.map(\.path) == ["/r1", "/r2", "/final"])
        }
    }

    @Test("a redirect to a non-http scheme is refused as permanent", arguments: ["ftp://127.0.0.1/file.txt", "file:///etc/passwd"])
    func redirectToOtherScheme(_ target: String) async throws {
        try await Self.withServer({ _ in .redirect(301, to: target) }) { server in
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/go")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .refusedScheme)
            #expect(failure.reason.contains(target))
            #expect(failure.reason.contains("only http and https"))
        }
    }

    @Test("too many redirects is a permanent failure after the configured limit")
    func tooManyRedirects() async throws {
        try await Self.withServer({ request in
            let n = Int(request.path.split(separator: "/").last ?? "") ?? 0
            return .redirect(302, to: "/loop/\(n + 1)")
        }) { server in
            var settings = Self.loopbackSettings()
            settings.maximumRedirects = 3
            let outcome = await Fetcher(settings: settings).fetch(try Self.request(server.url("/loop/0")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .tooManyRedirects)
            #expect(failure.reason.contains("3 redirects"))
            // The first request plus three followed redirects.
            #expect(server.requests.map(\.path) == ["/loop/0", "/loop/1", "/loop/2", "/loop/3"])
        }
    }

    @Test("404 is a permanent failure")
    func notFound() async throws {
        try await Self.withServer({ _ in .text(404, "gone") }) { server in
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/missing")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .httpStatus)
            #expect(failure.status == 404)
            #expect(failure.reason.contains("404 Not Found"))
        }
    }

    @Test("500 is transient with a backoff time, and the retry then succeeds")
    func serverErrorThenSuccess() async throws {
        let calls = NIOLockedValueBox(0)
        try await Self.withServer({ _ in
            let n = calls.withLockedValue { $0 += 1; return $0 }
            return n == 1 ? .text(500, "boom") : .text(200, "<p>recovered</p>")
        }) { server in
            let fetcher = Fetcher(settings: Self.loopbackSettings())
            let before = Date()
            let first = await fetcher.fetch(try Self.request(server.url("/flaky")))
            guard case .transientFailure(let failure, let retryAt) = first else {
                Issue.record("expected a transient failure, got \(first)")
                return
            }
            #expect(failure.code == .httpStatus)
            #expect(failure.status == 500)
            // Attempt 0 with base 30 s: between 15 and 30 s from now (upper half jittered).
            let delay = retryAt.timeIntervalSince(before)
            #expect(delay >= 14.9 && delay <= 31, "delay \(delay)")
            let second = await fetcher.fetch(try Self.request(server.url("/flaky"), attempt: 1))
            guard case .success(let response) = second else {
                Issue.record("expected success on retry, got \(second)")
                return
            }
            #expect(String(decoding: response.body, as: UTF8.self) == "<p>recovered</p>")
        }
    }

    @Test("429 with Retry-After in seconds or as an HTTP-date sets the retry time",
          arguments: [(false, 120.0), (true, 3600.0)])
    func tooManyRequests(_ asDate: Bool, _ seconds: Double) async throws {
        let target = Date().addingTimeInterval(seconds)
        let value = asDate ? Self.httpDate(target) : String(Int(seconds))
        try await Self.withServer({ _ in .text(429, "slow down", headers: [("Retry-After", value)]) }) { server in
            let before = Date()
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/busy")))
            let after = Date()
            guard case .transientFailure(let failure, let retryAt) = outcome else {
                Issue.record("expected a transient failure, got \(outcome)")
                return
            }
            #expect(failure.status == 429)
            #expect(failure.reason.contains("429 Too Many Requests"))
            // Bounds that hold however slow the machine is: a date names an instant (to the second);
            // a number of seconds counts from when the reply arrived.
            if asDate {
                #expect(abs(retryAt.timeIntervalSince(target)) < 1.5, "Retry-After \(value) gave \(retryAt)")
            } else {
                #expect(retryAt >= before.addingTimeInterval(seconds - 1) && retryAt <= after.addingTimeInterval(seconds + 1),
                        "Retry-After \(value) gave \(retryAt)")
                #expect(failure.retryAfter == seconds)
            }
        }
    }

    @Test("after a 429 with Retry-After, further requests to that host end without contacting it")
    func hostBackingOff() async throws {
        try await Self.withServer({ _ in .text(429, "slow down", headers: [("Retry-After", "120")]) }) { server in
            let fetcher = Fetcher(settings: Self.loopbackSettings())
            // The pause runs from the 429; measured from before it, so a busy machine's delays do not count.
            let asked = Date()
            let first = await fetcher.fetch(try Self.request(server.url("/one")))
            #expect(first.failure?.status == 429)
            let second = await fetcher.fetch(try Self.request(server.url("/two")))
            guard case .transientFailure(let failure, let retryAt) = second else {
                Issue.record("expected a transient failure, got \(second)")
                return
            }
            #expect(failure.code == .hostBackingOff)
            #expect(failure.reason.contains("127.0.0.1"))
            #expect(retryAt.timeIntervalSince(asked) >= 119)
            #expect(server.requests.map(\.path) == ["/one"])
        }
    }

    @Test("a slow-drip server is cut off by the low-speed floor")
    func lowSpeedFloor() async throws {
        try await Self.withServer({ _ in
            .drip(status: 200, headers: [("Content-Type", "text/html")], chunk: [UInt8(ascii: "x")],
                  interval: .milliseconds(250), count: 200)
        }) { server in
            var settings = Self.loopbackSettings()
            settings.lowSpeedLimit = 100
            settings.lowSpeedTime = 1
            settings.totalTimeout = 20
            let outcome = await Fetcher(settings: settings).fetch(try Self.request(server.url("/drip")))
            guard case .transientFailure(let failure, _) = outcome else {
                Issue.record("expected a transient failure, got \(outcome)")
                return
            }
            #expect(failure.code == .timedOut)
            #expect(failure.reason.contains("too slow"), "\(failure.reason)")
        }
    }

    @Test("a server that never answers is cut off by the total timeout")
    func totalTimeout() async throws {
        try await Self.withServer({ _ in .delayed(.seconds(30), then: .text(200, "too late")) }) { server in
            var settings = Self.loopbackSettings()
            settings.lowSpeedLimit = 0
            settings.totalTimeout = 1
            let outcome = await Fetcher(settings: settings).fetch(try Self.request(server.url("/silent")))
            guard case .transientFailure(let failure, _) = outcome else {
                Issue.record("expected a transient failure, got \(outcome)")
                return
            }
            #expect(failure.code == .timedOut)
            #expect(failure.reason.contains("timed out"), "\(failure.reason)")
        }
    }

    @Test("a body over the cap is refused: announced by Content-Length, or streamed without one",
          arguments: [false, true])
    func bodyOverCap(_ chunked: Bool) async throws {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
        try await Self.withServer({ _ in
            .full(status: 200, headers: [("Content-Type", "text/plain")], body: body, chunked: chunked)
        }) { server in
            var settings = Self.loopbackSettings()
            settings.maximumBodyBytes = 10_000
            let outcome = await Fetcher(settings: settings).fetch(try Self.request(server.url("/big")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .bodyTooLarge)
            #expect(failure.reason.contains("10000 bytes"))
        }
    }

    @Test("a Latin-1 page keeps its bytes and reports the charset from the header")
    func latin1() async throws {
        let bytes: [UInt8] = Array("<p>Caf".utf8) + [0xE9] + Array(" cr".utf8) + [0xE8] + Array("me</p>".utf8)
        try await Self.withServer({ _ in
            .full(status: 200, headers: [("Content-Type", "text/html; charset=\"ISO-8859-1\"")], body: bytes)
        }) { server in
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/latin1")))
            let response = try #require(outcome.response, "got \(outcome)")
            #expect(response.charset == "iso-8859-1")
            #expect(response.body == bytes)
            #expect(String(bytes: response.body, encoding: .isoLatin1) == "<p>Café crème</p>")
        }
    }

    @Test("an unsupported content type is a permanent failure")
    func unsupportedType() async throws {
        try await Self.withServer({ _ in
            .full(status: 200, headers: [("Content-Type", "application/octet-stream")], body: [1, 2, 3])
        }) { server in
            let outcome = await Fetcher(settings: Self.loopbackSettings()).fetch(try Self.request(server.url("/blob")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .unsupportedContentType)
            #expect(failure.reason.contains("application/octet-stream"))
        }
    }

    @Test("conditional GET: ETag and Last-Modified are sent back and 304 is notModified")
    func conditionalGet() async throws {
        let lastModified = "Wed, 21 Oct 2015 07:28:00 GMT"
        try await Self.withServer({ request in
            if request.header("If-None-Match") == "\"v1\"" {
                return .full(status: 304, headers: [("ETag", "\"v1\"")])
            }
            return .text(200, "<p>v1</p>", headers: [("ETag", "\"v1\""), ("Last-Modified", lastModified)])
        }) { server in
            let fetcher = Fetcher(settings: Self.loopbackSettings())
            let first = await fetcher.fetch(try Self.request(server.url("/doc")))
            guard case .success(let original) = first else {
                Issue.record("expected success, got \(first)")
                return
            }
            let second = await fetcher.fetch(try Self.request(server.url("/doc"), etag: original.etag, lastModified: original.lastModified))
            guard case .notModified(let response) = second else {
                Issue.record("expected notModified, got \(second)")
                return
            }
            #expect(response.status == 304)
            #expect(response.body.isEmpty)
            #expect(response.etag == "\"v1\"")
            #expect(response.lastModified == lastModified)
            let conditional = try #require(server.requests.last)
            #expect(conditional.header("If-None-Match") == "\"v1\"")
            #expect(conditional.header("If-Modified-Since") == lastModified)
            #expect(server.requests.first?.header("If-None-Match") == nil)
        }
    }

    @Test("per-host limit 1 with a delay: requests to one host never overlap and are spaced out")
    func perHostDelay() async throws {
        try await Self.withServer({ _ in .delayed(.milliseconds(100), then: .text(200, "ok")) }) { server in
            var settings = Self.loopbackSettings()
            settings.globalConcurrency = 4
            settings.perHostConcurrency = 1
            settings.perHostDelay = 0.3
            let fetcher = Fetcher(settings: settings)
            let urls = try (1...3).map { try Self.request(server.url("/p\($0)")) }
            let outcomes = await withTaskGroup(of: FetchOutcome.self) { group in
                for request in urls { group.addTask { await fetcher.fetch(request) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.response?.status == 200 })
            // The server logs a completion just after the client has the response: wait for it.
            let events = await server.events(atLeast: 6)
            #expect(events.count == 6)
            // Strict alternation: each request completes before the next one arrives.
            #expect(events.map(\.kind) == [.received, .completed, .received, .completed, .received, .completed])
            for index in stride(from: 1, to: events.count - 1, by: 2) where events.count == 6 {
                #expect(events[index].path == events[index - 1].path)
                let gap = events[index].time.duration(to: events[index + 1].time)
                #expect(gap >= .milliseconds(290), "gap between requests to one host: \(gap)")
            }
        }
    }

    @Test("per-host limit 2 lets two requests to one host run at once")
    func perHostConcurrencyTwo() async throws {
        try await Self.withServer({ _ in .barrier(count: 2, timeout: .seconds(5), then: .text(200, "together")) }) { server in
            var settings = Self.loopbackSettings()
            settings.perHostConcurrency = 2
            let fetcher = Fetcher(settings: settings)
            let a = try Self.request(server.url("/a"))
            let b = try Self.request(server.url("/b"))
            async let first = fetcher.fetch(a)
            async let second = fetcher.fetch(b)
            let (one, two) = await (first, second)
            // The server answers 200 only when both requests were in flight together.
            #expect(one.response?.status == 200, "\(one)")
            #expect(two.response?.status == 200, "\(two)")
        }
    }

    @Test("with the default address policy a link to 127.0.0.1 is refused before any request")
    func loopbackRefusedByDefault() async throws {
        try await Self.withServer({ _ in .text(200, "should not be reached") }) { server in
            var settings = FetchSettings()
            settings.perHostDelay = 0
            #expect(settings.allowPrivateAddresses == false)
            let outcome = await Fetcher(settings: settings).fetch(try Self.request(server.url("/secret")))
            guard case .permanentFailure(let failure) = outcome else {
                Issue.record("expected a permanent failure, got \(outcome)")
                return
            }
            #expect(failure.code == .refusedAddress)
            #expect(failure.reason.contains("127.0.0.1"))
            #expect(failure.reason.contains("loopback"))
            #expect(server.requests.isEmpty)
        }
    }

    @Test("cancelling the calling task stops a running transfer")
    func cancellation() async throws {
        try await Self.withServer({ _ in
            .drip(status: 200, headers: [("Content-Type", "text/html")], chunk: Array(repeating: 0x41, count: 200),
                  interval: .milliseconds(100), count: 3000)
        }) { server in
            var settings = Self.loopbackSettings()
            settings.totalTimeout = 300  // only the cancellation may end this transfer
            let fetcher = Fetcher(settings: settings)
            let request = try Self.request(server.url("/long"))
            let task = Task { await fetcher.fetch(request) }
            // Generous: on a busy machine the first request can take seconds to arrive; the drip lasts 300 s.
            #expect(await server.waitFor(timeout: .seconds(60)) { $0.count == 1 })
            task.cancel()
            let outcome = await task.value
            guard case .transientFailure(let failure, _) = outcome else {
                Issue.record("expected a cancelled transient failure, got \(outcome)")
                return
            }
            #expect(failure.code == .cancelled)
        }
    }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
