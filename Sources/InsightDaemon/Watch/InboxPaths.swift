import CLinux
import Foundation
import InsightCore

#if canImport(Glibc)
import Glibc
#endif

/// Names in the inbox that are never ingested: hidden files, editor and download temp files, user globs.
struct IgnoreRules: Sendable {
    var globs: [String]

    static let suffixes = [".swp", ".swo", ".swx", "~", ".part", ".crdownload", ".tmp", ".download", ".partial"]

    /// Whether a file or folder named `name` is ignored.
    func ignores(_ name: String) -> Bool {
        if name.hasPrefix(".") { return true }  // hidden, .DS_Store, ._AppleDouble, .#emacs-locks
        if name.hasPrefix("~$") || name.hasPrefix("#") && name.hasSuffix("#") { return true }
        if Self.suffixes.contains(where: { name.hasSuffix($0) }) { return true }
        return globs.contains { fnmatch($0, name, 0) == 0 }
    }

    /// Whether any component of a relative path is ignored.
    func ignores(relativePath: String) -> Bool {
        relativePath.split(separator: "/").contains { ignores(String($0)) }
    }
}

/// Paths of the inbox as the kernel takes them.
enum InboxPathLimit {
    /// The longest path the kernel accepts, terminating NUL included (`PATH_MAX`); a longer one cannot be opened,
    /// listed or watched (`ENAMETOOLONG`).
    static let bytes = Int(PATH_MAX)

    /// Whether `absolute` is too long to hand to the kernel.
    static func exceeded(by absolute: String) -> Bool { absolute.utf8.count >= bytes }

    /// A long path as its first and last `keep` characters with "…" between, for records and status; a short one
    /// whole.
    static func shortened(_ path: String, keep: Int = 40) -> String {
        guard path.count > keep * 2 + 1 else { return path }
        return path.prefix(keep) + "…" + path.suffix(keep)
    }

    /// Whether `relative` exists below `base`, however long the whole path: walked one folder at a time with
    /// `openat`, without following symbolic links.
    static func exists(_ relative: String, below base: String) -> Bool {
        var components = relative.split(separator: "/").map(String.init)
        guard let last = components.popLast() else { return false }
        var fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        for component in components {
            let next = openat(fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { return false }
            close(fd)
            fd = next
        }
        var info = stat()
        return fstatat(fd, last, &info, AT_SYMLINK_NOFOLLOW) == 0
    }
}

/// One entry of a directory listing.
struct DirectoryEntry: Sendable {
    var name: String
    /// False when the name's bytes are not UTF-8: such a file cannot be named faithfully and is skipped.
    var nameIsUTF8: Bool
    var isDirectory: Bool
}

/// Lists a directory with readdir, keeping track of names that are not valid UTF-8.
func listDirectory(_ path: String) throws(SystemCallError) -> [DirectoryEntry] {
    guard let dir = opendir(path) else { throw SystemCallError.last("opendir", path) }
    defer { closedir(dir) }
    var entries: [DirectoryEntry] = []
    while let entry = readdir(dir) {
        let (name, valid) = withUnsafeBytes(of: entry.pointee.d_name) { raw -> (String, Bool) in
            let bytes = raw.prefix(while: { $0 != 0 })
            if let s = String(validating: bytes, as: UTF8.self) { return (s, true) }
            return (String(decoding: bytes, as: UTF8.self), false)
        }
        if name == "." || name == ".." { continue }
        var isDirectory = entry.pointee.d_type == DT_DIR
        if entry.pointee.d_type == DT_UNKNOWN, let info = try? lstatPath(path + "/" + name) { isDirectory = info.isDirectory }
        entries.append(DirectoryEntry(name: name, nameIsUTF8: valid, isDirectory: isDirectory))
    }
    return entries
}

/// File systems that do not deliver inotify events for changes made by other machines.
func isNetworkFileSystem(_ path: String) -> Bool {
    let type = insight_fs_type(path)
    guard type >= 0 else { return false }
    let networkTypes: Set<UInt64> = [
        0x6969,  // NFS
        0x517B,  // SMB
        0xFF53_4D42,  // CIFS
        0xFE53_4D42,  // SMB2
        0x0102_1997,  // 9P
        0x0000_564C,  // NCP
        0x6B41_4653,  // AFS (kAFS)
        0x5346_414F,  // OpenAFS
        0x0047_5358,  // CEPH? (reserved)
        0x00C3_6400,  // CEPH
        0x0116_1970,  // GFS2
        0x6573_5546,  // FUSE (sshfs and friends)
    ]
    return networkTypes.contains(UInt64(type))
}
