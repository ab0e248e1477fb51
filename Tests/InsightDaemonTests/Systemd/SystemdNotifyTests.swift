import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("insightd speaks sd_notify: readiness, status, reload, watchdog, stopping", .serialized)
struct SystemdNotifyTests {
    @Test func readyReloadingStoppingAndStatusArriveInOrder() throws {
        let daemon = try DaemonHarness()
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        try daemon.start()
        let ready = try listener.wait(for: "READY")
        #expect(ready.fields["READY"] == "1")
        #expect(ready.fields["STATUS"] == "watching \(daemon.inbox) · 0 insights")
        // No watchdog was asked for, so none is fed.
        #expect(listener.with("WATCHDOG").isEmpty)

        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.waitForStatus("a.txt is ingested") { $0.files.ingested == 1 }
        let unique = try daemon.status().insights.unique
        let status = try listener.wait(for: "STATUS", after: ready.at + 0.001)
        #expect(status.fields["STATUS"] == "watching \(daemon.inbox) · \(unique) insights")

        // SIGHUP: RELOADING=1 with the monotonic time it was sent, then READY=1.
        let before = testMonotonicSeconds()
        kill(try #require(daemon.process?.processIdentifier), SIGHUP)
        let reloading = try listener.wait(for: "RELOADING", after: before)
        let after = testMonotonicSeconds()
        #expect(reloading.fields["RELOADING"] == "1")
        let stamp = try #require(reloading.fields["MONOTONIC_USEC"].flatMap(UInt64.init))
        #expect(Double(stamp) / 1e6 >= before && Double(stamp) / 1e6 <= after)
        let readyAgain = try listener.wait(for: "READY", after: reloading.at)
        #expect(readyAgain.fields["STATUS"]?.hasPrefix("watching ") == true)
        #expect(daemon.log.contains("configuration reloaded; nothing changed trigger=SIGHUP"))
        #expect(try daemon.status().state == "running")

        let stopAt = testMonotonicSeconds()
        #expect(try daemon.stop() == 0)
        let stopping = try listener.wait(for: "STOPPING", after: stopAt)
        #expect(stopping.fields["STOPPING"] == "1")
    }

    @Test func aWedgedPipelineStopsTheWatchdogPings() throws {
        let daemon = try DaemonHarness()
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        daemon.environment["WATCHDOG_USEC"] = "2000000"  // pings due every second
        daemon.environment["INSIGHTD_TEST_WEDGE_FILE"] = "wedge.txt"
        try daemon.start()
        _ = try listener.wait(for: "READY")

        // Healthy and idle: pings keep coming, each well before the watchdog would fire. The bounds are the
        // watchdog's own (2 s), not the ping interval, so a busy machine does not make this fail.
        let idleFrom = testMonotonicSeconds()
        usleep(5_000_000)
        let idlePings = listener.with("WATCHDOG").filter { $0.at >= idleFrom }.map(\.at)
        #expect(idlePings.count >= 3, "pings in 5 s: \(idlePings.count)")
        let gaps = zip(idlePings.dropFirst(), idlePings).map { $0 - $1 }
        #expect((gaps.max() ?? 2) < 2, "longest gap between pings \(gaps.max() ?? 0) s; WATCHDOG_USEC is 2 s")

        // Busy: pings continue between files.
        for index in 0..<20 { try daemon.moveIn("busy-\(index).txt", "File \(index) has a paragraph with more than six words in it.") }
        try daemon.waitForStatus("the busy files are ingested") { $0.files.ingested == 20 }

        // Wedged: the pipeline thread blocks on the hook's file and the pings stop.
        try daemon.write("wedge.txt", "This file wedges the pipeline thread when the test hook is set.")
        try waitUntil(timeout: 10, "the pipeline takes the wedge file") { daemon.log.contains("test hook INSIGHTD_TEST_WEDGE_FILE") }
        let wedgedAt = testMonotonicSeconds()
        usleep(3_000_000)
        // A ping already on its way when the thread blocked may still arrive just after.
        let late = listener.with("WATCHDOG").filter { $0.at > wedgedAt + 0.25 }
        #expect(late.isEmpty, "\(late.count) pings after the pipeline wedged")
        // The socket still answers: only the work loop is stuck, which is what the watchdog must catch.
        #expect(try daemon.ctl(["status", "--json"]).status == 0)
        daemon.crash()
    }

    @Test func openingALargeDatabaseExtendsTheStartTimeout() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.waitForStatus("a.txt is stored") { $0.files.ingested == 1 }
        let unique = try daemon.status().insights.unique
        try daemon.stop()
        // Past the size where opening may migrate for a while; sparse, so it costs no disk.
        let database = daemon.state + "/insights.sqlite"
        #expect(truncate(database, 600 * 1024 * 1024) == 0)

        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        try daemon.start()
        let ready = try listener.wait(for: "READY")
        let extend = try #require(listener.with("EXTEND_TIMEOUT_USEC").first)
        #expect(extend.at <= ready.at)
        #expect(extend.fields["EXTEND_TIMEOUT_USEC"] == "30000000")
        #expect(try daemon.status().insights.unique == unique)
        try daemon.stop()
    }

    @Test func aSmallDatabaseOpensWithoutExtending() throws {
        let daemon = try DaemonHarness()
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        try daemon.start()
        _ = try listener.wait(for: "READY")
        #expect(listener.with("EXTEND_TIMEOUT_USEC").isEmpty)
        try daemon.stop()
    }
}
