import InsightCore
import InsightStoreCore

/// The SQLite database plays every role of the store.
extension InsightDatabase: InsightStoring {
    public var kind: String { "sqlite" }
    public var location: String { path }
    public func sizeBytes() -> Int64 { fileBytes() }

    public func search(_ query: String, limit: Int, since: Double?, source: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?) {
        try search(query, limit: limit, since: since, source: source, tag: nil, rankingWindow: Self.rankingWindow)
    }

    public func search(_ query: String, limit: Int, since: Double?, source: String?, tag: String?) throws(StoreError)
        -> (results: [SearchResult], rankedAmongNewest: Int?) {
        try search(query, limit: limit, since: since, source: source, tag: tag, rankingWindow: Self.rankingWindow)
    }
}
