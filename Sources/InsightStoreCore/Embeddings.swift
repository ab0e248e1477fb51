import Foundation

/// An insight waiting for its sentence vector.
public struct EmbeddingJob: Sendable, Equatable {
    public var insightID: Int64
    public var text: String

    public init(insightID: Int64, text: String) {
        self.insightID = insightID
        self.text = text
    }
}

/// A stored sentence vector: int8 values and the one scale that turns them back into floats (value × scale).
public struct StoredVector: Sendable, Equatable {
    public var insightID: Int64
    public var scale: Float
    public var bytes: [UInt8]

    public init(insightID: Int64, scale: Float, bytes: [UInt8]) {
        self.insightID = insightID
        self.scale = scale
        self.bytes = bytes
    }
}

/// A newer insight whose meaning is close to an older one's, as stored (`paraphrase` table).
public struct StoredParaphrase: Sendable, Equatable {
    public var insightID: Int64
    public var otherID: Int64
    public var score: Double
    public var createdAt: Double

    public init(insightID: Int64, otherID: Int64, score: Double, createdAt: Double) {
        self.insightID = insightID
        self.otherID = otherID
        self.score = score
        self.createdAt = createdAt
    }
}

/// What the embedding worker and the meaning features need from a store: the queue of insights without a vector
/// (the insights themselves are the durable queue), the vectors, and the paraphrase suggestions.
///
/// Blocking, like every store call: callers run it on threads they own.
public protocol EmbeddingStoring: StoreDescribing {
    /// Claims up to `limit` insights with an id above `afterID` that have no vector of `model`, lowest id first.
    ///
    /// The SQLite store has one writer and returns them as they are; a shared store leases them to this daemon
    /// for `leaseSeconds` (skipping rows another daemon holds), so daemons sharing a database embed each insight once.
    func claimInsightsToEmbed(model: String, afterID: Int64, limit: Int, leaseSeconds: Double, now: Double) throws(StoreError)
        -> [EmbeddingJob]
    /// Stores vectors of `model` and the paraphrase suggestions found with them, in one transaction, replacing a
    /// vector of another model. Vectors of insights forgotten meanwhile are dropped.
    func storeVectors(_ vectors: [StoredVector], paraphrases: [StoredParaphrase], model: String, now: Double) throws(StoreError)
    /// A page of the stored vectors of `model` in id order after `afterID` (to load the index at start); with
    /// `embeddedSince`, only those stored since then (a shared store's vectors that other daemons wrote).
    func vectors(model: String, afterID: Int64, embeddedSince: Double?, limit: Int) throws(StoreError) -> [StoredVector]
    /// Removes vectors of any model other than `model` (a model change makes them useless); returns how many.
    func dropVectors(notOf model: String) throws(StoreError) -> Int
    /// Pairs that were kept apart (never suggested again) among the given ids.
    func keptApart(among ids: [Int64]) throws(StoreError) -> Set<[Int64]>
    /// Open paraphrase suggestions, newest first.
    func openParaphrases(limit: Int) throws(StoreError) -> [StoredParaphrase]
    /// For each of `ids` that is an open suggestion, the older insight it says again (the best-scored one).
    func openParaphraseTargets(of ids: [Int64]) throws(StoreError) -> [Int64: Int64]
    /// Marks the suggestion between two insights (either order) dismissed; false when there is none.
    func keepApart(_ id: Int64, _ other: Int64, now: Double) throws(StoreError) -> Bool
    /// Makes insight `id` another wording of `target`: its text becomes a variant of `target`, its places (with their
    /// tags and notes) and variants move to `target`, and `id` is removed. Returns false when either does not exist.
    func merge(_ id: Int64, into target: Int64, now: Double) throws(StoreError) -> Bool
}

extension EmbeddingStoring {
    /// Pairs are keyed lower id first.
    public static func pairKey(_ a: Int64, _ b: Int64) -> [Int64] { a < b ? [a, b] : [b, a] }
}

