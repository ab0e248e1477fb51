import ArgumentParser
import Foundation
import InsightCore

#if canImport(Glibc)
import Glibc
#endif

/// A sync client restoring and then undoing a restore, against a real insightd: empty files in one folder, real
/// files beside them, one large single-line file; then the folder removed; then SIGTERM in the middle of a second
/// flood. The peer figures are the producer's: how long the file system took to take the files.
struct FloodBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood", abstract: "A flood of empty and real files, their folder removed, SIGTERM mid-flood: counts, latency, stop time.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Empty files in the restored folder (quick: 500).") var empties: Int?
    @Option(help: "Real files, a few insights each (quick: 200).") var files: Int?
    @Option(help: "Size of the single-line file in MB, under the default max_file_bytes of 10 MiB (quick: 1).") var largeMB: Int?

    func run() throws {
        let context = common.context()
        let empties = self.empties ?? (common.quick ? 500 : 20_000)
        let files = self.files ?? (common.quick ? 200 : 20_000)
        let largeBytes = (largeMB ?? (common.quick ? 1 : 10)) * 1_000_000
        let workspace = try Workspace("flood")
        defer { if !common.keep { workspace.remove() } }

        // Everything is written outside the inbox first, so the timed part is the arrival and the daemon's work.
        var rng = SplitMix64(seed: common.seed)
        let words = ["market", "cities", "people", "growth", "energy", "habits", "attention", "learning", "prices", "trust",
                     "software", "teams", "housing", "transit", "savings", "health", "sleep", "focus", "writing", "risk"]
        func sentence() -> String {
            (0..<12).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ") + " \(rng.next() % 1_000_000)."
        }
        try FileManager.default.createDirectory(atPath: workspace.staging + "/real", withIntermediateDirectories: true)
        for index in 0..<files {
            let text = (0..<3).map { _ in sentence() }.joined(separator: "\n\n") + "\n"
            try writeFile(workspace.staging + "/real/r\(index).txt", Array(text.utf8))
        }
        var line = ""
        line.reserveCapacity(largeBytes + 16)
        while line.utf8.count < largeBytes { line += words[Int(rng.next() % UInt64(words.count))] + " " }
        try writeFile(workspace.staging + "/large.txt", Array((line + "\n").utf8))

        let daemon = try DaemonProcess(binary: context.insightd, workspace: workspace)
        try daemon.waitReady()
        context.log("flood: \(empties) empty files, \(files) real files, one \(largeBytes / 1_000_000) MB single-line file")
        let start = now()
        try renameFile(workspace.staging + "/large.txt", workspace.inbox + "/large.txt")
        try FileManager.default.createDirectory(atPath: workspace.inbox + "/restore", withIntermediateDirectories: true)
        for index in 0..<empties {
            close(open(workspace.inbox + "/restore/e\(index).txt", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644))
        }
        try FileManager.default.createDirectory(atPath: workspace.inbox + "/real", withIntermediateDirectories: true)
        var lateAt = 0.0
        for index in 0..<files {
            try renameFile(workspace.staging + "/real/r\(index).txt", workspace.inbox + "/real/r\(index).txt")
            if index == files / 2 {
                try writeFile(workspace.staging + "/late.txt", Array("Quokkas became the most photographed residents of Rottnest island.\n".utf8))
                try renameFile(workspace.staging + "/late.txt", workspace.inbox + "/late.txt")
                lateAt = now()
            }
        }
        let arrived = now() - start
        var lateSeconds: Double?
        var peakRSS = 0
        var pendingNeverLied = true
        let total = empties + files + 2
        let deadline = now() + 3600
        var done: StatusReport?
        while now() < deadline {
            peakRSS = max(peakRSS, (try? ProcSample(pid: daemon.pid).rssKiB) ?? 0)
            if lateSeconds == nil, (try? daemon.searchCount("quokkas")) ?? 0 > 0 { lateSeconds = now() - lateAt }
            let report = try daemon.status()
            let accounted = report.files.ingested + report.files.skipped + report.files.failed
            if report.files.pending == 0, accounted != total, lateSeconds != nil { pendingNeverLied = false }
            if report.files.pending == 0, accounted == total, lateSeconds != nil { done = report; break }
            sleepSeconds(0.02)
        }
        guard let done else { throw DaemonBenchError("the flood was not handled within an hour; see \(workspace.log)") }
        let floodSeconds = now() - start

        let removeStart = now()
        try FileManager.default.removeItem(atPath: workspace.inbox + "/restore")
        let removedFolder = now() - removeStart
        let (afterRemoval, removedAt) = try daemon.waitUntilIdle(timeout: 3600) { $0.files.removed == empties }
        let removalSeconds = removedAt - removeStart

        // SIGTERM while the large file is parsed again and a second flood arrives.
        var again = line
        again += "again\n"
        try writeFile(workspace.staging + "/large-2.txt", Array(again.utf8))
        try renameFile(workspace.staging + "/large-2.txt", workspace.inbox + "/large-2.txt")
        try FileManager.default.createDirectory(atPath: workspace.inbox + "/restore-2", withIntermediateDirectories: true)
        for index in 0..<empties / 2 { close(open(workspace.inbox + "/restore-2/e\(index).txt", O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)) }
        sleepSeconds(0.7)
        let stopStart = now()
        let status = daemon.stop()
        let stopSeconds = now() - stopStart

        let rows: [(String, String)] = [
            ("files arrived in (the producer)", String(format: "%.2f s (%.0f files/s)", arrived, Double(total) / arrived)),
            ("daemon done with the flood", String(format: "%.2f s (%.0f files/s)", floodSeconds, Double(total) / floodSeconds)),
            ("stored / skipped / failed", "\(done.files.ingested) / \(done.files.skipped) / \(done.files.failed) (expected \(files + 2) / \(empties) / 0)"),
            ("file dropped mid-flood searchable after", lateSeconds.map { String(format: "%.3f s", $0) } ?? "never"),
            ("pending was 0 only when every file was accounted for", pendingNeverLied ? "yes" : "NO"),
            ("folder removed by rm in (the producer)", String(format: "%.2f s", removedFolder)),
            ("removals recorded after", String(format: "%.2f s (%d removed)", removalSeconds, afterRemoval.files.removed)),
            ("peak RSS during the flood", "\(peakRSS / 1024) MiB"),
            ("SIGTERM to exit, mid-flood", String(format: "%.3f s (exit status %d)", stopSeconds, status)),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        print("insightbench flood (\(common.quick ? "quick smoke run" : "full size"), machine load \(machineInfo().loadAverage))")
        for (name, value) in rows { print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value) }
        let ok = done.files.ingested == files + 2 && done.files.skipped == empties && done.files.failed == 0 && pendingNeverLied
            && afterRemoval.files.removed == empties && status == 0
        if !ok { throw DaemonBenchError("the flood's counts or exit were wrong; see \(workspace.log)") }
    }
}
