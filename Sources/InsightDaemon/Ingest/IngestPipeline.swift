import Foundation
import InsightCore
import InsightStoreCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Takes inbox files once they are complete and stores them: a settle queue, parse workers and one writer.
///
/// - **Settle queue** (`SettleQueue`): a path is queued on `IN_CLOSE_WRITE`, a rename into the inbox, a deletion or
///   a scan, and taken once its size and mtime have stayed the same for the settle time.
/// - **Parse workers**, one thread per core, read and parse settled files (no store writes; one short read to see
///   whether a file is unchanged). Files of `largeFileBytes` or more go to a lane of their own, so a large file
///   never holds up small ones.
/// - **One writer thread** stores what the workers prepared: up to `batchLimit` files per transaction, each file
///   whole or not at all; skipped and failed files, and removed ones, in one transaction per round. It waits out a
///   store that takes no writes (a full disk, a database out of reach) and pings the systemd watchdog.
///
/// All file reads and SQLite writes happen on these threads, never on Swift's cooperative pool. On stop, the
/// writer finishes the transaction in hand and the workers take nothing new; a file being parsed is left in
/// the inbox, which is the durable queue: the next start's scan takes it.
final class IngestPipeline: @unchecked Sendable {
    /// A worker's result, waiting for the writer. Its path stays in hand in the settle queue until written.
    private enum Prepared {
        case ready(SettleQueue.Item, FileIngest)
        case problem(SettleQueue.Item, ProblemRecord)
        case gone(SettleQueue.Item)
        case unchanged(SettleQueue.Item)

        var item: SettleQueue.Item {
            switch self {
            case .ready(let item, _), .problem(let item, _), .gone(let item), .unchanged(let item): item
            }
        }
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: SettleQueue
    /// Prepared files in the order they were taken, so the writer stores them in that order (the first file to
    /// arrive gives an insight its displayed words) even when workers finish out of order: results of the small
    /// lane by sequence number, nil for one that went back to wait. The large lane's results are not held back.
    private var ordered: [Int: Prepared?] = [:]
    private var nextTaken = 0
    private var nextToWrite = 0
    private var prepared: [Prepared] = []
    private var paused = false
    /// Set while ingestion waits for the store to take writes again (a shared database out of reach, a full disk,
    /// an unwritable state directory): what holds it up.
    private var hold: StoreError?
    /// Skipped or failed paths the watcher found (names that are not UTF-8, paths over PATH_MAX), recorded by the
    /// writer so that a full disk holds them back instead of losing them.
    private var problems: [String: ProblemRecord] = [:]
    /// Problems the writer has taken and not yet written (still pending for status).
    private var problemsInHand = 0
    /// Records of paths too long to open, by the short form they are recorded under: the path they stand for.
    private var unreachable: [String: String] = [:]
    private var stopping = false
    /// Workers in a store read; the store is not closed under them.
    private var storeReaders = 0
    private var writerDone = false
    private var started = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []
    private var settings: Settings

    let database: any IngestStoring
    let logger: Logger
    let metrics = DaemonMetrics.shared
    /// Called after each unit of work, from the writer thread (the watchdog listens here).
    let onProgress: @Sendable () -> Void
    /// Called when a stored file may have queued links.
    let onLinksQueued: @Sendable () -> Void
    /// The longest the writer goes without calling `onTick` while it waits for a store that takes no writes.
    let tickInterval: Double?
    /// Seconds until `onTick` has work (0: now); nil when it has none, and the writer may sleep until woken.
    let tickDelay: @Sendable () -> Double?
    /// Called from the writer thread when `tickDelay` says so, so a wedged writer falls silent (the systemd
    /// watchdog pings from here).
    let onTick: @Sendable () -> Void
    /// Test hook (`INSIGHTD_TEST_WEDGE_FILE`): writing a file of this name blocks the writer thread forever, which
    /// lets tests see the watchdog notice a wedged pipeline. Never set it in production.
    let wedgeFileName: String?
    /// Told, from the writer thread, when ingestion starts or stops waiting for the store (nil: writes again).
    let onHold: @Sendable (StoreError?) -> Void
    /// The folder of the SQLite database, whose file system is watched while a full disk holds ingestion up, so
    /// freed space is noticed before the next retry is due; nil for a shared database.
    let probeDirectory: String?
    /// Parse workers for files under `largeFileBytes` (one more thread serves the large ones).
    let workerCount: Int
    /// Files of at least this size are parsed in their own lane.
    let largeFileBytes: Int64

    init(settings: Settings, database: any IngestStoring, logger: Logger, onProgress: @escaping @Sendable () -> Void = {},
         onLinksQueued: @escaping @Sendable () -> Void = {},
         tickInterval: Double? = nil, tickDelay: @escaping @Sendable () -> Double? = { nil }, onTick: @escaping @Sendable () -> Void = {},
         onHold: @escaping @Sendable (StoreError?) -> Void = { _ in },
         workerCount: Int = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)),
         largeFileBytes: Int64 = 1 << 20,
         wedgeFileName: String? = ProcessInfo.processInfo.environment["INSIGHTD_TEST_WEDGE_FILE"].flatMap { $0.isEmpty ? nil : $0 }) {
        self.onHold = onHold
        probeDirectory = database.kind == "sqlite" ? (database.location as NSString).deletingLastPathComponent : nil
        self.onLinksQueued = onLinksQueued
        self.settings = settings
        self.database = database
        self.logger = logger
        self.onProgress = onProgress
        self.tickInterval = tickInterval
        self.tickDelay = tickDelay
        self.onTick = onTick
        self.wedgeFileName = wedgeFileName
        self.workerCount = workerCount
        self.largeFileBytes = largeFileBytes
        queue = SettleQueue(settle: Double(settings.settleMilliseconds) / 1000, largeBytes: largeFileBytes)
    }

    // MARK: - Control

    func start() {
        condition.lock()
        started = true
        condition.unlock()
        // Names the kernel keeps (15 bytes): `top -H` and the idle benchmark show them.
        Thread.startNamed("insightd-write") { [self] in runWriter() }
        for index in 1...workerCount {
            Thread.startNamed("insightd-parse\(index)") { [self] in runWorker(large: false) }
        }
        Thread.startNamed("insightd-large") { [self] in runWorker(large: true) }
    }

    /// Stops taking new files, lets the writer finish the transaction in hand, and returns once it has ended and no
    /// worker reads the store. A file being parsed is not waited for: it stays in the inbox.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            stopping = true
            condition.broadcast()
            if (writerDone || !started) && storeReaders == 0 {
                condition.unlock()
                continuation.resume()
                return
            }
            finishWaiters.append(continuation)
            condition.unlock()
        }
    }

    /// Wakes the writer to look again at what `tickDelay` says (the status line changed off its thread).
    func wake() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Resumes `stop()` callers once the writer has ended and no worker reads the store. Called with the lock held.
    private func resumeStoppedLocked() {
        guard stopping, writerDone || !started, storeReaders == 0, !finishWaiters.isEmpty else { return }
        let waiters = finishWaiters
        finishWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    func setPaused(_ value: Bool) {
        condition.lock()
        paused = value
        condition.broadcast()
        condition.unlock()
    }

    var isPaused: Bool { condition.lock(); defer { condition.unlock() }; return paused }

    func update(settings newSettings: Settings) {
        condition.lock()
        settings = newSettings
        queue.settle = Double(newSettings.settleMilliseconds) / 1000
        condition.broadcast()
        condition.unlock()
    }

    /// Files queued or in hand (problems waiting to be recorded included), and the age of the oldest queued one.
    func pendingSummary(now: Double = monotonicSeconds()) -> (count: Int, oldestAge: Double?) {
        condition.lock()
        defer { condition.unlock() }
        let oldest = queue.oldestQueuedAt()
        return (queue.count + problems.count + problemsInHand, oldest.map { now - $0 })
    }

    // MARK: - Queueing

    /// Queues a path relative to the inbox; it is taken after the settle time if it stays unchanged.
    func enqueue(_ relativePath: String) {
        enqueue(relativePath, force: false)
    }

    /// Queues a path to be taken again even if it looks unchanged (`insightctl retry`).
    func retry(_ relativePath: String) {
        enqueue(relativePath, force: true)
    }

    private func enqueue(_ relativePath: String, force: Bool) {
        let snapshot = try? lstatPath(absolute(relativePath))
        let now = monotonicSeconds()
        condition.lock()
        queue.add(relativePath, snapshot: .init(size: snapshot.map { Int64($0.st_size) }, mtime: snapshot?.modificationTime),
                  now: now, force: force)
        condition.broadcast()
        condition.unlock()
    }

    /// Records a path as skipped or failed with `reason`, from the writer thread (see `problems`).
    func recordProblem(path: String, state: SourceState, reason: String) {
        condition.lock()
        problems[path] = ProblemRecord(path: path, state: state, reason: reason)
        condition.broadcast()
        condition.unlock()
    }

    /// Says that the record under `path`, a short form, stands for `relative`, a path too long to open: the record is
    /// kept, not marked removed, while that path exists (a retry or a scan cannot reach it by name).
    func recordStands(_ path: String, for relative: String) {
        condition.lock()
        unreachable[path] = relative
        condition.unlock()
    }

    /// The path a short-form record stands for, while it is known to; the entry is dropped once the path is gone.
    private func standingFor(_ path: String, inbox: String) -> String? {
        condition.lock()
        let relative = unreachable[path]
        condition.unlock()
        guard let relative else { return nil }
        if InboxPathLimit.exists(relative, below: inbox) { return relative }
        condition.lock()
        unreachable[path] = nil
        condition.unlock()
        return nil
    }

    private func absolute(_ relativePath: String) -> String {
        condition.lock()
        defer { condition.unlock() }
        return settings.inbox + "/" + relativePath
    }

    // MARK: - Parse workers

    /// At most this many settled files share one write transaction.
    static let batchLimit = 64
    /// Prepared files waiting for the writer, beyond which workers wait (bounds memory when the store is slow).
    static let preparedLimit = 4 * batchLimit

    private func runWorker(large: Bool) {
        let lane: SettleQueue.Lane = large ? .large : .small
        let perRound = large ? 1 : 8
        condition.lock()
        while !stopping {
            if paused || prepared.count + ordered.count >= Self.preparedLimit {
                condition.wait()
                continue
            }
            let now = monotonicSeconds()
            let items = queue.takeDue(now: now, limit: perRound, lane: lane)
            let firstSequence = nextTaken
            if !large { nextTaken += items.count }
            if items.isEmpty {
                if let due = queue.nextDue(lane: lane) {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: max(due - now, 0.001)))
                } else {
                    condition.wait()  // nothing for this lane: sleep until something is queued
                }
                continue
            }
            let settings = self.settings
            condition.unlock()
            let results = items.map { prepare($0, settings: settings) }
            condition.lock()
            if large {
                prepared.append(contentsOf: results.compactMap { $0 })
            } else {
                for (offset, result) in results.enumerated() { ordered[firstSequence + offset] = .some(result) }
                while let next = ordered[nextToWrite] {
                    ordered[nextToWrite] = nil
                    nextToWrite += 1
                    if let next { prepared.append(next) }
                }
            }
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Reads and parses one settled path. Returns nil when the path went back to wait (still changing) or the
    /// pipeline is stopping.
    private func prepare(_ item: SettleQueue.Item, settings: Settings) -> Prepared? {
        let path = item.path
        guard let info = try? lstatPath(settings.inbox + "/" + path) else { return .gone(item) }
        if info.isDirectory { return .unchanged(item) }
        let snapshot = SettleQueue.Snapshot(size: Int64(info.st_size), mtime: info.modificationTime)
        if snapshot != item.snapshot {
            // Still being written: wait for it to settle.
            condition.lock()
            queue.requeue(item, snapshot: snapshot, now: monotonicSeconds())
            condition.broadcast()
            condition.unlock()
            return nil
        }
        if !item.force {
            condition.lock()
            if stopping {
                condition.unlock()
                return nil
            }
            storeReaders += 1
            condition.unlock()
            let unchanged = FileProcessor.isUnchanged(path, info, in: database)
            condition.lock()
            storeReaders -= 1
            resumeStoppedLocked()
            condition.unlock()
            if unchanged { return .unchanged(item) }
        }
        let processor = FileProcessor(settings: settings, logger: logger)
        switch processor.prepare(relativePath: path, info: info) {
        case .ready(let ingest):
            return .ready(item, ingest)
        case .skipped(let reason):
            return .problem(item, ProblemRecord(path: path, state: .skipped, reason: reason, size: Int64(info.st_size), mtime: info.modificationTime))
        case .failed(let reason):
            return .problem(item, ProblemRecord(path: path, state: .failed, reason: reason, size: Int64(info.st_size), mtime: info.modificationTime))
        case .unchanged, .stored:
            return .unchanged(item)
        }
    }

    // MARK: - The writer

    /// Whether a stop was asked for; read between the files of a batch so shutdown does not wait for all of it.
    private var stopRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    private func runWriter() {
        condition.lock()
        while !stopping {
            let delay = tickDelay()
            if let delay, delay <= 0 {
                condition.unlock()
                onTick()
                condition.lock()
                continue
            }
            guard !paused, !prepared.isEmpty || !problems.isEmpty else {
                if let delay {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: delay))
                } else {
                    condition.wait()  // idle: nothing wakes the daemon until work or a status change arrives
                }
                continue
            }
            // One round: up to `batchLimit` files to store, with every skip, failure and removal prepared so far.
            var files: [(SettleQueue.Item, FileIngest)] = []
            var others: [Prepared] = []
            var rest: [Prepared] = []
            for entry in prepared {
                if case .ready(let item, let ingest) = entry {
                    if files.count < Self.batchLimit { files.append((item, ingest)) } else { rest.append(entry) }
                } else {
                    others.append(entry)
                }
            }
            prepared = rest
            let watcherProblems = Array(problems.values)
            problems = [:]
            problemsInHand = watcherProblems.count
            let settings = self.settings
            condition.broadcast()  // workers waiting on a full `prepared` may go on
            condition.unlock()

            write(files: files, others: others, watcherProblems: watcherProblems, settings: settings)
            onProgress()

            condition.lock()
            problemsInHand = 0
            let now = monotonicSeconds()
            for (item, _) in files { queue.finish(item.path, now: now) }
            for entry in others { queue.finish(entry.item.path, now: now) }
            condition.broadcast()
        }
        writerDone = true
        resumeStoppedLocked()
        condition.unlock()
    }

    /// Stores one round. Files the stop cuts off stay in the inbox, where the next start's scan finds them.
    private func write(files: [(SettleQueue.Item, FileIngest)], others: [Prepared], watcherProblems: [ProblemRecord], settings: Settings) {
        if let wedgeFileName,
           (files.map(\.0) + others.map(\.item)).contains(where: { ($0.path as NSString).lastPathComponent == wedgeFileName }) {
            logger.warning("test hook INSIGHTD_TEST_WEDGE_FILE: the writer thread now blocks forever", metadata: ["path": "\(wedgeFileName)"])
            while true { sleep(3600) }
        }
        let processor = FileProcessor(settings: settings, logger: logger)
        var records = watcherProblems.sorted { $0.path < $1.path }
        var gone: [String] = []
        for entry in others {
            switch entry {
            case .problem(_, let record): records.append(record)
            case .gone(let item):
                // A record of a path too long to open stays while that path is there: nothing changed for it.
                if standingFor(item.path, inbox: settings.inbox) == nil { gone.append(item.path) }
            case .unchanged(let item):
                processor.log(relativePath: item.path, verdict: .unchanged)
                metrics.file(.unchanged)
            case .ready: break
            }
        }
        if !files.isEmpty {
            let batch = files.map(\.1)
            let metrics = self.metrics
            switch writeWaiting({ () throws(StoreError) in
                // Each attempt's transaction, waits between attempts left out.
                let started = monotonicSeconds()
                defer { metrics.ingestBatchDuration.recordSeconds(monotonicSeconds() - started) }
                return try database.ingestBatch(batch) { [self] in !stopRequested }
            }) {
            case .success(let results):
                var linked = false
                metrics.ingestBatchFiles.record(results.count)
                for ((item, ingest), result) in zip(files, results) {
                    switch result {
                    case .success(let outcome):
                        processor.log(relativePath: item.path, verdict: .stored(outcome))
                        switch outcome {
                        case .stored(let newInsights, _, let variants, let conflicts):
                            metrics.file(.ingested)
                            metrics.insightsWritten(new: newInsights, variants: variants, conflicts: conflicts)
                        case .unchanged:
                            metrics.file(.unchanged)
                        }
                        if case .stored = outcome, !ingest.links.isEmpty { linked = true }
                    case .failure(let error):
                        metrics.storeError(error)
                        logger.error("cannot store a file", metadata: ["path": "\(item.path)", "error": "\(error)"])
                        records.append(ProblemRecord(path: item.path, state: .failed, reason: "cannot store the file: \(error)",
                                                     size: ingest.size, mtime: ingest.mtime))
                    }
                }
                if linked { onLinksQueued() }
            case .failure(let error):
                for (item, ingest) in files {
                    logger.error("cannot store a file", metadata: ["path": "\(item.path)", "error": "\(error)"])
                    records.append(ProblemRecord(path: item.path, state: .failed, reason: "cannot store the file: \(error)",
                                                 size: ingest.size, mtime: ingest.mtime))
                }
            case nil:
                return  // stopping while the store takes no writes
            }
        }
        if !records.isEmpty {
            let now = Date().timeIntervalSince1970
            switch writeWaiting({ () throws(StoreError) in try database.recordProblems(records, now: now) }) {
            case .success:
                for record in records {
                    processor.log(relativePath: record.path, verdict: record.state == .failed ? .failed(record.reason) : .skipped(record.reason))
                    metrics.file(record.state == .failed ? .failed : .skipped)
                }
            case .failure(let error):
                logger.error("cannot record the state of files", metadata: ["files": "\(records.count)", "error": "\(error)"])
            case nil:
                return
            }
        }
        if !gone.isEmpty {
            let now = Date().timeIntervalSince1970
            switch writeWaiting({ () throws(StoreError) in try database.markRemoved(paths: gone, now: now) }) {
            case .success(let removed):
                for path in removed { logger.info("file removed; its insights stay", metadata: ["path": "\(path)"]) }
                metrics.file(.removed, count: removed.count)
            case .failure(let error):
                logger.error("cannot record removed files", metadata: ["files": "\(gone.count)", "error": "\(error)"])
            case nil:
                return
            }
        }
    }

    /// Runs a store write. While the store cannot take writes for a reason that passes (a shared database out of
    /// reach, a full disk, an unwritable state directory), waits with backoff and runs it again; the watcher keeps
    /// queueing meanwhile, and every write here is safe to repeat (an unchanged file is recognized, a record is
    /// replaced). Returns nil when asked to stop while waiting.
    private func writeWaiting<T>(_ body: () throws(StoreError) -> T) -> Result<T, StoreError>? {
        var held: StoreError?
        var delay = 0.0
        while true {
            do {
                let value = try body()
                if let held {
                    logger.notice(held.code == .unavailable ? "the database is reachable again; ingestion continues"
                                                            : "the store takes writes again; ingestion continues")
                    setHold(nil)
                }
                return .success(value)
            } catch where error.isTransient {
                metrics.storeError(error)
                if held?.code != error.code {
                    logger.warning(error.code == .unavailable ? "ingestion waits for the database: \(error)"
                                                              : "ingestion waits for the store to take writes: \(error)")
                }
                held = error
                setHold(error)
                // A shared database comes back within seconds; a disk is freed by hand, so it is probed less often.
                let (first, longest) = error.code == .unavailable ? (0.25, min(5, tickInterval ?? 5)) : (1.0, 30.0)
                delay = delay == 0 ? first : min(delay * 2, longest)
                guard waitBeforeRetrying(delay, after: error) else { return nil }
            } catch {
                metrics.storeError(error)
                if held != nil { setHold(nil) }
                return .failure(error)
            }
        }
    }

    /// Waits `seconds` before the next try, calling `onTick` at least every tick interval (the watchdog keeps
    /// hearing from this thread). A full or read-only disk is probed meanwhile with `statvfs`: once space is freed
    /// or the file system is writable again, the wait ends early. Returns false when asked to stop.
    private func waitBeforeRetrying(_ seconds: Double, after error: StoreError) -> Bool {
        let deadline = monotonicSeconds() + seconds
        let directory = error.code == .unavailable ? nil : probeDirectory
        let before = directory.map(DiskState.init)
        while true {
            onTick()
            condition.lock()
            let now = monotonicSeconds()
            if !stopping, now < deadline { _ = condition.wait(until: Date(timeIntervalSinceNow: min(deadline - now, tickInterval ?? 1))) }
            let stop = stopping
            condition.unlock()
            if stop { return false }
            if monotonicSeconds() >= deadline { return true }
            if let directory, let before, Self.mayTakeWrites(DiskState(directory), before: before) { return true }
        }
    }

    /// Whether the file system changed enough since a write failed to be worth trying again now.
    static func mayTakeWrites(_ now: DiskState, before: DiskState) -> Bool {
        // A file system unmounted or mounted again over the state directory changes where its mount point is.
        if now.exists != before.exists || now.readOnly != before.readOnly || now.mountPoint != before.mountPoint {
            return now.exists && !now.readOnly
        }
        guard let free = now.freeBytes, let freeBefore = before.freeBytes else { return false }
        return free - freeBefore >= 256 * 1024
    }

    private func setHold(_ error: StoreError?) {
        condition.lock()
        let changed = hold?.code != error?.code || hold?.message != error?.message
        hold = error
        condition.unlock()
        if changed { onHold(error) }
    }

    /// What holds ingestion up while the store takes no writes, or nil when it does.
    var storeHold: StoreError? {
        condition.lock()
        defer { condition.unlock() }
        return hold
    }
}
