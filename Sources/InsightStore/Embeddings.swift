import Foundation
import GRDB
import InsightCore
import InsightStoreCore

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
