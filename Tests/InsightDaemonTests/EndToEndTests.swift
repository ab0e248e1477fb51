import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("insightd end to end: real daemon, real inbox, real insightctl", .serialized)
struct EndToEndTests {
    @Test func droppedFilesBecomeDeduplicatedInsights() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        // Written in place, renamed in, and written in several chunks.
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.moveIn("b.md", fixture("b.md"))
        let c = try fixture("c.txt")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: {
            _ = FileManager.default.createFile(atPath: daemon.inbox + "/c.txt", contents: nil)
            return daemon.inbox + "/c.txt"
        }()))
        let half = c.index(c.startIndex, offsetBy: c.count / 2)
        handle.write(Data(c[..<half].utf8))
        usleep(20_000)
        handle.write(Data(c[half...].utf8))
        try handle.close()
        try daemon.moveIn("d.txt", fixture("d.txt"))

        let report = try daemon.waitForStatus("four files are ingested") { $0.files.ingested == 4 }
        #expect(report.insights.unique == 10)
        #expect(report.insights.occurrences == 15)
        #expect(report.insights.variants == 0)
        #expect(report.insights.conflicts == 0)
        #expect(report.files.failed == 0)
        #expect(report.state == "running")
        #expect(report.inbox == daemon.inbox)

        let export = try daemon.ctl(["export", "--format", "jsonl"])
        #expect(export.status == 0)
        let records = try export.stdout.split(separator: "\n").map {
            try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8))
        }
        #expect(records.count == 10)
        #expect(!records.contains { $0.text.contains("Related Insights") || $0.text.contains("Market Effects") })
        let housing = try #require(records.first { $0.text.hasPrefix("Cities that allowed more housing") })
        #expect(housing.sources == [SourceRef(path: "d.txt", line: 1, section: nil, date: "2025-01-02", format: "text")])
        let land = try #require(records.first { $0.text.hasPrefix("Land near new train lines") })
        #expect(land.sources.first?.section == "Market Effects")
        let shipping = try #require(records.first { $0.text.hasPrefix("Container shipping") })
        #expect(Set(shipping.sources.map(\.path)) == ["a.txt", "c.txt"])
        let banks = try #require(records.first { $0.text.lowercased().hasPrefix("central banks") })
        // b.md is Markdown: its section is the heading path, "Related Insights" under the file's `#` heading.
        #expect(banks.sources.map(\.section) == ["Notes from a podcast › Related Insights", nil])
        // The displayed text keeps the words as first seen.
        #expect(records.contains { $0.text == "Remote work moved a large share of daily spending from city centres into the suburbs where people \"actually\" live." })

        // Human status names the counts.
        let human = try daemon.ctl(["status"])
        #expect(human.status == 0)
        #expect(human.stdout.contains("10 unique"))
        #expect(human.stdout.contains("15 occurrences"))
        #expect(try daemon.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
    }

    @Test func aRestartFindsEverythingAndCountsNothingTwice() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        for name in ["a.txt", "b.md"] { try daemon.write(name, fixture(name)) }
        try daemon.waitForStatus("two files are ingested") { $0.files.ingested == 2 }
        try daemon.stop()
        // Dropped while the daemon was down: found by the start-up scan.
        for name in ["c.txt", "d.txt"] { try daemon.write(name, fixture(name)) }
        try daemon.start()
        let report = try daemon.waitForStatus("all four files are ingested") { $0.files.ingested == 4 }
        #expect(report.insights.unique == 10)
        #expect(report.insights.occurrences == 15)
        try daemon.stop()
    }

    @Test func otherWordingsBecomeVariantsAndChangedClaimsConflicts() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.waitForStatus("a.txt is ingested") { $0.files.ingested == 1 }
        try daemon.moveIn("edits.txt", """
            Battery prices fell faster than almost every forcast made ten years ago, which surprised even the optimists.
            Battery prices fell faster than almost every forecast made twenty years ago, which surprised even the optimists.
            """)
        let report = try daemon.waitForStatus("the edits are ingested") { $0.files.ingested == 2 }
        #expect(report.insights.unique == 6)
        #expect(report.insights.variants == 1)
        #expect(report.insights.conflicts == 1)
        let records = try daemon.ctl(["export"]).stdout.split(separator: "\n").map {
            try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8))
        }
        let battery = try #require(records.first { $0.text.contains("ten years ago") })
        #expect(battery.variants.map(\.text) == ["Battery prices fell faster than almost every forcast made ten years ago, which surprised even the optimists."])
        let twenty = try #require(records.first { $0.text.contains("twenty years ago") })
        #expect(battery.conflicts == [twenty.id])
        let conflicts = try daemon.ctl(["conflicts", "--json"])
        #expect(conflicts.status == 0)
        let pairs = try WireJSON.decoder().decode(ConflictsReply.self, from: Data(conflicts.stdout.utf8)).conflicts
        #expect(pairs.map { Set([$0.first.id, $0.second.id]) } == [Set([battery.id, twenty.id])])
        #expect(pairs.first?.kind == "number")
        let human = try daemon.ctl(["conflicts"])
        #expect(human.stdout.contains("a number differs"))
        try daemon.stop()
    }

    @Test func theSameContentUnderAnotherNameAddsOnlyASource() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.waitForStatus("a.txt is ingested") { $0.files.ingested == 1 }
        try daemon.moveIn("copy-of-a.txt", fixture("a.txt"))
        let report = try daemon.waitForStatus("the copy is ingested") { $0.files.ingested == 2 }
        #expect(report.insights.unique == 5)
        #expect(report.insights.occurrences == 10)
        try daemon.stop()
    }

    @Test func filesThatAreNotTextAreSkippedWithAReasonAndTheRestIsStored() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]).write(to: URL(fileURLWithPath: daemon.inbox + "/picture.png"))
        try Data([0x00, 0x01, 0x02, 0x03, 0x00]).write(to: URL(fileURLWithPath: daemon.inbox + "/binary.txt"))
        try daemon.write("a.txt", fixture("a.txt"))
        let report = try daemon.waitForStatus("one file stored, two skipped") { $0.files.ingested == 1 && $0.files.skipped == 2 }
        #expect(report.insights.unique == 5)
        try daemon.stop()
    }

    @Test func statusWithoutADaemonExitsThreeAndSaysHowToStartIt() throws {
        let result = try runCommand(Binaries.insightctl, ["--socket", "/tmp/insightd-no-daemon-\(getpid()).sock", "status"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("not running"))
        #expect(result.stderr.contains("systemctl start insightd"))
        #expect(result.stderr.contains("systemctl --user start insightd"))
    }

    @Test func aSocketNobodyMayOpenIsAPermissionFailure() throws {
        // As root the kernel lets us through any mode, so this check needs an unprivileged user.
        try #require(getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"))
        let daemon = try DaemonHarness()
        try daemon.start()
        chmod(daemon.socket, 0o600)
        chmod(daemon.root, 0o755)
        chmod(daemon.state, 0o755)
        let result = getuid() == 0
            ? try runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Binaries.insightctl, "--socket", daemon.socket, "status"])
            : try daemon.ctl(["status"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("permission denied"))
        try daemon.stop()
    }

    @Test(arguments: [
        (["--config", "/nonexistent/insightd.toml"], [String: String](), "--config"),
        ([], ["INSIGHTD_WATCH_MODE": "fast"], "watch.mode"),
        ([], ["INSIGHTD_MIN_WORDS": "zero"], "min_words"),
        ([], ["INSIGHTD_SETTLE_MS": "-5"], "settle_ms"),
    ])
    func invalidSettingsExitTwoNamingTheKey(arguments: [String], environment: [String: String], key: String) throws {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        let root = "/tmp/insightd-cfg-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try runCommand(Binaries.insightd, ["--inbox", root + "/in", "--state-dir", root + "/st", "--socket", root + "/s.sock"] + arguments,
                                    environment: env, timeout: 30)
        #expect(result.status == 2)
        #expect(result.stderr.contains(key))
    }

    @Test func aBadConfigFileLineIsNamed() throws {
        let root = "/tmp/insightd-cfg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "min_words = 6\n[watch]\nmode = \"sometimes\"\n".write(toFile: root + "/c.toml", atomically: true, encoding: .utf8)
        let result = try runCommand(Binaries.insightd, ["--config", root + "/c.toml", "--inbox", root + "/in", "--state-dir", root + "/st"], timeout: 30)
        #expect(result.status == 2)
        #expect(result.stderr.contains("watch.mode = \"sometimes\""))
        #expect(result.stderr.contains("\"auto\", \"inotify\", \"poll\""))
    }

    @Test func aStaleSocketIsReplacedAndALiveOneRefused() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        // A second daemon on the same socket must not steal it.
        let second = try runCommand(Binaries.insightd, daemon.arguments, timeout: 30)
        #expect(second.status == 1)
        #expect(second.stderr.contains("already running"))
        #expect(try daemon.status().state == "running")
        // After a crash the socket file stays behind; the next start replaces it.
        daemon.crash()
        #expect(FileManager.default.fileExists(atPath: daemon.socket))
        try daemon.start()
        #expect(try daemon.status().state == "running")
        try daemon.stop()
    }

    @Test func malformedRequestsGetAFourHundredAndTheDaemonStaysUp() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        for raw in ["GARBAGE\r\n\r\n", "GET /v1/status HTTP/9.9\r\n\r\n", "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n",
                    "DELETE /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", "GET /v1/search?q= HTTP/1.1\r\nHost: x\r\n\r\n",
                    "POST /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"] {
            let reply = try rawRequest(daemon.socket, raw)
            let status = Int(reply.split(separator: " ").dropFirst().first ?? "") ?? 0
            #expect((400..<500).contains(status) || reply.isEmpty, "reply to \(raw.debugDescription): \(reply.prefix(80))")
        }
        #expect(try daemon.status().state == "running")
        try daemon.stop()
    }
}

/// Sends raw bytes to a Unix socket and returns what comes back before the server closes or 2 s pass.
func rawRequest(_ path: String, _ request: String) throws -> String {
    let reply = exchange(path, [Array(request.utf8)], readTimeout: 2)
    if reply == Array("CONNECT FAILED".utf8) { throw HarnessError("cannot connect to \(path)") }
    return String(decoding: reply, as: UTF8.self)
}
