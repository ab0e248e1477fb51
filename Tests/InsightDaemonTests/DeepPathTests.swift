import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Creates `levels` nested folders named by `name(level)` under `base` through directory descriptors (`mkdirat`,
/// `openat`): their paths may be longer than PATH_MAX, which `mkdir` with a whole path refuses. Returns the path
/// relative to `base`.
func makeDeepTree(under base: String, levels: Int, name: (Int) -> String) throws -> String {
    var fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw HarnessError("open \(base): \(String(cString: strerror(errno)))") }
    var names: [String] = []
    for level in 0..<levels {
        let component = name(level)
        guard mkdirat(fd, component, 0o755) == 0 else { close(fd); throw HarnessError("mkdirat \(component): \(String(cString: strerror(errno)))") }
        let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        close(fd)
        guard next >= 0 else { throw HarnessError("openat \(component): \(String(cString: strerror(errno)))") }
        fd = next
        names.append(component)
    }
    // A note at the bottom, which nothing can reach by path.
    let file = openat(fd, "unreachable.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    if file >= 0 {
        _ = "A note so deep in the inbox that its path is longer than the system allows.\n".withCString { write(file, $0, strlen($0)) }
        close(file)
    }
    close(fd)
    return names.joined(separator: "/")
}

@Suite("Folders deeper than PATH_MAX are recorded once, shortened", .serialized)
struct DeepPathTests {
    @Test func aFolderOverPathMaxIsRecordedOnceShortenedAndNotPolled() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_WATCH_POLL_INTERVAL_S": "1", "INSIGHTD_FETCH_ENABLED": "false"])
        try daemon.start()
        // 22 levels of 202 bytes: the inbox's path passes 4096 bytes at the 21st.
        func name(_ level: Int) -> String {
            String(format: "level-%02d-", level) + String(repeating: "x", count: 190) + String(format: "-%02d", level)
        }
        defer {
            // FileManager cannot remove a tree this deep; rm walks it with directory descriptors.
            _ = try? runCommand("/bin/rm", ["-rf", daemon.inbox + "/" + name(0)])
        }
        let relative = try makeDeepTree(under: daemon.inbox, levels: 22, name: name)
        #expect((daemon.inbox + "/" + relative).utf8.count > Int(PATH_MAX))
        try daemon.write("a.txt", fixture("a.txt"))

        let report = try daemon.waitForStatus(timeout: 30, "the deep folder is recorded and a.txt stored") {
            $0.files.failed == 1 && $0.files.ingested == 1
        }
        let problem = try #require(report.lastError)
        // The first folder whose path is too long, as its first and last 40 characters.
        let components = relative.split(separator: "/").map(String.init)
        let cut = try #require((1...components.count).first { count in
            (daemon.inbox + "/" + components.prefix(count).joined(separator: "/")).utf8.count >= Int(PATH_MAX)
        })
        let full = components.prefix(cut).joined(separator: "/")
        let short = String(full.prefix(40)) + "…" + String(full.suffix(40))
        #expect(problem.path == short)
        #expect(problem.message.contains("PATH_MAX"), "\(problem.message)")
        #expect(problem.message.contains("move the folder higher up"), "\(problem.message)")
        #expect(report.watch.polled.isEmpty, "\(report.watch.polled.map { $0.count })")

        // Several poll intervals and a rescan later: still one record, not polled, the long path nowhere in status.
        sleep(3)
        #expect(try daemon.ctl(["rescan"]).status == 0)
        try daemon.write("b.md", fixture("b.md"))
        let later = try daemon.waitForStatus(timeout: 30, "b.md is stored after the rescan") { $0.files.ingested == 2 }
        #expect(later.files.failed == 1)
        #expect(later.watch.polled.isEmpty)
        let json = try daemon.ctl(["status", "--json"]).stdout
        #expect(!json.contains(String(components[0].prefix(60))), "status holds the whole path")
        #expect(json.utf8.count < 4096, "status is \(json.utf8.count) bytes")
        let failed = try daemon.ctl(["failed"])
        #expect(failed.status == 0)
        #expect(failed.stdout.components(separatedBy: short).count - 1 == 1, "\(failed.stdout)")
        #expect(!failed.stdout.contains(String(components[0].prefix(60))))
        #expect(daemon.log.components(separatedBy: "has a path over PATH_MAX").count - 1 == 1)
        #expect(!daemon.log.contains(components[cut - 1]), "the log names the whole folder")

        // A retry cannot reach it by name: the record stays while the folder is there, and goes with it.
        #expect(try daemon.ctl(["retry", "--all"]).status == 0)
        usleep(500_000)
        let retried = try daemon.waitForStatus(timeout: 10, "the retry is handled") { _ in true }
        #expect(retried.files.failed == 1 && retried.files.removed == 0, "\(retried.files)")
        #expect(try runCommand("/bin/rm", ["-rf", daemon.inbox + "/" + name(0)]).status == 0)
        let gone = try daemon.waitForStatus(timeout: 10, "the record is marked removed") { $0.files.removed == 1 }
        #expect(gone.files.failed == 0 && gone.files.ingested == 2)
        try daemon.stop()
    }
}
