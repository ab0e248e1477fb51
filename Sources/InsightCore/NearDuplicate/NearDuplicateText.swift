import Foundation

/// Text normalization for near-duplicate detection.
///
/// The output is a sequence of lower-case word tokens joined by single spaces. Differences that never change what a
/// statement claims (case, quote and dash styles, punctuation, whitespace, list bullets, Markdown emphasis and link
/// targets, contractions) are removed here, so that the shingler and the token alignment only see wording.
public enum NearDuplicateText {
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
        let folded = text.precomposedStringWithCompatibilityMapping.lowercased()
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(folded.unicodeScalars.count)
        for line in folded.split(separator: "\n", omittingEmptySubsequences: false) {
            scalars.append(contentsOf: stripLinePrefix(Array(removeLinkTargets(Substring(line)).unicodeScalars)))
            scalars.append(" ")
        }
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty {
                appendExpanded(String(current), to: &tokens)
                current = String.UnicodeScalarView()
            }
        }
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let previous: Unicode.Scalar? = index > 0 ? scalars[index - 1] : nil
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            if isWordScalar(scalar) {
                current.append(scalar)
            } else if isApostrophe(scalar), let p = previous, isWordScalar(p), let n = next, isWordScalar(n) {
                // "china's", "doesn't": keep the word whole; the apostrophe itself carries no claim.
                current.append("'")
            } else if (scalar == "." || scalar == "," || scalar == "٫"), let p = previous, isDigit(p),
                      let n = next, isDigit(n) {
                // 3.5 keeps its point; 1,000 loses its separator.
                if scalar == "." { current.append(".") }
            } else if scalar == "%" || scalar == "‰" {
                flush()
                tokens.append(scalar == "%" ? "percent" : "permille")
            } else if currencySymbols.contains(scalar) {
                flush()
                tokens.append(String(scalar))
            } else {
                flush()
            }
            index += 1
        }
        flush()
        return tokens
    }

    // MARK: - Pieces

    static let currencySymbols: Set<Unicode.Scalar> = ["$", "€", "£", "¥", "₹", "₩", "₽", "₿"]

    static func isDigit(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.numericType == .decimal
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType != nil || properties.generalCategory == .nonspacingMark
    }

    static func isApostrophe(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "'" || scalar == "\u{2019}" || scalar == "\u{2018}" || scalar == "\u{02BC}" || scalar == "`"
    }

    /// Drops `(target)` of a Markdown link `[label](target)` and bare URLs: the label is the wording, the target is not.
    static func removeLinkTargets(_ line: Substring) -> String {
        guard line.contains("](") || line.contains("://") else { return String(line) }
        var output = ""
        var rest = line[...]
        while let range = rest.range(of: "](") {
            output += rest[..<range.lowerBound]
            let afterOpen = rest[range.upperBound...]
            if let close = afterOpen.firstIndex(of: ")") {
                rest = afterOpen[afterOpen.index(after: close)...]
            } else {
                rest = afterOpen
            }
        }
        output += rest
        guard output.contains("://") else { return output }
        return output.split(separator: " ", omittingEmptySubsequences: false)
            .filter { !$0.contains("://") }
            .joined(separator: " ")
    }

    /// Removes a list bullet or quote marker at the start of a line ("- ", "• ", "1. ", "a) ", "> ", "#").
    static func stripLinePrefix(_ line: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var i = 0
        while true {
            while i < line.count, line[i].properties.isWhitespace { i += 1 }
            guard i < line.count else { return [] }
            let c = line[i]
            if bulletScalars.contains(c) {
                // A dash is a bullet only when followed by a space; "-5%" keeps its minus sign meaningless anyway.
                i += 1
                continue
            }
            // "12. " / "3) " / "b) " numbered list markers: at most three digits or one letter, then . or ), then a space.
            var j = i
            while j < line.count, j - i < 3, isDigit(line[j]) { j += 1 }
            if j == i, j < line.count, line[j].properties.isAlphabetic, j + 1 < line.count, line[j + 1] == ")" { j += 1 }
            if j > i, j + 1 < line.count, line[j] == "." || line[j] == ")", line[j + 1].properties.isWhitespace {
                i = j + 2
                continue
            }
            return Array(line[i...])
        }
    }

    static let bulletScalars: Set<Unicode.Scalar> = [
        "-", "*", "+", "•", "·", "▪", "‣", "◦", "●", "○", "■", "□", "➢", "►", "▶", "✓", "✔", "–", "—", ">", "#",
    ]

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
