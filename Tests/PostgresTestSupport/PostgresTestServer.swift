import Foundation

/// A real PostgreSQL server for tests: `initdb` into a temporary folder, `pg_ctl start` listening on a Unix socket
/// (and, when asked, on 127.0.0.1 over TCP, with or without TLS), stopped and removed at the end. Debian's server binaries live under /usr/lib/postgresql/VERSION/bin;
/// `deploy/dev-deps.sh` installs them. PostgreSQL refuses to run as root, so as root the server runs as the
/// `postgres` user the package creates.
public final class PostgresTestServer: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    let binaries: URL
    let runAs: String?
    /// The superuser name (the user that ran initdb).
    public let user: String

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether the server listens on 127.0.0.1 (at `port`) besides its Unix socket.
    public let listensOnLoopback: Bool

    /// Creates and starts a new cluster. Throws with what to install when the server binaries are missing.
    ///
    /// - Parameters:
    ///   - listenOnLoopback: also listen on 127.0.0.1 over TCP (without TLS unless `certificate` is given).
    ///   - certificate: listen on 127.0.0.1 with `ssl = on` and this certificate, and accept TCP clients over TLS only.
    public init(extraSettings: [String] = [], listenOnLoopback: Bool = false, certificate: TestServerCertificate? = nil) throws {
        guard let bin = Self.findBinaries() else {
            throw Unavailable(description: "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; run deploy/dev-deps.sh (installs postgresql)")
        }
        binaries = bin
        runAs = getuid() == 0 ? "postgres" : nil
        user = runAs ?? NSUserName()
        listensOnLoopback = listenOnLoopback || certificate != nil
        // Short path: a Unix socket path must fit in 107 bytes.
        let base = URL(fileURLWithPath: "/tmp/insightd-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        directory = base
        port = Int.random(in: 20_000...60_000)
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        if let runAs {
            try Self.run("/bin/chown", [runAs, base.path])
        }
        try runServerTool("initdb", ["-D", dataDirectory, "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C", "-U", user])
        var options = ["-c listen_addresses='\(listensOnLoopback ? "127.0.0.1" : "")'", "-k \(base.path)", "-p \(port)", "-c fsync=on",
                       "-c max_connections=60"]
        if let certificate {
            // The server reads its key as its own user, and refuses a key others can read.
            let crt = base.path + "/server.crt", key = base.path + "/server.key"
            try FileManager.default.copyItem(atPath: certificate.certificate, toPath: crt)
            try FileManager.default.copyItem(atPath: certificate.key, toPath: key)
            chmod(key, 0o600)
            if let runAs { try Self.run("/bin/chown", [runAs, crt, key]) }
            options += ["-c ssl=on", "-c ssl_cert_file=\(crt)", "-c ssl_key_file=\(key)"]
            // TCP clients over TLS only, so a test that means TLS cannot pass in the clear.
            try "local all all trust\nhostssl all all 127.0.0.1/32 trust\n"
                .write(toFile: dataDirectory + "/pg_hba.conf", atomically: false, encoding: .utf8)
        }
        options += extraSettings.map { "-c \($0)" }
        try start(options: options.joined(separator: " "))
        startOptions = options.joined(separator: " ")
        Self.register(self)
    }

    /// Servers still running when the test process exits (shared ones live in statics that are never
    /// deinitialized) are stopped by an exit handler, so no postgres outlives the tests.
    nonisolated(unsafe) private static var live: [(tool: String, runAs: String?, data: String, folder: String)] = []
    private static let liveLock = NSLock()

    private static func register(_ server: PostgresTestServer) {
        liveLock.lock()
        defer { liveLock.unlock() }
        if live.isEmpty {
            atexit {
                PostgresTestServer.liveLock.lock()
                let servers = PostgresTestServer.live
                PostgresTestServer.liveLock.unlock()
                for server in servers {
                    let arguments = ["-D", server.data, "-m", "immediate", "-w", "stop"]
                    if let runAs = server.runAs {
                        _ = try? PostgresTestServer.run("/usr/sbin/runuser", ["-u", runAs, "--", server.tool] + arguments)
                    } else {
                        _ = try? PostgresTestServer.run(server.tool, arguments)
                    }
                    try? FileManager.default.removeItem(atPath: server.folder)
                }
            }
        }
        live.append((server.binaries.appendingPathComponent("pg_ctl").path, server.runAs, server.dataDirectory, server.directory.path))
    }

    private var startOptions = ""
    var dataDirectory: String { directory.path + "/data" }

    /// A `postgres://` URL for `database` over the Unix socket.
    public func url(database: String = "postgres") -> String {
        "postgres://\(user)@/\(database)?host=\(directory.path)&port=\(port)"
    }

    /// A `postgres://` URL for `database` over TCP to `host` (which must lead to 127.0.0.1), with `query` appended.
    public func tcpURL(database: String = "postgres", host: String = "127.0.0.1", query: String = "") -> String {
        "postgres://\(user)@\(host):\(port)/\(database)" + (query.isEmpty ? "" : "?" + query)
    }

    /// Creates an empty database and returns its URL.
    public func createDatabase(_ name: String) throws -> String {
        try runServerTool("createdb", ["-h", directory.path, "-p", String(port), "-U", user, name])
        return url(database: name)
    }

    /// Runs SQL through psql and returns its unaligned output.
    public func psql(_ database: String, _ sql: String) throws -> String {
        try runServerTool("psql", ["-h", directory.path, "-p", String(port), "-U", user, "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
    }

    /// Stops the server at once (`-m fast`: sessions are cut, as when a server goes away).
    public func stop() throws {
        try runServerTool("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"])
    }

    /// Starts the stopped server again on the same socket.
    public func restart() throws {
        try start(options: startOptions)
    }

    private func start(options: String) throws {
        try runServerTool("pg_ctl", ["-D", dataDirectory, "-o", options, "-l", directory.path + "/server.log", "-w", "-t", "60", "start"])
    }

    deinit {
        _ = try? runServerTool("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    func runServerTool(_ tool: String, _ arguments: [String]) throws -> String {
        let path = binaries.appendingPathComponent(tool).path
        if let runAs {
            return try Self.run("/usr/sbin/runuser", ["-u", runAs, "--", path] + arguments)
        }
        return try Self.run(path, arguments)
    }

    /// Runs a program to its end and returns its output. posix_spawn and waitpid, not Foundation's Process:
    /// these run inside a lazily initialized static that several test threads may wait on at once, and Process
    /// needs other threads to notice that its child ended. Output goes to a file, not a pipe: `pg_ctl start`
    /// leaves a server running that would hold a pipe open forever.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let outputPath = NSTemporaryDirectory() + "insightd-pg-output-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        let pid: pid_t
        do {
            // The signal mask as the test process has it: PostgreSQL sets its own.
            pid = try Spawn.start(executable, arguments, output: .file(outputPath, append: false), defaultSignals: false)
        } catch {
            throw Unavailable(description: "\(error)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = ((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        // Exited normally with status 0.
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw Unavailable(description: "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// The bin folder of the newest PostgreSQL server installed under /usr/lib/postgresql; nil when there is none.
    public static func findBinaries() -> URL? {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = root.appendingPathComponent(version).appendingPathComponent("bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        return nil
    }
}
