import Foundation
import InsightCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs insightctl as uid/gid 65534 (nobody), with the given supplementary groups, via setpriv.
func ctlAsNobody(_ daemon: DaemonHarness, groups: [UInt32] = [], _ arguments: [String]) throws -> CommandResult {
    let groupArguments = groups.isEmpty ? ["--clear-groups"] : ["--groups=" + groups.map(String.init).joined(separator: ",")]
    return try runCommand("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534"] + groupArguments
                          + [Binaries.insightctl, "--socket", daemon.socket] + arguments)
}

/// A group that exists here and that nobody is not a member of, for admin_group.
func existingGroup() -> (name: String, gid: UInt32)? {
    for name in ["users", "staff", "adm"] {
        if let entry = getgrnam(name) { return (name, entry.pointee.gr_gid) }
    }
    return nil
}

/// A daemon whose socket anyone may open, so that the policy, not the file mode, decides.
func openDaemon(adminGroup: String?) throws -> DaemonHarness {
    var environment = ["INSIGHTD_SOCKET_MODE": "0666"]
    if let adminGroup { environment["INSIGHTD_ADMIN_GROUP"] = adminGroup }
    let daemon = try startedWithFixtures(environment: environment)
    chmod(daemon.root, 0o755)
    chmod(daemon.state, 0o755)
    return daemon
}

let writeCommands: [[String]] = [["pause"], ["resume"], ["rescan"], ["retry", "--all"], ["retry", "a.txt"], ["forget", "1"], ["add", "https://example.org/"]]

@Suite("who may change state over the socket", .serialized)
struct APIPermissionTests {
    @Test func othersMayReadButOnlyTheAdminGroupMayWrite() throws {
        try #require(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv")
        let group = try #require(existingGroup(), "needs a group such as users or staff")
        let daemon = try openDaemon(adminGroup: group.name)
        defer { _ = try? daemon.stop() }

        for read in [["status", "--json"], ["search", "shipping"], ["recent"], ["show", "1"], ["sources"], ["failed"], ["links"], ["export"]] {
            let result = try ctlAsNobody(daemon, read)
            #expect(result.status == 0, "\(read) as nobody: \(result.stderr)")
        }
        for write in writeCommands {
            let result = try ctlAsNobody(daemon, write)
            #expect(result.status == 4, "\(write) as nobody: \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("group \"\(group.name)\" (admin_group)"), "\(result.stderr)")
        }
        // Nothing changed.
        let status = try daemon.status()
        #expect(status.state == "running")
        #expect(status.insights.unique == 10)
        #expect(daemon.log.contains("refused") && daemon.log.contains("uid=65534"))

        // A member of the group (here through the process's supplementary groups) may.
        let paused = try ctlAsNobody(daemon, groups: [group.gid], ["pause"])
        #expect(paused.status == 0, "\(paused.stderr)")
        #expect(try daemon.status().state == "paused")
        #expect(try ctlAsNobody(daemon, groups: [group.gid], ["resume"]).status == 0)
        #expect(try daemon.status().state == "running")
        #expect(daemon.log.contains("as=member of \(group.name)"))
        // Root may, whatever the group.
        #expect(try daemon.ctl(["rescan"]).status == 0)
    }

    @Test func withoutAnAdminGroupOnlyRootAndTheDaemonsUserMayWrite() throws {
        try #require(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv")
        let group = try #require(existingGroup())
        let daemon = try openDaemon(adminGroup: nil)
        defer { _ = try? daemon.stop() }
        let result = try ctlAsNobody(daemon, groups: [group.gid], ["pause"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("set admin_group in insightd.toml"))
        #expect(try ctlAsNobody(daemon, ["status"]).status == 0)
        #expect(try daemon.status().state == "running")
    }

    @Test func anAdminGroupThatDoesNotExistIsNamed() throws {
        try #require(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv")
        let daemon = try openDaemon(adminGroup: "no-such-group-here")
        defer { _ = try? daemon.stop() }
        let result = try ctlAsNobody(daemon, ["pause"])
        #expect(result.status == 4)
        #expect(result.stderr.contains("no group \"no-such-group-here\" exists"))
    }
}
