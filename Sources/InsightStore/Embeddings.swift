import Foundation
import GRDB
import InsightCore

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
public protocol EmbeddingStoring: AnyObject, Sendable {
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

extension InsightDatabase: EmbeddingStoring {
    public func claimInsightsToEmbed(model: String, afterID: Int64, limit: Int, leaseSeconds: Double, now: Double) throws(StoreError)
        -> [EmbeddingJob] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.id, i.text FROM insight i
                WHERE i.id > ? AND NOT EXISTS (SELECT 1 FROM embedding e WHERE e.insightId = i.id AND e.model = ?)
                ORDER BY i.id LIMIT ?
                """, arguments: [afterID, model, limit]).map { EmbeddingJob(insightID: $0[0], text: $0[1]) }
        }
    }

    public func storeVectors(_ vectors: [StoredVector], paraphrases: [StoredParaphrase], model: String, now: Double) throws(StoreError) {
        guard !vectors.isEmpty || !paraphrases.isEmpty else { return }
        do {
            try pool.write { db in
                for vector in vectors {
                    // The insight may have been forgotten or merged since it was claimed: then there is nothing to keep.
                    try db.execute(sql: """
                        INSERT INTO embedding (insightId, model, scale, vector, embeddedAt)
                        SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM insight WHERE id = ?1)
                        ON CONFLICT (insightId) DO UPDATE SET model = excluded.model, scale = excluded.scale,
                            vector = excluded.vector, embeddedAt = excluded.embeddedAt
                        """, arguments: [vector.insightID, model, Double(vector.scale), Data(vector.bytes), now])
                }
                for pair in paraphrases {
                    try db.execute(sql: """
                        INSERT INTO paraphrase (insightId, otherId, score, createdAt)
                        SELECT ?1, ?2, ?3, ?4
                        WHERE EXISTS (SELECT 1 FROM insight WHERE id = ?1) AND EXISTS (SELECT 1 FROM insight WHERE id = ?2)
                          AND NOT EXISTS (SELECT 1 FROM paraphrase WHERE insightId = ?2 AND otherId = ?1)
                        ON CONFLICT DO NOTHING
                        """, arguments: [pair.insightID, pair.otherID, pair.score, pair.createdAt])
                }
            }
        } catch {
            throw failedWrite(.write, "cannot store \(vectors.count) sentence vectors", error)
        }
    }

    public func vectors(model: String, afterID: Int64, embeddedSince: Double?, limit: Int) throws(StoreError) -> [StoredVector] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT insightId, scale, vector FROM embedding WHERE insightId > ? AND model = ? AND embeddedAt >= ?
                ORDER BY insightId LIMIT ?
                """, arguments: [afterID, model, embeddedSince ?? 0, limit]).map { row in
                let scale: Double = row[1], data: Data = row[2]
                return StoredVector(insightID: row[0], scale: Float(scale), bytes: [UInt8](data))
            }
        }
    }

    public func dropVectors(notOf model: String) throws(StoreError) -> Int {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM embedding WHERE model <> ?", arguments: [model])
                return db.changesCount
            }
        } catch {
            throw failedWrite(.write, "cannot drop the vectors of an earlier model", error)
        }
    }

    public func keptApart(among ids: [Int64]) throws(StoreError) -> Set<[Int64]> {
        guard !ids.isEmpty else { return [] }
        return try read { db in
            let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
            var pairs = Set<[Int64]>()
            for row in try Row.fetchAll(db, sql: """
                SELECT insightId, otherId FROM paraphrase
                WHERE state = 'apart' AND (insightId IN (SELECT value FROM json_each(?1)) OR otherId IN (SELECT value FROM json_each(?1)))
                """, arguments: [list]) {
                pairs.insert(Self.pairKey(row[0], row[1]))
            }
            return pairs
        }
    }

    public func openParaphrases(limit: Int) throws(StoreError) -> [StoredParaphrase] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT insightId, otherId, score, createdAt FROM paraphrase WHERE state = 'open'
                ORDER BY createdAt DESC, insightId DESC LIMIT ?
                """, arguments: [limit]).map { StoredParaphrase(insightID: $0[0], otherID: $0[1], score: $0[2], createdAt: $0[3]) }
        }
    }

    public func openParaphraseTargets(of ids: [Int64]) throws(StoreError) -> [Int64: Int64] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var targets: [Int64: Int64] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT insightId, otherId FROM paraphrase
                WHERE state = 'open' AND insightId IN (SELECT value FROM json_each(?)) ORDER BY score
                """, arguments: ["[" + ids.map(String.init).joined(separator: ",") + "]"]) {
                targets[row[0]] = row[1]
            }
            return targets
        }
    }

    public func keepApart(_ id: Int64, _ other: Int64, now: Double) throws(StoreError) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: """
                    UPDATE paraphrase SET state = 'apart'
                    WHERE (insightId = ?1 AND otherId = ?2) OR (insightId = ?2 AND otherId = ?1)
                    """, arguments: [id, other])
                if db.changesCount > 0 { return true }
                // No suggestion yet: record the wish anyway, so the pair is never suggested.
                guard id != other,
                      try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM insight WHERE id IN (?, ?)", arguments: [id, other]) == 2 else {
                    return false
                }
                try db.execute(sql: """
                    INSERT INTO paraphrase (insightId, otherId, score, state, createdAt) VALUES (?, ?, 0, 'apart', ?)
                    """, arguments: [max(id, other), min(id, other), now])
                return true
            }
        } catch {
            throw failedWrite(.write, "cannot keep insights \(id) and \(other) apart", error)
        }
    }

    public func merge(_ id: Int64, into target: Int64, now: Double) throws(StoreError) -> Bool {
        guard id != target else { return false }
        do {
            return try pool.write { db -> Bool in
                guard let text = try String.fetchOne(db, sql: "SELECT text FROM insight WHERE id = ?", arguments: [id]),
                      let fingerprint = try Data.fetchOne(db, sql: "SELECT fingerprint FROM insight WHERE id = ?", arguments: [id]),
                      try Int64.fetchOne(db, sql: "SELECT id FROM insight WHERE id = ?", arguments: [target]) != nil else {
                    return false
                }
                let bandKeys = try Data.fetchOne(db, sql: "SELECT bandKeys FROM insightSignature WHERE insightId = ?", arguments: [id])
                // The merged insight's own other wordings become the target's.
                try db.execute(sql: "UPDATE variant SET insightId = ? WHERE insightId = ?", arguments: [target, id])
                // Its text becomes one more wording of the target, and its places point at it.
                try db.execute(sql: "DELETE FROM variant WHERE fingerprint = ?", arguments: [fingerprint])
                try db.execute(sql: "INSERT INTO variant (insightId, fingerprint, text, createdAt) VALUES (?, ?, ?, ?)",
                               arguments: [target, fingerprint, text, now])
                let variantID = db.lastInsertedRowID
                try db.execute(sql: "UPDATE occurrence SET variantId = ? WHERE insightId = ? AND variantId IS NULL",
                               arguments: [variantID, id])
                try db.execute(sql: "UPDATE occurrence SET insightId = ? WHERE insightId = ?", arguments: [target, id])
                // Conflicts, the signature, the vector and suggestions go with the insight (ON DELETE CASCADE).
                try db.execute(sql: "DELETE FROM insight WHERE id = ?", arguments: [id])
                nearDuplicates?.removeAfterCommit([(id, bandKeys.map(NearDuplicateState.decode) ?? [])], in: db)
                return true
            }
        } catch {
            throw failedWrite(.write, "cannot merge insight \(id) into \(target)", error)
        }
    }
}
