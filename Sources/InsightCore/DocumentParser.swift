/// One insight found in a file, before deduplication.
public struct ParsedInsight: Sendable, Equatable, Codable {
    /// The paragraph as shown: bullets and markup stripped, whitespace tidied, words as written.
    public var text: String
    /// The 1-based line on which the paragraph starts.
    public var line: Int
    /// The heading path above the paragraph (`Book › Chapter`), if any.
    public var section: String?
    /// Tags of this occurrence, lower-cased, without `#`, in first-seen order (the document's tags included).
    public var tags: [String]
    /// A note the reader attached to this passage (a Kindle note, a Readwise `Note:`).
    public var note: String?
    /// Where in the work the passage stands, as the export wrote it (`page 12 · location 180-182`).
    public var location: String?
    /// When the reader saved the passage, as `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`, when the export says.
    public var addedAt: String?
    /// The index (in `ParsedDocument.insights`) of a longer passage this one is a part of: the reader extended a
    /// highlight, so this text is stored as a variant of that one.
    public var variantOf: Int?

    public init(text: String, line: Int, section: String?, tags: [String] = [], note: String? = nil,
                location: String? = nil, addedAt: String? = nil, variantOf: Int? = nil) {
        self.text = text
        self.line = line
        self.section = section
        self.tags = tags
        self.note = note
        self.location = location
        self.addedAt = addedAt
        self.variantOf = variantOf
    }
}

/// The layout a file was read as; recorded on its source.
public enum DocumentFormat: String, Sendable, Codable, CaseIterable {
    /// Plain text: lists, paragraphs, hard-wrapped prose.
    case text
    /// CommonMark + GitHub Flavored Markdown, Obsidian and Logseq pages included.
    case markdown
    /// A Kindle `My Clippings.txt`.
    case kindleClippings = "kindle-clippings"
    /// A Readwise Markdown export of one book or article.
    case readwise
    /// An indented outline of bullets (Logseq, Workflowy, Dynalist) in a text file.
    case outline
    /// An HTML page that is an article: its main text.
    case html
    /// A file read for its links only (bookmarks, `.url` shortcuts).
    case links
}

/// A link as written in a file, before it is made canonical.
public struct ParsedLink: Sendable, Equatable, Hashable {
    /// The URL as written.
    public var url: String
    /// The 1-based line where it stands.
    public var line: Int

    public init(url: String, line: Int) {
        self.url = url
        self.line = line
    }
}

/// A file split into insights.
public struct ParsedDocument: Sendable, Equatable {
    /// The document's date (front matter `date`, a leading `date YYYY-MM-DD`), as `YYYY-MM-DD`.
    public var date: String?
    /// The insights in file order.
    public var insights: [ParsedInsight]
    /// How the file was read.
    public var format: DocumentFormat
    /// The document's title (front matter `title`, a Readwise title), if it has one.
    public var title: String?
    /// The document's own tags (front matter), already included in every insight's tags.
    public var tags: [String]
    /// Links to fetch, when the format decides them (Markdown link destinations, front matter `source`,
    /// Readwise `URL`); nil leaves link finding to the plain-text harvester.
    public var links: [ParsedLink]?

    public init(date: String?, insights: [ParsedInsight], format: DocumentFormat = .text, title: String? = nil,
                tags: [String] = [], links: [ParsedLink]? = nil) {
        self.date = date
        self.insights = insights
        self.format = format
        self.title = title
        self.tags = tags
        self.links = links
    }
}

/// Splits the text of a dropped file into insights.
///
/// Rules: paragraphs are separated by blank lines; a file without blank lines has one paragraph a line.
/// A heading (Markdown `#`, or a short line without closing punctuation) is never an insight: it becomes
/// the section of the paragraphs below it. A leading `date YYYY-MM-DD` is the document's date. Bullet and
/// numbering marks are stripped, and paragraphs shorter than `minWords` or ending in a colon (a lead-in to
/// a list) are dropped.
public struct DocumentParser: Sendable {
    /// Paragraphs with fewer words are not insights.
    public var minWords: Int

    public init(minWords: Int = 6) {
        self.minWords = minWords
    }

    /// Splits `text` into insights.
    public func parse(_ text: String) -> ParsedDocument {
        var lines = Self.lines(text)
        var date: String?
        // The date may stand on a line of its own or in front of the first paragraph.
        if let first = lines.firstIndex(where: { !Self.isBlank($0) }), let (found, rest) = Self.leadingDate(lines[first]) {
            date = found
            lines[first] = rest
        }
        let blocks = Self.blocks(lines)
        var insights: [ParsedInsight] = []
        var section: String?
        for block in blocks {
            if block.lines.count == 1, let heading = Self.heading(block.lines[0]) {
                section = heading
                continue
            }
            let joined = block.lines.map { Self.stripBullet($0) }.joined(separator: " ")
            let paragraph = Normalizer.display(joined)
            if Self.wordCount(paragraph) < minWords { continue }
            // A lead-in such as "Key considerations include:" introduces the list below it; it says nothing itself.
            if paragraph.hasSuffix(":") { continue }
            insights.append(ParsedInsight(text: paragraph, line: block.firstLine, section: section))
        }
        return ParsedDocument(date: date, insights: insights)
    }

    struct Block {
        var firstLine: Int
        var lines: [Substring]
    }

    /// Paragraph blocks, or one block a line when the file has no blank line between text lines.
    static func blocks(_ lines: [Substring]) -> [Block] {
        let firstText = lines.firstIndex(where: { !isBlank($0) }) ?? lines.count
        let lastText = lines.lastIndex(where: { !isBlank($0) }) ?? -1
        let hasBlankSeparators = firstText < lastText && lines[firstText...lastText].contains(where: isBlank)
        var blocks: [Block] = []
        var current: Block?
        for (index, line) in lines.enumerated() {
            if isBlank(line) {
                if let block = current { blocks.append(block) }
                current = nil
                continue
            }
            if !hasBlankSeparators {
                blocks.append(Block(firstLine: index + 1, lines: [line]))
                continue
            }
            // Inside a paragraph a Markdown heading still stands alone.
            if isMarkdownHeading(line) {
                if let block = current { blocks.append(block) }
                blocks.append(Block(firstLine: index + 1, lines: [line]))
                current = nil
                continue
            }
            if current == nil { current = Block(firstLine: index + 1, lines: []) }
            current?.lines.append(line)
        }
        if let block = current { blocks.append(block) }
        return blocks
    }

    /// `date YYYY-MM-DD` (or `Date: YYYY-MM-DD`) at the start of `line`, and what follows it.
    static func leadingDate(_ line: Substring) -> (String, Substring)? {
        var rest = line.drop(while: { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" })
        guard rest.prefix(4).lowercased() == "date" else { return nil }
        rest = rest.dropFirst(4)
        if rest.first == ":" { rest = rest.dropFirst() }
        guard rest.first == " " || rest.first == "\t" else { return nil }
        rest = rest.drop(while: { $0 == " " || $0 == "\t" })
        let candidate = rest.prefix(10)
        let chars = Array(candidate)
        guard chars.count == 10, chars[4] == "-", chars[7] == "-",
              chars.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || $0.element.isASCII && $0.element.isNumber })
        else { return nil }
        let after = rest.dropFirst(10)
        if let next = after.first, !next.isWhitespace { return nil }
        return (String(candidate), after.drop(while: { $0.isWhitespace }))
    }

    /// Splits on `\n`, `\r\n` and `\r`, scanning bytes: a line break is always a whole scalar, so no grapheme
    /// breaking is needed.
    static func lines(_ text: String) -> [Substring] {
        var lines: [Substring] = []
        let utf8 = text.utf8
        var lineStart = utf8.startIndex
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 0x0A || byte == 0x0D {
                lines.append(text[lineStart..<index])
                var next = utf8.index(after: index)
                if byte == 0x0D, next != utf8.endIndex, utf8[next] == 0x0A { next = utf8.index(after: next) }
                lineStart = next
                index = next
            } else {
                index = utf8.index(after: index)
            }
        }
        lines.append(text[lineStart..<utf8.endIndex])
        return lines
    }

    static func isBlank(_ line: Substring) -> Bool {
        var ascii = true
        for byte in line.utf8 {
            if byte >= 0x80 { ascii = false; break }
            if !Normalizer.isASCIISpace(byte) { return false }
        }
        return ascii || line.allSatisfy { $0.isWhitespace }
    }

    static func isMarkdownHeading(_ line: Substring) -> Bool {
        let trimmed = line.drop(while: { $0 == " " })
        let hashes = trimmed.prefix(while: { $0 == "#" })
        return (1...6).contains(hashes.count) && (trimmed.dropFirst(hashes.count).first.map { $0 == " " } ?? true)
    }

    /// The heading text when `line` is a heading, else nil.
    static func heading(_ line: Substring) -> String? {
        if isMarkdownHeading(line) {
            let text = Normalizer.display(String(line.drop(while: { $0 == " " || $0 == "#" })))
            return text.isEmpty ? nil : text
        }
        let text = Normalizer.display(String(stripBullet(line)))
        guard let last = text.last, !closingPunctuation.contains(last) else { return nil }
        let words = text.split(separator: " ")
        guard !words.isEmpty, words.count <= 12 else { return nil }
        if words.count <= 5 { return text }
        // A longer unpunctuated line is a heading only when written in title case.
        let long = words.filter { $0.count >= 4 }
        let capitalized = long.filter { $0.first?.isUppercase == true }
        return capitalized.count * 2 >= long.count ? text : nil
    }

    private static let closingPunctuation: Set<Character> = [".", "!", "?", ":", ";", ",", "…", "\"", "'", "”", "’", ")", "]"]

    /// Removes a leading bullet (`-`, `*`, `•`…) or numbering (`1.`, `2)`, `a)`) mark.
    static func stripBullet(_ line: Substring) -> Substring {
        var rest = line.drop(while: { $0 == " " || $0 == "\t" })
        if let first = rest.first, "-*+•·▪◦‣–—>".contains(first) {
            let after = rest.dropFirst()
            if after.first == " " || after.first == "\t" { return after.drop(while: { $0 == " " || $0 == "\t" }) }
            return rest
        }
        let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
        if (1...3).contains(digits.count) {
            let after = rest.dropFirst(digits.count)
            if let mark = after.first, mark == "." || mark == ")", after.dropFirst().first == " " {
                rest = after.dropFirst().drop(while: { $0 == " " })
                return rest
            }
        }
        if let letter = rest.first, letter.isLowercase, letter.isASCII, rest.dropFirst().first == ")", rest.dropFirst(2).first == " " {
            return rest.dropFirst(2).drop(while: { $0 == " " })
        }
        return rest
    }

    static func wordCount(_ text: String) -> Int {
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // A word is a run of non-space bytes with at least one letter or digit.
            var count = 0
            var inWord = false
            var counted = false
            for byte in text.utf8 {
                if Normalizer.isASCIISpace(byte) {
                    inWord = false
                    continue
                }
                if !inWord { inWord = true; counted = false }
                let alphanumeric = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                if alphanumeric, !counted { count += 1; counted = true }
            }
            return count
        }
        return text.split(whereSeparator: { $0.isWhitespace }).count { word in word.contains(where: { $0.isLetter || $0.isNumber }) }
    }
}
