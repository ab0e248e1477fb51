import InsightStoreCore
import NIOPosix

/// Threads for blocking work (SQLite and PostgreSQL calls, libxml2) that async code awaits, so Swift's
/// cooperative pool — two threads on a two-core machine, the same pool that delivers SIGTERM — never blocks.
///
/// Each service that needs one owns one: it starts the threads in `run()` and ends them when `run()` returns.
final class BlockingWork: Sendable {
    private let pool: NIOThreadPool

    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
    }

    func start() { pool.start() }

    /// Lets queued work finish and ends the threads.
    func shutdown() async { try? await pool.shutdownGracefully() }

    /// Runs `body` on one of the threads and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Runs a store call on one of the threads, keeping its typed error; a pool that is shutting down, or a
    /// cancelled wait, is reported as an interrupted write that is safe to repeat.
    func store<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        do {
            return try await pool.runIfActive { () throws -> T in try body() }
        } catch let error as StoreError {
            DaemonMetrics.shared.storeError(error)
            throw error
        } catch {
            throw StoreError(.unavailable, "the store call was not run: the daemon is stopping (\(error))")
        }
    }
}
