import CLinux
import CSystemd
import Foundation
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A listening Unix socket handed over by the service manager (socket activation: `LISTEN_FDS`, `LISTEN_PID`),
/// as systemd passes the socket of `insightd.socket`.
///
/// The socket belongs to whoever made it: its path, owner, group and mode are set there (`ListenStream=`,
/// `SocketGroup=`, `SocketMode=`), and it outlives the daemon, so the daemon neither binds, chmods nor unlinks it.
struct InheritedSocket: Sendable, Equatable {
    /// The descriptor, from `SD_LISTEN_FDS_START` on.
    let descriptor: Int32
    /// The path it is bound to (`getsockname`), or a description when it has none (an abstract socket).
    let path: String

    /// The socket passed to this process, nil when none was (no `LISTEN_FDS`, or `LISTEN_PID` names another
    /// process); throws when what was passed is not one listening Unix stream socket.
    ///
    /// The variables are left in the environment (`sd_listen_fds(0)`): unsetting them while other threads may
    /// read the environment is not safe, and `LISTEN_PID` keeps any child from taking them as its own.
    static func passed() throws -> InheritedSocket? {
        let count = sd_listen_fds(0)
        if count < 0 {
            throw ServerStartError(message: "the sockets passed by the service manager (LISTEN_FDS) cannot be used: \(Errno(rawValue: -count))")
        }
        if count == 0 { return nil }
        let descriptor = SD_LISTEN_FDS_START
        guard count == 1 else {
            throw ServerStartError(message: "the service manager passed \(count) sockets (LISTEN_FDS); insightd serves on one: "
                + "give insightd.socket a single ListenStream=")
        }
        let check = sd_is_socket_unix(descriptor, insight_sock_stream, 1, nil, 0)
        guard check > 0 else {
            let why = check < 0 ? "\(Errno(rawValue: -check))" : "it is not a listening Unix stream socket"
            throw ServerStartError(message: "the socket passed by the service manager (descriptor \(descriptor)) cannot serve the API: \(why); "
                + "insightd.socket needs ListenStream=/path/to/insightd.sock")
        }
        return InheritedSocket(descriptor: descriptor, path: boundPath(of: descriptor))
    }

    /// The file-system path `descriptor` is bound to.
    static func boundPath(of descriptor: Int32) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let status = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        guard status == 0, Int(length) > pathOffset else { return "descriptor \(descriptor) (unnamed)" }
        let bytes = withUnsafeBytes(of: &address.sun_path) { Array($0.prefix(Int(length) - pathOffset)) }
        if bytes.first == 0 { return "descriptor \(descriptor) (abstract)" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
