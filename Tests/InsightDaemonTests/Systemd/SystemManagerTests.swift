import Foundation
import PostgresTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether a container with systemd as its PID 1 can be booted here: root and systemd-nspawn.
private let containerAvailable: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-nspawn")

@Suite("the Debian package under a real systemd system manager (systemd-nspawn)", .serialized)
struct SystemManagerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("system-manager.sh").path
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// system-manager.sh boots Debian 12 in a container, installs the .deb ($INSIGHTD_DEB, which deploy/test.sh
    /// builds; else the script builds one) with apt-get, and checks the service through systemctl: start after
    /// READY, ingestion, dynamic-user state, socket group, who may do what, reload, journal priorities, stop and
    /// start, the watchdog, hardening, exposure, remove, install.sh/uninstall.sh, purge. Each check is printed
    /// as it passes.
    @Test(.enabled(if: containerAvailable, "skipped: booting a container needs root and systemd-nspawn (apt-get install systemd-container)"))
    func packageUnderSystemManager() throws {
        let deb = ProcessInfo.processInfo.environment["INSIGHTD_DEB"].flatMap { $0.isEmpty ? nil : $0 }
        // Without a package the script builds one, and a release build takes far longer than the checks.
        let timeout: Double = deb == nil ? 3600 : 900
        let (status, transcript) = try runStreaming("/bin/bash", [Self.script, Self.repo] + (deb.map { [$0] } ?? []), timeout: timeout)
        #expect(status == 0, "system-manager.sh exited with \(status):\n\(transcript.suffix(6000))")
        #expect(transcript.contains("\nPASS in "), "no PASS line")
    }
}

/// Runs a command, printing its output line by line as it comes (so each check shows while the run goes on),
/// and returns its exit status and whole output. The command is sent SIGTERM after `timeout` seconds, SIGKILL
/// a minute later.
///
/// Spawned with an empty signal mask and default handlers (`Spawn`): with the test process's mask, `timeout` inside
/// the script could not stop a hung connect and SIGTERM could not reach the script's teardown.
private func runStreaming(_ executable: String, _ arguments: [String], timeout: Double) throws -> (Int32, String) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw HarnessError("pipe: \(String(cString: strerror(errno)))") }
    let (readEnd, writeEnd) = (fds[0], fds[1])

    let pid: pid_t
    do {
        pid = try Spawn.start(executable, arguments, output: .descriptor(writeEnd), closing: [readEnd, writeEnd])
    } catch {
        close(writeEnd)
        close(readEnd)
        throw error
    }
    close(writeEnd)

    let collected = Collected()
    let reader = Thread {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(readEnd, &buffer, buffer.count)
            if count > 0 { collected.append(Data(buffer[0..<count])) } else if count == 0 || errno != EINTR { break }
        }
        close(readEnd)
        collected.finish()
    }
    reader.start()

    var status: Int32 = 0
    let deadline = Date().addingTimeInterval(timeout)
    var signalled: Int32 = 0
    while waitpid(pid, &status, WNOHANG) == 0 {
        if signalled == 0 && Date() > deadline {
            collected.append(Data("\nFAIL: timed out after \(Int(timeout)) s\n".utf8))
            kill(pid, SIGTERM)   // the script tears the container down on SIGTERM
            signalled = SIGTERM
        } else if signalled == SIGTERM && Date() > deadline.addingTimeInterval(60) {
            kill(pid, SIGKILL)
            signalled = SIGKILL
        }
        usleep(100_000)
    }
    collected.waitUntilFinished()
    let exited = status & 0x7f == 0
    return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), collected.text)
}

/// Output gathered from the reader thread; complete lines are printed as they arrive.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var all = Data()
    private var pending = Data()

    func append(_ data: Data) {
        lock.lock(); defer { lock.unlock() }
        all.append(data)
        pending.append(data)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
            print(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
            pending = Data(pending[pending.index(after: newline)...])
        }
    }

    /// The pipe is closed: prints what is left of the last line.
    func finish() {
        lock.lock()
        if !pending.isEmpty { print(String(decoding: pending, as: UTF8.self)); pending = Data() }
        lock.unlock()
        done.signal()
    }

    /// Waits for the pipe to close; a process that kept it open past the script's end is not waited for long.
    func waitUntilFinished() { _ = done.wait(timeout: .now() + 30) }

    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: all, as: UTF8.self)
    }
}
