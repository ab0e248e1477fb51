import Foundation
import InsightCore

/// A small, fast, seedable random generator, so every run with the same seed writes the same corpus.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What to generate: `files` files of `paragraphs` insights each, a share of them exact or near duplicates.
struct CorpusSpec: Sendable, Codable {
    var files: Int
    var paragraphs: Int
    /// Share of insights that repeat an earlier one (after normalization: same key).
    var exactShare: Double
    /// Share of insights that repeat an earlier one with one word changed (a different key).
    var nearShare: Double
    var seed: UInt64
    var prefix = "bulk"
}

/// One generated inbox file.
struct CorpusFile: Sendable {
    var name: String
    var bytes: [UInt8]
}

/// Generates synthetic notes: paragraphs of made-up words with a skewed word frequency (as in real text),
/// headings, dates, and a chosen share of exact and near duplicates.
struct CorpusGenerator {
    static let vocabulary: [String] = {
        // Deterministic made-up words from syllables: real-looking tokens for FTS5, no dictionary needed.
        var rng = SplitMix64(seed: 0x1D5_1647)
        let onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "st", "tr", "pl", "gr", "ch", "sh"]
        let vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
        let codas = ["", "", "", "n", "r", "s", "l", "m", "nd", "st", "ck"]
        var words: [String] = []
        var seen = Set<String>()
        while words.count < 6000 {
            let syllables = 1 + Int(rng.next() % 3)
            var word = ""
            for _ in 0..<syllables {
                word += onsets[Int(rng.next() % UInt64(onsets.count))]
                word += vowels[Int(rng.next() % UInt64(vowels.count))]
            }
            word += codas[Int(rng.next() % UInt64(codas.count))]
            if word.count >= 2, seen.insert(word).inserted { words.append(word) }
        }
        return words
    }()

    var rng: SplitMix64
    private var originals: [String] = []

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    /// A word, common ones far more often than rare ones.
    mutating func word() -> String {
        let u = unit()
        return Self.vocabulary[min(Self.vocabulary.count - 1, Int(u * u * u * Double(Self.vocabulary.count)))]
    }

    /// A fresh paragraph of 10 to 29 words, ending in a full stop.
    mutating func paragraph() -> String {
        let count = 10 + Int(rng.next() % 20)
        var words: [String] = []
        words.reserveCapacity(count)
        var previous = ""
        while words.count < count {
            let next = word()
            if next == previous { continue }  // a word typed twice is folded by the normalizer
            words.append(next)
            previous = next
        }
        words[0] = words[0].prefix(1).uppercased() + words[0].dropFirst()
        return words.joined(separator: " ") + "."
    }

    /// The next insight of the stream: new, an exact repeat of an earlier one, or a near repeat.
    mutating func insight(spec: CorpusSpec) -> String {
        let u = unit()
        if !originals.isEmpty, u < spec.exactShare {
            let base = originals[Int(rng.next() % UInt64(originals.count))]
            // Same key after normalization: identical, lower-cased, or with trailing punctuation changed.
            switch rng.next() % 3 {
            case 0: return base
            case 1: return base.lowercased()
            default: return String(base.dropLast()) + "!"
            }
        }
        if !originals.isEmpty, u < spec.exactShare + spec.nearShare {
            let base = originals[Int(rng.next() % UInt64(originals.count))]
            var words = base.dropLast().split(separator: " ").map(String.init)
            let index = 1 + Int(rng.next() % UInt64(max(1, words.count - 1)))
            if index < words.count { words[index] = words[index] + "ly" }
            return words.joined(separator: " ") + "."
        }
        let fresh = paragraph()
        originals.append(fresh)
        return fresh
    }

    /// The text of one file: an optional date, headings now and then, and `paragraphs` insights.
    mutating func fileText(paragraphs: Int, spec: CorpusSpec, extra: String? = nil) -> String {
        var out = ""
        if rng.next() % 2 == 0 {
            out += "date 2025-\(padded(1 + Int(rng.next() % 12), 2))-\(padded(1 + Int(rng.next() % 28), 2))\n\n"
        }
        for index in 0..<paragraphs {
            if index % 4 == 0, rng.next() % 2 == 0 {
                out += "# " + word().capitalized + " " + word() + "\n\n"
            }
            var text = insight(spec: spec)
            if index == 0, let extra { text = extra + " " + text }
            out += text + "\n\n"
        }
        return out
    }

    /// The whole corpus described by `spec`.
    static func corpus(_ spec: CorpusSpec) -> [CorpusFile] {
        var generator = CorpusGenerator(seed: spec.seed)
        var files: [CorpusFile] = []
        files.reserveCapacity(spec.files)
        for index in 0..<spec.files {
            let ext = index % 3 == 0 ? "txt" : "md"
            let name = "\(spec.prefix)-\(padded(index, 6)).\(ext)"
            files.append(CorpusFile(name: name, bytes: Array(generator.fileText(paragraphs: spec.paragraphs, spec: spec).utf8)))
        }
        return files
    }
}

/// What the store should hold after ingesting a corpus, computed with the daemon's own parser and normalizer.
struct ExpectedRows {
    struct File {
        var name: String
        var sha256: String
        var size: Int
        var date: String?
        var insights: [(text: String, line: Int, section: String?, fingerprint: [UInt8])]
    }
    var files: [File] = []
    var occurrences = 0
    var unique = 0

    init(_ corpus: [CorpusFile], minWords: Int = 6) {
        var seen = Set<[UInt8]>()
        let parser = DocumentParser(minWords: minWords)
        for file in corpus {
            let text = String(decoding: file.bytes, as: UTF8.self)
            let document = parser.parse(text)
            var insights: [(String, Int, String?, [UInt8])] = []
            for insight in document.insights {
                let fingerprint = Normalizer.fingerprint(ofKey: Normalizer.key(insight.text))
                if seen.insert(fingerprint).inserted { unique += 1 }
                insights.append((insight.text, insight.line, insight.section, fingerprint))
            }
            occurrences += insights.count
            files.append(File(name: file.name, sha256: Hashing.sha256Hex(file.bytes), size: file.bytes.count, date: document.date,
                              insights: insights.map { (text: $0.0, line: $0.1, section: $0.2, fingerprint: $0.3) }))
        }
    }
}

/// `value` in decimal, left-padded with zeros to `width` digits.
func padded(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
