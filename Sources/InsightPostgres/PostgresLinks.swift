import Foundation
import InsightCore
import InsightStoreCore
import PostgresNIO

/// The fetch queue shared by every daemon: a link is claimed with `FOR UPDATE SKIP LOCKED`, so each is
/// fetched by one daemon at a time, and a claim names the daemon that made it.
extension PostgresInsightStore {
    static let linkColumns = """
        id, canonical_url, given_url, final_url, page_canonical_url, state, failure, error, attempts, next_attempt_at, etag, \
        last_modified, title, byline, published, site_name, language, created_at, updated_at, fetched_at
        """

    static func linkRecord(_ row: PostgresRow) throws -> LinkRecord {
        let columns = try row.decode((Int64, String, String, String?, String?, String, String?, String?, Int, Double?,
                                   String?, String?, String?, String?, String?, String?, String?, Double, Double, Double?).self)
        return LinkRecord(id: columns.0, canonicalURL: columns.1, givenURL: columns.2, finalURL: columns.3, pageCanonicalURL: columns.4,
                          state: LinkState(rawValue: columns.5) ?? .failed, failure: columns.6, error: columns.7, attempts: columns.8,
                          nextAttemptAt: columns.9, etag: columns.10, lastModified: columns.11, title: columns.12, byline: columns.13,
                          published: columns.14, siteName: columns.15, language: columns.16, createdAt: columns.17, updatedAt: columns.18,
                          fetchedAt: columns.19)
    }

    public func addLink(canonical: String, given: String, now: Double) throws(StoreError) -> (LinkRecord, created: Bool) {
        try session("cannot queue \(canonical)") { session in
            let created = try session.query("""
                INSERT INTO link (canonical_url, given_url, state, attempts, created_at, updated_at)
                VALUES (\(canonical), \(given), 'queued', 0, \(now), \(now)) ON CONFLICT (canonical_url) DO NOTHING RETURNING id
                """).first != nil
            guard let row = try session.query("SELECT \(unescaped: Self.linkColumns) FROM link WHERE canonical_url = \(canonical)").first else {
                throw StoreError(.write, "link vanished")
            }
            return (try Self.linkRecord(row), created)
        }
    }

    /// This daemon's own claims go back to the queue, and so do claims older than an hour (a daemon that died
    /// and never came back); other daemons' fresh claims are theirs to finish.
    public func requeueInterruptedFetches(now: Double) throws(StoreError) {
        try session("cannot requeue interrupted fetches") { session in
            try session.query("""
                UPDATE link SET state = 'queued', claimed_by = NULL, updated_at = \(now)
                WHERE state = 'fetching' AND (claimed_by = \(origin) OR claimed_by IS NULL OR updated_at < \(now - 3600))
                """)
        }
    }

    public func claimDueLinks(limit: Int, now: Double) throws(StoreError) -> [LinkRecord] {
        try session("cannot claim links to fetch") { session in
            try session.query("""
                UPDATE link SET state = 'fetching', claimed_by = \(origin), updated_at = \(now)
                WHERE id IN (
                    SELECT id FROM link
                    WHERE (state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= \(now)))
                       OR (state = 'failed' AND failure = 'transient' AND next_attempt_at <= \(now))
                    ORDER BY COALESCE(next_attempt_at, 0), id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.linkColumns)
                """).map(Self.linkRecord).sorted { ($0.nextAttemptAt ?? 0, $0.id ?? 0) < ($1.nextAttemptAt ?? 0, $1.id ?? 0) }
        }
    }

    public func dueLinkCount(now: Double) throws(StoreError) -> Int {
        try session("cannot read the fetch queue") { session in
            try session.query("""
                SELECT (SELECT COUNT(*) FROM link WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= \(now)))
                     + (SELECT COUNT(*) FROM link WHERE state = 'failed' AND failure = 'transient' AND next_attempt_at <= \(now))
                """).first?.decode(Int.self) ?? 0
        }
    }

    public func nextLinkDueAt() throws(StoreError) -> Double? {
        try session("cannot read the fetch queue") { session in
            try session.query("""
                SELECT MIN(COALESCE(next_attempt_at, 0)) FROM link WHERE state = 'queued' OR (state = 'failed' AND failure = 'transient')
                """).first?.decode(Double?.self)
        }
    }

    public func completeFetch(linkID: Int64, content: FileIngest?, now: Double, update: @Sendable (inout LinkRecord) -> Void) throws(StoreError)
        -> IngestOutcome? {
        try session("cannot store the fetched article") { session in
            try session.transaction { () -> IngestOutcome? in
                guard let row = try session.query("SELECT \(unescaped: Self.linkColumns) FROM link WHERE id = \(linkID) FOR UPDATE").first else {
                    return nil
                }
                var link = try Self.linkRecord(row)
                var outcome: IngestOutcome?
                if let content {
                    guard case .success(let stored) = try ingestChunk([content], in: session, now: now).first else {
                        throw StoreError(.write, "cannot store the article of \(link.canonicalURL)")
                    }
                    outcome = stored
                }
                update(&link)
                try session.query("""
                    UPDATE link SET state = 'fetched', failure = NULL, error = NULL, next_attempt_at = NULL, fetched_at = \(now),
                        updated_at = \(now), claimed_by = NULL, final_url = \(link.finalURL), page_canonical_url = \(link.pageCanonicalURL),
                        etag = \(link.etag), last_modified = \(link.lastModified), title = \(link.title), byline = \(link.byline),
                        published = \(link.published), site_name = \(link.siteName), language = \(link.language), attempts = \(link.attempts)
                    WHERE id = \(linkID)
                    """)
                return outcome
            }
        }
    }

    public func failFetch(linkID: Int64, permanent: Bool, reason: String, nextAttemptAt: Double?, now: Double) throws(StoreError) {
        try session("cannot record a failed fetch") { session in
            try session.query("""
                UPDATE link SET state = 'failed', failure = \(permanent ? "permanent" : "transient"), error = \(reason),
                    next_attempt_at = \(permanent ? nil : nextAttemptAt), attempts = attempts + 1, updated_at = \(now), claimed_by = NULL
                WHERE id = \(linkID)
                """)
        }
    }

    public func deferFetch(linkID: Int64, nextAttemptAt: Double?, now: Double) throws(StoreError) {
        try session("cannot put a link back in the fetch queue") { session in
            try session.query("""
                UPDATE link SET state = 'queued', next_attempt_at = \(nextAttemptAt), updated_at = \(now), claimed_by = NULL
                WHERE id = \(linkID) AND state = 'fetching'
                """)
        }
    }

    public func links(failedOnly: Bool, limit: Int) throws(StoreError) -> [LinkRecord] {
        try session("cannot list links") { session in
            try session.query("""
                SELECT \(unescaped: Self.linkColumns) FROM link WHERE (NOT \(failedOnly) OR state = 'failed')
                ORDER BY updated_at DESC, id DESC LIMIT \(limit)
                """).map(Self.linkRecord)
        }
    }

    public func retryLinks(id: Int64?, now: Double) throws(StoreError) -> Int {
        try session("cannot requeue links") { session in
            let result: PostgresQueryResult
            if let id {
                result = try session.query("""
                    UPDATE link SET state = 'queued', next_attempt_at = NULL, attempts = 0, updated_at = \(now)
                    WHERE id = \(id) AND state IN ('failed', 'fetched') RETURNING id
                    """)
            } else {
                result = try session.query("""
                    UPDATE link SET state = 'queued', next_attempt_at = NULL, attempts = 0, updated_at = \(now) WHERE state = 'failed' RETURNING id
                    """)
            }
            return result.rows.count
        }
    }

    public func linkReferences(linkID: Int64) throws(StoreError) -> [(path: String, line: Int)] {
        try session("cannot read link references") { session in
            try session.query("""
                SELECT s.path, r.line FROM link_reference r JOIN source s ON s.id = r.source_id WHERE r.link_id = \(linkID) ORDER BY s.path, r.line
                """).map { row in
                let (path, line) = try row.decode((String, Int).self)
                return (path: path, line: line)
            }
        }
    }
}
