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
    }
    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        if let underlying { return "\(message): \(underlying)" }
        return message
    }
}
