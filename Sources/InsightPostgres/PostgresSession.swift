import Foundation
import InsightStoreCore
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One connection in use, with blocking calls: the store's callers run on their own threads, never on an event loop.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs one statement and collects its rows. A statement that gets no answer in `timeout` fails as a lost
    /// connection: a server that vanished mid-conversation must not hang the caller.
    @discardableResult
    func query(_ query: PostgresQuery, timeout: TimeAmount = .seconds(120)) throws -> PostgresQueryResult {
        guard !connection.isClosed else { throw ConnectionLost(reason: "the connection is closed") }
        return try bounded(connection.query(query, logger: logger), timeout: timeout)
    }

    /// Waits for `future` at most `timeout`; on timeout the connection is closed and the wait fails.
    private func bounded<T: Sendable>(_ future: EventLoopFuture<T>, timeout: TimeAmount) throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        future.cascade(to: promise)
        let connection = self.connection
        let timer = future.eventLoop.scheduleTask(in: timeout) {
            promise.fail(ConnectionLost(reason: "no answer from PostgreSQL within \(timeout.nanoseconds / 1_000_000_000) s"))
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
        }
        future.whenComplete { _ in timer.cancel() }
        return try promise.futureResult.wait()
    }

    /// Runs one statement without binds.
    func execute(_ sql: String) throws {
        _ = try query(PostgresQuery(unsafeSQL: sql))
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws. `begin` may name an
    /// isolation level (`BEGIN ISOLATION LEVEL REPEATABLE READ`).
    func transaction<T>(_ begin: String = "BEGIN", _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            // A dead connection takes its transaction with it; asking it to roll back would only wait. Any other failure
            // (a refused statement, a deadlock, a full disk) leaves the transaction aborted on a live connection.
            if PostgresFailure(error) != .connection, !connection.isClosed { _ = try? query("ROLLBACK", timeout: .seconds(10)) }
            throw error
        }
    }
}

/// A few connections to one PostgreSQL database, opened on demand and dropped when the server goes away.
///
/// Connections run on NIO's shared event loops (`MultiThreadedEventLoopGroup.singleton`, which the socket server uses
/// too). Calls block the calling thread, one the store's caller owns and never an event loop, until a loop answers.
final class PostgresConnectionPool: Sendable {
    let url: PostgresURL
    /// How connections are encrypted, or nil for none (`sslmode=disable`, or a Unix socket).
    let tls: PostgresTLS?
    let logger: Logger
    private let group: MultiThreadedEventLoopGroup = .singleton
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextID = Atomic<Int>(1)
    /// Bounds the connections one daemon holds.
    private let permits: Permits

    init(url: PostgresURL, tls: PostgresTLS?, maxConnections: Int = 6, logger: Logger) {
        self.url = url
        self.tls = tls
        self.logger = logger
        permits = Permits(maxConnections)
    }

    /// Runs `body` on a connection. Serialization failures and deadlocks rerun it (it must be safe to rerun);
    /// a lost or refused connection becomes `StoreError.Code.unavailable`.
    func withSession<T>(_ what: String, retries: Int = 6, _ body: (PostgresSession) throws -> T) throws(StoreError) -> T {
        permits.take()
        defer { permits.give() }
        var attempt = 0
        while true {
            attempt += 1
            let connection: PostgresConnection
            do {
                connection = try take()
            } catch let error as PostgresTLSError {
                throw StoreError(.unavailable, "cannot open a TLS connection to PostgreSQL at \(url) (insightd keeps retrying)", underlying: error)
            } catch {
                throw StoreError(.unavailable, "cannot reach PostgreSQL at \(url); check that the server runs and the URL is right (insightd keeps retrying)",
                                 underlying: PostgresProblem(error))
            }
            do {
                let value = try body(PostgresSession(connection: connection, logger: logger))
                give(connection)
                return value
            } catch let error as StoreError {
                give(connection)
                throw error
            } catch {
                switch PostgresFailure(error) {
                case .connection:
                    dropAll(including: connection)
                    throw StoreError(.unavailable, "lost the connection to PostgreSQL at \(url) (\(what)); insightd keeps retrying",
                                     underlying: PostgresProblem(error))
                case .retry where attempt <= retries:
                    give(connection)
                    // Another daemon holds what we need: back off a little, with jitter, and run the body again.
                    usleep(UInt32.random(in: 1_000...20_000) * UInt32(attempt))
                    continue
                case .transient:
                    give(connection)
                    throw StoreError(.unavailable, "PostgreSQL is busy (\(what)); retrying later", underlying: PostgresProblem(error))
                case .diskFull:
                    give(connection)
                    throw StoreError(.diskFull, "the disk of the PostgreSQL server at \(url) is full (\(what)); free space on the database server: "
                                     + "new files stay queued and ingestion resumes by itself", underlying: PostgresProblem(error))
                default:
                    give(connection)
                    throw StoreError(.write, what, underlying: PostgresProblem(error))
                }
            }
        }
    }

    private func take() throws -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        if let tls {
            return try tls.connect(on: group.next(), id: id, logger: logger).wait()
        }
        return try PostgresConnection.connect(on: group.next(), configuration: url.configuration, id: id, logger: logger).wait()
    }

    private func give(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        idle.withLock { $0.append(connection) }
    }

    /// The server went away: every idle connection is as dead as this one.
    private func dropAll(including connection: PostgresConnection) {
        let dropped = idle.withLock { list -> [PostgresConnection] in
            defer { list.removeAll() }
            return list
        }
        Self.close(dropped + [connection])
    }

    /// Closes connections without waiting for them.
    @discardableResult
    private static func close(_ connections: [PostgresConnection]) -> [EventLoopFuture<Void>] {
        connections.map { connection in
            // The closure keeps the connection alive until it is closed: one released while open is a bug.
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in withExtendedLifetime(connection) {} }
            return closing
        }
    }

    /// A connection must be closed before it goes away, so a pool nobody closed closes itself.
    deinit { shutdown() }

    /// Closes every idle connection (the shared event loops stay), and waits until they are closed, so the server
    /// sees a goodbye rather than a dropped socket, unless it runs on an event loop, where waiting would never end.
    func shutdown() {
        let closing = Self.close(idle.withLock { list -> [PostgresConnection] in
            defer { list.removeAll() }
            return list
        })
        guard !closing.isEmpty, MultiThreadedEventLoopGroup.currentEventLoop == nil else { return }
        try? EventLoopFuture.andAllComplete(closing, on: group.any()).wait()
    }
}

/// A counting semaphore on the condition variable the daemon's own threads wait on, so that a caller waiting for a
/// connection blocks as it would on any other shared resource of its service.
final class Permits: @unchecked Sendable {
    private let condition = NSCondition()
    private var available: Int

    init(_ count: Int) { available = count }

    /// Waits until a permit is free and takes it.
    func take() {
        condition.lock()
        defer { condition.unlock() }
        while available == 0 { condition.wait() }
        available -= 1
    }

    /// Returns a permit.
    func give() {
        condition.lock()
        defer { condition.unlock() }
        available += 1
        condition.signal()
    }
}

/// A connection found closed, or one that stopped answering (and was closed).
struct ConnectionLost: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}

/// How a PostgreSQL error should be handled.
enum PostgresFailure {
    /// The connection is gone or could not be made.
    case connection
    /// A deadlock, serialization failure or a row that vanished under a concurrent writer: run the transaction again.
    case retry
    /// The server is short of a resource for now.
    case transient
    /// The server's disk is full (`disk_full`); it takes writes again once space is freed.
    case diskFull
    /// A real error of the statement or its data.
    case other

    init(_ error: any Error) {
        guard let psql = error as? PSQLError else {
            // NIO connect and channel errors: refused, reset, timed out.
            self = error is ConnectionLost || error is ChannelError || error is IOError ? .connection : .other
            return
        }
        switch psql.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            self = .connection
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            if state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state) {
                self = .connection
            } else if ["40001", "40P01", "23503"].contains(state) {
                self = .retry
            } else if state == "53100" {
                self = .diskFull
            } else if state.hasPrefix("53") {
                self = .transient
            } else {
                self = .other
            }
        default:
            self = .other
        }
    }
}

/// A PostgreSQL error made readable: PostgresNIO hides details from `description` by design, but the server's
/// message and SQLSTATE are what a user needs to act.
struct PostgresProblem: Error, CustomStringConvertible {
    let description: String

    init(_ error: any Error) {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                description = "\(message) (SQLSTATE \(psql.serverInfo?[.sqlState] ?? "?"))"
            } else if let underlying = psql.underlying {
                description = "\(psql.code): \(underlying)"
            } else {
                description = "\(psql.code)"
            }
        } else {
            description = "\(error)"
        }
    }
}
