#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the sentence-embedding model could not be loaded. Each message says what to do next.
public struct SemanticModelError: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// The model folder or one of its files does not exist.
        case modelMissing
        /// A file exists but could not be opened or mapped.
        case unreadable
        /// `model.safetensors` is truncated or its header is not valid.
        case corrupt
        /// A tensor the encoder needs is not in the file.
        case missingTensor
        /// A tensor has another shape or element type than this model has.
        case unexpectedTensor
        /// `vocab.txt` lacks the special tokens or is empty.
        case invalidVocabulary
        /// `config.json` describes another architecture than all-MiniLM-L6-v2.
        case invalidConfig
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Where the insightd Debian package puts the fetch script (it does not ship the model itself).
    static let packagedFetchScript = "/usr/share/insightd/fetch-model.sh"

    /// What to run to install the model: the packaged script when insightd came from the Debian package,
    /// else the script in a checkout.
    static var installHint: String {
        if access(packagedFetchScript, X_OK) == 0 {
            return "install it with \(packagedFetchScript) --system (as root)"
        }
        return "install it with deploy/fetch-model.sh (or deploy/fetch-model.sh --system for the system service)"
    }

    /// What to run to install the model again over a damaged copy.
    static var reinstallHint: String {
        if access(packagedFetchScript, X_OK) == 0 {
            return "reinstall the model with \(packagedFetchScript) --system (it checks the file's SHA-256)"
        }
        return "reinstall the model with deploy/fetch-model.sh (it checks the file's SHA-256)"
    }
}
