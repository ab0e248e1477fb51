import Foundation
import GRDB
import InsightCore
import InsightStoreCore
import Synchronization

/// One full-text search result.
public struct SearchHit: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    public var snippet: String
    public var score: Double
    public var createdAt: Double
}

/// The SQLite database of insights (WAL, foreign keys, versioned migrations).
///
/// Writes are serialized by GRDB's writer; each file is stored in one write transaction, whole or not at all.
public final class InsightDatabase: Sendable {
    /// The database file.
    public let path: String
    /// The open connections; none while the files are released to a broken file system (`releaseFiles(because:)`).
    private let connection: Mutex<Connection>
    /// The device and inode of the database file as opened: a write commits only while `path` still names it.
    let opened: FileIdentity?
    /// Near-duplicate detection, or nil when it is turned off.
    let nearDuplicates: NearDuplicateState?

    struct Connection {
        var pool: DatabasePool?
        /// Why the files are released, thrown to every caller until they are opened again.
        var released: StoreError?
        /// When opening them again was last tried (monotonic seconds).
        var lastReopen = 0.0
    }

    /// The connection pool. While the files are released, each access (at most once a second) opens them again
    /// when the same file is back at `path` on a file system that takes writes, and otherwise throws why not.
    var pool: DatabasePool {
        get throws(StoreError) {
            try connection.withLock { (connection: inout Connection) throws(StoreError) -> DatabasePool in
                if let pool = connection.pool { return pool }
                let released = connection.released ?? StoreError(.unwritable, "the database \(path) is closed")
                let now = monotonicSeconds()
                guard now - connection.lastReopen >= 1 else { throw released }
                connection.lastReopen = now
                guard let pool = reopen() else { throw released }
                connection.pool = pool
                connection.released = nil
                return pool
            }
        }
    }

    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "insightd"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL + NORMAL: a committed transaction survives a process crash; only power loss may drop the last ones.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return configuration
    }

    /// Makes the pool's one writer connection check, before every commit, that `path` still names the file opened.
    private static func guardCommits(of pool: DatabasePool, path: String, opened: FileIdentity) {
        pool.writeWithoutTransaction { db in
            db.add(transactionObserver: OpenFileGuard(path: path, opened: opened), extent: .databaseLifetime)
        }
    }

    /// Opens (creating if needed) and migrates the database at `path`, and loads the near-duplicate index.
    ///
    /// - Parameter nearDuplicates: the thresholds of near-duplicate detection, or nil to store exact duplicates only.
    public init(path: String, nearDuplicates thresholds: NearDuplicateThresholds? = NearDuplicateThresholds()) throws(StoreError) {
        self.path = path
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: Self.configuration())
        } catch {
            throw StoreError(.open, "cannot open the database at \(path); check that the state directory exists and is writable", underlying: error)
        }
        connection = Mutex(Connection(pool: pool))
        let opened = FileIdentity(path: path)
        self.opened = opened
        if let opened { Self.guardCommits(of: pool, path: path, opened: opened) }
        do {
            try Migrations.migrator.migrate(pool)
        } catch {
            throw StoreError(.migrate, "cannot migrate the database at \(path); it may be from a newer insightd", underlying: error)
        }
        if let thresholds {
            let expected = (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM insightSignature") }) ?? 0
            let state = NearDuplicateState(thresholds: thresholds, expectedCount: expected + 1024)
            do {
                try state.load(pool)
            } catch {
                throw StoreError(.open, "cannot load the near-duplicate index of \(path)", underlying: error)
            }
            nearDuplicates = state
        } else {
            nearDuplicates = nil
        }
    }

    /// Stores a parsed file in one transaction: its source row, its insights (new ones only) and its occurrences.
    ///
    /// Storing the same path with the same content again changes nothing. New content for a path replaces
    /// that path's occurrences; insights no longer seen anywhere are removed with them.
    public func ingest(_ file: FileIngest, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> IngestOutcome {
        do {
            return try pool.write { db in try ingest(file, in: db, now: now) }
        } catch {
            throw failedWrite(.write, "cannot store \(file.path)", error)
        }
    }

    /// The ingest transaction's body, for callers that already hold a write transaction.
    func ingest(_ file: FileIngest, in db: Database, now: Double) throws -> IngestOutcome {
        let existing = try SourceRecord.filter(Column("path") == file.path).fetchOne(db)
        if let existing, existing.state == .ingested, existing.sha256 == file.sha256 { return .unchanged }
        var previousInsights: [Int64] = []
        var previousVariants: [Int64] = []
        if let id = existing?.id {
            previousInsights = try Int64.fetchAll(db, sql: "SELECT DISTINCT insightId FROM occurrence WHERE sourceId = ?", arguments: [id])
            previousVariants = try Int64.fetchAll(db, sql: "SELECT DISTINCT variantId FROM occurrence WHERE sourceId = ? AND variantId IS NOT NULL",
                                                  arguments: [id])
            try db.execute(sql: "DELETE FROM occurrence WHERE sourceId = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM linkReference WHERE sourceId = ?", arguments: [id])
        }
        var record = existing ?? SourceRecord(
            id: nil, path: file.path, size: nil, mtime: nil, sha256: nil, state: .pending, error: nil, encoding: nil,
            documentDate: nil, insightCount: 0, firstSeenAt: now, updatedAt: now, ingestedAt: nil)
        record.kind = file.kind
        record.format = file.format
        record.size = file.size
        record.mtime = file.mtime
        record.sha256 = file.sha256
        record.state = .ingested
        record.error = nil
        record.encoding = file.encoding
        record.documentDate = file.documentDate
        record.insightCount = file.insights.count
        record.updatedAt = now
        record.ingestedAt = now
        try record.save(db)
        guard let sourceID = record.id else { throw StoreError(.write, "source row has no id after saving") }

        let findInsight = try db.cachedStatement(sql: "SELECT id FROM insight WHERE fingerprint = ?")
        let findVariant = try db.cachedStatement(sql: "SELECT insightId, id FROM variant WHERE fingerprint = ?")
        let insertInsight = try db.cachedStatement(sql: "INSERT INTO insight (fingerprint, text, createdAt) VALUES (?, ?, ?)")
        let insertSignature = try db.cachedStatement(sql: "INSERT INTO insightSignature (insightId, bandKeys) VALUES (?, ?)")
        let insertVariant = try db.cachedStatement(sql: "INSERT INTO variant (insightId, fingerprint, text, createdAt) VALUES (?, ?, ?, ?)")
        let insertConflict = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO conflict (insightId, otherId, kind, createdAt) VALUES (?, ?, ?, ?)")
        let insertOccurrence = try db.cachedStatement(sql: """
            INSERT INTO occurrence (insightId, sourceId, ordinal, line, section, variantId, note, location, addedAt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertTag = try db.cachedStatement(sql: "INSERT INTO occurrenceTag (occurrenceId, tag) VALUES (?, ?)")
        var newInsights = 0, newVariants = 0, newConflicts = 0
        let targets = file.variantTargets
        // The insight each ordinal went to, so a shorter passage can join the longer one it is part of.
        var resolved = [Int64?](repeating: nil, count: file.insights.count)
        for ordinal in FileIngest.placementOrder(targets) {
            let insight = file.insights[ordinal]
            let fingerprint = Data(insight.fingerprint)
            var insightID = try Int64.fetchOne(findInsight, arguments: [fingerprint])
            var variantID: Int64?
            if insightID == nil, let row = try Row.fetchOne(findVariant, arguments: [fingerprint]) {
                insightID = row[0]
                variantID = row[1]
            }
            if insightID == nil, let target = targets[ordinal], let longer = resolved[target] {
                // Part of a longer passage of the same file (an extended highlight): a wording of that insight.
                try insertVariant.execute(arguments: [longer, fingerprint, insight.text, now])
                insightID = longer
                variantID = db.lastInsertedRowID
                newVariants += 1
            }
            if insightID == nil {
                // Not seen word for word: the same claim in other words, or a new insight.
                switch try nearDuplicates?.place(insight.text, signature: insight.signature, in: db) {
                case .variant(let id):
                    try insertVariant.execute(arguments: [id, fingerprint, insight.text, now])
                    insightID = id
                    variantID = db.lastInsertedRowID
                    newVariants += 1
                case .new(let bandKeys, let conflicts):
                    try insertInsight.execute(arguments: [fingerprint, insight.text, now])
                    let id = db.lastInsertedRowID
                    insightID = id
                    newInsights += 1
                    try insertSignature.execute(arguments: [id, NearDuplicateState.encode(bandKeys)])
                    try nearDuplicates?.insert(id: id, bandKeys: bandKeys, in: db)
                    // The closest few are enough to show a reader the disagreement.
                    for conflict in conflicts.prefix(8) {
                        try insertConflict.execute(arguments: [min(id, conflict.id), max(id, conflict.id), conflict.kind.rawValue, now])
                    }
                    if !conflicts.isEmpty { newConflicts += 1 }
                case nil:
                    try insertInsight.execute(arguments: [fingerprint, insight.text, now])
                    insightID = db.lastInsertedRowID
                    newInsights += 1
                }
            }
            resolved[ordinal] = insightID
            try insertOccurrence.execute(arguments: [insightID, sourceID, ordinal, insight.line, insight.section, variantID,
                                                     insight.note, insight.location, insight.addedAt])
            let occurrenceID = db.lastInsertedRowID
            for tag in TagName.distinct(insight.tags) {
                try insertTag.execute(arguments: [occurrenceID, tag])
            }
        }
        if !previousInsights.isEmpty {
            // Insights and wordings no longer seen anywhere go with the content that held them.
            let orphans = try Row.fetchAll(db, sql: """
                SELECT i.id, s.bandKeys FROM insight i LEFT JOIN insightSignature s ON s.insightId = i.id
                WHERE i.id IN (SELECT value FROM json_each(?))
                AND NOT EXISTS (SELECT 1 FROM occurrence WHERE occurrence.insightId = i.id)
                """, arguments: [jsonArray(previousInsights)])
            if !orphans.isEmpty {
                try db.execute(sql: "DELETE FROM insight WHERE id IN (SELECT value FROM json_each(?))",
                               arguments: [jsonArray(orphans.map { $0[0] })])
                nearDuplicates?.removeAfterCommit(orphans.map { row in
                    (row[0], (row[1] as Data?).map(NearDuplicateState.decode) ?? [])
                }, in: db)
            }
        }
        if !previousVariants.isEmpty {
            try db.execute(sql: """
                DELETE FROM variant WHERE id IN (SELECT value FROM json_each(?))
                AND NOT EXISTS (SELECT 1 FROM occurrence WHERE occurrence.variantId = variant.id)
                """, arguments: [jsonArray(previousVariants)])
        }
        for link in file.links {
            let linkID = try Self.queueLink(link.url.string, given: link.original, in: db, now: now).id
            try db.execute(sql: "INSERT OR IGNORE INTO linkReference (linkId, sourceId, line) VALUES (?, ?, ?)",
                           arguments: [linkID, sourceID, link.line])
        }
        return .stored(newInsights: newInsights, occurrences: file.insights.count, variants: newVariants, conflicts: newConflicts)
    }

    /// Queues a link once: a canonical URL already known keeps its row and state.
    static func queueLink(_ canonical: String, given: String, in db: Database, now: Double) throws -> (id: Int64, created: Bool) {
        try db.execute(sql: """
            INSERT INTO link (canonicalURL, givenURL, state, attempts, createdAt, updatedAt)
            VALUES (?, ?, 'queued', 0, ?, ?) ON CONFLICT (canonicalURL) DO NOTHING
            """, arguments: [canonical, given, now, now])
        if db.changesCount == 1 { return (db.lastInsertedRowID, true) }
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM link WHERE canonicalURL = ?", arguments: [canonical]) else {
            throw StoreError(.write, "link vanished during the transaction")
        }
        return (id, false)
    }

    /// Stores several files in one write transaction, each in a savepoint of its own: every file is still
    /// stored whole or not at all, but the commit (and its WAL write) is shared.
    ///
    /// - Parameter shouldContinue: asked before each file; when it says no, the files stored so far are committed and
    ///   the rest are left out (the result is shorter than `files`).
    public func ingestBatch(_ files: [FileIngest], now: Double = Date().timeIntervalSince1970,
                            shouldContinue: () -> Bool = { true }) throws(StoreError) -> [Result<IngestOutcome, StoreError>] {
        try write("cannot store a batch of files") { db in
            var results: [Result<IngestOutcome, StoreError>] = []
            results.reserveCapacity(files.count)
            for file in files {
                guard shouldContinue() else { break }
                let mark = nearDuplicates?.mark() ?? 0
                do {
                    var outcome = IngestOutcome.unchanged
                    try db.inSavepoint {
                        outcome = try ingest(file, in: db, now: now)
                        return .commit
                    }
                    results.append(.success(outcome))
                } catch {
                    nearDuplicates?.undo(to: mark)
                    let failure = storeError(.write, "cannot store \(file.path)", error)
                    // A full disk or an unwritable state directory fails every file alike, and SQLite may have rolled
                    // back the whole transaction: the batch ends here, to be written again once the store takes writes.
                    if failure.isTransient { throw failure }
                    results.append(.failure(failure))
                }
            }
            return results
        }
    }

    /// Records that a file was skipped or failed, with the reason a user will read in `insightctl failed`.
    public func recordProblem(path: String, state: SourceState, reason: String, size: Int64? = nil, mtime: Double? = nil, sha256: String? = nil,
                              now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        do {
            try pool.write { db in
                try Self.saveProblem(db, path: path, state: state, reason: reason, size: size, mtime: mtime, sha256: sha256, now: now)
            }
        } catch {
            throw failedWrite(.write, "cannot record the state of \(path)", error)
        }
    }

    /// Records several skipped or failed files in one transaction.
    public func recordProblems(_ problems: [ProblemRecord], now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        guard !problems.isEmpty else { return }
        do {
            try pool.write { db in
                for problem in problems {
                    try Self.saveProblem(db, path: problem.path, state: problem.state, reason: problem.reason, size: problem.size,
                                         mtime: problem.mtime, sha256: nil, now: now)
                }
            }
        } catch {
            throw failedWrite(.write, "cannot record the state of \(problems.count) files", error)
        }
    }

    private static func saveProblem(_ db: Database, path: String, state: SourceState, reason: String, size: Int64?, mtime: Double?,
                                    sha256: String?, now: Double) throws {
        var record = try SourceRecord.filter(Column("path") == path).fetchOne(db) ?? SourceRecord(
            id: nil, path: path, size: nil, mtime: nil, sha256: nil, state: state, error: nil, encoding: nil,
            documentDate: nil, insightCount: 0, firstSeenAt: now, updatedAt: now, ingestedAt: nil)
        record.state = state
        record.error = reason
        record.size = size ?? record.size
        record.mtime = mtime ?? record.mtime
        record.sha256 = sha256 ?? record.sha256
        record.updatedAt = now
        try record.save(db)
    }

    /// Marks the sources of several deleted files removed in one transaction; returns the paths that changed.
    public func markRemoved(paths: [String], now: Double = Date().timeIntervalSince1970) throws(StoreError) -> [String] {
        guard !paths.isEmpty else { return [] }
        do {
            return try pool.write { db in
                var changed: [String] = []
                let statement = try db.cachedStatement(sql: "UPDATE source SET state = 'removed', updatedAt = ? WHERE path = ? AND state <> 'removed'")
                for path in paths {
                    try statement.execute(arguments: [now, path])
                    if db.changesCount > 0 { changed.append(path) }
                }
                return changed
            }
        } catch {
            throw failedWrite(.write, "cannot mark \(paths.count) files removed", error)
        }
    }

    /// Marks a deleted file's source as removed; its insights stay, with their history.
    public func markRemoved(path: String, now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        do {
            try pool.write { db in
                try db.execute(sql: "UPDATE source SET state = 'removed', updatedAt = ? WHERE path = ? AND state <> 'removed'",
                               arguments: [now, path])
            }
        } catch {
            throw failedWrite(.write, "cannot mark \(path) removed", error)
        }
    }

    /// The stored source for `path`, if any.
    public func source(path: String) throws(StoreError) -> SourceRecord? {
        try read { db in try SourceRecord.filter(Column("path") == path).fetchOne(db) }
    }

    /// Paths of sources whose files are believed present (every state but removed).
    public func activeSourcePaths() throws(StoreError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT path FROM source WHERE state <> 'removed'") }
    }

    /// Counts for status, from the counters the triggers keep (migration v5): a few rows, however much is stored.
    public func counts() throws(StoreError) -> StoreCounts {
        try read { db in try Self.keptCounts(in: db) }
    }

    /// The kept counts and the same counts taken by reading every row, in one snapshot.
    public func countsWithFullCount() throws(StoreError) -> (kept: StoreCounts, counted: StoreCounts) {
        try read { db in (try Self.keptCounts(in: db), try Self.fullCounts(in: db)) }
    }

    static func keptCounts(in db: Database) throws -> StoreCounts {
        var counts = StoreCounts()
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM stats") {
            counts.setCounter(row[0], to: row[1])
        }
        try addLatest(in: db, to: &counts)
        return counts
    }

    /// The counts the slow way: every row of every counted table.
    static func fullCounts(in db: Database) throws -> StoreCounts {
        var counts = StoreCounts()
        for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM source WHERE kind = 'file' GROUP BY state") {
            if let state = SourceState(rawValue: row[0]) { counts.sourcesByState[state] = row[1] }
        }
        for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM link GROUP BY state") {
            if let state = LinkState(rawValue: row[0]) { counts.linksByState[state] = row[1] }
        }
        counts.uniqueInsights = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM insight") ?? 0
        counts.occurrences = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM occurrence") ?? 0
        counts.variants = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM variant") ?? 0
        counts.conflicts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conflict") ?? 0
        counts.embeddedInsights = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM embedding") ?? 0
        try addLatest(in: db, to: &counts)
        return counts
    }

    /// The newest ingest and the newest failure, each found through an index.
    static func addLatest(in db: Database, to counts: inout StoreCounts) throws {
        counts.lastIngestAt = try Double.fetchOne(db, sql: "SELECT MAX(ingestedAt) FROM source WHERE kind = 'file'")
        if let row = try Row.fetchOne(db, sql: "SELECT path, error, updatedAt FROM source WHERE state = 'failed' ORDER BY updatedAt DESC LIMIT 1") {
            counts.lastError = StatusReport.LastError(path: row[0], message: row[1] ?? "", at: row[2])
        }
    }

    /// The size in bytes of the database and its write-ahead log.
    public func fileBytes() -> Int64 {
        [path, path + "-wal"].reduce(Int64(0)) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }

    /// A page of the export, in id order after `afterID`: each insight with every place it was seen.
    public func exportPage(afterID: Int64, limit: Int) throws(StoreError) -> [ExportRecord] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, text, createdAt FROM insight WHERE id > ? ORDER BY id LIMIT ?",
                                        arguments: [afterID, limit])
            guard let first = rows.first, let last = rows.last else { return [] }
            let firstID: Int64 = first[0], lastID: Int64 = last[0]
            var sources: [Int64: [SourceRef]] = [:]
            var variantSources: [Int64: [SourceRef]] = [:]
            for occurrence in try Self.occurrences(in: db, where: "o.insightId BETWEEN ? AND ?", arguments: [firstID, lastID]) {
                sources[occurrence.insightID, default: []].append(occurrence.ref)
                if let variant = occurrence.variantID { variantSources[variant, default: []].append(occurrence.ref) }
            }
            var variants: [Int64: [VariantRef]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, insightId, text FROM variant WHERE insightId BETWEEN ? AND ? ORDER BY id",
                                        arguments: [firstID, lastID]) {
                let id: Int64 = row[0]
                variants[row[1], default: []].append(VariantRef(text: row[2], sources: variantSources[id] ?? []))
            }
            var conflicts: [Int64: [Int64]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT insightId, otherId FROM conflict WHERE insightId BETWEEN ?1 AND ?2
                UNION SELECT otherId, insightId FROM conflict WHERE otherId BETWEEN ?1 AND ?2
                """, arguments: [firstID, lastID]) {
                conflicts[row[0], default: []].append(row[1])
            }
            return rows.map { row in
                let id: Int64 = row[0]
                return ExportRecord(id: id, text: row[1], createdAt: row[2], sources: sources[id] ?? [],
                                    variants: variants[id] ?? [], conflicts: (conflicts[id] ?? []).sorted())
            }
        }
    }

    /// Full-text search over insight text, best matches first.
    public func search(_ query: String, limit: Int) throws(StoreError) -> [SearchHit] {
        guard let match = Self.ftsQuery(query) else { return [] }
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.id, i.text, snippet(insight_fts, 0, '[', ']', '…', 16), bm25(insight_fts), i.createdAt
                FROM insight_fts JOIN insight i ON i.id = insight_fts.rowid
                WHERE insight_fts MATCH ? ORDER BY bm25(insight_fts) LIMIT ?
                """, arguments: [match, limit]).map { row in
                SearchHit(id: row[0], text: row[1], snippet: row[2], score: -(row[3] as Double), createdAt: row[4])
            }
        }
    }

    /// Turns what a user typed into an FTS5 query: every word must match, the last one as a prefix.
    /// Quoting each word keeps FTS5 syntax characters in user input from being read as operators.
    static func ftsQuery(_ text: String) -> String? {
        let words = Normalizer.searchWords(text)
        guard !words.isEmpty else { return nil }
        var terms = words.map { "\"\($0)\"" }
        // The last word as typed or as a prefix: a text holding the word itself matches both and ranks above one
        // that only holds a longer word ("17" above "173").
        let last = terms[terms.count - 1]
        terms[terms.count - 1] = "(\(last) OR \(last)*)"
        // FTS5 takes implicit AND between phrases only, not before a parenthesis.
        return terms.joined(separator: " AND ")
    }

    /// Runs `body` on a reader connection, mapping errors to `StoreError`.
    func read<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.read, "cannot read the database", underlying: error)
        }
    }

    /// Runs `PRAGMA integrity_check` and returns its verdict (`ok` when sound).
    public func integrityCheck() throws(StoreError) -> String {
        try read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    /// Checkpoints the write-ahead log (when the file system takes writes) and closes the database.
    public func close() throws(StoreError) {
        guard let pool = connection.withLock({ connection -> DatabasePool? in
            defer { connection.pool = nil }
            return connection.pool
        }) else { return }  // released: nothing is open
        do {
            do {
                _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            } catch where StorageCondition.classify(error, databasePath: path, opened: opened) != nil {
                // A read-only or vanished state directory: what was committed stays in the write-ahead log, which the
                // next open replays, so stopping is still clean.
            }
            try pool.close()
        } catch {
            throw StoreError(.write, "cannot close the database cleanly", underlying: error)
        }
    }

    /// Closes every file of the database (the database, its write-ahead log and shared memory) while its file system
    /// refuses writes, so that an operator can unmount, repair and mount it again without stopping insightd. Until the
    /// same file is back at `path` and writable, every call throws `reason`. Committed transactions stay in the
    /// write-ahead log, which the next open replays. Returns whether the files were open.
    @discardableResult
    func releaseFiles(because reason: StoreError) -> Bool {
        guard let pool = connection.withLock({ connection -> DatabasePool? in
            guard let pool = connection.pool else { return nil }
            connection.pool = nil
            connection.released = reason
            connection.lastReopen = monotonicSeconds()
            return pool
        }) else { return false }
        // Waits for reads in progress; a pool that cannot close now closes its connections when the last use ends.
        try? pool.close()
        return true
    }

    /// Whether the files are released (`releaseFiles(because:)`) and not opened again yet.
    var filesReleased: Bool { connection.withLock { $0.pool == nil && $0.released != nil } }

    /// How many times a failed write probed the state directory for EROFS; read by tests.
    let writeProbes = Atomic<Int>(0)

    /// A new pool on the file at `path` when it is the one that was opened and its folder takes writes; nil otherwise.
    /// Never creates a database: a missing file stays missing until an operator puts it back or restarts insightd.
    private func reopen() -> DatabasePool? {
        guard let opened, FileIdentity(path: path) == opened else { return nil }
        let directory = (path as NSString).deletingLastPathComponent
        guard !DiskState(directory).readOnly, !StorageCondition.refusesWrites(directory) else { return nil }
        do {
            let pool = try DatabasePool(path: path, configuration: Self.configuration())
            Self.guardCommits(of: pool, path: path, opened: opened)
            return pool
        } catch {
            return nil
        }
    }
}

private func jsonArray(_ ids: [Int64]) -> String {
    "[" + ids.map(String.init).joined(separator: ",") + "]"
}
