/// The claim words of two texts worded differently: figures, negations and names.
///
/// Two texts close in meaning may still state different claims ("sleep 7 hours" / "sleep 9 hours", "is" / "is
/// not", "Newton said" / "Einstein said"); a sentence model scores such pairs high. A paraphrase keeps every
/// figure, the negation of the statement and every name, whatever else it rewords.
public enum ClaimCheck {
    /// What differs between the claims of `a` and `b`, most significant first; nil when figures, negation and
    /// names agree.
    public static func difference(_ a: String, _ b: String) -> ConflictKind? {
        let ta = NearDuplicateText.tokens(a), tb = NearDuplicateText.tokens(b)
        // An odd number of negations negates the statement; two texts agree when the parities agree.
        let negationsA = ta.filter(WordLists.isNegation).count, negationsB = tb.filter(WordLists.isNegation).count
        if negationsA % 2 != negationsB % 2 { return .negation }
        if figures(ta) != figures(tb) { return .number }
        if names(a) != names(b) { return .contentWord }
        return nil
    }

    /// The figures a text states, as a sorted multiset ("7", "hours" is not one; "seven" and "7" both are, as
    /// written: a rewording that spells a number differently is reported, the safe side).
    static func figures(_ tokens: [String]) -> [String] {
        tokens.filter(WordLists.isNumeric).sorted()
    }

    /// Capitalised words that do not begin a sentence (or a line), lower-cased and without apostrophes (a
    /// possessive both with and without its `s`): the names a text mentions. With `sentenceStarts`, capitalised words
    /// that begin a sentence count too (the safe side where a name must never be taken for an ordinary word).
    static func names(_ text: String, sentenceStarts: Bool = false) -> Set<String> {
        var names = Set<String>()
        var sentenceStart = true
        var word = ""
        var wordStartsSentence = true
        func finish() {
            defer { word = "" }
            guard let first = word.unicodeScalars.first, sentenceStarts || !wordStartsSentence, first.properties.isUppercase else { return }
            // "A" and "I" are not names.
            if word.count == 1 { return }
            let lower = word.lowercased()
            let plain = lower.replacingOccurrences(of: "'", with: "").replacingOccurrences(of: "’", with: "")
            names.insert(plain)
            for suffix in ["'s", "’s"] where lower.hasSuffix(suffix) { names.insert(String(lower.dropLast(2))) }
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isAlphabetic || scalar == "'" || scalar == "’" {
                if word.isEmpty { wordStartsSentence = sentenceStart }
                word.unicodeScalars.append(scalar)
                sentenceStart = false
            } else {
                if !word.isEmpty { finish() }
                if scalar == "." || scalar == "!" || scalar == "?" || scalar == "\n" || scalar == ":" || scalar == "\u{201C}"
                    || scalar == "\"" {
                    sentenceStart = true
                } else if scalar.properties.numericType != nil {
                    sentenceStart = false
                }
            }
        }
        if !word.isEmpty { finish() }
        return names
    }
}
