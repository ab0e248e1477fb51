import Foundation

/// The exact-duplicate key of an insight, and the tidy form in which its text is shown.
///
/// Two paragraphs with the same key are the same insight: the key folds what readers do not see as a
/// difference (Unicode compatibility forms, case, curly quotes, dash kinds, spacing, trailing punctuation,
/// an accidentally repeated word).
public enum Normalizer {
    /// The deduplication key of `text`.
    public static func key(_ text: String) -> String {
        // Most insights are plain ASCII: NFKC and the quote and dash folds change nothing there, so one pass over
        // the bytes gives the same key without Unicode property lookups.
        asciiKey(text) ?? unicodeKey(text)
    }

    /// The key by the general Unicode rules.
    static func unicodeKey(_ text: String) -> String {
        let folded = text.precomposedStringWithCompatibilityMapping.lowercased()
        var words: [Substring] = []
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(folded.unicodeScalars.count)
        for scalar in folded.unicodeScalars {
            scalars.append(fold(scalar))
        }
        let flat = String(scalars)
        for word in flat.split(whereSeparator: { $0.isWhitespace }) {
            // A word typed twice ("the the") is a slip, not a different insight.
            if let last = words.last, last == word { continue }
            words.append(word)
        }
        var key = words.joined(separator: " ")
        while let last = key.unicodeScalars.last, trailingPunctuation.contains(last) {
            key.unicodeScalars.removeLast()
            while key.last?.isWhitespace == true { key.removeLast() }
        }
        return key
    }

    /// The words of a search query, folded as keys are (NFKC, case, quotes and dashes), so that what was stored
    /// is found as it was typed: `ｏｐｅｎ` finds `open`.
    public static func searchWords(_ query: String) -> [Substring] {
        key(query).split(whereSeparator: { !($0.isLetter || $0.isNumber) })
    }

    /// `text` with whitespace runs collapsed to one space and trimmed; the words stay as first seen.
    public static func display(_ text: String) -> String {
        if isTidyASCII(text) { return text }
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            var out: [UInt8] = []
            out.reserveCapacity(text.utf8.count)
            var pendingSpace = false
            for byte in text.utf8 {
                if isASCIISpace(byte) {
                    pendingSpace = !out.isEmpty
                } else {
                    if pendingSpace { out.append(0x20) }
                    pendingSpace = false
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
        return text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Whether `text` is ASCII with single spaces between words and none at either end: already its display form.
    private static func isTidyASCII(_ text: String) -> Bool {
        var previous: UInt8 = 0x20
        for byte in text.utf8 {
            guard byte < 0x80 else { return false }
            if isASCIISpace(byte) {
                guard byte == 0x20, previous != 0x20 else { return false }
            }
            previous = byte
        }
        return previous != 0x20
    }

    @inline(__always)
    static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// The key of an all-ASCII text, or nil when the text has other characters.
    static func asciiKey(_ text: String) -> String? {
        // One pass: folded words are written to `out`, and a word equal to the one before it is taken back.
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var previousWord = -1  // where the last kept word starts in `out`
        var word = -1  // where the word being read starts in `out`
        func endWord() {
            guard word >= 0 else { return }
            if previousWord >= 0, out[previousWord..<(word - 1)] == out[word...] {
                out.removeSubrange((word - 1)...)
            } else {
                previousWord = word
            }
            word = -1
        }
        for byte in text.utf8 {
            guard byte < 0x80 else { return nil }
            if isASCIISpace(byte) {
                endWord()
                continue
            }
            if word < 0 {
                if !out.isEmpty { out.append(0x20) }
                word = out.count
            }
            // Lower case; a backtick or acute-like quote folds to an apostrophe as in the Unicode path.
            out.append(byte == 0x60 ? 0x27 : ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte))
        }
        endWord()
        // Trailing punctuation and quotes, and any spaces they leave behind.
        while let last = out.last, asciiTrailing.contains(last) {
            out.removeLast()
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let asciiTrailing: Set<UInt8> = Set(".!?,;:\"' ".utf8)

    /// A 16-byte fingerprint of the key, stored in the unique index instead of the whole key.
    public static func fingerprint(ofKey key: String) -> [UInt8] {
        Array(Hashing.sha256(Array(key.utf8)).prefix(16))
    }

    private static let trailingPunctuation: Set<Unicode.Scalar> = [".", "!", "?", ",", ";", ":", "\u{2026}", "\"", "'", " "]

    @inline(__always)
    private static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x2018, 0x2019, 0x201A, 0x201B, 0x2032, 0x00B4, 0x0060: return "'"
        case 0x201C, 0x201D, 0x201E, 0x201F, 0x2033, 0x00AB, 0x00BB: return "\""
        case 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63, 0xFF0D: return "-"
        case 0x00A0, 0x2007, 0x202F, 0x2009, 0x200A, 0x3000: return " "
        default: return scalar
        }
    }
}
