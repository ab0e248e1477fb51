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
    /// Set while a batch waits for an unreachable database: the reason.
    private var waitingForDatabase: String?
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

    init(settings: Settings, database: any InsightStoring, logger: Logger, onProgress: @escaping @Sendable () -> Void = {},
         onLinksQueued: @escaping @Sendable () -> Void = {},
         tickInterval: Double? = nil, onTick: @escaping @Sendable () -> Void = {},
         wedgeFileName: String? = ProcessInfo.processInfo.environment["INSIGHTD_TEST_WEDGE_FILE"].flatMap { $0.isEmpty ? nil : $0 }) {
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

    /// Files queued or in hand, and the age of the oldest queued one.
    func pendingSummary(now: Double = monotonicSeconds()) -> (count: Int, oldestAge: Double?) {
        condition.lock()
        defer { condition.unlock() }
        let oldest = pending.values.map(\.queuedAt).min()
        return (pending.count + inFlight, oldest.map { now - $0 })
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
                markRemovedIfKnown(path)
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
            switch processor.prepare(relativePath: path, info: info) {
            case .ready(let ingest):
                prepared.append((path, info, processor, ingest))
            case let verdict:
                processor.finish(relativePath: path, info: info, verdict: verdict)
            }
        }
        guard !prepared.isEmpty else { return requeue }
        guard let results = storeWaitingForDatabase(prepared.map(\.ingest)) else {
            // Stopping while the database is away: the files stay in the inbox, and the next start's scan takes them.
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

    /// Stores a batch. While a shared database cannot be reached, waits and tries again with backoff (the
    /// watcher keeps queueing meanwhile); storing a batch twice is safe, since an unchanged file is recognized.
    /// Returns nil when asked to stop while waiting.
    private func storeWaitingForDatabase(_ files: [FileIngest]) -> [Result<IngestOutcome, StoreError>]? {
        var delay = 0.25
        var warned = false
        while true {
            do {
                let results = try database.ingestBatch(files) { [self] in !stopRequested }
                if warned { logger.notice("the database is reachable again; ingestion continues") }
                setWaitingForDatabase(nil)
                return results
            } catch where error.code == .unavailable {
                if !warned {
                    logger.warning("ingestion waits for the database: \(error)")
                    warned = true
                }
                setWaitingForDatabase(error.description)
                onTick()
                condition.lock()
                if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: delay)) }
                let stop = stopping
                condition.unlock()
                if stop { return nil }
                delay = min(delay * 2, min(5, tickInterval ?? 5))
            } catch {
                return Array(repeating: .failure(error), count: files.count)
            }
        }
    }

    private func setWaitingForDatabase(_ reason: String?) {
        condition.lock()
        waitingForDatabase = reason
        condition.unlock()
    }

    /// Why ingestion is waiting for the database, or nil when it is not.
    var databaseWait: String? {
        condition.lock()
        defer { condition.unlock() }
        return waitingForDatabase
    }

    private func markRemovedIfKnown(_ path: String) {
        do {
            if let source = try database.source(path: path), source.state != .removed {
                try database.markRemoved(path: path)
                logger.info("file removed; its insights stay", metadata: ["path": "\(path)"])
            }
        } catch {
            logger.error("cannot record a removed file", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
