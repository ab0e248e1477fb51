import Foundation
import InsightCore
import InsightStoreCore
import PostgresNIO

/// The read queries behind insightctl, and `forget`, over the shared database.
extension PostgresInsightStore {
    /// Full-text search with PostgreSQL's text search (the `simple` configuration: no stemming, no stop words),
    /// every word required, the last one as a prefix; ranked by `ts_rank`. An insight is also found by the words of
    /// another wording folded into it (a variant), whose snippet then shows that wording. With a tag, only insights with an
    /// occurrence so tagged; with a tag and no words, that tag's insights newest first.
    public func search(_ query: String, limit: Int, since: Double?, source: String?, tag: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?) {
        let tag = tag.flatMap(TagName.normalize)
        let tsquery = Self.tsQuery(query)
        guard tsquery != nil || tag != nil else { return ([], nil) }
        let results = try session("cannot search") { session in
            let rows: [(Int64, String, Double, Double, String?)]
            if let tsquery, let exact = Self.tsQuery(query, exactly: true) {
                // Ranked by the query and again by the last word taken whole: a text holding the word itself ranks
                // above one that holds only a longer word it starts ("17" above "173").
                // The best of the insights' own texts, then the best of the other wordings folded into them (one per
                // insight), each filtered and cut to `limit` before they are merged: grouping every match of a common
                // word would cost more than the ranking. An insight found both ways keeps its better rank and shows
                // its own text.
                rows = try session.query("""
                    WITH own AS (
                        SELECT i.id, (ts_rank(i.search, q) + ts_rank(i.search, e))::float8 AS rank
                        FROM insight i, to_tsquery('simple', \(tsquery)) q, to_tsquery('simple', \(exact)) e
                        WHERE i.search @@ q AND i.created_at >= \(since ?? 0)
                          AND (\(source ?? "") = '' OR EXISTS (
                              SELECT 1 FROM occurrence o JOIN source s ON s.id = o.source_id
                              WHERE o.insight_id = i.id AND strpos(s.path, \(source ?? "")) > 0))
                          AND (\(tag ?? "") = '' OR i.id IN (
                              SELECT o.insight_id FROM occurrence_tag t JOIN occurrence o ON o.id = t.occurrence_id WHERE t.tag = \(tag ?? "")))
                        ORDER BY rank DESC, i.id DESC LIMIT \(limit)
                    ),
                    other AS (
                        SELECT * FROM (
                            SELECT DISTINCT ON (v.insight_id) v.insight_id AS id, (ts_rank(v.search, q) + ts_rank(v.search, e))::float8 AS rank,
                                   v.text AS wording
                            FROM variant v JOIN insight i ON i.id = v.insight_id,
                                 to_tsquery('simple', \(tsquery)) q, to_tsquery('simple', \(exact)) e
                            WHERE v.search @@ q AND i.created_at >= \(since ?? 0)
                              AND (\(source ?? "") = '' OR EXISTS (
                                  SELECT 1 FROM occurrence o JOIN source s ON s.id = o.source_id
                                  WHERE o.insight_id = i.id AND strpos(s.path, \(source ?? "")) > 0))
                              AND (\(tag ?? "") = '' OR i.id IN (
                                  SELECT o.insight_id FROM occurrence_tag t JOIN occurrence o ON o.id = t.occurrence_id WHERE t.tag = \(tag ?? "")))
                            ORDER BY v.insight_id, rank DESC
                        ) best_wording ORDER BY rank DESC, id DESC LIMIT \(limit)
                    ),
                    best AS (
                        SELECT id, max(rank) AS rank, CASE WHEN bool_or(wording IS NULL) THEN NULL ELSE min(wording) END AS wording
                        FROM (SELECT id, rank, NULL::text AS wording FROM own UNION ALL SELECT id, rank, wording FROM other) h
                        GROUP BY id
                    )
                    SELECT i.id, i.text, i.created_at, b.rank, b.wording
                    FROM best b JOIN insight i ON i.id = b.id
                    ORDER BY b.rank DESC, i.id DESC LIMIT \(limit)
                    """).map { try $0.decode((Int64, String, Double, Double, String?).self) }
            } else {
                // A tag without words: its insights, newest first (ids grow with storage time).
                rows = try session.query("""
                    SELECT i.id, i.text, i.created_at, 0::float8, NULL::text
                    FROM insight i
                    WHERE i.id IN (SELECT o.insight_id FROM occurrence_tag t JOIN occurrence o ON o.id = t.occurrence_id WHERE t.tag = \(tag ?? ""))
                      AND i.created_at >= \(since ?? 0)
                      AND (\(source ?? "") = '' OR EXISTS (
                          SELECT 1 FROM occurrence o JOIN source s ON s.id = o.source_id
                          WHERE o.insight_id = i.id AND strpos(s.path, \(source ?? "")) > 0))
                    ORDER BY i.id DESC LIMIT \(limit)
                    """).map { try $0.decode((Int64, String, Double, Double, String?).self) }
            }
            let tags = try Self.tags(of: rows.map(\.0), in: session)
            return rows.map { id, text, createdAt, rank, wording in
                // Found by another wording only: the snippet shows that wording, with its matches marked.
                SearchResult(id: id, text: text, snippet: Snippet.make(wording ?? text, query: query), score: rank, createdAt: createdAt,
                             tags: tags[id] ?? [])
            }
        }
        return (results, nil)
    }

    /// Every tag with how many distinct insights and occurrences carry it, most insights first, then by name.
    public func tags() throws(StoreError) -> [TagCount] {
        try session("cannot list tags") { session in
            try session.query("""
                SELECT t.tag, COUNT(DISTINCT o.insight_id)::int8, COUNT(*)::int8
                FROM occurrence_tag t JOIN occurrence o ON o.id = t.occurrence_id
                GROUP BY t.tag ORDER BY 2 DESC, 1
                """).map { row in
                let (tag, insights, occurrences) = try row.decode((String, Int64, Int64).self)
                return TagCount(tag: tag, insights: Int(insights), occurrences: Int(occurrences))
            }
        }
    }

    /// The sorted tags of each of these insights (those without tags are left out).
    static func tags(of ids: [Int64], in session: PostgresSession) throws -> [Int64: [String]] {
        guard !ids.isEmpty else { return [:] }
        var tags: [Int64: [String]] = [:]
        for row in try session.query("""
            SELECT DISTINCT o.insight_id, t.tag FROM occurrence o JOIN occurrence_tag t ON t.occurrence_id = o.id
            WHERE o.insight_id = ANY(\(ids)::int8[]) ORDER BY 1, 2
            """) {
            let (id, tag) = try row.decode((Int64, String).self)
            tags[id, default: []].append(tag)
        }
        return tags
    }

    /// The occurrences of these insights, with their source, machine, reading notes and tags, in host, path and
    /// line order: each with the insight it belongs to and the wording it used.
    static func occurrences(of ids: [Int64], in session: PostgresSession) throws -> [(insight: Int64, variant: Int64?, ref: SourceRef)] {
        try session.query("""
            SELECT o.insight_id, o.variant_id, s.path, o.line, o.section, s.document_date, s.host, o.note, o.location, o.added_at,
                   COALESCE(s.format, CASE WHEN s.kind = 'file' THEN 'text' END),
                   ARRAY(SELECT t.tag FROM occurrence_tag t WHERE t.occurrence_id = o.id ORDER BY t.tag), s.state = 'removed'
            FROM occurrence o JOIN source s ON s.id = o.source_id
            WHERE o.insight_id = ANY(\(ids)::int8[]) ORDER BY o.insight_id, s.host, s.path, o.line
            """).map { row in
            let (insight, variant, path, line, section, date, host, note, location, addedAt, format, tags, removed) = try row.decode(
                (Int64, Int64?, String, Int, String?, String?, String, String?, String?, String?, String?, [String], Bool).self)
            var ref = SourceRef(path: path, line: line, section: section, date: date, tags: tags, note: note, location: location,
                                addedAt: addedAt, format: format)
            ref.host = host
            if removed { ref.removed = true }
            return (insight, variant, ref)
        }
    }

    /// `to_tsquery` input for what a user typed: each word quoted as a lexeme, joined with AND, the last a prefix;
    /// `exactly` leaves the last word whole.
    static func tsQuery(_ text: String, exactly: Bool = false) -> String? {
        let words = Normalizer.searchWords(text).map { "'" + $0 + "'" }
        guard !words.isEmpty else { return nil }
        return words.joined(separator: " & ") + (exactly ? "" : ":*")
    }

    public func recent(limit: Int, since: Double?) throws(StoreError) -> [InsightSummary] {
        try session("cannot list recent insights") { session in
            let rows = try session.query("""
                SELECT i.id, i.text, i.created_at, (SELECT COUNT(*) FROM occurrence o WHERE o.insight_id = i.id)::int8
                FROM insight i WHERE i.created_at >= \(since ?? 0) ORDER BY i.id DESC LIMIT \(limit)
                """).map { try $0.decode((Int64, String, Double, Int64).self) }
            let tags = try Self.tags(of: rows.map(\.0), in: session)
            return rows.map { id, text, createdAt, count in
                InsightSummary(id: id, text: text, createdAt: createdAt, occurrences: Int(count), tags: tags[id] ?? [])
            }
        }
    }

    public func insight(id: Int64) throws(StoreError) -> InsightDetail? {
        try session("cannot read insight \(id)") { session -> InsightDetail? in
            guard let row = try session.query("SELECT id, text, created_at FROM insight WHERE id = \(id)").first else { return nil }
            let (insightID, text, createdAt) = try row.decode((Int64, String, Double).self)
            var variantSources: [Int64: [SourceRef]] = [:]
            var sources: [SourceRef] = []
            for occurrence in try Self.occurrences(of: [id], in: session) {
                sources.append(occurrence.ref)
                if let variant = occurrence.variant { variantSources[variant, default: []].append(occurrence.ref) }
            }
            var detail = InsightDetail(id: insightID, text: text, createdAt: createdAt, sources: sources)
            detail.variants = try session.query("SELECT id, text FROM variant WHERE insight_id = \(id) ORDER BY id").map { row in
                let (variantID, text) = try row.decode((Int64, String).self)
                return VariantRef(text: text, sources: variantSources[variantID] ?? [])
            }
            detail.conflicts = try session.query("""
                SELECT c.other_id, i.text, c.kind FROM conflict c JOIN insight i ON i.id = c.other_id WHERE c.insight_id = \(id)
                UNION ALL
                SELECT c.insight_id, i.text, c.kind FROM conflict c JOIN insight i ON i.id = c.insight_id WHERE c.other_id = \(id)
                ORDER BY 1
                """).map { row in
                let (other, text, kind) = try row.decode((Int64, String, String).self)
                return InsightConflict(id: other, text: text, kind: kind)
            }
            return detail
        }
    }

    public func conflictPairs(limit: Int) throws(StoreError) -> [ConflictPair] {
        try session("cannot list conflicts") { session in
            let rows = try session.query("""
                SELECT c.kind, c.created_at,
                       a.id, a.text, a.created_at, (SELECT COUNT(*) FROM occurrence WHERE insight_id = a.id)::int8,
                       b.id, b.text, b.created_at, (SELECT COUNT(*) FROM occurrence WHERE insight_id = b.id)::int8
                FROM conflict c JOIN insight a ON a.id = c.insight_id JOIN insight b ON b.id = c.other_id
                ORDER BY c.created_at DESC, c.insight_id, c.other_id LIMIT \(limit)
                """).map { try $0.decode((String, Double, Int64, String, Double, Int64, Int64, String, Double, Int64).self) }
            let tags = try Self.tags(of: rows.flatMap { [$0.2, $0.6] }, in: session)
            return rows.map { kind, at, aID, aText, aAt, aCount, bID, bText, bAt, bCount in
                ConflictPair(first: InsightSummary(id: aID, text: aText, createdAt: aAt, occurrences: Int(aCount), tags: tags[aID] ?? []),
                             second: InsightSummary(id: bID, text: bText, createdAt: bAt, occurrences: Int(bCount), tags: tags[bID] ?? []),
                             kind: kind, createdAt: at)
            }
        }
    }

    public func sources(states: [SourceState]) throws(StoreError) -> [SourceInfo] {
        let wanted = states.map(\.rawValue)
        return try session("cannot list sources") { session in
            try session.query("""
                SELECT \(unescaped: Self.sourceColumns) FROM source
                WHERE origin = \(origin) AND (cardinality(\(wanted)::text[]) = 0 OR state = ANY(\(wanted)::text[])) ORDER BY path
                """).map { row in
                let record = try Self.sourceRecord(row)
                return SourceInfo(path: record.path, state: record.state.rawValue, reason: record.error, size: record.size,
                                  insights: record.insightCount, documentDate: record.documentDate,
                                  updatedAt: record.updatedAt, ingestedAt: record.ingestedAt, format: record.effectiveFormat)
            }
        }
    }

    public func exportPage(afterID: Int64, limit: Int, since: Double?) throws(StoreError) -> [ExportRecord] {
        try session("cannot export") { session in
            let rows = try session.query("""
                SELECT id, text, created_at FROM insight WHERE id > \(afterID) AND created_at >= \(since ?? 0) ORDER BY id LIMIT \(limit)
                """).map { try $0.decode((Int64, String, Double).self) }
            guard !rows.isEmpty else { return [] }
            let ids = rows.map(\.0)
            var sources: [Int64: [SourceRef]] = [:]
            var variantSources: [Int64: [SourceRef]] = [:]
            for occurrence in try Self.occurrences(of: ids, in: session) {
                sources[occurrence.insight, default: []].append(occurrence.ref)
                if let variant = occurrence.variant { variantSources[variant, default: []].append(occurrence.ref) }
            }
            var variants: [Int64: [VariantRef]] = [:]
            for row in try session.query("SELECT id, insight_id, text FROM variant WHERE insight_id = ANY(\(ids)::int8[]) ORDER BY id") {
                let (id, insight, text) = try row.decode((Int64, Int64, String).self)
                variants[insight, default: []].append(VariantRef(text: text, sources: variantSources[id] ?? []))
            }
            var conflicts: [Int64: [Int64]] = [:]
            for row in try session.query("""
                SELECT insight_id, other_id FROM conflict WHERE insight_id = ANY(\(ids)::int8[])
                UNION SELECT other_id, insight_id FROM conflict WHERE other_id = ANY(\(ids)::int8[])
                """) {
                let (id, other) = try row.decode((Int64, Int64).self)
                conflicts[id, default: []].append(other)
            }
            return rows.map { id, text, createdAt in
                ExportRecord(id: id, text: text, createdAt: createdAt, sources: sources[id] ?? [],
                             variants: variants[id] ?? [], conflicts: (conflicts[id] ?? []).sorted())
            }
        }
    }

    public func forget(id: Int64) throws(StoreError) -> Int? {
        try session("cannot forget insight \(id)") { session -> Int? in
            try session.transaction { () -> Int? in
                guard try session.query("SELECT id FROM insight WHERE id = \(id) FOR UPDATE").first != nil else { return nil }
                var removed = 0
                for row in try session.query("SELECT source_id, COUNT(*)::int8 FROM occurrence WHERE insight_id = \(id) GROUP BY source_id") {
                    let (source, count) = try row.decode((Int64, Int64).self)
                    removed += Int(count)
                    try session.query("UPDATE source SET insight_count = greatest(0, insight_count - \(Int(count))) WHERE id = \(source)")
                }
                // Variants and conflicts go with the insight (ON DELETE CASCADE).
                try session.query("DELETE FROM occurrence WHERE insight_id = \(id)")
                try session.query("DELETE FROM insight WHERE id = \(id)")
                return removed
            }
        }
    }
}
