import Logging
import Synchronization

/// The daemon's log level, shared by every logger so that a reload changes it everywhere at once.
public final class LogLevelBox: Sendable {
    private let storage: Atomic<Int>

    public init(_ level: Logger.Level) { storage = Atomic(Self.index(level)) }

    public var level: Logger.Level {
        get { Logger.Level.allCases[storage.load(ordering: .relaxed)] }
        set { storage.store(Self.index(newValue), ordering: .relaxed) }
    }

    static func index(_ level: Logger.Level) -> Int { Logger.Level.allCases.firstIndex(of: level) ?? 2 }
}
