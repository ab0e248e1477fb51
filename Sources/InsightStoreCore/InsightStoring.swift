import Foundation
import InsightCore

// The store behind insightd, split by role: the embedded SQLite database (InsightStore) or a PostgreSQL database
// shared by many daemons (InsightPostgres) plays every role; each daemon service asks for the narrowest one it uses.
//
// Every method blocks the calling thread until the database answers, so callers keep it off the cooperative
// pool's hot paths, as they would any file I/O. Paths are relative to the calling daemon's inbox; a shared
// store keeps each daemon's files apart by host and inbox and shares insights, variants, conflicts and links.

/// What every role of a store tells about it: which kind of database it is and where the data lives.
public protocol StoreDescribing: AnyObject, Sendable {
    /// `sqlite` or `postgresql`.
    var kind: String { get }
    /// Where the data lives: a file path, or a database URL without its password.
    var location: String { get }
}

/// The ingest side of a store: what the inbox watcher and the ingest pipeline write and look up about this
/// daemon's files.
public protocol IngestStoring: StoreDescribing {
    /// Stores several files, each whole or not at all; see `InsightDatabase.ingestBatch`.
    ///
    /// Throws `StoreError.Code.unavailable` when the database cannot be reached: nothing of the batch is known to
    /// be stored, and storing it again later is safe (an unchanged file is recognized and not counted twice).
    func ingestBatch(_ files: [FileIngest], now: Double, shouldContinue: () -> Bool) throws(StoreError) -> [Result<IngestOutcome, StoreError>]
    /// Records that a file was skipped or failed, with the reason a user will read in `insightctl failed`.
    func recordProblem(path: String, state: SourceState, reason: String, size: Int64?, mtime: Double?, sha256: String?,
                       now: Double) throws(StoreError)
    /// Records several skipped or failed files in one transaction (a flood of empty or binary files is one write,
    /// not thousands).
    func recordProblems(_ problems: [ProblemRecord], now: Double) throws(StoreError)
    /// Marks a deleted file's source as removed; its insights stay, with their history.
    func markRemoved(path: String, now: Double) throws(StoreError)
    /// Marks the sources of several deleted files removed in one transaction; returns the paths whose sources
    /// changed (paths never recorded, or already removed, are left out).
    func markRemoved(paths: [String], now: Double) throws(StoreError) -> [String]
    /// This daemon's stored source for `path`, if any.
    func source(path: String) throws(StoreError) -> SourceRecord?
    /// This daemon's sources whose files are believed present (every state but removed).
    func activeSourcePaths() throws(StoreError) -> [String]
}

/// The read model: what status, the heartbeat and the socket API read, and `forget`, the one deliberate deletion
/// a reader asks for.
public protocol InsightReading: StoreDescribing {
    /// Counts for status: this daemon's files, everything else store-wide. Read from counters that triggers keep
    /// in the transaction of every write, so it costs the same however much is stored.
    func counts() throws(StoreError) -> StoreCounts
    /// The kept counts (as `counts()`) and the same counts taken the slow way, by reading every row, both from one
    /// snapshot: they differ only if a counter has drifted. `insightctl status --verify` compares them.
    func countsWithFullCount() throws(StoreError) -> (kept: StoreCounts, counted: StoreCounts)
    /// The size of the stored data in bytes.
    func sizeBytes() -> Int64

    /// Full-text search, best first, optionally only insights with an occurrence tagged `tag`; without words and
    /// with a tag, that tag's insights newest first. See `InsightDatabase.search`.
    func search(_ query: String, limit: Int, since: Double?, source: String?, tag: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?)
    /// Every tag with how many insights and occurrences carry it, most insights first, then by name.
    func tags() throws(StoreError) -> [TagCount]
    /// The newest insights first.
    func recent(limit: Int, since: Double?) throws(StoreError) -> [InsightSummary]
    /// One insight with its sources, variants and conflicts.
    func insight(id: Int64) throws(StoreError) -> InsightDetail?
    /// Conflicting pairs, newest first.
    func conflictPairs(limit: Int) throws(StoreError) -> [ConflictPair]
    /// This daemon's sources in the given states (all when empty), by path.
    func sources(states: [SourceState]) throws(StoreError) -> [SourceInfo]
    /// A page of the export in id order after `afterID`.
    func exportPage(afterID: Int64, limit: Int, since: Double?) throws(StoreError) -> [ExportRecord]
    /// Removes an insight with its occurrences, variants and conflicts; nil when there is no such insight.
    func forget(id: Int64) throws(StoreError) -> Int?
}

/// The queue of linked articles: what the link fetcher claims and settles, and what the socket API lists and
/// queues by hand.
public protocol LinkQueueing: StoreDescribing {
    /// Queues a link by hand; returns it and whether it is new.
    func addLink(canonical: String, given: String, now: Double) throws(StoreError) -> (LinkRecord, created: Bool)
    /// Links this daemon left `fetching` when it stopped go back to the queue.
    func requeueInterruptedFetches(now: Double) throws(StoreError)
    /// Claims up to `limit` due links for this daemon, oldest due first.
    func claimDueLinks(limit: Int, now: Double) throws(StoreError) -> [LinkRecord]
    /// When the next waiting link falls due, or nil when none waits.
    func nextLinkDueAt() throws(StoreError) -> Double?
    /// How many links `claimDueLinks` would claim at `now` without a limit: queued and due, or failed transiently
    /// with their retry time passed. Counted through the `(state, next attempt)` index.
    func dueLinkCount(now: Double) throws(StoreError) -> Int
    /// Records a successful fetch and stores the article, in one transaction.
    func completeFetch(linkID: Int64, content: FileIngest?, now: Double, update: @Sendable (inout LinkRecord) -> Void) throws(StoreError)
        -> IngestOutcome?
    /// Records a failed fetch: permanent, or transient with the time of the next attempt.
    func failFetch(linkID: Int64, permanent: Bool, reason: String, nextAttemptAt: Double?, now: Double) throws(StoreError)
    /// Puts a claimed link back in the queue, due at `nextAttemptAt` (nil: now), without counting an attempt: no
    /// request was sent (its host asked for a pause) or the fetch was cut short by a shutdown.
    func deferFetch(linkID: Int64, nextAttemptAt: Double?, now: Double) throws(StoreError)
    /// Links, newest first; only failed ones when `failedOnly`.
    func links(failedOnly: Bool, limit: Int) throws(StoreError) -> [LinkRecord]
    /// Puts failed links (or the one named) back in the queue; returns how many.
    func retryLinks(id: Int64?, now: Double) throws(StoreError) -> Int
    /// The files that linked a link, with lines.
    func linkReferences(linkID: Int64) throws(StoreError) -> [(path: String, line: Int)]
}

/// The whole store: every role, and closing it. What the daemon opens and hands out by role, and what callers
/// that need everything (the socket API, status) keep.
public protocol InsightStoring: IngestStoring, InsightReading, LinkQueueing, EmbeddingStoring {
    /// Releases the store; the SQLite store checkpoints its log.
    func close() throws(StoreError)
}

extension IngestStoring {
    /// Stores a batch now.
    public func ingestBatch(_ files: [FileIngest]) throws(StoreError) -> [Result<IngestOutcome, StoreError>] {
        try ingestBatch(files, now: Date().timeIntervalSince1970, shouldContinue: { true })
    }

    /// Stores a batch now, asking `shouldContinue` before each file.
    public func ingestBatch(_ files: [FileIngest], shouldContinue: () -> Bool) throws(StoreError) -> [Result<IngestOutcome, StoreError>] {
        try ingestBatch(files, now: Date().timeIntervalSince1970, shouldContinue: shouldContinue)
    }

    /// Stores one file now.
    public func ingestOne(_ file: FileIngest, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> IngestOutcome {
        guard let result = try ingestBatch([file], now: now, shouldContinue: { true }).first else {
            throw StoreError(.write, "the batch was stopped before \(file.path)")
        }
        return try result.get()
    }

    public func recordProblem(path: String, state: SourceState, reason: String, size: Int64? = nil, mtime: Double? = nil,
                              sha256: String? = nil) throws(StoreError) {
        try recordProblem(path: path, state: state, reason: reason, size: size, mtime: mtime, sha256: sha256, now: Date().timeIntervalSince1970)
    }

    public func markRemoved(path: String) throws(StoreError) { try markRemoved(path: path, now: Date().timeIntervalSince1970) }
}

extension InsightReading {
    /// The counts status shows, taken by reading every row, as they were before counters were kept.
    public func countedInFull() throws(StoreError) -> StoreCounts {
        try countsWithFullCount().counted
    }

    public func search(_ query: String, limit: Int) throws(StoreError) -> (results: [SearchResult], rankedAmongNewest: Int?) {
        try search(query, limit: limit, since: nil, source: nil, tag: nil)
    }

    /// Full-text search without a tag filter.
    public func search(_ query: String, limit: Int, since: Double?, source: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?) {
        try search(query, limit: limit, since: since, source: source, tag: nil)
    }
}

extension LinkQueueing {
    public func addLink(canonical: String, given: String) throws(StoreError) -> (LinkRecord, created: Bool) {
        try addLink(canonical: canonical, given: given, now: Date().timeIntervalSince1970)
    }

    public func requeueInterruptedFetches() throws(StoreError) { try requeueInterruptedFetches(now: Date().timeIntervalSince1970) }
    public func claimDueLinks(limit: Int) throws(StoreError) -> [LinkRecord] { try claimDueLinks(limit: limit, now: Date().timeIntervalSince1970) }
    public func dueLinkCount() throws(StoreError) -> Int { try dueLinkCount(now: Date().timeIntervalSince1970) }

    public func completeFetch(linkID: Int64, content: FileIngest?, update: @Sendable (inout LinkRecord) -> Void) throws(StoreError) -> IngestOutcome? {
        try completeFetch(linkID: linkID, content: content, now: Date().timeIntervalSince1970, update: update)
    }

    public func failFetch(linkID: Int64, permanent: Bool, reason: String, nextAttemptAt: Double?) throws(StoreError) {
        try failFetch(linkID: linkID, permanent: permanent, reason: reason, nextAttemptAt: nextAttemptAt, now: Date().timeIntervalSince1970)
    }

    public func deferFetch(linkID: Int64, nextAttemptAt: Double?) throws(StoreError) {
        try deferFetch(linkID: linkID, nextAttemptAt: nextAttemptAt, now: Date().timeIntervalSince1970)
    }

    public func retryLinks(id: Int64?) throws(StoreError) -> Int { try retryLinks(id: id, now: Date().timeIntervalSince1970) }
}
