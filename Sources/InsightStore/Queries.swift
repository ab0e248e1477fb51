import Foundation
import GRDB
import InsightCore

/// The read queries behind insightctl, and `forget`, the one deliberate deletion.
extension InsightDatabase {
    /// Full-text search, best matches first, optionally only insights stored since `since` (seconds since
    /// the epoch) and only those seen in a source whose path contains `source`.
    public func search(_ query: String, limit: Int, since: Double? = nil, source: String? = nil) throws(StoreError) -> [SearchResult] {
        guard let match = Self.ftsQuery(query) else { return [] }
        var sql = """
            SELECT i.id, i.text, snippet(insight_fts, 0, '[', ']', '…', 16), bm25(insight_fts), i.createdAt
            FROM insight_fts JOIN insight i ON i.id = insight_fts.rowid
            WHERE insight_fts MATCH ?
            """
        var arguments: StatementArguments = [match]
        if let since {
            sql += " AND i.createdAt >= ?"
            arguments += [since]
        }
        if let source, !source.isEmpty {
            sql += " AND EXISTS (SELECT 1 FROM occurrence o JOIN source s ON s.id = o.sourceId WHERE o.insightId = i.id AND instr(s.path, ?) > 0)"
            arguments += [source]
        }
        sql += " ORDER BY bm25(insight_fts) LIMIT ?"
        arguments += [limit]
        let finalSQL = sql, finalArguments = arguments
        return try read { db in
            try Row.fetchAll(db, sql: finalSQL, arguments: finalArguments).map { row in
                SearchResult(id: row[0], text: row[1], snippet: row[2], score: -(row[3] as Double), createdAt: row[4])
            }
        }
    }

    /// The newest insights first, optionally only those stored since `since`.
    public func recent(limit: Int, since: Double? = nil) throws(StoreError) -> [InsightSummary] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.id, i.text, i.createdAt, (SELECT COUNT(*) FROM occurrence o WHERE o.insightId = i.id)
                FROM insight i WHERE i.createdAt >= ? ORDER BY i.createdAt DESC, i.id DESC LIMIT ?
                """, arguments: [since ?? 0, limit]).map { row in
                InsightSummary(id: row[0], text: row[1], createdAt: row[2], occurrences: row[3])
            }
        }
    }

    /// One insight with every place it was seen, or nil when there is no insight with that id.
    public func insight(id: Int64) throws(StoreError) -> InsightDetail? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, text, createdAt FROM insight WHERE id = ?", arguments: [id]) else {
                return nil
            }
            let sources = try Row.fetchAll(db, sql: """
                SELECT s.path, o.line, o.section, s.documentDate
                FROM occurrence o JOIN source s ON s.id = o.sourceId
                WHERE o.insightId = ? ORDER BY s.path, o.line
                """, arguments: [id]).map { SourceRef(path: $0[0], line: $0[1], section: $0[2], date: $0[3]) }
            return InsightDetail(id: row[0], text: row[1], createdAt: row[2], sources: sources)
        }
    }

    /// Sources in the given states (all when empty), by path.
    public func sources(states: [SourceState] = []) throws(StoreError) -> [SourceInfo] {
        try read { db in
            var request = SourceRecord.order(Column("path"))
            if !states.isEmpty { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
            return try request.fetchAll(db).map { record in
                SourceInfo(path: record.path, state: record.state.rawValue, reason: record.error, size: record.size,
                           insights: record.insightCount, documentDate: record.documentDate,
                           updatedAt: record.updatedAt, ingestedAt: record.ingestedAt)
            }
        }
    }

    /// A page of the export in id order after `afterID`, only insights stored since `since`.
    public func exportPage(afterID: Int64, limit: Int, since: Double?) throws(StoreError) -> [ExportRecord] {
        guard let since else { return try exportPage(afterID: afterID, limit: limit) }
        return try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT id, text, createdAt FROM insight WHERE id > ? AND createdAt >= ? ORDER BY id LIMIT ?",
                                        arguments: [afterID, since, limit])
            guard let first = rows.first, let last = rows.last else { return [] }
            let firstID: Int64 = first[0], lastID: Int64 = last[0]
            var sources: [Int64: [SourceRef]] = [:]
            let refs = try Row.fetchCursor(db, sql: """
                SELECT o.insightId, s.path, o.line, o.section, s.documentDate
                FROM occurrence o JOIN source s ON s.id = o.sourceId
                WHERE o.insightId BETWEEN ? AND ?
                ORDER BY o.insightId, s.path, o.line
                """, arguments: [firstID, lastID])
            while let row = try refs.next() {
                sources[row[0], default: []].append(SourceRef(path: row[1], line: row[2], section: row[3], date: row[4]))
            }
            return rows.map { row in
                let id: Int64 = row[0]
                return ExportRecord(id: id, text: row[1], createdAt: row[2], sources: sources[id] ?? [])
            }
        }
    }

    /// Removes an insight and its occurrences in one transaction; the full-text index follows through its
    /// triggers. Each source's insight count drops by the occurrences it lost. Returns how many occurrences
    /// went, or nil when there is no insight with that id.
    ///
    /// The source files stay as they are: an unchanged file is not stored again, so the insight stays
    /// forgotten until the file's content changes.
    public func forget(id: Int64) throws(StoreError) -> Int? {
        do {
            return try pool.write { db -> Int? in
                guard try Int64.fetchOne(db, sql: "SELECT id FROM insight WHERE id = ?", arguments: [id]) != nil else { return nil }
                let perSource = try Row.fetchAll(db, sql: "SELECT sourceId, COUNT(*) FROM occurrence WHERE insightId = ? GROUP BY sourceId",
                                                 arguments: [id])
                var removed = 0
                for row in perSource {
                    let sourceID: Int64 = row[0], count: Int = row[1]
                    removed += count
                    try db.execute(sql: "UPDATE source SET insightCount = max(0, insightCount - ?) WHERE id = ?", arguments: [count, sourceID])
                }
                try db.execute(sql: "DELETE FROM occurrence WHERE insightId = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM insight WHERE id = ?", arguments: [id])
                return removed
            }
        } catch {
            throw StoreError(.write, "cannot forget insight \(id)", underlying: error)
        }
    }
}
