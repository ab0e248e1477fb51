import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The composition root: resolves settings, opens the database, starts the socket, the watcher and the
/// pipeline, and runs them until SIGTERM or SIGINT.
///
/// ## How it runs
/// One `ServiceGroup` runs every long-running part as a `Service`; SIGTERM and SIGINT start a graceful shutdown,
/// which each service answers by finishing what it has in hand and returning (no cancellation of work in hand).
/// Blocking C work never runs on Swift's cooperative pool; each service owns the threads it blocks on:
///
/// | Service | Threads it owns | What they may block on |
/// |---|---|---|
/// | `IngestService` | `insightd-watch`: the watcher | `poll(2)` on inotify and a wake-up pipe; `getdents`/`lstat` in scans |
/// | | `insightd-parseN` (one per core) and `insightd-large` | file reads, parsing (cmark-gfm, libxml2), one short store read per file |
/// | | `insightd-write`: the one writer | SQLite (or PostgreSQL) write transactions; `statvfs` while a full disk holds it up |
/// | `APIService` | 4 `NIOThreadPool` threads for the router | store reads and writes of API requests |
/// | `LinkService` | `insightd-fetch-N` (libcurl, `fetch.concurrency`); 2 `NIOThreadPool` threads | `curl_easy_perform`; store calls and article extraction (libxml2) |
/// | `ReloadService` | 1 `NIOThreadPool` thread | reading the configuration file on SIGHUP |
/// | `SemanticService` | `insightd-embed` (nice 10) | the sentence model (OpenBLAS), store calls for vectors |
///
/// The store is opened once (`openStore`: `InsightStore`'s SQLite file or `InsightPostgres`) and each service gets
/// the narrowest role of `InsightStoreCore` it uses: the watcher and the pipeline `IngestStoring`, the link fetcher
/// `LinkQueueing`, the heartbeat `InsightReading`, the embedding worker `EmbeddingStoring & InsightReading`; the
/// socket API and status keep the whole `InsightStoring`.
///
/// Socket I/O and PostgreSQL connections run on NIO's shared event loops (`MultiThreadedEventLoopGroup.singleton`),
/// which never block: a store call on PostgreSQL blocks the service thread that made it, not a loop. Streamed
/// replies (`status --watch`, `export`) are child tasks of `APIService` that await each write. The systemd watchdog
/// is pinged from the writer thread, not from a service of its own: a wedged writer then stops the pings and
/// systemd restarts the daemon.
///
/// On SIGTERM the watcher stops, the parse workers take nothing new (a file being parsed is left in the inbox,
/// the durable queue), the writer finishes the transaction in hand, streams end, the socket file is removed and
/// the database is closed.
public enum Daemon {
    /// Runs the daemon in the foreground and returns the process exit code
    /// (0 after a clean stop, 1 when it cannot start, 2 for invalid settings).
    public static func run(sources: SettingsSources) async -> Int32 {
        let settings: Settings
        do {
            settings = try sources.load()
        } catch {
            printError("insightd: \(error)")
            return 2
        }
        let logLevel = LogLevelBox(Reloader.level(settings.logLevel))
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: logLevel) }
        let logger = Logger(label: "insightd")
        for (name, meant) in sources.unknownEnvironmentNames {
            let hint = meant.map { "; did you mean $\($0)?" } ?? ""
            logger.warning("$\(name) names no setting and is ignored\(hint)")
        }
        // One registry per process, also behind swift-metrics' global system for what libraries record.
        DaemonMetrics.bootstrapOnce()
        let notifier = SystemdNotifier()

        for (name, path) in [("inbox", settings.inbox), ("state directory", settings.stateDirectory)] {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                logger.critical("cannot create the \(name) \(path): \(error.localizedDescription)")
                return 1
            }
        }
        let database: any InsightStoring
        do {
            database = try openStore(settings, notifier: notifier, logger: logger)
        } catch {
            logger.critical("\(error)")
            return 1
        }
        let stats = DaemonStats()
        let box = SettingsBox(settings)
        let heartbeat = ServiceHeartbeat(notifier: notifier, database: database, inbox: settings.inbox)
        let semanticState = SemanticState()
        let pending = PendingProbe()
        let semantic = SemanticService(database: database, settings: box, state: semanticState, logger: logger,
                                       ingestBacklog: { pending.count() })
        let links = LinkService(database: database, settings: box, logger: logger, onProgress: { heartbeat.progress(); semantic.poke() })
        let pipeline = IngestPipeline(settings: settings, database: database, logger: logger,
                                      onProgress: { heartbeat.progress(); semantic.poke() }, onLinksQueued: { links.poke() },
                                      tickInterval: heartbeat.tickInterval, tickDelay: { heartbeat.tickDelay() }, onTick: { heartbeat.tick() },
                                      onHold: { heartbeat.setHold(state: $0.map(DaemonControl.state(heldBy:)), detail: $0?.message) })
        heartbeat.setTicker { pipeline.wake() }
        pending.attach { pipeline.pendingSummary().count }
        let watcher: InboxWatcher
        do {
            watcher = try InboxWatcher(settings: settings, pipeline: pipeline, database: database, stats: stats, logger: logger)
        } catch {
            logger.critical("cannot start the inbox watcher: \(error)")
            return 1
        }
        let control = DaemonControl(database: database, pipeline: pipeline, watcher: watcher, links: links, stats: stats, settings: box,
                                   semantic: semanticState)
        let reloader = Reloader(sources: sources, settings: box, pipeline: pipeline, watcher: watcher, notifier: notifier,
                                heartbeat: heartbeat, logLevel: logLevel, logger: logger)
        var routes = APIRouter(control: control)
        routes.reloader = reloader
        let router = routes
        // Under socket activation (insightd.socket) systemd made the socket, with its group and mode, and keeps it.
        let inherited: InheritedSocket?
        do {
            inherited = try InheritedSocket.passed()
        } catch {
            logger.critical("\(error)")
            try? database.close()
            return 1
        }
        let server = SocketServer(path: settings.socketPath, mode: settings.socketMode, inherited: inherited,
                                  limits: { ServerLimits(requestDeadlineSeconds: box.value.socketRequestTimeoutSeconds) },
                                  access: router.access, logger: logger) { router.handle($0) }
        do {
            try await server.start()
        } catch {
            logger.critical("cannot listen on \(server.path): \(error)")
            try? database.close()
            return 1
        }
        if let inherited {
            logger.info("serving on the socket passed by the service manager: \(inherited.path) (its group and mode are set there, socket_mode is not used)")
            if inherited.path != settings.socketPath {
                logger.warning("the socket setting \(settings.socketPath) is not used: the service manager passed \(inherited.path); change ListenStream= in insightd.socket instead")
            }
        }
        // SIGHUP reloads (ReloadService); ignored from here on so one that arrives before the service runs cannot end the process.
        signal(SIGHUP, SIG_IGN)
        logger.info("insightd \(InsightVersion.current) watching \(settings.inbox)",
                    metadata: ["socket": "\(server.path)", "store": "\(database.kind) \(database.location)"])
        if !settings.adminGroup.isEmpty, let gid = UserDatabase.groupID(named: settings.adminGroup), UserNamespace.current.hides(gid: gid) {
            logger.warning("admin_group has no effect: \(UserNamespace.hiddenGroupReason(settings.adminGroup))")
        }
        notifier.ready(status: heartbeat.announce())

        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: APIService(server: server)),
                .init(service: links),
                .init(service: semantic),
                .init(service: ReloadService(reloader: reloader)),
                .init(service: IngestService(pipeline: pipeline, watcher: watcher, notifier: notifier, logger: logger,
                                             beforeStopping: { reloader.beginShutdown() })),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("a service ended with an error: \(error)")
        }
        do {
            try database.close()
        } catch {
            logger.error("\(error)")
            return 1
        }
        logger.info("stopped cleanly")
        return 0
    }
}

/// The store the settings name: a shared PostgreSQL database when `store.url` is set, else the SQLite file
/// in the state directory.
func openStore(_ settings: Settings, notifier: SystemdNotifier, logger: Logger) throws -> any InsightStoring {
    let thresholds = settings.nearDuplicatesEnabled ? settings.nearDuplicateThresholds : nil
    if !settings.storeURL.isEmpty {
        return try notifier.extendingTimeout(status: "connecting to PostgreSQL", slowExpected: true) {
            try PostgresInsightStore(url: settings.storeURL, host: settings.storeHost.isEmpty ? hostName() : settings.storeHost,
                                     inbox: settings.inbox, nearDuplicates: thresholds, logger: Logger(label: "insightd.postgres"))
        }
    }
    // Opening may migrate a large database: keep systemd's start-up timeout from running out meanwhile.
    let existing = (try? lstatPath(settings.databasePath)).map { Int64($0.st_size) } ?? 0
    return try notifier.extendingTimeout(status: "opening the database", slowExpected: existing > 512 * 1024 * 1024) {
        try InsightDatabase(path: settings.databasePath, nearDuplicates: thresholds)
    }
}

/// This machine's name.
func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
