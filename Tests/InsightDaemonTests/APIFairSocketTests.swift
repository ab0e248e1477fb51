import Foundation
import InsightCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Opens `count` connections to a socket and holds them, sending one byte of a request that never ends every
/// second (`dribble`) or nothing (`hold`), until every one is closed or `seconds` pass. Prints `ready` once all
/// are connected, then one line per connection: the reply's status (`-` for none), when the daemon closed it
/// (seconds after connecting, `-1.00` for never) and the reply's body.
let slowClientScript = #"""
use strict; use warnings; use Socket; use Time::HiRes qw(time);
$SIG{PIPE} = 'IGNORE'; $| = 1;
my ($path, $count, $limit, $mode) = @ARGV;
my $request = "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " . ("a" x 200);
my @c;
for my $i (1 .. $count) {
    socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
    connect($s, pack_sockaddr_un($path)) or die "connect: $!";
    push @c, { s => $s, at => time, sent => 0, got => '', closed => -1 };
}
print "ready\n";
my $start = time;
my $tick = $start;
while (time - $start < $limit) {
    my $rin = '';
    my $open = 0;
    for my $c (@c) { next if $c->{closed} >= 0; vec($rin, fileno($c->{s}), 1) = 1; $open++; }
    last unless $open;
    if ($mode eq 'dribble' && time >= $tick) {
        for my $c (@c) { send($c->{s}, substr($request, $c->{sent}++, 1), MSG_NOSIGNAL) if $c->{closed} < 0; }
        $tick += 1;
    }
    my $wait = $tick - time;
    $wait = 0.1 if $wait > 0.1 || $wait < 0;
    next unless select(my $rout = $rin, undef, undef, $wait) > 0;
    for my $c (@c) {
        next if $c->{closed} >= 0 || !vec($rout, fileno($c->{s}), 1);
        my $n = sysread($c->{s}, my $buffer, 4096);
        if ($n) { $c->{got} .= $buffer; } else { $c->{closed} = time - $c->{at}; }
    }
}
for my $c (@c) {
    my ($status) = $c->{got} =~ m{^HTTP/1\.1 (\d{3})};
    my ($body) = $c->{got} =~ m{\r\n\r\n(.*)}s;
    $body //= '';
    $body =~ s/\s+$//;
    printf "%s %.2f %s\n", $status // '-', $c->{closed}, $body;
}
"""#

/// A run of `slowClientScript` as another uid (through setpriv), with its output collected as it comes.
final class SlowClients: @unchecked Sendable {
    /// What happened to one connection.
    struct Outcome {
        var status: Int?
        /// Seconds from connecting until the daemon closed it; nil when it stayed open.
        var closedAfter: Double?
        var body: String

        var error: ErrorReply? { try? WireJSON.decoder().decode(ErrorReply.self, from: Data(body.utf8)) }
    }

    let uid: UInt32
    private let process = Process()
    private let output = Mutex("")
    private let finished = DispatchGroup()

    init(uid: UInt32, socket: String, count: Int, seconds: Double, dribble: Bool) throws {
        self.uid = uid
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/perl", "-e", slowClientScript,
                             socket, String(count), String(seconds), dribble ? "dribble" : "hold"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        // A thread of its own: blocked dispatch workers are not replaced on Linux, so several runs reading on the
        // global queue would wait for each other.
        finished.enter()
        Thread { [self] in
            while case let chunk = reader.availableData, !chunk.isEmpty {
                self.output.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
            finished.leave()
        }.start()
    }

    /// Waits until every connection is open.
    func waitUntilReady(timeout: Double = 10) throws {
        try waitUntil(timeout: timeout, "uid \(uid)'s connections are open") { output.withLock { $0.hasPrefix("ready\n") } }
    }

    /// Waits for the script to end and reads what happened to each connection.
    func outcomes(timeout: Double = 20) throws -> [Outcome] {
        guard finished.wait(timeout: .now() + timeout) == .success else {
            process.terminate()
            throw HarnessError("the slow clients of uid \(uid) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("the slow clients of uid \(uid) failed: \(process.terminationStatus)") }
        return output.withLock { $0 }.split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            let closed = fields.count > 1 ? Double(fields[1]) ?? -1 : -1
            return Outcome(status: Int(fields[0]), closedAfter: closed < 0 ? nil : closed, body: fields.count > 2 ? String(fields[2]) : "")
        }
    }
}

/// Runs `body` and returns how long it took, in seconds.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = Date()
    let result = try body()
    return (result, Date().timeIntervalSince(start))
}

/// Runs insightctl as `uid` (primary group the same number) with the given supplementary groups.
func ctlAs(_ uid: UInt32, groups: [UInt32] = [], _ daemon: DaemonHarness, _ arguments: [String]) throws -> CommandResult {
    let groupArguments = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
    return try runCommand("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)"] + groupArguments
                          + [Binaries.insightctl, "--socket", daemon.socket] + arguments)
}

/// Whether the tests can run clients as other users: root, setpriv, and perl with Time::HiRes.
func canRunSlowClients() -> Bool {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return false }
    return (try? runCommand("/usr/bin/perl", ["-MSocket", "-MTime::HiRes", "-e", "1"]).status) == 0
}

@Suite("one user cannot lock others out of the socket", .serialized)
struct APIFairSocketTests {
    /// The request deadline for these tests, short to keep them quick; the default is 10 s.
    static let deadline = 5.0

    /// A daemon on the fixtures whose socket anyone may open, with the short request deadline.
    func openSocketDaemon(adminGroup: String? = nil) throws -> DaemonHarness {
        var environment = ["INSIGHTD_SOCKET_MODE": "0666", "INSIGHTD_SOCKET_REQUEST_TIMEOUT_S": String(Int(Self.deadline))]
        if let adminGroup { environment["INSIGHTD_ADMIN_GROUP"] = adminGroup }
        let daemon = try startedWithFixtures(environment: environment)
        chmod(daemon.root, 0o755)
        chmod(daemon.state, 0o755)
        return daemon
    }

    /// Root's status, pause and resume, each of which must succeed within two seconds.
    func rootStillControls(_ daemon: DaemonHarness) throws {
        for (arguments, state) in [(["pause"], "paused"), (["resume"], "running")] {
            let (result, seconds) = try timed { try daemon.ctl(arguments) }
            #expect(result.status == 0, "root's \(arguments) failed: \(result.stderr)")
            #expect(seconds < 2, "root's \(arguments) took \(seconds) s")
            let (status, statusSeconds) = try timed { try daemon.ctl(["status", "--json"]) }
            #expect(status.status == 0, "root's status failed: \(status.stderr)")
            #expect(statusSeconds < 2, "root's status took \(statusSeconds) s")
            #expect(status.stdout.contains("\"state\":\"\(state)\""), "\(status.stdout)")
        }
    }

    @Test func oneUserDribblingRequestsGetsSixteenSlotsAndLosesThemAtTheDeadline() throws {
        try #require(canRunSlowClients(), "needs root, setpriv and perl")
        let daemon = try openSocketDaemon()
        defer { _ = try? daemon.stop() }

        // 150 connections from nobody, each sending one byte of a request a second, for longer than the deadline.
        let attacker = try SlowClients(uid: 65534, socket: daemon.socket, count: 150, seconds: Self.deadline + 4, dribble: true)
        try attacker.waitUntilReady()
        try rootStillControls(daemon)
        let outcomes = try attacker.outcomes()
        #expect(outcomes.count == 150)

        // Sixteen were served until the deadline, however steadily they sent, then told so and closed.
        let timedOut = outcomes.filter { $0.status == 408 }
        #expect(timedOut.count == 16)
        for outcome in timedOut {
            let closed = try #require(outcome.closedAfter, "a connection past the deadline stayed open")
            #expect(closed > Self.deadline - 0.5 && closed < Self.deadline + 1.5, "closed after \(closed) s")
            #expect(outcome.error?.error.code == "request_timeout")
            #expect(outcome.error?.error.message.contains("within \(Int(Self.deadline)) s of connecting") == true, "\(outcome.body)")
        }
        // The rest were refused at once with what to do.
        let refused = outcomes.filter { $0.status == 503 }
        #expect(refused.count == 134)
        for outcome in refused {
            #expect((outcome.closedAfter ?? 99) < 1)
            #expect(outcome.error?.error.code == "too_many_connections")
            #expect(outcome.error?.error.message == "uid 65534 already has 16 connections open to insightd, the most one user may hold; "
                    + "close the ones you are not using (each request needs one, for a moment) and try again")
        }
        // Its slots are free again, and the log named it once per kind, not once per connection.
        #expect(try ctlAs(65534, daemon, ["status"]).status == 0)
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.filter { $0.contains("socket connections refused") && $0.contains("uid=65534") }.count == 1)
        #expect(lines.filter { $0.contains("socket connections closed") && $0.contains("uid=65534") }.count == 1)
        #expect(lines.contains { $0.contains("socket connections refused") && $0.contains("refused_since_last_warning=1") })
    }

    @Test func reservedSlotsLetAdministratorsInWhenOtherUsersFillTheSocket() throws {
        try #require(canRunSlowClients(), "needs root, setpriv and perl")
        let group = try #require(existingGroup(), "needs a group such as users or staff")
        let daemon = try openSocketDaemon(adminGroup: group.name)
        defer { _ = try? daemon.stop() }

        // Nine users, sixteen silent connections each: 144 asked for, 128 open to everyone.
        let users = try (60001...60009).map { uid in
            try SlowClients(uid: UInt32(uid), socket: daemon.socket, count: 16, seconds: Self.deadline + 4, dribble: false)
        }
        for user in users { try user.waitUntilReady() }
        let filled = Date()

        // Another user is turned away; root, and a member of admin_group, get in through the reserved slots.
        let outsider = try ctlAs(60010, daemon, ["status"])
        #expect(outsider.status != 0)
        #expect(outsider.stderr.contains("insightd has 128 connections open; try again shortly"), "\(outsider.stderr)")
        for arguments in [["pause"], ["resume"], ["status"]] {
            let (result, seconds) = try timed { try ctlAs(65534, groups: [group.gid], daemon, arguments) }
            #expect(result.status == 0, "the admin group member's \(arguments) failed: \(result.stderr)")
            #expect(seconds < 2)
        }
        try rootStillControls(daemon)
        // All of that happened while the socket was full, before the deadline cleared it.
        let elapsed = Date().timeIntervalSince(filled)
        #expect(elapsed < Self.deadline - 0.5, "the checks took \(elapsed) s, past the request deadline")

        let outcomes = try users.flatMap { try $0.outcomes() }
        #expect(outcomes.count == 144)
        #expect(outcomes.filter { $0.status == 408 }.count == 128)
        let busy = outcomes.filter { $0.status == 503 }
        #expect(busy.count == 16)
        #expect(busy.allSatisfy { $0.error?.error.code == "busy" })
        #expect(outcomes.allSatisfy { $0.closedAfter != nil })
        // Once the deadline has cleared them, everyone is served again.
        #expect(try ctlAs(60010, daemon, ["status"]).status == 0)
    }
}
