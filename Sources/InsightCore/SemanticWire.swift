/// The sentence-vector part of `GET /v1/status`.
public struct SemanticStatus: Codable, Sendable, Equatable {
    /// `off` (with `reason`), `loading`, `embedding` (a backlog runs) or `idle` (every insight has its vector).
    public var state = "off"
    /// Why meaning features are off and what to do about it; absent when on.
    public var reason: String?
    /// The sentence model (`all-MiniLM-L6-v2`) and where it was loaded from.
    public var model: String?
    public var modelDir: String?
    /// Insights with a vector, and insights waiting for one.
    public var embedded = 0
    public var pending = 0
    /// Insights embedded per second over the last minute of work; absent when nothing was embedded lately.
    public var ratePerS: Double?
    /// Seconds until the backlog is done at that rate.
    public var etaS: Double?
    /// Vectors in the nearest-neighbour index.
    public var indexed = 0
    public init() {}
}

/// An insight close in meaning to another, with its cosine similarity (1 is the same meaning).
public struct RelatedInsight: Codable, Sendable, Equatable {
    public var id: Int64
    public var text: String
    public var score: Double
    public init(id: Int64, text: String, score: Double) {
        self.id = id
        self.text = text
        self.score = score
    }
}

/// `GET /v1/insights/ID/related`.
public struct RelatedReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var id: Int64
    public var related: [RelatedInsight]
    public init(id: Int64, related: [RelatedInsight]) {
        self.id = id
        self.related = related
    }
}

/// A newer insight that says what an older one says in other words, waiting for a person's decision.
public struct ParaphraseSuggestion: Codable, Sendable, Equatable {
    /// The newer insight.
    public var insight: InsightSummary
    /// The older insight it says again.
    public var of: InsightSummary
    public var score: Double
    public var createdAt: Double
    public init(insight: InsightSummary, of: InsightSummary, score: Double, createdAt: Double) {
        self.insight = insight
        self.of = of
        self.score = score
        self.createdAt = createdAt
    }
}

/// `GET /v1/paraphrases`.
public struct ParaphrasesReply: Codable, Sendable, Equatable {
    public var schema = InsightVersion.apiSchema
    public var paraphrases: [ParaphraseSuggestion]
    public init(paraphrases: [ParaphraseSuggestion]) { self.paraphrases = paraphrases }
}
