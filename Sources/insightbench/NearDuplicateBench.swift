import ArgumentParser
import Foundation
import InsightCore
#if canImport(Glibc)
import Glibc
#endif

/// `insightbench neardup`: near-duplicate detection throughput, latency, memory and accuracy, beside datasketch.
struct NearDuplicateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neardup",
        abstract: "Near-duplicate detection throughput and accuracy.",
        discussion: """
            Indexes N synthetic insights, then streams new texts (25% same-claim variants, 25% changed-claim \
            variants, 50% new) through signature, LSH lookup and verification on one thread. Runs datasketch \
            (MinHashLSH, 128 permutations, 5-grams, threshold 0.8) on the same texts through \
            Tests/Benchmarks/neardup_datasketch.py, and both detectors on the labelled pair set.
            """)

    @Option(help: "Number of insights to index.")
    var count: Int = 1_000_000

    @Option(help: "Number of texts in the lookup stream.")
    var queries: Int = 50_000

    @Flag(help: "Small run: 50,000 indexed, 5,000 queries, datasketch on 20,000.")
    var quick = false

    @Option(help: "Insights indexed by datasketch (it indexes far more slowly); default min(count, 100000).")
    var datasketchCount: Int?

    @Flag(help: "Skip the datasketch row.")
    var skipDatasketch = false

    @Option(help: "Package root (for the labelled set and the Python driver); default: found from this source file.")
    var root: String?

    @Option(help: "Python interpreter with datasketch installed.")
    var python = "python3"

    func run() async throws {
        let indexedCount = quick ? min(count, 50_000) : count
        let queryCount = quick ? min(queries, 5_000) : queries
        let dsCount = min(indexedCount, datasketchCount ?? (quick ? 20_000 : 100_000))
        let rootURL = URL(fileURLWithPath: root ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path)

        print("neardup: generating \(indexedCount) synthetic insights and \(queryCount) stream texts (deterministic)")
        let generator = SyntheticInsights()
        var texts = [String]()
        texts.reserveCapacity(indexedCount)
        for i in 0..<indexedCount { texts.append(generator.text(seed: UInt64(i))) }
        let stream = generator.stream(count: queryCount, indexed: texts)
        let averageLength = texts.prefix(10_000).reduce(0) { $0 + $1.utf8.count } / max(1, min(10_000, texts.count))
        var pairRng = SplitMix64(seed: 0xA11)
        var jaccardSum = 0.0
        let samplePairs = 2_000
        for _ in 0..<samplePairs {
            let x = texts[Int(pairRng.next() % UInt64(texts.count))], y = texts[Int(pairRng.next() % UInt64(texts.count))]
            jaccardSum += PreparedText(x).shingles.jaccard(PreparedText(y).shingles)
        }
        print("neardup: average text length \(averageLength) bytes; mean 5-gram Jaccard of \(samplePairs) random pairs "
            + "\(String(format: "%.4f", jaccardSum / Double(samplePairs)))")

        // Build.
        let rssBefore = ProcessMemory.residentBytes()
        var detector = NearDuplicateDetector(expectedCount: indexedCount)
        let buildStart = ContinuousClock.now
        let buildCPUStart = try ThreadClock.cpuSeconds()
        for (i, text) in texts.enumerated() {
            try detector.insert(id: Int64(i), text: text)
        }
        let buildSeconds = (ContinuousClock.now - buildStart).seconds
        let buildCPUSeconds = try ThreadClock.cpuSeconds() - buildCPUStart
        let rssAfter = ProcessMemory.residentBytes()
        let indexBytes = detector.index.memoryBytes

        // Start-up rebuild from persisted band keys (what a store saves per insight: 4 bytes per band).
        var persistedKeys: [[UInt32]] = []
        persistedKeys.reserveCapacity(indexedCount)
        for text in texts {
            persistedKeys.append(try detector.index.bandKeys(for: MinHashSignature(tokens: NearDuplicateText.tokens(text))))
        }
        let rebuildCPUStart = try ThreadClock.cpuSeconds()
        var rebuilt = NearDuplicateIndex(layout: detector.index.layout, expectedCount: indexedCount)
        for (i, keys) in persistedKeys.enumerated() { try rebuilt.insert(id: Int64(i), bandKeys: keys) }
        let rebuildCPUSeconds = try ThreadClock.cpuSeconds() - rebuildCPUStart
        persistedKeys = []
        rebuilt = NearDuplicateIndex()

        // Stream: prepare (normalize + shingle), sign, look up, verify; each timed.
        var prepareNs: [Double] = [], signNs: [Double] = [], lookupNs: [Double] = [], verifyNs: [Double] = [], totalNs: [Double] = []
        prepareNs.reserveCapacity(queryCount)
        var candidateTotal = 0
        var outcome = StreamOutcome()
        let streamStart = ContinuousClock.now
        let streamCPUStart = try ThreadClock.cpuSeconds()
        for query in stream {
            let t0 = ContinuousClock.now
            let tokens = NearDuplicateText.tokens(query.text)
            let t1 = ContinuousClock.now
            let prepared = PreparedText(tokens: tokens)
            let signature = MinHashSignature(shingles: prepared.shingles)
            let t2 = ContinuousClock.now
            let candidates = try detector.index.candidates(for: signature)
            let t3 = ContinuousClock.now
            let match = candidates.isEmpty ? nil : detector.verify(prepared, candidates: candidates) { id in
                id >= 0 && id < texts.count ? texts[Int(id)] : nil
            }
            let t4 = ContinuousClock.now
            prepareNs.append((t1 - t0).nanoseconds)
            signNs.append((t2 - t1).nanoseconds)
            lookupNs.append((t3 - t2).nanoseconds)
            verifyNs.append(candidates.isEmpty ? 0 : (t4 - t3).nanoseconds)
            totalNs.append((t4 - t0).nanoseconds)
            candidateTotal += candidates.count
            outcome.record(query, match)
        }
        let streamSeconds = (ContinuousClock.now - streamStart).seconds
        let streamCPUSeconds = try ThreadClock.cpuSeconds() - streamCPUStart

        // Labelled set through the full detector (LSH + verification): insert a, look up b.
        let pairsURL = rootURL.appendingPathComponent("Tests/InsightCoreTests/Fixtures/neardup_pairs.jsonl")
        let pairs = try LabelledPairs.load(pairsURL)
        let ours = LabelledPairs.evaluate(pairs)

        print("")
        print("neardup: ours: \(indexedCount) indexed in \(fmt(buildSeconds)) s wall, \(fmt(buildCPUSeconds)) s thread CPU "
            + "(\(Int(Double(indexedCount) / buildCPUSeconds)) inserts per CPU second)")
        print("neardup: ours: stream of \(queryCount) in \(fmt(streamSeconds)) s wall (\(Int(Double(queryCount) / streamSeconds)) texts/s), "
            + "\(fmt(streamCPUSeconds)) s thread CPU (\(Int(Double(queryCount) / streamCPUSeconds)) texts per CPU second); "
            + "mean per text \(fmt(totalNs.reduce(0, +) / Double(max(1, totalNs.count)) / 1000)) µs")
        print("neardup: ours: rebuild of the index from persisted band keys: \(fmt(rebuildCPUSeconds)) s thread CPU")
        print("neardup: ours: index memory \(mb(indexBytes)) MB computed (\(fmt(Double(indexBytes) / Double(max(1, indexedCount)))) B/insight, "
            + "\(detector.index.slotCapacity) slots), RSS delta during build \(mb(rssAfter - rssBefore)) MB")
        print("neardup: ours: stream per text (µs): normalize p50 \(us(prepareNs, 0.5)), shingle+sign p50 \(us(signNs, 0.5)), "
            + "lookup p50 \(us(lookupNs, 0.5)) p99 \(us(lookupNs, 0.99)), verify (texts with candidates) p50 \(us(verifyNs.filter { $0 > 0 }, 0.5)) p99 \(us(verifyNs.filter { $0 > 0 }, 0.99)), "
            + "total p50 \(us(totalNs, 0.5)) p99 \(us(totalNs, 0.99)); mean candidates \(fmt(Double(candidateTotal) / Double(max(1, queryCount))))")
        print("neardup: ours: stream \(outcome.summary)")
        print("neardup: ours: labelled set \(ours.summary)")

        var peer: DatasketchRow?
        if !skipDatasketch {
            print("neardup: running datasketch on \(dsCount) indexed, \(min(queryCount, 5_000)) stream texts over those "
                + "(it indexes ~2,500 texts per second, so its N is smaller)")
            peer = try DatasketchRow.run(
                python: python, script: rootURL.appendingPathComponent("Tests/Benchmarks/neardup_datasketch.py"),
                indexed: Array(texts.prefix(dsCount)),
                stream: generator.stream(count: min(queryCount, 5_000), indexed: Array(texts.prefix(dsCount))),
                dsCount: dsCount, pairs: pairs)
        }

        print("")
        print("detector     | indexed   | inserts/s | stream texts/s (CPU) | lookup p50 µs | lookup p99 µs | total p99 µs | index MB | same-claim recall | changed merged")
        let streamRate = Double(queryCount) / streamCPUSeconds
        print(String(format: "insightd     | %9d | %9.0f | %20.0f | %13.1f | %13.1f | %12.1f | %8.1f | %17@ | %@",
                     indexedCount, Double(indexedCount) / buildCPUSeconds, streamRate,
                     pct(lookupNs, 0.5) / 1000, pct(lookupNs, 0.99) / 1000, pct(totalNs, 0.99) / 1000,
                     Double(indexBytes) / 1_048_576, ours.sameRecallText as NSString, ours.changedMergedText as NSString))
        if let peer {
            print(String(format: "datasketch   | %9d | %9.0f | %20.0f | %13.1f | %13.1f | %12.1f | %8.1f | %17@ | %@",
                         peer.indexed, peer.insertRate, peer.queryRate, peer.p50Micros, peer.p99Micros, peer.p99Micros,
                         peer.rssDeltaMB, peer.sameRecall as NSString, peer.changedMerged as NSString))
            print("datasketch: lookup = MinHash + LSH query (its whole detector); index MB = RSS delta while inserting; "
                + "stream \(peer.streamSummary)")
        }
        print("ours: texts/s per thread CPU second (the machine is shared; wall figures above); stream = normalize + sign + "
            + "lookup + verify; lookup = band keys + table probes. datasketch: process CPU time of its loops.")
    }
}

// MARK: - Synthetic insights

/// Deterministic insight-like paragraphs: 2-3 sentences of function words, Zipf-distributed content words from a
/// 50,000-word pseudo-vocabulary (syllables of English-like onsets, vowels and codas), and occasional numbers.
/// The syllable inventory is large so that unrelated texts share about as many 5-grams as unrelated English
/// paragraphs do (the run prints the mean Jaccard of random pairs; English insight paragraphs measure ≈ 0.015).
struct SyntheticInsights {
    static let onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
                         "br", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "ch", "sp", "sc", "qu"]
    static let vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y", "ee", "oa"]
    static let codas = ["", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "x", "ll", "ct"]
    static let functionWords = ["the", "of", "to", "and", "in", "is", "that", "for", "on", "with", "as", "by", "it",
                                "are", "from", "at", "this", "be", "was", "their", "which", "also", "a", "can", "more"]
    let vocabulary: [String]

    init() {
        var rng = SplitMix64(seed: 0xB0A7)
        func pick(_ list: [String]) -> String { list[Int(rng.next() % UInt64(list.count))] }
        var words = Set<String>()
        var list: [String] = []
        while list.count < 50_000 {
            let n = 1 + Int(rng.next() % 3)
            var w = ""
            for _ in 0..<n { w += pick(SyntheticInsights.onsets) + pick(SyntheticInsights.vowels) + pick(SyntheticInsights.codas) }
            if w.count >= 3, words.insert(w).inserted { list.append(w) }
        }
        vocabulary = list
    }

    func contentWord(_ rng: inout SplitMix64) -> String {
        // Log-uniform rank approximates Zipf's law (s = 1).
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        let rank = Int(exp(u * log(Double(vocabulary.count)))) - 1
        return vocabulary[min(max(rank, 0), vocabulary.count - 1)]
    }

    func text(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1CE)
        var sentences: [String] = []
        for _ in 0..<(2 + Int(rng.next() % 2)) {
            var words: [String] = []
            for _ in 0..<(9 + Int(rng.next() % 10)) {
                let r = rng.next() % 100
                if r < 35 {
                    words.append(SyntheticInsights.functionWords[Int(rng.next() % UInt64(SyntheticInsights.functionWords.count))])
                } else if r < 39 {
                    let n = 1 + rng.next() % 9_999
                    words.append(rng.next() % 3 == 0 ? "\(n)%" : "\(n)")
                } else {
                    words.append(contentWord(&rng))
                }
            }
            sentences.append(words.joined(separator: " ").capitalizedFirst + ".")
        }
        return sentences.joined(separator: " ")
    }

    enum Kind: String { case same, changed, new }

    struct Query {
        let kind: Kind
        let source: Int64
        let text: String
    }

    func stream(count: Int, indexed: [String]) -> [Query] {
        var rng = SplitMix64(seed: 0x57AE_A11)
        var queries: [Query] = []
        queries.reserveCapacity(count)
        for q in 0..<count {
            let r = rng.next() % 4
            if r >= 2 || indexed.isEmpty {
                queries.append(Query(kind: .new, source: -1, text: text(seed: UInt64(indexed.count + q) &+ 0x1_0000_0000)))
                continue
            }
            let source = Int(rng.next() % UInt64(indexed.count))
            var words = indexed[source].split(separator: " ").map(String.init)
            let position = Int(rng.next() % UInt64(words.count))
            if r == 0 {
                switch rng.next() % 4 {
                case 0:  // swap two adjacent letters in a longer word
                    // Letters only: swapped digits change a number, which is a different claim.
                    if let k = (0..<words.count).map({ ($0 + position) % words.count })
                        .first(where: { words[$0].count >= 6 && words[$0].allSatisfy(\.isLetter) }) {
                        var chars = Array(words[k]); chars.swapAt(2, 3); words[k] = String(chars)
                    }
                case 1: words[0] = "- " + words[0].lowercased()
                case 2: words.insert(words[position], at: position)
                default: if let k = words.firstIndex(of: "the") { words.remove(at: k) } else { words[position] = words[position].uppercased() }
                }
                queries.append(Query(kind: .same, source: Int64(source), text: words.joined(separator: " ")))
            } else {
                switch rng.next() % 3 {
                case 0:  // a number, or a negation where there is none
                    if let k = words.firstIndex(where: { $0.first?.isNumber == true }) {
                        words[k] = "\(Int(words[k].filter(\.isNumber)).map { $0 + 1 } ?? 7)"
                    } else {
                        words.insert("not", at: max(1, position))
                    }
                case 1: words.insert("not", at: max(1, position))
                default:
                    var k = position
                    while SyntheticInsights.functionWords.contains(words[k].lowercased()) { k = (k + 1) % words.count }
                    let punctuation = words[k].last == "." ? "." : ""
                    var replacement = contentWord(&rng)
                    while replacement.count < 4 || words[k].lowercased().hasPrefix(replacement) { replacement = contentWord(&rng) }
                    words[k] = replacement + punctuation
                }
                queries.append(Query(kind: .changed, source: Int64(source), text: words.joined(separator: " ")))
            }
        }
        return queries
    }
}

struct StreamOutcome {
    var sameFound = 0, sameTotal = 0, changedMerged = 0, changedConflict = 0, changedTotal = 0, newMerged = 0, newTotal = 0

    mutating func record(_ query: SyntheticInsights.Query, _ match: NearDuplicateMatch?) {
        switch query.kind {
        case .same:
            sameTotal += 1
            if match?.sameClaim?.id == query.source { sameFound += 1 } else if ProcessInfo.processInfo.environment["NEARDUP_DEBUG"] != nil {
                print("MISS \(query.text) :: \(String(describing: match))")
            }
        case .changed:
            changedTotal += 1
            if match?.sameClaim?.id == query.source {
                changedMerged += 1
                if ProcessInfo.processInfo.environment["NEARDUP_DEBUG"] != nil { print("MERGED \(query.text) :: \(String(describing: match))") }
            }
            if match?.conflicts.contains(where: { $0.id == query.source }) == true { changedConflict += 1 }
        case .new:
            newTotal += 1
            if match?.sameClaim != nil { newMerged += 1 }
        }
    }

    var summary: String {
        "same-claim variants found \(sameFound)/\(sameTotal); changed-claim merged \(changedMerged)/\(changedTotal), "
            + "flagged as conflict \(changedConflict)/\(changedTotal); new texts merged \(newMerged)/\(newTotal)"
    }
}

// MARK: - Labelled set

struct LabelledPairs {
    struct Pair: Decodable {
        let a: String
        let b: String
        let label: String
        let kind: String
    }

    struct Result {
        var same = 0, sameMerged = 0, changed = 0, changedMerged = 0, unrelated = 0, unrelatedMerged = 0
        var sameRecallText: String {
            "\(sameMerged)/\(same) = \(String(format: "%.3f", Double(sameMerged) / Double(max(1, same))))"
        }
        var changedMergedText: String {
            "\(changedMerged)/\(changed) = \(String(format: "%.1f%%", 100 * Double(changedMerged) / Double(max(1, changed))))"
        }
        var summary: String {
            "same-claim merged \(sameRecallText); changed-claim merged \(changedMergedText); "
                + "unrelated merged \(unrelatedMerged)/\(unrelated)"
        }
    }

    static func load(_ url: URL) throws -> [Pair] {
        let data = try Data(contentsOf: url)
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(Pair.self, from: Data($0)) }
    }

    static func evaluate(_ pairs: [Pair]) -> Result {
        var result = Result()
        for pair in pairs {
            var detector = NearDuplicateDetector()
            let merged: Bool
            do {
                try detector.insert(id: 1, text: pair.a)
                merged = detector.match(pair.b) { $0 == 1 ? pair.a : nil }?.sameClaim?.id == 1
            } catch {
                merged = false
            }
            switch pair.label {
            case "same": result.same += 1; if merged { result.sameMerged += 1 }
            case "changed": result.changed += 1; if merged { result.changedMerged += 1 }
            default: result.unrelated += 1; if merged { result.unrelatedMerged += 1 }
            }
        }
        return result
    }
}

// MARK: - datasketch

struct DatasketchRow {
    let indexed: Int
    let insertRate: Double
    let queryRate: Double
    let p50Micros: Double
    let p99Micros: Double
    let rssDeltaMB: Double
    let sameRecall: String
    let changedMerged: String
    let streamSummary: String

    struct Output: Decodable {
        let indexed: Int
        let build_seconds: Double
        let queries: Int
        let query_seconds: Double
        let p50_ms: Double
        let p99_ms: Double
        let rss_delta_mb: Double
        let stream: [String: [Int]]
        let labelled: [String: [Int]]
    }

    static func run(
        python: String, script: URL, indexed: [String], stream: [SyntheticInsights.Query], dsCount: Int,
        pairs: [LabelledPairs.Pair]
    ) throws -> DatasketchRow {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("neardup-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // datasketch gets the same normalized text our shingler sees, so the rows compare detectors, not cleaners.
        let flat = { (s: String) in NearDuplicateText.normalize(s) }
        try (indexed.map(flat).joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("indexed.txt"), atomically: false, encoding: .utf8)
        try stream.map { "\($0.kind == .new ? -1 : $0.source)\t\($0.kind.rawValue)\t\(flat($0.text))" }
            .joined(separator: "\n").appending("\n")
            .write(to: directory.appendingPathComponent("queries.tsv"), atomically: false, encoding: .utf8)
        try pairs.map { "\($0.label)\t\(flat($0.a))\t\(flat($0.b))" }.joined(separator: "\n").appending("\n")
            .write(to: directory.appendingPathComponent("pairs.tsv"), atomically: false, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script.path, directory.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let output = try? JSONDecoder().decode(Output.self, from: Data(line.utf8)) else {
            throw BenchError(message: "The datasketch driver failed (exit \(process.terminationStatus)); "
                + "install it with `pip install datasketch`, or pass --skip-datasketch.")
        }
        func ratio(_ key: String) -> (Int, Int) { (output.labelled[key]?[0] ?? 0, output.labelled[key]?[1] ?? 0) }
        let same = ratio("same"), changed = ratio("changed")
        let s = output.stream
        return DatasketchRow(
            indexed: output.indexed,
            insertRate: Double(output.indexed) / output.build_seconds,
            queryRate: Double(output.queries) / output.query_seconds,
            p50Micros: output.p50_ms * 1000, p99Micros: output.p99_ms * 1000,
            rssDeltaMB: output.rss_delta_mb,
            sameRecall: "\(same.0)/\(same.1) = \(String(format: "%.3f", Double(same.0) / Double(max(1, same.1))))",
            changedMerged: "\(changed.0)/\(changed.1) = \(String(format: "%.1f%%", 100 * Double(changed.0) / Double(max(1, changed.1))))",
            streamSummary: "same-claim variants found \(s["same"]?[0] ?? 0)/\(s["same"]?[1] ?? 0); changed-claim merged "
                + "\(s["changed"]?[0] ?? 0)/\(s["changed"]?[1] ?? 0); new texts with any candidate \(s["new"]?[0] ?? 0)/\(s["new"]?[1] ?? 0)")
    }
}

struct BenchError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

// MARK: - Helpers

enum ThreadClock {
    /// CPU time consumed by the calling thread: throughput per core that other processes on the machine do not skew.
    static func cpuSeconds() throws -> Double {
        var now = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else {
            throw BenchError(message: "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed (errno \(errno)); this benchmark needs Linux.")
        }
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

enum ProcessMemory {
    /// VmRSS from /proc/self/status, in bytes (0 when unavailable).
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.filter(\.isNumber)
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var nanoseconds: Double { seconds * 1e9 }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}

private func pct(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

private func us(_ values: [Double], _ p: Double) -> String { String(format: "%.1f", pct(values, p) / 1000) }
private func fmt(_ x: Double) -> String { String(format: "%.2f", x) }
private func mb(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
