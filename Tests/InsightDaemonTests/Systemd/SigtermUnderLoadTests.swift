import Foundation
import InsightClient
import InsightCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM while 8 clients hammer the socket and a burst of files is being ingested: the daemon must exit 0,
/// remove its socket, and leave a database that a restart completes without counting anything twice.
///
/// Runs 3 times in the normal suite. As a soak: `INSIGHTD_SOAK=1 INSIGHTD_SOAK_RUNS=100 swift test --filter SigtermUnderLoad`
/// (or Tests/InsightDaemonTests/Systemd/sigterm-loop.sh), which prints the figures.
@Suite("SIGTERM under load", .serialized)
struct SigtermUnderLoadTests {
    static let runs: Int = {
        let env = ProcessInfo.processInfo.environment
        guard env["INSIGHTD_SOAK"] == "1" else { return 3 }
        return Int(env["INSIGHTD_SOAK_RUNS"] ?? "") ?? 100
    }()
    static let burstFiles = 120
    static let clients = 8

    struct RunFigures {
        var status: Int32
        var stopSeconds: Double
        var requestsServed: Int
        var ingestedAtStop: Int
    }

    @Test func sigtermWhileHammeredAndIngestingExitsZero() throws {
        var figures: [RunFigures] = []
        for run in 0..<Self.runs {
            figures.append(try oneRun(seed: run))
        }
        let exitZero = figures.filter { $0.status == 0 }.count
        let stops = figures.map(\.stopSeconds).sorted()
        func ms(_ s: Double) -> String { String(format: "%.0f ms", s * 1000) }
        print("""
            SIGTERM under load: \(exitZero) of \(figures.count) runs exited 0; \
            stop time min \(ms(stops.first ?? 0)) · median \(ms(stops[stops.count / 2])) · max \(ms(stops.last ?? 0)); \
            requests answered per run median \(figures.map(\.requestsServed).sorted()[figures.count / 2]); \
            files stored before SIGTERM min \(figures.map(\.ingestedAtStop).min() ?? 0) max \(figures.map(\.ingestedAtStop).max() ?? 0) of \(Self.burstFiles)
            """)
        #expect(exitZero == figures.count)
    }

    private func oneRun(seed: Int) throws -> RunFigures {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_LOG_LEVEL": "info", "INSIGHTD_SETTLE_MS": "5"])
        try daemon.start()
        let pid = try #require(daemon.process?.processIdentifier)
        let stop = Atomic<Bool>(false)
        let served = Atomic<Int>(0)
        let group = DispatchGroup()
        for client in 0..<Self.clients {
            DispatchQueue.global().async(group: group) {
                let socket = SocketClient(path: daemon.socket, timeoutSeconds: 5)
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    i += 1
                    let target = (client + i) % 3 == 0 ? "/v1/search?q=paragraph&limit=5" : "/v1/status"
                    if let reply = try? socket.request("GET", target), reply.status == 200 {
                        served.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        // The burst: renamed in as a browser or `mv` would, from another thread.
        DispatchQueue.global().async(group: group) {
            for index in 0..<Self.burstFiles where !stop.load(ordering: .relaxed) {
                let text = (0..<4).map { "Burst file \(index) paragraph \($0) has more than six words to count." }.joined(separator: "\n\n")
                try? daemon.moveIn("burst-\(index).txt", text)
            }
        }
        // SIGTERM somewhere in the middle of the burst, once storing has begun.
        try waitUntil(timeout: 30, "the first burst file is stored") { ((try? daemon.status().files.ingested) ?? 0) > 0 }
        usleep(useconds_t((seed * 37_000) % 200_000))
        let ingestedAtStop = (try? daemon.status().files.ingested) ?? -1
        let sentAt = testMonotonicSeconds()
        kill(pid, SIGTERM)
        var exited = false
        let deadline = sentAt + 25  // well inside TimeoutStopSec=30s
        while testMonotonicSeconds() < deadline {
            if !(daemon.process?.isRunning ?? false) { exited = true; break }
            usleep(2_000)
        }
        let stopSeconds = testMonotonicSeconds() - sentAt
        stop.store(true, ordering: .relaxed)
        group.wait()
        guard exited, let process = daemon.process else {
            Issue.record("run \(seed): no exit \(stopSeconds) s after SIGTERM; log tail: \(daemon.log.suffix(1500))")
            daemon.crash()
            return RunFigures(status: -1, stopSeconds: stopSeconds, requestsServed: served.load(ordering: .relaxed), ingestedAtStop: ingestedAtStop)
        }
        process.waitUntilExit()
        let status = process.terminationStatus
        #expect(status == 0, "run \(seed): exit status \(status) (reason \(process.terminationReason.rawValue)); log tail: \(daemon.log.suffix(1500))")
        #expect(!FileManager.default.fileExists(atPath: daemon.socket), "run \(seed): the socket was left behind")
        #expect(daemon.log.contains("stopped cleanly"), "run \(seed): no clean stop logged")

        // Nothing half-stored: a restart takes the rest, and every file's 4 insights are there exactly once.
        try daemon.start()
        let written = try FileManager.default.contentsOfDirectory(atPath: daemon.inbox).filter { $0.hasPrefix("burst-") }.count
        let report = try daemon.waitForStatus("all \(written) burst files are stored") { $0.files.ingested == written }
        #expect(report.insights.unique == written * 4, "run \(seed): \(report.insights.unique) insights for \(written) files")
        #expect(report.insights.occurrences == written * 4)
        try daemon.stop()
        return RunFigures(status: status, stopSeconds: stopSeconds, requestsServed: served.load(ordering: .relaxed), ingestedAtStop: ingestedAtStop)
    }
}
