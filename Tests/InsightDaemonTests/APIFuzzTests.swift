import Foundation
import InsightCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Well-formed requests that mutations start from: every route, both body framings, both target forms.
let fuzzSeeds: [String] = {
    func post(_ path: String, _ body: String) -> String {
        "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }
    return [
        "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/search?q=container+shipping&limit=5&since=0 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
        "GET /v1/search?tag=economics HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/insights/1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/recent?limit=3 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/sources?state=ingested,skipped HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/links?failed=1&limit=10 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /v1/export?format=csv HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://localhost/v1/tags HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "GET /v1/conflicts?limit=2 HTTP/1.0\r\n\r\n",
        "DELETE /v1/insights/999999 HTTP/1.1\r\nHost: x\r\n\r\n",
        post("/v1/retry", #"{"path":"a.txt"}"#),
        post("/v1/retry", #"{"all":true}"#),
        post("/v1/links/retry", #"{"id":1}"#),
        post("/v1/links", #"{"url":"https://example.org/fuzz"}"#),
        "POST /v1/retry HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"all\r\n7\r\n\":true}\r\n0\r\n\r\n",
    ]
}()

/// Bytes the mutations like to insert: framing, escapes, controls and multi-byte text.
let fuzzTokens: [[UInt8]] = ["\r\n", "\r\n\r\n", "\0", "%00", "%ff", "%C2%85", "%", "?", "&", "=", "/../", "http://", " ", ":",
                             "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "\u{7F}", "\u{85}", "é", "🦀", "\t", "\"", "\\u0000",
                             "{", "}", "[", "]", "0\r\n\r\n"].map { Array($0.utf8) }

/// One mutation of a seed (or of random bytes), chosen by `rng`.
func mutatedRequest(_ rng: inout SplitMix) -> [UInt8] {
    func pick(_ count: Int) -> Int { Int(rng.next() % UInt64(max(count, 1))) }
    var bytes = Array(fuzzSeeds[pick(fuzzSeeds.count)].utf8)
    for _ in 0...pick(3) {
        switch pick(10) {
        case 0:  // flip bits
            for _ in 0...pick(8) where !bytes.isEmpty { bytes[pick(bytes.count)] ^= UInt8(truncatingIfNeeded: 1 << pick(8)) }
        case 1:  // random bytes anywhere
            bytes.insert(contentsOf: (0...pick(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: pick(bytes.count + 1))
        case 2:  // a token that means something to a parser
            bytes.insert(contentsOf: fuzzTokens[pick(fuzzTokens.count)], at: pick(bytes.count + 1))
        case 3:  // truncate
            bytes = Array(bytes.prefix(pick(bytes.count + 1)))
        case 4:  // delete a range
            if !bytes.isEmpty {
                let start = pick(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + pick(12)))
            }
        case 5:  // repeat a range
            if !bytes.isEmpty {
                let start = pick(bytes.count), end = min(bytes.count, start + 1 + pick(40))
                bytes.insert(contentsOf: Array(repeating: bytes[start..<end], count: 1 + pick(50)).joined(), at: end)
            }
        case 6:  // a huge header
            let at = bytes.firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
            bytes.insert(contentsOf: Array("X-Huge: \(String(repeating: "h", count: 1000 + pick(40_000)))\r\n".utf8), at: at)
        case 7:  // a strange Content-Length
            let values = ["-1", "0", "99999999999999999999", "abc", "1, 2", "70000", " 3 "]
            let at = bytes.firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
            bytes.insert(contentsOf: Array("Content-Length: \(values[pick(values.count)])\r\n".utf8), at: at)
        case 8:  // splice with another seed
            let other = Array(fuzzSeeds[pick(fuzzSeeds.count)].utf8)
            bytes = Array(bytes.prefix(pick(bytes.count + 1))) + other.suffix(pick(other.count + 1))
        default:  // garbage from the start
            bytes = (0..<pick(300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
    }
    return bytes
}

@Suite("random and mangled requests on the socket")
struct APIFuzzTests {
    @Test func mangledRequestsNeverTakeTheDaemonDown() throws {
        let daemon = try startedWithFixtures(environment: ["INSIGHTD_FETCH_ENABLED": "false"])
        defer { _ = try? daemon.stop() }
        let seed: UInt64 = 0x1D5_F022
        let budget = 3.0, lanes = 8, perLane = 1000
        let deadline = Date().addingTimeInterval(budget)
        let problems = Mutex<[String]>([])
        let sent = Atomic<Int>(0), answered = Atomic<Int>(0)
        // Threads, not dispatch workers: each lane blocks on its socket, and Linux does not add workers for that.
        let done = DispatchGroup()
        for lane in 0..<lanes {
            done.enter()
            Thread {
                defer { done.leave() }
                var rng = SplitMix(seed: seed &+ UInt64(lane))
                for number in 0..<perLane where Date() < deadline {
                    let request = mutatedRequest(&rng)
                    // A request cut short is answered only at the request deadline; a quarter second shows any other reply.
                    let reply = fuzzExchange(daemon.socket, request, waitMilliseconds: 250)
                    sent.wrappingAdd(1, ordering: .relaxed)
                    if statusCode(reply) != nil { answered.wrappingAdd(1, ordering: .relaxed) }
                    if let problem = fuzzProblem(reply, head: request.starts(with: Array("HEAD ".utf8))) {
                        let shown = String(decoding: request.prefix(200), as: UTF8.self).debugDescription
                        problems.withLock { $0.append("seed \(seed)+\(lane) request \(number) \(shown): \(problem)") }
                    }
                }
            }.start()
        }
        #expect(done.wait(timeout: .now() + budget + 10) == .success)
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.count) bad replies, the first: \(found.prefix(5).joined(separator: "\n"))")
        // Most were answered, so the checks above saw replies, not only closed connections.
        #expect(sent.load(ordering: .relaxed) >= 100)
        #expect(answered.load(ordering: .relaxed) >= sent.load(ordering: .relaxed) / 3)
        // Still up, and still serving everyone: a status, a search and a streamed export.
        #expect(daemon.process?.isRunning == true)
        let status = try daemon.status()
        #expect(status.insights.unique >= 1)
        #expect(send(daemon, "GET /v1/search?q=shipping HTTP/1.1").status == 200)
        #expect(send(daemon, "GET /v1/export?format=jsonl HTTP/1.1").status == 200)
        print("fuzzed the socket with \(sent.load(ordering: .relaxed)) mangled requests, \(answered.load(ordering: .relaxed)) answered")
    }
}

/// Sends `request` on a new connection and reads the reply until the daemon closes or `waitMilliseconds` pass
/// without a byte.
func fuzzExchange(_ path: String, _ request: [UInt8], waitMilliseconds: Int) -> [UInt8] {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return Array("CONNECT FAILED".utf8) }
    defer { close(fd) }
    var timeout = timeval(tv_sec: waitMilliseconds / 1000, tv_usec: (waitMilliseconds % 1000) * 1000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard withUnixSocketAddress(path, { connect(fd, $0, $1) }) == 0 else { return Array("CONNECT FAILED".utf8) }
    // The daemon may answer and close before everything is sent (413, 414, 431, 501).
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while reply.count < 1 << 20 {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count <= 0 { break }
        reply += buffer[0..<count]
    }
    return reply
}

/// What is wrong with a reply to a mangled request, or nil: none at all (the connection was closed) is fine;
/// otherwise an HTTP/1.1 status line with a status the API uses, and for an error the JSON error body the API
/// promises (a reply to HEAD has no body).
func fuzzProblem(_ bytes: [UInt8], head: Bool) -> String? {
    if bytes.isEmpty { return nil }
    if bytes == Array("CONNECT FAILED".utf8) { return "cannot connect" }
    let reply = RawReply(bytes)
    guard let status = reply.status else { return "no status line in \(String(decoding: bytes.prefix(80), as: UTF8.self).debugDescription)" }
    let expected: Set<Int> = [200, 201, 400, 403, 404, 405, 408, 413, 414, 422, 431, 501, 503]
    guard expected.contains(status) else { return "status \(status): \(reply.body.prefix(200))" }
    if status >= 400, !head, reply.error == nil { return "status \(status) without a JSON error: \(reply.body.prefix(200).debugDescription)" }
    return nil
}
