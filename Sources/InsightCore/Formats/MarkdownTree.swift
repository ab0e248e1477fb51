import CCmarkGFM

/// A Markdown document parsed by cmark-gfm (CommonMark with GitHub's tables, task lists, strikethrough and
/// autolinks), and the plain text of its inline content.
///
/// The C tree lives only inside `MarkdownTree.parse`'s closure; every pointer use stays in this file.
struct MarkdownTree {
    /// A node of the C tree, valid inside `parse`'s closure only.
    struct Node {
        fileprivate let raw: OpaquePointer

        enum Kind {
            case document, blockQuote, list, item, codeBlock, htmlBlock, paragraph, heading, thematicBreak
            case footnoteDefinition, text, softBreak, lineBreak, code, htmlInline, emphasis, strong, link, image
            case footnoteReference
            /// An extension's node: `table`, `table_row`, `table_cell`, `strikethrough`, or a task list item (`tasklist`).
            case other(String)
        }

        var kind: Kind {
            let type = cmark_node_get_type(raw)
            switch type {
            case CMARK_NODE_DOCUMENT: return .document
            case CMARK_NODE_BLOCK_QUOTE: return .blockQuote
            case CMARK_NODE_LIST: return .list
            case CMARK_NODE_ITEM:
                // The task-list extension keeps the item type but names it.
                return typeName == "tasklist" ? .other("tasklist") : .item
            case CMARK_NODE_CODE_BLOCK: return .codeBlock
            case CMARK_NODE_HTML_BLOCK: return .htmlBlock
            case CMARK_NODE_PARAGRAPH: return .paragraph
            case CMARK_NODE_HEADING: return .heading
            case CMARK_NODE_THEMATIC_BREAK: return .thematicBreak
            case CMARK_NODE_FOOTNOTE_DEFINITION: return .footnoteDefinition
            case CMARK_NODE_TEXT: return .text
            case CMARK_NODE_SOFTBREAK: return .softBreak
            case CMARK_NODE_LINEBREAK: return .lineBreak
            case CMARK_NODE_CODE: return .code
            case CMARK_NODE_HTML_INLINE: return .htmlInline
            case CMARK_NODE_EMPH: return .emphasis
            case CMARK_NODE_STRONG: return .strong
            case CMARK_NODE_LINK: return .link
            case CMARK_NODE_IMAGE: return .image
            case CMARK_NODE_FOOTNOTE_REFERENCE: return .footnoteReference
            default: return .other(typeName)
            }
        }

        var typeName: String { cmark_node_get_type_string(raw).map { String(cString: $0) } ?? "" }
        var children: Children { Children(upcoming: cmark_node_first_child(raw)) }
        /// The 1-based line where the node starts. cmark-gfm gives no position to a paragraph a table interrupts nor
        /// to a link its autolink extension makes; those take the line of the nearest positioned ancestor.
        var line: Int {
            var node: OpaquePointer? = raw
            while let current = node {
                let line = Int(cmark_node_get_start_line(current))
                if line > 0 { return line }
                node = cmark_node_parent(current)
            }
            return 1
        }
        var headingLevel: Int { Int(cmark_node_get_heading_level(raw)) }
        var literal: String { cmark_node_get_literal(raw).map { String(cString: $0) } ?? "" }
        var url: String { cmark_node_get_url(raw).map { String(cString: $0) } ?? "" }

        struct Children: Sequence, IteratorProtocol {
            fileprivate var upcoming: OpaquePointer?
            mutating func next() -> Node? {
                guard let current = upcoming else { return nil }
                upcoming = cmark_node_next(current)
                return Node(raw: current)
            }
        }
    }

    /// Registers the GFM extensions once per process (the registry is global and not safe to fill concurrently).
    private static let extensionsRegistered: Bool = {
        cmark_gfm_core_extensions_ensure_registered()
        return true
    }()

    private static let extensionNames = ["table", "strikethrough", "autolink", "tasklist"]

    /// Parses `text` and hands the document node to `body`; the tree is freed when `body` returns.
    static func parse<T>(_ text: String, _ body: (Node) -> T) -> T {
        _ = extensionsRegistered
        // Source positions give each insight its line; footnote definitions are recognised (and left out).
        let options = CMARK_OPT_SOURCEPOS | CMARK_OPT_FOOTNOTES | CMARK_OPT_VALIDATE_UTF8
        guard let parser = cmark_parser_new(options) else {
            preconditionFailure("cmark_parser_new returned NULL: out of memory")
        }
        defer { cmark_parser_free(parser) }
        for name in extensionNames {
            if let syntax = cmark_find_syntax_extension(name) { cmark_parser_attach_syntax_extension(parser, syntax) }
        }
        var source = text
        source.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress { cmark_parser_feed(parser, base, chars.count) }
            }
        }
        guard let document = cmark_parser_finish(parser) else {
            preconditionFailure("cmark_parser_finish returned NULL: out of memory")
        }
        defer { cmark_node_free(document) }
        return body(Node(raw: document))
    }

    /// Every link destination in the tree (autolinks included; images are not links), with its line.
    static func links(in node: Node) -> [ParsedLink] {
        var found: [ParsedLink] = []
        collectLinks(node, into: &found)
        return found
    }

    private static func collectLinks(_ node: Node, into found: inout [ParsedLink]) {
        for child in node.children {
            switch child.kind {
            case .link:
                let url = child.url
                if url.hasPrefix("http://") || url.hasPrefix("https://") { found.append(ParsedLink(url: url, line: child.line)) }
                collectLinks(child, into: &found)
            case .image, .codeBlock, .htmlBlock, .code, .htmlInline:
                continue
            default:
                collectLinks(child, into: &found)
            }
        }
    }

    /// The plain text of a block's inline content: markup dropped, link text kept, images, raw HTML and
    /// footnote marks left out, code spans as written. Line breaks (soft and hard) are kept as `\n` so callers
    /// can read line-based syntax (Logseq properties, callout titles) before joining lines.
    static func inlineText(_ node: Node) -> String {
        var out = ""
        appendInline(node, to: &out)
        return out
    }

    private static func appendInline(_ node: Node, to out: inout String) {
        for child in node.children {
            switch child.kind {
            case .text, .code: out += child.literal
            case .softBreak, .lineBreak: out += "\n"
            case .image, .htmlInline, .footnoteReference: continue
            default: appendInline(child, to: &out)
            }
        }
    }
}
