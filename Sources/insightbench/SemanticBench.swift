import ArgumentParser
import COpenBLAS
import Foundation
import InsightSemantic

/// `insightbench semantic`: sentence-embedding throughput beside raw OpenBLAS sgemm on the same shapes,
/// nearest-neighbour latency at 100k and 1M vectors, bytes per vector, RSS with the model loaded.
struct SemanticBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "semantic",
        abstract: "Sentence-embedding throughput and nearest-neighbour latency.",
        discussion: """
            Embeds batches of realistic insight sentences (about 30 tokens each) with 1 and 2 OpenBLAS threads, \
            and times cblas_sgemm alone on exactly the matrix shapes of those batches in the same run (the floor). \
            Then fills the int8 index with vectors around real embeddings of varied sentences (or, with \
            --set random, uniformly random directions) and times nearest-10 queries two ways on the same queries: \
            the index's default search (a sign-sketch pass, then int8 rescoring of a shortlist, from \
            --exact-below vectors on) and the exhaustive int8 scan, with the recall@10 of the first against the second \
            (k = 10 + excluded ids + 16).
            """)

    @Option(help: "Model folder; default $INSIGHTD_MODEL_DIR or the user location deploy/fetch-model.sh installs to.")
    var model: String?

    @Option(help: "Texts per batch.")
    var batch: Int = 32

    @Option(help: "Timed batches per thread setting.")
    var batches: Int = 10

    @Option(parsing: .upToNextOption, help: "Index sizes to measure.")
    var vectors: [Int] = [100_000, 1_000_000]

    @Option(help: "Queries per index size.")
    var queries: Int = 200

    @Option(help: "Vectors to search: clustered (around real sentence embeddings) or random (uniform directions).")
    var set: String = "clustered"

    @Option(help: "Sentences embedded as cluster centres for --set clustered.")
    var centres: Int = 2000

    @Option(parsing: .upToNextOption, help: "Noise length range (σ, low and high) around the centres for --set clustered.")
    var noise: [Float] = [0.3, 0.9]

    @Option(help: "Index size from which a search compares sign sketches first (VectorIndex exactScanBelow).")
    var exactBelow: Int = VectorIndex(dimensions: 1).exactScanBelow

    @Option(help: "Slots rescored per vector asked for after the sketch pass (VectorIndex oversampling).")
    var oversampling: Int = VectorIndex(dimensions: 1).oversampling

    @Option(help: "Threads a search splits its scan across (VectorIndex scanThreads); default: up to 2, as cores allow.")
    var scanThreads: Int?

    @Flag(help: "Short run: 4 batches, 50 queries per index size, 500 centres.")
    var quick = false

    @Flag(help: "Leave out the embedding throughput (the model still embeds the centres).")
    var nearestOnly = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        let modelDirectory = model ?? environment["INSIGHTD_MODEL_DIR"] ?? (data + "/insightd/models/" + SentenceEncoder.modelName)
        let batchCount = quick ? min(batches, 4) : batches
        let queryCount = quick ? min(queries, 50) : queries

        var rows: [(String, String, String, String)] = []
        let rssStart = ProcessMemory.residentBytes()
        let loadStart = ContinuousClock.now
        let encoder = try SentenceEncoder(modelDirectory: modelDirectory)
        let loadSeconds = (ContinuousClock.now - loadStart).seconds
        let rssLoaded = ProcessMemory.residentBytes()

        let texts = (0..<(batch * batchCount)).map { Self.sentence($0) }
        let tokenized = texts.map { encoder.tokenizer.encode($0) }
        let meanTokens = Double(tokenized.reduce(0) { $0 + $1.count }) / Double(tokenized.count)
        _ = encoder.embed(tokenized: Array(tokenized.prefix(batch)))  // pages the weights in
        let rssWarm = ProcessMemory.residentBytes()
        print("semantic: \(SentenceEncoder.modelName) loaded in \(String(format: "%.3f", loadSeconds)) s; "
            + "\(texts.count) texts of \(String(format: "%.1f", meanTokens)) tokens on average, batches of \(batch)")
        rows.append(("model load", "\(String(format: "%.0f", loadSeconds * 1000)) ms", "", ""))
        rows.append(("RSS: before / model mapped / after first batch",
                     "\(mib(rssStart)) / \(mib(rssLoaded)) / \(mib(rssWarm))", "", ""))

        let defaultThreads = SentenceEncoder.matrixProductThreads
        for threads in nearestOnly ? [] : [1, 2] {
            SentenceEncoder.setMatrixProductThreads(threads)
            var seconds = 0.0, cpuSeconds = 0.0, flops = 0.0, floorSeconds = 0.0
            for b in 0..<batchCount {
                let chunk = Array(tokenized[(b * batch)..<((b + 1) * batch)])
                let start = ContinuousClock.now
                let cpuStart = Self.processCPUSeconds()
                let out = encoder.embed(tokenized: chunk)
                cpuSeconds += Self.processCPUSeconds() - cpuStart
                seconds += (ContinuousClock.now - start).seconds
                precondition(out.count == chunk.count)
                flops += SentenceEncoder.floatingPointOperations(tokenCounts: chunk.map(\.count))
                floorSeconds += SgemmFloor.seconds(tokenCounts: chunk.map(\.count))
            }
            let gflops = flops / seconds / 1e9, floorGflops = flops / floorSeconds / 1e9
            let share = gflops / floorGflops * 100
            rows.append(("embed, \(threads) OpenBLAS thread\(threads == 1 ? "" : "s")",
                         "\(String(format: "%.0f", Double(batchCount * batch) / seconds)) texts/s, \(String(format: "%.1f", gflops)) GFLOP/s = \(String(format: "%.0f", share)) % of floor"
                            + " (\(String(format: "%.0f", Double(batchCount * batch) / cpuSeconds)) texts per CPU-second)",
                         "sgemm alone: \(String(format: "%.1f", floorGflops)) GFLOP/s",
                         "≥ 50 % of floor: \(share >= 50 ? "yes" : "NO")"))
        }
        SentenceEncoder.setMatrixProductThreads(defaultThreads)

        let embeddingSet: EmbeddingSet
        switch set {
        case "random":
            embeddingSet = .random
        case "clustered":
            guard noise.count == 2, noise[0] >= 0, noise[0] <= noise[1] else { throw ValidationError("--noise takes two values, low and high") }
            let centreTexts = EmbeddingSet.texts(quick ? min(centres, 500) : centres)
            let embedStart = ContinuousClock.now
            let embedded = stride(from: 0, to: centreTexts.count, by: batch).flatMap { start in
                encoder.embed(Array(centreTexts[start..<min(centreTexts.count, start + batch)]))
            }
            print("semantic: \(embedded.count) centre sentences embedded in \(String(format: "%.1f", (ContinuousClock.now - embedStart).seconds)) s")
            embeddingSet = .clustered(centres: embedded, noise: noise[0]...noise[1])
        default:
            throw ValidationError("--set is clustered or random")
        }
        rows.append(("nearest-neighbour vectors", embeddingSet.description, "", ""))
        for count in vectors {
            rows.append(contentsOf: Self.nearest(count: count, queries: queryCount, dimensions: encoder.dimensions, set: embeddingSet,
                                                 exactBelow: exactBelow, oversampling: oversampling, scanThreads: scanThreads))
        }

        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        rows.append(("machine", "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(load) at the end", "", ""))
        let widths = (0..<4).map { c in rows.map { [$0.0, $0.1, $0.2, $0.3][c].count }.max() ?? 0 }
        print("| figure | value | floor / peer in the same run | goal |")
        print("|---|---|---|---|")
        for r in rows {
            let cells = [r.0, r.1, r.2, r.3].enumerated().map { $1.padding(toLength: max(widths[$0], $1.count), withPad: " ", startingAt: 0) }
            print("| " + cells.joined(separator: " | ") + " |")
        }
    }

    private static func nearest(count: Int, queries: Int, dimensions: Int, set: EmbeddingSet, exactBelow: Int,
                                oversampling: Int, scanThreads: Int?) -> [(String, String, String, String)] {
        var rng = SplitMix64(seed: UInt64(count))
        let rssBefore = ProcessMemory.residentBytes()
        let index = VectorIndex(dimensions: dimensions, scanThreads: scanThreads, exactScanBelow: exactBelow, oversampling: oversampling)
        index.reserveCapacity(count)
        var samples: [(id: Int64, vector: [Float])] = []
        let buildStart = ContinuousClock.now
        for id in 0..<count {
            let v = set.vector(dimensions: dimensions, using: &rng)
            if id % max(1, count / queries) == 0 { samples.append((Int64(id), v)) }
            index.upsert(id: Int64(id), QuantizedVector(v))
        }
        let buildSeconds = (ContinuousClock.now - buildStart).seconds
        let bytes = Double(ProcessMemory.residentBytes() - rssBefore) / Double(count)
        // Half the queries are a stored vector, its own id left out (an insight's neighbours); half are a new
        // vector of the set (a text searched for).
        let queryList = (0..<queries).map { q -> (vector: [Float], excluding: Set<Int64>) in
            let sample = samples[q % samples.count]
            return q % 2 == 0 ? (sample.vector, [sample.id]) : (set.vector(dimensions: dimensions, using: &rng), [])
        }
        var fast = Timings(), exact = Timings()
        var overlap = 0
        var tenth: [Float] = []  // the cosine of the 10th neighbour, to say how close neighbours are in this set
        for (q, query) in queryList.enumerated() {
            // Alternating which goes first, so neither always finds the caches warm.
            let order = q % 2 == 0 ? [false, true] : [true, false]
            var results: [Bool: [Int64]] = [:]
            for exhaustive in order {
                let start = ContinuousClock.now
                let cpuStart = processCPUSeconds()
                let found = index.nearest(to: query.vector, limit: 10, excluding: query.excluding, exhaustive: exhaustive)
                let cpu = (processCPUSeconds() - cpuStart) * 1000, wall = (ContinuousClock.now - start).seconds * 1000
                precondition(found.count == 10)
                results[exhaustive] = found.map(\.id)
                if exhaustive {
                    exact.add(wall: wall, cpu: cpu)
                    tenth.append(found[9].score)
                } else {
                    fast.add(wall: wall, cpu: cpu)
                }
            }
            overlap += Set(results[false]!).intersection(results[true]!).count
        }
        let recall = Double(overlap) / Double(10 * queries)
        let label = count >= 1_000_000 ? "\(count / 1_000_000)M" : "\(count / 1000)k"
        let method = count >= index.exactScanBelow
            ? "sketch pass + int8 rescoring of \(index.oversampling) × k"
            : "exhaustive (below \(index.exactScanBelow) vectors)"
        let goal = count >= 1_000_000 ? "p50 ≤ 30 ms: \(fast.p50 <= 30 ? "yes" : "NO")" : ""
        return [
            ("nearest 10 of \(label), p50 / p99, \(method) (\(queries) queries, up to \(index.scanThreads) scan threads)",
             "\(fast.summary), recall@10 \(String(format: "%.3f", recall))",
             "exhaustive int8 scan, same queries: \(exact.summary)", goal),
            ("neighbours at \(label): cosine of the 10th, median", String(format: "%.2f", tenth.sorted()[tenth.count / 2]), "", ""),
            ("bytes per vector at \(label)",
             "\(index.bytesPerVector) held, 48 of them the sign sketch (RSS growth \(String(format: "%.0f", bytes)))",
             "index filled in \(String(format: "%.1f", buildSeconds)) s", ""),
        ]
    }

    /// Latencies of one kind of query, in milliseconds.
    struct Timings {
        var wall: [Double] = [], cpu: [Double] = []
        mutating func add(wall w: Double, cpu c: Double) {
            wall.append(w)
            cpu.append(c)
        }
        var p50: Double { wall.sorted()[wall.count / 2] }
        var summary: String {
            let w = wall.sorted(), c = cpu.sorted()
            let p99 = w[min(w.count - 1, w.count * 99 / 100)]
            return "\(String(format: "%.2f", p50)) / \(String(format: "%.2f", p99)) ms (CPU p50 \(String(format: "%.2f", c[c.count / 2])) ms)"
        }
    }

    /// CPU time of the whole process (every thread), so a loaded machine's wait is told apart from work.
    static func processCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    private func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

    /// Insight-like sentences of about 30 tokens, varied so no two texts of a batch are the same.
    static func sentence(_ n: Int) -> String {
        let subjects = ["Teams that write decisions down", "People who sleep seven hours", "Companies that raise prices slowly",
                        "Students who explain a topic aloud", "Investors who rebalance once a year", "Cities that plant street trees",
                        "Managers who hold shorter meetings", "Writers who revise the next morning"]
        let claims = ["make fewer costly mistakes over the following year", "remember twice as much a week later",
                      "keep more of their customers when markets turn", "recover faster from setbacks than their peers",
                      "report higher satisfaction in long-term surveys", "spend less time fixing the same problems again"]
        let reasons = ["because the habit forces them to state their assumptions", "since small, regular feedback compounds over time",
                       "as several independent studies from different countries found", "according to a decade of data from thousands of cases"]
        return "\(subjects[n % subjects.count]) \(claims[(n / 8) % claims.count]), \(reasons[(n / 48) % reasons.count]) (case \(n))."
    }
}

/// The matrix products of one forward pass, without anything else: the floor the encoder is measured against.
enum SgemmFloor {
    static func seconds(tokenCounts: [Int]) -> Double {
        let h = 384, inner = 1536, total = tokenCounts.reduce(0, +), longest = tokenCounts.max() ?? 1
        var a = (0..<(total * inner)).map { Float($0 % 17) * 0.01 }
        let w = (0..<(h * inner)).map { Float($0 % 13) * 0.01 }
        var c = [Float](repeating: 0, count: total * inner)
        var s = [Float](repeating: 0, count: longest * longest)
        let start = ContinuousClock.now
        a.withUnsafeMutableBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                s.withUnsafeMutableBufferPointer { s in
                    w.withUnsafeBufferPointer { w in
                        let a = a.baseAddress!, c = c.baseAddress!, s = s.baseAddress!, w = w.baseAddress!
                        func gemm(_ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ x: UnsafePointer<Float>, _ lda: Int,
                                  _ y: UnsafePointer<Float>, _ ldb: Int, _ out: UnsafeMutablePointer<Float>, _ ldc: Int) {
                            insight_sgemm(InsightNoTrans, transB ? InsightTrans : InsightNoTrans, Int32(m), Int32(n), Int32(k),
                                        1, x, Int32(lda), y, Int32(ldb), 0, out, Int32(ldc))
                        }
                        for _ in 0..<6 {
                            for _ in 0..<4 { gemm(true, total, h, h, a, h, w, h, c, h) }  // Q, K, V, attention output
                            gemm(true, total, inner, h, a, h, w, h, c, inner)             // intermediate
                            gemm(true, total, h, inner, a, inner, w, inner, c, h)         // output
                            var row = 0
                            for length in tokenCounts {
                                for head in 0..<12 {
                                    let qk = a + row * h + head * 32
                                    gemm(true, length, length, 32, qk, h, qk, h, s, length)
                                    gemm(false, length, 32, length, s, length, qk, h, c + row * h + head * 32, h)
                                }
                                row += length
                            }
                        }
                    }
                }
            }
        }
        return (ContinuousClock.now - start).seconds
    }
}
