import Foundation
import InsightCore
import InsightStoreCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The store in a PostgreSQL database shared by many daemons.
///
/// Every daemon keeps its own files apart (each source row names its host and inbox) and shares the rest:
/// an insight is one row however many machines saw it, exact duplicates meet at a unique constraint,
/// near duplicates are found through LSH band rows, and links are fetched once, by whichever daemon claims them.
public final class PostgresInsightStore: InsightStoring {
    public var kind: String { "postgresql" }
    public var location: String { url.description }
    /// The machine this daemon runs on, recorded with each source.
    public let host: String
    /// Names this daemon's files in the shared tables: host and inbox.
    public let origin: String
    let url: PostgresURL
    let pool: PostgresConnectionPool
    let classifier: PairClassifier?
    let logger: Logger
    private let migrated = Atomic<Bool>(false)

    /// Connects and migrates. When the server cannot be reached yet, the store still opens: every call
    /// throws `StoreError.Code.unavailable` until it can, and the first that gets through migrates.
    ///
    /// - Parameters:
    ///   - url: a `postgres://` URL.
    ///   - host: this machine's name, recorded with each source.
    ///   - inbox: this daemon's inbox; with `host`, it keeps this daemon's files apart from other daemons'.
    ///   - nearDuplicates: the thresholds of near-duplicate detection, or nil to merge exact duplicates only.
    public init(url: String, host: String, inbox: String, nearDuplicates: NearDuplicateThresholds? = NearDuplicateThresholds(),
                logger: Logger = Logger(label: "insightd.postgres")) throws(StoreError) {
        let parsed = try PostgresURL(url)
        self.url = parsed
        self.host = host
        origin = host + ":" + inbox
        classifier = nearDuplicates.map { PairClassifier(thresholds: $0) }
        self.logger = logger
        pool = PostgresConnectionPool(url: parsed, tls: parsed.usesTLS ? try PostgresTLS(url: parsed) : nil, logger: logger)
        do {
            try session("migrate") { _ in }
        } catch where error.code == .unavailable {
            logger.warning("PostgreSQL is not reachable yet; insightd keeps retrying: \(error)")
        }
    }

    /// Runs `body` on a connection of a migrated database.
    @discardableResult
    func session<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws(StoreError) -> T {
        try pool.withSession(what) { session in
            if !migrated.load(ordering: .acquiring) {
                do {
                    try PostgresMigrations.migrate(session)
                } catch let error as PostgresMigrations.MigrationTooNew {
                    throw StoreError(.migrate, "cannot use the database at \(url)", underlying: error)
                }
                migrated.store(true, ordering: .releasing)
            }
            return try body(session)
        }
    }

    // MARK: Files

    public func recordProblem(path: String, state: SourceState, reason: String, size: Int64?, mtime: Double?, sha256: String?,
                              now: Double) throws(StoreError) {
        try session("cannot record the state of \(path)") { session in
            try session.query("""
                INSERT INTO source (origin, host, path, kind, size, mtime, sha256, state, error, first_seen_at, updated_at)
                VALUES (\(origin), \(host), \(path), 'file', \(size), \(mtime), \(sha256), \(state.rawValue), \(reason), \(now), \(now))
                ON CONFLICT (origin, path) DO UPDATE SET state = excluded.state, error = excluded.error,
                    size = COALESCE(excluded.size, source.size), mtime = COALESCE(excluded.mtime, source.mtime),
                    sha256 = COALESCE(excluded.sha256, source.sha256), updated_at = excluded.updated_at
                """)
        }
    }

    public func markRemoved(path: String, now: Double) throws(StoreError) {
        try session("cannot mark \(path) removed") { session in
            try session.query("""
                UPDATE source SET state = 'removed', updated_at = \(now) WHERE origin = \(origin) AND path = \(path) AND state <> 'removed'
                """)
        }
    }

    public func recordProblems(_ problems: [ProblemRecord], now: Double) throws(StoreError) {
        guard !problems.isEmpty else { return }
        try session("cannot record the state of \(problems.count) files") { session in
            try session.transaction {
                for problem in problems {
                    try session.query("""
                        INSERT INTO source (origin, host, path, kind, size, mtime, state, error, first_seen_at, updated_at)
                        VALUES (\(origin), \(host), \(problem.path), 'file', \(problem.size), \(problem.mtime), \(problem.state.rawValue),
                                \(problem.reason), \(now), \(now))
                        ON CONFLICT (origin, path) DO UPDATE SET state = excluded.state, error = excluded.error,
                            size = COALESCE(excluded.size, source.size), mtime = COALESCE(excluded.mtime, source.mtime),
                            updated_at = excluded.updated_at
                        """)
                }
            }
        }
    }

    public func markRemoved(paths: [String], now: Double) throws(StoreError) -> [String] {
        guard !paths.isEmpty else { return [] }
        return try session("cannot mark \(paths.count) files removed") { session in
            try session.query("""
                UPDATE source SET state = 'removed', updated_at = \(now)
                WHERE origin = \(origin) AND path = ANY(\(paths)::text[]) AND state <> 'removed' RETURNING path
                """).map { try $0.decode(String.self) }
        }
    }

    public func source(path: String) throws(StoreError) -> SourceRecord? {
        try session("cannot read the source \(path)") { session in
            try session.query("SELECT \(unescaped: Self.sourceColumns) FROM source WHERE origin = \(origin) AND path = \(path)")
                .first.map(Self.sourceRecord)
        }
    }

    public func activeSourcePaths() throws(StoreError) -> [String] {
        try session("cannot list sources") { session in
            try session.query("SELECT path FROM source WHERE origin = \(origin) AND state <> 'removed'").map { try $0.decode(String.self) }
        }
    }

    static let sourceColumns = """
        id, path, size, mtime, sha256, state, error, encoding, document_date, insight_count, first_seen_at, updated_at, ingested_at, kind, format
        """

    static func sourceRecord(_ row: PostgresRow) throws -> SourceRecord {
        let (id, path, size, mtime, sha256, state, error, encoding, date, count, firstSeen, updated, ingested, kind, format) = try row.decode(
            (Int64, String, Int64?, Double?, String?, String, String?, String?, String?, Int, Double, Double, Double?, String, String?).self)
        var record = SourceRecord(id: id, path: path, size: size, mtime: mtime, sha256: sha256, state: SourceState(rawValue: state) ?? .failed,
                                  error: error, encoding: encoding, documentDate: date, insightCount: count, firstSeenAt: firstSeen,
                                  updatedAt: updated, ingestedAt: ingested)
        record.kind = kind
        record.format = format
        return record
    }

    /// Counts for status, from the counters the triggers keep: a few rows per counter, however much is stored.
    public func counts() throws(StoreError) -> StoreCounts {
        try session("cannot count") { session in try keptCounts(in: session) }
    }

    /// The kept counts and the same counts taken by reading every row, in one snapshot.
    public func countsWithFullCount() throws(StoreError) -> (kept: StoreCounts, counted: StoreCounts) {
        try session("cannot count") { session in
            try session.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
                (try keptCounts(in: session), try fullCounts(in: session))
            }
        }
    }

    /// This daemon's file counters and the store-wide ones, each the sum of its shards.
    func keptCounts(in session: PostgresSession) throws -> StoreCounts {
        var counts = StoreCounts()
        for row in try session.query("SELECT key, sum(value)::int8 FROM stats WHERE origin IN ('', \(origin)) GROUP BY key") {
            let (key, value) = try row.decode((String, Int).self)
            counts.setCounter(key, to: value)
        }
        try addLatest(in: session, to: &counts)
        return counts
    }

    /// The counts the slow way: every row of every counted table.
    func fullCounts(in session: PostgresSession) throws -> StoreCounts {
        var counts = StoreCounts()
        for row in try session.query("SELECT state, COUNT(*) FROM source WHERE origin = \(origin) AND kind = 'file' GROUP BY state") {
            let (state, count) = try row.decode((String, Int).self)
            if let state = SourceState(rawValue: state) { counts.sourcesByState[state] = count }
        }
        for row in try session.query("SELECT state, COUNT(*) FROM link GROUP BY state") {
            let (state, count) = try row.decode((String, Int).self)
            if let state = LinkState(rawValue: state) { counts.linksByState[state] = count }
        }
        if let row = try session.query("""
            SELECT (SELECT COUNT(*) FROM insight), (SELECT COUNT(*) FROM occurrence), (SELECT COUNT(*) FROM variant),
                   (SELECT COUNT(*) FROM conflict), (SELECT COUNT(*) FROM embedding)
            """).first {
            let (insights, occurrences, variants, conflicts, embedded) = try row.decode((Int, Int, Int, Int, Int).self)
            counts.embeddedInsights = embedded
            counts.uniqueInsights = insights
            counts.occurrences = occurrences
            counts.variants = variants
            counts.conflicts = conflicts
        }
        try addLatest(in: session, to: &counts)
        return counts
    }

    /// The newest ingest and the newest failure of this daemon's files, each found through an index.
    func addLatest(in session: PostgresSession, to counts: inout StoreCounts) throws {
        counts.lastIngestAt = try session.query("""
            SELECT MAX(ingested_at) FROM source WHERE origin = \(origin) AND kind = 'file'
            """).first?.decode(Double?.self)
        if let row = try session.query("""
            SELECT path, error, updated_at FROM source WHERE origin = \(origin) AND state = 'failed' ORDER BY updated_at DESC LIMIT 1
            """).first {
            let (path, error, at) = try row.decode((String, String?, Double).self)
            counts.lastError = StatusReport.LastError(path: path, message: error ?? "", at: at)
        }
    }

    public func sizeBytes() -> Int64 {
        let size = try? session("cannot read the database size") { session in
            try session.query("SELECT pg_database_size(current_database())").first?.decode(Int64.self) ?? 0
        }
        return size ?? 0
    }

    public func close() throws(StoreError) {
        pool.shutdown()
    }
}
