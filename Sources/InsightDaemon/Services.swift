import Foundation
import Logging
import ServiceLifecycle

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
        try? await gracefulShutdown()
        await server.stop()
    }
}
