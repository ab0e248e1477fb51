/// Chooses how to read a dropped file, by its extension and its content, and reads it.
///
/// | extension | content | format |
/// | --- | --- | --- |
/// | `.md`, `.markdown` | `## Highlights` with Readwise metadata or location links | `readwise` |
/// | `.md`, `.markdown` | anything else | `markdown` (`outline` when the page is only nested bullets) |
/// | `.csv` | Readwise's header (`Highlight`, `Book Title`, …) | `readwise-csv` (any other CSV is not read) |
/// | `.txt` and others | `==========` entries with `- Your Highlight …` lines | `kindle-clippings` |
/// | `.txt` and others | indented bullets throughout | `outline` |
/// | `.txt` and others | anything else | `text` |
///
/// HTML is read by the daemon, which owns the article extractor.
public enum DocumentReader {
    /// Extensions read as Markdown.
    public static let markdownExtensions: Set<String> = ["md", "markdown"]
    /// Extensions read as CSV: only Readwise's export is read.
    public static let csvExtensions: Set<String> = ["csv"]

    /// The format `text` from a file with extension `fileExtension` (without the dot, any case) is read as.
    public static func format(of text: String, fileExtension: String) -> DocumentFormat {
        if markdownExtensions.contains(fileExtension.lowercased()) {
            return ReadwiseExport.looksLikeExport(text) ? .readwise : .markdown
        }
        if csvExtensions.contains(fileExtension.lowercased()), ReadwiseCSV.looksLikeExport(text) { return .readwiseCSV }
        if KindleClippings.looksLikeClippings(text) { return .kindleClippings }
        if looksLikeOutline(text) { return .outline }
        return .text
    }

    /// Splits `text` into insights in the format chosen for it.
    public static func parse(_ text: String, fileExtension: String, minWords: Int) -> ParsedDocument {
        switch format(of: text, fileExtension: fileExtension) {
        case .readwise:
            return ReadwiseExport.parse(text, minWords: minWords)
        case .readwiseCSV:
            return ReadwiseCSV.parse(text, minWords: minWords)
        case .markdown:
            return MarkdownParser(minWords: minWords).parse(text)
        case .kindleClippings:
            return KindleClippings.parse(text, minWords: minWords)
        case .outline:
            var document = MarkdownParser(minWords: minWords).parse(text)
            document.format = .outline
            return document
        case .text, .html, .links:
            return DocumentParser(minWords: minWords).parse(text)
        }
    }

    /// A text file of bullets, some of them indented under others (Workflowy, Dynalist and Logseq exports):
    /// at least four bullet lines, nine in ten of the non-blank lines bullets, and one of them indented.
    static func looksLikeOutline(_ text: String) -> Bool {
        // An outline has an indented bullet: a line break followed by a tab or two spaces and a mark.
        guard ["\n\t- ", "\n  - ", "\n\t* ", "\n  * ", "\n\t+ ", "\n  + "].contains(where: { ByteSearch.contains(text, $0) }) else {
            return false
        }
        var bullets = 0, others = 0, indented = 0
        for line in DocumentParser.lines(text) where !DocumentParser.isBlank(line) {
            let body = line.drop(while: { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" })
            let isBullet = (body.hasPrefix("- ") || body.hasPrefix("* ") || body.hasPrefix("+ ")) || body == "-"
            if isBullet {
                bullets += 1
                if body.startIndex != line.startIndex, line.first == "\t" || line.hasPrefix("  ") { indented += 1 }
            } else {
                others += 1
            }
        }
        return bullets >= 4 && indented >= 1 && others * 9 <= bullets
    }
}

/// Byte searches that decide, before any line is split, whether a format's marks occur in a file at all.
enum ByteSearch {
    /// Whether `text` holds `needle` byte for byte.
    static func contains(_ text: String, _ needle: String) -> Bool {
        var haystack = text
        var pattern = needle
        return haystack.withUTF8 { bytes in
            pattern.withUTF8 { wanted in
                guard !wanted.isEmpty else { return true }
                guard wanted.count <= bytes.count else { return false }
                let first = wanted[0], last = bytes.count - wanted.count
                var index = 0
                while index <= last {
                    if bytes[index] == first {
                        var matched = 1
                        while matched < wanted.count, bytes[index + matched] == wanted[matched] { matched += 1 }
                        if matched == wanted.count { return true }
                    }
                    index += 1
                }
                return false
            }
        }
    }
}
