import Foundation

/// The uncased BERT tokenizer of all-MiniLM-L6-v2, matching HuggingFace `tokenizers` (BertNormalizer with
/// clean_text, handle_chinese_chars, strip_accents and lowercase; BertPreTokenizer; WordPiece with `##`
/// continuation and 100 characters per word at most; `[CLS] … [SEP]`).
public struct WordPieceTokenizer: Sendable {
    private let vocabulary: [String: Int32]
    private let unknown: Int32
    private let classify: Int32
    private let separator: Int32
    /// `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`: written literally in a text they are that token, as
    /// `tokenizers` matches its added tokens in the raw text before normalising.
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int32)]
    /// Words longer than this (in Unicode scalars) become `[UNK]`, as in `tokenizers`.
    private let maxCharactersPerWord = 100

    /// Reads `vocab.txt`: one token a line, the line number (from 0) is its id.
    public init(vocabularyFile: String) throws(SemanticModelError) {
        guard FileManager.default.fileExists(atPath: vocabularyFile) else {
            throw SemanticModelError(.modelMissing, "\(vocabularyFile) does not exist; \(SemanticModelError.installHint)")
        }
        guard let data = FileManager.default.contents(atPath: vocabularyFile) else {
            throw SemanticModelError(.unreadable, "cannot read \(vocabularyFile)")
        }
        var vocabulary: [String: Int32] = [:]
        var id: Int32 = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            var token = Substring(line)
            while let last = token.unicodeScalars.last, last.properties.isWhitespace { token = token.dropLast() }
            if !token.isEmpty { vocabulary[String(token)] = id }
            id += 1
        }
        guard let unk = vocabulary["[UNK]"], let cls = vocabulary["[CLS]"], let sep = vocabulary["[SEP]"] else {
            throw SemanticModelError(.invalidVocabulary, "\(vocabularyFile) lacks [UNK], [CLS] or [SEP]; \(SemanticModelError.installHint)")
        }
        self.vocabulary = vocabulary
        self.unknown = unk
        self.classify = cls
        self.separator = sep
        specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            vocabulary[token].map { (Array(token.unicodeScalars), $0) }
        }
    }

    /// Token ids of `text` with `[CLS]` first and `[SEP]` last, at most `maxTokens` in all (the words past
    /// the limit are dropped, as `tokenizers` truncates).
    ///
    /// The text is read in pieces of about `pieceScalars` scalars, each cut just after a space, tab or line break,
    /// until the tokens are enough: a paragraph of megabytes costs what its first words cost. A word or a special token
    /// never spans one of those, so the tokens are those of the whole text read at once.
    public func encode(_ text: String, maxTokens: Int = 256) -> [Int32] {
        encode(text, maxTokens: maxTokens, pieceScalars: 16_384)
    }

    func encode(_ text: String, maxTokens: Int, pieceScalars: Int) -> [Int32] {
        precondition(maxTokens >= 2, "maxTokens must leave room for [CLS] and [SEP]")
        let budget = maxTokens - 2
        var ids: [Int32] = [classify]
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        while start < scalars.endIndex, ids.count - 1 < budget {
            var end = scalars.index(start, offsetBy: pieceScalars, limitedBy: scalars.endIndex) ?? scalars.endIndex
            while end < scalars.endIndex, !Self.isPieceBoundary(scalars[scalars.index(before: end)]) { end = scalars.index(after: end) }
            appendTokens(of: String(scalars[start..<end]), to: &ids, budget: budget)
            start = end
        }
        if ids.count - 1 > budget { ids.removeSubrange((budget + 1)...) }
        ids.append(separator)
        return ids
    }

    /// A scalar a piece may end after: one the normalizer turns into a space (other white space, such as U+0085 or a
    /// form feed, is a control character it drops, so the letters around it make one word).
    static func isPieceBoundary(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r"
    }

    private func appendTokens(of text: String, to ids: inout [Int32], budget: Int) {
        for segment in segments(of: text) {
            if ids.count - 1 >= budget { break }
            switch segment {
            case .special(let id):
                ids.append(id)
            case .text(let part):
                for word in Self.words(of: Self.normalize(part)) {
                    if ids.count - 1 >= budget { break }
                    wordPieces(word, into: &ids)
                }
            }
        }
    }

    private enum Segment {
        case text(String)
        case special(Int32)
    }

    /// The text cut around literal special tokens.
    private func segments(of text: String) -> [Segment] {
        guard text.unicodeScalars.contains("[") else { return [.text(text)] }
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var plain = String.UnicodeScalarView()
        var i = 0
        scan: while i < scalars.count {
            if scalars[i] == "[" {
                for special in specialTokens where scalars[i...].starts(with: special.scalars) {
                    if !plain.isEmpty { segments.append(.text(String(plain))); plain = String.UnicodeScalarView() }
                    segments.append(.special(special.id))
                    i += special.scalars.count
                    continue scan
                }
            }
            plain.append(scalars[i])
            i += 1
        }
        if !plain.isEmpty { segments.append(.text(String(plain))) }
        return segments
    }

    /// BertNormalizer: drop NUL, U+FFFD and control characters, whitespace to a space, spaces around CJK
    /// ideographs, NFD without non-spacing marks, lower case (per scalar, as `tokenizers` does).
    static func normalize(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || isControl(scalar) { continue }
            if isWhitespace(scalar) {
                cleaned.append(" ")
            } else if isChineseCharacter(scalar) {
                cleaned.append(" ")
                cleaned.append(scalar)
                cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var result = String.UnicodeScalarView()
        for scalar in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where scalar.properties.generalCategory != .nonspacingMark {
            if scalar.properties.changesWhenLowercased {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// BertPreTokenizer: split on whitespace, and every punctuation character is a word of its own.
    static func words(of text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for scalar in text.unicodeScalars {
            if isWhitespace(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
            } else if isPunctuation(scalar) {
                if !current.isEmpty { words.append(current); current.removeAll(keepingCapacity: true) }
                words.append([scalar])
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest-match-first WordPiece; a word with any part not in the vocabulary is one `[UNK]`.
    private func wordPieces(_ word: [Unicode.Scalar], into ids: inout [Int32]) {
        guard word.count <= maxCharactersPerWord else { ids.append(unknown); return }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { ids.append(unknown); return }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }

    /// Tab, newline and carriage return count as whitespace, every other C* character is dropped.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// ASCII punctuation (including symbols such as `$`, `+`, `^`) and every Unicode P* category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default: break
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK ideograph blocks `tokenizers` splits out (not kana or hangul).
    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
