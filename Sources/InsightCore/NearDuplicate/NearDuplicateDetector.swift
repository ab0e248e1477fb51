import Foundation

/// The outcome of looking up a new text among stored ones.
public struct NearDuplicateMatch: Sendable, Hashable {
    /// A stored text with a verdict on the pair.
    public struct Hit: Sendable, Hashable {
        /// The stored id.
        public let id: Int64
        /// The comparison of the new text with the stored one.
        public let comparison: PairComparison
    }

    /// The most similar stored text stating the same claim, if any: the new text is a variant of it.
    public let sameClaim: Hit?
    /// Stored texts with near-identical wording but a different claim, most similar first.
    public let conflicts: [Hit]
}

/// Near-duplicate detection over an LSH index: signature, candidate lookup, verification.
///
/// The detector keeps signatures' band keys in its index only; texts stay with their owner (the store), which
/// `match` asks for candidate texts by id.
public struct NearDuplicateDetector: Sendable {
    /// The candidate index.
    public var index: NearDuplicateIndex
    /// The pair classifier.
    public var classifier: PairClassifier
    /// At most this many candidates (most matched bands first) are verified per lookup, bounding the worst case.
    public var maxVerifiedCandidates: Int

    /// Creates a detector with an empty index.
    public init(
        thresholds: NearDuplicateThresholds = NearDuplicateThresholds(),
        layout: LSHLayout = .standard,
        expectedCount: Int = 0,
        maxVerifiedCandidates: Int = 64
    ) {
        self.index = NearDuplicateIndex(layout: layout, expectedCount: expectedCount)
        self.classifier = PairClassifier(thresholds: thresholds)
        self.maxVerifiedCandidates = maxVerifiedCandidates
    }

    /// Computes the signature of `text` (normalize, 5-gram shingles, 128 permutations).
    public static func signature(of text: String) -> MinHashSignature {
        MinHashSignature(text: text)
    }

    /// Indexes `text` under `id` and returns its signature for the caller to persist.
    @discardableResult
    public mutating func insert(id: Int64, text: String) throws -> MinHashSignature {
        let signature = MinHashSignature(tokens: NearDuplicateText.tokens(text))
        try index.insert(id: id, signature: signature)
        return signature
    }

    /// Looks `text` up: candidates from the index, each verified against its stored text.
    ///
    /// - Parameter storedText: returns the text stored under an id, or nil when it is gone.
    /// - Returns: nil when no candidate is the same claim or a conflict.
    public func match(_ text: String, storedText: (Int64) throws -> String?) rethrows -> NearDuplicateMatch? {
        let prepared = PreparedText(text)
        let signature = MinHashSignature(shingles: prepared.shingles)
        return try match(prepared, signature: signature, storedText: storedText)
    }

    /// Looks up a text already prepared and signed (so a caller can time or reuse the pieces).
    public func match(
        _ prepared: PreparedText, signature: MinHashSignature, storedText: (Int64) throws -> String?
    ) rethrows -> NearDuplicateMatch? {
        guard let keys = try? index.bandKeys(for: signature) else { return nil }
        let candidates = index.candidates(forBandKeys: keys)
        guard !candidates.isEmpty else { return nil }
        return try verify(prepared, candidates: candidates, storedText: storedText)
    }

    /// Verifies candidates found for `prepared`.
    public func verify(
        _ prepared: PreparedText, candidates: [NearDuplicateIndex.Candidate], storedText: (Int64) throws -> String?
    ) rethrows -> NearDuplicateMatch? {
        var best: NearDuplicateMatch.Hit?
        var conflicts: [NearDuplicateMatch.Hit] = []
        for candidate in candidates.prefix(maxVerifiedCandidates) {
            guard let stored = try storedText(candidate.id) else { continue }
            let comparison = classifier.compare(PreparedText(stored), prepared)
            switch comparison.verdict {
            case .sameClaim:
                if comparison.jaccard > best?.comparison.jaccard ?? -1 {
                    best = NearDuplicateMatch.Hit(id: candidate.id, comparison: comparison)
                }
            case .conflict:
                conflicts.append(NearDuplicateMatch.Hit(id: candidate.id, comparison: comparison))
            case .unrelated:
                break
            }
        }
        guard best != nil || !conflicts.isEmpty else { return nil }
        conflicts.sort { $0.comparison.jaccard > $1.comparison.jaccard }
        return NearDuplicateMatch(sameClaim: best, conflicts: conflicts)
    }
}
