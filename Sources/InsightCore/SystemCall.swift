#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// A failed system call: which call, on what, and the errno it returned.
public struct SystemCallError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var subject: String?
    public var errno: Errno

    public init(call: String, subject: String? = nil, errno: Errno) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    /// The error of the call that just returned -1 on this thread.
    public static func last(_ call: String, _ subject: String? = nil) -> SystemCallError {
        SystemCallError(call: call, subject: subject, errno: Errno(rawValue: Glibc.errno))
    }

    public var description: String {
        if let subject { return "\(call)(\(subject)): \(errno)" }
        return "\(call): \(errno)"
    }
}

/// Runs a system call that swift-system does not wrap (inotify, sockets, nanosleep, stat of a path string), retrying
/// on EINTR, and throws a typed error when it returns -1. The one place such calls are retried.
@discardableResult
@inline(__always)
public func retryingSyscall<T: FixedWidthInteger>(_ call: String, _ subject: String? = nil, _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = SystemCallError.last(call, subject)
        if error.errno == .interrupted { continue }
        throw error
    }
}
