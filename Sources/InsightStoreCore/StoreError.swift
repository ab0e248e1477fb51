/// A failure of the database, with what to do about it.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable {
        case open
        case migrate
        case write
        case read
        case notFound
        /// The database cannot be reached (a shared server is down or restarting); retrying later is safe.
        case unavailable
        /// The disk holding the database is full (ENOSPC, `SQLITE_FULL`, PostgreSQL's `disk_full`): nothing of the
        /// write was stored, and writing it again once space is freed is safe.
        case diskFull
        /// The state directory cannot be written (a read-only file system, a folder that vanished or lost its
        /// permissions): nothing of the write was stored, and writing it again once it is writable is safe.
        case unwritable
    }
    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Whether the condition passes by itself or by an operator's hand without losing anything: the same write
    /// may simply be tried again later (the ingest pipeline waits and retries the same batch).
    public var isTransient: Bool {
        switch code {
        case .unavailable, .diskFull, .unwritable: true
        case .open, .migrate, .write, .read, .notFound: false
        }
    }

    public var description: String {
        if let underlying { return "\(message): \(underlying)" }
        return message
    }
}
