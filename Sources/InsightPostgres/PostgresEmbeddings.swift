import InsightCore
import InsightStoreCore
import NIOCore
import PostgresNIO

extension PostgresInsightStore {
    public func claimInsightsToEmbed(model: String, afterID: Int64, limit: Int, leaseSeconds: Double, now: Double) throws(StoreError)
        -> [EmbeddingJob] {
        try session("cannot claim insights to embed") { session in
            // Rows another daemon is claiming right now are skipped (SKIP LOCKED); a lease it committed is seen by the
            // conditional upsert, which takes only a claim whose lease has ended.
            try session.query("""
                WITH todo AS (
                    SELECT i.id FROM insight i
                    WHERE i.id > \(afterID)
                      AND NOT EXISTS (SELECT 1 FROM embedding e WHERE e.insight_id = i.id AND e.model = \(model))
                      AND NOT EXISTS (SELECT 1 FROM embedding_claim c WHERE c.insight_id = i.id AND c.until > \(now))
                    ORDER BY i.id LIMIT \(limit)
                    FOR UPDATE OF i SKIP LOCKED
                ), claimed AS (
                    INSERT INTO embedding_claim (insight_id, claimed_by, until)
                    SELECT id, \(origin), \(now + leaseSeconds) FROM todo
                    ON CONFLICT (insight_id) DO UPDATE SET claimed_by = excluded.claimed_by, until = excluded.until
                    WHERE embedding_claim.until <= \(now)
                    RETURNING insight_id
                )
                SELECT i.id, i.text FROM insight i JOIN claimed c ON c.insight_id = i.id ORDER BY i.id
                """).map { row in
                let (id, text) = try row.decode((Int64, String).self)
                return EmbeddingJob(insightID: id, text: text)
            }
        }
    }

    public func storeVectors(_ vectors: [StoredVector], paraphrases: [StoredParaphrase], model: String, now: Double) throws(StoreError) {
        guard !vectors.isEmpty || !paraphrases.isEmpty else { return }
        try session("cannot store \(vectors.count) sentence vectors") { session in
            try session.transaction {
                let ids = vectors.map(\.insightID)
                let scales = vectors.map(\.scale)
                let blobs = vectors.map { ByteBuffer(bytes: $0.bytes) }
                // Insights forgotten or merged since they were claimed are left out by the join.
                try session.query("""
                    INSERT INTO embedding (insight_id, model, scale, vector, embedded_at)
                    SELECT v.id, \(model), v.scale, v.vector, \(now)
                    FROM unnest(\(ids)::int8[], \(scales)::float4[], \(blobs)::bytea[]) AS v(id, scale, vector)
                    JOIN insight i ON i.id = v.id
                    ON CONFLICT (insight_id) DO UPDATE SET model = excluded.model, scale = excluded.scale,
                        vector = excluded.vector, embedded_at = excluded.embedded_at
                    """)
                try session.query("""
                    UPDATE embedding_claim SET until = 'infinity', claimed_by = \(origin) WHERE insight_id = ANY(\(ids)::int8[])
                    """)
                for pair in paraphrases {
                    try session.query("""
                        INSERT INTO paraphrase (insight_id, other_id, score, created_at)
                        SELECT \(pair.insightID), \(pair.otherID), \(pair.score), \(pair.createdAt)
                        WHERE EXISTS (SELECT 1 FROM insight WHERE id = \(pair.insightID))
                          AND EXISTS (SELECT 1 FROM insight WHERE id = \(pair.otherID))
                          AND NOT EXISTS (SELECT 1 FROM paraphrase WHERE insight_id = \(pair.otherID) AND other_id = \(pair.insightID))
                        ON CONFLICT DO NOTHING
                        """)
                }
            }
        }
    }

    public func vectors(model: String, afterID: Int64, embeddedSince: Double?, limit: Int) throws(StoreError) -> [StoredVector] {
        try session("cannot read sentence vectors") { session in
            try session.query("""
                SELECT insight_id, scale, vector FROM embedding
                WHERE insight_id > \(afterID) AND model = \(model) AND embedded_at >= \(embeddedSince ?? 0)
                ORDER BY insight_id LIMIT \(limit)
                """).map { row in
                let (id, scale, vector) = try row.decode((Int64, Float, ByteBuffer).self)
                return StoredVector(insightID: id, scale: scale, bytes: Array(vector.readableBytesView))
            }
        }
    }

    public func dropVectors(notOf model: String) throws(StoreError) -> Int {
        try session("cannot drop the vectors of an earlier model") { session in
            try session.transaction {
                let dropped = try session.query("""
                    WITH gone AS (DELETE FROM embedding WHERE model <> \(model) RETURNING insight_id)
                    SELECT count(*)::int8 FROM gone
                    """).first?.decode(Int64.self) ?? 0
                if dropped > 0 {
                    try session.query("""
                        DELETE FROM embedding_claim c WHERE c.until = 'infinity'
                          AND NOT EXISTS (SELECT 1 FROM embedding e WHERE e.insight_id = c.insight_id)
                        """)
                }
                return Int(dropped)
            }
        }
    }

    public func keptApart(among ids: [Int64]) throws(StoreError) -> Set<[Int64]> {
        guard !ids.isEmpty else { return [] }
        return try session("cannot read dismissed paraphrases") { session in
            var pairs = Set<[Int64]>()
            for row in try session.query("""
                SELECT insight_id, other_id FROM paraphrase
                WHERE state = 'apart' AND (insight_id = ANY(\(ids)::int8[]) OR other_id = ANY(\(ids)::int8[]))
                """) {
                let (a, b) = try row.decode((Int64, Int64).self)
                pairs.insert(Self.pairKey(a, b))
            }
            return pairs
        }
    }

    public func openParaphrases(limit: Int) throws(StoreError) -> [StoredParaphrase] {
        try session("cannot read paraphrase suggestions") { session in
            try session.query("""
                SELECT insight_id, other_id, score, created_at FROM paraphrase WHERE state = 'open'
                ORDER BY created_at DESC, insight_id DESC LIMIT \(limit)
                """).map { row in
                let (a, b, score, at) = try row.decode((Int64, Int64, Double, Double).self)
                return StoredParaphrase(insightID: a, otherID: b, score: score, createdAt: at)
            }
        }
    }

    public func openParaphraseTargets(of ids: [Int64]) throws(StoreError) -> [Int64: Int64] {
        guard !ids.isEmpty else { return [:] }
        return try session("cannot read paraphrase suggestions") { session in
            var targets: [Int64: Int64] = [:]
            for row in try session.query("""
                SELECT insight_id, other_id FROM paraphrase WHERE state = 'open' AND insight_id = ANY(\(ids)::int8[]) ORDER BY score
                """) {
                let (id, other) = try row.decode((Int64, Int64).self)
                targets[id] = other
            }
            return targets
        }
    }

    public func keepApart(_ id: Int64, _ other: Int64, now: Double) throws(StoreError) -> Bool {
        try session("cannot keep insights \(id) and \(other) apart") { session in
            try session.transaction {
                let changed = try session.query("""
                    WITH changed AS (
                        UPDATE paraphrase SET state = 'apart'
                        WHERE (insight_id = \(id) AND other_id = \(other)) OR (insight_id = \(other) AND other_id = \(id))
                        RETURNING 1)
                    SELECT count(*)::int8 FROM changed
                    """).first?.decode(Int64.self) ?? 0
                if changed > 0 { return true }
                guard id != other else { return false }
                let inserted = try session.query("""
                    WITH added AS (
                        INSERT INTO paraphrase (insight_id, other_id, score, state, created_at)
                        SELECT \(max(id, other)), \(min(id, other)), 0, 'apart', \(now)
                        WHERE (SELECT count(*) FROM insight WHERE id IN (\(id), \(other))) = 2
                        ON CONFLICT DO NOTHING RETURNING 1)
                    SELECT count(*)::int8 FROM added
                    """).first?.decode(Int64.self) ?? 0
                return inserted > 0
            }
        }
    }

    public func merge(_ id: Int64, into target: Int64, now: Double) throws(StoreError) -> Bool {
        guard id != target else { return false }
        return try session("cannot merge insight \(id) into \(target)") { session in
            try session.transaction { () -> Bool in
                // Both rows locked, lower id first, so two merges of the same pair cannot deadlock.
                let rows = try session.query("""
                    SELECT id, text, fingerprint FROM insight WHERE id IN (\(id), \(target)) ORDER BY id FOR UPDATE
                    """).map { try $0.decode((Int64, String, ByteBuffer).self) }
                guard rows.count == 2, let merged = rows.first(where: { $0.0 == id }) else { return false }
                try session.query("UPDATE variant SET insight_id = \(target) WHERE insight_id = \(id)")
                try session.query("DELETE FROM variant WHERE fingerprint = \(merged.2)")
                let variantID = try session.query("""
                    INSERT INTO variant (insight_id, fingerprint, text, created_at) VALUES (\(target), \(merged.2), \(merged.1), \(now))
                    RETURNING id
                    """).first?.decode(Int64.self)
                try session.query("UPDATE occurrence SET variant_id = \(variantID) WHERE insight_id = \(id) AND variant_id IS NULL")
                try session.query("UPDATE occurrence SET insight_id = \(target) WHERE insight_id = \(id)")
                // Conflicts, the vector, its claim and suggestions go with the insight (ON DELETE CASCADE).
                try session.query("DELETE FROM insight WHERE id = \(id)")
                return true
            }
        }
    }
}
