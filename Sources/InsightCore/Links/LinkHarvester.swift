/// A link found in a dropped file.
public struct HarvestedLink: Sendable, Hashable {
    /// The canonical form, used to fetch and to deduplicate.
    public var url: CanonicalURL
    /// The link as written in the file (after HTML entity decoding for `.html` files).
    public var original: String
    /// 1-based line of the file where the link starts.
    public var line: Int

    public init(url: CanonicalURL, original: String, line: Int) {
        self.url = url
        self.original = original
        self.line = line
    }
}

/// Finds the http(s) links in a dropped file.
///
/// - `.html`/`.htm`/`.xhtml`: the `href` of every `<a>` element (entities decoded; comments skipped).
/// - `.url`: the `URL=` entry of the `[InternetShortcut]` section.
/// - anything else (prose, Markdown, a plain list of URLs): Markdown links `[text](url)`,
///   autolinks `<url>` and bare URLs, with trailing punctuation and unbalanced closing brackets
///   trimmed (balanced parentheses, as in Wikipedia URLs, are kept).
///
/// Only absolute http and https links are returned. Each canonical URL appears once, at its
/// first occurrence, in file order.
public enum LinkHarvester {
    /// The links in `text`, a file whose extension (without the dot, any case) is `fileExtension`.
    public static func links(in text: String, fileExtension: String) -> [HarvestedLink] {
        let raw: [(String, Int)]
        switch fileExtension.lowercased() {
        case "html", "htm", "xhtml": raw = anchorLinks(in: text)
        case "url": raw = internetShortcutLinks(in: text)
        default: raw = proseLinks(in: text)
        }
        return canonical(raw.map { ParsedLink(url: $0.0, line: $0.1) })
    }

    /// The links a parser chose, made canonical: only absolute http(s) links, each canonical URL once, at its
    /// first occurrence.
    public static func canonical(_ links: [ParsedLink]) -> [HarvestedLink] {
        var seen = Set<String>()
        var result: [HarvestedLink] = []
        for link in links {
            guard let url = try? CanonicalURL(link.url), seen.insert(url.string).inserted else { continue }
            result.append(HarvestedLink(url: url, original: link.url, line: link.line))
        }
        return result
    }

    // MARK: - Prose and Markdown

    static func proseLinks(in text: String) -> [(String, Int)] {
        var found: [(String, Int)] = []
        for (index, line) in lines(of: text).enumerated() {
            let s = Array(line.unicodeScalars)
            var i = 0
            while i < s.count {
                let c = s[i]
                // Markdown inline link: [text](destination "title")
                if c == "]", i + 1 < s.count, s[i + 1] == "(" {
                    if let (dest, end) = markdownDestination(s, from: i + 2), startsWithHTTPScheme(dest, at: 0) {
                        found.append((string(dest[...]), index + 1))
                        i = end
                        continue
                    }
                }
                // Autolink: <https://...>
                if c == "<", startsWithHTTPScheme(s, at: i + 1) {
                    var j = i + 1
                    while j < s.count, s[j] != ">", !isSpace(s[j]), s[j] != "<" { j += 1 }
                    if j < s.count, s[j] == ">" {
                        found.append((string(s[(i + 1)..<j]), index + 1))
                        i = j + 1
                        continue
                    }
                }
                if startsWithHTTPScheme(s, at: i), i == 0 || !isWordScalar(s[i - 1]) {
                    var j = i
                    while j < s.count, !isBareTerminator(s[j]) { j += 1 }
                    let end = trimmedEnd(s, start: i, end: j)
                    if end > i { found.append((string(s[i..<end]), index + 1)) }
                    i = max(j, i + 1)
                    continue
                }
                i += 1
            }
        }
        return found
    }

    /// Parses a Markdown link destination starting right after `(`; returns it and the index after `)`.
    private static func markdownDestination(_ s: [Unicode.Scalar], from start: Int) -> ([Unicode.Scalar], Int)? {
        var i = start
        while i < s.count, isSpace(s[i]) { i += 1 }
        guard i < s.count else { return nil }
        if s[i] == "<" {
            guard let close = s[(i + 1)...].firstIndex(of: ">") else { return nil }
            let dest = Array(s[(i + 1)..<close])
            guard let paren = s[close...].firstIndex(of: ")") else { return nil }
            return (dest, paren + 1)
        }
        var depth = 0
        var j = i
        while j < s.count, !isSpace(s[j]) {
            if s[j] == "(" { depth += 1 }
            if s[j] == ")" {
                if depth == 0 { break }
                depth -= 1
            }
            j += 1
        }
        let dest = Array(s[i..<j])
        // Skip an optional title up to the closing parenthesis.
        guard let paren = s[j...].firstIndex(of: ")") else { return nil }
        return (dest, paren + 1)
    }

    /// Trims trailing punctuation, and closing brackets that have no opening partner inside the URL.
    private static func trimmedEnd(_ s: [Unicode.Scalar], start: Int, end: Int) -> Int {
        var end = end
        while end > start {
            let last = s[end - 1]
            if ".,;:!?'*\u{2019}\u{201D}\u{2026}".unicodeScalars.contains(last) {
                end -= 1
                continue
            }
            let pairs: [Unicode.Scalar: Unicode.Scalar] = [")": "(", "]": "[", "}": "{"]
            if let open = pairs[last] {
                let slice = s[start..<end]
                let opens = slice.filter { $0 == open }.count
                let closes = slice.filter { $0 == last }.count
                if closes > opens {
                    end -= 1
                    continue
                }
            }
            break
        }
        // Nothing but the scheme left: not a link.
        let schemeLength = (s[start] == "h" || s[start] == "H") && (s[start + 4] == "s" || s[start + 4] == "S") ? 8 : 7
        return end - start > schemeLength ? end : start
    }

    private static func isBareTerminator(_ c: Unicode.Scalar) -> Bool {
        if isSpace(c) { return true }
        switch c {
        case "<", ">", "\"", "`", "|", "\\", "^", "{", "}",
             "\u{3001}", "\u{3002}", "\u{FF0C}", "\u{FF08}", "\u{FF09}", "\u{300C}", "\u{300D}",
             "\u{300E}", "\u{300F}", "\u{3010}", "\u{3011}", "\u{300A}", "\u{300B}",
             "\u{201C}", "\u{201D}", "\u{2018}", "\u{00AB}", "\u{00BB}":
            return true
        default:
            return c.value < 0x20 || c.value == 0x7F
        }
    }

    // MARK: - HTML

    static func anchorLinks(in text: String) -> [(String, Int)] {
        let s = Array(text.unicodeScalars)
        var found: [(String, Int)] = []
        var line = 1
        var i = 0
        // Counts newlines between the scan position and `target`, keeping `line` current.
        var counted = 0
        func advanceLine(to target: Int) {
            while counted < target && counted < s.count {
                if s[counted] == "\n" { line += 1 }
                counted += 1
            }
        }
        while i < s.count {
            guard s[i] == "<" else { i += 1; continue }
            if matches(s, at: i, "<!--") {
                i = find(s, "-->", from: i + 4).map { $0 + 3 } ?? s.count
                continue
            }
            guard i + 2 < s.count, s[i + 1] == "a" || s[i + 1] == "A", isSpace(s[i + 2]) else { i += 1; continue }
            var j = i + 2
            var href: (String, Int)?
            // Attributes: name[=value], value quoted with " or ' or unquoted.
            while j < s.count, s[j] != ">" {
                if isSpace(s[j]) || s[j] == "/" { j += 1; continue }
                let nameStart = j
                while j < s.count, !isSpace(s[j]), s[j] != "=", s[j] != ">", s[j] != "/" { j += 1 }
                let name = string(s[nameStart..<j]).lowercased()
                while j < s.count, isSpace(s[j]) { j += 1 }
                guard j < s.count, s[j] == "=" else { continue }
                j += 1
                while j < s.count, isSpace(s[j]) { j += 1 }
                guard j < s.count else { break }
                var valueStart = j
                var valueEnd: Int
                if s[j] == "\"" || s[j] == "'" {
                    let quote = s[j]
                    valueStart = j + 1
                    valueEnd = valueStart
                    while valueEnd < s.count, s[valueEnd] != quote { valueEnd += 1 }
                    j = min(valueEnd + 1, s.count)
                } else {
                    while j < s.count, !isSpace(s[j]), s[j] != ">" { j += 1 }
                    valueEnd = j
                }
                if name == "href", href == nil {
                    advanceLine(to: valueStart)
                    href = (decodeEntities(string(s[valueStart..<valueEnd])), line)
                }
            }
            if let (value, hrefLine) = href {
                // Browsers drop tabs and newlines inside URLs and trim surrounding spaces.
                let cleaned = String(value.unicodeScalars.filter { $0 != "\n" && $0 != "\r" && $0 != "\t" })
                    .trimmingSpaces()
                if startsWithHTTPScheme(Array(cleaned.unicodeScalars), at: 0) { found.append((cleaned, hrefLine)) }
            }
            i = j + 1
        }
        return found
    }

    private static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "nbsp": "\u{00A0}",
    ]

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = String.UnicodeScalarView()
        let s = Array(text.unicodeScalars)
        var i = 0
        while i < s.count {
            if s[i] == "&", let semi = s[(i + 1)...].prefix(10).firstIndex(of: ";") {
                let body = string(s[(i + 1)..<semi])
                var scalar: Unicode.Scalar?
                if body.hasPrefix("#x") || body.hasPrefix("#X") {
                    scalar = UInt32(body.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if body.hasPrefix("#") {
                    scalar = UInt32(body.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
                } else if let named = namedEntities[body.lowercased()] {
                    out.append(contentsOf: named.unicodeScalars)
                    i = semi + 1
                    continue
                }
                if let scalar {
                    out.append(scalar)
                    i = semi + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }

    // MARK: - Internet shortcuts

    static func internetShortcutLinks(in text: String) -> [(String, Int)] {
        var inSection = false
        var found: [(String, Int)] = []
        for (index, rawLine) in lines(of: text).enumerated() {
            let line = rawLine.trimmingSpaces()
            if line.hasPrefix("[") {
                inSection = line.lowercased() == "[internetshortcut]"
                continue
            }
            guard inSection, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingSpaces().lowercased()
            guard key == "url" else { continue }
            let value = line[line.index(after: eq)...].trimmingSpaces()
            if startsWithHTTPScheme(Array(value.unicodeScalars), at: 0) { found.append((value, index + 1)) }
        }
        return found
    }

    // MARK: - Helpers

    private static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
    }

    private static func startsWithHTTPScheme(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        matchesIgnoringCase(s, at: i, "http://") || matchesIgnoringCase(s, at: i, "https://")
    }

    private static func matchesIgnoringCase(_ s: [Unicode.Scalar], at i: Int, _ pattern: String) -> Bool {
        var k = i
        for p in pattern.unicodeScalars {
            guard k < s.count else { return false }
            let c = s[k]
            let lower = (c.value >= 65 && c.value <= 90) ? Unicode.Scalar(c.value + 32) ?? c : c
            if lower != p { return false }
            k += 1
        }
        return true
    }

    private static func matches(_ s: [Unicode.Scalar], at i: Int, _ pattern: String) -> Bool {
        matchesIgnoringCase(s, at: i, pattern)
    }

    private static func find(_ s: [Unicode.Scalar], _ pattern: String, from start: Int) -> Int? {
        var i = start
        while i < s.count {
            if matches(s, at: i, pattern) { return i }
            i += 1
        }
        return nil
    }

    private static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    private static func isWordScalar(_ c: Unicode.Scalar) -> Bool {
        c.properties.isAlphabetic || c.properties.numericType != nil || c == "_"
    }

    private static func string<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        let scalars = Array(unicodeScalars)
        var start = 0
        var end = scalars.count
        while start < end, scalars[start].properties.isWhitespace { start += 1 }
        while end > start, scalars[end - 1].properties.isWhitespace { end -= 1 }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[start..<end])
        return String(view)
    }
}
