import Foundation
import InsightClient
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A sync client restoring and then undoing a restore: thousands of empty files, their folder removed, real files
/// and one large single-line file among them. `insightbench flood` runs the full-size version on a release build.
@Suite("A flood of files: counts stay true, a new file is not held up, SIGTERM is prompt", .serialized)
struct FloodTests {
    static let empties = Int(ProcessInfo.processInfo.environment["INSIGHTD_TEST_FLOOD"] ?? "") ?? 2_000
    static let realFiles = 400

    /// One line of `bytes` bytes of ordinary words: a file that takes seconds to parse in a debug build.
    static func singleLine(bytes: Int, seed: UInt64) -> String {
        var rng = SplitMix(seed: seed)
        var line = ""
        line.reserveCapacity(bytes + 16)
        while line.utf8.count < bytes {
            line += Burst.vocabulary[Int(rng.next() % UInt64(Burst.vocabulary.count))]
            line += " "
        }
        return line + "\n"
    }

    @Test func aFloodOfEmptyFilesThenTheirFolderRemovedKeepsEveryCountTrue() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_LOG_LEVEL": "notice"])
        try daemon.start()
        let burst = Burst(files: Self.realFiles, seed: 21)

        // The large file first, so it is in its parse lane while everything else arrives.
        try daemon.moveIn("large.txt", Self.singleLine(bytes: 2 << 20, seed: 5))
        try FileManager.default.createDirectory(atPath: daemon.inbox + "/restore", withIntermediateDirectories: true)
        for index in 0..<Self.empties {
            let fd = open(daemon.inbox + "/restore/empty-\(index).txt", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            #expect(fd >= 0)
            close(fd)
        }
        // The real files arrive through a sync client too, into a folder of their own.
        try burst.write(into: daemon.inbox + "/sync", staging: daemon.root + "/staging")

        // A note dropped into the inbox in the middle of the flood is found without waiting for the flood to end: folders
        // take turns.
        let dropped = monotonicSeconds()
        try daemon.moveIn("late.txt", "Quokkas on Rottnest island became the most photographed residents of a tourist economy.\n")
        try waitUntil(timeout: 120, "the late file is searchable") {
            (try? daemon.ctl(["search", "quokkas", "--json"]).stdout.contains("Rottnest")) == true
        }
        print("flood test: a file dropped mid-flood was searchable after \(String(format: "%.2f", monotonicSeconds() - dropped)) s (debug build)")

        // `pending` is never 0 while a file is still unaccounted for.
        let total = Self.empties + Self.realFiles + 2
        var samples = 0
        try waitUntil(timeout: 300, "every file is ingested or skipped") {
            guard let report = try? daemon.status() else { return false }
            samples += 1
            let accounted = report.files.ingested + report.files.skipped + report.files.failed
            // Every file was queued before the late one (inotify keeps the order), so from here on a `pending` of 0
            // must mean every file is accounted for.
            #expect(report.files.pending > 0 || accounted == total, "pending is 0 with \(total - accounted) files unaccounted for")
            #expect(report.files.pending <= total)
            return report.files.pending == 0 && accounted == total
        }
        var report = try daemon.status()
        #expect(report.files.ingested == Self.realFiles + 2)
        #expect(report.files.skipped == Self.empties)
        #expect(report.files.failed == 0)
        #expect(report.insights.occurrences >= burst.expectedOccurrences)
        let skipped = try daemon.ctl(["failed", "--json"])
        #expect(skipped.status == 0)
        #expect(skipped.stdout.contains("empty"), "each empty file is recorded with its reason")

        // The sync client undoes the restore: the folder goes, and every record of it says removed.
        try FileManager.default.removeItem(atPath: daemon.inbox + "/restore")
        report = try daemon.waitForStatus(timeout: 300, "the removed folder's files are recorded removed") {
            $0.files.removed == Self.empties && $0.files.skipped == 0
        }
        #expect(report.files.ingested == Self.realFiles + 2)
        let occurrences = report.insights.occurrences

        // SIGTERM while a large file is being parsed and another flood is arriving: a prompt, clean exit.
        try daemon.moveIn("large-2.txt", Self.singleLine(bytes: 2 << 20, seed: 6))
        try FileManager.default.createDirectory(atPath: daemon.inbox + "/restore-2", withIntermediateDirectories: true)
        for index in 0..<Self.empties / 2 {
            let fd = open(daemon.inbox + "/restore-2/empty-\(index).txt", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            close(fd)
        }
        usleep(700_000)  // past the settle time: the large file is in its lane
        let asked = monotonicSeconds()
        #expect(try daemon.stop() == 0)
        let stopSeconds = monotonicSeconds() - asked
        print("flood test: SIGTERM to exit took \(String(format: "%.2f", stopSeconds)) s mid-flood (debug build)")
        // The goal is 2 s in any build (insightbench flood measures it on a release build); the bound here only
        // catches a daemon that hangs on SIGTERM, so a busy test machine cannot turn a timing into a failure.
        #expect(stopSeconds <= 10, "SIGTERM took \(stopSeconds) s to end the daemon mid-flood")

        // Nothing was lost and nothing is counted twice: the next start takes what was left in the inbox.
        try daemon.start()
        report = try daemon.waitForStatus(timeout: 300, "the second flood is handled after the restart") {
            $0.files.ingested == Self.realFiles + 3 && $0.files.skipped == Self.empties / 2
        }
        #expect(report.files.removed == Self.empties)
        #expect(report.insights.occurrences > occurrences)
        #expect(try daemon.stop() == 0)
    }
}
