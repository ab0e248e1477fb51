import Foundation
import Testing
@testable import InsightSemantic

@Suite("Tokens and embeddings equal the Python reference")
struct EncoderParityTests {
    @Test("token ids equal the tokenizers package", arguments: ModelFixtures.tokenCases)
    func tokens(_ c: ModelFixtures.TokenCase) throws {
        let encoder = try ModelFixtures.encoder()
        #expect(encoder.tokenizer.encode(c.text, maxTokens: 256) == c.ids)
    }

    @Test("a text read in pieces gives the tokens of the whole text read at once", arguments: [1, 3, 7, 64, 1_000])
    func piecesGiveTheTokensOfTheWholeText(pieceScalars: Int) throws {
        let tokenizer = try ModelFixtures.encoder().tokenizer
        let tricky = "Caf\u{E9} e \u{301}x  na\u{EF}ve\t\u{5E73}\u{6210} [SEP] \u{201C}quoted\u{201D} 3.14 https://example.com/a?b=c "
            + String(repeating: "x", count: 300) + " \u{1F600} end.\n"
        let long = String(repeating: tricky, count: 40) + ModelFixtures.tokenCases.map(\.text).joined(separator: " \n ")
        for text in ModelFixtures.tokenCases.map(\.text) + [tricky, long] {
            for maxTokens in [16, 256] {
                let whole = tokenizer.encode(text, maxTokens: maxTokens, pieceScalars: Int.max)
                #expect(tokenizer.encode(text, maxTokens: maxTokens, pieceScalars: pieceScalars) == whole,
                        "\(text.prefix(40))… in pieces of \(pieceScalars), \(maxTokens) tokens")
            }
        }
        #expect(tokenizer.encode(long).count == 256)
    }

    @Test("the fixtures hold enough texts and the tricky strings")
    func fixtureCoverage() {
        #expect(ModelFixtures.embeddingCases.count >= 50)
        #expect(ModelFixtures.paraphrasePairs.count >= 10)
        #expect(ModelFixtures.tokenCases.contains { $0.ids.count == 256 }, "a text truncated at 256 tokens")
        #expect(ModelFixtures.tokenCases.contains { $0.text.isEmpty })
    }

    @Test("embedding has cosine ≥ 0.999 with the reference", arguments: ModelFixtures.embeddingCases)
    func embedding(_ c: ModelFixtures.EmbeddingCase) throws {
        let encoder = try ModelFixtures.encoder()
        #expect(encoder.tokenizer.encode(c.text) == c.ids)
        let vector = try #require(encoder.embed([c.text]).first)
        #expect(vector.count == encoder.dimensions)
        let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
        let similarity = cosine(vector, c.embedding)
        #expect(similarity >= 0.999, "cosine \(similarity)")
    }

    @Test("a batch gives what each text gives alone")
    func batchEqualsSingle() throws {
        let encoder = try ModelFixtures.encoder()
        let texts = ModelFixtures.embeddingCases.map(\.text)
        let batch = try #require(ModelFixtures.batchVectors)
        #expect(batch.count == texts.count)
        for (text, vector) in zip(texts, batch) {
            let single = try #require(encoder.embed([text]).first)
            let largest = zip(single, vector).map { abs($0 - $1) }.max() ?? 0
            #expect(largest < 1e-5, "\(text.prefix(40)): batch and single differ by \(largest)")
        }
        #expect(encoder.embed([]).isEmpty)
    }

    @Test("threads embedding at once get the same vectors")
    func concurrentEmbedding() throws {
        let encoder = try ModelFixtures.encoder()
        let texts = Array(ModelFixtures.embeddingCases.map(\.text).prefix(12))
        let expected = encoder.embed(texts)
        let results = ResultsBox(count: 3)
        var threads: [Thread] = []
        let done = DispatchGroup()
        for n in 0..<3 {
            done.enter()
            let thread = Thread {
                results.set(n, encoder.embed(texts))
                done.leave()
            }
            threads.append(thread)
            thread.start()
        }
        done.wait()
        for n in 0..<3 {
            for (a, b) in zip(results.get(n), expected) {
                #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
            }
        }
    }

    @Test("a paraphrase is closer than every sentence of the other pairs",
          arguments: ModelFixtures.paraphrasePairs)
    func paraphrases(_ pair: [Int]) throws {
        _ = try ModelFixtures.encoder()
        let pairTexts = Set(ModelFixtures.paraphrasePairs.flatMap { $0 })
        let texts = ModelFixtures.embeddingCases.map(\.text)
        let vectors = try #require(ModelFixtures.batchVectors)
        let a = pair[0], b = pair[1]
        let same = cosine(vectors[a], vectors[b])
        for other in pairTexts.sorted() where other != a && other != b {
            #expect(same > cosine(vectors[a], vectors[other]), "\(texts[a]) / \(texts[other])")
            #expect(same > cosine(vectors[b], vectors[other]), "\(texts[b]) / \(texts[other])")
        }
    }

    @Test("the vectorised erf matches the C library's")
    func erfAccuracy() {
        var worst: Float = 0
        for i in stride(from: -6000, through: 6000, by: 8) {
            let xs = SIMD8<Float>((0..<8).map { Float(i + $0) / 1000 })
            let approximated = erf8(xs)
            for j in 0..<8 { worst = max(worst, abs(approximated[j] - Foundation.erf(xs[j]))) }
        }
        #expect(worst < 5e-7, "largest difference \(worst)")
    }
}

/// Results written by threads the test starts, read after they finish.
private final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [[[Float]]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ n: Int, _ v: [[Float]]) { lock.withLock { values[n] = v } }
    func get(_ n: Int) -> [[Float]] { lock.withLock { values[n] } }
}
