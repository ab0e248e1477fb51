import Foundation
import Testing

@testable import InsightExtract

/// A regression guard on real pages: a sample of the shared extraction benchmark (when it is present),
/// scored the way its score.py scores (4-word shingles, per-page precision and recall averaged).
@Suite("Benchmark sample")
struct BenchmarkSampleTests {
    static let benchDir: String? = {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["INSIGHT_BENCH_EXTRACTION"] { candidates.append(env) }
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        candidates += [root.path + "/../shared/bench/extraction", "/work/shared/bench/extraction"]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/ground-truth.json") }
    }()

    static func shingles(_ text: String) -> [String: Int] {
        var words: [String] = []
        var current = ""
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber || ch == "_" { current.append(ch) } else if !current.isEmpty {
                words.append(current)
                current = ""
            }
        }
        if !current.isEmpty { words.append(current) }
        var out: [String: Int] = [:]
        if words.count < 4 {
            if !words.isEmpty { out[words.joined(separator: " "), default: 0] += 1 }
            return out
        }
        for i in 0...(words.count - 4) { out[words[i..<i + 4].joined(separator: " "), default: 0] += 1 }
        return out
    }

    @Test("every ninth page scores F1 above 0.93", .enabled(if: benchDir != nil))
    func sample() throws {
        let dir = Self.benchDir!
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/ground-truth.json"))
        let truth = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let ids = truth.keys.sorted().enumerated().filter { $0.offset % 9 == 0 }.map(\.element)
        var precisions: [Double] = [], recalls: [Double] = []
        for id in ids {
            let article = try ArticleExtractor.extract(fileAtPath: dir + "/html/" + id + ".html.gz")
            let p = Self.shingles(article.text)
            let t = Self.shingles(truth[id]?["articleBody"] as? String ?? "")
            let common = p.reduce(0) { $0 + min($1.value, t[$1.key] ?? 0) }
            let pn = p.values.reduce(0, +), tn = t.values.reduce(0, +)
            precisions.append(pn > 0 ? Double(common) / Double(pn) : 1)
            recalls.append(tn > 0 ? Double(common) / Double(tn) : 1)
        }
        let P = precisions.reduce(0, +) / Double(ids.count)
        let R = recalls.reduce(0, +) / Double(ids.count)
        let f1 = 2 * P * R / (P + R)
        #expect(ids.count >= 20)
        #expect(f1 > 0.93, "F1 \(f1) (precision \(P), recall \(R)) on \(ids.count) pages")
    }
}
