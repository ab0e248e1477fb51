import Foundation
import Synchronization

/// Counters the watcher and pipeline keep for status; cheap to update from any thread.
final class DaemonStats: Sendable {
    struct Snapshot: Sendable {
        var overflows = 0
        var rescans = 0
        var watches = 0
        var folders = 0
        var polledFolders: [String] = []
        var watchMode = "inotify"
        var watchWarning: String?
    }

    private let state = Mutex(Snapshot())

    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }
    var snapshot: Snapshot { state.withLock { $0 } }
}
