import Foundation
import InsightCore
import InsightStore
import NIOCore
import PostgresNIO

/// The ingest transaction on a shared database.
///
/// Daemons write at the same time, so every decision that depends on what is stored is made under a lock
/// that a competing decision needs too: a text not yet stored word for word is looked up and inserted while
/// holding transaction-scoped advisory locks on its LSH band keys (and its fingerprint). Two texts that could
/// be near duplicates share a band key, so their transactions take turns, and the second sees the first's
/// committed rows. Exact duplicates still meet at the unique constraint on the fingerprint
/// (`INSERT … ON CONFLICT`), which holds even where no lock was taken.
extension PostgresInsightStore {
    /// At most this many insights share one transaction, which bounds the advisory locks it holds
    /// (about 21 per new text) well inside PostgreSQL's default lock table.
    static let insightsPerTransaction = 48

    public func ingestBatch(_ files: [FileIngest], now: Double, shouldContinue: () -> Bool) throws(StoreError)
        -> [Result<IngestOutcome, StoreError>] {
        var results: [Result<IngestOutcome, StoreError>] = []
        results.reserveCapacity(files.count)
        var start = 0
        while start < files.count {
            guard shouldContinue() else { break }
            var end = start + 1
            var insights = files[start].insights.count
            while end < files.count, insights + files[end].insights.count <= Self.insightsPerTransaction {
                insights += files[end].insights.count
                end += 1
            }
            let chunk = Array(files[start..<end])
            results += try session("cannot store a batch of files") { session in
                try session.transaction { try ingestChunk(chunk, in: session, now: now) }
            }
            start = end
        }
        return results
    }

    /// What a stored fingerprint belongs to.
    struct Known {
        var insight: Int64
        var variant: Int64?
    }

    /// Stores `files` in the open transaction, each in a savepoint: a file whose data the database refuses
    /// fails alone. Lost connections, deadlocks and vanished rows abort the whole chunk, to be run again.
    func ingestChunk(_ files: [FileIngest], in session: PostgresSession, now: Double) throws -> [Result<IngestOutcome, StoreError>] {
        var known = try lookup(Set(files.flatMap { $0.insights.map(\.fingerprint) }), in: session)
        var misses = Set<[UInt8]>()
        var lockKeys = Set<Int64>()
        // Signed once here, for the locks, and used again when the text is placed.
        var signed: [[UInt8]: Signed] = [:]
        for file in files {
            for insight in file.insights where known[insight.fingerprint] == nil && misses.insert(insight.fingerprint).inserted {
                lockKeys.insert(Self.fingerprintLockKey(insight.fingerprint))
                if classifier != nil {
                    let signature = Signed(insight)
                    signed[insight.fingerprint] = signature
                    for key in signature.keys { lockKeys.insert(Int64(key)) }
                }
            }
        }
        if !lockKeys.isEmpty {
            // Sorted, so two transactions wanting overlapping keys never wait on each other in a circle.
            try session.query("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(\(lockKeys.sorted())::int8[]) AS k")
            // Under the locks: what other daemons stored meanwhile is committed and visible now.
            known.merge(try lookup(misses, in: session)) { $1 }
        }
        let linkIDs = try queueLinks(files.flatMap(\.links), in: session, now: now)

        var results: [Result<IngestOutcome, StoreError>] = []
        for file in files {
            let before = known
            try session.execute("SAVEPOINT file")
            do {
                let outcome = try ingestFile(file, known: &known, signed: signed, linkIDs: linkIDs, in: session, now: now)
                try session.execute("RELEASE SAVEPOINT file")
                results.append(.success(outcome))
            } catch {
                switch PostgresFailure(error) {
                case .other:
                    try session.execute("ROLLBACK TO SAVEPOINT file")
                    known = before
                    results.append(.failure(StoreError(.write, "cannot store \(file.path)", underlying: PostgresProblem(error))))
                default:
                    throw error
                }
            }
        }
        return results
    }

    /// The insights and variants stored under these fingerprints.
    func lookup(_ fingerprints: Set<[UInt8]>, in session: PostgresSession) throws -> [[UInt8]: Known] {
        guard !fingerprints.isEmpty else { return [:] }
        let buffers = fingerprints.map { ByteBuffer(bytes: $0) }
        var known: [[UInt8]: Known] = [:]
        for row in try session.query("""
            SELECT fingerprint, id, NULL::int8 FROM insight WHERE fingerprint = ANY(\(buffers)::bytea[])
            UNION ALL
            SELECT fingerprint, insight_id, id FROM variant WHERE fingerprint = ANY(\(buffers)::bytea[])
            """) {
            let (fingerprint, insight, variant) = try row.decode((ByteBuffer, Int64, Int64?).self)
            known[Array(fingerprint.readableBytesView)] = Known(insight: insight, variant: variant)
        }
        return known
    }

    /// Queues every link of the chunk once, in URL order (so concurrent queuers never deadlock), and returns their ids.
    func queueLinks(_ links: [HarvestedLink], in session: PostgresSession, now: Double) throws -> [String: Int64] {
        guard !links.isEmpty else { return [:] }
        var given: [String: String] = [:]
        for link in links where given[link.url.string] == nil { given[link.url.string] = link.original }
        let urls = given.keys.sorted()
        try session.query("""
            INSERT INTO link (canonical_url, given_url, state, attempts, created_at, updated_at)
            SELECT u, g, 'queued', 0, \(now), \(now) FROM unnest(\(urls)::text[], \(urls.map { given[$0] ?? $0 })::text[]) AS t(u, g)
            ORDER BY u ON CONFLICT (canonical_url) DO NOTHING
            """)
        var ids: [String: Int64] = [:]
        for row in try session.query("SELECT canonical_url, id FROM link WHERE canonical_url = ANY(\(urls)::text[])") {
            let (url, id) = try row.decode((String, Int64).self)
            ids[url] = id
        }
        return ids
    }

    /// One file's source row, insights, variants, occurrences and link references.
    func ingestFile(_ file: FileIngest, known: inout [[UInt8]: Known], signed: [[UInt8]: Signed], linkIDs: [String: Int64],
                    in session: PostgresSession,
                    now: Double) throws -> IngestOutcome {
        let owner = file.kind == "url" ? "" : origin
        let existing = try session.query("""
            SELECT id, state, sha256 FROM source WHERE origin = \(owner) AND path = \(file.path) FOR UPDATE
            """).first.map { try $0.decode((Int64, String, String?).self) }
        if let existing, existing.1 == SourceState.ingested.rawValue, existing.2 == file.sha256 { return .unchanged }
        var previousInsights: [Int64] = []
        var previousVariants: [Int64] = []
        if let id = existing?.0 {
            for row in try session.query("SELECT insight_id, variant_id FROM occurrence WHERE source_id = \(id)") {
                let (insight, variant) = try row.decode((Int64, Int64?).self)
                previousInsights.append(insight)
                if let variant { previousVariants.append(variant) }
            }
            try session.query("DELETE FROM occurrence WHERE source_id = \(id)")
            try session.query("DELETE FROM link_reference WHERE source_id = \(id)")
        }
        guard let sourceID = try session.query("""
            INSERT INTO source (origin, host, path, kind, format, size, mtime, sha256, state, error, encoding, document_date,
                                insight_count, first_seen_at, updated_at, ingested_at)
            VALUES (\(owner), \(host), \(file.path), \(file.kind), \(file.format), \(file.size), \(file.mtime), \(file.sha256), 'ingested', NULL,
                    \(file.encoding), \(file.documentDate), \(file.insights.count), \(now), \(now), \(now))
            ON CONFLICT (origin, path) DO UPDATE SET host = excluded.host, kind = excluded.kind, format = excluded.format, size = excluded.size,
                mtime = excluded.mtime, sha256 = excluded.sha256, state = 'ingested', error = NULL, encoding = excluded.encoding,
                document_date = excluded.document_date, insight_count = excluded.insight_count, updated_at = excluded.updated_at,
                ingested_at = excluded.ingested_at
            RETURNING id
            """).first?.decode(Int64.self) else {
            throw StoreError(.write, "the source row of \(file.path) has no id after saving")
        }

        var newInsights = 0, newVariants = 0, newConflicts = 0
        var insightIDs: [Int64] = [], variantIDs: [Int64] = [], ordinals: [Int] = [], lines: [Int] = [], sections: [String] = []
        var notes: [String] = [], locations: [String] = [], addedAts: [String] = []
        var tagOrdinals: [Int] = [], tagNames: [String] = []
        let targets = file.variantTargets
        for ordinal in FileIngest.placementOrder(targets) {
            let insight = file.insights[ordinal]
            if known[insight.fingerprint] == nil, let target = targets[ordinal],
               let longer = known[file.insights[target].fingerprint]?.insight {
                // Part of a longer passage of the same file (an extended highlight): a wording of that insight.
                let (wording, inserted) = try insertVariant(insight, of: longer, in: session, now: now)
                known[insight.fingerprint] = wording
                if inserted { newVariants += 1 }
            }
            if known[insight.fingerprint] == nil {
                let (placed, placement) = try place(insight, signed: signed[insight.fingerprint] ?? Signed(insight), in: session, now: now)
                known[insight.fingerprint] = placed
                switch placement {
                case .found: break
                case .variant: newVariants += 1
                case .new: newInsights += 1
                case .conflicting: newInsights += 1; newConflicts += 1
                }
            }
            guard let ids = known[insight.fingerprint] else { continue }
            insightIDs.append(ids.insight)
            variantIDs.append(ids.variant ?? 0)
            ordinals.append(ordinal)
            lines.append(insight.line)
            sections.append(insight.section ?? Self.none)
            notes.append(insight.note ?? Self.none)
            locations.append(insight.location ?? Self.none)
            addedAts.append(insight.addedAt ?? Self.none)
            for tag in TagName.distinct(insight.tags) {
                tagOrdinals.append(ordinal)
                tagNames.append(tag)
            }
        }
        if !insightIDs.isEmpty {
            // The occurrences and their tags in one round trip.
            try session.query("""
                WITH inserted AS (
                    INSERT INTO occurrence (insight_id, source_id, ordinal, line, section, variant_id, note, location, added_at)
                    SELECT i, \(sourceID), o, l, NULLIF(s, E'\\x01'), NULLIF(v, 0), NULLIF(n, E'\\x01'), NULLIF(p, E'\\x01'),
                           NULLIF(a, E'\\x01')
                    FROM unnest(\(insightIDs)::int8[], \(ordinals)::int4[], \(lines)::int4[], \(sections)::text[], \(variantIDs)::int8[],
                                \(notes)::text[], \(locations)::text[], \(addedAts)::text[])
                        AS t(i, o, l, s, v, n, p, a)
                    RETURNING id, ordinal)
                INSERT INTO occurrence_tag (occurrence_id, tag)
                SELECT inserted.id, t.tag FROM inserted JOIN unnest(\(tagOrdinals)::int4[], \(tagNames)::text[]) AS t(ordinal, tag)
                    ON t.ordinal = inserted.ordinal
                """)
        }
        if !previousInsights.isEmpty {
            // Insights and wordings no longer seen anywhere go with the content that held them.
            try session.query("""
                DELETE FROM insight i WHERE i.id = ANY(\(Array(Set(previousInsights)))::int8[])
                AND NOT EXISTS (SELECT 1 FROM occurrence o WHERE o.insight_id = i.id)
                """)
        }
        if !previousVariants.isEmpty {
            try session.query("""
                DELETE FROM variant v WHERE v.id = ANY(\(Array(Set(previousVariants)))::int8[])
                AND NOT EXISTS (SELECT 1 FROM occurrence o WHERE o.variant_id = v.id)
                """)
        }
        let references = file.links.compactMap { link in linkIDs[link.url.string].map { ($0, link.line) } }
        if !references.isEmpty {
            try session.query("""
                INSERT INTO link_reference (link_id, source_id, line)
                SELECT l, \(sourceID), n FROM unnest(\(references.map(\.0))::int8[], \(references.map(\.1))::int4[]) AS t(l, n)
                ON CONFLICT DO NOTHING
                """)
        }
        return .stored(newInsights: newInsights, occurrences: file.insights.count, variants: newVariants, conflicts: newConflicts)
    }

    /// Stands for NULL in the text arrays of a multi-row insert: a section, note, location or date that is nothing
    /// but U+0001 is not something a file holds (the arrays cannot carry NULL themselves).
    static let none = "\u{1}"

    /// What `place` did with a text: found it stored by another daemon's transaction that won a race, stored it as
    /// a new wording of a stored insight, or stored it as a new insight, conflicting with another or not.
    enum Placement { case found, variant, new, conflicting }

    /// Stores a text not stored word for word as a wording of insight `insightID`; a wording of the same
    /// fingerprint that won a race is used instead. Returns the wording and whether this call inserted it.
    func insertVariant(_ insight: PreparedInsight, of insightID: Int64, in session: PostgresSession, now: Double) throws -> (Known, Bool) {
        let fingerprint = ByteBuffer(bytes: insight.fingerprint)
        let inserted = try session.query("""
            INSERT INTO variant (insight_id, fingerprint, text, created_at) VALUES (\(insightID), \(fingerprint), \(insight.text), \(now))
            ON CONFLICT (fingerprint) DO NOTHING RETURNING insight_id, id
            """).first
        let row = try inserted ?? session.query("SELECT insight_id, id FROM variant WHERE fingerprint = \(fingerprint)").first
        guard let (insight, variant) = try row?.decode((Int64, Int64).self) else {
            throw StoreError(.write, "a variant vanished during the transaction")
        }
        return (Known(insight: insight, variant: variant), inserted != nil)
    }

    /// Stores a text not stored word for word: as a wording of a stored insight, or as a new insight.
    /// Returns where it went and how it was placed.
    func place(_ insight: PreparedInsight, signed: Signed, in session: PostgresSession, now: Double) throws -> (Known, Placement) {
        guard let classifier else { return try insertInsight(insight, bandKeys: [], conflicts: [], in: session, now: now) }
        let (tokens, keys) = (signed.tokens, signed.keys)
        var best: (id: Int64, jaccard: Double)?
        var conflicts: [(id: Int64, kind: ConflictKind, jaccard: Double)] = []
        if !keys.isEmpty {
            let prepared = PreparedText(tokens: tokens, text: insight.text)
            // Most shared bands first, as the in-memory index orders its candidates.
            for row in try session.query("""
                SELECT b.insight_id, i.text FROM (
                    SELECT insight_id, count(*) AS n FROM insight_band WHERE band_key = ANY(\(keys.map(Int64.init))::int8[])
                    GROUP BY insight_id ORDER BY n DESC, insight_id LIMIT 64) b
                JOIN insight i ON i.id = b.insight_id ORDER BY b.n DESC, b.insight_id
                """) {
                let (id, text) = try row.decode((Int64, String).self)
                let comparison = classifier.compare(PreparedText(text), prepared)
                switch comparison.verdict {
                case .sameClaim where comparison.jaccard > best?.jaccard ?? -1:
                    best = (id, comparison.jaccard)
                case .conflict(let kind):
                    conflicts.append((id, kind, comparison.jaccard))
                default:
                    break
                }
            }
        }
        if let best {
            let (wording, inserted) = try insertVariant(insight, of: best.id, in: session, now: now)
            return (wording, inserted ? .variant : .found)
        }
        conflicts.sort { $0.jaccard > $1.jaccard }
        return try insertInsight(insight, bandKeys: keys, conflicts: conflicts.prefix(8).map { ($0.id, $0.kind) }, in: session, now: now)
    }

    /// Inserts a new insight with its band rows and conflicts; an insight with the same fingerprint that won a
    /// race is used instead.
    func insertInsight(_ insight: PreparedInsight, bandKeys: [UInt32], conflicts: [(id: Int64, kind: ConflictKind)],
                       in session: PostgresSession, now: Double) throws -> (Known, Placement) {
        let fingerprint = ByteBuffer(bytes: insight.fingerprint)
        // The insight and its band rows in one round trip.
        guard let id = try session.query("""
            WITH new AS (
                INSERT INTO insight (fingerprint, text, created_at) VALUES (\(fingerprint), \(insight.text), \(now))
                ON CONFLICT (fingerprint) DO NOTHING RETURNING id),
            bands AS (
                INSERT INTO insight_band (band_key, insight_id)
                SELECT k, new.id FROM new, unnest(\(bandKeys.map(Int64.init))::int8[]) AS k ON CONFLICT DO NOTHING)
            SELECT id FROM new
            """).first?.decode(Int64.self) else {
            guard let id = try session.query("SELECT id FROM insight WHERE fingerprint = \(fingerprint)").first?.decode(Int64.self) else {
                throw StoreError(.write, "an insight vanished during the transaction")
            }
            return (Known(insight: id, variant: nil), .found)
        }
        var conflicting = false
        for conflict in conflicts where conflict.id != id {
            conflicting = true
            try session.query("""
                INSERT INTO conflict (insight_id, other_id, kind, created_at)
                VALUES (\(min(id, conflict.id)), \(max(id, conflict.id)), \(conflict.kind.rawValue), \(now)) ON CONFLICT DO NOTHING
                """)
        }
        return (Known(insight: id, variant: nil), conflicting ? .conflicting : .new)
    }

    /// A text's tokens and LSH band keys (none for a text too short to sign).
    struct Signed {
        var tokens: [String]
        var keys: [UInt32]

        init(_ text: String) {
            tokens = NearDuplicateText.tokens(text)
            keys = (try? NearDuplicateIndex.bandKeys(for: MinHashSignature(tokens: tokens), layout: .standard)) ?? []
        }

        /// The signature the parse stage computed, or one computed now.
        init(_ insight: PreparedInsight) {
            let signature = insight.signature ?? NearDuplicateSignature(insight.text)
            tokens = signature.tokens
            keys = signature.bandKeys
        }
    }

    /// The advisory lock key of a fingerprint, apart from band keys (which stay below 2^32).
    static func fingerprintLockKey(_ fingerprint: [UInt8]) -> Int64 {
        let low = fingerprint.prefix(4).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        return 1 << 32 | low
    }
}
