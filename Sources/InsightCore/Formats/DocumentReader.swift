/// Chooses how to read a dropped file, by its extension and its content, and reads it.
///
/// | extension | content | format |
/// | --- | --- | --- |
/// | `.md`, `.markdown` | `## Highlights` with Readwise metadata or location links | `readwise` |
/// | `.md`, `.markdown` | anything else | `markdown` (`outline` when the page is only nested bullets) |
/// | `.txt` and others | `==========` entries with `- Your Highlight …` lines | `kindle-clippings` |
/// | `.txt` and others | indented bullets throughout | `outline` |
/// | `.txt` and others | anything else | `text` |
///
/// HTML is read by the daemon, which owns the article extractor.
public enum DocumentReader {
    /// Extensions read as Markdown.
    public static let markdownExtensions: Set<String> = ["md", "markdown"]

    /// The format `text` from a file with extension `fileExtension` (without the dot, any case) is read as.
    public static func format(of text: String, fileExtension: String) -> DocumentFormat {
        if markdownExtensions.contains(fileExtension.lowercased()) {
            return ReadwiseExport.looksLikeExport(text) ? .readwise : .markdown
        }
        if KindleClippings.looksLikeClippings(text) { return .kindleClippings }
        if looksLikeOutline(text) { return .outline }
        return .text
    }

    /// Splits `text` into insights in the format chosen for it.
    public static func parse(_ text: String, fileExtension: String, minWords: Int) -> ParsedDocument {
        switch format(of: text, fileExtension: fileExtension) {
        case .readwise:
            return ReadwiseExport.parse(text, minWords: minWords)
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
