import Foundation
import InsightCore
import InsightSemantic
import InsightStoreCore

/// The meaning features as the API serves them: related insights, search by meaning and by words and meaning
/// together, paraphrase suggestions, merge and keep-apart.
struct SemanticQueries: Sendable {
    let database: any EmbeddingStoring & InsightReading
    let state: SemanticState

    /// Below this cosine two insights share little more than the language they are written in (all-MiniLM-L6-v2
    /// scores unrelated sentences from about -0.1 to 0.25): such neighbours are not shown as related or mixed into
    /// a word search.
    static let minimumRelatedScore: Float = 0.3

    /// Why meaning features cannot answer right now, as a user reads it; nil when they can.
    var unavailable: String? {
        guard state.encoder != nil else {
            return state.status(counts: nil).reason ?? "the sentence model is still loading; try again in a moment"
        }
        return nil
    }

    /// The insight's stored vector as floats, or nil when it has none yet.
    func vector(of id: Int64) throws(StoreError) -> [Float]? {
        guard let stored = try database.vectors(model: SentenceEncoder.modelName, afterID: id - 1, embeddedSince: nil, limit: 1).first,
              stored.insightID == id else { return nil }
        return QuantizedVector(scale: stored.scale, bytes: stored.bytes).dequantized
    }

    /// The insights closest in meaning to insight `id` (never itself), best first; empty when it has no vector yet.
    /// With `closeOnly`, only those at least `minimumRelatedScore` close.
    func related(to id: Int64, limit: Int, closeOnly: Bool = false) throws(StoreError) -> [RelatedInsight] {
        guard state.encoder != nil, let vector = try vector(of: id) else { return [] }
        let hits = state.index.nearest(to: vector, limit: limit, excluding: [id])
        return try described(closeOnly ? hits.filter { $0.score >= Self.minimumRelatedScore } : hits, filters: .none).map(\.related)
    }

    /// The index's nearest insights to a free text, best first.
    private func nearest(toText text: String, limit: Int) -> [(id: Int64, score: Float)] {
        guard let encoder = state.encoder, let vector = encoder.embed([text]).first else { return [] }
        return state.index.nearest(to: vector, limit: limit)
    }

    /// What a search keeps: stored since `since`, seen in a file whose path contains `source`, tagged `tag`.
    struct Filters {
        var since: Double?
        var source: String?
        var tag: String?
        static let none = Filters()
        var isEmpty: Bool { since == nil && source == nil && tag == nil }

        func keeps(_ detail: InsightDetail) -> Bool {
            if let since, detail.createdAt < since { return false }
            if let source, !detail.sources.contains(where: { $0.path.contains(source) }) { return false }
            if let tag, !detail.tags.contains(tag) { return false }
            return true
        }
    }

    /// Each hit with its insight, read once, in order; insights forgotten a moment ago (still in the index) and
    /// those the filters drop are left out.
    private func described(_ hits: [(id: Int64, score: Float)], filters: Filters) throws(StoreError)
        -> [(related: RelatedInsight, detail: InsightDetail)] {
        var out: [(related: RelatedInsight, detail: InsightDetail)] = []
        for hit in hits {
            guard let detail = try database.insight(id: hit.id), filters.keeps(detail) else { continue }
            out.append((RelatedInsight(id: hit.id, text: detail.text, score: Double(hit.score).rounded(toPlaces: 4)), detail))
        }
        return out
    }

    /// Search by words and meaning together, fused by `HybridRanking`.
    func hybridSearch(_ query: String, limit: Int, since: Double?, source: String?, tag: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?) {
        let pool = max(limit * 3, 30)
        let words = try database.search(query, limit: pool, since: since, source: source, tag: tag)
        // Filters apply to both lists: a meaning hit must pass what the word search was asked to keep.
        let close = nearest(toText: query, limit: pool * 2).filter { $0.score >= Self.minimumRelatedScore }
        let meaning = Array(try described(close, filters: Filters(since: since, source: source, tag: tag)).prefix(pool))
        var byID: [Int64: SearchResult] = [:]
        for result in words.results { byID[result.id] = result }
        for hit in meaning where byID[hit.related.id] == nil {
            byID[hit.related.id] = SearchResult(id: hit.related.id, text: hit.detail.text,
                                                snippet: Snippet.make(hit.detail.text, query: query), score: 0,
                                                createdAt: hit.detail.createdAt, tags: hit.detail.tags)
        }
        let index = state.index
        let ranked = HybridRanking.fuse(words: words.results.map(\.id), meaning: meaning.map(\.related.id),
                                        hasVector: { index.contains(id: $0) }, limit: limit)
        let results = ranked.compactMap { hit -> SearchResult? in
            guard var result = byID[hit.id] else { return nil }
            result.score = (hit.score * 1000).rounded() / 1000
            return result
        }
        return (results, words.rankedAmongNewest)
    }

    /// Search by meaning alone.
    func meaningSearch(_ query: String, limit: Int, since: Double?, source: String?, tag: String?) throws(StoreError) -> [SearchResult] {
        let filters = Filters(since: since, source: source, tag: tag)
        let hits = try described(nearest(toText: query, limit: filters.isEmpty ? limit : limit * 10), filters: filters)
        return hits.prefix(limit).map { hit in
            SearchResult(id: hit.related.id, text: hit.detail.text, snippet: Snippet.make(hit.detail.text, query: ""),
                         score: hit.related.score, createdAt: hit.detail.createdAt, tags: hit.detail.tags)
        }
    }

    /// Open paraphrase suggestions, newest first.
    func paraphrases(limit: Int) throws(StoreError) -> [ParaphraseSuggestion] {
        var suggestions: [ParaphraseSuggestion] = []
        for pair in try database.openParaphrases(limit: limit) {
            guard let insight = try database.insight(id: pair.insightID), let other = try database.insight(id: pair.otherID) else { continue }
            suggestions.append(ParaphraseSuggestion(insight: Self.summary(insight), of: Self.summary(other), score: pair.score,
                                                    createdAt: pair.createdAt))
        }
        return suggestions
    }

    static func summary(_ detail: InsightDetail) -> InsightSummary {
        InsightSummary(id: detail.id, text: detail.text, createdAt: detail.createdAt, occurrences: detail.sources.count, tags: detail.tags)
    }

    /// Merges insight `id` into `target`; the merged insight leaves the index at once.
    func merge(_ id: Int64, into target: Int64) throws(StoreError) -> Bool {
        guard try database.merge(id, into: target, now: Date().timeIntervalSince1970) else { return false }
        state.index.remove(id: id)
        return true
    }

    /// Adds to a page of the export the ids closest in meaning (up to five at least `minimumRelatedScore` close) and the insight each is an
    /// open paraphrase of. One vector read per record: an export of many insights takes longer with vectors on.
    func annotate(_ records: inout [ExportRecord]) throws(StoreError) {
        let targets = try database.openParaphraseTargets(of: records.map(\.id))
        let embedding = state.encoder != nil
        for index in records.indices {
            let id = records[index].id
            records[index].paraphraseOf = targets[id]
            if embedding, let vector = try vector(of: id) {
                records[index].related = state.index.nearest(to: vector, limit: 5, excluding: [id])
                    .filter { $0.score >= Self.minimumRelatedScore }.map(\.id)
            }
        }
    }

    /// Takes a forgotten insight out of the index.
    func forgotten(_ id: Int64) {
        state.index.remove(id: id)
    }
}

/// How hybrid search orders what words and meaning found: reciprocal-rank fusion (k = 60), so an insight found by
/// both ranks above one found by either alone.
enum HybridRanking {
    /// The fused order of the word ranking and the meaning ranking (ids, best first), with each insight's score.
    ///
    /// An insight without a vector (`hasVector` false: stored a moment ago, or while the embedding worker catches
    /// up) cannot be found by meaning: its word rank counts for both lists, so that the one insight holding the
    /// words does not fall behind insights that only resemble them. Ties go to the better word rank.
    static func fuse(words: [Int64], meaning: [Int64], hasVector: (Int64) -> Bool, limit: Int) -> [(id: Int64, score: Double)] {
        var fused: [Int64: Double] = [:]
        var wordRank: [Int64: Int] = [:]
        for (rank, id) in words.enumerated() {
            let votes: Double = hasVector(id) ? 1 : 2
            fused[id, default: 0] += votes / Double(60 + rank + 1)
            wordRank[id] = rank
        }
        for (rank, id) in meaning.enumerated() {
            fused[id, default: 0] += 1 / Double(60 + rank + 1)
        }
        let order = fused.sorted { x, y in
            if x.value != y.value { return x.value > y.value }
            let rx = wordRank[x.key] ?? Int.max, ry = wordRank[y.key] ?? Int.max
            return rx != ry ? rx < ry : x.key < y.key
        }
        return order.prefix(limit).map { (id: $0.key, score: $0.value) }
    }
}
