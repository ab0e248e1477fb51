import Foundation

/// Splits a Markdown note (CommonMark + GFM; Obsidian and Logseq pages included) into insights.
///
/// From the cmark-gfm tree: every paragraph, every list item's own text (nested items are insights of their
/// own) and every block-quote paragraph is a candidate; headings set the section (`Book › Chapter`). Code
/// blocks, tables, raw HTML, thematic breaks, images, footnotes and link reference definitions never are.
/// Task items (`- [ ]`, `- [x]`, Logseq `TODO`/`DONE`/`LATER`/`NOW`/`WAITING`) are not insights. A short parent
/// bullet (under `minWords`) is context: it joins the section of the bullets under it. Inline markup is
/// rendered to plain text, `[[Page|alias]]` as `alias`, and a trailing run of `#tags` becomes tags. Front
/// matter is metadata.
public struct MarkdownParser: Sendable {
    /// Paragraphs with fewer words are not insights.
    public var minWords: Int

    public init(minWords: Int = 6) {
        self.minWords = minWords
    }

    /// Splits `text` into insights; `format` is `.outline` when the page is nothing but nested bullets.
    public func parse(_ text: String) -> ParsedDocument {
        let prepared = MarkdownSource(text)
        return MarkdownTree.parse(prepared.text) { document in
            var walk = MarkdownWalk(minWords: minWords, root: prepared.frontMatter?.title, tags: prepared.frontMatter?.tags ?? [])
            walk.blocks(of: document, context: [])
            var links = prepared.frontMatter?.links ?? []
            links += MarkdownTree.links(in: document)
            let topLevel = Array(document.children)
            let isOutline = !topLevel.isEmpty && topLevel.allSatisfy({ if case .list = $0.kind { true } else { false } }) && walk.sawNesting
            return ParsedDocument(
                date: prepared.frontMatter?.date ?? prepared.leadingDate, insights: walk.insights,
                format: isOutline ? .outline : .markdown, title: prepared.frontMatter?.title,
                tags: prepared.frontMatter?.tags ?? [], links: links)
        }
    }
}

/// A Markdown file made ready for cmark: BOM dropped, front matter read and blanked (so lines keep their
/// numbers), a leading `date YYYY-MM-DD` line taken as the date.
struct MarkdownSource {
    var text: String
    var frontMatter: FrontMatter?
    var leadingDate: String?

    init(_ original: String) {
        var lines = DocumentParser.lines(original)
        if let first = lines.first, first.hasPrefix("\u{FEFF}") { lines[0] = first.dropFirst() }
        frontMatter = FrontMatter.read(lines)
        if let matter = frontMatter {
            for index in 0..<matter.lineCount { lines[index] = "" }
        }
        if frontMatter == nil {
            // Logseq page properties (`title:: …`, `tags:: …`) open a page the way front matter does.
            var index = 0
            var properties: [(String, Substring, Int)] = []
            while index < lines.count, let (key, value) = MarkdownInline.property(lines[index]) {
                properties.append((key, value, index + 1))
                index += 1
            }
            if !properties.isEmpty, index == lines.count || DocumentParser.isBlank(lines[index]) {
                var matter = FrontMatter(lineCount: index)
                for (key, value, _) in properties {
                    switch key {
                    case "title": matter.title = Normalizer.display(String(value))
                    case "tags", "tag":
                        for tag in value.split(separator: ",") {
                            if let tag = Tags.normalize(tag), !matter.tags.contains(tag) { matter.tags.append(tag) }
                        }
                    case "date": matter.date = FrontMatter.isoDate(String(value))
                    default: continue
                    }
                }
                frontMatter = matter
                for blank in 0..<index { lines[blank] = "" }
            }
        }
        if frontMatter?.date == nil, let first = lines.firstIndex(where: { !DocumentParser.isBlank($0) }),
           let (date, rest) = DocumentParser.leadingDate(lines[first]) {
            leadingDate = date
            lines[first] = rest
        }
        text = lines.joined(separator: "\n")
    }
}

/// The walk over the block tree of a plain Markdown note.
struct MarkdownWalk {
    let minWords: Int
    /// The front matter title: the top of every section path.
    let root: String?
    /// The document's tags, given to every insight.
    let documentTags: [String]
    var headings: [(level: Int, text: String)] = []
    var insights: [ParsedInsight] = []
    /// Whether a list item held a nested list (an outline).
    var sawNesting = false
    /// The level of a plain-text heading line: below every Markdown heading.
    static let plainHeadingLevel = 7

    init(minWords: Int, root: String?, tags: [String]) {
        self.minWords = minWords
        self.root = root
        self.documentTags = tags
    }

    mutating func blocks(of node: MarkdownTree.Node, context: [String], quoted: Bool = false) {
        for child in node.children {
            switch child.kind {
            case .heading:
                let text = Normalizer.display(MarkdownInline.clean(MarkdownTree.inlineText(child)).text)
                let level = child.headingLevel
                headings.removeAll { $0.level >= level }
                // `# Title` under a front matter title of the same words is the same heading.
                if level == 1, let root, root.lowercased() == text.lowercased() { continue }
                if !text.isEmpty { headings.append((level, text)) }
            case .paragraph:
                let inline = MarkdownTree.inlineText(child)
                if case .document = node.kind, !inline.contains("\n"), let heading = DocumentParser.heading(Substring(inline)) {
                    // A short line without closing punctuation ("Related Insights") heads what follows, as in
                    // plain text: one level below the Markdown headings above it.
                    headings.removeAll { $0.level >= Self.plainHeadingLevel }
                    headings.append((Self.plainHeadingLevel, heading))
                    continue
                }
                candidate(inline, line: child.line, context: context, quoted: quoted)
            case .blockQuote:
                blocks(of: child, context: context, quoted: true)
            case .list:
                for item in child.children { self.item(item, context: context) }
            case .document, .item:
                blocks(of: child, context: context, quoted: quoted)
            default:
                // Code, tables, HTML, thematic breaks, footnote definitions: never insights.
                continue
            }
        }
    }

    mutating func item(_ node: MarkdownTree.Node, context: [String]) {
        guard case .item = node.kind else { return }  // task items (`- [ ]`, `- [x]`) and their sub-items
        var ownLines: [String] = []
        var line = node.line
        var nested: [MarkdownTree.Node] = []
        for child in node.children {
            switch child.kind {
            case .paragraph:
                if ownLines.isEmpty { line = child.line }
                ownLines.append(MarkdownTree.inlineText(child))
            case .list:
                nested.append(child)
            default:
                nested.append(child)
            }
        }
        let own = MarkdownInline.clean(ownLines.joined(separator: "\n"))
        if MarkdownInline.isTask(own.text) { return }
        let text = Normalizer.display(own.text)
        let hasNestedList = nested.contains { if case .list = $0.kind { true } else { false } }
        var childContext = context
        if hasNestedList {
            sawNesting = true
            if DocumentParser.wordCount(text) < minWords || text.hasSuffix(":") {
                // A short parent bullet names what its children are about.
                let label = text.hasSuffix(":") ? String(text.dropLast()) : text
                if !label.isEmpty { childContext.append(label) }
            } else {
                add(own, line: line, context: context)
            }
        } else {
            add(own, line: line, context: context)
        }
        for child in nested {
            if case .list = child.kind {
                for item in child.children { self.item(item, context: childContext) }
            } else {
                blocksOfSingle(child, context: childContext)
            }
        }
    }

    /// Other blocks inside a list item (a quote, a heading, a code block): handled as at the top level.
    private mutating func blocksOfSingle(_ node: MarkdownTree.Node, context: [String]) {
        switch node.kind {
        case .blockQuote: blocks(of: node, context: context, quoted: true)
        case .paragraph: candidate(MarkdownTree.inlineText(node), line: node.line, context: context, quoted: false)
        default: return
        }
    }

    mutating func candidate(_ inline: String, line: Int, context: [String], quoted: Bool) {
        var raw = inline
        if quoted, raw.hasPrefix("[!") {
            // An Obsidian callout's first line (`[!note] Title`) is its label, not its text.
            raw = raw.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).dropFirst().first.map(String.init) ?? ""
        }
        let cleaned = MarkdownInline.clean(raw)
        if MarkdownInline.isTask(cleaned.text) { return }
        add(cleaned, line: line, context: context)
    }

    mutating func add(_ cleaned: MarkdownInline.Cleaned, line: Int, context: [String]) {
        let text = Normalizer.display(cleaned.text)
        guard DocumentParser.wordCount(text) >= minWords, !text.hasSuffix(":") else { return }
        var tags = documentTags
        for tag in cleaned.tags where !tags.contains(tag) { tags.append(tag) }
        insights.append(ParsedInsight(text: text, line: line, section: section(context), tags: tags))
    }

    func section(_ context: [String]) -> String? {
        let path = (root.map { [$0] } ?? []) + headings.map(\.text) + context
        return path.isEmpty ? nil : path.joined(separator: " › ")
    }
}

/// Note-taking syntax that CommonMark leaves as text: wiki links, embeds, block references, highlights,
/// Logseq properties, trailing tags.
enum MarkdownInline {
    struct Cleaned {
        var text: String
        var tags: [String]
    }

    /// Renders note syntax in `inline` (the text of one block, lines separated by `\n`) to plain text.
    static func clean(_ inline: String) -> Cleaned {
        var tags: [String] = []
        guard ByteSearch.contains(inline, "::") else {
            // No properties: every line is kept, so the lines joined with spaces are the text.
            return trailingTags(noteSyntax(ASCIIText.replacingLineFeeds(inline)), tags: tags)
        }
        var kept: [Substring] = []
        for line in inline.split(separator: "\n", omittingEmptySubsequences: false) {
            if let (key, value) = property(line) {
                // Logseq `tags:: a, b`; other properties (`id::`, `collapsed::`) are bookkeeping.
                if key == "tags" || key == "tag" {
                    for tag in value.split(separator: ",") {
                        if let tag = Tags.normalize(tag), !tags.contains(tag) { tags.append(tag) }
                    }
                }
                continue
            }
            kept.append(line)
        }
        return trailingTags(noteSyntax(kept.count == 1 ? String(kept[0]) : kept.joined(separator: " ")), tags: tags)
    }

    /// `text` without its trailing run of `#tags`, which join `tags`.
    private static func trailingTags(_ text: String, tags: [String]) -> Cleaned {
        guard ByteSearch.contains(text, "#") else { return Cleaned(text: text, tags: tags) }
        var tags = tags
        let trailing = Tags.splitTrailing(text)
        for tag in trailing.tags where !tags.contains(tag) { tags.append(tag) }
        return Cleaned(text: trailing.text, tags: tags)
    }

    /// `key:: value` (a Logseq block property), lower-cased key.
    static func property(_ line: Substring) -> (String, Substring)? {
        let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
        guard let first = trimmed.first, first.isLetter,
              let marker = trimmed.firstIndex(of: ":"),
              trimmed[marker...].hasPrefix(":: ") || trimmed[marker...] == "::" else { return nil }
        let key = trimmed[..<marker]
        guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
        return (key.lowercased(), trimmed[marker...].dropFirst(2).drop(while: { $0 == " " }))
    }

    static let taskMarkers: Set<Substring> = ["TODO", "DONE", "LATER", "NOW", "WAITING", "DOING", "CANCELED", "CANCELLED", "WAIT", "IN-PROGRESS"]

    /// Logseq and Org task markers, and a GFM task box the extension did not take (`[ ]` inside a quote).
    static func isTask(_ text: String) -> Bool {
        let trimmed = Substring(text).drop(while: { $0 == " " })
        if trimmed.hasPrefix("[ ] ") || trimmed.hasPrefix("[x] ") || trimmed.hasPrefix("[X] ") { return true }
        let first = trimmed.prefix(while: { $0 != " " })
        return taskMarkers.contains(first)
    }

    /// `![[embed]]` → nothing; `[[Page|alias]]` → `alias`; `[[Page]]` → `Page`; `((block-ref))` → nothing;
    /// `==highlight==` → `highlight`.
    static func noteSyntax(_ text: String) -> String {
        guard ByteSearch.contains(text, "[[") || ByteSearch.contains(text, "((") || ByteSearch.contains(text, "==") else { return text }
        if let rendered = ASCIIText.noteSyntax(text) { return rendered }
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(where: { $0 == "[" || $0 == "(" || $0 == "=" || $0 == "!" }) {
            out += rest[..<open]
            let tail = rest[open...]
            if tail.hasPrefix("![["), let close = tail.range(of: "]]") {
                rest = tail[close.upperBound...]
            } else if tail.hasPrefix("[["), let close = tail.range(of: "]]") {
                let inner = tail[tail.index(open, offsetBy: 2)..<close.lowerBound]
                let shown = inner.split(separator: "|", maxSplits: 1).last ?? inner
                out += shown.split(separator: "#").joined(separator: " › ")
                rest = tail[close.upperBound...]
            } else if tail.hasPrefix("(("), let close = tail.range(of: "))"),
                      tail[tail.index(open, offsetBy: 2)..<close.lowerBound].allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                rest = tail[close.upperBound...]
            } else if tail.hasPrefix("=="), let close = tail.dropFirst(2).range(of: "=="),
                      !tail[tail.index(open, offsetBy: 2)..<close.lowerBound].isEmpty {
                out += tail[tail.index(open, offsetBy: 2)..<close.lowerBound]
                rest = tail[close.upperBound...]
            } else {
                out.append(tail[open])
                rest = tail.dropFirst()
            }
        }
        out += rest
        return out
    }
}
