import Foundation

/// The state of one inbox file (or, later, fetched URL) as the database remembers it.
public enum SourceState: String, Sendable, Codable, CaseIterable {
    case seen, pending, ingested, failed, skipped, removed
}

/// A row of `source`: one file of the inbox, keyed by its path relative to the inbox.
public struct SourceRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var path: String
    public var size: Int64?
    public var mtime: Double?
    public var sha256: String?
    public var state: SourceState
    public var error: String?
    public var encoding: String?
    public var documentDate: String?
    public var insightCount: Int
    public var firstSeenAt: Double
    public var updatedAt: Double
    public var ingestedAt: Double?
    /// `file` for inbox files, `url` for fetched articles (whose path is the canonical URL).
    public var kind: String = "file"
    /// How the content was read (`text`, `markdown`, `kindle-clippings`, …); nil for files stored before formats were recorded.
    public var format: String?

    public init(id: Int64?, path: String, size: Int64?, mtime: Double?, sha256: String?, state: SourceState, error: String?,
                encoding: String?, documentDate: String?, insightCount: Int, firstSeenAt: Double, updatedAt: Double,
                ingestedAt: Double?, kind: String = "file", format: String? = nil) {
        self.id = id
        self.path = path
        self.size = size
        self.mtime = mtime
        self.sha256 = sha256
        self.state = state
        self.error = error
        self.encoding = encoding
        self.documentDate = documentDate
        self.insightCount = insightCount
        self.firstSeenAt = firstSeenAt
        self.updatedAt = updatedAt
        self.ingestedAt = ingestedAt
        self.kind = kind
        self.format = format
    }

    /// The format to show: the recorded one, or `text` for an inbox file stored before formats were recorded.
    public var effectiveFormat: String? {
        format ?? (kind == "file" && ingestedAt != nil ? "text" : nil)
    }
}

/// The state of a linked article in the fetch queue.
public enum LinkState: String, Sendable, Codable, CaseIterable {
    case queued, fetching, fetched, failed
}

/// A row of `link`: one article, however often it was linked, keyed by its canonical URL.
public struct LinkRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var canonicalURL: String
    public var givenURL: String
    public var finalURL: String?
    public var pageCanonicalURL: String?
    public var state: LinkState
    /// `permanent` or `transient` when failed.
    public var failure: String?
    public var error: String?
    public var attempts: Int
    public var nextAttemptAt: Double?
    public var etag: String?
    public var lastModified: String?
    public var title: String?
    public var byline: String?
    public var published: String?
    public var siteName: String?
    public var language: String?
    public var createdAt: Double
    public var updatedAt: Double
    public var fetchedAt: Double?

    public init(id: Int64?, canonicalURL: String, givenURL: String, finalURL: String?, pageCanonicalURL: String?, state: LinkState,
                failure: String?, error: String?, attempts: Int, nextAttemptAt: Double?, etag: String?, lastModified: String?,
                title: String?, byline: String?, published: String?, siteName: String?, language: String?, createdAt: Double,
                updatedAt: Double, fetchedAt: Double?) {
        self.id = id
        self.canonicalURL = canonicalURL
        self.givenURL = givenURL
        self.finalURL = finalURL
        self.pageCanonicalURL = pageCanonicalURL
        self.state = state
        self.failure = failure
        self.error = error
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.etag = etag
        self.lastModified = lastModified
        self.title = title
        self.byline = byline
        self.published = published
        self.siteName = siteName
        self.language = language
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.fetchedAt = fetchedAt
    }
}
