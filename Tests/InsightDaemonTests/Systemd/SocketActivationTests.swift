import Foundation
import PostgresTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A listening Unix socket made here, as systemd makes insightd.socket's: bound, with its own mode, listening.
private final class ListeningSocket {
    let path: String
    let descriptor: Int32

    init(path: String, mode: mode_t) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        let bound = withUnixSocketAddress(path) { bind(descriptor, $0, $1) }
        guard bound == 0, chmod(path, mode) == 0, listen(descriptor, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw HarnessError("bind, chmod or listen on \(path): \(message)")
        }
    }

    deinit { close(descriptor) }
}

/// A daemon spawned as systemd spawns a socket-activated service: `descriptor` as fd 3, `LISTEN_FDS=1`, and
/// `LISTEN_PID` its own pid (a shell sets it to `$$` and execs the daemon, which keeps that pid).
private final class ActivatedDaemon {
    let pid: pid_t

    init(descriptor: Int32, arguments: [String], log: String, listenFDs: String = "1") throws {
        var environment = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            environment.removeValue(forKey: key)
        }
        environment["LISTEN_FDS"] = listenFDs
        environment["INSIGHTD_SEMANTIC_ENABLED"] = "false"
        pid = try Spawn.start("/bin/sh", ["-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"", Binaries.insightd] + arguments,
                              output: .file(log, append: true), passing: (descriptor, as: 3), environment: environment)
    }

    /// Waits at most `timeout` seconds for the exit; the exit status, or nil when it still runs.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            usleep(50_000)
        }
        return nil
    }

    /// SIGTERM, then the exit status.
    func stop() -> Int32? {
        kill(pid, SIGTERM)
        return waitForExit(timeout: 30)
    }

    deinit {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }
}

/// The system service's socket comes from insightd.socket: systemd binds it with its group and mode and passes it
/// (socket activation). The daemon must serve on it as it is, and leave it in place when it stops.
@Suite("socket activation: insightd serves on the socket systemd passes", .serialized)
struct SocketActivationTests {
    @Test func servesThePassedSocketAndLeavesItInPlace() throws {
        let root = "/tmp/insightd-sa-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: root) }
        for folder in ["inbox", "state"] { try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true) }
        try Data(try fixture("a.txt").utf8).write(to: URL(fileURLWithPath: root + "/inbox/a.txt"))
        let passed = try ListeningSocket(path: root + "/passed.sock", mode: 0o640)
        // The configured socket, which must not be used when one is passed.
        let configured = root + "/state/configured.sock"
        let log = root + "/daemon.log"
        let arguments = ["--inbox", root + "/inbox", "--state-dir", root + "/state", "--socket", configured]
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        for round in 1...2 {   // a second daemon on the same socket, as after a restart
            let daemon = try ActivatedDaemon(descriptor: passed.descriptor, arguments: arguments, log: log)
            try waitUntil(timeout: 30, "daemon \(round) is up") { logText().components(separatedBy: " watching ").count > round }
            #expect(!FileManager.default.fileExists(atPath: configured), "the daemon bound the configured socket instead of the passed one")
            #expect(logText().contains("serving on the socket passed by the service manager: \(passed.path)"), "\(logText())")
            try waitUntil(timeout: 30, "the passed file is ingested") {
                let result = try runCommand(Binaries.insightctl, ["--socket", passed.path, "status", "--json"], timeout: 20)
                return result.status == 0 && result.stdout.replacingOccurrences(of: " ", with: "").contains("\"ingested\":1")
            }
            #expect(daemon.stop() == 0, "the daemon did not stop cleanly: \(logText())")
            // Not unlinked, not chmod'ed: the socket is the service manager's.
            var info = stat()
            #expect(lstat(passed.path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK, "the daemon removed the passed socket at stop")
            #expect(info.st_mode & 0o7777 == 0o640, "the daemon changed the passed socket's mode to \(String(info.st_mode & 0o7777, radix: 8))")
        }
        #expect(logText().components(separatedBy: "stopped cleanly").count == 3)
    }

    @Test func refusesAPassedDescriptorThatIsNotAListeningUnixSocket() throws {
        let root = "/tmp/insightd-sa-" + String(UUID().uuidString.prefix(8))
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/inbox", withIntermediateDirectories: true)
        let file = open(root + "/not-a-socket", O_RDWR | O_CREAT, 0o600)
        try #require(file >= 0)
        defer { close(file) }
        let log = root + "/daemon.log"
        let daemon = try ActivatedDaemon(descriptor: file, arguments: ["--inbox", root + "/inbox", "--state-dir", root + "/state",
                                                                        "--socket", root + "/configured.sock"], log: log)
        let status = daemon.waitForExit(timeout: 30)
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 1, "exit \(String(describing: status)): \(text)")
        #expect(text.contains("cannot serve the API: it is not a listening Unix stream socket"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: root + "/configured.sock"))
    }
}
