import Foundation
import InsightCore
import Synchronization
import Testing

@Suite("A link's attempts are the requests sent for it", .serialized)
struct FetchAccountingTests {
    @Test func aHostPauseCountsNoAttemptForTheLinksItHoldsBack() async throws {
        // The host's first two answers are 429 with Retry-After: 2, whatever was asked: the pause each one starts
        // holds back every other queued link of the host.
        let answered = Atomic<Int>(0)
        let seen = Mutex<[String: Int]>([:])
        let server = try await HTTPTestServer.start { request in
            seen.withLock { $0[request.path, default: 0] += 1 }
            if answered.wrappingAdd(1, ordering: .relaxed).oldValue < 2 {
                return .text(429, "slow down", headers: [("Retry-After", "2")])
            }
            return .text(200, articlePage("Topic " + request.path.dropFirst()))
        }
        let daemon = try DaemonHarness(environment: [
            "INSIGHTD_FETCH_ALLOW_PRIVATE_ADDRESSES": "true", "INSIGHTD_FETCH_PER_HOST_CONCURRENCY": "1",
            "INSIGHTD_FETCH_PER_HOST_DELAY_MS": "100", "INSIGHTD_FETCH_BACKOFF_BASE_MS": "300", "INSIGHTD_FETCH_MAX_ATTEMPTS": "2",
        ])
        try daemon.start()
        let paths = ["/alpha", "/bravo", "/charlie", "/delta", "/echo", "/foxtrot"]
        try daemon.write("reading.md", "Six articles from one host, each worth keeping for later reading:\n\n"
                         + paths.map { "- \(server.baseURL)\($0)" }.joined(separator: "\n") + "\n")

        try daemon.waitForStatus(timeout: 40, "every link is fetched or failed for good") { report in
            guard report.links.found == paths.count, report.links.queued == 0, report.links.fetching == 0 else { return false }
            return ((try? linkList(daemon)) ?? []).allSatisfy { $0.state == "fetched" || $0.failure == "permanent" }
        }
        let links = try linkList(daemon)
        let requests = seen.withLock { $0 }
        #expect(links.count == paths.count)
        #expect(links.map(\.attempts).reduce(0, +) == requests.values.reduce(0, +))
        for path in paths {
            let link = try #require(links.first { $0.url == server.baseURL + path }, "\(path)")
            let sent = requests[path, default: 0]
            #expect(sent >= 1, "\(path) was never requested")
            #expect(link.attempts == sent, "\(path): \(link.attempts) attempts, \(sent) requests")
            if link.state == "fetched" {
                #expect(sent <= 2, "\(path)")
            } else {
                // Failed for good only after max_attempts real requests, both answered 429.
                #expect(link.failure == "permanent" && sent == 2, "\(path): \(link.state) \(link.failure ?? "-") after \(sent) requests")
            }
        }
        #expect(links.filter { $0.state == "fetched" }.count >= paths.count - 1)
        try daemon.stop()
        await server.stop()
    }
}
