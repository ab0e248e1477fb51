import Foundation
import InsightClient
import InsightCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A benchmark failure, with what to do about it.
struct DaemonBenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds on the monotonic clock.
func now() -> Double { monotonicSeconds() }

func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
    // Interrupted, it sleeps on for the time that remained.
    _ = try? retryingSyscall("nanosleep") { withUnsafeMutablePointer(to: &request) { nanosleep($0, $0) } }
}

/// The folder this executable lives in: `insightd` is built next to it.
func executableDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    return URL(fileURLWithPath: path).deletingLastPathComponent().path
}

/// A scratch folder for one benchmark: inbox, state, staging; short so the socket path fits in 107 bytes.
struct Workspace {
    let root: String
    var inbox: String { root + "/inbox" }
    var state: String { root + "/state" }
    var staging: String { root + "/staging" }
    var socket: String { root + "/state/insightd.sock" }
    var database: String { root + "/state/insights.sqlite" }
    var log: String { root + "/daemon.log" }

    init(_ name: String) throws {
        root = "/tmp/ib-\(name)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        for folder in [root, root + "/inbox", root + "/state", root + "/staging"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Writes `bytes` to `path` in one go.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd: FileDescriptor
    do {
        fd = try path.withCString { try FileDescriptor.open($0, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead]) }
    } catch {
        throw DaemonBenchError("cannot create \(path): \(error)")
    }
    defer { try? fd.close() }
    do {
        _ = try fd.writeAll(bytes)
    } catch {
        throw DaemonBenchError("cannot write \(path): \(error)")
    }
}

func renameFile(_ from: String, _ to: String) throws {
    guard rename(from, to) == 0 else { throw DaemonBenchError("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))") }
}

/// A real `insightd` child process on a workspace, driven through its socket.
final class DaemonProcess {
    let process: Process
    let workspace: Workspace
    let client: SocketClient
    let startedAt: Double
    var pid: Int32 { process.processIdentifier }

    /// Spawns the daemon; returns at once (see `waitReady`). `environment` is added after every inherited
    /// `INSIGHTD_*` variable is dropped, so only the benchmark decides the daemon's settings.
    init(binary: String, workspace: Workspace, settleMilliseconds: Int? = nil, environment extra: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw DaemonBenchError("no insightd at \(binary); build it first (swift build -c release) or pass --insightd PATH")
        }
        self.workspace = workspace
        client = SocketClient(path: workspace.socket, timeoutSeconds: 60)
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--inbox", workspace.inbox, "--state-dir", workspace.state, "--socket", workspace.socket]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "NOTIFY_SOCKET")
        environment.removeValue(forKey: "WATCHDOG_USEC")
        for key in environment.keys where key.hasPrefix("INSIGHTD_") { environment.removeValue(forKey: key) }
        if let settleMilliseconds { environment["INSIGHTD_SETTLE_MS"] = String(settleMilliseconds) }
        environment.merge(extra) { _, added in added }
        process.environment = environment
        _ = FileManager.default.createFile(atPath: workspace.log, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: workspace.log))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        startedAt = now()
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits until the socket answers a status request; returns the seconds since spawn.
    @discardableResult
    func waitReady(timeout: Double = 120) throws -> Double {
        let deadline = now() + timeout
        while now() < deadline {
            guard process.isRunning else { throw DaemonBenchError("insightd exited with status \(process.terminationStatus) during start-up; see \(workspace.log)") }
            if let reply = try? client.request("GET", "/v1/status"), reply.status == 200 { return now() - startedAt }
            sleepSeconds(0.002)
        }
        throw DaemonBenchError("insightd did not answer on \(workspace.socket) within \(Int(timeout)) s; see \(workspace.log)")
    }

    func status() throws -> StatusReport {
        let reply = try client.request("GET", "/v1/status")
        guard reply.status == 200 else { throw DaemonBenchError("status answered \(reply.status)") }
        return try WireJSON.decoder().decode(StatusReport.self, from: Data(reply.body))
    }

    /// How many results a search returns.
    func searchCount(_ words: String, limit: Int = 20) throws -> Int {
        let query = words.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? words
        let reply = try client.request("GET", "/v1/search?q=\(query)&limit=\(limit)")
        guard reply.status == 200 else { throw DaemonBenchError("search answered \(reply.status): \(String(decoding: reply.body, as: UTF8.self))") }
        struct Reply: Decodable { var results: [Hit] }
        struct Hit: Decodable { var id: Int64 }
        return try WireJSON.decoder().decode(Reply.self, from: Data(reply.body)).results.count
    }

    /// Polls status until `done` holds with nothing pending; returns the last report and the time it was seen.
    func waitUntilIdle(timeout: Double, interval: Double = 0.05, _ done: (StatusReport) -> Bool) throws -> (report: StatusReport, at: Double) {
        let deadline = now() + timeout
        while now() < deadline {
            guard process.isRunning else { throw DaemonBenchError("insightd exited with status \(process.terminationStatus); see \(workspace.log)") }
            let report = try status()
            let at = now()
            if report.files.pending == 0, done(report) { return (report, at) }
            sleepSeconds(interval)
        }
        let last = try? status()
        throw DaemonBenchError("insightd did not finish within \(Int(timeout)) s (last status: \(last.map { "\($0.files)" } ?? "none")); see \(workspace.log)")
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop(timeout: Double = 60) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = now() + timeout
        while process.isRunning, now() < deadline { sleepSeconds(0.01) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Daemons fed at the same moment, each through its own inbox and workspace: the harness of the bulk-ingest
/// benchmarks. Each daemon's files are written to its staging folder before it starts, so the timed part is
/// the renames into the inboxes and the daemons' work, not the writing of files.
final class DaemonFleet {
    private(set) var daemons: [DaemonProcess] = []
    private var workspaces: [Workspace] = []
    private var feeds: [[String]] = []
    private let keep: Bool

    /// Stages `shares[k]` for daemon k, starts one daemon per share with `environment(k)` added to its
    /// environment, and waits until every daemon answers and is idle.
    init(_ context: BenchContext, name: String, shares: [[CorpusFile]],
         environment: (Int) -> [String: String] = { _ in [:] }) throws {
        keep = context.keep
        // Every property is set from here on, so a throw below runs deinit, which ends what was started.
        for (index, share) in shares.enumerated() {
            let workspace = try Workspace(shares.count == 1 ? name : "\(name)\(index + 1)")
            workspaces.append(workspace)
            feeds.append(try stage(share, in: workspace))
            daemons.append(try DaemonProcess(binary: context.insightd, workspace: workspace, environment: environment(index)))
        }
        for daemon in daemons {
            try daemon.waitReady()
            _ = try daemon.waitUntilIdle(timeout: 30) { _ in true }
        }
    }

    deinit {
        stop()
        if !keep { for workspace in workspaces { workspace.remove() } }
    }

    /// Renames the staged files into the inboxes, taking turns between the daemons file by file so none gets
    /// a head start, then waits until every daemon reports all its files done. Returns the seconds from the
    /// first rename until the last daemon was seen done, and each daemon's status when it was seen done; the
    /// last status was taken after every daemon was done, so its store-wide counts are final.
    func dropAndWait(timeout: Double, interval: Double = 0.05) throws -> (seconds: Double, reports: [StatusReport]) {
        let start = now()
        for index in 0..<(feeds.map(\.count).max() ?? 0) {
            for (workspace, names) in zip(workspaces, feeds) where index < names.count {
                try renameFile(workspace.staging + "/" + names[index], workspace.inbox + "/" + names[index])
            }
        }
        var reports: [StatusReport] = []
        var end = start
        // One daemon polled at a time: status requests cost the store work, and the figures should not pay for many.
        for (daemon, names) in zip(daemons, feeds) {
            let (report, at) = try daemon.waitUntilIdle(timeout: timeout, interval: interval) {
                $0.files.ingested + $0.files.failed + $0.files.skipped >= names.count
            }
            reports.append(report)
            end = max(end, at)
        }
        return (end - start, reports)
    }

    /// Stops every daemon (SIGTERM, then waits).
    func stop() {
        for daemon in daemons { daemon.stop() }
    }
}

/// What /proc says about a process: memory, CPU time, and per-thread context switches.
struct ProcSample {
    struct ThreadSample {
        var tid: Int
        var name: String
        var voluntary: Int
        var involuntary: Int
    }
    var rssKiB: Int
    /// utime + stime, in clock ticks.
    var cpuTicks: Int
    var threads: [ThreadSample]
    var at: Double

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    init(pid: Int32) throws {
        at = now()
        let status = try Self.read("/proc/\(pid)/status")
        rssKiB = Self.field(status, "VmRSS:") ?? 0
        let stat = try Self.read("/proc/\(pid)/stat")
        // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
        guard let close = stat.lastIndex(of: ")") else { throw DaemonBenchError("unexpected /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Int(fields[11]), let stime = Int(fields[12]) else {
            throw DaemonBenchError("unexpected /proc/\(pid)/stat")
        }
        cpuTicks = utime + stime
        threads = []
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            guard let tid = Int(task), let text = try? Self.read("/proc/\(pid)/task/\(task)/status") else { continue }
            let name = text.split(separator: "\n").first { $0.hasPrefix("Name:") }
                .map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? "?"
            threads.append(ThreadSample(tid: tid, name: name, voluntary: Self.field(text, "voluntary_ctxt_switches:") ?? 0,
                                        involuntary: Self.field(text, "nonvoluntary_ctxt_switches:") ?? 0))
        }
    }

    private static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw DaemonBenchError("cannot read \(path); is the daemon still running?") }
        return String(decoding: data, as: UTF8.self)
    }

    private static func field(_ text: String, _ name: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return nil }
        return line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
    }
}

/// The p-th percentile (0...100) of `values`, nearest rank.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))]
}

/// Moves every file of a corpus into `folder`, writing it in staging first (as `mv` and browsers do).
func stage(_ corpus: [CorpusFile], in workspace: Workspace) throws -> [String] {
    var staged: [String] = []
    staged.reserveCapacity(corpus.count)
    for file in corpus {
        let path = workspace.staging + "/" + file.name
        try writeFile(path, file.bytes)
        staged.append(file.name)
    }
    return staged
}
