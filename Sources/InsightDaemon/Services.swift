import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The watcher and the pipeline as one service: on graceful shutdown it stops taking new files and
/// finishes the file in hand.
struct IngestService: Service {
    let pipeline: IngestPipeline
    let watcher: InboxWatcher
    let notifier: SystemdNotifier
    let logger: Logger
    /// Runs first when shutdown begins (reloads end here, so no READY=1 follows STOPPING=1).
    var beforeStopping: @Sendable () -> Void = {}

    func run() async throws {
        pipeline.start()
        watcher.start()
        try? await gracefulShutdown()
        beforeStopping()
        logger.info("stopping: no new files are taken; finishing the file in hand")
        notifier.stopping()
        await watcher.stop()
        await pipeline.stop()
    }
}

/// The socket API as a service: on graceful shutdown it stops listening and removes the socket file.
struct APIService: Service {
    let server: SocketServer

    func run() async throws {
        // Streamed replies run as child tasks here; `stop()` ends them (they watch `stopping`) and the stream of jobs.
        async let streams: Void = server.runStreams()
        try? await gracefulShutdown()
        await server.stop()
        await streams
    }
}

/// Reloads the configuration on SIGHUP until shutdown begins. The reload (a file read) runs on a thread of the
/// service's own, not on the cooperative pool.
struct ReloadService: Service {
    let reloader: Reloader

    func run() async throws {
        let work = BlockingWork(threads: 1)
        work.start()
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            _ = try? await work.run { [reloader] in reloader.reload(trigger: "SIGHUP") }
        }
        await work.shutdown()
    }
}
