import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted over a test's state folder, so the disk can really fill up.
enum SmallDisk {
    /// Whether this process may mount a tmpfs (root, and mounting is allowed here); says why not once.
    static let available: Bool = {
        guard getuid() == 0 else {
            print("DiskFullTests skipped: mounting a tmpfs needs root")
            return false
        }
        let probe = "/tmp/insightd-mount-probe-" + String(UUID().uuidString.prefix(8))
        mkdir(probe, 0o700)
        defer { rmdir(probe) }
        guard mount(probe, size: "64k") else {
            print("DiskFullTests skipped: mount -t tmpfs failed here (no permission to mount in this environment)")
            return false
        }
        unmount(probe)
        return true
    }()

    static func mount(_ path: String, size: String) -> Bool {
        (try? runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path], timeout: 10).status) == 0
    }

    static func unmount(_ path: String) {
        _ = umount2(path, Int32(MNT_DETACH))
    }

    /// Writes `path` until the file system says ENOSPC; returns how many bytes went in.
    static func fill(_ path: String) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5A, count: 16 * 1024)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                guard errno == ENOSPC else { throw HarnessError("filling \(path) failed: \(String(cString: strerror(errno)))") }
                return total
            }
            total += written
        }
    }
}

@Suite("A full disk under the state folder holds ingestion up and loses nothing", .serialized)
struct DiskFullTests {
    /// File `index`: its own sentence, and one of 20 shared ones.
    static func content(_ index: Int) -> String {
        Burst.sentence(index) + "\n\n" + Burst.sentence(10_000 + index % 20) + "\n"
    }

    @Test(.enabled(if: SmallDisk.available, "needs root and permission to mount a tmpfs"))
    func filesDroppedWhileTheDiskIsFullWaitAndAreAllStoredOnceSpaceIsFreed() throws {
        let begun = Date()
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "info"])
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        try #require(SmallDisk.mount(daemon.state, size: "2m"), "mount -t tmpfs on \(daemon.state)")
        defer {
            daemon.crash()
            SmallDisk.unmount(daemon.state)
        }
        try daemon.start()
        let filler = daemon.state + "/filler"
        let filled = try SmallDisk.fill(filler)
        #expect(filled > 0)

        // Two files that are skipped, first, so their records are the first writes to meet the full disk.
        try daemon.write("photo.jpg", "not a note")
        try daemon.write("empty.txt", "")
        usleep(20_000)
        let count = 300
        for index in 0..<count { try daemon.write("note-\(index).txt", Self.content(index)) }

        // The daemon says the disk is full and what to do; every file waits, none is failed or forgotten.
        var held = StatusReport()
        try waitUntil(timeout: 20, "status reports the full disk with all \(count + 2) files pending") {
            guard let report = try? daemon.status() else { return false }
            held = report
            return report.state == "disk full" && report.files.pending + report.files.ingested == count + 2
        }
        #expect(held.files.failed == 0)
        #expect(held.files.skipped == 0)
        #expect(held.files.pending > 0)
        let detail = try #require(held.stateDetail)
        #expect(detail.contains("is full (mounted at \(daemon.state), "), "\(detail)")
        #expect(detail.contains("free space on \(daemon.state); new files stay queued and ingestion resumes by itself"), "\(detail)")
        #expect(held.database.freeBytes.map { $0 < 64 * 1024 } == true, "\(String(describing: held.database.freeBytes))")
        let text = try daemon.ctl(["status"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("disk full"), "\(text.stdout)")
        #expect(text.stdout.contains("on hold") && text.stdout.contains("ingestion resumes by itself"), "\(text.stdout)")
        #expect(try daemon.ctl(["failed"]).stdout.contains("note-") == false)
        let statusLine = try listener.wait(for: "STATUS", timeout: 10).fields["STATUS"] ?? ""
        let heldLine = try #require(listener.with("STATUS").compactMap { $0.fields["STATUS"] }.first { $0.hasPrefix("disk full: ") },
                                    "STATUS= says the disk is full (first: \(statusLine))")
        #expect(heldLine.contains("ingestion resumes by itself"))

        // Space comes back: everything is stored without a command, each file once.
        #expect(unlink(filler) == 0)
        let report = try daemon.waitForStatus(timeout: 40, "all \(count) files are stored after space is freed") {
            $0.files.ingested == count && $0.state == "running"
        }
        #expect(report.files.seen == count + 2)
        #expect(report.files.failed == 0)
        #expect(report.files.skipped == 2)
        #expect(report.insights.unique == count + 20)
        #expect(report.insights.occurrences == 2 * count)
        #expect(report.stateDetail == nil)
        try waitUntil(timeout: 10, "STATUS= drops the hold") {
            listener.with("STATUS").last?.fields["STATUS"]?.hasPrefix("watching ") == true
        }
        #expect(daemon.log.contains("ingestion continues"))
        #expect(try daemon.stop() == 0)

        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        #expect(try database.integrityCheck() == "ok")
        #expect(try database.sources(states: [.ingested]).count == count)
        try database.close()
        #expect(Date().timeIntervalSince(begun) < 60)
    }
}
