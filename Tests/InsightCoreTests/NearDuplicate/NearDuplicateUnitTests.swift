import Foundation
import Testing
@testable import InsightCore

@Suite struct NearDuplicateTextTests {
    @Test(arguments: [
        ("“Open-source” models—cheap   and\tfast!", "open source models cheap and fast"),
        ("- The market lost $1 trillion.", "the market lost $ 1 trillion"),
        ("1. **China** leads in _open_ models", "china leads in open models"),
        ("See [the report](https://example.com/a-b) now", "see the report now"),
        ("It doesn't work, and we can't wait.", "it does not work and we can not wait"),
        ("It doesn’t work; it won’t, it cannot.", "it does not work it will not it can not"),
        ("Revenue rose 10% to 1,250.5 million", "revenue rose 10 percent to 1250.5 million"),
        ("> • China's lead", "chinas lead"),
        ("ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", "fullwidth text"),
        ("", ""),
    ])
    func normalize(input: String, expected: String) {
        #expect(NearDuplicateText.normalize(input) == expected)
    }

    @Test func aYearAtLineStartIsNotAListMarker() {
        #expect(NearDuplicateText.normalize("2024. A record year") == "2024 a record year")
    }
}

@Suite struct MinHashTests {
    static let paragraph = "Counterintuitively, China leads in open-source AI models as a deliberate strategy. "
        + "This approach allows them to attract global developer talent to accelerate their progress."

    @Test func signatureIsStableAcrossRunsAndRoundTripsThroughBytes() throws {
        let signature = MinHashSignature(text: MinHashTests.paragraph)
        #expect(signature.values.count == 128)
        #expect(signature == MinHashSignature(text: MinHashTests.paragraph))
        let bytes = signature.bytes
        #expect(bytes.count == 1024)
        #expect(try MinHashSignature(bytes: bytes) == signature)
    }

    @Test func signatureValuesArePinned() {
        // Persisted signatures must stay valid across releases: these values are part of the storage format.
        // They were computed by a separate reimplementation of the same definition (each 5-gram's scalars packed
        // 12 bits apiece, murmur3 finalizer, 128 bins by multiply-shift, densification by fmix64(bin << 32 ^
        // attempt ^ seed)), not read back from this code.
        let signature = MinHashSignature(text: "the market lost one trillion dollars")
        #expect(signature.values[0] == 26_674_552_303_903_924)
        #expect(signature.values[127] == 18_351_065_658_543_971_033)
    }

    @Test func shinglesAgreeBetweenTextAndTokensAndAcrossScripts() {
        let text = "Ελληνικά и русский 中文文本 mixed with ASCII"
        let tokens = NearDuplicateText.tokens(text)
        #expect(ShingleSet(tokens: tokens) == ShingleSet(normalized: NearDuplicateText.normalize(text)))
        #expect(MinHashSignature(tokens: tokens) == MinHashSignature(shingles: ShingleSet(tokens: tokens)))
        // CJK 5-grams take the FNV path; a one-character change must still change only nearby shingles.
        let other = ShingleSet(tokens: NearDuplicateText.tokens(text.replacingOccurrences(of: "文本", with: "文字")))
        let j = ShingleSet(tokens: tokens).jaccard(other)
        #expect(j > 0.6 && j < 1)
    }

    @Test(arguments: [[UInt8](), [1, 2, 3]])
    func badBytesAreRejected(bytes: [UInt8]) {
        #expect(throws: NearDuplicateError.self) { try MinHashSignature(bytes: bytes) }
    }

    @Test func estimateTracksExactJaccard() {
        let a = PreparedText(MinHashTests.paragraph)
        let b = PreparedText(MinHashTests.paragraph.replacingOccurrences(of: "deliberate", with: "delibarate"))
        let c = PreparedText("Solar power is now the cheapest source of new electricity in most countries.")
        let exactNear = a.shingles.jaccard(b.shingles)
        let estimateNear = MinHashSignature(shingles: a.shingles).estimatedJaccard(MinHashSignature(shingles: b.shingles))
        #expect(exactNear > 0.9 && exactNear < 1)
        #expect(abs(estimateNear - exactNear) < 0.1)
        let estimateFar = MinHashSignature(shingles: a.shingles).estimatedJaccard(MinHashSignature(shingles: c.shingles))
        #expect(estimateFar < 0.15)
    }
}

@Suite struct NearDuplicateIndexTests {
    static func texts() throws -> [String] {
        try NearDuplicateFixtures.paragraphs().map(\.text)
    }

    @Test func nearVariantIsACandidateAndUnrelatedAreNot() throws {
        var index = NearDuplicateIndex()
        let texts = try NearDuplicateIndexTests.texts()
        for (i, text) in texts.enumerated() { try index.insert(id: Int64(i + 100), signature: MinHashSignature(text: text)) }
        #expect(index.count == texts.count)
        var found = 0, spurious = 0
        for (i, text) in texts.enumerated() {
            let variant = text.replacingOccurrences(of: " the ", with: " teh ") + " Indeed."

            let candidates = try index.candidates(for: MinHashSignature(text: variant))
            if candidates.contains(where: { $0.id == Int64(i + 100) }) { found += 1 }
            spurious += candidates.filter { $0.id != Int64(i + 100) }.count
        }
        #expect(found == texts.count)
        // Unrelated paragraphs share few 5-grams: at most a handful of stray candidates over the whole set.
        #expect(spurious <= texts.count / 10)
    }

    @Test func removeAndReinsertKeepsProbingIntact() throws {
        var index = NearDuplicateIndex(layout: .standard, expectedCount: 8)
        let texts = try NearDuplicateIndexTests.texts()
        let signatures = texts.map { MinHashSignature(text: $0) }
        for (i, s) in signatures.enumerated() { try index.insert(id: Int64(i), signature: s) }
        for i in stride(from: 0, to: signatures.count, by: 2) {
            #expect(try index.remove(id: Int64(i), signature: signatures[i]))
        }
        #expect(try index.remove(id: 0, signature: signatures[0]) == false)
        for (i, s) in signatures.enumerated() {
            let ids = try index.candidates(for: s).map(\.id)
            #expect(ids.contains(Int64(i)) == (i % 2 == 1), "entry \(i)")
        }
        try index.insert(id: 0, signature: signatures[0])
        #expect(try index.candidates(for: signatures[0]).first?.id == 0)
        #expect(try index.candidates(for: signatures[0]).first?.matchedBands == LSHLayout.standard.bands)
    }

    @Test func rebuildFromPersistedBandKeysGivesTheSameCandidates() throws {
        let texts = try NearDuplicateIndexTests.texts()
        var direct = NearDuplicateIndex()
        var rebuilt = NearDuplicateIndex(expectedCount: texts.count)
        for (i, text) in texts.enumerated() {
            let signature = MinHashSignature(text: text)
            try direct.insert(id: Int64(i), signature: signature)
            let keys = try direct.bandKeys(for: signature)
            try rebuilt.insert(id: Int64(i), bandKeys: keys)
        }
        for text in texts.prefix(20) {
            let s = MinHashSignature(text: text + " extra words")
            #expect(try direct.candidates(for: s) == rebuilt.candidates(for: s))
        }
    }

    @Test func wrongSizesAreErrorsNotCrashes() throws {
        var index = NearDuplicateIndex()
        #expect(throws: NearDuplicateError.self) { try index.insert(id: 1, signature: MinHashSignature(values: [1, 2, 3])) }
        #expect(throws: NearDuplicateError.self) { try index.insert(id: 1, bandKeys: [1]) }
        #expect(try index.candidates(for: MinHashSignature(text: "anything")).isEmpty)
    }

    @Test func layoutCurve() {
        let layout = LSHLayout.standard
        #expect(layout.candidateProbability(jaccard: 0.8) > 0.99)
        #expect(layout.candidateProbability(jaccard: 0.3) < 0.02)
    }
}

@Suite struct PairClassifierTests {
    static let base = "The initial fear around DeepSeek was about China surpassing US AI capabilities. "
        + "The lasting impact is that it broke a psychological barrier for American developers."

    @Test(arguments: [
        base.replacingOccurrences(of: "DeepSeek", with: "DeepSeq"),
        base.replacingOccurrences(of: "psychological", with: "psychologcial"),
        base.replacingOccurrences(of: "The lasting", with: "the lasting"),
        base.replacingOccurrences(of: "broke a", with: "broke"),
        base.replacingOccurrences(of: "impact is", with: "impact impact is"),
        "* " + base.replacingOccurrences(of: "US AI", with: "“US” AI"),
        base.replacingOccurrences(of: "that it", with: "it"),
        base.replacingOccurrences(of: "Deep", with: "Deep "),
        base.replacingOccurrences(of: " the ", with: " teh "),
        base.replacingOccurrences(of: "US AI", with: "US AI US AI"),
    ])
    func sameClaim(variant: String) {
        #expect(PairClassifier().classify(PairClassifierTests.base, variant) == .sameClaim)
    }

    @Test(arguments: [
        ("The market lost $1 trillion in a week.", "The market lost $3 trillion in a week.", ConflictKind.number),
        ("Growth reached 10% last year in Europe.", "Growth reached 20% last year in Europe.", .number),
        ("The market lost one million dollars today.", "The market lost one billion dollars today.", .number),
        ("The DeepSeek model is open source and free.", "The DeepSeek model is not open source and free.", .negation),
        ("The new DeepSeek model can run on phones.", "The new DeepSeek model cannot run on phones.", .negation),
        ("A ceasefire is likely before the summer.", "A ceasefire is unlikely before the summer.", .negation),
        ("The US leads in open source AI models.", "China leads in open source AI models.", .contentWord),
        ("Oil exports from Iran rose sharply in May.", "Oil exports from Iraq rose sharply in May.", .contentWord),
        ("The US leads in open source AI models.", "The UK leads in open source AI models.", .contentWord),
        ("Prices will increase after the merger closes.", "Prices will decrease after the merger closes.", .contentWord),
        ("Imports from Mexico grew in the last quarter.", "Exports from Mexico grew in the last quarter.", .contentWord),
        ("Most voters support the new housing plan.", "Few voters support the new housing plan.", .contentWord),
    ])
    func conflict(a: String, b: String, kind: ConflictKind) {
        #expect(PairClassifier().classify(a, b) == .conflict(kind))
        #expect(PairClassifier().classify(b, a) == .conflict(kind))
    }

    @Test(arguments: [
        ("Our new subsidiary in Austria reported strong growth in its first operating year.", "Austria", "Australia"),
        ("Exports to Slovakia doubled after the new trade agreement came into force last spring.", "Slovakia", "Slovenia"),
        ("The Austrian team won the final after a penalty shoot-out in extra time.", "Austrian", "Australian"),
        ("Copper mines in Zambia supply much of the metal used in electric cars today.", "Zambia", "Gambia"),
    ])
    func twoPlacesCloseInSpellingAreNeverTyposOfEachOther(text: String, place: String, other: String) {
        let b = text.replacingOccurrences(of: place, with: other)
        #expect(PairClassifier().classify(text, b) == .conflict(.contentWord))
        #expect(PairClassifier().classify(b, text) == .conflict(.contentWord))
        // A slip in the name of one place is still a typo.
        let slip = text.replacingOccurrences(of: place, with: String(place.prefix(3)) + String(place.dropFirst(4).prefix(1))
                                                + String(place.dropFirst(3).prefix(1)) + String(place.dropFirst(5)))
        #expect(PairClassifier().classify(text, slip) == .sameClaim, "\(slip)")
    }

    @Test func thresholdsDecodeWithDefaultsForMissingKeys() throws {
        let decoded = try JSONDecoder().decode(NearDuplicateThresholds.self, from: Data(#"{"minJaccard": 0.5}"#.utf8))
        #expect(decoded.minJaccard == 0.5)
        #expect(decoded.conflictMinTokenSimilarity == NearDuplicateThresholds().conflictMinTokenSimilarity)
        let roundTrip = try JSONDecoder().decode(
            NearDuplicateThresholds.self, from: JSONEncoder().encode(NearDuplicateThresholds(twoEditMinLength: 9)))
        #expect(roundTrip == NearDuplicateThresholds(twoEditMinLength: 9))
    }

    @Test func unrelatedSameTopic() {
        let other = "Unable to compete globally on inference due to US chip sanctions, China has pivoted to "
            + "releasing top-tier open-source models as a soft power play."
        #expect(PairClassifier().classify(PairClassifierTests.base, other) == .unrelated)
        #expect(PairClassifier().classify("", PairClassifierTests.base) == .unrelated)
    }

    @Test func aRewrittenParagraphIsNotAConflict() {
        // Many content changes: a different statement, not a near-identical one with one claim changed.
        let rewritten = "The initial hope around DeepSeek was about Europe matching US chip output. "
            + "The real effect is that it lowered a financial hurdle for Indian startups."
        #expect(PairClassifier().classify(PairClassifierTests.base, rewritten) == .unrelated)
    }

    @Test(arguments: [
        ("deepseq", "deepseek", true), ("teh", "the", true), ("form", "from", true), ("recieve", "receive", true),
        ("iran", "iraq", false), ("us", "uk", false), ("increase", "decrease", false), ("import", "export", false),
        ("2024", "2025", false), ("cot", "cat", false), ("million", "billion", true),
    ])
    func typoModel(x: String, y: String, typo: Bool) {
        // "million"/"billion" is a typo by spelling alone; the classifier's number-word rule keeps them apart.
        #expect(Typo.isTypo(x, y, thresholds: NearDuplicateThresholds()) == typo)
    }
}

@Suite struct NearDuplicateDetectorTests {
    @Test func findsTheVariantAndReportsConflicts() throws {
        var detector = NearDuplicateDetector()
        let paragraphs = try NearDuplicateFixtures.paragraphs().map(\.text)
        var stored: [Int64: String] = [:]
        for (i, text) in paragraphs.enumerated() {
            stored[Int64(i)] = text
            try detector.insert(id: Int64(i), text: text)
        }
        let target = paragraphs[15]
        let variant = "- " + target.replacingOccurrences(of: "peaked", with: "peakde")
        let match = try #require(detector.match(variant) { stored[$0] })
        #expect(match.sameClaim?.id == 15)

        let changed = target.replacingOccurrences(of: "10.6", with: "12.6")
        let conflict = try #require(detector.match(changed) { stored[$0] })
        #expect(conflict.sameClaim == nil)
        #expect(conflict.conflicts.map(\.id) == [15])
        #expect(conflict.conflicts.first?.comparison.verdict == .conflict(.number))

        #expect(detector.match("A completely new statement about deep sea mining and cobalt nodules.") { stored[$0] } == nil)
    }

    @Test func missingStoredTextIsSkipped() throws {
        var detector = NearDuplicateDetector()
        try detector.insert(id: 7, text: MinHashTests.paragraph)
        #expect(detector.match(MinHashTests.paragraph) { _ in nil } == nil)
    }
}
