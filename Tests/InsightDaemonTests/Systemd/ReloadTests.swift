import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("insightctl reload and SIGHUP apply the config at runtime", .serialized)
struct ReloadTests {
    @Test func aGoodConfigAppliesAtOnceAndABadOneKeepsTheRunningOne() throws {
        let root = "/tmp/insightd-reload-" + String(UUID().uuidString.prefix(8))
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let config = root + "/insightd.toml"
        try "min_words = 6\nsettle_ms = 10\n".write(toFile: config, atomically: true, encoding: .utf8)
        let daemon = try DaemonHarness(extraArguments: ["--config", config])
        try daemon.start()

        // Four words: not an insight under min_words = 6.
        try daemon.moveIn("one.txt", "Short notes count too.")
        try daemon.waitForStatus("one.txt is taken") { $0.files.seen == 1 }
        #expect(try daemon.status().insights.unique == 0)

        try "min_words = 3\nsettle_ms = 10\nwatch.mode = \"poll\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let good = try daemon.ctl(["reload", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        let reply = try JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any]
        #expect(reply?["ok"] as? Bool == true)
        #expect(reply?["applied"] as? [String] == ["min_words"])
        #expect(reply?["restart_required"] as? [String] == ["watch.mode"])
        #expect(try daemon.status().watch.mode != "poll", "the watch mode changes only with a restart")
        try daemon.moveIn("two.txt", "Short notes matter now.")
        try daemon.waitForStatus("two.txt is stored with its insight") { $0.insights.unique == 1 }

        // Invalid: the reload fails with the reason, and min_words stays 3.
        try "min_words = \"three\"\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try daemon.ctl(["reload"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("invalid setting min_words = \"three\""), "\(bad.stderr)")
        #expect(daemon.log.contains("the configuration was not reloaded, the running one stays"))
        try daemon.moveIn("three.txt", "Short notes still count.")
        try daemon.waitForStatus("three.txt is stored under the kept config") { $0.insights.unique == 2 }

        // SIGHUP does the same as insightctl reload.
        try "min_words = 6\nsettle_ms = 10\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(try #require(daemon.process?.processIdentifier), SIGHUP)
        try waitUntil(timeout: 10, "the SIGHUP reload is logged") { daemon.log.contains("applied min_words trigger=SIGHUP") }
        try daemon.moveIn("four.txt", "Short notes fade again.")
        try daemon.waitForStatus("four.txt is taken") { $0.files.seen == 4 }
        #expect(try daemon.status().insights.unique == 2)
        #expect(try daemon.stop() == 0)
    }
}
