import Foundation
import InsightCore
import InsightStore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Takes inbox files once they are complete and stores them, one at a time, on a thread of its own.
///
/// A file is queued on `IN_CLOSE_WRITE`, a rename into the inbox, or a scan; it is taken once its size and
/// mtime have been stable for the settle time. All file reads and SQLite writes happen on this thread,
/// away from Swift's cooperative pool.
final class IngestPipeline: @unchecked Sendable {
    private struct Pending {
        var generation: Int
        var due: Double
        var queuedAt: Double
        var size: Int64?
        var mtime: Double?
    }

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [String: Pending] = [:]
    private var order: [(path: String, generation: Int)] = []
    private var orderHead = 0
    private var nextGeneration = 0
    private var paused = false
    /// Set while ingestion waits for the store to take writes again (a shared database out of reach, a full disk,
    /// an unwritable state directory): what holds it up.
    private var hold: StoreError?
    /// Skipped or failed paths the watcher found (names that are not UTF-8, paths over PATH_MAX), recorded from
    /// this thread so that a full disk holds them back instead of losing them.
    private var problems: [String: (state: SourceState, reason: String)] = [:]
    /// Records of paths too long to open, by the short form they are recorded under: the path they stand for.
    private var unreachable: [String: String] = [:]
    private var stopping = false
    private var inFlight = 0
    private var finished = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []
    private var settings: Settings
    private var forced: Set<String> = []

    let database: any InsightStoring
    let logger: Logger
    /// Called after each unit of work, from the pipeline's own thread (the watchdog listens here).
    let onProgress: @Sendable () -> Void
    /// Called when a stored file may have queued links.
    let onLinksQueued: @Sendable () -> Void
    /// The longest the thread waits idle before calling `onTick`; nil: it may wait indefinitely.
    let tickInterval: Double?
    /// Called from the pipeline's own thread at least every `tickInterval` while it is not busy with a file,
    /// so a wedged pipeline falls silent (the systemd watchdog pings from here).
    let onTick: @Sendable () -> Void
    /// Test hook (`INSIGHTD_TEST_WEDGE_FILE`): taking a file of this name blocks the pipeline thread forever,
    /// which lets tests see the watchdog notice a wedged pipeline. Never set it in production.
    let wedgeFileName: String?
    /// Told, from the pipeline's own thread, when ingestion starts or stops waiting for the store (nil: writes again).
    let onHold: @Sendable (StoreError?) -> Void
    /// The folder of the SQLite database, whose file system is watched while a full disk holds ingestion up, so
    /// freed space is noticed before the next retry is due; nil for a shared database.
    let probeDirectory: String?

    init(settings: Settings, database: any InsightStoring, logger: Logger, onProgress: @escaping @Sendable () -> Void = {},
         onLinksQueued: @escaping @Sendable () -> Void = {},
         tickInterval: Double? = nil, onTick: @escaping @Sendable () -> Void = {},
         onHold: @escaping @Sendable (StoreError?) -> Void = { _ in },
         wedgeFileName: String? = ProcessInfo.processInfo.environment["INSIGHTD_TEST_WEDGE_FILE"].flatMap { $0.isEmpty ? nil : $0 }) {
        self.onHold = onHold
        probeDirectory = database.kind == "sqlite" ? (database.location as NSString).deletingLastPathComponent : nil
        self.onLinksQueued = onLinksQueued
        self.settings = settings
        self.database = database
        self.logger = logger
        self.onProgress = onProgress
        self.tickInterval = tickInterval
        self.onTick = onTick
        self.wedgeFileName = wedgeFileName
    }

    // MARK: - Control

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "insightd-ingest"
        thread.start()
    }

    /// Stops taking new files, finishes the file in hand, and returns once the thread has ended.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            stopping = true
            if finished {
                condition.unlock()
                continuation.resume()
                return
            }
            finishWaiters.append(continuation)
            condition.broadcast()
            condition.unlock()
        }
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
        condition.unlock()
    }

    /// Files queued or in hand (problems waiting to be recorded included), and the age of the oldest queued one.
    func pendingSummary(now: Double = monotonicSeconds()) -> (count: Int, oldestAge: Double?) {
        condition.lock()
        defer { condition.unlock() }
        let oldest = pending.values.map(\.queuedAt).min()
        return (pending.count + inFlight + problems.count, oldest.map { now - $0 })
    }

    // MARK: - Queueing

    /// Queues a path relative to the inbox; it is taken after the settle time if it stays unchanged.
    func enqueue(_ relativePath: String) {
        let snapshot = try? lstatPath(absolute(relativePath))
        let now = monotonicSeconds()
        condition.lock()
        let settle = Double(settings.settleMilliseconds) / 1000
        nextGeneration += 1
        var entry = pending[relativePath] ?? Pending(generation: 0, due: 0, queuedAt: now, size: nil, mtime: nil)
        entry.generation = nextGeneration
        entry.due = now + settle
        entry.size = snapshot.map { Int64($0.st_size) }
        entry.mtime = snapshot?.modificationTime
        pending[relativePath] = entry
        order.append((relativePath, nextGeneration))
        condition.signal()
        condition.unlock()
    }

    /// Queues a path to be taken again even if it looks unchanged (`insightctl retry`).
    func retry(_ relativePath: String) {
        condition.lock()
        forced.insert(relativePath)
        condition.unlock()
        enqueue(relativePath)
    }

    /// Records a path as skipped or failed with `reason`, from the pipeline's thread (see `problems`).
    func recordProblem(path: String, state: SourceState, reason: String) {
        condition.lock()
        problems[path] = (state, reason)
        condition.signal()
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

    // MARK: - The worker

    /// At most this many settled files share one write transaction.
    static let batchLimit = 64

    /// Whether a stop was asked for; read between the files of a batch so shutdown does not wait for all of it.
    private var stopRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    private func run() {
        condition.lock()
        var nextTick = monotonicSeconds()
        while true {
            if stopping { break }
            if let tickInterval, monotonicSeconds() >= nextTick {
                condition.unlock()
                onTick()
                condition.lock()
                nextTick = monotonicSeconds() + tickInterval
                continue
            }
            if !paused, !problems.isEmpty {
                let taken = problems
                problems = [:]
                inFlight = taken.count
                condition.unlock()
                recordProblems(taken)
                onProgress()
                condition.lock()
                inFlight = 0
                continue
            }
            guard !paused, orderHead < order.count else {
                if tickInterval != nil {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: nextTick - monotonicSeconds()))
                } else {
                    condition.wait()
                }
                continue
            }
            let (path, generation) = order[orderHead]
            guard let entry = pending[path], entry.generation == generation else {
                advance()
                continue
            }
            let now = monotonicSeconds()
            if entry.due > now {
                let until = tickInterval == nil ? entry.due : min(entry.due, nextTick)
                _ = condition.wait(until: Date(timeIntervalSinceNow: until - now))
                continue
            }
            // Take every file that is due now (up to the batch limit): they are stored in one transaction.
            var batch: [(path: String, entry: Pending, force: Bool)] = []
            while batch.count < Self.batchLimit, orderHead < order.count {
                let (candidate, candidateGeneration) = order[orderHead]
                guard let pendingEntry = pending[candidate], pendingEntry.generation == candidateGeneration else {
                    advance()
                    continue
                }
                guard pendingEntry.due <= now else { break }
                advance()
                pending[candidate] = nil
                batch.append((candidate, pendingEntry, forced.remove(candidate) != nil))
            }
            inFlight = batch.count
            let settings = self.settings
            condition.unlock()
            let requeue = take(batch, settings: settings)
            onProgress()
            condition.lock()
            inFlight = 0
            for (path, snapshot, force) in requeue where pending[path] == nil {
                if force { forced.insert(path) }
                nextGeneration += 1
                pending[path] = Pending(generation: nextGeneration, due: monotonicSeconds() + Double(settings.settleMilliseconds) / 1000,
                                        queuedAt: snapshot.queuedAt, size: snapshot.size, mtime: snapshot.mtime)
                order.append((path, nextGeneration))
            }
        }
        finished = true
        let waiters = finishWaiters
        finishWaiters = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    private func advance() {
        orderHead += 1
        // Compact now and then so the queue does not grow without bound.
        if orderHead > 4096, orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
    }

    /// Handles settled paths: files still changing come back to wait again; the rest are read, parsed and
    /// stored together, each file whole or not at all.
    private func take(_ batch: [(path: String, entry: Pending, force: Bool)], settings: Settings)
        -> [(path: String, snapshot: (queuedAt: Double, size: Int64, mtime: Double), force: Bool)] {
        var requeue: [(path: String, snapshot: (queuedAt: Double, size: Int64, mtime: Double), force: Bool)] = []
        var prepared: [(path: String, info: stat, processor: FileProcessor, ingest: FileIngest)] = []
        for (path, entry, force) in batch {
            // On shutdown the rest of the batch is left in the inbox; the next start's scan takes it.
            if stopRequested { break }
            if let wedgeFileName, (path as NSString).lastPathComponent == wedgeFileName {
                logger.warning("test hook INSIGHTD_TEST_WEDGE_FILE: the pipeline thread now blocks forever", metadata: ["path": "\(path)"])
                while true { sleep(3600) }
            }
            guard let info = try? lstatPath(settings.inbox + "/" + path) else {
                // A record of a path too long to open stays while that path is there: nothing changed for it.
                if standingFor(path, inbox: settings.inbox) == nil { markRemovedIfKnown(path) }
                continue
            }
            if info.isDirectory { continue }
            let size = Int64(info.st_size), mtime = info.modificationTime
            if entry.size != size || entry.mtime != mtime {
                requeue.append((path, (entry.queuedAt, size, mtime), force))  // still being written: wait for it to settle
                continue
            }
            var processor = FileProcessor(settings: settings, database: database, logger: logger)
            processor.force = force
            processor.onLinksQueued = onLinksQueued
            processor.storeWrite = { [self] body in
                if case .failure(let error) = writeWaiting(body) { return error }
                return nil
            }
            switch processor.prepare(relativePath: path, info: info) {
            case .ready(let ingest):
                prepared.append((path, info, processor, ingest))
            case let verdict:
                processor.finish(relativePath: path, info: info, verdict: verdict)
            }
        }
        guard !prepared.isEmpty else { return requeue }
        let results: [Result<IngestOutcome, StoreError>]
        switch writeWaiting({ () throws(StoreError) in try database.ingestBatch(prepared.map(\.ingest)) { [self] in !stopRequested } }) {
        case .success(let stored):
            results = stored
        case .failure(let error):
            results = Array(repeating: .failure(error), count: prepared.count)
        case nil:
            // Stopping while the store takes no writes: the files stay in the inbox, and the next start's scan takes them.
            return requeue
        }
        for (item, result) in zip(prepared, results) {
            switch result {
            case .success(let outcome):
                item.processor.finish(relativePath: item.path, info: item.info, verdict: .stored(outcome))
            case .failure(let error):
                logger.error("cannot store a file", metadata: ["path": "\(item.path)", "error": "\(error)"])
                item.processor.finish(relativePath: item.path, info: item.info, verdict: .failed("cannot store the file: \(error)"))
            }
        }
        return requeue
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
        if now.exists != before.exists || now.readOnly != before.readOnly { return now.exists && !now.readOnly }
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

    /// Records the problems the watcher found, waiting out a store that takes no writes.
    private func recordProblems(_ taken: [String: (state: SourceState, reason: String)]) {
        for (path, problem) in taken.sorted(by: { $0.key < $1.key }) {
            if stopRequested { return }  // the next start's scan finds them again
            let write = writeWaiting { () throws(StoreError) in try database.recordProblem(path: path, state: problem.state, reason: problem.reason) }
            switch write {
            case .success:
                logger.notice(problem.state == .failed ? "file failed" : "file skipped", metadata: ["path": "\(path)", "reason": "\(problem.reason)"])
            case .failure(let error):
                logger.error("cannot record the file's state", metadata: ["path": "\(path)", "error": "\(error)"])
            case nil:
                return
            }
        }
    }

    private func markRemovedIfKnown(_ path: String) {
        let known: Bool
        do {
            known = try database.source(path: path).map { $0.state != .removed } ?? false
        } catch {
            logger.error("cannot look up a removed file", metadata: ["path": "\(path)", "error": "\(error)"])
            return
        }
        guard known else { return }
        switch writeWaiting({ () throws(StoreError) in try database.markRemoved(path: path) }) {
        case .success:
            logger.info("file removed; its insights stay", metadata: ["path": "\(path)"])
        case .failure(let error):
            logger.error("cannot record a removed file", metadata: ["path": "\(path)", "error": "\(error)"])
        case nil:
            break
        }
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
