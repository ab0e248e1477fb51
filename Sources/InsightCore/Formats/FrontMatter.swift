import Foundation

/// The metadata block at the top of a Markdown note: YAML between `---` lines (Obsidian, Jekyll, Hugo) or
/// TOML between `+++` lines (Hugo, Zola). It is metadata, never an insight.
///
/// A small YAML subset is read: `key: value` scalars (plain, single- or double-quoted), flow lists
/// (`[a, "b"]`) and block lists (`- a` lines under `key:`). Anything else is ignored, not an error: a note
/// with odd front matter still gives its insights.
public struct FrontMatter: Sendable, Equatable {
    /// The document date, `YYYY-MM-DD` (from `date`, else `created`).
    public var date: String?
    /// `title`.
    public var title: String?
    /// `tags` / `tag`, lower-cased, without `#`.
    public var tags: [String] = []
    /// `source` / `url` / `link` values that are http(s) URLs, with their lines.
    public var links: [ParsedLink] = []
    /// The number of lines the block spans, delimiters included.
    public var lineCount: Int

    /// Reads the front matter at the top of `lines` (the file's lines), or nil when the file has none.
    ///
    /// A block must open on the first line (a BOM before it is allowed) and close with the same delimiter
    /// (or `...` for YAML); an unclosed `---` is a thematic break, not front matter.
    public static func read(_ lines: [Substring]) -> FrontMatter? {
        guard let first = lines.first else { return nil }
        let opener = first.drop(while: { $0 == "\u{FEFF}" }).trimmingTrailingSpaces()
        let toml: Bool
        switch opener {
        case "---": toml = false
        case "+++": toml = true
        default: return nil
        }
        var closing: Int?
        for index in 1..<lines.count {
            let line = lines[index].trimmingTrailingSpaces()
            if line == opener || (!toml && line == "...") {
                closing = index
                break
            }
        }
        guard let closing else { return nil }
        var entries: [Entry] = []
        let body = lines[1..<closing]
        if toml {
            entries = tomlEntries(body)
        } else {
            entries = yamlEntries(body)
        }
        var matter = FrontMatter(lineCount: closing + 1)
        var created: String?
        for entry in entries {
            switch entry.key.lowercased() {
            case "date":
                matter.date = entry.values.first.flatMap(isoDate)
            case "created", "created_at", "created-at":
                created = entry.values.first.flatMap(isoDate)
            case "title":
                if let title = entry.values.first, !title.isEmpty { matter.title = Normalizer.display(title) }
            case "tags", "tag", "keywords":
                // A list's items are whole tags; a scalar `a, b` or `a b` is split as Obsidian splits it.
                let tags = entry.values.count == 1 && !entry.isList
                    ? entry.values[0].split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) : entry.values
                for tag in tags {
                    if let tag = Tags.normalize(tag), !matter.tags.contains(tag) { matter.tags.append(tag) }
                }
            case "source", "url", "link", "source_url", "source-url":
                for value in entry.values where value.hasPrefix("http://") || value.hasPrefix("https://") {
                    matter.links.append(ParsedLink(url: value, line: entry.line))
                }
            default:
                continue
            }
        }
        if matter.date == nil { matter.date = created }
        return matter
    }

    /// A key and its values; `line` is the 1-based file line of the key.
    struct Entry {
        var key: String
        var values: [String]
        var line: Int
        /// Whether the values came from a list (flow or block) rather than one scalar.
        var isList: Bool
    }

    /// `key: value` lines and their block lists.
    static func yamlEntries(_ body: ArraySlice<Substring>) -> [Entry] {
        var entries: [Entry] = []
        for (index, raw) in zip(body.indices, body) {
            let line = raw.trimmingTrailingSpaces()
            let indented = line.first == " " || line.first == "\t"
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("- ") || trimmed == "-" {
                // An item of the block list under the last key.
                guard !entries.isEmpty else { continue }
                let value = scalar(trimmed.dropFirst(1))
                if !value.isEmpty { entries[entries.count - 1].values.append(value) }
                entries[entries.count - 1].isList = true
                continue
            }
            guard !indented, let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = String(trimmed[..<colon]).trimming(" ")
            let rest = trimmed[trimmed.index(after: colon)...]
            entries.append(Entry(key: key, values: values(rest), line: index + 1, isList: isFlowList(rest)))
        }
        return entries
    }

    /// `key = value` lines of a TOML block (tables and their keys are skipped).
    static func tomlEntries(_ body: ArraySlice<Substring>) -> [Entry] {
        var entries: [Entry] = []
        for (index, raw) in zip(body.indices, body) {
            let trimmed = raw.trimmingTrailingSpaces().drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("[") { break }
            guard let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = String(trimmed[..<equals]).trimming(" ").trimming("\"")
            let rest = trimmed[trimmed.index(after: equals)...]
            entries.append(Entry(key: key, values: values(rest), line: index + 1, isList: isFlowList(rest)))
        }
        return entries
    }

    static func isFlowList(_ rest: Substring) -> Bool {
        rest.drop(while: { $0 == " " || $0 == "\t" }).first == "["
    }

    /// The values of `rest`: one scalar, or the items of a `[a, b]` flow list.
    static func values(_ rest: Substring) -> [String] {
        let trimmed = rest.drop(while: { $0 == " " || $0 == "\t" }).trimmingTrailingSpaces()
        if trimmed.first == "[", trimmed.last == "]" {
            // Quoted items may hold commas; split outside quotes only.
            var items: [String] = []
            var current = ""
            var quote: Character?
            for character in trimmed.dropFirst().dropLast() {
                if let open = quote {
                    if character == open { quote = nil }
                    current.append(character)
                } else if character == "\"" || character == "'" {
                    quote = character
                    current.append(character)
                } else if character == "," {
                    items.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            items.append(current)
            return items.map { scalar(Substring($0)) }.filter { !$0.isEmpty }
        }
        let value = scalar(trimmed)
        return value.isEmpty ? [] : [value]
    }

    /// A scalar without its quotes and without a trailing ` # comment` (outside quotes).
    static func scalar(_ raw: Substring) -> String {
        let value = raw.drop(while: { $0 == " " || $0 == "\t" }).trimmingTrailingSpaces()
        if let open = value.first, open == "\"" || open == "'", value.count >= 2, value.last == open {
            var inner = String(value.dropFirst().dropLast())
            if open == "\"" { inner = inner.replacingOccurrences(of: "\\\"", with: "\"") } else { inner = inner.replacingOccurrences(of: "''", with: "'") }
            return inner
        }
        if let comment = value.range(of: " #") { return String(value[..<comment.lowerBound]).trimming(" ") }
        return String(value)
    }

    /// `YYYY-MM-DD` from the start of a date or date-time value.
    static func isoDate(_ value: String) -> String? {
        let chars = Array(value.prefix(10))
        guard chars.count == 10, chars[4] == "-", chars[7] == "-",
              chars.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || ($0.element.isASCII && $0.element.isNumber) })
        else { return nil }
        return String(chars)
    }
}

/// Tag spelling shared by every format.
public enum Tags {
    /// `#Deep-Work` → `deep-work`; nil when nothing of a tag remains. `[[multi word]]` tags keep their words.
    public static func normalize<S: StringProtocol>(_ raw: S) -> String? {
        var tag = Substring(raw).drop(while: { $0 == "#" || $0 == " " })
        if tag.hasPrefix("[["), tag.hasSuffix("]]") { tag = tag.dropFirst(2).dropLast(2) }
        let trimmed = tag.trimmingTrailingSpaces().trimming("\"'")
        guard trimmed.contains(where: { $0.isLetter || $0.isNumber }) else { return nil }
        return trimmed.lowercased()
    }

    /// Splits a trailing run of `#tags` off `text`: `"Ship small. #habits #work"` → (`"Ship small."`, [habits, work]).
    /// A `#` inside the text (`C#`, `#1`) stays, because only a run at the very end counts.
    public static func splitTrailing(_ text: String) -> (text: String, tags: [String]) {
        if let split = splitTrailingASCII(text) { return split }
        var words = text.split(separator: " ", omittingEmptySubsequences: true)
        var tags: [String] = []
        while let last = words.last, last.count > 1, last.first == "#", last.dropFirst().first != "#",
              last.dropFirst().first.map({ $0.isLetter || $0 == "[" }) == true, let tag = normalize(last) {
            tags.insert(tag, at: 0)
            words.removeLast()
        }
        guard !tags.isEmpty else { return (text, []) }
        return (words.joined(separator: " "), tags)
    }

    /// `splitTrailing` for an ASCII text, where characters are bytes: the words are read from the end, and the
    /// text is split only when it ends in tags. Nil for other text.
    private static func splitTrailingASCII(_ text: String) -> (text: String, tags: [String])? {
        let utf8 = text.utf8
        guard utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var tags: [String] = []
        var end = utf8.endIndex
        var kept = end
        while true {
            while end > utf8.startIndex, utf8[utf8.index(before: end)] == 0x20 { end = utf8.index(before: end) }
            var start = end
            while start > utf8.startIndex, utf8[utf8.index(before: start)] != 0x20 { start = utf8.index(before: start) }
            guard utf8.distance(from: start, to: end) > 1, utf8[start] == UInt8(ascii: "#") else { break }
            let second = utf8[utf8.index(after: start)]
            let isLetter = (0x41...0x5A).contains(second) || (0x61...0x7A).contains(second)
            guard second != UInt8(ascii: "#"), isLetter || second == UInt8(ascii: "["), let tag = normalize(text[start..<end]) else { break }
            tags.insert(tag, at: 0)
            kept = start
            end = start
        }
        guard !tags.isEmpty else { return (text, []) }
        // The words before the tags joined with single spaces, as splitting at spaces and joining gives.
        var out: [UInt8] = []
        out.reserveCapacity(utf8.distance(from: utf8.startIndex, to: kept))
        var pendingSpace = false
        for byte in utf8[..<kept] {
            if byte == 0x20 {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return (String(decoding: out, as: UTF8.self), tags)
    }
}

extension Substring {
    func trimmingTrailingSpaces() -> Substring {
        var end = endIndex
        while end > startIndex {
            let previous = index(before: end)
            guard self[previous] == " " || self[previous] == "\t" else { break }
            end = previous
        }
        return self[startIndex..<end]
    }
}

extension StringProtocol {
    /// Drops leading and trailing characters found in `characters`.
    func trimming(_ characters: String) -> String {
        let set = Set(characters)
        let start = firstIndex(where: { !set.contains($0) }) ?? endIndex
        let end = lastIndex(where: { !set.contains($0) }).map { index(after: $0) } ?? start
        return start < end ? String(self[start..<end]) : ""
    }

}
