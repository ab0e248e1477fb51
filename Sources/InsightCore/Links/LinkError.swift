/// Why a string could not be turned into a fetchable link.
public struct LinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem, for callers that branch on it.
    public enum Code: String, Sendable, Hashable {
        /// The input was empty or only whitespace.
        case empty
        /// The input is not an absolute URL of the form `scheme://host/...`.
        case malformed
        /// The scheme is not `http` or `https`.
        case unsupportedScheme
        /// The host is missing or contains characters no host name may contain.
        case invalidHost
        /// The port is not a number between 1 and 65535.
        case invalidPort
    }

    /// The kind of problem.
    public var code: Code
    /// A sentence saying what is wrong and what to do about it.
    public var message: String
    /// The input that was rejected (shortened when very long).
    public var input: String

    /// Creates an error; `input` is truncated to keep messages readable.
    public init(_ code: Code, _ message: String, input: String) {
        self.code = code
        self.message = message
        self.input = input.count > 200 ? String(input.prefix(200)) + "…" : input
    }

    public var description: String { "\(message) (input: \"\(input)\")" }
}
