import Foundation

/// The passage of a search result around its first match, matches between `[` and `]`, the way FTS5's
/// `snippet()` marks them: words compared without case and diacritics, the query's last word as a prefix. Shared by
/// both stores, so a result reads the same from SQLite and from PostgreSQL.
package enum Snippet {
    package static func make(_ text: String, query: String, words limit: Int = 16) -> String {
        let terms = query.split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map { fold(String($0)) }
        var tokens: [Range<String.Index>] = []
        var start: String.Index?
        for index in text.indices {
            let isWord = text[index].isLetter || text[index].isNumber
            if isWord, start == nil { start = index }
            if !isWord, let begin = start {
                tokens.append(begin..<index)
                start = nil
            }
        }
        if let begin = start { tokens.append(begin..<text.endIndex) }
        guard !tokens.isEmpty else { return text }
        let matches = tokens.map { range -> Bool in
            let word = fold(String(text[range]))
            return terms.enumerated().contains { position, term in
                word == term || (position == terms.count - 1 && word.hasPrefix(term))
            }
        }
        let first = matches.firstIndex(of: true) ?? 0
        let from = max(0, min(first - 2, tokens.count - limit))
        let to = min(tokens.count, from + limit)
        var out = from > 0 ? "…" : ""
        var cursor = from > 0 ? tokens[from].lowerBound : text.startIndex
        for index in from..<to {
            out += text[cursor..<tokens[index].lowerBound]
            out += matches[index] ? "[" + text[tokens[index]] + "]" : String(text[tokens[index]])
            cursor = tokens[index].upperBound
        }
        out += to < tokens.count ? "…" : text[cursor...]
        return out
    }

    package static func fold(_ word: String) -> String {
        word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
    }
}
