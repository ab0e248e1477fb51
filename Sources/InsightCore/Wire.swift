import Foundation

/// JSON as the socket API writes and reads it: snake_case keys, sorted for stable output.
public enum WireJSON {
    /// The encoder for replies and requests.
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The decoder for replies and requests.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}

/// `GET /v1/status`: what the daemon is doing, at a glance.
public struct StatusReport: Codable, Sendable, Equatable {
    /// Counts of inbox files by state.
    public struct Files: Codable, Sendable, Equatable {
        public var seen = 0
        public var ingested = 0
        public var skipped = 0
        public var failed = 0
        public var pending = 0
        public var removed = 0
        public init() {}
    }

    /// Counts of stored insights.
    public struct Insights: Codable, Sendable, Equatable {
        public var unique = 0
        public var occurrences = 0
        /// Other wordings merged into stored insights as variants.
        public var variants = 0
        /// Pairs of near-identical insights that state different claims.
        public var conflicts = 0
        public init() {}
    }

    /// The store: its kind, where it is, how big.
    public struct Database: Codable, Sendable, Equatable {
        /// `sqlite` or `postgresql`.
        public var kind = "sqlite"
        /// The database file, or the PostgreSQL URL without its password.
        public var path = ""
        public var bytes: Int64 = 0
        /// False while a shared database cannot be reached (ingestion waits and retries).
        public var reachable = true
        /// Bytes free on the file system holding the SQLite database; absent for a shared database.
        public var freeBytes: Int64?
        public init() {}
    }

    /// The most recent failure, so a user sees it without reading logs.
    public struct LastError: Codable, Sendable, Equatable {
        public var path: String
        public var message: String
        public var at: Double
        public init(path: String, message: String, at: Double) {
            self.path = path
            self.message = message
            self.at = at
        }
    }

    /// How the inbox is being watched.
    public struct Watch: Codable, Sendable, Equatable {
        public var mode = "inotify"
        public var folders = 0
        public var watches = 0
        public var overflows = 0
        public var rescans = 0
        public var oldestPendingS: Double?
        /// Folders (relative to the inbox, "" for the inbox itself) that are polled instead of watched with inotify.
        public var polled: [String] = []
        /// Why some folders are polled, with what to do about it (for example the sysctl to raise).
        public var warning: String?
        public init() {}
    }

    /// The fetch queue of linked articles.
    public struct Links: Codable, Sendable, Equatable {
        /// Distinct links ever found or added.
        public var found = 0
        public var queued = 0
        public var fetching = 0
        public var fetched = 0
        public var failed = 0
        public init() {}
    }

    /// The counters checked against a full count of the tables (`GET /v1/status?verify=1`).
    public struct Verification: Codable, Sendable, Equatable {
        /// A counter whose kept value differs from its full count.
        public struct Difference: Codable, Sendable, Equatable {
            /// `sources.STATE` (inbox files in a state), `links.STATE`, `insights.unique`, `insights.occurrences`,
            /// `insights.variants` or `insights.conflicts`.
            public var counter: String
            /// What status shows, from the counters kept with every write.
            public var kept: Int
            /// What a count of every row finds.
            public var counted: Int
            public init(counter: String, kept: Int, counted: Int) {
                self.counter = counter
                self.kept = kept
                self.counted = counted
            }
        }

        /// True when every counter equals its full count.
        public var agrees = false
        public var differences: [Difference] = []
        /// How long the full count took.
        public var seconds: Double = 0
        /// Why nothing could be compared (the store could not be read); `agrees` is false then.
        public var error: String?
        public init() {}
    }

    public var schema = InsightVersion.apiSchema
    public var version = InsightVersion.current
    /// `running`, `paused` or `stopping`; while ingestion waits for the store to take writes again (new files stay
    /// queued), `waiting for the database`, `disk full` or `state directory unwritable`.
    public var state = "running"
    /// Why ingestion waits, and what to do about it, while `state` says it waits; absent otherwise.
    public var stateDetail: String?
    public var pid: Int32 = 0
    public var uptimeS: Double = 0
    public var inbox = ""
    public var files = Files()
    public var insights = Insights()
    public var database = Database()
    public var watch = Watch()
    public var links = Links()
    /// Seconds since the epoch of the last stored file.
    public var lastIngestAt: Double?
    public var lastError: LastError?
    /// Present only when asked for with `verify=1`.
    public var verification: Verification?
    /// Sentence vectors: the model, how far embedding has come, or why meaning features are off.
    public var semantic: SemanticStatus?

    public init() {}
}

/// Where one occurrence of an insight came from.
///
/// Fields added after the first release (`tags`, `note`, `location`, `added_at`, `format`) are left out of the
/// JSON when empty, and read as empty when absent, so replies and exports of older daemons still decode.
public struct SourceRef: Codable, Sendable, Equatable {
    public var path: String
    public var line: Int
    public var section: String?
    public var date: String?
    /// The machine whose inbox held the file, when the store is shared by several daemons.
    public var host: String?
    /// The tags of this occurrence, lower-case without `#`, sorted.
    public var tags: [String] = []
    /// The reader's note on the passage (a Kindle note, a Readwise `Note:`).
    public var note: String?
    /// Where in the work the passage stands (`page 12 · location 180-182`).
    public var location: String?
    /// When the reader saved the passage (`2019-03-05` or `2019-03-05T20:14:02`).
    public var addedAt: String?
    /// How the file was read: `text`, `markdown`, `kindle-clippings`, `readwise`, `outline`, `html` or `links`.
    public var format: String?
    /// True when the file has since been deleted from the inbox (or renamed: the new name is another place); the
    /// insight keeps the place as history. Absent otherwise.
    public var removed: Bool?

    public init(path: String, line: Int, section: String?, date: String?, tags: [String] = [], note: String? = nil,
                location: String? = nil, addedAt: String? = nil, format: String? = nil) {
        self.path = path
        self.line = line
        self.section = section
        self.date = date
        self.tags = tags
        self.note = note
        self.location = location
        self.addedAt = addedAt
        self.format = format
    }

    enum CodingKeys: String, CodingKey {
        case path, line, section, date, host, tags, note, location, addedAt, format, removed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        line = try container.decode(Int.self, forKey: .line)
        section = try container.decodeIfPresent(String.self, forKey: .section)
        date = try container.decodeIfPresent(String.self, forKey: .date)
        host = try container.decodeIfPresent(String.self, forKey: .host)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        note = try container.decodeIfPresent(String.self, forKey: .note)
        location = try container.decodeIfPresent(String.self, forKey: .location)
        addedAt = try container.decodeIfPresent(String.self, forKey: .addedAt)
        format = try container.decodeIfPresent(String.self, forKey: .format)
        removed = try container.decodeIfPresent(Bool.self, forKey: .removed)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(line, forKey: .line)
        try container.encodeIfPresent(section, forKey: .section)
        try container.encodeIfPresent(date, forKey: .date)
        try container.encodeIfPresent(host, forKey: .host)
        if !tags.isEmpty { try container.encode(tags, forKey: .tags) }
        try container.encodeIfPresent(note, forKey: .note)
        try container.encodeIfPresent(location, forKey: .location)
        try container.encodeIfPresent(addedAt, forKey: .addedAt)
        try container.encodeIfPresent(format, forKey: .format)
        if removed == true { try container.encode(true, forKey: .removed) }
    }

    /// The sorted union of the sources' tags.
    public static func unionOfTags(_ sources: [SourceRef]) -> [String] {
        Array(Set(sources.flatMap(\.tags))).sorted()
    }
}

/// Another wording of an insight, and where it was seen.
public struct VariantRef: Codable, Sendable, Equatable {
    public var text: String
    public var sources: [SourceRef]
    public init(text: String, sources: [SourceRef]) {
        self.text = text
        self.sources = sources
    }
}

/// One line of `export --format jsonl`: a unique insight and every place it was seen.
public struct ExportRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    public var createdAt: Double
    /// Every place the insight was seen, in any wording.
    public var sources: [SourceRef]
    /// Other wordings of the same claim, each with the places it was seen.
    public var variants: [VariantRef]
    /// Ids of insights with near-identical wording that state a different claim.
    public var conflicts: [Int64]
    /// The tags of every place it was seen, sorted.
    public var tags: [String]
    /// Ids of the insights closest in meaning, best first (empty without sentence vectors).
    public var related: [Int64] = []
    /// The older insight this one is an open paraphrase suggestion of.
    public var paraphraseOf: Int64?
    public init(id: Int64, text: String, createdAt: Double, sources: [SourceRef], variants: [VariantRef] = [], conflicts: [Int64] = []) {
        self.id = id
        self.text = text
        self.createdAt = createdAt
        self.sources = sources
        self.variants = variants
        self.conflicts = conflicts
        tags = SourceRef.unionOfTags(sources)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        text = try container.decode(String.self, forKey: .text)
        createdAt = try container.decode(Double.self, forKey: .createdAt)
        sources = try container.decode([SourceRef].self, forKey: .sources)
        variants = try container.decodeIfPresent([VariantRef].self, forKey: .variants) ?? []
        conflicts = try container.decodeIfPresent([Int64].self, forKey: .conflicts) ?? []
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
        related = try container.decodeIfPresent([Int64].self, forKey: .related) ?? []
        paraphraseOf = try container.decodeIfPresent(Int64.self, forKey: .paraphraseOf)
    }
}

/// The body of every error reply: `{"error":{"code":"…","message":"…"}}`.
public struct ErrorReply: Codable, Sendable, Equatable {
    public struct Body: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }
    public var error: Body
    public init(code: String, message: String) {
        error = Body(code: code, message: message)
    }
}

// MARK: - Read replies of API schema 1
//
// Every read reply carries `schema` (the API's version, `InsightVersion.apiSchema`), so a saved `--json`
// output says which layout it has. New fields may be added within a schema; renaming or removing one bumps it.

/// The name of the header every reply of the socket API carries, with the API's schema number as its value.
public let apiVersionHeader = "Insightd-API"

/// One full-text search result (`GET /v1/search`).
public struct SearchResult: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    /// The matching passage, matches between `[` and `]`.
    public var snippet: String
    /// Higher is better (negated BM25); 0 when only a tag was asked for.
    public var score: Double
    public var createdAt: Double
    /// The tags of every place it was seen, sorted.
    public var tags: [String]
    public init(id: Int64, text: String, snippet: String, score: Double, createdAt: Double, tags: [String] = []) {
        self.id = id
        self.text = text
        self.snippet = snippet
        self.score = score
        self.createdAt = createdAt
        self.tags = tags
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        text = try container.decode(String.self, forKey: .text)
        snippet = try container.decode(String.self, forKey: .snippet)
        score = try container.decode(Double.self, forKey: .score)
        createdAt = try container.decode(Double.self, forKey: .createdAt)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
    }
}

/// `GET /v1/search`.
public struct SearchReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    /// The words searched for; empty when only a tag was asked for.
    public var query: String
    /// The tag asked for (lower-case, without `#`), if any.
    public var tag: String?
    public var results: [SearchResult]
    /// Set when the query matched so many insights that they were ranked among this many newest matches;
    /// absent when every match was ranked.
    public var rankedAmongNewest: Int?
    /// How results were ranked: `words` (full text), `meaning` (sentence vectors) or `hybrid` (both, fused);
    /// absent from older daemons, which rank by words.
    public var mode: String?
    /// Why a meaning search fell back to words, or could not run.
    public var note: String?
    public init(query: String, tag: String? = nil, results: [SearchResult], rankedAmongNewest: Int? = nil) {
        self.query = query
        self.tag = tag
        self.results = results
        self.rankedAmongNewest = rankedAmongNewest
    }
}

/// An insight in a list (`GET /v1/recent`).
public struct InsightSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    public var createdAt: Double
    /// How many places it was seen.
    public var occurrences: Int
    /// The tags of every place it was seen, sorted.
    public var tags: [String]
    public init(id: Int64, text: String, createdAt: Double, occurrences: Int, tags: [String] = []) {
        self.id = id
        self.text = text
        self.createdAt = createdAt
        self.occurrences = occurrences
        self.tags = tags
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        text = try container.decode(String.self, forKey: .text)
        createdAt = try container.decode(Double.self, forKey: .createdAt)
        occurrences = try container.decode(Int.self, forKey: .occurrences)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? []
    }
}

/// `GET /v1/recent`: the newest insights first.
public struct RecentReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var insights: [InsightSummary]
    public init(insights: [InsightSummary]) { self.insights = insights }
}

/// An insight with near-identical wording that states a different claim.
public struct InsightConflict: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    /// What differs: `number`, `negation` or `contentWord`.
    public var kind: String
    public init(id: Int64, text: String, kind: String) {
        self.id = id
        self.text = text
        self.kind = kind
    }
}

/// `GET /v1/insights/ID`: one insight with every place it was seen.
public struct InsightDetail: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var id: Int64
    public var text: String
    public var createdAt: Double
    /// Every place the insight was seen, in any wording.
    public var sources: [SourceRef]
    /// Other wordings of the same claim, each with the places it was seen.
    public var variants: [VariantRef] = []
    /// Insights with near-identical wording that state a different claim.
    public var conflicts: [InsightConflict] = []
    /// The tags of every place it was seen, sorted.
    public var tags: [String]
    /// The insights closest in meaning, best first (when sentence vectors are on).
    public var related: [RelatedInsight] = []
    public init(id: Int64, text: String, createdAt: Double, sources: [SourceRef]) {
        self.id = id
        self.text = text
        self.createdAt = createdAt
        self.sources = sources
        tags = SourceRef.unionOfTags(sources)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decode(Int.self, forKey: .schema)
        id = try container.decode(Int64.self, forKey: .id)
        text = try container.decode(String.self, forKey: .text)
        createdAt = try container.decode(Double.self, forKey: .createdAt)
        sources = try container.decode([SourceRef].self, forKey: .sources)
        variants = try container.decode([VariantRef].self, forKey: .variants)
        conflicts = try container.decode([InsightConflict].self, forKey: .conflicts)
        tags = try container.decodeIfPresent([String].self, forKey: .tags) ?? SourceRef.unionOfTags(sources)
        related = try container.decodeIfPresent([RelatedInsight].self, forKey: .related) ?? []
    }
}

/// One inbox file as the database remembers it (`GET /v1/sources`, `GET /v1/failed`).
public struct SourceInfo: Codable, Sendable, Equatable {
    public var path: String
    /// `pending`, `ingested`, `failed`, `skipped` or `removed`.
    public var state: String
    /// Why the file failed or was skipped.
    public var reason: String?
    public var size: Int64?
    public var insights: Int
    public var documentDate: String?
    public var updatedAt: Double
    public var ingestedAt: Double?
    /// How the file was read (`text`, `markdown`, `kindle-clippings`, …); absent for a file never read.
    public var format: String?
    public init(path: String, state: String, reason: String?, size: Int64?, insights: Int, documentDate: String?, updatedAt: Double,
                ingestedAt: Double?, format: String? = nil) {
        self.path = path
        self.state = state
        self.reason = reason
        self.size = size
        self.insights = insights
        self.documentDate = documentDate
        self.updatedAt = updatedAt
        self.ingestedAt = ingestedAt
        self.format = format
    }
}

/// `GET /v1/sources` and `GET /v1/failed`.
public struct SourcesReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var sources: [SourceInfo]
    public init(sources: [SourceInfo]) { self.sources = sources }
}

/// One linked article in the fetch queue (`GET /v1/links`).
public struct LinkInfo: Codable, Sendable, Equatable {
    public var id: Int64
    /// The canonical URL: the key that makes a link fetched once however often it is dropped.
    public var url: String
    /// The URL as first written.
    public var givenUrl: String
    /// Where redirects ended.
    public var finalUrl: String?
    /// The page's own `<link rel=canonical>`.
    public var pageCanonicalUrl: String?
    /// `queued`, `fetching`, `fetched` or `failed`.
    public var state: String
    /// `permanent` or `transient` when failed.
    public var failure: String?
    public var error: String?
    public var attempts: Int
    public var nextAttemptAt: Double?
    public var title: String?
    public var fetchedAt: Double?
    public var updatedAt: Double
    /// The files that linked it.
    public var linkedFrom: [SourceRef]

    public init(id: Int64, url: String, givenUrl: String, finalUrl: String?, pageCanonicalUrl: String?, state: String, failure: String?,
                error: String?, attempts: Int, nextAttemptAt: Double?, title: String?, fetchedAt: Double?, updatedAt: Double, linkedFrom: [SourceRef]) {
        self.id = id
        self.url = url
        self.givenUrl = givenUrl
        self.finalUrl = finalUrl
        self.pageCanonicalUrl = pageCanonicalUrl
        self.state = state
        self.failure = failure
        self.error = error
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.title = title
        self.fetchedAt = fetchedAt
        self.updatedAt = updatedAt
        self.linkedFrom = linkedFrom
    }
}

/// `GET /v1/links`.
public struct LinksReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var links: [LinkInfo]
    public init(links: [LinkInfo]) { self.links = links }
}

/// The reply of every request that changes state.
public struct ActionReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var ok: Bool
    public var message: String
    public init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}

/// `POST /v1/retry`: one path (relative to the inbox), or every failed and skipped file.
public struct RetryRequest: Codable, Sendable, Equatable {
    public var path: String?
    public var all: Bool?
    public init(path: String? = nil, all: Bool? = nil) {
        self.path = path
        self.all = all
    }
}

/// `POST /v1/links`: a URL to fetch.
public struct AddLinkRequest: Codable, Sendable, Equatable {
    public var url: String
    public init(url: String) { self.url = url }
}

/// A tag and how much it is used (`GET /v1/tags`).
public struct TagCount: Codable, Sendable, Equatable {
    /// Lower-case, without `#`.
    public var tag: String
    /// Distinct insights seen with the tag.
    public var insights: Int
    /// Occurrences that carry the tag.
    public var occurrences: Int
    public init(tag: String, insights: Int, occurrences: Int) {
        self.tag = tag
        self.insights = insights
        self.occurrences = occurrences
    }
}

/// `GET /v1/tags`: every tag, most used first.
public struct TagsReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var tags: [TagCount]
    public init(tags: [TagCount]) { self.tags = tags }
}

/// Tags as they are stored and looked up: trimmed, lower-case, without a leading `#`; nil when nothing is left.
public enum TagName {
    public static func normalize(_ text: String) -> String? {
        var tag = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        while tag.first == "#" { tag = tag.dropFirst() }
        let name = tag.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? nil : name
    }

    /// Each tag normalized once, in first-seen order.
    public static func distinct(_ tags: [String]) -> [String] {
        var seen = Set<String>()
        return tags.compactMap(normalize).filter { seen.insert($0).inserted }
    }
}

/// One pair of insights with near-identical wording that state different claims (`GET /v1/conflicts`).
public struct ConflictPair: Codable, Sendable, Equatable {
    public var first: InsightSummary
    public var second: InsightSummary
    /// What differs: `number`, `negation` or `contentWord`.
    public var kind: String
    public var createdAt: Double
    public init(first: InsightSummary, second: InsightSummary, kind: String, createdAt: Double) {
        self.first = first
        self.second = second
        self.kind = kind
        self.createdAt = createdAt
    }
}

/// `GET /v1/conflicts`.
public struct ConflictsReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var conflicts: [ConflictPair]
    public init(conflicts: [ConflictPair]) { self.conflicts = conflicts }
}
