import Foundation

/// Thresholds of near-duplicate verification; the daemon's configuration exposes them.
public struct NearDuplicateThresholds: Sendable, Codable, Hashable {
    /// Below this exact Jaccard similarity of character 5-gram sets a pair is unrelated without alignment.
    public var minJaccard: Double
    /// A pair with claim-changing differences is a conflict only when at least this fraction of the longer text's
    /// tokens align unchanged; below it the texts are different statements (unrelated).
    public var conflictMinTokenSimilarity: Double
    /// A same-claim pair may have at most this fraction of its tokens touched by typos and dropped or repeated words.
    public var maxSurfaceEditFraction: Double
    /// Words with at least this many characters may carry two edits (and still share their first two letters).
    public var twoEditMinLength: Int
    /// Words with at least this many characters may carry any single edit; shorter words only a transposition or
    /// a slip to a neighbouring key, because a substituted letter in a short word usually makes another word.
    public var anyEditMinLength: Int

    /// Defaults tuned on the labelled pair set in the tests.
    public init(
        minJaccard: Double = 0.35,
        conflictMinTokenSimilarity: Double = 0.6,
        maxSurfaceEditFraction: Double = 0.3,
        twoEditMinLength: Int = 7,
        anyEditMinLength: Int = 5
    ) {
        self.minJaccard = minJaccard
        self.conflictMinTokenSimilarity = conflictMinTokenSimilarity
        self.maxSurfaceEditFraction = maxSurfaceEditFraction
        self.twoEditMinLength = twoEditMinLength
        self.anyEditMinLength = anyEditMinLength
    }

    private enum CodingKeys: String, CodingKey {
        case minJaccard, conflictMinTokenSimilarity, maxSurfaceEditFraction, twoEditMinLength, anyEditMinLength
    }

    /// Decodes thresholds; a missing key keeps its default, so a configuration may set only what it changes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = NearDuplicateThresholds()
        self.init(
            minJaccard: try container.decodeIfPresent(Double.self, forKey: .minJaccard) ?? defaults.minJaccard,
            conflictMinTokenSimilarity: try container.decodeIfPresent(Double.self, forKey: .conflictMinTokenSimilarity)
                ?? defaults.conflictMinTokenSimilarity,
            maxSurfaceEditFraction: try container.decodeIfPresent(Double.self, forKey: .maxSurfaceEditFraction)
                ?? defaults.maxSurfaceEditFraction,
            twoEditMinLength: try container.decodeIfPresent(Int.self, forKey: .twoEditMinLength) ?? defaults.twoEditMinLength,
            anyEditMinLength: try container.decodeIfPresent(Int.self, forKey: .anyEditMinLength) ?? defaults.anyEditMinLength)
    }
}

/// What makes two near-identical texts different claims.
public enum ConflictKind: String, Sendable, Codable, Hashable, CaseIterable, Comparable {
    /// A negation is present in one and absent in the other ("is" / "is not", "likely" / "unlikely").
    case negation
    /// A number, quantity word or currency differs ("$1 trillion" / "$3 trillion", "million" / "billion").
    case number
    /// Another word differs that is not a typo: a name, an entity, a verb, an adjective.
    case contentWord

    /// Negation first, then number, then content word: the order in which they are reported.
    public static func < (lhs: ConflictKind, rhs: ConflictKind) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .negation: 0
        case .number: 1
        case .contentWord: 2
        }
    }
}

/// The verdict on a pair of texts.
public enum PairVerdict: Sendable, Hashable {
    /// The same claim: only typos, case, punctuation, quotes, whitespace, markup, repeated or dropped function words.
    case sameClaim
    /// Near-identical wording with a claim-changing difference; the most significant kind.
    case conflict(ConflictKind)
    /// Different texts.
    case unrelated
}

/// One aligned difference between two texts.
public struct TokenDifference: Sendable, Hashable {
    /// How the difference was judged.
    public enum Kind: String, Sendable, Hashable {
        case typo, functionWord, repeatedWord, spacing, negation, number, contentWord
        /// An ordinary word (an adjective, an adverb, a small word; never a claim word or a name) dropped or added.
        case ordinaryWord
    }

    /// Tokens of the first text in this span.
    public let removed: [String]
    /// Tokens of the second text in this span.
    public let added: [String]
    /// The judgement.
    public let kind: Kind
}

/// The full result of comparing two texts.
public struct PairComparison: Sendable, Hashable {
    /// The verdict.
    public let verdict: PairVerdict
    /// Exact Jaccard similarity of the character 5-gram sets.
    public let jaccard: Double
    /// Unchanged aligned tokens over the longer token count (0 when the alignment was skipped).
    public let tokenSimilarity: Double
    /// Every conflict kind found, most significant first.
    public let conflicts: [ConflictKind]
    /// The differing spans (empty when the alignment was skipped).
    public let differences: [TokenDifference]
}

/// A text prepared once for many comparisons: normalized tokens and shingles.
public struct PreparedText: Sendable, Hashable {
    /// The normalized tokens.
    public let tokens: [String]
    /// The character 5-gram set of the normalized text.
    public let shingles: ShingleSet
    /// The names the text mentions (capitalised words inside a sentence), lower-case; nil when only the tokens were
    /// given, and then no word of the text counts as ordinary.
    public let names: Set<String>?

    /// Normalizes and shingles `text`.
    public init(_ text: String) {
        self.init(tokens: NearDuplicateText.tokens(text), text: text)
    }

    /// Shingles tokens from ``NearDuplicateText/tokens(_:)`` of `text` (computed before, to be reused).
    public init(tokens: [String], text: String) {
        self.tokens = tokens
        self.shingles = ShingleSet(tokens: tokens)
        self.names = ClaimCheck.names(text, sentenceStarts: true)
    }

    /// Shingles tokens from ``NearDuplicateText/tokens(_:)``, without the text: names are unknown.
    public init(tokens: [String]) {
        self.tokens = tokens
        self.shingles = ShingleSet(tokens: tokens)
        self.names = nil
    }
}

/// Decides whether two texts state the same claim, conflicting claims, or are unrelated.
///
/// First the exact Jaccard similarity of the 5-gram sets filters out unrelated pairs. Then a longest-common-
/// subsequence alignment of the word tokens yields the differing spans, and each span is judged: negations and
/// numbers are compared as multisets, repeated words and dropped function words are ignored, and the remaining
/// words are paired and accepted only as typos (a bounded Damerau-Levenshtein distance that depends on word
/// length). Anything else is a content-word change.
public struct PairClassifier: Sendable {
    /// The thresholds in use.
    public var thresholds: NearDuplicateThresholds

    /// Creates a classifier.
    public init(thresholds: NearDuplicateThresholds = NearDuplicateThresholds()) {
        self.thresholds = thresholds
    }

    /// The verdict on two raw texts.
    public func classify(_ a: String, _ b: String) -> PairVerdict {
        compare(PreparedText(a), PreparedText(b)).verdict
    }

    /// Compares two prepared texts.
    public func compare(_ a: PreparedText, _ b: PreparedText) -> PairComparison {
        let jaccard = a.shingles.jaccard(b.shingles)
        if a.tokens == b.tokens {
            return PairComparison(verdict: .sameClaim, jaccard: jaccard, tokenSimilarity: 1, conflicts: [], differences: [])
        }
        guard jaccard >= thresholds.minJaccard,
              let hunks = TokenAlignment.hunks(a.tokens, b.tokens) else {
            return PairComparison(verdict: .unrelated, jaccard: jaccard, tokenSimilarity: 0, conflicts: [], differences: [])
        }
        let longer = max(a.tokens.count, b.tokens.count)
        var changedTokens = 0
        var differences: [TokenDifference] = []
        var conflictKinds = Set<ConflictKind>()
        var surfaceTokens = 0
        var ordinaryTokens = 0
        for hunk in hunks {
            changedTokens += max(hunk.removedRange.count, hunk.addedRange.count)
            let judged = judge(hunk, a, b)
            for difference in judged {
                differences.append(difference)
                switch difference.kind {
                case .negation: conflictKinds.insert(.negation)
                case .number: conflictKinds.insert(.number)
                case .contentWord: conflictKinds.insert(.contentWord)
                case .ordinaryWord:
                    ordinaryTokens += difference.removed.count + difference.added.count
                    surfaceTokens += max(difference.removed.count, difference.added.count)
                case .typo, .functionWord, .repeatedWord, .spacing:
                    surfaceTokens += max(difference.removed.count, difference.added.count)
                }
            }
        }
        // A reader still calls it the same insight when about one word in twenty is dropped; more is another text.
        if ordinaryTokens > max(1, longer / Self.wordsPerDroppedWord) { conflictKinds.insert(.contentWord) }
        let tokenSimilarity = longer == 0 ? 1 : Double(longer - changedTokens) / Double(longer)
        let conflicts = conflictKinds.sorted()
        let verdict: PairVerdict
        if let first = conflicts.first {
            verdict = tokenSimilarity >= thresholds.conflictMinTokenSimilarity ? .conflict(first) : .unrelated
        } else if Double(surfaceTokens) <= thresholds.maxSurfaceEditFraction * Double(longer) {
            verdict = .sameClaim
        } else {
            verdict = .unrelated
        }
        return PairComparison(
            verdict: verdict, jaccard: jaccard, tokenSimilarity: tokenSimilarity,
            conflicts: conflicts, differences: differences)
    }

    // MARK: Judging one differing span

    /// At most one dropped or added ordinary word per this many words of the longer text.
    static let wordsPerDroppedWord = 20

    func judge(_ hunk: TokenAlignment.Hunk, _ preparedA: PreparedText, _ preparedB: PreparedText) -> [TokenDifference] {
        let a = preparedA.tokens, b = preparedB.tokens
        var out: [TokenDifference] = []
        // 1. A phrase repeated right beside itself ("10% 10%") is an echo.
        let removedIsEcho = hunk.removedRange.count > 1 && WordLists.isRepeatedPhrase(a, hunk.removedRange)
        let addedIsEcho = hunk.addedRange.count > 1 && WordLists.isRepeatedPhrase(b, hunk.addedRange)
        if removedIsEcho { out.append(TokenDifference(removed: Array(a[hunk.removedRange]), added: [], kind: .repeatedWord)) }
        if addedIsEcho { out.append(TokenDifference(removed: [], added: Array(b[hunk.addedRange]), kind: .repeatedWord)) }
        var removedAt: [Int] = removedIsEcho ? [] : Array(hunk.removedRange)
        var addedAt: [Int] = addedIsEcho ? [] : Array(hunk.addedRange)
        if removedAt.isEmpty && addedAt.isEmpty { return out }
        // 2. Joined or split words ("deep seek" / "deepseek") are spacing.
        if !removedAt.isEmpty && !addedAt.isEmpty && removedAt.map({ a[$0] }).joined() == addedAt.map({ b[$0] }).joined() {
            out.append(TokenDifference(removed: removedAt.map { a[$0] }, added: addedAt.map { b[$0] }, kind: .spacing))
            return out
        }
        // 3. Typos first, so that a misspelt function, negation or number word ("teh", "nto") pairs with its word,
        //    and a typo in one of two repeated words ("models modles") is not taken for an echo.
        var r = 0
        while r < removedAt.count {
            let x = a[removedAt[r]]
            if let k = addedAt.firstIndex(where: { j in
                let y = b[j]
                return x != y && !WordLists.areDistinctListWords(x, y)
                    && !WordLists.isNegatingPrefixPair(x, y) && Typo.isTypo(x, y, thresholds: thresholds)
            }) {
                out.append(TokenDifference(removed: [x], added: [b[addedAt[k]]], kind: .typo))
                removedAt.remove(at: r)
                addedAt.remove(at: k)
            } else {
                r += 1
            }
        }
        // Then single echoes: a token equal to its neighbour in its own text ("the the", "models models").
        var removed: [String] = [], added: [String] = []
        for i in removedAt {
            if WordLists.isEcho(a, i) { out.append(TokenDifference(removed: [a[i]], added: [], kind: .repeatedWord)) } else { removed.append(a[i]) }
        }
        for j in addedAt {
            if WordLists.isEcho(b, j) { out.append(TokenDifference(removed: [], added: [b[j]], kind: .repeatedWord)) } else { added.append(b[j]) }
        }
        // 4. Negations and numbers are compared as multisets: any imbalance is a conflict.
        let negRemoved = removed.filter(WordLists.isNegation), negAdded = added.filter(WordLists.isNegation)
        if negRemoved.sorted() != negAdded.sorted() {
            out.append(TokenDifference(removed: negRemoved, added: negAdded, kind: .negation))
        }
        let numRemoved = removed.filter(WordLists.isNumeric), numAdded = added.filter(WordLists.isNumeric)
        if numRemoved != numAdded {
            out.append(TokenDifference(removed: numRemoved, added: numAdded, kind: .number))
        }
        removed.removeAll { WordLists.isNegation($0) || WordLists.isNumeric($0) }
        added.removeAll { WordLists.isNegation($0) || WordLists.isNumeric($0) }
        // 5. Articles never matter; other function words may be dropped or added, but not swapped for another.
        removed.removeAll(where: WordLists.isArticle)
        added.removeAll(where: WordLists.isArticle)
        var functionRemoved = removed.filter(WordLists.isFunctionWord)
        var functionAdded = added.filter(WordLists.isFunctionWord)
        removeCommon(&functionRemoved, &functionAdded)
        var contentRemoved = removed.filter { !WordLists.isFunctionWord($0) }
        var contentAdded = added.filter { !WordLists.isFunctionWord($0) }
        if functionRemoved.isEmpty || functionAdded.isEmpty {
            let dropped = functionRemoved + functionAdded
            if !dropped.isEmpty {
                out.append(TokenDifference(removed: functionRemoved, added: functionAdded, kind: .functionWord))
            }
        } else {
            // Swapped function words: accepted only as typos ("form"/"from"), else they change the claim.
            contentRemoved += functionRemoved
            contentAdded += functionAdded
        }
        if contentRemoved.isEmpty && contentAdded.isEmpty { return out }
        if !contentRemoved.isEmpty && !contentAdded.isEmpty && contentRemoved.joined() == contentAdded.joined() {
            out.append(TokenDifference(removed: contentRemoved, added: contentAdded, kind: .spacing))
            return out
        }
        // 6. Ordinary words only dropped (or only added), none a claim word or a name: the same claim, worded shorter.
        // Only where the span is a pure drop: a word put in another word's place is a substitution, judged below.
        if hunk.removedRange.isEmpty != hunk.addedRange.isEmpty, contentRemoved.isEmpty != contentAdded.isEmpty {
            let (words, names) = contentRemoved.isEmpty ? (contentAdded, preparedB.names) : (contentRemoved, preparedA.names)
            if let names, words.allSatisfy({ WordLists.isOrdinary($0) && !names.contains($0) }) {
                out.append(TokenDifference(removed: contentRemoved, added: contentAdded, kind: .ordinaryWord))
                return out
            }
        }
        // 7. Content words must pair up one to one as typos.
        guard contentRemoved.count == contentAdded.count else {
            out.append(TokenDifference(removed: contentRemoved, added: contentAdded, kind: .contentWord))
            return out
        }
        for (x, y) in zip(contentRemoved, contentAdded) {
            if WordLists.isNegatingPrefixPair(x, y) {
                out.append(TokenDifference(removed: [x], added: [y], kind: .negation))
            } else if !WordLists.areDistinctListWords(x, y) && Typo.isTypo(x, y, thresholds: thresholds) {
                out.append(TokenDifference(removed: [x], added: [y], kind: .typo))
            } else {
                out.append(TokenDifference(removed: [x], added: [y], kind: .contentWord))
            }
        }
        return out
    }

    private func removeCommon(_ x: inout [String], _ y: inout [String]) {
        var i = 0
        while i < x.count {
            if let j = y.firstIndex(of: x[i]) {
                y.remove(at: j)
                x.remove(at: i)
            } else {
                i += 1
            }
        }
    }
}
