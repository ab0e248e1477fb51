import Foundation

/// A Readwise Markdown export of one book or article:
///
/// ```
/// # Title
/// ## Metadata
/// - Author: [[Name]]
/// - Full Title: …
/// - URL: https://…
/// ## Highlights
/// - The passage. ([Location 1043](https://readwise.io/to_kindle?…))
///     - Note: what the reader thought
///     - Tags: [[psychology]] #persuasion
/// ```
///
/// Only highlights are insights. The `([Location N](…))`, `([Page N](…))` or `([View Highlight](…))` suffix goes
/// to the location; `Note:` and `Tags:` sub-items are attached; the metadata gives the section
/// (`Full Title (Author)`) and, through `URL`, the one link worth fetching (the per-highlight links point back
/// into Readwise). `### New highlights added March 5, 2023 at 10:14 AM` dates the highlights under it.
public enum ReadwiseExport {
    /// Whether `text` has the export's shape: a `## Highlights` heading with a `## Metadata` heading or a
    /// highlight that ends in a Readwise location link.
    public static func looksLikeExport(_ text: String) -> Bool {
        guard ByteSearch.contains(text, "ighlights") else { return false }
        var highlights = false, metadata = false, suffix = false
        for line in DocumentParser.lines(text) {
            let trimmed = line.trimmingTrailingSpaces()
            if trimmed.caseInsensitiveCompare("## Highlights") == .orderedSame { highlights = true }
            if trimmed.caseInsensitiveCompare("## Metadata") == .orderedSame { metadata = true }
            if trimmed.hasSuffix("))"), trimmed.contains("([Location ") || trimmed.contains("([Page ") || trimmed.contains("([View Highlight](") {
                suffix = true
            }
            if highlights && (metadata || suffix) { return true }
        }
        return false
    }

    /// Splits an export into its highlights.
    public static func parse(_ text: String, minWords: Int) -> ParsedDocument {
        let prepared = MarkdownSource(text)
        return MarkdownTree.parse(prepared.text) { document in
            var reader = Reader(minWords: minWords, documentTags: prepared.frontMatter?.tags ?? [])
            reader.read(document)
            var links = prepared.frontMatter?.links ?? []
            if let url = reader.url { links.append(url) }
            return ParsedDocument(date: prepared.frontMatter?.date ?? prepared.leadingDate, insights: reader.insights,
                                  format: .readwise, title: reader.fullTitle ?? reader.title, tags: prepared.frontMatter?.tags ?? [],
                                  links: links)
        }
    }

    struct Reader {
        let minWords: Int
        let documentTags: [String]
        var title: String?
        var fullTitle: String?
        var author: String?
        var url: ParsedLink?
        var insights: [ParsedInsight] = []
        /// The `## …` part being read.
        var part = ""
        /// The date of a `### New highlights added …` group.
        var groupDate: String?

        init(minWords: Int, documentTags: [String]) {
            self.minWords = minWords
            self.documentTags = documentTags
        }

        var section: String? {
            guard let name = fullTitle ?? title else { return author }
            return author.map { "\(name) (\($0))" } ?? name
        }

        mutating func read(_ document: MarkdownTree.Node) {
            for block in document.children {
                switch block.kind {
                case .heading:
                    let text = Normalizer.display(MarkdownInline.noteSyntax(MarkdownTree.inlineText(block)))
                    switch block.headingLevel {
                    case 1:
                        if title == nil { title = text }
                    case 2:
                        part = text.lowercased()
                        groupDate = nil
                    default:
                        groupDate = Self.addedDate(text)
                    }
                case .list where part == "metadata":
                    for item in block.children { metadata(item) }
                case .list where part == "highlights":
                    for item in block.children { highlight(item) }
                default:
                    continue
                }
            }
        }

        mutating func metadata(_ item: MarkdownTree.Node) {
            let text = item.children.first(where: { if case .paragraph = $0.kind { true } else { false } })
                .map { MarkdownTree.inlineText($0) } ?? ""
            guard let colon = text.firstIndex(of: ":") else { return }
            let key = text[..<colon].lowercased()
            let value = Normalizer.display(MarkdownInline.noteSyntax(String(text[text.index(after: colon)...])))
            guard !value.isEmpty else { return }
            switch key {
            case "author": author = value
            case "full title": fullTitle = value
            case "url", "source url", "source":
                if value.hasPrefix("http://") || value.hasPrefix("https://") { url = ParsedLink(url: value, line: item.line) }
            default: return
            }
        }

        mutating func highlight(_ item: MarkdownTree.Node) {
            guard case .item = item.kind else { return }
            var body: [String] = []
            var line = item.line
            var note: [String] = []
            var tags = documentTags
            for child in item.children {
                switch child.kind {
                case .paragraph:
                    if body.isEmpty { line = child.line }
                    body.append(MarkdownTree.inlineText(child))
                case .list:
                    for sub in child.children {
                        let text = sub.children.compactMap { node -> String? in
                            if case .paragraph = node.kind { return MarkdownTree.inlineText(node) }
                            return nil
                        }.joined(separator: "\n")
                        if let value = Self.value(of: "Note", in: text) {
                            note.append(Normalizer.display(value))
                        } else if let value = Self.value(of: "Tags", in: text) {
                            for word in value.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }) {
                                if let tag = Tags.normalize(word), !tags.contains(tag) { tags.append(tag) }
                            }
                        }
                    }
                default:
                    continue
                }
            }
            let (passage, location) = Self.splitLocation(body.joined(separator: " "))
            let cleaned = MarkdownInline.clean(passage)
            for tag in cleaned.tags where !tags.contains(tag) { tags.append(tag) }
            let text = Normalizer.display(cleaned.text)
            guard DocumentParser.wordCount(text) >= minWords else { return }
            insights.append(ParsedInsight(text: text, line: line, section: section, tags: tags,
                                          note: note.isEmpty ? nil : note.joined(separator: "\n"),
                                          location: location, addedAt: groupDate))
        }

        /// `Note: text` → `text` (case-insensitive key).
        static func value(of key: String, in text: String) -> String? {
            let trimmed = Substring(text).drop(while: { $0 == " " })
            if ASCIIText.isASCII(trimmed), !trimmed.utf8.contains(0x0D) {
                // Characters are bytes here: compare the key without Foundation.
                let bytes = trimmed.utf8
                guard bytes.count > key.utf8.count else { return nil }
                let colon = bytes.index(bytes.startIndex, offsetBy: key.utf8.count)
                guard bytes[colon] == UInt8(ascii: ":"), ASCIIText.equalsLowercased(trimmed[..<colon], key.lowercased()) else { return nil }
                return String(trimmed[bytes.index(after: colon)...].drop(while: { $0 == " " }))
            }
            guard trimmed.count > key.count, trimmed.prefix(key.count).caseInsensitiveCompare(key) == .orderedSame,
                  trimmed.dropFirst(key.count).first == ":" else { return nil }
            return String(trimmed.dropFirst(key.count + 1).drop(while: { $0 == " " }))
        }

        /// Splits a rendered highlight into its passage and `location 1043` / `page 12` (nil for `View Highlight`).
        static func splitLocation(_ text: String) -> (String, String?) {
            let trimmed = Substring(text).trimmingTrailingSpaces()
            guard trimmed.hasSuffix(")"), let paren = trimmed.lastIndex(of: "("), paren > trimmed.startIndex,
                  trimmed[trimmed.index(before: paren)] == " " else { return (text, nil) }
            let open = trimmed.index(before: paren)..<trimmed.index(after: paren)
            let inner = trimmed[open.upperBound..<trimmed.index(before: trimmed.endIndex)]
            let words = inner.split(separator: " ")
            if inner == "View Highlight" || inner == "View highlight" { return (String(trimmed[..<open.lowerBound]), nil) }
            guard words.count == 2, ["location", "page"].contains(words[0].lowercased()),
                  words[1].allSatisfy({ $0.isNumber || $0 == "-" }) else { return (text, nil) }
            return (String(trimmed[..<open.lowerBound]), "\(words[0].lowercased()) \(words[1])")
        }

        /// `New highlights added March 5, 2023 at 10:14 AM` → `2023-03-05T10:14:00`.
        static func addedDate(_ heading: String) -> String? {
            guard let added = heading.range(of: "added ", options: .caseInsensitive) else { return nil }
            return EnglishDate.iso(String(heading[added.upperBound...]))
        }
    }
}

/// English dates as exports write them: `March 5, 2023 at 10:14 AM` (Readwise), `Tuesday, March 5, 2019 8:14:02 PM`
/// and `Sunday, 1 January 2023 09:14:55` (Kindle).
public enum EnglishDate {
    /// `YYYY-MM-DDTHH:MM:SS` (24-hour), `YYYY-MM-DD` without a time, or nil when no month, day and year are found.
    public static func iso(_ text: String) -> String? {
        iso(words: text.split(separator: " ")[...])
    }

    /// `Tuesday, March 5, 2019 8:14:02 PM` or `Sunday, 1 January 2023 09:14:55` as `2019-03-05T20:14:02`
    /// (`YYYY-MM-DD` when no time is given); nil when the words are not an English date.
    static func iso(words: ArraySlice<Substring>) -> String? {
        var year: Int?
        var month: Int?
        var day: Int?
        var time: [Int]?
        var meridiem: String?
        for word in words {
            let ascii = ASCIIText.isASCII(word)
            for token in ascii ? ASCIIText.split(word, at: UInt8(ascii: ",")) : word.split(separator: ",") {
                if month == nil, let number = ascii ? asciiMonth(token) : months[unicodeMonthKey(token)] {
                    month = number
                } else if let mark = ascii ? asciiMeridiem(token) : unicodeMeridiem(token) {
                    meridiem = mark
                } else if ascii ? token.utf8.contains(UInt8(ascii: ":")) : token.contains(":") {
                    let fields = token.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
                    guard (2...3).contains(fields.count), fields.allSatisfy({ $0 != nil }) else { return nil }
                    time = fields.compactMap { $0 }
                } else if let number = Int(token) {
                    if token.count == 4 { year = number } else if day == nil { day = number }
                }
            }
        }
        guard let year, let month, let day, (1...31).contains(day) else { return nil }
        let date = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        guard let time else { return date }
        var hour = time[0]
        let minute = time[1]
        let second = time.count == 3 ? time[2] : 0
        switch meridiem {
        case "am": guard (1...12).contains(hour) else { return date }; if hour == 12 { hour = 0 }
        case "pm": guard (1...12).contains(hour) else { return date }; if hour != 12 { hour += 12 }
        default: break
        }
        guard (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return date }
        return date + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":" + pad(second, 2)
    }

    /// The month an ASCII token names (`March`, `mar`, `Sept.`), compared byte by byte.
    private static func asciiMonth(_ token: Substring) -> Int? {
        // Month names start with a letter; most tokens are numbers.
        guard let first = token.utf8.first, (0x41...0x5A).contains(first) || (0x61...0x7A).contains(first) else { return nil }
        var bytes = token.utf8[...]
        if bytes.last == UInt8(ascii: ".") { bytes = bytes.dropLast() }
        guard (3...9).contains(bytes.count) else { return nil }
        func matches(_ name: String) -> Bool {
            name.utf8.count == bytes.count
                && zip(bytes, name.utf8).allSatisfy { ((0x41...0x5A).contains($0) ? $0 | 0x20 : $0) == $1 }
        }
        for (index, name) in monthNames.enumerated() where matches(name) || matches(monthAbbreviations[index]) {
            return index + 1
        }
        return matches("sept") ? 9 : nil
    }

    private static func unicodeMonthKey(_ token: Substring) -> String {
        let lower = token.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    /// `am` or `pm` for an ASCII token `AM`, `a.m.`, `PM`, `p.m.` in any case.
    private static func asciiMeridiem(_ token: Substring) -> String? {
        guard let first = token.utf8.first, first | 0x20 == UInt8(ascii: "a") || first | 0x20 == UInt8(ascii: "p") else { return nil }
        if ASCIIText.equalsLowercased(token, "am") || ASCIIText.equalsLowercased(token, "a.m.") { return "am" }
        if ASCIIText.equalsLowercased(token, "pm") || ASCIIText.equalsLowercased(token, "p.m.") { return "pm" }
        return nil
    }

    private static func unicodeMeridiem(_ token: Substring) -> String? {
        let lower = token.lowercased()
        guard lower == "am" || lower == "a.m." || lower == "pm" || lower == "p.m." else { return nil }
        return lower.hasPrefix("a") ? "am" : "pm"
    }

    private static let monthAbbreviations = monthNames.map { String($0.prefix(3)) }
    private static let monthNames = ["january", "february", "march", "april", "may", "june", "july", "august",
                                     "september", "october", "november", "december"]
    private static let months: [String: Int] = {
        var months: [String: Int] = [:]
        for (index, name) in monthNames.enumerated() {
            months[name] = index + 1
            months[String(name.prefix(3))] = index + 1
        }
        months["sept"] = 9
        return months
    }()

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.utf8.count >= width ? digits : String(repeating: "0", count: width - digits.utf8.count) + digits
    }
}
