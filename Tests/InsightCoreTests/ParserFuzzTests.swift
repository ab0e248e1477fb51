import Foundation
import InsightCore
import Testing

/// A small seeded generator (SplitMix64), so every run mutates the same way and a failure names its input.
struct FuzzRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ count: Int) -> Int { Int(next() % UInt64(max(count, 1))) }
}

/// The parsers a dropped file goes through, each fed mutated fixtures.
enum ParserUnderFuzz: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case plainText, markdown, kindleClippings, readwiseExport, readwiseCSV, frontMatter
    var testDescription: String { rawValue }
}

/// Mutates the format fixtures: bytes flipped, inserted, cut and repeated, and the markers each format keys on
/// (front matter fences, clipping separators, Readwise headings, list bullets, code fences) dropped anywhere.
struct DocumentMutator {
    static let fixtures: [String] = {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/formats")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().compactMap { try? String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }
    }()

    static let tokens: [String] = [
        "---\n", "+++\n", "...\n", "==========\n", "\n==========\n",
        "- Your Highlight on page 12 | Location 180-182 | Added on Tuesday, March 5, 2019 8:14:02 PM\n\n",
        "- Your Note on Location 182 | Added on Tuesday, March 5, 2019 8:15:00 PM\n\n", "- Your Bookmark on Location 9\n",
        "## Highlights\n", "## Highlights\n\n- ", "### ", "# ", "> ", "- ", "  - ", "\t- ", "* ", "+ ", "1. ", "```\n", "~~~\n",
        "| a | b |\n|---|---|\n| c | d |\n", "[[a page]]", "[text](https://example.org/x)", "<https://example.org/y>", "#tag ",
        "Tags: #economics #history\n", "Note: a note\n", "(Location 123)", " ([Location 1234](https://readwise.io/to_kindle?asin=B0&location=1234))",
        "- Author: [[Someone]]\n", "- URL: https://example.org/a\n", "title: A title\n", "date: 2024-02-30\n", "tags: [a, \"b\", #c]\n",
        "tags:\n  - x\n  - y\n", "source: https://example.org/s\n", "date = 2024-01-01\n", "\u{FEFF}", "\r", "\r\n", "\n\n", "\0", "\t",
        "\u{7F}", "\u{85}", "\u{2028}", "é", "e\u{301}", "🦀", "\u{200B}", "<br>", "&amp;", "\\", "*", "_", "`", "<!-- ", " -->", "=", ":",
        "Highlight,Book Title,Book Author,Note,Tags,Location Type,Location,Highlighted at\n", "\"", "\"\"", ",", ",,,\n",
    ]

    var rng: FuzzRandom

    /// A mutated fixture, or now and then pure noise.
    mutating func next() -> String {
        if rng.below(20) == 0 {
            return String(decoding: (0..<rng.below(600)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, as: UTF8.self)
        }
        var text = Self.fixtures[rng.below(Self.fixtures.count)]
        if rng.below(4) == 0 { text += Self.fixtures[rng.below(Self.fixtures.count)] }
        for _ in 0...rng.below(6) {
            var bytes = Array(text.utf8)
            switch rng.below(7) {
            case 0:
                for _ in 0...rng.below(10) where !bytes.isEmpty {
                    bytes[rng.below(bytes.count)] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
                }
            case 1:
                bytes.insert(contentsOf: (0...rng.below(12)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: rng.below(bytes.count + 1))
            case 2, 3:
                // At a line start half the time, where the markers mean most.
                var at = rng.below(bytes.count + 1)
                if rng.below(2) == 0, let lineStart = bytes[..<at].lastIndex(of: 0x0A) { at = lineStart + 1 }
                bytes.insert(contentsOf: Array(Self.tokens[rng.below(Self.tokens.count)].utf8), at: at)
            case 4:
                if !bytes.isEmpty {
                    let start = rng.below(bytes.count)
                    bytes.removeSubrange(start..<min(bytes.count, start + 1 + rng.below(200)))
                }
            case 5:
                bytes = Array(bytes.prefix(rng.below(bytes.count + 1)))
            default:
                if !bytes.isEmpty {
                    let start = rng.below(bytes.count), end = min(bytes.count, start + 1 + rng.below(120))
                    bytes.insert(contentsOf: Array(repeating: bytes[start..<end], count: 1 + rng.below(20)).joined(), at: end)
                }
            }
            text = String(decoding: bytes, as: UTF8.self)
        }
        return text
    }
}

/// The lines of `text` as the parsers count them: split at CR LF, CR or LF.
func fuzzLines(_ text: String) -> [Substring] {
    var lines: [Substring] = []
    var start = text.startIndex
    var index = text.startIndex
    // Characters, not scalars: Swift keeps CR LF as one Character.
    while index != text.endIndex {
        let character = text[index]
        if character == "\n" || character == "\r" || character == "\r\n" {
            lines.append(text[start..<index])
            start = text.index(after: index)
        }
        index = text.index(after: index)
    }
    lines.append(text[start...])
    return lines
}

/// Expects `line` to be a line of the file.
func expectLine(_ line: Int, of count: Int, _ format: DocumentFormat, _ what: String) {
    #expect((1...count).contains(line), "\(what) on line \(line) of \(count) (\(format))")
}

@Suite("the document parsers on random and mangled input")
struct ParserFuzzTests {
    static let iterations = 1500
    static let budget = 2.5

    @Test(arguments: ParserUnderFuzz.allCases)
    func mangledFilesNeverBreakAParser(_ parser: ParserUnderFuzz) throws {
        #expect(DocumentMutator.fixtures.count >= 10, "the format fixtures are missing")
        let seed = 0xF022_0000 + UInt64(ParserUnderFuzz.allCases.firstIndex(of: parser)!)
        var mutator = DocumentMutator(rng: FuzzRandom(seed: seed))
        let deadline = Date().addingTimeInterval(Self.budget)
        var done = 0, insights = 0
        for iteration in 0..<Self.iterations where Date() < deadline {
            let text = mutator.next()
            let minWords = [1, 3, 6][iteration % 3]
            let lines = fuzzLines(text)
            let label = "seed \(seed) iteration \(iteration)"
            switch parser {
            case .frontMatter:
                guard let matter = FrontMatter.read(lines) else { break }
                #expect((2...lines.count).contains(matter.lineCount), "\(label): a block of \(matter.lineCount) lines in \(lines.count)")
                for link in matter.links {
                    #expect((1...matter.lineCount).contains(link.line), "\(label): link on line \(link.line)")
                    #expect(!link.url.isEmpty, "\(label)")
                }
                #expect(matter.tags.allSatisfy { !$0.isEmpty }, "\(label): \(matter.tags)")
            default:
                let document: ParsedDocument
                switch parser {
                case .plainText: document = DocumentReader.parse(text, fileExtension: "txt", minWords: minWords)
                case .markdown: document = DocumentReader.parse(text, fileExtension: "md", minWords: minWords)
                case .kindleClippings: document = KindleClippings.parse(text, minWords: minWords)
                case .readwiseCSV: document = ReadwiseCSV.parse(text, minWords: minWords)
                default: document = ReadwiseExport.parse(text, minWords: minWords)
                }
                insights += document.insights.count
                for (index, insight) in document.insights.enumerated() {
                    #expect(!insight.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                            "\(label): insight \(index) is empty: \(insight.text.debugDescription)")
                    expectLine(insight.line, of: lines.count, document.format, "\(label): insight \(index)")
                    if let other = insight.variantOf {
                        #expect(document.insights.indices.contains(other) && other != index, "\(label): insight \(index) a variant of \(other)")
                    }
                }
                for link in document.links ?? [] {
                    expectLine(link.line, of: lines.count, document.format, "\(label): link \(link.url)")
                }
            }
            done += 1
        }
        #expect(done >= 100, "only \(done) inputs within \(Self.budget) s")
        print("\(parser.rawValue): \(done) mangled inputs, \(insights) insights")
    }
}
