import Foundation
import GRDB
import InsightCore
import InsightStoreCore

/// The read queries behind insightctl, and `forget`, the one deliberate deletion.
extension InsightDatabase {
    /// The passage of `text` a search for `query` shows, matches between `[` and `]`.
    public static func snippet(_ text: String, query: String) -> String { Snippet.make(text, query: query) }

    /// How many of the newest matches a query that matches more is ranked among (see `search`).
    public static let rankingWindow = 5_000

    /// Full-text search, best matches first, optionally only insights stored since `since` (seconds since
    /// the epoch), only those seen in a source whose path contains `source`, and only those with an occurrence
    /// tagged `tag` (compared lower-case, a leading `#` ignored). An insight is also found by the words of another
    /// wording folded into it (a variant: a typo, a merged paraphrase); its snippet then shows that wording. Returns
    /// the results and, when the query
    /// matched more than `rankingWindow` insights and no filter was given, the size of the window of newest
    /// matches they were ranked among. A query without words and with a tag lists that tag's insights, newest first.
    ///
    /// Ranking reads each match's length, so a word found in most insights would cost a lookup per insight;
    /// such a word also carries almost no weight in BM25. Ranking among the newest matches keeps those
    /// queries fast and leaves every query with fewer matches exact.
    ///
    /// Two steps: rank matches by BM25 keeping only ids, then fetch text and build snippets for the few that
    /// are returned. SQLite evaluates result columns before it sorts, so asking for `snippet()` in the ranking
    /// query would compute it for every match; and FTS5 does not narrow a MATCH by rowid, so a second MATCH
    /// for the snippets would walk the whole doclist again. `Snippet` marks the words in Swift instead.
    public func search(_ query: String, limit: Int, since: Double? = nil, source: String? = nil, tag: String? = nil,
                       rankingWindow: Int = rankingWindow) throws(StoreError) -> (results: [SearchResult], rankedAmongNewest: Int?) {
        let tag = tag.flatMap(TagName.normalize)
        guard let match = Self.ftsQuery(query) else {
            guard let tag else { return ([], nil) }
            return (try tagged(tag, limit: limit, since: since, source: source), nil)
        }
        let filtered = since != nil || !(source ?? "").isEmpty || tag != nil
        return try read { db in
            // The insights' own texts, then the other wordings folded into them; an insight found both ways keeps
            // its better score and shows its own text.
            let own = try Self.rankMatches(in: "insight_fts", insightID: "f.rowid", match: match, limit: limit, since: since,
                                           source: source, tag: tag, window: filtered ? nil : rankingWindow, db: db)
            let other = try Self.rankMatches(in: "variant_fts", insightID: "v.insightId", match: match, limit: limit, since: since,
                                             source: source, tag: tag, window: filtered ? nil : rankingWindow, db: db)
            var best: [Int64: (score: Double, wording: String?)] = [:]
            for hit in own.hits { best[hit.id] = (hit.score, nil) }
            for hit in other.hits {
                if let found = best[hit.id] {
                    if hit.score > found.score { best[hit.id] = (hit.score, found.wording) }
                } else {
                    best[hit.id] = (hit.score, hit.wording)
                }
            }
            let window = own.window ?? other.window
            let ranked = best.sorted { $0.value.score != $1.value.score ? $0.value.score > $1.value.score : $0.key > $1.key }.prefix(limit)
            guard !ranked.isEmpty else { return ([], window) }
            var details: [Int64: (text: String, createdAt: Double)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, text, createdAt FROM insight WHERE id IN (SELECT value FROM json_each(?))",
                                        arguments: ["[" + ranked.map { String($0.key) }.joined(separator: ",") + "]"]) {
                details[row[0]] = (row[1], row[2])
            }
            let tags = try Self.tags(of: ranked.map(\.key), in: db)
            let results = ranked.compactMap { id, hit in
                details[id].map {
                    // Found by another wording only: the snippet shows that wording, with its matches marked.
                    SearchResult(id: id, text: $0.text, snippet: Snippet.make(hit.wording ?? $0.text, query: query), score: hit.score,
                                 createdAt: $0.createdAt, tags: tags[id] ?? [])
                }
            }
            return (results, window)
        }
    }

    /// The best `limit` matches of `match` in the full-text table `table` (`insight_fts`, or `variant_fts` joined to
    /// its variants as `v`), each with its insight's id and its score (higher is better), and for variants the
    /// wording; with a `window`, ranked among that many newest matches when there are more (see `search`).
    private static func rankMatches(in table: String, insightID: String, match: String, limit: Int, since: Double?, source: String?,
                                    tag: String?, window: Int?, db: Database) throws -> (hits: [(id: Int64, score: Double, wording: String?)], window: Int?) {
        let variants = table == "variant_fts"
        var sql = variants
            ? "SELECT v.insightId AS insightId, bm25(variant_fts) AS score, v.text AS text FROM variant_fts f JOIN variant v ON v.id = f.rowid"
            : "SELECT f.rowid, bm25(insight_fts), NULL FROM insight_fts f"
        var arguments: StatementArguments = [match]
        var filters = ""
        if let since {
            sql += " JOIN insight i ON i.id = \(insightID)"
            filters += " AND i.createdAt >= ?"
            arguments += [since]
        }
        if let source, !source.isEmpty {
            filters += " AND EXISTS (SELECT 1 FROM occurrence o JOIN source s ON s.id = o.sourceId WHERE o.insightId = \(insightID) AND instr(s.path, ?) > 0)"
            arguments += [source]
        }
        if let tag {
            filters += " AND \(insightID) IN (SELECT o.insightId FROM occurrenceTag t JOIN occurrence o ON o.id = t.occurrenceId WHERE t.tag = ?)"
            arguments += [tag]
        }
        sql += " WHERE \(table) MATCH ?" + filters
        var ranked: Int?
        if let window, let floor = try Int64.fetchOne(db, sql: """
            SELECT rowid FROM \(table) WHERE \(table) MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?
            """, arguments: [match, window - 1]) {
            // FTS5 walks a doclist in rowid order without ranking: cheap even for a common word.
            sql += " AND f.rowid >= ?"
            arguments += [floor]
            ranked = window
        }
        if variants {
            // An insight may have several matching wordings: its best one counts, once. Materialized, because bm25()
            // cannot run inside the aggregate a flattened subquery would become.
            sql = "WITH m AS MATERIALIZED (\(sql)) SELECT insightId, min(score), text FROM m GROUP BY insightId ORDER BY 2 LIMIT ?"
        } else {
            sql += " ORDER BY bm25(\(table)) LIMIT ?"
        }
        arguments += [limit]
        let hits = try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            (id: row[0] as Int64, score: -(row[1] as Double), wording: row[2] as String?)
        }
        return (hits, ranked)
    }

    /// The insights with an occurrence tagged `tag`, newest first (ids grow with storage time).
    func tagged(_ tag: String, limit: Int, since: Double?, source: String?) throws(StoreError) -> [SearchResult] {
        try read { db in
            var sql = """
                SELECT i.id, i.text, i.createdAt FROM insight i
                WHERE i.id IN (SELECT o.insightId FROM occurrenceTag t JOIN occurrence o ON o.id = t.occurrenceId WHERE t.tag = ?)
                AND i.createdAt >= ?
                """
            var arguments: StatementArguments = [tag, since ?? 0]
            if let source, !source.isEmpty {
                sql += " AND EXISTS (SELECT 1 FROM occurrence o JOIN source s ON s.id = o.sourceId WHERE o.insightId = i.id AND instr(s.path, ?) > 0)"
                arguments += [source]
            }
            sql += " ORDER BY i.id DESC LIMIT ?"
            arguments += [limit]
            let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
            let tags = try Self.tags(of: rows.map { $0[0] }, in: db)
            return rows.map { row in
                let id: Int64 = row[0], text: String = row[1]
                return SearchResult(id: id, text: text, snippet: Snippet.make(text, query: ""), score: 0, createdAt: row[2], tags: tags[id] ?? [])
            }
        }
    }

    /// The newest insights first, optionally only those stored since `since`. Ids grow with storage time, so
    /// the rowid order serves without an index on `createdAt` and stops after `limit` rows.
    public func recent(limit: Int, since: Double? = nil) throws(StoreError) -> [InsightSummary] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.id, i.text, i.createdAt, (SELECT COUNT(*) FROM occurrence o WHERE o.insightId = i.id)
                FROM insight i WHERE i.createdAt >= ? ORDER BY i.id DESC LIMIT ?
                """, arguments: [since ?? 0, limit])
            let tags = try Self.tags(of: rows.map { $0[0] }, in: db)
            return rows.map { row in
                let id: Int64 = row[0]
                return InsightSummary(id: id, text: row[1], createdAt: row[2], occurrences: row[3], tags: tags[id] ?? [])
            }
        }
    }

    /// One insight with every place it was seen (in any wording), its other wordings and the insights that
    /// conflict with it; nil when there is no insight with that id.
    public func insight(id: Int64) throws(StoreError) -> InsightDetail? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, text, createdAt FROM insight WHERE id = ?", arguments: [id]) else {
                return nil
            }
            var variantSources: [Int64: [SourceRef]] = [:]
            var sources: [SourceRef] = []
            for occurrence in try Self.occurrences(in: db, where: "o.insightId = ?", arguments: [id]) {
                sources.append(occurrence.ref)
                if let variant = occurrence.variantID { variantSources[variant, default: []].append(occurrence.ref) }
            }
            var detail = InsightDetail(id: row[0], text: row[1], createdAt: row[2], sources: sources)
            detail.variants = try Row.fetchAll(db, sql: "SELECT id, text FROM variant WHERE insightId = ? ORDER BY id", arguments: [id]).map {
                VariantRef(text: $0[1], sources: variantSources[$0[0]] ?? [])
            }
            detail.conflicts = try Row.fetchAll(db, sql: """
                SELECT c.otherId, i.text, c.kind FROM conflict c JOIN insight i ON i.id = c.otherId WHERE c.insightId = ?1
                UNION ALL
                SELECT c.insightId, i.text, c.kind FROM conflict c JOIN insight i ON i.id = c.insightId WHERE c.otherId = ?1
                ORDER BY 1
                """, arguments: [id]).map { InsightConflict(id: $0[0], text: $0[1], kind: $0[2]) }
            return detail
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
                           updatedAt: record.updatedAt, ingestedAt: record.ingestedAt, format: record.effectiveFormat)
            }
        }
    }

    /// A page of the export in id order after `afterID`, only insights stored since `since`.
    public func exportPage(afterID: Int64, limit: Int, since: Double?) throws(StoreError) -> [ExportRecord] {
        guard let since else { return try exportPage(afterID: afterID, limit: limit) }
        // Ids grow with storage time: start at the first insight stored since then, and filter the pages.
        var after = max(afterID, try read { db in try Int64.fetchOne(db, sql: "SELECT MIN(id) FROM insight WHERE createdAt >= ?", arguments: [since]) }
            .map { $0 - 1 } ?? Int64.max - 1)
        while true {
            let page = try exportPage(afterID: after, limit: limit)
            guard let last = page.last else { return [] }
            let kept = page.filter { $0.createdAt >= since }
            if !kept.isEmpty { return kept }
            after = last.id
        }
    }

    /// Removes an insight, its occurrences, other wordings and conflicts in one transaction; the full-text
    /// index follows through its triggers and the near-duplicate index once the transaction commits. Each source's insight count drops by the occurrences it lost. Returns how many occurrences
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
                let bandKeys = try Data.fetchOne(db, sql: "SELECT bandKeys FROM insightSignature WHERE insightId = ?", arguments: [id])
                // Variants, conflicts and the signature go with the insight (ON DELETE CASCADE).
                try db.execute(sql: "DELETE FROM occurrence WHERE insightId = ?", arguments: [id])
                try db.execute(sql: "DELETE FROM insight WHERE id = ?", arguments: [id])
                nearDuplicates?.removeAfterCommit([(id, bandKeys.map(NearDuplicateState.decode) ?? [])], in: db)
                return removed
            }
        } catch {
            throw StoreError(.write, "cannot forget insight \(id)", underlying: error)
        }
    }
}

extension InsightDatabase {
    /// One occurrence as a reader sees it: the insight it belongs to, the wording it used, and where it was seen.
    struct Occurrence {
        var insightID: Int64
        var variantID: Int64?
        var ref: SourceRef
    }

    /// The occurrences matching `filter` (on `occurrence o`), with their source, reading notes and tags, in path
    /// and line order.
    static func occurrences(in db: Database, where filter: String, arguments: StatementArguments) throws -> [Occurrence] {
        var tags: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT t.occurrenceId, t.tag FROM occurrence o JOIN occurrenceTag t ON t.occurrenceId = o.id
            WHERE \(filter) ORDER BY t.occurrenceId, t.tag
            """, arguments: arguments) {
            tags[row[0], default: []].append(row[1])
        }
        return try Row.fetchAll(db, sql: """
            SELECT o.insightId, o.variantId, o.id, s.path, o.line, o.section, s.documentDate, o.note, o.location, o.addedAt,
                   COALESCE(s.format, CASE WHEN s.kind = 'file' THEN 'text' END), s.state = 'removed'
            FROM occurrence o JOIN source s ON s.id = o.sourceId
            WHERE \(filter) ORDER BY o.insightId, s.path, o.line
            """, arguments: arguments).map { row in
            let occurrenceID: Int64 = row[2]
            var ref = SourceRef(path: row[3], line: row[4], section: row[5], date: row[6], tags: tags[occurrenceID] ?? [],
                                note: row[7], location: row[8], addedAt: row[9], format: row[10])
            if row[11] as Bool { ref.removed = true }
            return Occurrence(insightID: row[0], variantID: row[1], ref: ref)
        }
    }

    /// The sorted tags of each of these insights (those without tags are left out).
    static func tags(of ids: [Int64], in db: Database) throws -> [Int64: [String]] {
        guard !ids.isEmpty else { return [:] }
        var tags: [Int64: [String]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT DISTINCT o.insightId, t.tag FROM occurrence o JOIN occurrenceTag t ON t.occurrenceId = o.id
            WHERE o.insightId IN (SELECT value FROM json_each(?)) ORDER BY o.insightId, t.tag
            """, arguments: ["[" + ids.map(String.init).joined(separator: ",") + "]"]) {
            tags[row[0], default: []].append(row[1])
        }
        return tags
    }

    /// Every tag with the number of distinct insights and of occurrences that carry it, most insights first,
    /// then by name.
    public func tags() throws(StoreError) -> [TagCount] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.tag, COUNT(DISTINCT o.insightId), COUNT(*) FROM occurrenceTag t JOIN occurrence o ON o.id = t.occurrenceId
                GROUP BY t.tag ORDER BY 2 DESC, 1
                """).map { TagCount(tag: $0[0], insights: $0[1], occurrences: $0[2]) }
        }
    }
}
