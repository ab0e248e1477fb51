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
            Then fills the int8 index with random unit vectors and times nearest-neighbour queries.
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

    @Flag(help: "Short run: 4 batches, 50 queries per index size.")
    var quick = false

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
        for threads in [1, 2] {
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

        for count in vectors {
            rows.append(contentsOf: Self.nearest(count: count, queries: queryCount, dimensions: encoder.dimensions))
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

    private static func nearest(count: Int, queries: Int, dimensions: Int) -> [(String, String, String, String)] {
        var rng = SplitMix64(seed: UInt64(count))
        let rssBefore = ProcessMemory.residentBytes()
        let index = VectorIndex(dimensions: dimensions)
        index.reserveCapacity(count)
        var samples: [[Float]] = []
        var v = [Float](repeating: 0, count: dimensions)
        let buildStart = ContinuousClock.now
        for id in 0..<count {
            for i in 0..<dimensions { v[i] = Float.random(in: -1...1, using: &rng) }
            if id % max(1, count / queries) == 0 { samples.append(v) }
            index.upsert(id: Int64(id), QuantizedVector(v))
        }
        let buildSeconds = (ContinuousClock.now - buildStart).seconds
        let bytes = Double(ProcessMemory.residentBytes() - rssBefore) / Double(count)
        var latencies: [Double] = [], cpu: [Double] = []
        for q in 0..<queries {
            // Near a stored vector, as a query for an insight's neighbours is.
            let query = samples[q % samples.count].map { $0 + Float.random(in: -0.3...0.3, using: &rng) }
            let start = ContinuousClock.now
            let cpuStart = processCPUSeconds()
            let found = index.nearest(to: query, limit: 10, excluding: [Int64(q)])
            cpu.append((processCPUSeconds() - cpuStart) * 1000)
            latencies.append((ContinuousClock.now - start).seconds * 1000)
            precondition(found.count == 10)
        }
        latencies.sort()
        cpu.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        let label = count >= 1_000_000 ? "\(count / 1_000_000)M" : "\(count / 1000)k"
        let goal = count >= 1_000_000 ? "p50 ≤ 30 ms: \(p50 <= 30 ? "yes" : "NO")" : ""
        return [
            ("nearest 10 of \(label), p50 / p99 (\(queries) queries, \(index.scanThreads) scan threads)",
             "\(String(format: "%.2f", p50)) ms / \(String(format: "%.2f", p99)) ms (CPU p50 \(String(format: "%.2f", cpu[cpu.count / 2])) ms)",
             "index filled in \(String(format: "%.1f", buildSeconds)) s", goal),
            ("bytes per vector at \(label)", "\(index.bytesPerVector) held (RSS growth \(String(format: "%.0f", bytes)))", "",
             "≤ 400: \(index.bytesPerVector <= 400 ? "yes" : "NO")"),
        ]
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
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
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
