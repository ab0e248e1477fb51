import Foundation
import Logging
import Testing
@testable import InsightDaemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("journal-aware logging")
struct DaemonLogHandlerTests {
    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func journalLinesCarryTheSyslogPriority(level: Logger.Level, priority: Int) {
        let line = DaemonLogHandler.format(level: level, message: "stored", metadata: ["path": "a.txt"], journal: true)
        #expect(line == "<\(priority)>stored path=a.txt\n")
    }

    @Test func terminalLinesCarryATimestampAndTheLevel() throws {
        let line = DaemonLogHandler.format(level: .warning, message: "slow", metadata: ["b": "2", "a": "1"], journal: false)
        let pattern = try Regex(#"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} WARNING slow a=1 b=2\n$"#)
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
    }

    @Test func aMessageWithNewlinesStaysOneLine() {
        let line = DaemonLogHandler.format(level: .error, message: "first\nsecond", metadata: [:], journal: true)
        #expect(line == "<3>first\\nsecond\n")
    }

    @Test func journalStreamMustNameStderrItself() throws {
        var info = stat()
        #expect(fstat(2, &info) == 0)
        let mine = "\(info.st_dev):\(info.st_ino)"
        #expect(DaemonLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": mine]))
        #expect(!DaemonLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "\(info.st_dev):\(info.st_ino + 1)"]))
        #expect(!DaemonLogHandler.stderrIsJournal(environment: ["JOURNAL_STREAM": "garbage"]))
        #expect(!DaemonLogHandler.stderrIsJournal(environment: [:]))
    }

    @Test func everyLoggerFollowsTheSharedLevel() {
        let box = LogLevelBox(.info)
        let a = DaemonLogHandler(label: "a", level: box, journal: true)
        var b = DaemonLogHandler(label: "b", level: box, journal: true)
        #expect(a.logLevel == .info)
        b.logLevel = .debug
        #expect(a.logLevel == .debug)
        box.level = .error
        #expect(b.logLevel == .error)
    }

    @Test func theDaemonWritesPriorityPrefixesWhenStderrIsTheJournal() throws {
        let daemon = try DaemonHarness()
        var info = stat()
        #expect(stat(daemon.logPath, &info) == 0)
        daemon.environment["JOURNAL_STREAM"] = "\(info.st_dev):\(info.st_ino)"
        try daemon.start()
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.waitForStatus("a.txt is stored") { $0.files.ingested == 1 }
        try daemon.stop()
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("<6>insightd ") && $0.contains("watching") })
        #expect(lines.contains { $0.hasPrefix("<6>stored ") && $0.contains("path=a.txt") })
        #expect(lines.allSatisfy { $0.first == "<" }, "every line has a priority prefix")
    }

    @Test func theDaemonWritesTimestampsOnATerminalOrFile() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.stop()
        let first = try #require(daemon.log.split(separator: "\n").first)
        #expect(first.wholeMatch(of: try Regex(#"\d{4}-\d{2}-\d{2} [\d:.]+ INFO insightd .*"#)) != nil, "\(first)")
    }
}

@Suite("reload and status line")
struct ReloadUnitTests {
    func settings() -> Settings { Settings(inbox: "/in", stateDirectory: "/state", socketPath: "/s.sock") }

    @Test func runtimeSettingsApplyAndTheRestWaitsForARestart() {
        let current = settings()
        var loaded = current
        loaded.inbox = "/elsewhere"
        loaded.socketMode = 0o600
        loaded.minWords = 3
        loaded.logLevel = "debug"
        loaded.ignore = ["*.bak"]
        let (next, applied, restart) = Reloader.merge(current: current, loaded: loaded)
        #expect(applied == ["log_level", "min_words", "watch.ignore"])
        #expect(restart == ["inbox", "socket_mode"])
        #expect(next.inbox == "/in")
        #expect(next.socketMode == current.socketMode)
        #expect(next.minWords == 3)
        #expect(next.ignore == ["*.bak"])
    }

    @Test func nothingChangedReportsNothing() {
        let (next, applied, restart) = Reloader.merge(current: settings(), loaded: settings())
        #expect(next == settings())
        #expect(applied.isEmpty && restart.isEmpty)
    }

    @Test(arguments: [
        ("/home/ann/Insights", "/home/ann", 1234, 0, "watching ~/Insights · 1,234 insights"),
        ("/home/ann/Insights", "/home/ann", 1, 3, "watching ~/Insights · 1 insight · 3 links queued"),
        ("/home/annex/Insights", "/home/ann", 0, 1, "watching /home/annex/Insights · 0 insights · 1 link queued"),
        ("/srv/insightd/inbox", nil, 1_234_567, 0, "watching /srv/insightd/inbox · 1,234,567 insights"),
    ] as [(String, String?, Int, Int, String)])
    func statusLine(inbox: String, home: String?, insights: Int, links: Int, expected: String) {
        #expect(ServiceHeartbeat.statusLine(inbox: inbox, home: home, insights: insights, linksQueued: links) == expected)
    }
}
