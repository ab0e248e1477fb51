import Foundation
import InsightCore
import InsightStoreCore
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
    /// At most this many insights share a transaction that locks band keys one by one, which bounds the advisory
    /// locks it holds (about 21 per new text) well inside PostgreSQL's default lock table.
    static let insightsPerTransaction = 48
    /// At most this many insights share a transaction that takes the writer lock alone: a bulk load's turn.
    static let insightsPerTurn = 1_024

    /// How a transaction keeps its placements apart from those of other writers.
    enum LockScope {
        /// The writer lock shared, and each band key and fingerprint of a text to place exclusively: writers placing
        /// unrelated texts run side by side. For a few files at a time: the locks fill PostgreSQL's lock table fast.
        case keys
        /// The writer lock alone, exclusively: one lock however many texts the transaction places, so a bulk load
        /// writes (and commits) many files at a time. Other writers wait for its turn to end.
        case writer

        /// Band keys for a few insights, the writer lock for more.
        init(insights: Int) {
            self = insights > PostgresInsightStore.insightsPerTransaction ? .writer : .keys
        }
    }

    /// The advisory lock every placing transaction takes: shared with `LockScope.keys`, exclusively with
    /// `LockScope.writer`, so a turn never places a text beside another writer. Negative: apart from band keys (below
    /// 2^32) and fingerprint keys, and first when the keys are sorted.
    static let writerLockKey: Int64 = -1

    public func ingestBatch(_ files: [FileIngest], now: Double, shouldContinue: () -> Bool) throws(StoreError)
        -> [Result<IngestOutcome, StoreError>] {
        var results: [Result<IngestOutcome, StoreError>] = []
        results.reserveCapacity(files.count)
        let scope = LockScope(insights: files.reduce(0) { $0 + $1.insights.count })
        let limit = scope == .writer ? Self.insightsPerTurn : Self.insightsPerTransaction
        var start = 0
        while start < files.count {
            guard shouldContinue() else { break }
            var end = start + 1
            var insights = files[start].insights.count
            while end < files.count, insights + files[end].insights.count <= limit {
                insights += files[end].insights.count
                end += 1
            }
            let chunk = Array(files[start..<end])
            let stored = try session("cannot store a batch of files") { session in
                do {
                    // Savepoints cost two round trips a file and are only needed when a file fails, which is rare.
                    return try session.transaction {
                        try ingestChunk(chunk, scope: scope, in: session, now: now, isolated: false, shouldContinue: shouldContinue)
                    }
                } catch where PostgresFailure(error) == .other {
                    // The database refused a file: run the chunk again, each file in a savepoint, so that one fails alone.
                    return try session.transaction {
                        try ingestChunk(chunk, scope: scope, in: session, now: now, isolated: true, shouldContinue: shouldContinue)
                    }
                }
            }
            results += stored
            // Cut short by a stop: the results cover a prefix of the batch, and the rest waits in the inbox.
            guard stored.count == chunk.count else { break }
            start = end
        }
        return results
    }

    /// What a stored fingerprint belongs to.
    struct Known {
        var insight: Int64
        var variant: Int64?
    }

    /// A stored insight that shares band keys with a text to place.
    struct Candidate {
        var id: Int64
        var text: String
        /// How many of the text's band keys it has.
        var shared: Int
    }

    /// What the chunk's placements know so far: the database under the chunk's locks, and what the chunk added.
    struct ChunkState {
        var known: [[UInt8]: Known]
        /// For each text to place (by fingerprint), the stored insights sharing most of its band keys, as
        /// `candidates` would have read them before the chunk wrote anything.
        var stored: [[UInt8]: [Candidate]] = [:]
        /// The insights the chunk created: candidates the stored ones do not include.
        var created = CreatedInsights()
    }

    /// The insights a chunk created, found by band key: a text is compared with those sharing a key with it, not with
    /// every insight a bulk chunk created.
    struct CreatedInsights {
        private var entries: [(id: Int64, text: String, gone: Bool)] = []
        /// For each band key, the entries (indices) holding it.
        private var byKey: [UInt32: [Int]] = [:]

        mutating func add(id: Int64, text: String, keys: [UInt32]) {
            let index = entries.count
            entries.append((id, text, false))
            for key in Set(keys) { byKey[key, default: []].append(index) }
        }

        /// The insights sharing at least one of `keys`, with how many they share, leaving out `listed` ids.
        func sharing(_ keys: Set<UInt32>, except listed: Set<Int64>) -> [Candidate] {
            var shared: [Int: Int] = [:]
            for key in keys {
                for index in byKey[key] ?? [] { shared[index, default: 0] += 1 }
            }
            return shared.compactMap { index, count in
                let entry = entries[index]
                return entry.gone || listed.contains(entry.id) ? nil : Candidate(id: entry.id, text: entry.text, shared: count)
            }
        }

        /// Gives stand-in ids their real ones.
        mutating func renumber(_ real: (Int64) -> Int64) {
            for index in entries.indices { entries[index].id = real(entries[index].id) }
        }

        /// Forgets insights deleted since they were created.
        mutating func remove(_ ids: Set<Int64>) {
            for index in entries.indices where ids.contains(entries[index].id) { entries[index].gone = true }
        }
    }

    /// Stores `files` in the open transaction. With `isolated`, each file runs in a savepoint and a file whose data the
    /// database refuses fails alone; without, any failure aborts the chunk. Lost connections, deadlocks and vanished
    /// rows abort the whole chunk either way, to be run again. `scope` defaults to what the chunk's size calls for.
    /// When `shouldContinue` turns false, the files stored so far (at least one) are all the chunk stores.
    ///
    /// The round trips are per chunk, not per file or insight: the candidates of every text are read in one query under
    /// the locks, a text is placed in memory against them and the chunk's own new insights (which is what a query per
    /// text would see: no other writer can add rows under those band keys while the locks are held), and the rows of a
    /// run of new files go in two statements, with ids taken from the sequences in the first.
    func ingestChunk(_ files: [FileIngest], scope: LockScope? = nil, in session: PostgresSession, now: Double,
                     isolated: Bool = true, shouldContinue: () -> Bool = { true }) throws -> [Result<IngestOutcome, StoreError>] {
        let scope = scope ?? LockScope(insights: files.reduce(0) { $0 + $1.insights.count })
        if scope == .writer {
            // Taken before anything is read, so every read below sees what other writers committed.
            try session.query("SELECT pg_advisory_xact_lock(\(Self.writerLockKey))")
        }
        var state = ChunkState(known: try lookup(Set(files.flatMap { $0.insights.map(\.fingerprint) }), in: session))
        // The texts not stored word for word, signed once here and used again when the text is placed.
        var misses = Set<[UInt8]>()
        var signed: [[UInt8]: Signed] = [:]
        for file in files {
            for insight in file.insights where state.known[insight.fingerprint] == nil && misses.insert(insight.fingerprint).inserted {
                if classifier != nil { signed[insight.fingerprint] = Signed(insight) }
            }
        }
        switch scope {
        case .writer:
            state.stored = try storedCandidates(signed, in: session)
        case .keys where !misses.isEmpty:
            let lockKeys = Set(misses.map(Self.fingerprintLockKey) + signed.values.flatMap { $0.keys.map(Int64.init) })
            // Sorted, so two transactions wanting overlapping keys never wait on each other in a circle; the writer
            // lock, shared, comes first.
            try session.query("""
                SELECT count(CASE WHEN k = \(Self.writerLockKey) THEN pg_advisory_xact_lock_shared(k) ELSE pg_advisory_xact_lock(k) END)
                FROM unnest(\([Self.writerLockKey] + lockKeys.sorted())::int8[]) AS k
                """)
            // Under the locks: what other writers stored meanwhile is committed and visible now.
            state.known.merge(try lookup(misses, in: session)) { $1 }
            state.stored = try storedCandidates(signed.filter { state.known[$0.key] == nil }, in: session)
        case .keys:
            break
        }
        let linkIDs = try queueLinks(files.flatMap(\.links), in: session, now: now)
        let sources = try storedSources(files, in: session)

        var results: [Result<IngestOutcome, StoreError>] = []
        if isolated {
            for (index, file) in files.enumerated() {
                guard index == 0 || shouldContinue() else { break }
                let before = state
                try session.execute("SAVEPOINT file")
                do {
                    let outcome = try ingestFile(file, source: sources, state: &state, signed: signed, linkIDs: linkIDs, in: session, now: now)
                    try session.execute("RELEASE SAVEPOINT file")
                    results.append(.success(outcome))
                } catch {
                    switch PostgresFailure(error) {
                    case .other:
                        try session.execute("ROLLBACK TO SAVEPOINT file")
                        state = before
                        results.append(.failure(StoreError(.write, "cannot store \(file.path)", underlying: PostgresProblem(error))))
                    default:
                        throw error
                    }
                }
            }
            return results
        }
        // Files with no stored row (a first ingest: most files of a bulk load) are placed one after another in memory and
        // written together. A changed file is written on its own: replacing its rows can delete insights that the texts
        // after it were compared with.
        var run = Run()
        for (index, file) in files.enumerated() {
            guard index == 0 || shouldContinue() else { break }
            if let sources, sources[SourceKey(origin: owner(of: file), path: file.path)] == nil {
                results.append(.success(placeFile(file, into: &run, state: &state, signed: signed)))
            } else {
                try write(&run, state: &state, linkIDs: linkIDs, in: session, now: now)
                results.append(.success(try ingestFile(file, source: sources, state: &state, signed: signed, linkIDs: linkIDs,
                                                       in: session, now: now)))
            }
        }
        try write(&run, state: &state, linkIDs: linkIDs, in: session, now: now)
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

    /// At most this many candidates are compared with a text, those sharing the most band keys (then the oldest).
    static let candidatesPerText = 64

    /// For each of these texts, the stored insights sharing most of its band keys, in one round trip: per text, the
    /// query a text's placement ran on its own before (a lateral subquery, so each runs on the GIN index of `bands`).
    func storedCandidates(_ texts: [[UInt8]: Signed], in session: PostgresSession) throws -> [[UInt8]: [Candidate]] {
        var order: [[UInt8]] = []
        var owners: [Int] = [], keys: [Int64] = []
        for (fingerprint, signature) in texts where !signature.keys.isEmpty {
            // Distinct keys, as an insight's `bands` holds them: each shared key counts once.
            for key in Set(signature.keys) {
                owners.append(order.count)
                keys.append(Int64(key))
            }
            order.append(fingerprint)
        }
        guard !order.isEmpty else { return [:] }
        var candidates: [[UInt8]: [Candidate]] = [:]
        for row in try session.query("""
            WITH q AS (SELECT t, array_agg(k) AS keys FROM unnest(\(owners)::int4[], \(keys)::int8[]) AS p(t, k) GROUP BY t)
            SELECT q.t, c.id, c.n, c.text
            FROM q CROSS JOIN LATERAL (
                SELECT i.id, i.text, (SELECT count(*) FROM unnest(i.bands) AS k WHERE k = ANY(q.keys)) AS n
                FROM insight i WHERE i.bands && q.keys
                ORDER BY n DESC, i.id LIMIT \(Self.candidatesPerText)) c
            ORDER BY q.t, c.n DESC, c.id
            """) {
            let (index, id, shared, text) = try row.decode((Int, Int64, Int64, String).self)
            candidates[order[index], default: []].append(Candidate(id: id, text: text, shared: Int(shared)))
        }
        return candidates
    }

    /// The candidates of a text with these band keys: the stored ones and the chunk's own, most shared keys first, then
    /// by id, as the stored candidates are listed.
    func candidates(_ fingerprint: [UInt8], keys: [UInt32], state: ChunkState) -> ArraySlice<Candidate> {
        var found = state.stored[fingerprint] ?? []
        let listed = Set(found.map(\.id))
        let wanted = Set(keys)
        found += state.created.sharing(wanted, except: listed)
        found.sort { ($0.shared, $1.id) > ($1.shared, $0.id) }
        return found.prefix(Self.candidatesPerText)
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

    /// A source row's key: the daemon's origin (none for a fetched article) and the path.
    struct SourceKey: Hashable {
        var origin: String
        var path: String
    }

    /// A stored source row: what tells whether a file changed.
    typealias StoredSource = (id: Int64, state: String, sha256: String?)

    /// The owner of a file's source row: this daemon, or nobody for a fetched article (shared by every daemon).
    func owner(of file: FileIngest) -> String { file.kind == "url" ? "" : origin }

    /// The stored source rows of the chunk's files, locked for update, in one round trip. Nil when a path comes twice:
    /// its second file must read the row the first one wrote, so each file then reads its own when its turn comes.
    func storedSources(_ files: [FileIngest], in session: PostgresSession) throws -> [SourceKey: StoredSource]? {
        let keys = files.map { SourceKey(origin: owner(of: $0), path: $0.path) }
        guard Set(keys).count == keys.count else { return nil }
        var stored: [SourceKey: StoredSource] = [:]
        for row in try session.query("""
            SELECT origin, path, id, state, sha256 FROM source
            WHERE (origin, path) IN (SELECT o, p FROM unnest(\(keys.map(\.origin))::text[], \(keys.map(\.path))::text[]) AS t(o, p))
            FOR UPDATE
            """) {
            let (origin, path, id, state, sha256) = try row.decode((String, String, Int64, String, String?).self)
            stored[SourceKey(origin: origin, path: path)] = (id, state, sha256)
        }
        return stored
    }

    /// The rows a run of files adds, under stand-in ids until the sequences hand out real ones.
    struct FileRows {
        /// Stand-ins sort after every stored id and in the order they were handed out, as the real ids will.
        static let firstInsight: Int64 = 1 << 62
        static let firstVariant: Int64 = 1 << 61
        var insights: [(id: Int64, text: String, fingerprint: [UInt8], keys: [UInt32])] = []
        var variants: [(id: Int64, insight: Int64, text: String, fingerprint: [UInt8])] = []
        var conflicts: [(id: Int64, other: Int64, kind: ConflictKind)] = []

        func newInsightID() -> Int64 { Self.firstInsight + Int64(insights.count) }
        func newVariantID() -> Int64 { Self.firstVariant + Int64(variants.count) }
    }

    /// Files placed in memory and not written yet, with the rows they add.
    struct Run {
        var files: [FileIngest] = []
        var rows = FileRows()
        /// The fingerprints the run placed: their ids in `ChunkState.known` are stand-ins until the run is written.
        var placed = Set<[UInt8]>()
    }

    /// One file whose source row may exist: an unchanged file is left alone; a changed one loses its old occurrences and
    /// link references (and the insights no other file holds), then is placed and written as a run of its own.
    /// `source` holds the chunk's source rows as `storedSources` read them, or is nil to read the file's own.
    func ingestFile(_ file: FileIngest, source: [SourceKey: StoredSource]?, state: inout ChunkState, signed: [[UInt8]: Signed],
                    linkIDs: [String: Int64], in session: PostgresSession, now: Double) throws -> IngestOutcome {
        let owner = self.owner(of: file)
        let existing: StoredSource?
        if let source {
            existing = source[SourceKey(origin: owner, path: file.path)]
        } else {
            existing = try session.query("""
                SELECT id, state, sha256 FROM source WHERE origin = \(owner) AND path = \(file.path) FOR UPDATE
                """).first.map { try $0.decode((Int64, String, String?).self) }
        }
        if let existing, existing.1 == SourceState.ingested.rawValue, existing.2 == file.sha256 { return .unchanged }
        var previousInsights: [Int64] = []
        var previousVariants: [Int64] = []
        if let id = existing?.0 {
            for row in try session.query("DELETE FROM occurrence WHERE source_id = \(id) RETURNING insight_id, variant_id") {
                let (insight, variant) = try row.decode((Int64, Int64?).self)
                previousInsights.append(insight)
                if let variant { previousVariants.append(variant) }
            }
            try session.query("DELETE FROM link_reference WHERE source_id = \(id)")
        }

        var run = Run()
        let outcome = placeFile(file, into: &run, state: &state, signed: signed)
        try write(&run, state: &state, linkIDs: linkIDs, in: session, now: now)

        var deleted: [Int64] = []
        if !previousInsights.isEmpty {
            // Insights and wordings no longer seen anywhere go with the content that held them.
            deleted = try session.query("""
                DELETE FROM insight i WHERE i.id = ANY(\(Array(Set(previousInsights)))::int8[])
                AND NOT EXISTS (SELECT 1 FROM occurrence o WHERE o.insight_id = i.id) RETURNING i.id
                """).map { try $0.decode(Int64.self) }
        }
        if !previousVariants.isEmpty {
            try session.query("""
                DELETE FROM variant v WHERE v.id = ANY(\(Array(Set(previousVariants)))::int8[])
                AND NOT EXISTS (SELECT 1 FROM occurrence o WHERE o.variant_id = v.id)
                """)
        }
        if !deleted.isEmpty {
            // Candidates read before are gone: read them again for the texts still to place (the chunk's own insights
            // are stored now, and found there too).
            let gone = Set(deleted)
            state.created.remove(gone)
            state.stored = try storedCandidates(signed.filter { state.known[$0.key] == nil }, in: session)
        }
        return outcome
    }

    /// Places a file's texts in memory (against what the chunk knows, including the run's earlier files) and adds it
    /// to the run.
    func placeFile(_ file: FileIngest, into run: inout Run, state: inout ChunkState, signed: [[UInt8]: Signed]) -> IngestOutcome {
        var newInsights = 0, newVariants = 0, newConflicts = 0
        let targets = file.variantTargets
        for ordinal in FileIngest.placementOrder(targets) {
            let insight = file.insights[ordinal]
            if state.known[insight.fingerprint] == nil, let target = targets[ordinal],
               let longer = state.known[file.insights[target].fingerprint]?.insight {
                // Part of a longer passage of the same file (an extended highlight): a wording of that insight.
                state.known[insight.fingerprint] = addVariant(insight, of: longer, to: &run.rows)
                run.placed.insert(insight.fingerprint)
                newVariants += 1
            }
            if state.known[insight.fingerprint] == nil {
                let (placed, placement) = place(insight, signed: signed[insight.fingerprint] ?? Signed(insight), state: &state, rows: &run.rows)
                state.known[insight.fingerprint] = placed
                run.placed.insert(insight.fingerprint)
                switch placement {
                case .variant: newVariants += 1
                case .new: newInsights += 1
                case .conflicting: newInsights += 1; newConflicts += 1
                }
            }
        }
        run.files.append(file)
        return .stored(newInsights: newInsights, occurrences: file.insights.count, variants: newVariants, conflicts: newConflicts)
    }

    /// Writes a run and empties it: the source rows with the ids the run needs in one round trip, then every other row
    /// in a second. The run's stand-in ids in `state` become the real ones.
    func write(_ run: inout Run, state: inout ChunkState, linkIDs: [String: Int64], in session: PostgresSession, now: Double) throws {
        guard !run.files.isEmpty else { return }
        let (files, rows) = (run.files, run.rows)
        let placedNow = run.placed
        run = Run()
        let owners = files.map { owner(of: $0) }
        // A run never holds a path twice (`storedSources` sees to that), so no row is upserted twice in one statement.
        guard let row = try session.query("""
            WITH saved AS (
                INSERT INTO source (origin, host, path, kind, format, size, mtime, sha256, state, error, encoding, document_date,
                                    insight_count, first_seen_at, updated_at, ingested_at)
                SELECT o, \(host), p, k, f, s, m, h, 'ingested', NULL, e, NULLIF(d, E'\\x01'), c, \(now), \(now), \(now)
                FROM unnest(\(owners)::text[], \(files.map(\.path))::text[], \(files.map(\.kind))::text[], \(files.map(\.format))::text[],
                            \(files.map(\.size))::int8[], \(files.map(\.mtime))::float8[], \(files.map(\.sha256))::text[],
                            \(files.map(\.encoding))::text[], \(files.map { $0.documentDate ?? Self.none })::text[],
                            \(files.map(\.insights.count))::int4[]) AS t(o, p, k, f, s, m, h, e, d, c)
                ON CONFLICT (origin, path) DO UPDATE SET host = excluded.host, kind = excluded.kind, format = excluded.format, size = excluded.size,
                    mtime = excluded.mtime, sha256 = excluded.sha256, state = 'ingested', error = NULL, encoding = excluded.encoding,
                    document_date = excluded.document_date, insight_count = excluded.insight_count, updated_at = excluded.updated_at,
                    ingested_at = excluded.ingested_at
                RETURNING origin, path, id)
            SELECT s.origins, s.paths, s.ids,
                   ARRAY(SELECT nextval(pg_get_serial_sequence('insight', 'id')) FROM generate_series(1, \(rows.insights.count))),
                   ARRAY(SELECT nextval(pg_get_serial_sequence('variant', 'id')) FROM generate_series(1, \(rows.variants.count)))
            FROM (SELECT array_agg(origin) AS origins, array_agg(path) AS paths, array_agg(id) AS ids FROM saved) AS s
            """).first else {
            throw StoreError(.write, "the source rows of \(files.count) files have no ids after saving")
        }
        let (savedOrigins, savedPaths, savedIDs, insightIDs, variantIDs) = try row.decode(([String], [String], [Int64], [Int64], [Int64]).self)
        let sourceIDOf = Dictionary(zip(zip(savedOrigins, savedPaths).map { SourceKey(origin: $0, path: $1) }, savedIDs)) { first, _ in first }
        guard insightIDs.count == rows.insights.count, variantIDs.count == rows.variants.count else {
            throw StoreError(.write, "PostgreSQL handed out fewer ids than \(files.count) files need")
        }
        // Sequence values grow, so sorted they are in the order asked for, the order of the stand-ins.
        let insightIDOf = Dictionary(uniqueKeysWithValues: zip(rows.insights.map(\.id), insightIDs.sorted()))
        let variantIDOf = Dictionary(uniqueKeysWithValues: zip(rows.variants.map(\.id), variantIDs.sorted()))
        func realInsight(_ id: Int64) -> Int64 { insightIDOf[id] ?? id }
        for fingerprint in placedNow {
            guard let placed = state.known[fingerprint] else { continue }
            state.known[fingerprint] = Known(insight: realInsight(placed.insight), variant: placed.variant.map { variantIDOf[$0] ?? $0 })
        }
        state.created.renumber(realInsight)

        var occurrenceSources: [Int64] = [], occurrenceInsights: [Int64] = [], occurrenceVariants: [Int64] = []
        var ordinals: [Int] = [], lines: [Int] = []
        var sections: [String] = [], notes: [String] = [], locations: [String] = [], addedAts: [String] = []
        var tagSources: [Int64] = [], tagOrdinals: [Int] = [], tagNames: [String] = []
        var referenceLinks: [Int64] = [], referenceSources: [Int64] = [], referenceLines: [Int] = []
        for (file, owner) in zip(files, owners) {
            guard let sourceID = sourceIDOf[SourceKey(origin: owner, path: file.path)] else {
                throw StoreError(.write, "the source row of \(file.path) has no id after saving")
            }
            for ordinal in FileIngest.placementOrder(file.variantTargets) {
                let placed = file.insights[ordinal]
                guard let ids = state.known[placed.fingerprint] else { continue }
                occurrenceSources.append(sourceID)
                occurrenceInsights.append(ids.insight)
                occurrenceVariants.append(ids.variant ?? 0)
                ordinals.append(ordinal)
                lines.append(placed.line)
                sections.append(placed.section ?? Self.none)
                notes.append(placed.note ?? Self.none)
                locations.append(placed.location ?? Self.none)
                addedAts.append(placed.addedAt ?? Self.none)
                for tag in TagName.distinct(placed.tags) {
                    tagSources.append(sourceID)
                    tagOrdinals.append(ordinal)
                    tagNames.append(tag)
                }
            }
            for link in file.links {
                guard let linkID = linkIDs[link.url.string] else { continue }
                referenceLinks.append(linkID)
                referenceSources.append(sourceID)
                referenceLines.append(link.line)
            }
        }
        let bands = rows.insights.flatMap { new in Set(new.keys).map { (realInsight(new.id), Int64($0)) } }
        let conflicts = rows.conflicts.map { (realInsight($0.id), realInsight($0.other), $0.kind.rawValue) }
        // Every other row of the run in one round trip. An insight or wording another writer stored first under the
        // same fingerprint is skipped here, and the rows pointing at it then fail their foreign key: a conflict that
        // runs the chunk again, which then finds the stored row (the race a lock-free writer could still win).
        try session.query("""
            WITH new_insight AS (
                INSERT INTO insight (id, fingerprint, text, created_at, bands)
                SELECT n.i, n.f, n.x, \(now), COALESCE(b.keys, '{}')
                FROM unnest(\(insightIDs.sorted())::int8[], \(rows.insights.map { ByteBuffer(bytes: $0.fingerprint) })::bytea[],
                            \(rows.insights.map(\.text))::text[]) AS n(i, f, x)
                LEFT JOIN (SELECT i, array_agg(k ORDER BY k) AS keys FROM unnest(\(bands.map(\.0))::int8[], \(bands.map(\.1))::int8[]) AS p(i, k)
                           GROUP BY i) AS b ON b.i = n.i
                ON CONFLICT (fingerprint) DO NOTHING),
            new_variant AS (
                INSERT INTO variant (id, insight_id, fingerprint, text, created_at)
                SELECT v, i, f, x, \(now) FROM unnest(\(rows.variants.map { variantIDOf[$0.id] ?? $0.id })::int8[],
                                                      \(rows.variants.map { realInsight($0.insight) })::int8[],
                                                      \(rows.variants.map { ByteBuffer(bytes: $0.fingerprint) })::bytea[],
                                                      \(rows.variants.map(\.text))::text[]) AS n(v, i, f, x)
                ON CONFLICT (fingerprint) DO NOTHING),
            new_conflict AS (
                INSERT INTO conflict (insight_id, other_id, kind, created_at)
                SELECT least(a, b), greatest(a, b), k, \(now)
                FROM unnest(\(conflicts.map(\.0))::int8[], \(conflicts.map(\.1))::int8[], \(conflicts.map(\.2))::text[]) AS c(a, b, k)
                ON CONFLICT DO NOTHING),
            inserted AS (
                INSERT INTO occurrence (insight_id, source_id, ordinal, line, section, variant_id, note, location, added_at)
                SELECT i, r, o, l, NULLIF(s, E'\\x01'), NULLIF(v, 0), NULLIF(n, E'\\x01'), NULLIF(p, E'\\x01'), NULLIF(a, E'\\x01')
                FROM unnest(\(occurrenceInsights)::int8[], \(occurrenceSources)::int8[], \(ordinals)::int4[], \(lines)::int4[],
                            \(sections)::text[], \(occurrenceVariants)::int8[], \(notes)::text[], \(locations)::text[], \(addedAts)::text[])
                    AS t(i, r, o, l, s, v, n, p, a)
                RETURNING id, source_id, ordinal),
            tagged AS (
                INSERT INTO occurrence_tag (occurrence_id, tag)
                SELECT inserted.id, t.tag FROM inserted
                JOIN unnest(\(tagSources)::int8[], \(tagOrdinals)::int4[], \(tagNames)::text[]) AS t(source, ordinal, tag)
                    ON t.source = inserted.source_id AND t.ordinal = inserted.ordinal),
            referenced AS (
                INSERT INTO link_reference (link_id, source_id, line)
                SELECT l, r, n FROM unnest(\(referenceLinks)::int8[], \(referenceSources)::int8[], \(referenceLines)::int4[]) AS t(l, r, n)
                ON CONFLICT DO NOTHING)
            SELECT 1
            """)
    }

    /// Stands for NULL in the text arrays of a multi-row insert: a section, note, location or date that is nothing
    /// but U+0001 is not something a file holds (the arrays cannot carry NULL themselves).
    static let none = "\u{1}"

    /// What `place` did with a text: a new wording of a stored insight, or a new insight, conflicting with another
    /// or not. (A row another writer stored first fails the file's foreign keys and runs the chunk again, so what is
    /// placed here is what gets written.)
    enum Placement { case variant, new, conflicting }

    /// A text not stored word for word, as a wording of insight `insightID`.
    func addVariant(_ insight: PreparedInsight, of insightID: Int64, to rows: inout FileRows) -> Known {
        let id = rows.newVariantID()
        rows.variants.append((id, insightID, insight.text, insight.fingerprint))
        return Known(insight: insightID, variant: id)
    }

    /// Places a text not stored word for word: as a wording of the insight it restates, or as a new insight with its
    /// band keys and conflicts. Returns where it went and how it was placed.
    func place(_ insight: PreparedInsight, signed: Signed, state: inout ChunkState, rows: inout FileRows) -> (Known, Placement) {
        guard let classifier else { return addInsight(insight, bandKeys: [], conflicts: [], state: &state, rows: &rows) }
        let (tokens, keys) = (signed.tokens, signed.keys)
        var best: (id: Int64, jaccard: Double)?
        var conflicts: [(id: Int64, kind: ConflictKind, jaccard: Double)] = []
        if !keys.isEmpty {
            let prepared = PreparedText(tokens: tokens, text: insight.text)
            // Most shared bands first, as the in-memory index orders its candidates.
            for candidate in candidates(insight.fingerprint, keys: keys, state: state) {
                let comparison = classifier.compare(PreparedText(candidate.text), prepared)
                switch comparison.verdict {
                case .sameClaim where comparison.jaccard > best?.jaccard ?? -1:
                    best = (candidate.id, comparison.jaccard)
                case .conflict(let kind):
                    conflicts.append((candidate.id, kind, comparison.jaccard))
                default:
                    break
                }
            }
        }
        if let best {
            return (addVariant(insight, of: best.id, to: &rows), .variant)
        }
        conflicts.sort { $0.jaccard > $1.jaccard }
        return addInsight(insight, bandKeys: keys, conflicts: conflicts.prefix(8).map { ($0.id, $0.kind) }, state: &state, rows: &rows)
    }

    /// A new insight with its band keys and conflicts.
    func addInsight(_ insight: PreparedInsight, bandKeys: [UInt32], conflicts: [(id: Int64, kind: ConflictKind)],
                    state: inout ChunkState, rows: inout FileRows) -> (Known, Placement) {
        let id = rows.newInsightID()
        rows.insights.append((id, insight.text, insight.fingerprint, bandKeys))
        var conflicting = false
        for conflict in conflicts where conflict.id != id {
            rows.conflicts.append((id, conflict.id, conflict.kind))
            conflicting = true
        }
        if !bandKeys.isEmpty { state.created.add(id: id, text: insight.text, keys: bandKeys) }
        return (Known(insight: id, variant: nil), conflicting ? .conflicting : .new)
    }

    /// A text's tokens and LSH band keys (none for a text too short to sign).
    struct Signed {
        var tokens: [String]
        var keys: [UInt32]

        init(_ text: String) {
            guard NearDuplicateText.isComparable(text) else {
                (tokens, keys) = ([], [])
                return
            }
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
