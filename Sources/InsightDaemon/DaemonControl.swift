import Foundation
import InsightCore
import InsightStoreCore
import Synchronization

/// What the socket API may see and steer: the running parts of the daemon.
final class DaemonControl: Sendable {
    let database: any InsightStoring
    let pipeline: IngestPipeline
    let watcher: InboxWatcher
    let links: LinkService
    let stats: DaemonStats
    let settings: SettingsBox
    let semantic: SemanticQueries
    let startedAt: Double
    let startedMonotonic: Double
    /// The last counts read, shown while a shared database cannot be reached.
    private let lastCounts = Mutex<StoreCounts?>(nil)

    init(database: any InsightStoring, pipeline: IngestPipeline, watcher: InboxWatcher, links: LinkService, stats: DaemonStats,
         settings: SettingsBox, semantic: SemanticState) {
        self.semantic = SemanticQueries(database: database, state: semantic)
        self.links = links
        self.database = database
        self.pipeline = pipeline
        self.watcher = watcher
        self.stats = stats
        self.settings = settings
        startedAt = Date().timeIntervalSince1970
        startedMonotonic = monotonicSeconds()
    }

    /// The status report, from the database's counts and the running parts' state. With `verify`, the counts are
    /// also taken in full, from the same snapshot, and the report says whether the kept counters agree.
    func status(verify: Bool = false) -> StatusReport {
        var report = StatusReport()
        let settings = self.settings.value
        report.pid = getpid()
        report.uptimeS = (monotonicSeconds() - startedMonotonic).rounded(toPlaces: 3)
        report.inbox = settings.inbox
        report.state = pipeline.isPaused ? "paused" : "running"
        // Pending first, counts after: a file leaves `pending` only once its record is committed, so read in this order
        // every file is in one or the other (in the other order, one written between the two reads is in neither).
        let pending = pipeline.pendingSummary()
        var fresh: StoreCounts?
        var unreachable: String?
        var verification = verify ? StatusReport.Verification() : nil
        do {
            if verify {
                let start = monotonicSeconds()
                let (kept, counted) = try database.countsWithFullCount()
                let differences = kept.differences(from: counted)
                verification?.seconds = (monotonicSeconds() - start).rounded(toPlaces: 3)
                verification?.differences = differences
                verification?.agrees = differences.isEmpty
                fresh = kept
            } else {
                fresh = try database.counts()
            }
        } catch {
            verification?.error = error.description
            if error.code == .unavailable { unreachable = error.description }
        }
        report.verification = verification
        if let fresh { lastCounts.withLock { $0 = fresh } }
        if let counts = fresh ?? lastCounts.withLock({ $0 }) {
            report.files.ingested = counts.sourcesByState[.ingested] ?? 0
            report.files.skipped = counts.sourcesByState[.skipped] ?? 0
            report.files.failed = counts.sourcesByState[.failed] ?? 0
            report.files.removed = counts.sourcesByState[.removed] ?? 0
            report.files.seen = counts.sourcesByState.values.reduce(0, +)
            report.insights.unique = counts.uniqueInsights
            report.insights.occurrences = counts.occurrences
            report.insights.variants = counts.variants
            report.insights.conflicts = counts.conflicts
            report.lastIngestAt = counts.lastIngestAt
            report.lastError = counts.lastError
            report.links.found = counts.linksByState.values.reduce(0, +)
            report.links.queued = counts.linksByState[.queued] ?? 0
            report.links.fetching = counts.linksByState[.fetching] ?? 0
            report.links.fetched = counts.linksByState[.fetched] ?? 0
            report.links.failed = counts.linksByState[.failed] ?? 0
        }
        report.files.pending = pending.count
        report.database.kind = database.kind
        report.database.path = database.location
        report.database.bytes = fresh == nil ? 0 : database.sizeBytes()
        if database.kind == "sqlite" { report.database.freeBytes = DiskState((database.location as NSString).deletingLastPathComponent).freeBytes }
        let hold = pipeline.storeHold
        if let hold {
            report.state = Self.state(heldBy: hold)
            report.stateDetail = hold.message
        }
        if let wait = hold.flatMap({ $0.code == .unavailable ? $0.description : nil }) ?? unreachable {
            report.database.reachable = false
            report.lastError = StatusReport.LastError(path: database.location, message: wait, at: Date().timeIntervalSince1970)
        }
        let watch = stats.snapshot
        report.watch.mode = watch.watchMode
        report.watch.folders = watch.folders
        report.watch.watches = watch.watches
        report.watch.overflows = watch.overflows
        report.watch.rescans = watch.rescans
        report.watch.oldestPendingS = pending.oldestAge.map { $0.rounded(toPlaces: 3) }
        report.watch.polled = watch.polledFolders
        report.watch.warning = watch.watchWarning
        report.semantic = semantic.state.status(counts: fresh ?? lastCounts.withLock { $0 })
        return report
    }
}

extension DaemonControl {
    /// The status `state` while ingestion waits for the store to take writes again.
    static func state(heldBy error: StoreError) -> String {
        switch error.code {
        case .diskFull: "disk full"
        case .unwritable: "state directory unwritable"
        default: "waiting for the database"
        }
    }

    /// Queues one inbox file again, even if it looks unchanged. `path` is relative to the inbox, or absolute
    /// inside it. Returns the relative path.
    func retry(path: String) throws(APIError) -> String {
        let inbox = settings.value.inbox
        var relative = path
        if path.hasPrefix("/") {
            guard path.hasPrefix(inbox + "/") else {
                throw APIError(400, "outside_inbox", "\(path) is not inside the inbox \(inbox)")
            }
            relative = String(path.dropFirst(inbox.count + 1))
        }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
            throw APIError(400, "bad_path", "\"\(path)\" is not a plain path inside the inbox")
        }
        let known: Bool
        do {
            known = try database.source(path: relative) != nil
        } catch {
            throw APIError(500, "store", "\(error)")
        }
        guard known || FileManager.default.fileExists(atPath: inbox + "/" + relative) else {
            throw APIError(404, "no_such_file", "no file \(relative) is known or in the inbox; `insightctl failed` lists files to retry")
        }
        pipeline.retry(relative)
        return relative
    }

    /// Queues every failed and skipped file again; returns how many.
    func retryProblems() throws(APIError) -> Int {
        let problems: [SourceInfo]
        do {
            problems = try database.sources(states: [.failed, .skipped])
        } catch {
            throw APIError(500, "store", "\(error)")
        }
        for source in problems { pipeline.retry(source.path) }
        return problems.count
    }
}

/// The current settings, replaced as a whole on reload.
final class SettingsBox: Sendable {
    private let storage: Synchronization.Mutex<Settings>
    init(_ settings: Settings) { storage = .init(settings) }
    var value: Settings {
        get { storage.withLock { $0 } }
    }
    func replace(_ settings: Settings) { storage.withLock { $0 = settings } }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let factor = pow(10.0, Double(places))
        return (self * factor).rounded() / factor
    }
}
