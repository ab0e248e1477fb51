/// Readwise's CSV export of every highlight (readwise.io → Export → CSV):
///
/// ```
/// Highlight,Book Title,Book Author,Amazon Book ID,Note,Color,Tags,Location Type,Location,Highlighted at,Document tags
/// "A passage, quoted when it holds a comma
/// or a line break, ""quotes"" doubled.",The Book,The Author,B00X,my note,yellow,"focus, work",location,1043,2024-05-01 10:00:00+00:00,
/// ```
///
/// Each row with a highlight is an insight: section `Book Title (Book Author)`, the note attached, `Tags` and
/// `Document tags` as tags, `location 1043` (`page 12`) as its location, `Highlighted at` as the date it was added.
/// Columns are found by their header names, so an export with fewer or reordered columns reads the same.
public enum ReadwiseCSV {
    /// Whether `text` starts with Readwise's header: a `Highlight` column and a `Book Title` column. Reads the first
    /// line only, so that asking costs nothing for a large file.
    public static func looksLikeExport(_ text: String) -> Bool {
        var records = CSVRecords(String(text.prefix(while: { $0 != "\n" && $0 != "\r" && $0 != "\r\n" })))
        guard let header = records.next() else { return false }
        let names = Set(header.fields.map { Substring($0).trimmingTrailingSpaces().lowercased() })
        return names.contains("highlight") && names.contains("book title")
    }

    /// Splits an export into its highlights.
    public static func parse(_ text: String, minWords: Int) -> ParsedDocument {
        var records = CSVRecords(text)
        guard let header = records.next() else { return ParsedDocument(date: nil, insights: [], format: .readwiseCSV) }
        var column: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            let key = Substring(name).trimmingTrailingSpaces().lowercased()
            if column[key] == nil { column[key] = index }
        }
        var insights: [ParsedInsight] = []
        var books = Set<String>()
        while let record = records.next() {
            func raw(_ name: String) -> String? {
                guard let index = column[name], index < record.fields.count else { return nil }
                return record.fields[index]
            }
            func field(_ name: String) -> String? {
                let value = raw(name).map(Normalizer.display) ?? ""
                return value.isEmpty ? nil : value
            }
            guard let passage = field("highlight") else { continue }
            let cleaned = MarkdownInline.clean(Self.plainText(passage))
            let text = Normalizer.display(cleaned.text)
            guard DocumentParser.wordCount(text) >= minWords else { continue }
            var section = field("book title")
            if let author = field("book author") { section = section.map { "\($0) (\(author))" } ?? author }
            if let section { books.insert(section) }
            var tags: [String] = []
            for list in [field("tags"), field("document tags")].compactMap({ $0 }) {
                // `.h1`, `.c1`, `.qa`: Readwise's action tags are instructions to Readwise, not topics.
                for word in list.split(separator: ",") where !word.drop(while: { $0 == " " }).hasPrefix(".") {
                    if let tag = Tags.normalize(word), !tags.contains(tag) { tags.append(tag) }
                }
            }
            for tag in cleaned.tags where !tags.contains(tag) { tags.append(tag) }
            var location: String?
            if let place = field("location"), let kind = field("location type")?.lowercased(), kind == "location" || kind == "page" {
                location = "\(kind) \(place)"
            }
            // A note keeps its line breaks, as the other formats' notes do; each line is tidied.
            let note = raw("note").map { $0.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" })
                .map { Normalizer.display(String($0)) }.filter { !$0.isEmpty }.joined(separator: "\n") }
            insights.append(ParsedInsight(text: text, line: record.line, section: section, tags: tags, note: note?.isEmpty == false ? note : nil,
                                          location: location, addedAt: field("highlighted at").flatMap(Self.addedAt)))
        }
        return ParsedDocument(date: nil, insights: insights, format: .readwiseCSV, title: books.count == 1 ? books.first : nil)
    }

    /// A highlight's inline Markdown (Readwise keeps `**bold**` and `[links](…)` in its CSV) as plain text.
    static func plainText(_ highlight: String) -> String {
        guard highlight.contains(where: { "*_`[<".contains($0) }) else { return highlight }
        return MarkdownTree.parse(highlight) { document in
            var parts: [String] = []
            func collect(_ node: MarkdownTree.Node) {
                switch node.kind {
                case .paragraph, .heading: parts.append(MarkdownTree.inlineText(node))
                default: for child in node.children { collect(child) }
                }
            }
            collect(document)
            return parts.joined(separator: " ")
        }
    }

    /// `2024-05-01 10:00:00+00:00` (or `2024-05-01T10:00:00Z`) → `2024-05-01T10:00:00`, the time as the export
    /// wrote it; `2024-05-01` stays; an English date (`May 1, 2024 10:00 AM`) is read as the other exports' are.
    static func addedAt(_ value: String) -> String? {
        let chars = Array(value)
        func digits(_ range: Range<Int>) -> Bool { range.upperBound <= chars.count && chars[range].allSatisfy { $0.isASCII && $0.isNumber } }
        guard digits(0..<4), chars.count >= 10, chars[4] == "-", chars[7] == "-", digits(5..<7), digits(8..<10) else {
            return EnglishDate.iso(value)
        }
        let date = String(chars[0..<10])
        guard chars.count >= 19, chars[10] == " " || chars[10] == "T", digits(11..<13), chars[13] == ":", digits(14..<16),
              chars[16] == ":", digits(17..<19) else { return date }
        return date + "T" + String(chars[11..<19])
    }
}

/// The records of a CSV text (RFC 4180: fields quoted when they hold a comma, a quote or a line break, quotes
/// doubled inside them; lines end in LF, CRLF or CR), each with the 1-based line it starts on.
struct CSVRecords: IteratorProtocol {
    struct Record {
        var fields: [String]
        var line: Int
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1

    init(_ text: String) {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        self.scalars = scalars
    }

    mutating func next() -> Record? {
        // Blank lines between records are not records.
        while index < scalars.count, scalars[index] == "\n" || scalars[index] == "\r" {
            if scalars[index] == "\n" || !(index + 1 < scalars.count && scalars[index + 1] == "\n") { line += 1 }
            index += 1
        }
        guard index < scalars.count else { return nil }
        let start = line
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var quoted = false
        while index < scalars.count {
            let c = scalars[index]
            index += 1
            if quoted {
                if c == "\"" {
                    if index < scalars.count, scalars[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if c == "\n" || (c == "\r" && !(index < scalars.count && scalars[index] == "\n")) { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty:
                quoted = true
            case ",":
                fields.append(String(field))
                field = String.UnicodeScalarView()
            case "\r" where index < scalars.count && scalars[index] == "\n":
                continue
            case "\n", "\r":
                // LF, CRLF (the CR skipped above) or a lone CR (old Mac and some Excel exports) ends a record.
                line += 1
                fields.append(String(field))
                return Record(fields: fields, line: start)
            default:
                field.append(c)
            }
        }
        fields.append(String(field))
        return Record(fields: fields, line: start)
    }
}
