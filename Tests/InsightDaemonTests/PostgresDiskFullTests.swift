import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("A full disk under the PostgreSQL tablespace holds ingestion up and loses nothing", .serialized)
struct PostgresDiskFullTests {
    /// Whether a PostgreSQL server can be started here and a tmpfs mounted for its tablespace; says why not once.
    static let available: Bool = {
        guard SmallDisk.available else { return false }
        guard getpwnam("postgres") != nil else {
            print("PostgresDiskFullTests skipped: no postgres user to own the tablespace")
            return false
        }
        guard PostgresTestServer.findBinaries() != nil else {
            print("PostgresDiskFullTests skipped: PostgreSQL server binaries not found; run deploy/dev-deps.sh")
            return false
        }
        return true
    }()

    @Test(.enabled(if: available, "needs root, a tmpfs mount and the PostgreSQL server binaries"), .timeLimit(.minutes(3)))
    func filesDroppedWhileTheTablespaceIsFullWaitAndAreAllStoredOnceSpaceIsFreed() throws {
        // A server of its own: its tablespace is on a small tmpfs that this test fills.
        let server = try PostgresTestServer()
        let owner = try #require(getpwnam("postgres")).pointee
        let space = server.directory.path + "/tablespace"
        try FileManager.default.createDirectory(atPath: space, withIntermediateDirectories: false)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700,uid=\(owner.pw_uid),gid=\(owner.pw_gid)", "tmpfs", space], timeout: 10)
        try #require(mounted.status == 0, "mount -t tmpfs on \(space): \(mounted.stderr)")
        // The server stops before its tablespace is unmounted, even when the test fails half way.
        defer {
            try? server.stop()
            SmallDisk.unmount(space)
        }
        _ = try server.psql("postgres", "CREATE TABLESPACE full_disk LOCATION '\(space)'")
        _ = try server.psql("postgres", "CREATE DATABASE on_small_disk TABLESPACE full_disk")
        let url = server.url(database: "on_small_disk")

        let daemon = try DaemonHarness(environment: ["INSIGHTD_STORE_URL": url, "INSIGHTD_STORE_HOST": "small-disk",
                                                     "INSIGHTD_FETCH_ENABLED": "false", "INSIGHTD_LOG_LEVEL": "info"])
        let listener = try NotifySocketListener(directory: daemon.root)
        daemon.environment["NOTIFY_SOCKET"] = listener.path
        defer { daemon.crash() }
        try daemon.start()
        let before = 5
        for index in 0..<before { try daemon.write("note-\(index).txt", DiskFullTests.content(index)) }
        _ = try daemon.waitForStatus(timeout: 30, "the first files are stored") { $0.files.ingested == before }

        // Root fills what the server may use; every new page of a table or index needs space there.
        let filler = space + "/filler"
        let filled = try SmallDisk.fill(filler)
        #expect(filled > 0)
        let count = 200
        for index in before..<(before + count) { try daemon.write("note-\(index).txt", DiskFullTests.content(index)) }
        let total = before + count
        var held = StatusReport()
        try waitUntil(timeout: 40, "status reports the full disk with all \(total) files stored or pending") {
            guard let report = try? daemon.status() else { return false }
            held = report
            return report.state == "disk full" && report.files.pending + report.files.ingested == total
        }
        #expect(held.files.failed == 0 && held.files.skipped == 0)
        #expect(held.files.pending > 0)
        let detail = try #require(held.stateDetail)
        #expect(detail.contains("the disk of the PostgreSQL server at "), "\(detail)")
        #expect(detail.contains("free space on the database server") && detail.contains("ingestion resumes by itself"), "\(detail)")
        let text = try daemon.ctl(["status"])
        #expect(text.stdout.contains("disk full"), "\(text.stdout)")
        try waitUntil(timeout: 10, "STATUS= says the disk is full") {
            listener.with("STATUS").contains { $0.fields["STATUS"]?.hasPrefix("disk full: the disk of the PostgreSQL server") == true }
        }
        #expect(try daemon.ctl(["failed"]).stdout.contains("note-") == false)
        let log = (try? String(contentsOfFile: server.directory.path + "/server.log", encoding: .utf8)) ?? ""
        #expect(log.contains("No space left on device"), "the server saw ENOSPC")

        // Space comes back: everything is stored without a command, each file once.
        #expect(unlink(filler) == 0)
        let report = try daemon.waitForStatus(timeout: 70, "all \(total) files are stored after space is freed") {
            $0.files.ingested == total && $0.state == "running"
        }
        #expect(report.files.failed == 0 && report.files.pending == 0)
        #expect(report.insights.unique == total + 20)
        #expect(report.insights.occurrences == 2 * total)
        #expect(report.stateDetail == nil)
        let verified = try daemon.ctl(["status", "--verify"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(try daemon.stop() == 0)
        let sources = try server.psql("on_small_disk", "SELECT count(*) FROM source WHERE state = 'ingested'")
        #expect(sources == String(total))
        let unique = try server.psql("on_small_disk", "SELECT count(*) FROM insight")
        #expect(unique == String(total + 20))
    }
}
