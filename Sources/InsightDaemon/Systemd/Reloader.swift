import Foundation
import InsightCore
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a reload, as `POST /v1/reload` returns it.
struct ReloadReply: Codable, Sendable, Equatable {
    var schema = InsightVersion.apiSchema
    var ok: Bool
    var message: String
    /// Settings whose new values are in effect now.
    var applied: [String]
    /// Settings that changed in the file but take effect only after a restart.
    var restartRequired: [String]
}

/// Re-reads the configuration on SIGHUP or `insightctl reload` and applies what can change at runtime.
///
/// An invalid configuration leaves the running one in place. systemd hears `RELOADING=1` (with
/// `MONOTONIC_USEC=`) before and `READY=1` after, whatever the outcome.
final class Reloader: Sendable {
    let sources: SettingsSources
    let settings: SettingsBox
    let pipeline: IngestPipeline
    let watcher: InboxWatcher
    let notifier: SystemdNotifier
    let heartbeat: ServiceHeartbeat
    let logLevel: LogLevelBox
    let logger: Logger
    /// One reload at a time; SIGHUP and the socket may race. True once shutdown has begun.
    private let serial = Mutex(false)

    init(sources: SettingsSources, settings: SettingsBox, pipeline: IngestPipeline, watcher: InboxWatcher,
         notifier: SystemdNotifier, heartbeat: ServiceHeartbeat, logLevel: LogLevelBox, logger: Logger) {
        self.sources = sources
        self.settings = settings
        self.pipeline = pipeline
        self.watcher = watcher
        self.notifier = notifier
        self.heartbeat = heartbeat
        self.logLevel = logLevel
        self.logger = logger
    }

    /// Refuses reloads from now on (called when shutdown begins), after waiting for one in progress.
    func beginShutdown() {
        serial.withLock { $0 = true }
    }

    /// Re-reads the configuration and applies it; see `ReloadReply`.
    func reload(trigger: String) -> ReloadReply {
        serial.withLock { shuttingDown in
            if shuttingDown {
                return ReloadReply(ok: false, message: "the daemon is stopping; the configuration was not reloaded", applied: [], restartRequired: [])
            }
            notifier.reloading()
            let reply = apply(trigger: trigger)
            notifier.ready(status: heartbeat.announce())
            return reply
        }
    }

    private func apply(trigger: String) -> ReloadReply {
        let current = settings.value
        let loaded: Settings
        do {
            loaded = try sources.load()
        } catch {
            let message = "the configuration was not reloaded, the running one stays: \(error)"
            logger.error("\(message)", metadata: ["trigger": "\(trigger)"])
            return ReloadReply(ok: false, message: message, applied: [], restartRequired: [])
        }
        let (next, applied, restart) = Self.merge(current: current, loaded: loaded)
        if applied.contains("log_level") { logLevel.level = Self.level(next.logLevel) }
        settings.replace(next)
        pipeline.update(settings: next)
        watcher.update(settings: next)
        var message = applied.isEmpty ? "configuration reloaded; nothing changed" : "configuration reloaded; applied " + applied.joined(separator: ", ")
        if !restart.isEmpty {
            message += "; \(restart.joined(separator: ", ")) changed but take\(restart.count == 1 ? "s" : "") effect only after a restart"
        }
        logger.notice("\(message)", metadata: ["trigger": "\(trigger)"])
        return ReloadReply(ok: true, message: message, applied: applied, restartRequired: restart)
    }

    /// The settings to run with: the loaded ones, except those that need a restart, which keep their
    /// running values. Also returns the names of the keys applied and of those waiting for a restart.
    static func merge(current: Settings, loaded: Settings) -> (Settings, applied: [String], restartRequired: [String]) {
        var next = loaded
        var restart: [String] = []
        func keep<T: Equatable>(_ name: String, _ path: WritableKeyPath<Settings, T>) {
            if loaded[keyPath: path] != current[keyPath: path] { restart.append(name) }
            next[keyPath: path] = current[keyPath: path]
        }
        keep("inbox", \.inbox)
        keep("state_dir", \.stateDirectory)
        keep("socket", \.socketPath)
        keep("socket_mode", \.socketMode)
        keep("watch.mode", \.watchMode)
        keep("admin_group", \.adminGroup)
        // The fetcher is built once with these; the database loads its near-duplicate index with these.
        keep("fetch.allow_private_addresses", \.fetchAllowPrivateAddresses)
        keep("fetch.max_article_bytes", \.fetchMaxArticleBytes)
        keep("fetch.concurrency", \.fetchConcurrency)
        keep("fetch.per_host_concurrency", \.fetchPerHostConcurrency)
        keep("fetch.per_host_delay_ms", \.fetchPerHostDelayMilliseconds)
        keep("fetch.connect_timeout_s", \.fetchConnectTimeoutSeconds)
        keep("fetch.timeout_s", \.fetchTimeoutSeconds)
        keep("fetch.backoff_base_ms", \.fetchBackoffBaseMilliseconds)
        keep("near_duplicates.enabled", \.nearDuplicatesEnabled)
        keep("near_duplicates thresholds", \.nearDuplicateThresholds)
        // The sentence model is loaded once.
        keep("semantic.enabled", \.semanticEnabled)
        keep("semantic.model_dir", \.semanticModelDirectory)
        // The store is opened once.
        keep("store.url", \.storeURL)
        keep("store.host", \.storeHost)
        var applied: [String] = []
        func check<T: Equatable>(_ name: String, _ path: KeyPath<Settings, T>) {
            if next[keyPath: path] != current[keyPath: path] { applied.append(name) }
        }
        check("log_level", \.logLevel)
        check("min_words", \.minWords)
        check("max_file_bytes", \.maxFileBytes)
        check("settle_ms", \.settleMilliseconds)
        check("watch.ignore", \.ignore)
        check("watch.reconcile_interval_s", \.reconcileIntervalSeconds)
        check("watch.poll_interval_s", \.pollIntervalSeconds)
        check("fetch.enabled", \.fetchEnabled)
        check("fetch.max_attempts", \.fetchMaxAttempts)
        check("semantic.paraphrase_threshold", \.paraphraseThreshold)
        check("semantic.batch_size", \.semanticBatchSize)
        // A setting added later and not named above still applies; say so rather than "nothing changed".
        if applied.isEmpty, next != current { applied.append("other settings") }
        return (next, applied, restart)
    }

    static func level(_ name: String) -> Logger.Level {
        Logger.Level(rawValue: name) ?? .info
    }
}
