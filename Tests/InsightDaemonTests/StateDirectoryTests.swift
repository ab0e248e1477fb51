import Foundation
import InsightCore
import InsightStoreCore
@testable import InsightStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An ext4 image on a loop device mounted with `errors=remount-ro`, whose error the kernel can be told to raise
/// (`/sys/fs/ext4/DEV/trigger_fs_error`): the file system then refuses every write, even through files that are
/// open, the way a disk with a fault turns read-only under a running daemon. (A plain `mount -o remount,ro` or
/// `chattr +i` is refused or ignored while a process has files open for writing.)
enum FaultyDisk {
    /// Whether this process may make and mount such an image here; says why not once.
    static let available: Bool = {
        guard getuid() == 0 else {
            print("StateDirectoryTests (read-only): skipped, mounting a loop device needs root")
            return false
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4"), FileManager.default.isExecutableFile(atPath: "/usr/sbin/e2fsck") else {
            print("StateDirectoryTests (read-only): skipped, mkfs.ext4 and e2fsck (e2fsprogs) are not installed")
            return false
        }
        let probe = "/tmp/insightd-ext4-probe-" + String(UUID().uuidString.prefix(8))
        mkdir(probe, 0o700)
        defer {
            unlink(probe + ".img")
            rmdir(probe)
        }
        guard (try? make(image: probe + ".img")) != nil, mount(image: probe + ".img", at: probe) else {
            print("StateDirectoryTests (read-only): skipped, mount -o loop of an ext4 image failed here")
            return false
        }
        defer { SmallDisk.unmount(probe) }
        guard let device = device(of: probe), access("/sys/fs/ext4/\(device)/trigger_fs_error", W_OK) == 0 else {
            print("StateDirectoryTests (read-only): skipped, this kernel has no /sys/fs/ext4/*/trigger_fs_error")
            return false
        }
        return true
    }()

    static func make(image: String) throws {
        guard FileManager.default.createFile(atPath: image, contents: nil), truncate(image, 32 << 20) == 0 else {
            throw HarnessError("cannot create \(image)")
        }
        let made = try runCommand("/usr/sbin/mkfs.ext4", ["-q", "-F", image], timeout: 30)
        guard made.status == 0 else { throw HarnessError("mkfs.ext4 failed: \(made.stderr)") }
    }

    static func mount(image: String, at path: String, options: String = "loop,errors=remount-ro") -> Bool {
        (try? runCommand("/bin/mount", ["-t", "ext4", "-o", options, image, path], timeout: 20).status) == 0
    }

    /// `loop3` for a file system mounted from /dev/loop3.
    static func device(of path: String) -> String? {
        guard let found = try? runCommand("/usr/bin/findmnt", ["-no", "SOURCE", "--mountpoint", path], timeout: 10), found.status == 0 else { return nil }
        let source = found.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return source.isEmpty ? nil : (source as NSString).lastPathComponent
    }

    /// Makes the kernel record an error on the file system at `path`, which `errors=remount-ro` turns read-only.
    static func fail(_ path: String) throws {
        guard let device = device(of: path) else { throw HarnessError("no device mounted at \(path)") }
        let trigger = "/sys/fs/ext4/\(device)/trigger_fs_error"
        guard let handle = FileHandle(forWritingAtPath: trigger) else { throw HarnessError("cannot open \(trigger)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data("insightd test: state directory turns read-only\n".utf8))
    }
}

@Suite("A state folder that turns read-only or vanishes under a running daemon loses nothing", .serialized)
struct StateDirectoryTests {
    static func content(_ index: Int) -> String {
        Burst.sentence(index) + "\n\n" + Burst.sentence(10_000 + index % 20) + "\n"
    }

    /// Status once every one of `total` files is either stored or waiting, with ingestion held by `state`.
    static func held(_ daemon: DaemonHarness, state: String, total: Int, timeout: Double = 90) throws -> StatusReport {
        var held = StatusReport()
        try waitUntil(timeout: timeout, "status says \(state) with all \(total) files stored or pending") {
            guard let report = try? daemon.status() else { return false }
            held = report
            return report.state == state && report.files.pending + report.files.ingested == total
        }
        return held
    }

    @Test(.enabled(if: FaultyDisk.available, "needs root, e2fsprogs, loop devices and ext4's trigger_fs_error"), .timeLimit(.minutes(5)))
    func filesDroppedWhileTheStateFileSystemIsReadOnlyWaitAndAreAllStoredOnceItIsRepairedWithoutARestart() throws {
        // The socket lives outside the state folder, as in the shipped units (/run/insightd), or the file system stays busy.
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "info"], socketOutsideState: true)
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        let image = daemon.root + "/state.img"
        try FaultyDisk.make(image: image)
        // One loop device for the whole test, so the file system comes back as the same device after the repair.
        let attached = try runCommand("/usr/sbin/losetup", ["--find", "--show", image], timeout: 20)
        let loop = attached.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(attached.status == 0 && loop.hasPrefix("/dev/loop"), "losetup: \(attached.stderr)")
        try #require(FaultyDisk.mount(image: loop, at: daemon.state, options: "errors=remount-ro"), "mount \(loop) on \(daemon.state)")
        defer {
            daemon.crash()
            SmallDisk.unmount(daemon.state)
            _ = try? runCommand("/usr/sbin/losetup", ["-d", loop], timeout: 20)
        }
        try daemon.start()
        let before = 5
        for index in 0..<before { try daemon.write("note-\(index).txt", Self.content(index)) }
        _ = try daemon.waitForStatus(timeout: 30, "the first files are stored") { $0.files.ingested == before }
        // What was stored is on the disk before it fails, as it would be long after a commit on a real machine.
        sync()

        try FaultyDisk.fail(daemon.state)
        let count = 100
        for index in before..<(before + count) { try daemon.write("note-\(index).txt", Self.content(index)) }
        try daemon.write("photo.jpg", "not a note")
        let total = before + count + 1
        var report = try Self.held(daemon, state: "state directory unwritable", total: total)
        #expect(report.files.ingested == before)
        #expect(report.files.failed == 0 && report.files.skipped == 0)
        let detail = try #require(report.stateDetail)
        #expect(detail.contains("is on a read-only file system"), "\(detail)")
        #expect(detail.contains("insightd has closed its database files: unmount \(daemon.state), repair it"), "\(detail)")
        let text = try daemon.ctl(["status"])
        #expect(text.stdout.contains("state directory unwritable") && text.stdout.contains("read-only file system"), "\(text.stdout)")
        try waitUntil(timeout: 10, "STATUS= says the state directory takes no writes") {
            listener.with("STATUS").contains { $0.fields["STATUS"]?.hasPrefix("state directory unwritable: ") == true }
        }
        // Retries while it stays read-only fail no file either.
        sleep(4)
        report = try daemon.status()
        #expect(report.files.failed == 0 && report.files.skipped == 0 && report.files.ingested == before)
        #expect(report.files.pending == count + 1)
        #expect(try daemon.ctl(["failed"]).stdout.contains("note-") == false)
        // Reads say why they cannot answer while the database files are closed.
        let search = try daemon.ctl(["search", "note"])
        #expect(search.status != 0 && search.stderr.contains("read-only file system"), "\(search.status) \(search.stdout) \(search.stderr)")

        // Repaired while insightd runs. A plain unmount (not a lazy one) fails while any file on the file system is
        // open, so it succeeding shows that insightd let go of its database files.
        var unmounted = false
        var reason = ""
        let deadline = Date().addingTimeInterval(10)
        while !unmounted, Date() < deadline {
            unmounted = umount2(daemon.state, 0) == 0
            if !unmounted {
                reason = String(cString: strerror(errno))
                usleep(200_000)
            }
        }
        try #require(unmounted, "umount \(daemon.state) while insightd runs: \(reason)")
        let checked = try runCommand("/usr/sbin/e2fsck", ["-f", "-y", loop], timeout: 60)
        #expect(checked.status == 0 || checked.status == 1, "e2fsck: \(checked.stdout)\(checked.stderr)")
        try #require(FaultyDisk.mount(image: loop, at: daemon.state, options: "errors=remount-ro"), "mount \(loop) again")
        report = try daemon.waitForStatus(timeout: 60, "all files are stored after the repair, with no restart") {
            $0.files.ingested == before + count && $0.files.pending == 0
        }
        #expect(report.state == "running")
        #expect(report.files.failed == 0)
        #expect(report.files.skipped == 1)
        #expect(report.insights.unique == before + count + 20)
        #expect(report.insights.occurrences == 2 * (before + count))
        try waitUntil(timeout: 10, "STATUS= says it runs again") {
            listener.with("STATUS").last?.fields["STATUS"]?.hasPrefix("state directory unwritable") == false
        }
        #expect(try daemon.stop() == 0)
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        #expect(try database.integrityCheck() == "ok")
        #expect(try database.sources(states: [.ingested]).count == before + count)
        try database.close()
    }

    /// Once the database files are released to a file system that turned read-only, each retried write finds them
    /// released before anything else: the state directory is probed for EROFS once, by the write that released them.
    @Test(.enabled(if: FaultyDisk.available, "needs root, e2fsprogs, loop devices and ext4's trigger_fs_error"), .timeLimit(.minutes(2)))
    func retriedWritesAfterTheFilesAreReleasedDoNotProbeTheStateDirectoryAgain() throws {
        let folder = "/tmp/insightd-probe-" + String(UUID().uuidString.prefix(8))
        try #require(mkdir(folder, 0o700) == 0)
        let image = folder + ".img"
        try FaultyDisk.make(image: image)
        try #require(FaultyDisk.mount(image: image, at: folder), "mount \(image) on \(folder)")
        defer {
            SmallDisk.unmount(folder)
            unlink(image)
            rmdir(folder)
        }
        func note(_ index: Int) -> FileIngest {
            FileIngest(path: "note-\(index).txt", size: 1, mtime: 0, sha256: "note-\(index)", encoding: "utf-8", documentDate: nil,
                       insights: [PreparedInsight(ParsedInsight(text: Burst.sentence(index), line: 1, section: nil))])
        }
        let database = try InsightDatabase(path: folder + "/insights.sqlite")
        _ = try database.ingestOne(note(0))
        sync()
        try FaultyDisk.fail(folder)

        #expect(throws: StoreError.self) { _ = try database.ingestOne(note(1)) }
        #expect(database.filesReleased)
        #expect(database.writeProbes.load(ordering: .relaxed) == 1)
        for index in 2..<6 {
            #expect(throws: StoreError.self) { _ = try database.ingestOne(note(index)) }
            usleep(300_000)  // past the one-second spacing of attempts to open the files again, for some of them
        }
        #expect(database.filesReleased)
        #expect(database.writeProbes.load(ordering: .relaxed) == 1)
    }

    @Test(.timeLimit(.minutes(2)))
    func aStateFolderMovedAwayHoldsFilesUntilItIsPutBack() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "info"], socketOutsideState: true)
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        defer { daemon.crash() }
        try daemon.start()
        let before = 10
        for index in 0..<before { try daemon.write("note-\(index).txt", Self.content(index)) }
        _ = try daemon.waitForStatus(timeout: 30, "the first files are stored") { $0.files.ingested == before }

        // Renamed away, the database file still takes writes, but not at the path insightd opens at its next start.
        let away = daemon.root + "/state-away"
        #expect(rename(daemon.state, away) == 0)
        let count = 50
        for index in before..<(before + count) { try daemon.write("note-\(index).txt", Self.content(index)) }
        let report = try Self.held(daemon, state: "state directory unwritable", total: before + count)
        #expect(report.files.ingested == before)
        #expect(report.files.failed == 0 && report.files.skipped == 0)
        let detail = try #require(report.stateDetail)
        #expect(detail.contains("was deleted, moved or unmounted while insightd had it open"), "\(detail)")
        #expect(detail.contains("put the state directory back (ingestion resumes by itself)"), "\(detail)")
        try waitUntil(timeout: 10, "STATUS= says the state directory takes no writes") {
            listener.with("STATUS").contains { $0.fields["STATUS"]?.hasPrefix("state directory unwritable: the database ") == true }
        }

        // Put back: everything is stored with no command.
        #expect(rename(away, daemon.state) == 0)
        let done = try daemon.waitForStatus(timeout: 45, "all files are stored once the folder is back") {
            $0.files.ingested == before + count && $0.state == "running"
        }
        #expect(done.files.failed == 0 && done.files.pending == 0)
        #expect(done.insights.unique == before + count + 20)
        #expect(done.insights.occurrences == 2 * (before + count))
        #expect(done.stateDetail == nil)
        #expect(try daemon.stop() == 0)
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        #expect(try database.integrityCheck() == "ok")
        #expect(try database.sources(states: [.ingested]).count == before + count)
        try database.close()
    }

    @Test(.timeLimit(.minutes(2)))
    func aDeletedStateFolderIsNeverWrittenIntoAndARestartStartsAFreshDatabase() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "info"], socketOutsideState: true)
        defer { daemon.crash() }
        try daemon.start()
        let before = 10
        for index in 0..<before { try daemon.write("note-\(index).txt", Self.content(index)) }
        _ = try daemon.waitForStatus(timeout: 30, "the first files are stored") { $0.files.ingested == before }

        // Deleted and made again empty (as a mount point whose file system went away would be): SQLite would go on
        // writing to the deleted file, which is gone when the process ends.
        try FileManager.default.removeItem(atPath: daemon.state)
        #expect(mkdir(daemon.state, 0o755) == 0)
        let count = 20
        for index in before..<(before + count) { try daemon.write("note-\(index).txt", Self.content(index)) }
        var report = try Self.held(daemon, state: "state directory unwritable", total: before + count)
        #expect(report.files.ingested == before)
        #expect(report.files.failed == 0)
        let detail = try #require(report.stateDetail)
        #expect(detail.contains("restart insightd to start a new, empty database there"), "\(detail)")
        // The hold lasts: no retry writes into the deleted file, and no new database appears by itself.
        sleep(4)
        report = try daemon.status()
        #expect(report.state == "state directory unwritable")
        #expect(report.files.ingested == before && report.files.pending == count)
        #expect(FileManager.default.fileExists(atPath: daemon.state + "/insights.sqlite") == false)
        #expect(try daemon.stop() == 0)

        // A restart starts a new database, and the inbox (the durable queue) fills it: every file once.
        try daemon.start()
        report = try daemon.waitForStatus(timeout: 45, "the inbox is stored in the new database") {
            $0.files.ingested == before + count && $0.files.pending == 0
        }
        #expect(report.state == "running")
        #expect(report.files.failed == 0)
        #expect(report.insights.unique == before + count + 20)
        #expect(report.insights.occurrences == 2 * (before + count))
        #expect(try daemon.stop() == 0)
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        #expect(try database.integrityCheck() == "ok")
        try database.close()
    }
}
