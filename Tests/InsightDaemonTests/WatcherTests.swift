import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The watcher never misses, never double-counts, never loses", .serialized)
struct WatcherTests {
    static let burstSize = Int(ProcessInfo.processInfo.environment["INSIGHTD_TEST_BURST"] ?? "") ?? 10_000

    @Test(arguments: ["inotify", "poll"])
    func aBurstOfFilesIsIngestedExactlyOnce(mode: String) throws {
        let count = mode == "poll" ? Self.burstSize / 2 : Self.burstSize
        let burst = Burst(files: count, seed: mode == "poll" ? 7 : 3)
        let daemon = try DaemonHarness(environment: ["INSIGHTD_WATCH_MODE": mode, "INSIGHTD_WATCH_POLL_INTERVAL_S": "1",
                                                     "INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        try burst.write(into: daemon.inbox, staging: daemon.root + "/staging")
        let report = try daemon.waitForStatus(timeout: 600, "\(count) files are ingested") { $0.files.ingested == count }
        #expect(report.insights.unique == burst.expectedUnique)
        #expect(report.insights.occurrences == burst.expectedOccurrences)
        #expect(report.files.failed == 0)
        #expect(report.files.skipped == 0)
        #expect(report.watch.mode == mode)
        try daemon.stop()
        try expectSourcesMatch(burst, database: daemon.state + "/insights.sqlite")
    }

    @Test func killedAtRandomMomentsTheDaemonEndsWithTheSameDatabase() throws {
        let count = min(Self.burstSize, 3_000)
        let burst = Burst(files: count, seed: 11)
        let daemon = try DaemonHarness(environment: ["INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        try burst.write(into: daemon.inbox, staging: daemon.root + "/staging")
        var rng = SplitMix(seed: 99)
        var kills = 0
        while kills < 20 {
            usleep(useconds_t(20_000 + rng.next() % 150_000))
            daemon.crash()
            kills += 1
            try daemon.start()
        }
        let report = try daemon.waitForStatus(timeout: 600, "the burst is ingested after \(kills) kills") { $0.files.ingested == count }
        #expect(report.insights.unique == burst.expectedUnique)
        #expect(report.insights.occurrences == burst.expectedOccurrences)
        try daemon.stop()
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        #expect(try database.integrityCheck() == "ok")
        // The status counters are written in the same transactions, so no kill leaves them off.
        let (kept, counted) = try database.countsWithFullCount()
        #expect(kept == counted, "\(kept.differences(from: counted))")
        try expectSourcesMatch(burst, database: daemon.state + "/insights.sqlite")
    }

    @Test func anEventQueueOverflowIsRecoveredByARescan() throws {
        let maxQueued = Int((try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 16384
        try #require(maxQueued <= 65536, "max_queued_events is \(maxQueued); overflowing it would take too long here")
        let daemon = try DaemonHarness()
        let hold = daemon.root + "/hold-events"
        _ = FileManager.default.createFile(atPath: hold, contents: nil)
        daemon.environment["INSIGHTD_TEST_HOLD_EVENTS"] = hold
        daemon.environment["INSIGHTD_LOG_LEVEL"] = "notice"
        try daemon.start()
        let burst = Burst(files: 300, seed: 5, folders: 1)
        for file in burst.files {
            let name = file.relativePath.replacingOccurrences(of: "/", with: "_")
            try Data(Burst.content(file).utf8).write(to: URL(fileURLWithPath: daemon.inbox + "/" + name))
        }
        // Each rename queues IN_MOVED_FROM and IN_MOVED_TO: more events than the kernel keeps for one reader.
        let first = daemon.inbox + "/" + burst.files[0].relativePath.replacingOccurrences(of: "/", with: "_")
        let aside = daemon.inbox + "/renamed-aside.txt"
        for _ in 0..<(maxQueued / 4 + 1000) {
            #expect(rename(first, aside) == 0)
            #expect(rename(aside, first) == 0)
        }
        let count = burst.files.count
        try FileManager.default.removeItem(atPath: hold)
        let report = try daemon.waitForStatus(timeout: 600, "all \(count) files are ingested after the overflow") { $0.files.ingested == count }
        #expect(report.watch.overflows >= 1)
        #expect(report.watch.rescans >= 1)
        #expect(report.insights.occurrences == burst.expectedOccurrences)
        #expect(report.insights.unique == burst.expectedUnique)
        try daemon.stop()
    }

    @Test func foldersCreatedOrMovedInAfterStartAreWatched() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        // Created and filled at once: the scan after adding the watch catches what the watch missed.
        try FileManager.default.createDirectory(atPath: daemon.inbox + "/new/inner", withIntermediateDirectories: true)
        try daemon.write("new/inner/a.txt", fixture("a.txt"))
        // A whole folder tree prepared elsewhere and moved in.
        let outside = daemon.root + "/outside"
        try FileManager.default.createDirectory(atPath: outside + "/sub", withIntermediateDirectories: true)
        try Data(try fixture("d.txt").utf8).write(to: URL(fileURLWithPath: outside + "/sub/d.txt"))
        #expect(rename(outside, daemon.inbox + "/moved") == 0)
        try daemon.waitForStatus("both nested files are ingested") { $0.files.ingested == 2 }
        // Later files in those folders arrive through their watches.
        try daemon.write("moved/sub/b.md", fixture("b.md"))
        let report = try daemon.waitForStatus("the third nested file is ingested") { $0.files.ingested == 3 }
        #expect(report.watch.watches >= 5)
        try daemon.stop()
    }

    @Test func hiddenTempAndIgnoredFilesAreIgnored() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_WATCH_IGNORE": "*.draft.txt, scratch*"])
        try daemon.start()
        let ignored = [".hidden.txt", "notes.txt.swp", "notes.txt~", "download.txt.part", "file.crdownload", "x.tmp", ".DS_Store",
                       "._resource.txt", "idea.draft.txt", "scratchpad.txt"]
        for name in ignored { try daemon.write(name, fixture("a.txt")) }
        try FileManager.default.createDirectory(atPath: daemon.inbox + "/.git", withIntermediateDirectories: true)
        try daemon.write(".git/HEAD.txt", fixture("a.txt"))
        try daemon.write("real.txt", fixture("d.txt"))
        let report = try daemon.waitForStatus("only real.txt is taken") { $0.files.ingested == 1 }
        usleep(300_000)
        let later = try daemon.status()
        #expect(later.files.seen == 1)
        #expect(report.insights.unique == 2)
        try daemon.stop()
    }

    @Test func changedFilesReplaceTheirOccurrencesAndRemovedFilesKeepTheirInsights() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.write("c.txt", fixture("c.txt"))
        try daemon.waitForStatus("two files") { $0.files.ingested == 2 }
        // a.txt loses three lines and gains one; insights still in c.txt stay.
        let lines = try fixture("a.txt").split(separator: "\n")
        try daemon.moveIn("a.txt", lines[0] + "\n" + lines[3] + "\nA new observation that was not in the first version of this file.\n")
        let changed = try daemon.waitForStatus("a.txt is stored again") { $0.insights.occurrences == 3 + 4 }
        // Unique: a's first and fourth lines (also in c), the new line, and c's two others.
        #expect(changed.insights.unique == 5)
        try FileManager.default.removeItem(atPath: daemon.inbox + "/c.txt")
        let removed = try daemon.waitForStatus("c.txt is marked removed") { $0.files.removed == 1 }
        #expect(removed.insights.unique == 5)
        try daemon.stop()
    }

    @Test func aFileStillBeingAppendedToIsNotHalfIngested() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_SETTLE_MS": "1000"])
        try daemon.start()
        let path = daemon.inbox + "/growing.txt"
        let lines = try fixture("a.txt").split(separator: "\n")
        // Each append closes the file; the appends come faster than the settle time.
        for line in lines {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            _ = (line + "\n").withCString { Glibc.write(fd, $0, strlen($0)) }
            close(fd)
            usleep(60_000)
        }
        let report = try daemon.waitForStatus("the whole file is ingested") { $0.files.ingested == 1 }
        #expect(report.insights.occurrences == 5)
        #expect(report.insights.unique == 5)
        try daemon.stop()
    }
}

/// Checks, straight from the database file, that every burst file is one ingested source with the right count.
func expectSourcesMatch(_ burst: Burst, database path: String) throws {
    let database = try InsightDatabase(path: path)
    for file in burst.files.prefix(2000) {
        let source = try database.source(path: file.relativePath)
        #expect(source?.state == .ingested, "\(file.relativePath)")
        #expect(source?.insightCount == file.sentences.count, "\(file.relativePath)")
    }
    let counts = try database.counts()
    #expect(counts.sourcesByState[.ingested] == burst.files.count)
    #expect(counts.occurrences == burst.expectedOccurrences)
}
