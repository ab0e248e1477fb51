import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where the built `insightd` and `insightctl` are: beside the test bundle.
enum Binaries {
    static let directory: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/insightd") } ?? candidates[0]
    }()
    static var insightd: String { directory + "/insightd" }
    static var insightctl: String { directory + "/insightctl" }
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}

/// The result of running a command to completion.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments`, waiting at most `timeout` seconds.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Double = 60) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var outData = Data(), errData = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        throw HarnessError("\(executable) \(arguments) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real insightd on temporary folders: started as a child process, talked to with the real insightctl.
final class DaemonHarness: @unchecked Sendable {
    let root: String
    let inbox: String
    let state: String
    let socket: String
    let logPath: String
    var extraArguments: [String]
    var environment: [String: String]
    /// Run the daemon as this unprivileged uid (through setpriv), so file permissions apply to it.
    var runAsUID: UInt32?
    private(set) var process: Process?

    /// - Parameter socketOutsideState: put the socket beside the state folder instead of in it, for tests that
    ///   move or delete the state folder while the daemon runs.
    init(extraArguments: [String] = [], environment: [String: String] = [:], socketOutsideState: Bool = false) throws {
        // Short root: Unix socket paths are limited to 107 bytes.
        root = "/tmp/insightd-test-" + String(UUID().uuidString.prefix(8))
        inbox = root + "/inbox"
        state = root + "/state"
        socket = socketOutsideState ? root + "/insightd.sock" : root + "/state/insightd.sock"
        logPath = root + "/daemon.log"
        self.extraArguments = extraArguments
        self.environment = environment
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
    }

    deinit {
        if let process, process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: root)
    }

    var arguments: [String] { ["--inbox", inbox, "--state-dir", state, "--socket", socket] + extraArguments }

    /// Starts the daemon and waits until its socket answers.
    func start() throws {
        let process = Process()
        if let uid = runAsUID {
            chown(root, uid, uid)
            for folder in [inbox, state] { chown(folder, uid, uid) }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", Binaries.insightd] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Binaries.insightd)
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env["INSIGHTD_LOG_LEVEL"] = "debug"
        // Sentence vectors only where a test asks for them (SemanticTests): elsewhere they would add CPU work and
        // meaning hits to searches whose word results a test checks.
        env["INSIGHTD_SEMANTIC_ENABLED"] = "false"
        env.merge(environment) { $1 }
        process.environment = env
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitUntil(timeout: 30, "the daemon's socket answers") { (try? self.ctl(["status", "--json"]).status) == 0 }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    @discardableResult
    func stop() throws -> Int32 {
        guard let process else { return 0 }
        kill(process.processIdentifier, SIGTERM)
        try waitUntil(timeout: 30, "the daemon exits after SIGTERM") { !process.isRunning }
        self.process = nil
        return process.terminationStatus
    }

    /// Kills the daemon with SIGKILL, leaving whatever it had on disk.
    func crash() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Runs insightctl against this daemon's socket.
    func ctl(_ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.insightctl, ["--socket", socket] + arguments)
    }

    /// The daemon's status, through the real CLI.
    func status() throws -> StatusReport {
        let result = try ctl(["status", "--json"])
        guard result.status == 0 else { throw HarnessError("insightctl status failed (\(result.status)): \(result.stderr)") }
        return try WireJSON.decoder().decode(StatusReport.self, from: Data(result.stdout.utf8))
    }

    /// Waits until the daemon has nothing pending and `condition` holds for its status.
    @discardableResult
    func waitForStatus(timeout: Double = 60, _ what: String, _ condition: (StatusReport) -> Bool) throws -> StatusReport {
        var last: StatusReport?
        try waitUntil(timeout: timeout, what) {
            guard let report = try? status() else { return false }
            last = report
            return report.files.pending == 0 && condition(report)
        }
        guard let last else { throw HarnessError("no status") }
        return last
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Copies a fixture file into the inbox by writing it in place.
    func write(_ name: String, _ content: String) throws {
        try Data(content.utf8).write(to: URL(fileURLWithPath: inbox + "/" + name))
    }

    /// Writes a file outside the inbox and renames it in, as browsers and `mv` do.
    func moveIn(_ name: String, _ content: String) throws {
        let staging = root + "/staging-" + UUID().uuidString
        try Data(content.utf8).write(to: URL(fileURLWithPath: staging))
        guard rename(staging, inbox + "/" + name) == 0 else { throw HarnessError("rename into the inbox failed") }
    }
}

/// Polls `condition` every 50 ms until it holds, failing after `timeout` seconds.
func waitUntil(timeout: Double, _ what: String, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return }
        usleep(50_000)
    }
    throw HarnessError("timed out after \(timeout) s waiting until \(what)")
}

func fixture(_ name: String) throws -> String {
    try String(contentsOfFile: Binaries.fixtures + "/inbox/" + name, encoding: .utf8)
}

/// Calls `body` with `path` as a `sockaddr_un`, ready for `connect` or `bind`.
func withUnixSocketAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}
