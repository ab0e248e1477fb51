#if canImport(Glibc)
import Glibc
#endif

/// An `errno` value, as a type.
public struct Errno: Error, Sendable, Equatable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    /// The current thread's `errno`.
    public static var current: Errno { Errno(errno) }
    public var description: String { String(cString: strerror(rawValue)) }

    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EAGAIN)
    public static let noEntry = Errno(ENOENT)
    public static let noSpace = Errno(ENOSPC)
    public static let permissionDenied = Errno(EACCES)
    public static let tooManyLinks = Errno(ELOOP)
}

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var subject: String?
    public var errno: Errno
    public var description: String {
        if let subject { return "\(call)(\(subject)): \(errno)" }
        return "\(call): \(errno)"
    }
}

/// Runs a system call, retrying on EINTR, and throws a typed error when it returns -1.
@discardableResult
@inline(__always)
func retryingSyscall<T: FixedWidthInteger>(_ call: String, _ subject: String? = nil, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno.current
        if error == .interrupted { continue }
        throw SystemCallError(call: call, subject: subject, errno: error)
    }
}

/// An owned file descriptor; closing is explicit so its lifetime is visible at the call site.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` with `flags` (always close-on-exec).
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws(SystemCallError) -> FileDescriptor {
        let fd = try retryingSyscall("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// Reads up to `count` bytes into `buffer` at `offset`; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        try retryingSyscall("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// The file's status.
    public func stat() throws(SystemCallError) -> Glibc.stat {
        var info = Glibc.stat()
        try retryingSyscall("fstat") { Glibc.fstat(rawValue, &info) }
        return info
    }

    /// Closes the descriptor (EINTR on close must not be retried on Linux).
    public func close() {
        _ = Glibc.close(rawValue)
    }
}

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
