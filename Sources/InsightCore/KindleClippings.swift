/// A Kindle `My Clippings.txt`: its highlights are insights, its notes are attached to their highlights.
///
/// The file is a run of entries, each closed by a `==========` line:
///
/// ```
/// Thinking, Fast and Slow (Kahneman, Daniel)
/// - Your Highlight on page 12 | Location 180-182 | Added on Tuesday, March 5, 2019 8:14:02 PM
///
/// The highlighted passage.
/// ==========
/// ```
///
/// Kindles write CRLF line ends and a byte order mark before every book line; both are accepted, as are LF files.
/// Only the English layout is recognised (`- Your Highlight`, `- Your Note`, `- Your Bookmark`, `Added on` and
/// English month names); a Kindle set to another language writes a file that is read as plain text.
///
/// - A highlight is an insight; its section is the book line as written (`Title (Author)`).
/// - A note is not an insight: it is attached to the highlight of the same book whose location range ends at
///   (or else contains) the note's location, wherever the two stand in the file. A note that matches no highlight
///   (its highlight was deleted, or is too short to be an insight) is dropped: without its passage it is rarely
///   a statement of its own.
/// - A bookmark gives nothing.
/// - A highlight saved twice (same book, same text) is one insight; a note on either copy is attached to it.
/// - A highlight that the reader later extended is kept along with the extension, as its variant.
public enum KindleClippings {
    /// Whether `text` is a Kindle clippings file: `==========` separators, and entries whose second line is an
    /// English `- Your Highlight …`, `- Your Note …` or `- Your Bookmark …` line.
    ///
    /// A line of `=` signs alone (a Setext heading, a divider) is not enough.
    public static func looksLikeClippings(_ text: String) -> Bool {
        // Most files are not clippings: one byte search settles it before any line is split.
        guard ByteSearch.contains(text, "=========="), ByteSearch.contains(text, "- Your ") else { return false }
        let lines = DocumentParser.lines(text)
        // The first entries decide; a file of thousands need not be read twice.
        let chunks = chunks(lines, upTo: 64)
        guard chunks.separators > 0 else { return false }
        var entries = 0
        var wellFormed = 0
        for chunk in chunks.ranges {
            guard let title = firstText(lines, in: chunk) else { continue }
            entries += 1
            if title + 1 < chunk.upperBound, isBookLine(lines[title]), meta(lines[title + 1]) != nil { wellFormed += 1 }
        }
        // A stray garbled entry is tolerated; a file mostly of other text is not clippings.
        return wellFormed > 0 && wellFormed * 2 >= entries
    }

    /// Splits a clippings file into insights (`format` `.kindleClippings`, no date or title, no links).
    ///
    /// Highlights with fewer than `minWords` words are dropped. Entries without a book line or a meta line are
    /// skipped; a last entry without its closing `==========` still counts.
    public static func parse(_ text: String, minWords: Int) -> ParsedDocument {
        let lines = DocumentParser.lines(text)
        var entries: [Entry] = []
        for chunk in chunks(lines).ranges {
            if let entry = entry(lines, in: chunk, order: entries.count) { entries.append(entry) }
        }

        var insights: [ParsedInsight] = []
        var spans: [Span] = []
        // For each highlight entry: the insight it became (nil when too short). Notes are matched against these.
        var highlights: [(entry: Entry, insight: Int?)] = []
        // Only notes look highlights up by book.
        let hasNotes = entries.contains { $0.kind == .note && !$0.text.isEmpty }
        var byBook: [String: [Int]] = [:]
        var seen: [BookText: Int] = [:]
        for entry in entries where entry.kind == .highlight {
            var target: Int?
            if !entry.text.isEmpty, DocumentParser.wordCount(entry.text) >= minWords {
                let key = Normalizer.key(entry.text)
                let bookText = BookText(book: entry.book, key: key)
                if let first = seen[bookText] {
                    target = first
                } else {
                    target = insights.count
                    seen[bookText] = insights.count
                    insights.append(ParsedInsight(text: entry.text, line: entry.line, section: entry.book,
                                                  location: entry.location, addedAt: entry.addedAt))
                    spans.append(Span(book: entry.book, key: Array(key.utf8), range: entry.range, page: entry.page))
                }
            }
            if hasNotes { byBook[entry.book, default: []].append(highlights.count) }
            highlights.append((entry, target))
        }

        for note in entries where note.kind == .note && !note.text.isEmpty {
            guard let candidates = byBook[note.book],
                  let matched = bestHighlight(for: note, among: candidates.map { highlights[$0].entry }),
                  let target = highlights[candidates[matched]].insight
            else { continue }
            if let existing = insights[target].note {
                // The same note saved twice is said once.
                if !existing.split(separator: "\n").contains(where: { $0 == note.text }) {
                    insights[target].note = existing + "\n" + note.text
                }
            } else {
                insights[target].note = note.text
            }
        }

        for (index, longer) in extensions(spans) { insights[index].variantOf = longer }
        return ParsedDocument(date: nil, insights: insights, format: .kindleClippings, title: nil, tags: [], links: [])
    }

    // MARK: - Entries

    enum Kind: Equatable {
        case highlight, note, bookmark
    }

    struct Meta: Equatable {
        var kind: Kind
        var page: String?
        /// The location as written, e.g. `180-182`.
        var locationText: String?
        var range: ClosedRange<Int>?
        var addedAt: String?
    }

    struct Entry {
        var order: Int
        var book: String
        var kind: Kind
        var page: String?
        var range: ClosedRange<Int>?
        var location: String?
        var addedAt: String?
        var text: String
        var line: Int
    }

    struct BookText: Hashable {
        var book: String
        var key: String
    }

    /// What the extension rule compares: where a kept highlight stands and its key.
    struct Span {
        var book: String
        var key: [UInt8]
        var range: ClosedRange<Int>?
        var page: String?
    }

    /// The line ranges between `==========` lines, and how many separators there were.
    static func chunks(_ lines: [Substring], upTo limit: Int = .max) -> (ranges: [Range<Int>], separators: Int) {
        var ranges: [Range<Int>] = []
        var separators = 0
        var start = 0
        for index in lines.indices where isSeparator(lines[index]) {
            ranges.append(start..<index)
            separators += 1
            start = index + 1
            if ranges.count == limit { return (ranges, separators) }
        }
        // A truncated last entry has no separator after it.
        if start < lines.count { ranges.append(start..<lines.count) }
        return (ranges, separators)
    }

    static func isSeparator(_ line: Substring) -> Bool {
        // Trimming only shortens a line, and a line that starts with a non-space ASCII character other than `=`
        // keeps it: most lines are settled without trimming.
        guard line.utf8.count >= 10 else { return false }
        let unmarked = DocumentParser.droppingByteOrderMark(line)
        if let first = unmarked.utf8.first, first < 0x80, first != UInt8(ascii: "="), !Normalizer.isASCIISpace(first) {
            return false
        }
        let trimmed = trim(unmarked)
        return trimmed.utf8.count == 10 && trimmed.utf8.allSatisfy { $0 == UInt8(ascii: "=") }
    }

    static func firstText(_ lines: [Substring], in range: Range<Int>) -> Int? {
        range.first { !DocumentParser.isBlank(DocumentParser.droppingByteOrderMark(lines[$0])) }
    }

    /// A book line is any text that is not itself a meta line (an entry whose book line is missing).
    static func isBookLine(_ line: Substring) -> Bool {
        !trim(DocumentParser.droppingByteOrderMark(line)).hasPrefix("- ")
    }

    static func entry(_ lines: [Substring], in range: Range<Int>, order: Int) -> Entry? {
        guard let titleIndex = firstText(lines, in: range), titleIndex + 1 < range.upperBound,
              isBookLine(lines[titleIndex]), let meta = meta(lines[titleIndex + 1])
        else { return nil }
        let book = String(trim(DocumentParser.droppingByteOrderMark(lines[titleIndex])))
        var bodyLine = titleIndex + 2
        var parts: [Substring] = []
        for index in (titleIndex + 2)..<range.upperBound {
            let line = lines[index]
            if DocumentParser.isBlank(line) { continue }
            if parts.isEmpty { bodyLine = index }
            parts.append(line)
        }
        var location: [String] = []
        if let page = meta.page { location.append("page " + page) }
        if let text = meta.locationText { location.append("location " + text) }
        return Entry(order: order, book: book, kind: meta.kind, page: meta.page, range: meta.range,
                     location: location.isEmpty ? nil : location.joined(separator: " · "), addedAt: meta.addedAt,
                     text: Normalizer.display(parts.joined(separator: " ")), line: bodyLine + 1)
    }

    /// Reads `- Your Highlight on page 12 | Location 180-182 | Added on …`; nil for any other line.
    static func meta(_ line: Substring) -> Meta? {
        let trimmed = trim(line)
        // Meta lines are ASCII, where characters are bytes: read them without grapheme breaking.
        let ascii = ASCIIText.isASCII(trimmed)
        func starts(_ text: Substring, with prefix: String) -> Bool {
            ascii ? text.utf8.starts(with: prefix.utf8) : text.hasPrefix(prefix)
        }
        guard starts(trimmed, with: "- Your ") else { return nil }
        let rest = trimmed.dropFirst(7)
        let kind: Kind
        if starts(rest, with: "Highlight") {
            kind = .highlight
        } else if starts(rest, with: "Note") {
            kind = .note
        } else if starts(rest, with: "Bookmark") {
            kind = .bookmark
        } else {
            return nil
        }
        var meta = Meta(kind: kind)
        var words: [Substring] = []
        for part in ascii ? ASCIIText.split(rest, at: UInt8(ascii: "|")) : rest.split(separator: "|") {
            words = ascii ? ASCIIText.words(part) : part.split(whereSeparator: { $0 == " " || $0 == "\t" })
            for (position, word) in words.enumerated() {
                if ASCIIText.equalsLowercased(word, "added"), position + 1 < words.count, ASCIIText.equalsLowercased(words[position + 1], "on") {
                    meta.addedAt = EnglishDate.iso(words: words[(position + 2)...])
                    break
                }
                guard position + 1 < words.count else { continue }
                let value = words[position + 1]
                if ASCIIText.equalsLowercased(word, "page") {
                    meta.page = String(value)
                } else if ASCIIText.equalsLowercased(word, "location") || ASCIIText.equalsLowercased(word, "loc.") {
                    meta.locationText = String(value)
                    meta.range = locationRange(value)
                }
            }
        }
        return meta
    }

    /// `180-182` or `182` as a range; older Kindles shorten the end (`1234-37` is 1234–1237).
    static func locationRange(_ text: Substring) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let start = Int(parts[0]), start >= 0 else { return nil }
        guard parts.count == 2 else { return start...start }
        guard var end = Int(parts[1]), end >= 0 else { return nil }
        if end < start, parts[1].count < parts[0].count {
            var scale = 1
            for _ in 0..<parts[1].count { scale *= 10 }
            end += start / scale * scale
            if end < start { end += scale }
        }
        return end >= start ? start...end : nil
    }


    static func trim(_ text: Substring) -> Substring {
        // A non-space ASCII character at each end is a character of its own (no combining mark or prefix can join
        // it to a white space), so there is nothing to trim.
        if let first = text.utf8.first, let last = text.utf8.last, first < 0x80, last < 0x80,
           !Normalizer.isASCIISpace(first), !Normalizer.isASCIISpace(last) {
            return text
        }
        var text = text.drop(while: { $0.isWhitespace })
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return text
    }

    // MARK: - Notes and extensions

    /// The index in `highlights` of the highlight `note` belongs to: Kindle files a note at the last location of
    /// the passage, so a highlight ending there wins over one merely containing it; ties go to the nearest entry.
    static func bestHighlight(for note: Entry, among highlights: [Entry]) -> Int? {
        var best: (index: Int, rank: Int, distance: Int)?
        for (index, highlight) in highlights.enumerated() {
            let rank: Int
            if let location = note.range?.upperBound {
                guard let range = highlight.range, range.contains(location) else { continue }
                rank = range.upperBound == location ? 0 : 1
            } else if let page = note.page, highlight.page == page {
                // A PDF clipping has pages only.
                rank = 1
            } else {
                continue
            }
            let distance = abs(highlight.order - note.order)
            if best.map({ rank < $0.rank || rank == $0.rank && distance < $0.distance }) ?? true {
                best = (index, rank, distance)
            }
        }
        return best?.index
    }

    /// For each kept highlight that is part of a longer highlight of the same book at an overlapping place, the
    /// index of the longest such highlight.
    static func extensions(_ spans: [Span]) -> [(Int, Int)] {
        // Highlights only meet at overlapping places, so compare within a book's location order (or page).
        var groups: [String: [Int]] = [:]
        var byLocation: [String: [Int]] = [:]
        for (index, span) in spans.enumerated() {
            if span.range != nil {
                byLocation[span.book, default: []].append(index)
            } else if let page = span.page {
                groups["P\u{1}" + span.book + "\u{1}" + page, default: []].append(index)
            }
        }
        // A book with one highlight has nothing to compare.
        for (book, members) in byLocation where members.count > 1 { groups["L\u{1}" + book] = members }
        var longest: [Int: Int] = [:]
        func consider(_ a: Int, _ b: Int) {
            let (short, long) = spans[a].key.count < spans[b].key.count ? (a, b) : (b, a)
            guard spans[short].key.count < spans[long].key.count, contains(spans[long].key, spans[short].key) else { return }
            if let current = longest[short], spans[current].key.count >= spans[long].key.count { return }
            longest[short] = long
        }
        for (group, members) in groups {
            if group.hasPrefix("P") {
                for (position, a) in members.enumerated() {
                    for b in members[(position + 1)...] { consider(a, b) }
                }
                continue
            }
            let sorted = members.sorted { (spans[$0].range?.lowerBound ?? 0) < (spans[$1].range?.lowerBound ?? 0) }
            for (position, a) in sorted.enumerated() {
                guard let rangeA = spans[a].range else { continue }
                for b in sorted[(position + 1)...] {
                    guard let rangeB = spans[b].range, rangeB.lowerBound <= rangeA.upperBound else { break }
                    consider(a, b)
                }
            }
        }
        // Point every part at the outermost passage, which is never itself a variant.
        return longest.keys.sorted().map { short in
            var target = longest[short] ?? short
            while let next = longest[target] { target = next }
            return (short, target)
        }
    }

    /// Whether `needle` occurs in `haystack` as whole words.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return false }
        func isWordByte(_ byte: UInt8) -> Bool {
            byte >= 0x80 || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        let first = needle[0]
        for start in 0...(haystack.count - needle.count) where haystack[start] == first {
            var matches = true
            for offset in 1..<needle.count where haystack[start + offset] != needle[offset] {
                matches = false
                break
            }
            guard matches else { continue }
            let end = start + needle.count
            if start > 0, isWordByte(haystack[start - 1]), isWordByte(needle[0]) { continue }
            if end < haystack.count, isWordByte(haystack[end]), isWordByte(needle[needle.count - 1]) { continue }
            return true
        }
        return false
    }
}
