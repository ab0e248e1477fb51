import CLinux
import Foundation
import InsightCore
import InsightSemantic
import InsightStoreCore
import Logging
import ServiceLifecycle
import Synchronization

/// What the meaning features share between the embedding service and the API: the model once loaded, the
/// nearest-neighbour index of every vector, and how far embedding has come.
final class SemanticState: Sendable {
    struct Progress {
        var state = "off"
        var reason: String?
        var modelDirectory: String?
        /// (monotonic seconds, insights embedded) of recent batches, for the rate.
        var recent: [(at: Double, count: Int)] = []
    }

    let index = VectorIndex(dimensions: 384)
    private let encoderBox = Mutex<SentenceEncoder?>(nil)
    private let progress = Mutex(Progress())

    /// The model, once loaded; nil while meaning features are off.
    var encoder: SentenceEncoder? { encoderBox.withLock { $0 } }

    func loaded(_ encoder: SentenceEncoder, from directory: String) {
        encoderBox.withLock { $0 = encoder }
        progress.withLock { $0.modelDirectory = directory }
    }

    func set(state: String, reason: String? = nil) {
        progress.withLock {
            $0.state = state
            $0.reason = reason
        }
    }

    /// Counts a batch toward the rate.
    func embedded(_ count: Int) {
        DaemonMetrics.shared.sentencesEmbedded.increment(by: count)
        let now = monotonicSeconds()
        progress.withLock { progress in
            progress.recent.append((now, count))
            progress.recent.removeAll { now - $0.at > 60 }
        }
    }

    /// The status section, from the store's counts and this state.
    func status(counts: StoreCounts?) -> SemanticStatus {
        var status = SemanticStatus()
        let now = monotonicSeconds()
        progress.withLock { progress in
            status.state = progress.state
            status.reason = progress.reason
            status.modelDir = progress.modelDirectory
            let recent = progress.recent.filter { now - $0.at <= 60 }
            if let first = recent.first, recent.count > 1 || now - first.at > 0 {
                let seconds = max(1, now - first.at)
                let rate = Double(recent.reduce(0) { $0 + $1.count }) / seconds
                status.ratePerS = rate.rounded(toPlaces: 1)
            }
        }
        if status.state != "off" { status.model = SentenceEncoder.modelName }
        status.indexed = index.count
        if let counts {
            status.embedded = counts.embeddedInsights
            status.pending = max(0, counts.uniqueInsights - counts.embeddedInsights)
            if let rate = status.ratePerS, rate > 0, status.pending > 0 {
                status.etaS = (Double(status.pending) / rate).rounded(toPlaces: 0)
            }
        }
        return status
    }
}

/// Gives every stored insight a sentence vector, after its commit and in the background, and keeps the
/// nearest-neighbour index in step; finds paraphrase suggestions as it goes.
///
/// The queue is the store itself: an insight without a vector is waiting, so a restart (or `kill -9`) resumes
/// where the last committed batch ended. Embedding runs on one thread of the service's own, at a lower CPU
/// priority (nice 10), and while files wait to be ingested it keeps to a small share of the time (`EmbeddingDuty`):
/// ingest keeps priority. A shared PostgreSQL store leases batches to one daemon at a time, so each insight is embedded once.
final class SemanticService: Service, Sendable {
    let database: any EmbeddingStoring & InsightReading
    let settings: SettingsBox
    let state: SemanticState
    let logger: Logger
    /// Files waiting to be ingested (the pipeline's pending count), to give way to ingest.
    let ingestBacklog: @Sendable () -> Int
    private let work = BlockingWork(threads: 1)
    private let wake = WakeSignal()

    /// How long a shared store's lease on a claimed batch lasts.
    static let leaseSeconds = 600.0
    /// How often a daemon on a shared store looks for vectors other daemons wrote.
    static let sharedRefreshSeconds = 30.0

    init(database: any EmbeddingStoring & InsightReading, settings: SettingsBox, state: SemanticState, logger: Logger,
         ingestBacklog: @escaping @Sendable () -> Int) {
        self.database = database
        self.settings = settings
        self.state = state
        self.logger = logger
        self.ingestBacklog = ingestBacklog
    }

    /// New insights were committed: look for work.
    func poke() { wake.poke() }

    func run() async throws {
        let settings = self.settings.value
        // A service that returns ends the group: with meaning features off, this one waits for shutdown like the rest.
        guard settings.semanticEnabled else {
            state.set(state: "off", reason: "semantic.enabled is false in the configuration")
            try? await gracefulShutdown()
            return
        }
        work.start()
        _ = try? await work.run {
            _ = insight_set_thread_name("insightd-embed")
            _ = insight_set_thread_nice(10)
        }
        // Matrix products on the calling thread: OpenBLAS's own threads would run at normal priority and compete
        // with ingest, and two of them do no more work per CPU-second than one (insightbench semantic).
        SentenceEncoder.setMatrixProductThreads(1)
        let directory = settings.resolvedModelDirectory
        state.set(state: "loading")
        let encoder: SentenceEncoder
        do {
            encoder = try await work.run { try SentenceEncoder(modelDirectory: directory) }
        } catch {
            let reason = "no sentence model: \(error); or set semantic.model_dir to the folder that holds it"
            state.set(state: "off", reason: reason)
            logger.notice("meaning features are off", metadata: ["reason": "\(reason)"])
            await work.shutdown()
            try? await gracefulShutdown()
            return
        }
        state.loaded(encoder, from: directory)
        await cancelWhenGracefulShutdown {
            await self.loop(encoder: encoder)
        }
        await work.shutdown()
    }

    private func loop(encoder: SentenceEncoder) async {
        let model = SentenceEncoder.modelName
        let database = self.database
        let shared = database.kind != "sqlite"
        do {
            let dropped = try await work.store { () throws(StoreError) in try database.dropVectors(notOf: model) }
            if dropped > 0 { logger.notice("dropped vectors of an earlier sentence model", metadata: ["count": "\(dropped)"]) }
            try await loadIndex(model: model, since: nil)
        } catch {
            logger.error("cannot load the sentence vectors: \(error)")
        }
        logger.info("sentence model loaded", metadata: ["model": "\(model)", "vectors": "\(state.index.count)"])
        var wakeups = wake.waiter()
        var cursor: Int64 = 0
        var lastRefresh = Date().timeIntervalSince1970
        var backoff = 1.0
        var lastBatchSeconds = 0.0
        var matrixLibraryChecked = false
        while !Task.isCancelled {
            let settings = self.settings.value
            // Files are waiting: rest long enough that embedding takes a small share of the time, and go on as
            // soon as the inbox is drained.
            var rest = EmbeddingDuty.pause(afterBatchSeconds: lastBatchSeconds)
            while rest > 0, ingestBacklog() > 0, !Task.isCancelled {
                let step = min(rest, EmbeddingDuty.checkSeconds)
                try? await Task.sleep(for: .milliseconds(Int(step * 1000)))
                rest -= step
            }
            if Task.isCancelled { break }
            let jobs: [EmbeddingJob]
            do {
                let after = cursor, limit = settings.semanticBatchSize
                jobs = try await work.store { () throws(StoreError) in
                    try database.claimInsightsToEmbed(model: model, afterID: after, limit: limit,
                                                     leaseSeconds: Self.leaseSeconds, now: Date().timeIntervalSince1970)
                }
            } catch {
                await pause(after: error, backoff: &backoff)
                continue
            }
            if jobs.isEmpty {
                // Past the end: insights below the cursor may still wait (a lease that ended, an earlier failure).
                if cursor > 0, let counts = try? await work.store({ () throws(StoreError) in try database.counts() }),
                   counts.uniqueInsights > counts.embeddedInsights {
                    cursor = 0
                    if !shared { continue }
                }
                state.set(state: "idle")
                if shared {
                    await wakeups.wait(timeout: Self.sharedRefreshSeconds)
                    let since = lastRefresh - 5
                    lastRefresh = Date().timeIntervalSince1970
                    try? await loadIndex(model: model, since: since)
                    cursor = 0
                } else {
                    await wakeups.wait(timeout: nil)
                }
                continue
            }
            state.set(state: "embedding")
            if !matrixLibraryChecked {
                // OpenBLAS is loaded only now that there is something to embed (it costs ~3 MiB and a thread).
                matrixLibraryChecked = true
                if let problem = try? await work.run({ SentenceEncoder.loadMatrixLibrary() }) {
                    logger.warning("OpenBLAS cannot be loaded: texts are embedded by a slow portable loop; install libopenblas0",
                                   metadata: ["reason": "\(problem)"])
                }
            }
            do {
                let started = monotonicSeconds()
                try await embed(jobs, encoder: encoder, model: model, threshold: settings.paraphraseThreshold)
                lastBatchSeconds = monotonicSeconds() - started
                backoff = 1
                cursor = jobs.last?.insightID ?? cursor
            } catch {
                await pause(after: error, backoff: &backoff)
            }
        }
    }

    /// Embeds one batch, finds its paraphrase suggestions, stores both in one transaction and adds the vectors to
    /// the index; all of it on the service's thread.
    private func embed(_ jobs: [EmbeddingJob], encoder: SentenceEncoder, model: String, threshold: Double) async throws(StoreError) {
        let (count, paraphrases) = try await work.store { () throws(StoreError) in
            try Self.process(jobs, encoder: encoder, model: model, threshold: threshold, index: self.state.index, database: self.database)
        }
        state.embedded(count)
        logger.debug("embedded a batch", metadata: ["count": "\(count)", "paraphrases": "\(paraphrases)"])
    }

    static func process(_ jobs: [EmbeddingJob], encoder: SentenceEncoder, model: String, threshold: Double, index: VectorIndex,
                        database: any EmbeddingStoring & InsightReading) throws(StoreError) -> (count: Int, paraphrases: Int) {
        let vectors = encoder.embed(jobs.map(\.text))
        var stored: [StoredVector] = []
        var quantized: [(Int64, QuantizedVector)] = []
        var candidates: [(job: EmbeddingJob, otherID: Int64, score: Float)] = []
        for (job, vector) in zip(jobs, vectors) {
            let q = QuantizedVector(vector)
            stored.append(StoredVector(insightID: job.insightID, scale: q.scale, bytes: q.bytes))
            quantized.append((job.insightID, q))
            // The nearest older insight (earlier ones of this batch included); newer ones find this one in their turn.
            let earlier = candidatesInBatch(vector, before: job.insightID, vectors: zip(jobs, vectors))
            let indexed = index.nearest(to: vector, limit: 4, excluding: [job.insightID]).first { $0.id < job.insightID }
            if let best = [earlier, indexed].compactMap({ $0 }).max(by: { $0.score < $1.score }), Double(best.score) >= threshold {
                candidates.append((job, best.id, best.score))
            }
        }
        var paraphrases: [StoredParaphrase] = []
        let now = Date().timeIntervalSince1970
        if !candidates.isEmpty {
            let apart = try database.keptApart(among: candidates.map(\.job.insightID))
            let batchTexts = Dictionary(jobs.map { ($0.insightID, $0.text) }, uniquingKeysWith: { first, _ in first })
            for candidate in candidates where !apart.contains(type(of: database).pairKey(candidate.job.insightID, candidate.otherID)) {
                // A figure, a negation or a name that differs makes it another claim, however close the meaning.
                var otherText = batchTexts[candidate.otherID]
                if otherText == nil { otherText = try database.insight(id: candidate.otherID)?.text }
                guard let otherText, ClaimCheck.difference(candidate.job.text, otherText) == nil else { continue }
                paraphrases.append(StoredParaphrase(insightID: candidate.job.insightID, otherID: candidate.otherID,
                                                    score: (Double(candidate.score) * 10_000).rounded() / 10_000, createdAt: now))
            }
        }
        try database.storeVectors(stored, paraphrases: paraphrases, model: model, now: now)
        // Into the index once stored: a search never finds a vector a restart would not have.
        for (id, q) in quantized { index.upsert(id: id, q) }
        return (stored.count, paraphrases.count)
    }

    /// The closest insight of the same batch stored before `id`, by cosine (the vectors are unit length).
    static func candidatesInBatch(_ vector: [Float], before id: Int64, vectors: some Sequence<(EmbeddingJob, [Float])>)
        -> (id: Int64, score: Float)? {
        var best: (id: Int64, score: Float)?
        for (job, other) in vectors where job.insightID < id {
            var dot: Float = 0
            for k in 0..<min(vector.count, other.count) { dot += vector[k] * other[k] }
            if dot > best?.score ?? -2 { best = (job.insightID, dot) }
        }
        return best
    }

    /// Loads stored vectors into the index, in pages; with `since`, only those stored since then.
    private func loadIndex(model: String, since: Double?) async throws(StoreError) {
        let database = self.database
        let index = state.index
        var after: Int64 = 0
        while !Task.isCancelled {
            let from = after
            let page = try await work.store { () throws(StoreError) in
                try database.vectors(model: model, afterID: from, embeddedSince: since, limit: 10_000)
            }
            for vector in page {
                index.upsert(id: vector.insightID, QuantizedVector(scale: vector.scale, bytes: vector.bytes))
            }
            guard page.count == 10_000, let last = page.last else { return }
            after = last.insightID
        }
    }

    private func pause(after error: StoreError, backoff: inout Double) async {
        logger.warning("embedding waits: \(error)", metadata: ["retry_in_s": "\(backoff)"])
        try? await Task.sleep(for: .milliseconds(Int(backoff * 1000)))
        backoff = min(60, backoff * 2)
    }
}

/// Reads the ingest backlog once the pipeline exists (the pipeline is made after the services that watch it).
final class PendingProbe: Sendable {
    private let probe = Mutex<(@Sendable () -> Int)?>(nil)

    func attach(_ body: @escaping @Sendable () -> Int) { probe.withLock { $0 = body } }

    func count() -> Int { probe.withLock { $0 }?() ?? 0 }
}

/// How much of the time embedding may take while files wait to be ingested. A batch of 32 texts takes about 0.4 s of
/// one core; resting one second after each still gave embedding about a third of a core during a bulk load (a fifth
/// of all samples on two cores while one daemon loaded a PostgreSQL store). Resting nine times as long as the last batch took keeps it to a tenth, and never less
/// than a second, so a backlog that never drains still gets its vectors, slowly.
enum EmbeddingDuty {
    /// The share of wall time embedding may take while files wait.
    static let share = 0.1
    /// The longest rest: a backlog that never drains still gets a batch this often.
    static let longestRestSeconds = 30.0
    /// How often a rest looks whether the inbox has drained.
    static let checkSeconds = 0.25

    /// The rest before the next batch while files wait, after a batch that took `seconds`.
    static func pause(afterBatchSeconds seconds: Double) -> Double {
        let rest = seconds * (1 - share) / share
        return min(max(rest, 1), longestRestSeconds)
    }
}
