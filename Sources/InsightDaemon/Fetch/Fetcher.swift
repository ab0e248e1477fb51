import Foundation
import InsightCore

/// Fetches web pages with libcurl, politely and safely.
///
/// Transfers run on `globalConcurrency` dedicated threads, each owning one libcurl easy handle;
/// Swift's cooperative pool is never blocked. At most `perHostConcurrency` transfers run against
/// one host, and a new one starts only `perHostDelay` after the previous one to that host ended.
/// Requests wait in first-come order, skipping over ones whose host is busy. When a host answers
/// with `Retry-After`, later requests to it end at once as transient failures (code
/// `.hostBackingOff`) until that time has passed, instead of asking again; no request went out
/// for them, so callers put them back in their queue without counting an attempt.
public final class Fetcher: Sendable {
    /// The settings every transfer uses.
    public let settings: FetchSettings
    private let scheduler: FetchScheduler

    /// Starts the worker threads.
    public init(settings: FetchSettings = FetchSettings()) {
        var settings = settings
        settings.globalConcurrency = max(1, settings.globalConcurrency)
        settings.perHostConcurrency = max(1, settings.perHostConcurrency)
        self.settings = settings
        scheduler = FetchScheduler(perHostConcurrency: settings.perHostConcurrency, perHostDelay: settings.perHostDelay,
                                   maximumHostPause: settings.maximumHostPause)
        for index in 0..<settings.globalConcurrency {
            let scheduler = self.scheduler
            let settings = self.settings
            Thread.startNamed("insightd-fetch\(index)") {
                // Made with the thread's first job: libcurl's global set-up (TLS libraries and all) waits until a
                // link is fetched, instead of costing every daemon that never fetches one.
                var handle: CurlEasy?
                while let (job, pausedUntil) = scheduler.next() {
                    let outcome: FetchOutcome
                    if job.cancellation.isSet {
                        outcome = FetchScheduler.cancelledOutcome(job.request)
                    } else if let pausedUntil {
                        outcome = FetchScheduler.backingOffOutcome(job.request, until: pausedUntil)
                    } else {
                        let easy = handle ?? CurlEasy()
                        handle = easy
                        outcome = easy.perform(job.request, settings: settings, cancellation: job.cancellation)
                    }
                    scheduler.finished(job, contacted: pausedUntil == nil && !job.cancellation.isSet,
                                       retryAfter: outcome.failure?.retryAfter)
                    job.resume(outcome)
                }
            }
        }
    }

    deinit {
        scheduler.shutdown()
    }

    /// Fetches `request.url` and classifies the result. Never throws: every failure is an outcome.
    /// Cancelling the calling task stops a queued or running transfer (reported as a transient
    /// failure with code `.cancelled`).
    public func fetch(_ request: FetchRequest) async -> FetchOutcome {
        let job = FetchJob(request: request)
        let scheduler = self.scheduler
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                job.attach(continuation)
                scheduler.submit(job)
            }
        } onCancel: {
            job.cancellation.set()
            scheduler.withdraw(job)
        }
    }

    /// Stops the worker threads after their current transfer; queued fetches end as cancelled.
    public func shutdown() {
        scheduler.shutdown()
    }
}

/// A queued fetch and the continuation waiting for it.
final class FetchJob: @unchecked Sendable {
    let request: FetchRequest
    let host: String
    let cancellation = CancellationFlag()
    private let lock = NSLock()
    private var continuation: CheckedContinuation<FetchOutcome, Never>?
    private var pending: FetchOutcome?
    private var resumed = false

    init(request: FetchRequest) {
        self.request = request
        host = request.url.host
    }

    func attach(_ continuation: CheckedContinuation<FetchOutcome, Never>) {
        let ready: FetchOutcome? = lock.withLock {
            if let pending { resumed = true; return pending }
            self.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    /// Delivers the outcome exactly once, whether the continuation is attached yet or not.
    func resume(_ outcome: FetchOutcome) {
        let target: CheckedContinuation<FetchOutcome, Never>? = lock.withLock {
            guard !resumed, pending == nil else { return nil }
            guard let continuation else { pending = outcome; return nil }
            resumed = true
            self.continuation = nil
            return continuation
        }
        target?.resume(returning: outcome)
    }
}

/// The queue and per-host bookkeeping shared by the worker threads.
final class FetchScheduler: @unchecked Sendable {
    private struct HostState {
        var active = 0
        /// No new transfer to the host starts before this instant (nil: no pause pending).
        var nextStart: ContinuousClock.Instant?
        /// The host asked (with `Retry-After`) not to be contacted before this time.
        var pausedUntil: Date?
    }

    private let condition = NSCondition()
    private let perHostConcurrency: Int
    private let perHostDelay: Duration
    private let maximumHostPause: TimeInterval
    private var queue: [FetchJob] = []
    private var hosts: [String: HostState] = [:]
    private var running = true

    init(perHostConcurrency: Int, perHostDelay: TimeInterval, maximumHostPause: TimeInterval) {
        self.perHostConcurrency = perHostConcurrency
        self.maximumHostPause = max(0, maximumHostPause)
        self.perHostDelay = .milliseconds(Int64(max(0, perHostDelay) * 1000))
    }

    static func cancelledOutcome(_ request: FetchRequest) -> FetchOutcome {
        .transientFailure(FetchFailure(code: .cancelled, reason: "The fetch was cancelled before it finished"), retryAt: Date())
    }

    static func backingOffOutcome(_ request: FetchRequest, until: Date) -> FetchOutcome {
        let seconds = Int(max(0, until.timeIntervalSinceNow).rounded(.up))
        return .transientFailure(
            FetchFailure(code: .hostBackingOff,
                         reason: "\(request.url.host) asked (Retry-After) not to be contacted for another \(seconds) s; not fetched now",
                         retryAfter: until.timeIntervalSinceNow),
            retryAt: until)
    }

    func submit(_ job: FetchJob) {
        let accepted: Bool = condition.withLock {
            guard running, !job.cancellation.isSet else { return false }
            queue.append(job)
            condition.broadcast()
            return true
        }
        if !accepted { job.resume(Self.cancelledOutcome(job.request)) }
    }

    /// Removes a job that has not started; a running one is stopped by its cancellation flag.
    func withdraw(_ job: FetchJob) {
        let removed: Bool = condition.withLock {
            guard let index = queue.firstIndex(where: { $0 === job }) else { return false }
            queue.remove(at: index)
            return true
        }
        if removed { job.resume(Self.cancelledOutcome(job.request)) }
    }

    /// Blocks the calling worker thread until a job may start; nil once shut down. A job whose
    /// host asked for a pause comes with the end of that pause and must not be fetched.
    func next() -> (FetchJob, pausedUntil: Date?)? {
        condition.lock()
        defer { condition.unlock() }
        while running {
            let now = ContinuousClock.Instant.now
            var earliest: ContinuousClock.Instant?
            for (index, job) in queue.enumerated() {
                let state = hosts[job.host] ?? HostState()
                if state.active >= perHostConcurrency { continue }
                if let nextStart = state.nextStart, nextStart > now {
                    earliest = min(earliest ?? nextStart, nextStart)
                    continue
                }
                queue.remove(at: index)
                var updated = state
                updated.active += 1
                hosts[job.host] = updated
                let paused = state.pausedUntil.flatMap { $0 > Date() ? $0 : nil }
                return (job, paused)
            }
            if let earliest {
                let wait = now.duration(to: earliest)
                let seconds = Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18
                _ = condition.wait(until: Date().addingTimeInterval(seconds))
            } else {
                condition.wait()
            }
        }
        return nil
    }

    /// Records the end of a job; `contacted` says whether a request went out, `retryAfter` is
    /// the host's `Retry-After` from this response.
    func finished(_ job: FetchJob, contacted: Bool, retryAfter: TimeInterval?) {
        condition.withLock {
            let now = ContinuousClock.Instant.now
            let wallNow = Date()
            var state = hosts[job.host] ?? HostState()
            state.active = max(0, state.active - 1)
            if contacted {
                state.nextStart = now + perHostDelay
                if let retryAfter, retryAfter > 0 {
                    let until = wallNow.addingTimeInterval(min(retryAfter, maximumHostPause))
                    // Only the time this pause adds beyond one already running.
                    let added = until.timeIntervalSince(max(state.pausedUntil ?? wallNow, wallNow))
                    DaemonMetrics.shared.hostPauses.increment()
                    if added > 0 { DaemonMetrics.shared.hostPauseSeconds.increment(by: added) }
                    state.pausedUntil = max(state.pausedUntil ?? until, until)
                }
            }
            hosts[job.host] = state
            // Forget idle hosts whose pauses are over, so the table does not grow without bound.
            hosts = hosts.filter {
                $0.value.active > 0 || ($0.value.nextStart.map { $0 > now } ?? false)
                    || ($0.value.pausedUntil.map { $0 > wallNow } ?? false)
            }
            condition.broadcast()
        }
    }

    func shutdown() {
        let dropped: [FetchJob] = condition.withLock {
            running = false
            let jobs = queue
            queue.removeAll()
            condition.broadcast()
            return jobs
        }
        for job in dropped { job.resume(Self.cancelledOutcome(job.request)) }
    }
}
