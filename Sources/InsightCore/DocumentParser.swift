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
    /// Readwise's CSV export of every highlight.
    case readwiseCSV = "readwise-csv"
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
/// Rules: paragraphs are separated by blank lines; a file without blank lines has one paragraph a line, except
/// that hard-wrapped prose is joined back into its paragraphs (see `lineBlocks`). A heading (Markdown `#`, or a
/// short line without closing punctuation) is never an insight: it becomes the section of the paragraphs below it.
/// A leading `date YYYY-MM-DD` is the document's date. Bullet and numbering marks are stripped, and paragraphs
/// shorter than `minWords` or ending in a colon (a lead-in to a list) are dropped.
public struct DocumentParser: Sendable {
    /// Paragraphs with fewer words are not insights.
    public var minWords: Int

    public init(minWords: Int = 6) {
        self.minWords = minWords
    }

    /// Splits `text` into insights.
    public func parse(_ text: String) -> ParsedDocument {
        // A byte order mark starts the file (possibly after blank lines) or each file of a concatenation.
        var lines = Self.lines(text).map(Self.droppingByteOrderMark)
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
            let paragraph = Normalizer.display(Self.join(block.lines))
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
        if !hasBlankSeparators { return lineBlocks(lines) }
        var blocks: [Block] = []
        var current: Block?
        for (index, line) in lines.enumerated() {
            if isBlank(line) {
                if let block = current { blocks.append(block) }
                current = nil
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

    /// One block a line, except that hard-wrapped prose is joined back into its paragraphs.
    ///
    /// A line continues the one above when the line above does not end a sentence, neither is a Markdown heading,
    /// the line is not a list item, and either it starts in lower case or the file is wrapped at a fixed width
    /// (`wrapWidth`) and the line's first word would not have fit on the line above.
    static func lineBlocks(_ lines: [Substring]) -> [Block] {
        var wrapped: [WrapLine] = []
        wrapped.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() where !isBlank(line) {
            wrapped.append(WrapLine(index: index, text: line))
        }
        let width = wrapWidth(wrapped)
        var blocks: [Block] = []
        for (position, line) in wrapped.enumerated() {
            if position > 0, !blocks.isEmpty, continues(wrapped[position - 1], with: line, width: width) {
                blocks[blocks.count - 1].lines.append(line.text)
            } else {
                blocks.append(Block(firstLine: line.index + 1, lines: [line.text]))
            }
        }
        return blocks
    }

    /// What the hard-wrap rules need to know about one line.
    struct WrapLine {
        /// The 0-based line number.
        var index: Int
        var text: Substring
        /// Width in columns (Unicode scalars), without trailing white space.
        var columns: Int
        /// Whether the line has a space after its indentation, i.e. a wrapper could have broken it.
        var breakable: Bool
        var endsSentence: Bool
        var startsLowercase: Bool
        /// Width of the first word, the one a wrapper would have had to fit on the line above.
        var firstWordColumns: Int
        var isListItem: Bool
        var isMarkdownHeading: Bool

        init(index: Int, text: Substring) {
            self.index = index
            self.text = text
            let measured = text.utf8.withContiguousStorageIfAvailable(Self.measure)
                ?? Array(text.utf8).withUnsafeBufferPointer(Self.measure)
            columns = measured.columns
            breakable = measured.breakable
            firstWordColumns = measured.firstWord
            let utf8 = text.utf8
            let start = utf8.index(utf8.startIndex, offsetBy: measured.start)
            let content = text[start..<utf8.index(utf8.startIndex, offsetBy: measured.end)]
            endsSentence = DocumentParser.endsSentence(content)
            isMarkdownHeading = measured.hash && DocumentParser.isMarkdownHeading(content)
            if let listItem = measured.listItem, let lowercase = measured.lowercase {
                isListItem = listItem
                startsLowercase = lowercase
            } else {
                // The line starts with a character outside ASCII (a `•` bullet, a curly quote): ask Unicode.
                isListItem = DocumentParser.stripBullet(content).startIndex != content.startIndex
                startsLowercase = content.drop(while: { DocumentParser.openingMarks.contains($0) }).first?.isLowercase ?? false
            }
        }

        /// The byte-level facts of a line.
        private struct Measured {
            var columns = 0
            /// Byte offsets of the text without indentation and trailing white space.
            var start = 0
            var end = 0
            var breakable = false
            var firstWord = 0
            /// Whether the text starts with `#`.
            var hash = false
            /// Nil when the text starts outside ASCII, where Unicode must answer.
            var listItem: Bool?
            var lowercase: Bool?
        }

        /// Reads a line's facts from its bytes: lines are mostly ASCII, and the Unicode questions are
        /// asked only when the text starts outside it.
        private static func measure(_ bytes: UnsafeBufferPointer<UInt8>) -> Measured {
            var start = 0
            while start < bytes.count, Normalizer.isASCIISpace(bytes[start]) { start += 1 }
            var end = bytes.count
            while end > start, Normalizer.isASCIISpace(bytes[end - 1]) { end -= 1 }
            guard start < end else { return Measured(listItem: false, lowercase: false) }
            // Columns are scalars: every byte that does not continue a multi-byte sequence.
            var columns = 0
            for byte in UnsafeBufferPointer(rebasing: bytes[..<end]) where byte & 0xC0 != 0x80 { columns += 1 }
            var wordEnd = start
            var firstWord = 0
            while wordEnd < end, !Normalizer.isASCIISpace(bytes[wordEnd]) {
                if bytes[wordEnd] & 0xC0 != 0x80 { firstWord += 1 }
                wordEnd += 1
            }
            var measured = Measured(columns: columns, start: start, end: end, breakable: wordEnd < end, firstWord: firstWord)
            let first = bytes[start]
            guard first < 0x80 else { return measured }
            func byte(_ offset: Int) -> UInt8 { start + offset < end ? bytes[start + offset] : 0 }
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
            func isLower(_ byte: UInt8) -> Bool { (0x61...0x7A).contains(byte) }
            // The marks `stripBullet` removes: `-`, `*`, `+`, `>` and a space; `1.` or `12)` and a space; `a)` and a space.
            var listItem = "-*+>".utf8.contains(first) && isSpace(byte(1))
            var digits = 0
            while digits < 4, (0x30...0x39).contains(byte(digits)) { digits += 1 }
            if (1...3).contains(digits), byte(digits) == 0x2E || byte(digits) == 0x29, byte(digits + 1) == 0x20 { listItem = true }
            if isLower(first), byte(1) == 0x29, byte(2) == 0x20 { listItem = true }
            var opening = 0
            while "\"'([".utf8.contains(byte(opening)) { opening += 1 }
            measured.hash = first == 0x23
            let letter = byte(opening)
            guard letter < 0x80 else { return measured }
            measured.listItem = listItem
            measured.lowercase = isLower(letter)
            return measured
        }
    }

    /// The width the file was hard-wrapped at, or nil when its lines do not have that shape.
    ///
    /// A wrapped file's lines that break mid-sentence nearly fill a common width (they stop short of it by at most
    /// the next word), and most of them are followed by a lower-case word; a list of unpunctuated items is not.
    static func wrapWidth(_ lines: [WrapLine]) -> Int? {
        var width = 0
        for line in lines where line.breakable { width = max(width, line.columns) }
        guard (40...120).contains(width) else { return nil }
        let tolerance = max(8, width / 6)
        var candidates = 0
        var full = 0
        var lowercase = 0
        for position in lines.indices.dropLast() where mayContinue(lines[position], with: lines[position + 1]) {
            candidates += 1
            if lines[position].columns >= width - tolerance { full += 1 }
            if lines[position + 1].startsLowercase { lowercase += 1 }
        }
        guard candidates >= 2, full * 4 >= candidates * 3, lowercase * 2 >= candidates else { return nil }
        return width
    }

    /// Whether `next` could continue `previous` at all: a sentence, a heading or a new list item starts afresh,
    /// and a line of one word (a URL, a name in a list) was never broken by a wrapper.
    static func mayContinue(_ previous: WrapLine, with next: WrapLine) -> Bool {
        previous.breakable && !previous.endsSentence && !previous.isMarkdownHeading && !next.isMarkdownHeading && !next.isListItem
    }

    /// Whether `next` is the rest of `previous`, broken by a hard wrap.
    static func continues(_ previous: WrapLine, with next: WrapLine, width: Int?) -> Bool {
        guard mayContinue(previous, with: next) else { return false }
        if next.startsLowercase { return true }
        // A wrapper moves a word down only when it does not fit; a word that would have fit means a new line.
        guard let width else { return false }
        return previous.columns + 1 + next.firstWordColumns > width
    }

    /// Whether `line` ends with closing punctuation (`. ! ? … : ;`), possibly inside closing quotes or brackets.
    static func endsSentence(_ line: Substring) -> Bool {
        var rest = line
        while let last = rest.last, closingMarks.contains(last) { rest = rest.dropLast() }
        guard let last = rest.last else { return false }
        return sentenceEnds.contains(last)
    }

    private static let sentenceEnds: Set<Character> = [".", "!", "?", "…", ":", ";"]
    private static let closingMarks: Set<Character> = ["\"", "'", "”", "’", ")", "]", "»", "›"]
    static let openingMarks: Set<Character> = ["\"", "'", "“", "‘", "(", "[", "«", "‹"]

    /// The lines of a paragraph as one line: bullet marks stripped and lines joined with a space, except that a word
    /// broken after its hyphen (`open-` / `source`) is joined back without one.
    static func join(_ lines: [Substring]) -> String {
        if lines.count == 1 { return String(stripBullet(lines[0])) }
        var out = ""
        for line in lines {
            var piece = stripBullet(line)
            while piece.last?.isWhitespace == true { piece = piece.dropLast() }
            if !out.isEmpty, !(endsWithWordHyphen(out) && piece.first?.isLowercase == true) { out += " " }
            out += piece
        }
        return out
    }

    /// Whether `text` ends in a hyphen right after a letter (`open-`), not a free-standing dash.
    private static func endsWithWordHyphen(_ text: String) -> Bool {
        var scalars = text.unicodeScalars.reversed().makeIterator()
        guard scalars.next() == "-", let before = scalars.next() else { return false }
        return before.properties.isAlphabetic
    }

    /// `line` without a byte order mark at its start (after any indentation); other lines unchanged.
    static func droppingByteOrderMark(_ line: Substring) -> Substring {
        let utf8 = line.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex, utf8[index] == 0x20 || utf8[index] == 0x09 { index = utf8.index(after: index) }
        var found = false
        while utf8[index...].starts(with: byteOrderMark) {
            index = utf8.index(index, offsetBy: 3)
            found = true
        }
        return found ? line[index...] : line
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

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
        // Most lines are sentences: their closing punctuation says so before any tidying.
        if let last = line.last(where: { !$0.isWhitespace }), closingPunctuation.contains(last) { return nil }
        // An ASCII line of 14 or more words keeps at least 13 after its bullet is stripped: too long for a heading.
        if hasMoreThanThirteenASCIIWords(line) { return nil }
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

    private static func hasMoreThanThirteenASCIIWords(_ line: Substring) -> Bool {
        var words = 0
        var inWord = false
        for byte in line.utf8 {
            guard byte < 0x80 else { return false }
            if Normalizer.isASCIISpace(byte) {
                inWord = false
            } else if !inWord {
                inWord = true
                words += 1
            }
        }
        return words >= 14
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

    /// Words with at least one letter or digit.
    public static func wordCount(_ text: String) -> Int {
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
