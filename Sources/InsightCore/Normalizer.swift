import Foundation

/// The exact-duplicate key of an insight, and the tidy form in which its text is shown.
///
/// Two paragraphs with the same key are the same insight: the key folds what readers do not see as a
/// difference (Unicode compatibility forms, case, curly quotes, dash kinds, spacing, trailing punctuation,
/// an accidentally repeated word).
public enum Normalizer {
    /// The deduplication key of `text`.
    public static func key(_ text: String) -> String {
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

    /// `text` with whitespace runs collapsed to one space and trimmed; the words stay as first seen.
    public static func display(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// A 16-byte fingerprint of the key, stored in the unique index instead of the whole key.
    public static func fingerprint(ofKey key: String) -> [UInt8] {
        Array(SHA256.hash(Array(key.utf8)).prefix(16))
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
