import Foundation
import InsightClient
import InsightCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One raw exchange on the Unix socket: the bytes are sent in `pieces` with `pause` between them; the reply
/// is read until the server closes or `readTimeout` passes (0: do not read, just close).
func exchange(_ path: String, _ pieces: [[UInt8]], pause: useconds_t = 0, readTimeout: Int = 3) -> [UInt8] {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var timeout = timeval(tv_sec: readTimeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let connected = withUnixSocketAddress(path) { connect(fd, $0, $1) }
    guard connected == 0 else { return Array("CONNECT FAILED".utf8) }
    for (index, piece) in pieces.enumerated() {
        if index > 0, pause > 0 { usleep(pause) }
        // The server may answer and close before everything is sent (413, 414, 431): stop sending then.
        if piece.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) < 0 { break }
    }
    guard readTimeout > 0 else { return [] }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while reply.count < 1 << 20 {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        reply += buffer[0..<count]
    }
    return reply
}

/// The status code of a raw reply, or nil when there is none.
func statusCode(_ reply: [UInt8]) -> Int? {
    let text = String(decoding: reply.prefix(32), as: UTF8.self)
    let parts = text.split(separator: " ")
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { return nil }
    return Int(parts[1])
}

/// A malformed, oversized, truncated or slow request, by number, with whether a reply must be read.
func hostileRequest(_ number: Int) -> (pieces: [[UInt8]], pause: useconds_t, read: Bool) {
    let b = { (text: String) in Array(text.utf8) }
    switch number % 20 {
    case 0: return ([(0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ number) } + b("\r\n\r\n")], 0, true)
    case 1: return ([b("GET /v1/search?q=" + String(repeating: "a", count: 10_000) + " HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 2: return ([b("GET /v1/status HTTP/1.1\r\n" + String(repeating: "X-Filler: " + String(repeating: "b", count: 1000) + "\r\n", count: 40) + "\r\n")], 0, true)
    case 3: return ([b("POST /v1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{}")], 0, true)
    case 4: return ([b("POST /v1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"), [UInt8](repeating: 0x7B, count: 70_000)], 0, true)
    case 5: return ([b("GET /v1/status HTTP/9.9\r\nHost: x\r\n\r\n")], 0, true)
    case 6: return ([b("GET /v1/no-such-thing HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 7: return ([b("DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 8: return ([b("GET /v1/search?q=%20 HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 9: return ([b("GET /v1/recent?limit=-\(number) HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 10: return ([b("GET /v1/insights/1%27%3B%20DROP%20TABLE%20insight HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 11: return ([b("GET /v1/sta")], 0, false)  // truncated, then gone
    case 12: return ([b("GET /v1/st"), b("atus HTTP/1.1\r\n"), b("Ho")], 20_000, false)  // slow and never finished
    case 13: return ([b("POST /v1/retry HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nnot a chunk\r\n\r\n")], 0, true)
    case 14: return ([b("GET /v1/status HTTP/1.1\r\nHost: x\0y\r\n\r\n")], 0, true)
    case 15: return ([b("POST /v1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{not json")], 0, true)
    case 16: return ([b("POST /v1/retry HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")], 0, true)
    case 17: return ([b("GET /v1/%00%ff%fe/../../etc HTTP/1.1\r\nHost: x\r\n\r\n")], 0, true)
    case 18: return ([b("GET /v1/status HTTP/1.1\r\nthis header has no colon\r\n\r\n")], 0, true)
    default: return ([b("GET /v1/export?format=jsonl&since=yesterday HTTP/1.1\r\n"), b("Host: x\r\n\r\n")], 10_000, true)  // slow, bad value
    }
}

@Suite("hostile clients on the socket", .serialized)
struct APIHostileClientTests {
    @Test func aThousandBadRequestsAndSixtyFourClientsWhileTwoHundredFilesArrive() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let started = Date()
        let work = DispatchGroup()

        // 200 files, two insights each, dropped while the socket is under attack.
        DispatchQueue.global().async(group: work) {
            for index in 0..<200 {
                try? daemon.moveIn("burst-\(index).txt", """
                    Observation \(index) of the burst says that measured things drift in their own particular way.

                    A second remark from file \(index) notes that every burst ends with a careful count.

                    """)
                usleep(5_000)
            }
        }

        // 1,000 bad requests from 16 clients at a time.
        let badReplies = Mutex<[Int: [UInt8]]>([:])
        DispatchQueue.global().async(group: work) {
            DispatchQueue.concurrentPerform(iterations: 16) { lane in
                for number in stride(from: lane, to: 1000, by: 16) {
                    let request = hostileRequest(number)
                    let reply = exchange(daemon.socket, request.pieces, pause: request.pause, readTimeout: request.read ? 3 : 0)
                    badReplies.withLock { $0[number] = reply }
                }
            }
        }

        // 64 well-formed clients at once, each asking several things.
        let goodStatuses = Mutex<[Int]>([])
        DispatchQueue.global().async(group: work) {
            DispatchQueue.concurrentPerform(iterations: 64) { index in
                let client = SocketClient(path: daemon.socket)
                for target in ["/v1/status", "/v1/search?q=burst", "/v1/recent?limit=5", "/v1/export?format=csv", "/v1/failed"] {
                    let reply = try? client.request("GET", target)
                    let ok = reply.map { $0.status == 200 && $0.headers["insightd-api"] == "1" } ?? false
                    goodStatuses.withLock { $0.append(ok ? 200 : (reply?.status ?? -1)) }
                }
            }
        }
        #expect(work.wait(timeout: .now() + 90) == .success)

        let replies = badReplies.withLock { $0 }
        #expect(replies.count == 1000)
        for (number, reply) in replies.sorted(by: { $0.key < $1.key }) {
            if reply.isEmpty { continue }  // closed without a reply: allowed
            let code = statusCode(reply)
            #expect(code.map { (400..<500).contains($0) } == true,
                    "request \(number) (kind \(number % 20)) got \(String(decoding: reply.prefix(60), as: UTF8.self).debugDescription)")
        }
        let answered = replies.values.filter { statusCode($0) != nil }.count
        let good = goodStatuses.withLock { $0 }
        #expect(good.count == 320)
        #expect(good.allSatisfy { $0 == 200 }, "well-formed replies: \(Dictionary(grouping: good, by: { $0 }).mapValues(\.count))")

        // Ingestion finished the burst, with the right counts, and the daemon is still up and unpaused.
        let report = try daemon.waitForStatus(timeout: 60, "the 200 dropped files are stored") { $0.files.ingested == 200 }
        #expect(report.insights.unique == 400)
        #expect(report.insights.occurrences == 400)
        #expect(report.files.failed == 0)
        #expect(report.state == "running")
        #expect(daemon.process?.isRunning == true)
        print("hostile run: 1,000 bad requests (\(answered) answered with a 4xx, \(1000 - answered) closed), 320 good requests, "
              + "200 files ingested, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    @Test func streamsThatNobodyReadsCannotStarveOtherRequests() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        // 16 watchers that never read hold every stream slot; the 17th is told to come back later.
        var holders: [Int32] = []
        defer { holders.forEach { close($0) } }
        for _ in 0..<16 {
            holders.append(try openStream(daemon.socket, "/v1/status?watch=1&interval=0.1"))
        }
        usleep(300_000)
        let refused = exchange(daemon.socket, [Array("GET /v1/export HTTP/1.1\r\nHost: x\r\n\r\n".utf8)])
        #expect(statusCode(refused) == 503)
        #expect(String(decoding: refused, as: UTF8.self).contains("streamed replies already"))
        // Quick requests still answer at once.
        let client = SocketClient(path: daemon.socket, timeoutSeconds: 5)
        for _ in 0..<20 {
            #expect(try client.request("GET", "/v1/status").status == 200)
            #expect(try client.request("GET", "/v1/search?q=anything").status == 200)
        }
        // Once the holders go, streams are served again.
        holders.forEach { close($0) }
        holders = []
        try waitUntil(timeout: 10, "a stream slot is free") {
            statusCode(exchange(daemon.socket, [Array("GET /v1/export HTTP/1.1\r\nHost: x\r\n\r\n".utf8)])) == 200
        }
    }

    @Test func connectionsBeyondTheCapAreAnsweredOrClosedCleanly() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        // 150 idle connections from root: 128 slots and the 16 reserved for administrators are held open, the
        // rest get a 503 and a close.
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<150 { held.append(try openStream(daemon.socket, nil)) }
        usleep(1_000_000)
        var busy = 0
        for fd in held {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { continue }
            let reply = RawReply(Array(buffer[0..<count]))
            if reply.status == 503 {
                busy += 1
                #expect(reply.error?.error.message == "insightd has 144 connections open; try again shortly")
            }
        }
        #expect(busy == 6)
        held.forEach { close($0) }
        held = []
        try waitUntil(timeout: 10, "the daemon answers again") { (try? daemon.status()) != nil }
    }
}

/// Connects and, when `target` is given, sends a GET for it; returns the descriptor without reading.
func openStream(_ path: String, _ target: String?) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket failed") }
    let connected = withUnixSocketAddress(path) { connect(fd, $0, $1) }
    guard connected == 0 else { close(fd); throw HarnessError("connect failed") }
    if let target {
        let request = Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    return fd
}
