#if canImport(Glibc)
import Glibc
#endif
import InsightCore

// File descriptors and errno values are swift-system's (`FileDescriptor`, `Errno`); calls it does not wrap go
// through `retryingSyscall`. Paths are stat'ed as given: swift-system's `FilePath` would drop a trailing slash, which
// makes `lstat` follow a symbolic link to a folder.

/// `lstat` of a path, without following a final symlink.
func lstatPath(_ path: String) throws(SystemCallError) -> Glibc.stat {
    var info = Glibc.stat()
    try retryingSyscall("lstat", path) { fstatat(AT_FDCWD, path, &info, AT_SYMLINK_NOFOLLOW) }
    return info
}

/// `stat` of a path, following symlinks.
func statPath(_ path: String) throws(SystemCallError) -> Glibc.stat {
    var info = Glibc.stat()
    try retryingSyscall("stat", path) { fstatat(AT_FDCWD, path, &info, 0) }
    return info
}

extension Glibc.stat {
    var isRegularFile: Bool { (st_mode & S_IFMT) == S_IFREG }
    var isDirectory: Bool { (st_mode & S_IFMT) == S_IFDIR }
    var isSymlink: Bool { (st_mode & S_IFMT) == S_IFLNK }
    var isFIFO: Bool { (st_mode & S_IFMT) == S_IFIFO }
    var isDevice: Bool { (st_mode & S_IFMT) == S_IFCHR || (st_mode & S_IFMT) == S_IFBLK }
    var isSocket: Bool { (st_mode & S_IFMT) == S_IFSOCK }
    /// Modification time in seconds, with nanoseconds.
    var modificationTime: Double { Double(st_mtim.tv_sec) + Double(st_mtim.tv_nsec) / 1e9 }
    /// A short name for the kind of file, for skip reasons.
    var kindName: String {
        if isFIFO { return "a FIFO" }
        if isDevice { return "a device file" }
        if isSocket { return "a socket" }
        if isDirectory { return "a directory" }
        if isSymlink { return "a symbolic link" }
        return "not a regular file"
    }
}
