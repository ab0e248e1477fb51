import Foundation
import InsightCore
import InsightExtract
import InsightStoreCore
import Logging
import ServiceLifecycle
import Synchronization

/// Fetches queued links and stores the articles' paragraphs as insights whose source is the URL.
///
/// The queue lives in SQLite, so it survives restarts; this service only claims what is due, hands it to the
/// libcurl fetcher (which runs on its own threads), and records each outcome. It sleeps until the next link is
/// due or a new one is queued: no polling timer while the queue is empty. Store calls and article extraction
/// (libxml2) run on two threads of its own (`BlockingWork`); fetches run on the fetcher's libcurl threads.
final class LinkService: Service, Sendable {
    let database: any LinkQueueing
    let fetcher: Fetcher
    let settings: SettingsBox
    let logger: Logger
    private let wake = WakeSignal()
    private let inFlight = Atomic<Int>(0)
    private let work = BlockingWork(threads: 2)
    /// Told, on one of the service's threads, after each fetch is recorded (the status line counts links).
    let onProgress: @Sendable () -> Void

    init(database: any LinkQueueing, settings: SettingsBox, logger: Logger, onProgress: @escaping @Sendable () -> Void = {}) {
        self.onProgress = onProgress
        self.database = database
        self.settings = settings
        self.logger = logger
        fetcher = Fetcher(settings: Self.fetchSettings(settings.value))
    }

    /// The fetcher's settings from the daemon's.
    static func fetchSettings(_ settings: Settings) -> FetchSettings {
        var fetch = FetchSettings()
        fetch.allowPrivateAddresses = settings.fetchAllowPrivateAddresses
        fetch.maximumBodyBytes = settings.fetchMaxArticleBytes
        fetch.globalConcurrency = settings.fetchConcurrency
        fetch.perHostConcurrency = settings.fetchPerHostConcurrency
        fetch.perHostDelay = Double(settings.fetchPerHostDelayMilliseconds) / 1000
        fetch.connectTimeout = Double(settings.fetchConnectTimeoutSeconds)
        fetch.totalTimeout = Double(settings.fetchTimeoutSeconds)
        fetch.backoffBase = Double(settings.fetchBackoffBaseMilliseconds) / 1000
        return fetch
    }

    /// Wakes the loop: a link was queued or requeued.
    func poke() { wake.poke() }

    /// Links being fetched right now.
    var fetching: Int { inFlight.load(ordering: .relaxed) }

    func run() async throws {
        work.start()
        defer { fetcher.shutdown() }
        let database = self.database
        do {
            try await work.store { () throws(StoreError) in try database.requeueInterruptedFetches() }
        } catch {
            logger.error("cannot requeue interrupted fetches: \(error)")
        }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                var wakeups = self.wake.waiter()
                while !Task.isCancelled {
                    let settings = self.settings.value
                    let free = settings.fetchConcurrency * 2 - self.inFlight.load(ordering: .relaxed)
                    var claimed: [LinkRecord] = []
                    if settings.fetchEnabled, free > 0 {
                        do {
                            claimed = try await self.work.store { () throws(StoreError) in try database.claimDueLinks(limit: free) }
                        } catch {
                            self.logger.error("cannot claim links: \(error)")
                        }
                    }
                    for link in claimed {
                        self.inFlight.wrappingAdd(1, ordering: .relaxed)
                        group.addTask {
                            await self.fetch(link, settings: settings)
                            _ = try? await self.work.run(self.onProgress)
                            self.inFlight.wrappingSubtract(1, ordering: .relaxed)
                            self.poke()
                        }
                    }
                    // Sleep until something is due, a link is queued, or a fetch ends.
                    let delay = await self.secondsUntilNextDue(enabled: settings.fetchEnabled)
                    await wakeups.wait(timeout: delay)
                }
            }
        }
        await work.shutdown()
    }

    private func secondsUntilNextDue(enabled: Bool) async -> Double? {
        guard enabled else { return nil }
        let database = self.database
        guard let due = try? await work.store({ () throws(StoreError) in try database.nextLinkDueAt() }) else { return nil }
        return max(0.05, due - Date().timeIntervalSince1970)
    }

    private func fetch(_ link: LinkRecord, settings: Settings) async {
        guard let id = link.id, let url = try? CanonicalURL(link.canonicalURL) else { return }
        let request = FetchRequest(url: url, etag: link.etag, lastModified: link.lastModified, attempt: link.attempts)
        let outcome = await fetcher.fetch(request)
        let database = self.database
        DaemonMetrics.shared.fetch(Self.fetchClass(outcome))
        do {
            switch outcome {
            case .success(let response):
                try await store(response, link: link, id: id, settings: settings)
            case .notModified(let response):
                _ = try await recording { () throws(StoreError) in
                    try database.completeFetch(linkID: id, content: nil) { record in
                        record.finalURL = response.finalURL
                        record.attempts += 1
                    }
                }
                logger.debug("article unchanged", metadata: ["url": "\(link.canonicalURL)"])
            case .transientFailure(let failure, let retryAt) where failure.code == .hostBackingOff || failure.code == .cancelled:
                // No request went out (the host asked for a pause), or shutdown cut it short: not an attempt.
                try await recording { () throws(StoreError) in
                    try database.deferFetch(linkID: id, nextAttemptAt: failure.code == .cancelled ? nil : retryAt.timeIntervalSince1970)
                }
                logger.debug("fetch put off", metadata: ["url": "\(link.canonicalURL)", "reason": "\(failure.reason)"])
            case .transientFailure(let failure, let retryAt):
                let giveUp = link.attempts + 1 >= settings.fetchMaxAttempts
                let reason = giveUp ? "\(failure.reason) (gave up after \(link.attempts + 1) attempts; `insightctl retry` tries again)" : failure.reason
                try await recording { () throws(StoreError) in
                    try database.failFetch(linkID: id, permanent: giveUp, reason: reason, nextAttemptAt: retryAt.timeIntervalSince1970)
                }
                logger.notice("fetch failed, will retry", metadata: ["url": "\(link.canonicalURL)", "reason": "\(failure.reason)",
                                                                     "retry_at": "\(retryAt)"])
            case .permanentFailure(let failure):
                try await recording { () throws(StoreError) in
                    try database.failFetch(linkID: id, permanent: true, reason: failure.reason, nextAttemptAt: nil)
                }
                logger.notice("fetch failed", metadata: ["url": "\(link.canonicalURL)", "reason": "\(failure.reason)"])
            }
        } catch {
            logger.error("cannot record a fetch", metadata: ["url": "\(link.canonicalURL)", "error": "\(error)"])
        }
    }

    /// The metrics class of a fetch's outcome; `deferred` when no request went out (a host's pause, shutdown).
    static func fetchClass(_ outcome: FetchOutcome) -> DaemonMetrics.FetchClass {
        switch outcome {
        case .success: .success
        case .notModified: .notModified
        case .transientFailure(let failure, _) where failure.code == .hostBackingOff || failure.code == .cancelled: .deferred
        case .transientFailure: .transient
        case .permanentFailure: .permanent
        }
    }

    /// Runs a store write. While the store takes no writes for a reason that passes (a full disk, an unreachable
    /// database), waits with backoff (1 s doubling to 30 s) and runs it again, so a fetched article or a failure is
    /// not lost. Gives up on shutdown: the link stays `fetching`, and the next start puts it back in the queue.
    private func recording<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        var delay = 1.0
        while true {
            do {
                return try await work.store(body)
            } catch where error.isTransient && !Task.isCancelled {
                if delay == 1 { logger.warning("recording a fetch waits for the store to take writes: \(error)") }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(delay * 2, 30)
            }
        }
    }

    /// Extracts the article (HTML) or parses the text (text/plain) and stores it with the link's new state.
    private func store(_ response: FetchResponse, link: LinkRecord, id: Int64, settings: Settings) async throws {
        let database = self.database
        var article: ExtractedArticle?
        let text: String
        let mediaType = response.mediaType?.lowercased() ?? "text/html"
        if mediaType == "text/plain" {
            guard let decoded = try? TextDecoder.decode(response.body) else {
                try await recording { () throws(StoreError) in
                    try database.failFetch(linkID: id, permanent: true, reason: "the text is empty or binary", nextAttemptAt: nil)
                }
                return
            }
            text = decoded.text
        } else {
            do {
                let extracted = try await work.run {
                    try ArticleExtractor.extract(html: response.body, contentTypeCharset: response.charset, baseURL: response.finalURL)
                }
                article = extracted
                text = extracted.text
            } catch {
                let reason = "no article text could be extracted: \(error)"
                try await recording { () throws(StoreError) in
                    try database.failFetch(linkID: id, permanent: true, reason: reason, nextAttemptAt: nil)
                }
                return
            }
        }
        let minWords = settings.minWords, sign = settings.nearDuplicatesEnabled
        let page = article
        let (document, prepared) = try await work.run {
            // An article reads as the same page saved into the inbox reads: its paragraphs, under its title.
            let document = page.map { HTMLNote.document(of: $0, minWords: minWords) } ?? DocumentParser(minWords: minWords).parse(text)
            return (document, document.insights.map { PreparedInsight($0, sign: sign) })
        }
        let content = FileIngest(
            path: link.canonicalURL, size: Int64(response.body.count), mtime: Date().timeIntervalSince1970,
            sha256: Hashing.sha256Hex(Array(text.utf8)), encoding: "utf-8", documentDate: document.date,
            insights: prepared, kind: "url", format: document.format.rawValue)
        let extracted = article
        let update: @Sendable (inout LinkRecord) -> Void = { record in
            record.attempts += 1
            record.finalURL = response.finalURL
            record.etag = response.etag
            record.lastModified = response.lastModified
            if let article = extracted {
                record.title = article.title
                record.byline = article.byline
                record.published = article.published
                record.siteName = article.siteName
                record.language = article.language
                record.pageCanonicalURL = article.canonicalURL
            }
        }
        let outcome = try await recording { () throws(StoreError) in try database.completeFetch(linkID: id, content: content, update: update) }
        logger.info("article stored", metadata: ["url": "\(link.canonicalURL)", "insights": "\(document.insights.count)",
                                                 "outcome": "\(outcome.map { "\($0)" } ?? "-")"])
    }
}
