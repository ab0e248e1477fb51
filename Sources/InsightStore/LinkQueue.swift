import Foundation
import GRDB
import InsightCore
import InsightStoreCore

/// The durable fetch queue: links wait here across restarts, are claimed for fetching, and end fetched or failed.
extension InsightDatabase {
    /// Queues `url` (already canonical) as added by hand; returns the link and whether it is new.
    public func addLink(canonical: String, given: String, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> (LinkRecord, created: Bool) {
        try write("cannot queue \(canonical)") { db in
            let (id, created) = try Self.queueLink(canonical, given: given, in: db, now: now)
            guard let link = try LinkRecord.fetchOne(db, key: id) else { throw StoreError(.write, "link vanished") }
            return (link, created)
        }
    }

    /// Links left `fetching` by a crash go back to the queue, so nothing is lost or fetched twice at once.
    public func requeueInterruptedFetches(now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        try write("cannot requeue interrupted fetches") { db in
            try db.execute(sql: "UPDATE link SET state = 'queued', updatedAt = ? WHERE state = 'fetching'", arguments: [now])
        }
    }

    /// Marks up to `limit` due links as fetching and returns them, oldest due first.
    public func claimDueLinks(limit: Int, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> [LinkRecord] {
        try write("cannot claim links to fetch") { db in
            try LinkRecord.fetchAll(db, sql: """
                UPDATE link SET state = 'fetching', updatedAt = ?1
                WHERE id IN (
                    SELECT id FROM link
                    WHERE (state = 'queued' AND (nextAttemptAt IS NULL OR nextAttemptAt <= ?1))
                       OR (state = 'failed' AND failure = 'transient' AND nextAttemptAt <= ?1)
                    ORDER BY COALESCE(nextAttemptAt, 0), id LIMIT ?2)
                RETURNING *
                """, arguments: [now, limit])
        }
    }

    /// How many links are due at `now`: the rows `claimDueLinks` picks from, counted through the `link_due` index.
    public func dueLinkCount(now: Double = Date().timeIntervalSince1970) throws(StoreError) -> Int {
        try read { db in
            try Int.fetchOne(db, sql: """
                SELECT (SELECT COUNT(*) FROM link WHERE state = 'queued' AND (nextAttemptAt IS NULL OR nextAttemptAt <= ?1))
                     + (SELECT COUNT(*) FROM link WHERE state = 'failed' AND failure = 'transient' AND nextAttemptAt <= ?1)
                """, arguments: [now]) ?? 0
        }
    }

    /// When the next queued or transiently failed link falls due, or nil when none waits.
    public func nextLinkDueAt() throws(StoreError) -> Double? {
        try read { db in
            try Double.fetchOne(db, sql: """
                SELECT MIN(COALESCE(nextAttemptAt, 0)) FROM link
                WHERE state = 'queued' OR (state = 'failed' AND failure = 'transient')
                """)
        }
    }

    /// Records a successful fetch: the article's insights (a source of kind `url`) and the link's new state,
    /// in one transaction.
    public func completeFetch(linkID: Int64, content: FileIngest?, now: Double = Date().timeIntervalSince1970,
                              update: @Sendable (inout LinkRecord) -> Void) throws(StoreError) -> IngestOutcome? {
        try write("cannot store the fetched article") { db in
            guard var link = try LinkRecord.fetchOne(db, key: linkID) else { return nil }
            let outcome = try content.map { try ingest($0, in: db, now: now) }
            update(&link)
            link.state = .fetched
            link.failure = nil
            link.error = nil
            link.nextAttemptAt = nil
            link.fetchedAt = now
            link.updatedAt = now
            try link.update(db)
            return outcome
        }
    }

    /// Records a failed fetch: permanent, or transient with the time of the next attempt.
    public func failFetch(linkID: Int64, permanent: Bool, reason: String, nextAttemptAt: Double?,
                          now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        try write("cannot record a failed fetch") { db in
            try db.execute(sql: """
                UPDATE link SET state = 'failed', failure = ?, error = ?, nextAttemptAt = ?, attempts = attempts + 1, updatedAt = ?
                WHERE id = ?
                """, arguments: [permanent ? "permanent" : "transient", reason, permanent ? nil : nextAttemptAt, now, linkID])
        }
    }

    /// Puts a claimed link back in the queue, due at `nextAttemptAt` (nil: now), without counting an attempt.
    public func deferFetch(linkID: Int64, nextAttemptAt: Double?, now: Double = Date().timeIntervalSince1970) throws(StoreError) {
        try write("cannot put a link back in the fetch queue") { db in
            try db.execute(sql: "UPDATE link SET state = 'queued', nextAttemptAt = ?, updatedAt = ? WHERE id = ? AND state = 'fetching'",
                           arguments: [nextAttemptAt, now, linkID])
        }
    }

    /// Links, newest first; only failed ones when `failedOnly`.
    public func links(failedOnly: Bool, limit: Int) throws(StoreError) -> [LinkRecord] {
        try read { db in
            try LinkRecord.fetchAll(db, sql: """
                SELECT * FROM link \(failedOnly ? "WHERE state = 'failed'" : "") ORDER BY updatedAt DESC, id DESC LIMIT ?
                """, arguments: [limit])
        }
    }

    /// Puts failed links back in the queue (one, or all when `id` is nil); returns how many. A fetched link named by
    /// id is queued again too: it is fetched with a conditional GET, so an unchanged article costs a 304.
    public func retryLinks(id: Int64?, now: Double = Date().timeIntervalSince1970) throws(StoreError) -> Int {
        try write("cannot requeue links") { db in
            if let id {
                try db.execute(sql: """
                    UPDATE link SET state = 'queued', nextAttemptAt = NULL, attempts = 0, updatedAt = ? WHERE id = ? AND state IN ('failed', 'fetched')
                    """, arguments: [now, id])
            } else {
                try db.execute(sql: "UPDATE link SET state = 'queued', nextAttemptAt = NULL, attempts = 0, updatedAt = ? WHERE state = 'failed'",
                               arguments: [now])
            }
            return db.changesCount
        }
    }

    /// The files that linked a link, with lines.
    public func linkReferences(linkID: Int64) throws(StoreError) -> [(path: String, line: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.path, r.line FROM linkReference r JOIN source s ON s.id = r.sourceId WHERE r.linkId = ? ORDER BY s.path, r.line
                """, arguments: [linkID]).map { ($0[0], $0[1]) }
        }
    }

    /// Runs `body` in a write transaction, mapping errors to `StoreError`.
    func write<T>(_ what: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try pool.write(body)
        } catch {
            throw failedWrite(.write, what, error)
        }
    }
}
