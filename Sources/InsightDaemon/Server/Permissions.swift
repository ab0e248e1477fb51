import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether a request may run, and why not.
enum AccessDecision: Sendable, Equatable {
    case allowed(String)
    case denied(String)
}

/// Who may change state over the socket: root, the daemon's own user, and members of `admin_group`.
/// Reads are open to anyone who can connect; the socket's mode and group decide that.
struct AccessPolicy: Sendable {
    /// The user the daemon runs as.
    let daemonUID: UInt32
    /// The configured group; read at each decision so a reload takes effect.
    let adminGroup: @Sendable () -> String

    /// Decides from the kernel's account of the peer (`SO_PEERCRED`, `SO_PEERGROUPS`) and the group database.
    func decide(_ peer: PeerCredentials?) -> AccessDecision {
        guard let peer else { return .denied("the daemon could not learn who is connecting, so it refuses to change state") }
        if peer.uid == 0 { return .allowed("root") }
        if peer.uid == daemonUID { return .allowed("the daemon's user") }
        let group = adminGroup()
        guard !group.isEmpty else {
            return .denied("changing state needs root or the daemon's user (uid \(daemonUID)); set admin_group in insightd.toml to let a group's members do it")
        }
        guard let gid = UserDatabase.groupID(named: group) else {
            return .denied("changing state needs root, the daemon's user (uid \(daemonUID)) or membership in group \"\(group)\" (admin_group), but no group \"\(group)\" exists on this system")
        }
        // The process's own groups at connect time, and the groups the user database gives the peer's user.
        var groups = Set(peer.groups)
        groups.insert(peer.gid)
        groups.formUnion(UserDatabase.groups(ofUID: peer.uid))
        if groups.contains(gid) { return .allowed("member of \(group)") }
        if UserNamespace.current.hides(gid: gid) {
            return .denied("changing state needs membership in group \"\(group)\" (admin_group), but " + UserNamespace.hiddenGroupReason(group))
        }
        return .denied("changing state needs membership in group \"\(group)\" (admin_group); ask an administrator to add you (usermod -aG \(group) USER) and log in again")
    }
}

/// Lookups in the user and group database (NSS), each in one small function.
enum UserDatabase {
    /// The gid of group `name`, or nil when there is none.
    static func groupID(named name: String) -> gid_t? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return entry.gr_gid
    }

    /// The user name and primary gid of `uid`, or nil when the user database does not know it.
    static func user(uid: UInt32) -> (name: String, gid: gid_t)? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getpwuid_r(uid, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil, let name = entry.pw_name else { return nil }
        return (String(cString: name), entry.pw_gid)
    }

    /// Every group the user database gives `uid` (primary and supplementary), via getgrouplist.
    static func groups(ofUID uid: UInt32) -> [UInt32] {
        guard let user = user(uid: uid) else { return [] }
        var count: Int32 = 64
        for _ in 0..<4 {
            var list = [gid_t](repeating: 0, count: Int(count))
            var found = count
            if getgrouplist(user.name, user.gid, &list, &found) >= 0 {
                return Array(list.prefix(Int(found)))
            }
            count = max(found, count * 2)
        }
        return [user.gid]
    }
}

/// The user namespace the daemon runs in. Under systemd's `PrivateUsers=yes` only root and the service's own
/// user and group are mapped into it; the kernel reports every other user and group of a connecting process
/// as the overflow id (65534), so members of any other group cannot be told apart from anyone else.
struct UserNamespace: Sendable {
    /// The ranges of `/proc/self/gid_map`: (first id inside, count).
    let gidRanges: [(first: UInt64, count: UInt64)]

    /// The namespace of this process, from `/proc/self/gid_map` (the initial namespace maps every id).
    static let current = UserNamespace(gidMap: (try? String(contentsOfFile: "/proc/self/gid_map", encoding: .utf8)) ?? "0 0 4294967295")

    /// Parses gid_map lines: `ID-INSIDE ID-OUTSIDE COUNT`.
    init(gidMap: String) {
        gidRanges = gidMap.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3, let first = UInt64(fields[0]), let count = UInt64(fields[2]) else { return nil }
            return (first, count)
        }
    }

    /// Whether group `gid` is invisible here: not mapped, so its members show up as the overflow id.
    func hides(gid: gid_t) -> Bool {
        !gidRanges.contains { UInt64(gid) >= $0.first && UInt64(gid) - $0.first < $0.count }
    }

    /// Why the members of `group` cannot be recognised, and what to do about it.
    static func hiddenGroupReason(_ group: String) -> String {
        "group \"\(group)\" is not mapped into the daemon's user namespace (PrivateUsers=yes in its systemd unit maps only root, its own user and its own group, Group=), so its members cannot be recognised; set admin_group to the service's own group (the shipped unit's is insightd-admin), or PrivateUsers=no in a drop-in (systemctl edit insightd)"
    }
}
