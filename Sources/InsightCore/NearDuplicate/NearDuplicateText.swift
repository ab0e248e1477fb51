import Foundation

/// Text normalization for near-duplicate detection.
///
/// The output is a sequence of lower-case word tokens joined by single spaces. Differences that never change what a
/// statement claims (case, quote and dash styles, punctuation, whitespace, list bullets, Markdown emphasis and link
/// targets, contractions) are removed here, so that the shingler and the token alignment only see wording.
public enum NearDuplicateText {
    /// The longest text compared for near duplicates, in UTF-8 bytes. An insight is a paragraph; a longer text (a
    /// 10 MB single-line file is one "paragraph") is stored and found again word for word by its fingerprint, but not
    /// signed or compared word by word: two such texts took the writer seconds to compare, inside its transaction.
    public static let comparableBytes = 65_536

    /// Whether `text` is short enough to be signed and compared for near duplicates.
    public static func isComparable(_ text: String) -> Bool {
        text.utf8.count <= comparableBytes
    }

    /// Normalizes `text` for shingling and token alignment.
    ///
    /// NFKC, case folding, quotes and dashes folded, Markdown link targets, bullets and emphasis removed,
    /// `n't`/`cannot` expanded to `not`, thousands separators dropped, `%` spelled `percent`, other punctuation
    /// turned into spaces, whitespace collapsed.
    public static func normalize(_ text: String) -> String {
        tokens(text).joined(separator: " ")
    }

    /// The word tokens of the normalized form of `text`.
    public static func tokens(_ text: String) -> [String] {
        // NFKC and case folding are identities on ASCII apart from A-Z, so the common case skips Foundation.
        var ascii = true
        var scalars: [UInt32] = []
        scalars.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if byte >= 0x80 { ascii = false; break }
            scalars.append(byte >= 0x41 && byte <= 0x5A ? UInt32(byte) + 32 : UInt32(byte))
        }
        if !ascii {
            scalars.removeAll(keepingCapacity: true)
            for scalar in text.precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars {
                scalars.append(scalar.value)
            }
        }
        return tokenize(scalars)
    }

    /// One pass over case-folded scalars: line prefixes, link targets, URLs, punctuation, numbers, contractions.
    static func tokenize(_ s: [UInt32]) -> [String] {
        var tokens: [String] = []
        tokens.reserveCapacity(s.count / 5)
        var current: [UInt8] = []
        current.reserveCapacity(32)
        var hasApostrophe = false
        func flush() {
            guard !current.isEmpty else { return }
            let word = String(decoding: current, as: UTF8.self)
            if hasApostrophe || (current.count == 6 && word == "cannot") {
                appendExpanded(word, to: &tokens)
            } else {
                tokens.append(word)
            }
            current.removeAll(keepingCapacity: true)
            hasApostrophe = false
        }
        let n = s.count
        var i = skipLinePrefix(s, from: 0)
        while i < n {
            let c = s[i]
            if c == 0x0A {  // newline: a new line may start with its own bullet
                flush()
                i = skipLinePrefix(s, from: i + 1)
                continue
            }
            if c == 0x5D, i + 1 < n, s[i + 1] == 0x28 {  // "](target)": keep the label, drop the target
                flush()
                var j = i + 2
                while j < n, s[j] != 0x29, s[j] != 0x0A { j += 1 }
                i = j < n && s[j] == 0x29 ? j + 1 : j
                continue
            }
            if c == 0x3A, i + 2 < n, s[i + 1] == 0x2F, s[i + 2] == 0x2F {  // "scheme://...": drop the whole URL
                current.removeAll(keepingCapacity: true)
                hasApostrophe = false
                var j = i
                while j < n, !isWhitespace(s[j]) { j += 1 }
                i = j
                continue
            }
            if isWord(c) {
                appendUTF8(c, to: &current)
            } else if isApostrophe(c), i > 0, isWord(s[i - 1]), i + 1 < n, isWord(s[i + 1]) {
                // "china's", "doesn't": keep the word whole; the apostrophe itself carries no claim.
                current.append(0x27)
                hasApostrophe = true
            } else if c == 0x2E || c == 0x2C || c == 0x66B, i > 0, isDigit(s[i - 1]), i + 1 < n, isDigit(s[i + 1]) {
                // 3.5 keeps its point; 1,000 loses its separator.
                if c == 0x2E { current.append(0x2E) }
            } else if c == 0x25 || c == 0x2030 {
                flush()
                tokens.append(c == 0x25 ? "percent" : "permille")
            } else if currencySymbols.contains(c) {
                flush()
                tokens.append(String(decoding: utf8(c), as: UTF8.self))
            } else {
                flush()
            }
            i += 1
        }
        flush()
        return tokens
    }

    /// Skips a list bullet or quote marker at the start of a line ("- ", "• ", "1. ", "a) ", "> ", "#").
    static func skipLinePrefix(_ s: [UInt32], from start: Int) -> Int {
        var i = start
        while true {
            while i < s.count, s[i] != 0x0A, isWhitespace(s[i]) { i += 1 }
            guard i < s.count, s[i] != 0x0A else { return i }
            if bulletScalars.contains(s[i]) {
                i += 1
                continue
            }
            // "12. " / "3) " / "b) ": at most three digits or one letter, then "." or ")", then a space.
            var j = i
            while j < s.count, j - i < 3, isDigit(s[j]) { j += 1 }
            if j == i, j + 1 < s.count, isLetter(s[j]), s[j + 1] == 0x29 { j += 1 }
            if j > i, j + 1 < s.count, s[j] == 0x2E || s[j] == 0x29, isWhitespace(s[j + 1]) {
                i = j + 2
                continue
            }
            return i
        }
    }

    static let currencySymbols: Set<UInt32> = [0x24, 0x20AC, 0xA3, 0xA5, 0x20B9, 0x20A9, 0x20BD, 0x20BF]

    static let bulletScalars: Set<UInt32> = Set("-*+•·▪‣◦●○■□➢►▶✓✔–—>#".unicodeScalars.map(\.value))

    @inline(__always)
    static func isWord(_ c: UInt32) -> Bool {
        if c < 0x80 { return (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) }
        guard let scalar = Unicode.Scalar(c) else { return false }
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType != nil || properties.generalCategory == .nonspacingMark
    }

    @inline(__always)
    static func isLetter(_ c: UInt32) -> Bool {
        if c < 0x80 { return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) }
        return Unicode.Scalar(c)?.properties.isAlphabetic ?? false
    }

    @inline(__always)
    static func isDigit(_ c: UInt32) -> Bool {
        if c < 0x80 { return c >= 0x30 && c <= 0x39 }
        return Unicode.Scalar(c)?.properties.numericType == .decimal
    }

    @inline(__always)
    static func isWhitespace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }
        return Unicode.Scalar(c)?.properties.isWhitespace ?? false
    }

    static func isApostrophe(_ c: UInt32) -> Bool {
        c == 0x27 || c == 0x2019 || c == 0x2018 || c == 0x02BC || c == 0x60
    }

    @inline(__always)
    static func appendUTF8(_ c: UInt32, to bytes: inout [UInt8]) {
        if c < 0x80 { bytes.append(UInt8(c)) } else { bytes.append(contentsOf: utf8(c)) }
    }

    static func utf8(_ c: UInt32) -> [UInt8] {
        guard let scalar = Unicode.Scalar(c) else { return [] }
        return Array(String(Character(scalar)).utf8)
    }

    /// Splits contractions so that a negation always appears as its own token `not`.
    static func appendExpanded(_ word: String, to tokens: inout [String]) {
        guard word.contains("'") || word == "cannot" else {
            tokens.append(word)
            return
        }
        switch word {
        case "cannot", "can't": tokens.append(contentsOf: ["can", "not"]); return
        case "won't": tokens.append(contentsOf: ["will", "not"]); return
        case "shan't": tokens.append(contentsOf: ["shall", "not"]); return
        case "ain't": tokens.append(contentsOf: ["is", "not"]); return
        default: break
        }
        if word.hasSuffix("n't") {
            tokens.append(String(word.dropLast(3)))
            tokens.append("not")
            return
        }
        // Possessives and other clitics: "china's" -> "chinas" keeps one token per word for the alignment.
        tokens.append(word.replacingOccurrences(of: "'", with: ""))
    }
}
