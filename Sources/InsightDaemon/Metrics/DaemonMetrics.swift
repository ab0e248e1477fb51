import CoreMetrics
import Foundation
import InsightCore
import InsightStoreCore
import Metrics
import Prometheus

/// The daemon's metrics: swift-metrics handles backed by one `PrometheusCollectorRegistry`, served in the
/// Prometheus text format at `GET /v1/metrics`.
///
/// Counters and histograms are recorded where things happen, through handles made once here, so recording is an
/// atomic add (a counter) or one short lock of the histogram's own (swift-prometheus); no registry lookup on the
/// ingest path. Gauges that mirror state (queue depths, database size) are set from `DaemonControl.status()` when
/// the metrics are served. Every label value comes from a closed set: an outcome, a class, a store error code, a
/// route pattern, a method, an HTTP status. No path, URL or host is ever a label value.
///
/// One instance per process (`shared`): the handles do not depend on the global `MetricsSystem`, which
/// `bootstrapOnce()` points at the same registry exactly once, for metrics that libraries record.
final class DaemonMetrics: Sendable {
    /// The process's metrics. Made on first use; in-process tests that use a pipeline or a fetcher without a daemon
    /// record into it harmlessly.
    static let shared = DaemonMetrics()

    let registry: PrometheusCollectorRegistry
    let factory: DaemonMetricsFactory

    /// What became of inbox files, by outcome.
    enum FileOutcome: String, CaseIterable, Sendable { case ingested, unchanged, skipped, failed, removed }
    /// Why the inbox was scanned in full after start-up.
    enum RescanReason: String, CaseIterable, Sendable { case overflow, reconcile, requested }
    /// What became of a fetch, by class.
    enum FetchClass: String, CaseIterable, Sendable {
        case success, notModified = "not_modified", transient, permanent, deferred
    }

    private let files: [FileOutcome: CoreMetrics.Counter]
    private let fetches: [FetchClass: CoreMetrics.Counter]
    private let storeErrors: [String: CoreMetrics.Counter]
    /// Insights this daemon stored that no earlier file had; of them, those stored as conflicting with another; and
    /// new wordings stored as variants of a stored insight. Conflicts are a part of the new insights, not a kind
    /// beside them, so they are a family of their own rather than a label value one could sum over.
    private let insightsNew: CoreMetrics.Counter
    private let insightsConflict: CoreMetrics.Counter
    private let insightsVariant: CoreMetrics.Counter
    /// The duration of each ingest write transaction (one batch of files).
    let ingestBatchDuration: CoreMetrics.Timer
    let ingestBatchFiles: CoreMetrics.Recorder
    let inotifyOverflows: CoreMetrics.Counter
    private let rescans: [RescanReason: CoreMetrics.Counter]
    let hostPauses: CoreMetrics.Counter
    let hostPauseSeconds: CoreMetrics.FloatingPointCounter
    let sentencesEmbedded: CoreMetrics.Counter

    // Gauges set from the status report when the metrics are served.
    private let filesPending: CoreMetrics.Gauge
    private let linksQueued: CoreMetrics.Gauge
    private let linksFetching: CoreMetrics.Gauge
    private let linksDue: CoreMetrics.Gauge
    private let embeddingsPending: CoreMetrics.Gauge
    private let databaseBytes: CoreMetrics.Gauge
    private let storeInsights: [String: CoreMetrics.Gauge]
    private let watches: CoreMetrics.Gauge
    private let uptime: CoreMetrics.Gauge
    private let paused: CoreMetrics.Gauge

    init() {
        let registry = PrometheusCollectorRegistry()
        let factory = DaemonMetricsFactory(registry: registry)
        self.registry = registry
        self.factory = factory
        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory)
        }
        func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Gauge {
            CoreMetrics.Gauge(label: name, dimensions: dimensions, factory: factory)
        }
        // Every series of a closed label set is made up front, so a scrape shows it at 0 before its first event.
        files = Dictionary(uniqueKeysWithValues: FileOutcome.allCases.map { ($0, counter(Name.files, [("outcome", $0.rawValue)])) })
        fetches = Dictionary(uniqueKeysWithValues: FetchClass.allCases.map { ($0, counter(Name.fetches, [("class", $0.rawValue)])) })
        storeErrors = Dictionary(uniqueKeysWithValues: Self.storeErrorCodes.map { ($0, counter(Name.storeErrors, [("code", $0)])) })
        insightsNew = counter(Name.insightsNew)
        insightsConflict = counter(Name.insightsConflict)
        insightsVariant = counter(Name.insightsVariant)
        ingestBatchDuration = CoreMetrics.Timer(label: Name.ingestBatchDuration, dimensions: [], factory: factory)
        ingestBatchFiles = CoreMetrics.Recorder(label: Name.ingestBatchFiles, dimensions: [], aggregate: true, factory: factory)
        inotifyOverflows = counter(Name.inotifyOverflows)
        rescans = Dictionary(uniqueKeysWithValues: RescanReason.allCases.map { ($0, counter(Name.rescans, [("reason", $0.rawValue)])) })
        hostPauses = counter(Name.hostPauses)
        hostPauseSeconds = CoreMetrics.FloatingPointCounter(label: Name.hostPauseSeconds, dimensions: [], factory: factory)
        sentencesEmbedded = counter(Name.sentencesEmbedded)
        filesPending = gauge(Name.filesPending)
        linksQueued = gauge(Name.links, [("state", "queued")])
        linksFetching = gauge(Name.links, [("state", "fetching")])
        linksDue = gauge(Name.linksDue)
        embeddingsPending = gauge(Name.embeddingsPending)
        databaseBytes = gauge(Name.databaseBytes)
        storeInsights = Dictionary(uniqueKeysWithValues: ["unique", "variant", "conflict"].map { ($0, gauge(Name.storeInsights, [("kind", $0)])) })
        watches = gauge(Name.watches)
        uptime = gauge(Name.uptime)
        paused = gauge(Name.paused)
        // The request series appear as requests arrive; the families are declared now so HELP and TYPE are there.
        _ = apiRequestHandles(route: "/v1/status", method: "GET", status: 200)
    }

    /// Points the global `MetricsSystem` at this process's registry, once; later calls do nothing.
    static func bootstrapOnce() { _ = bootstrapped }
    private static let bootstrapped: Void = { MetricsSystem.bootstrap(shared.factory) }()

    // MARK: - Recording

    func file(_ outcome: FileOutcome, count: Int = 1) {
        guard count > 0 else { return }
        files[outcome]?.increment(by: count)
    }

    /// Records what one stored file wrote, as the store's ingest outcome counts it.
    func insightsWritten(new: Int, variants: Int, conflicts: Int) {
        if new > 0 { insightsNew.increment(by: new) }
        if variants > 0 { insightsVariant.increment(by: variants) }
        if conflicts > 0 { insightsConflict.increment(by: conflicts) }
    }

    func rescan(_ reason: RescanReason) { rescans[reason]?.increment() }

    func fetch(_ outcome: FetchClass) { fetches[outcome]?.increment() }

    func storeError(_ error: StoreError) { storeErrors[Self.label(error.code)]?.increment() }

    /// Records one API request: its route pattern (never the raw path), method, status and latency.
    func apiRequest(route: String, method: String, status: Int, seconds: Double) {
        let (counter, timer) = apiRequestHandles(route: route, method: method, status: status)
        counter.increment()
        timer.recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    /// The handles of one request series. Made through the registry, which returns the existing series: the label
    /// set is bounded by the route table, the methods `APIRouter.methodLabel` lets through and the HTTP statuses.
    private func apiRequestHandles(route: String, method: String, status: Int) -> (CoreMetrics.Counter, CoreMetrics.Timer) {
        let statusText = (100...599).contains(status) ? String(status) : "other"
        let counter = CoreMetrics.Counter(label: Name.apiRequests, dimensions: [("route", route), ("method", method), ("status", statusText)],
                                          factory: factory)
        let timer = CoreMetrics.Timer(label: Name.apiDuration, dimensions: [("route", route), ("method", method)], factory: factory)
        return (counter, timer)
    }

    // MARK: - Serving

    /// Sets the gauges from `status` and `linksDue` (nil when the store could not be read: the gauge keeps its last
    /// value, as the others keep the last counts read) and returns every metric in the Prometheus text format
    /// (version 0.0.4).
    func exposition(status: StatusReport, linksDue: Int?) -> String {
        filesPending.record(status.files.pending)
        linksQueued.record(status.links.queued)
        linksFetching.record(status.links.fetching)
        if let linksDue { self.linksDue.record(linksDue) }
        embeddingsPending.record(status.semantic?.pending ?? 0)
        databaseBytes.record(status.database.bytes)
        storeInsights["unique"]?.record(status.insights.unique)
        storeInsights["variant"]?.record(status.insights.variants)
        storeInsights["conflict"]?.record(status.insights.conflicts)
        watches.record(status.watch.watches)
        uptime.record(status.uptimeS)
        paused.record(status.state == "paused" ? 1 : 0)
        return registry.emitToString()
    }

    // MARK: - Names

    /// Metric names, by Prometheus conventions: `insightd_` first, `_total` for counters, base units in the name.
    enum Name {
        static let files = "insightd_files_total"
        static let insightsNew = "insightd_insights_new_total"
        static let insightsConflict = "insightd_insights_conflict_total"
        static let insightsVariant = "insightd_insights_variant_total"
        static let storeInsights = "insightd_store_insights"
        static let ingestBatchDuration = "insightd_ingest_batch_duration_seconds"
        static let ingestBatchFiles = "insightd_ingest_batch_files"
        static let filesPending = "insightd_files_pending"
        static let links = "insightd_links"
        static let linksDue = "insightd_links_due"
        static let embeddingsPending = "insightd_embeddings_pending"
        static let inotifyOverflows = "insightd_inotify_overflows_total"
        static let rescans = "insightd_rescans_total"
        static let fetches = "insightd_fetches_total"
        static let hostPauses = "insightd_fetch_host_pauses_total"
        static let hostPauseSeconds = "insightd_fetch_host_pause_seconds_total"
        static let apiRequests = "insightd_api_requests_total"
        static let apiDuration = "insightd_api_request_duration_seconds"
        static let storeErrors = "insightd_store_errors_total"
        static let databaseBytes = "insightd_database_size_bytes"
        static let sentencesEmbedded = "insightd_sentences_embedded_total"
        static let watches = "insightd_inotify_watches"
        static let uptime = "insightd_uptime_seconds"
        static let paused = "insightd_paused"
    }

    static let storeErrorCodes = ["open", "migrate", "write", "read", "not_found", "unavailable", "disk_full", "unwritable"]

    /// The label of a store error code; a switch, so a new code cannot go uncounted.
    static func label(_ code: StoreError.Code) -> String {
        switch code {
        case .open: "open"
        case .migrate: "migrate"
        case .write: "write"
        case .read: "read"
        case .notFound: "not_found"
        case .unavailable: "unavailable"
        case .diskFull: "disk_full"
        case .unwritable: "unwritable"
        }
    }

    /// Help text and histogram buckets of each metric the daemon records.
    static let catalog: [String: (help: String, buckets: [Double]?)] = {
        let seconds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        return [
            Name.files: ("Inbox files by what became of them: ingested, unchanged, skipped, failed or removed.", nil),
            Name.insightsNew: ("Insights this daemon stored that were not stored before.", nil),
            Name.insightsConflict: ("New insights this daemon stored as conflicting with a stored one (each also counted as new).", nil),
            Name.insightsVariant: ("New wordings this daemon stored as variants of a stored insight.", nil),
            Name.storeInsights: ("Insights in the store: unique ones, variant wordings, conflicting pairs.", nil),
            Name.ingestBatchDuration: ("Duration of each ingest write transaction (one batch of files).", seconds),
            Name.ingestBatchFiles: ("Files in each ingest write transaction.", [1, 2, 4, 8, 16, 32, 64, 128, 256]),
            Name.filesPending: ("Inbox files waiting to be ingested.", nil),
            Name.links: ("Links in the fetch queue by state: queued (due or waiting for their time) or fetching.", nil),
            Name.linksDue: ("Links due for fetching now: queued without a later time, or failed for a while with their retry time passed.", nil),
            Name.embeddingsPending: ("Insights without a sentence vector yet.", nil),
            Name.inotifyOverflows: ("Times the inotify queue overflowed (each one starts a rescan).", nil),
            Name.rescans: ("Full scans of the inbox after start-up, by reason: overflow, reconcile (the periodic check), requested.", nil),
            Name.fetches: ("Link fetches by outcome class: success, not_modified, transient, permanent, deferred.", nil),
            Name.hostPauses: ("Pauses a host asked for (Retry-After on 429 or 503).", nil),
            Name.hostPauseSeconds: ("Seconds of pause hosts asked for, added up (overlaps with a running pause counted once).", nil),
            Name.apiRequests: ("Socket API requests by route pattern, method and HTTP status.", nil),
            Name.apiDuration: ("Time from a request read to its response ready (a stream's head), by route pattern and method.", seconds),
            Name.storeErrors: ("Store call failures by error code.", nil),
            Name.databaseBytes: ("Size of the database (SQLite files or the PostgreSQL database).", nil),
            Name.sentencesEmbedded: ("Insights this daemon embedded with the sentence model.", nil),
            Name.watches: ("inotify watches held.", nil),
            Name.uptime: ("Seconds since the daemon started.", nil),
            Name.paused: ("1 while ingestion is paused by insightctl pause, else 0.", nil),
        ]
    }()
}

/// A swift-metrics factory over one registry that gives the daemon's metrics their help text and buckets, and
/// passes any other metric (from a library) to `PrometheusMetricsFactory` unchanged.
struct DaemonMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    private let plain: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        plain = PrometheusMetricsFactory(registry: registry)
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor? {
        DaemonMetrics.catalog[label].map { MetricNameDescriptor(metricName: label, unitName: "", helpText: $0.help) }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeFloatingPointCounter(label: label, dimensions: dimensions) }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let descriptor = descriptor(label) else { return plain.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate) }
        guard aggregate else { return registry.makeGauge(descriptor: descriptor, labels: dimensions) }
        let buckets = DaemonMetrics.catalog[label]?.buckets ?? plain.defaultValueHistogramBuckets
        return registry.makeValueHistogram(descriptor: descriptor, labels: dimensions, buckets: buckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = descriptor(label) else { return plain.makeMeter(label: label, dimensions: dimensions) }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let descriptor = descriptor(label) else { return plain.makeTimer(label: label, dimensions: dimensions) }
        let buckets = (DaemonMetrics.catalog[label]?.buckets).map { $0.map { Duration.nanoseconds(Int64($0 * 1e9)) } }
            ?? plain.defaultDurationHistogramBuckets
        return registry.makeDurationHistogram(descriptor: descriptor, labels: dimensions, buckets: buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}
