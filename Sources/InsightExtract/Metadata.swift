import CLibXML2
import Foundation

/// Reads title, byline, date, site name, language and canonical URL from `<title>`, `<meta>`
/// (Open Graph, Twitter, Dublin Core, article:*), JSON-LD, `<link rel=canonical>` and `<html lang>`.
struct Metadata {
    var ogTitle: String?
    var documentTitle: String?
    var headline: String?
    var byline: String?
    var published: String?
    var siteName: String?
    var language: String?
    var canonicalURL: String?

    var title: String? { ogTitle ?? headline ?? documentTitle }

    /// Every form of the title the page offers, for spotting the headline in the body.
    var titleVariants: [String] { [ogTitle, headline, documentTitle].compactMap { $0 } }

    init(_ m: MetaSources, baseURL: String?) {
        if let t = m.titleNode { documentTitle = Metadata.clean(Metadata.nodeText(t)) }
        var metaAuthor: String?
        var metaDate: String?
        var metaSite: String?
        var ogURL: String?
        var locale: String?
        var contentLanguage: String?
        var twitterTitle: String?
        for n in m.metas {
            let key = (PageTree.attribute(n, "property") ?? PageTree.attribute(n, "name")
                ?? PageTree.attribute(n, "itemprop") ?? PageTree.attribute(n, "http-equiv"))?.lowercased()
            guard let key, Metadata.keys.contains(key),
                  let raw = PageTree.attribute(n, "content") ?? PageTree.attribute(n, "datetime"),
                  let value = Metadata.clean(raw) else { continue }
            switch key {
            case "og:title": if ogTitle == nil { ogTitle = value }
            case "twitter:title": if twitterTitle == nil { twitterTitle = value }
            case "og:site_name": metaSite = value
            case "application-name", "og:sitename": if metaSite == nil { metaSite = value }
            case "author", "article:author", "byl", "parsely-author", "sailthru.author", "dc.creator", "dcterms.creator",
                 "citation_author", "cxenseparse:author":
                if metaAuthor == nil && !value.hasPrefix("http") { metaAuthor = value }
            case "article:published_time", "datepublished", "pubdate", "publishdate", "publish-date", "publish_date",
                 "date", "dc.date", "dc.date.issued", "dcterms.date", "dcterms.created", "sailthru.date",
                 "parsely-pub-date", "og:published_time", "article.published", "release_date", "citation_date",
                 "citation_publication_date", "originalpublicationdate", "datecreated":
                if metaDate == nil, let d = Metadata.isoDate(value) { metaDate = d }
            case "og:url": if ogURL == nil { ogURL = value }
            case "og:locale": if locale == nil { locale = value }
            case "content-language", "language", "dc.language":
                if contentLanguage == nil { contentLanguage = value }
            default: break
            }
        }
        var ldAuthor: String?, ldDate: String?, ldPublisher: String?
        var objects: [[String: Any]] = []
        for n in m.ldJSON {
            guard let json = Metadata.parseJSON(Metadata.nodeText(n)) else { continue }
            Metadata.walkLD(json) { objects.append($0) }
        }
        // Articles first; a WebPage only fills what they leave open.
        for strict in [true, false] {
            for obj in objects where Metadata.isArticleType(obj["@type"], strict: strict) {
                if headline == nil, let h = obj["headline"] as? String ?? (strict ? obj["name"] as? String : nil) {
                    headline = Metadata.clean(h)
                }
                if ldDate == nil, let d = obj["datePublished"] as? String ?? obj["dateCreated"] as? String {
                    ldDate = Metadata.isoDate(d)
                }
                if ldAuthor == nil, let a = obj["author"] ?? obj["creator"] { ldAuthor = Metadata.names(a) }
                if ldPublisher == nil, let p = obj["publisher"] { ldPublisher = Metadata.names(p) }
            }
        }
        if ogTitle == nil { ogTitle = twitterTitle }
        byline = ldAuthor ?? metaAuthor
        published = ldDate ?? metaDate
        siteName = metaSite ?? ldPublisher
        if let l = m.htmlLang.flatMap(Metadata.clean) ?? contentLanguage ?? locale {
            language = l.replacingOccurrences(of: "_", with: "-")
        }
        if let c = m.canonical.flatMap(Metadata.clean) ?? ogURL {
            canonicalURL = Metadata.resolve(c, base: m.baseHref.flatMap(Metadata.clean) ?? baseURL, pageURL: baseURL)
        }
    }

    // MARK: JSON-LD

    static func walkLD(_ v: Any, depth: Int = 0, _ visit: ([String: Any]) -> Void) {
        if depth > 6 { return }
        if let arr = v as? [Any] {
            for x in arr { walkLD(x, depth: depth + 1, visit) }
        } else if let obj = v as? [String: Any] {
            visit(obj)
            if let g = obj["@graph"] { walkLD(g, depth: depth + 1, visit) }
            if let main = obj["mainEntity"] { walkLD(main, depth: depth + 1, visit) }
        }
    }

    /// Article types (strict), or the page types that may stand in for one.
    static func isArticleType(_ t: Any?, strict: Bool) -> Bool {
        let types: [String]
        if let s = t as? String { types = [s] } else if let a = t as? [Any] { types = a.compactMap { $0 as? String } } else { return false }
        return types.contains { s in
            let l = s.lowercased()
            if strict {
                return l.hasSuffix("article") || l == "blogposting" || l == "report" || l == "socialmediaposting"
                    || l == "liveblogposting" || l == "posting" || l == "review"
            }
            return l == "webpage" || l == "itempage"
        }
    }

    /// JSON-LD as pages write it: sometimes wrapped in comments or CDATA markers, sometimes with raw
    /// line breaks inside strings.
    static func parseJSON(_ text: String) -> Any? {
        var t = text
        if t.contains("<![CDATA[") {
            t = t.replacingOccurrences(of: "<![CDATA[", with: "").replacingOccurrences(of: "]]>", with: "")
        }
        var bytes = Array(t.utf8)
        guard let first = bytes.firstIndex(where: { $0 == 0x7B || $0 == 0x5B }),
              let last = bytes.lastIndex(where: { $0 == 0x7D || $0 == 0x5D }), first < last else { return nil }
        bytes = Array(bytes[first...last])
        for k in bytes.indices where bytes[k] == 0x0A || bytes[k] == 0x0D || bytes[k] == 0x09 { bytes[k] = 0x20 }
        return try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    static func names(_ v: Any) -> String? {
        var out: [String] = []
        func add(_ x: Any) {
            if let s = x as? String, let c = clean(s), !c.hasPrefix("http") { out.append(c) }
            else if let o = x as? [String: Any], let n = o["name"] { add(n) }
            else if let a = x as? [Any] { for y in a { add(y) } }
        }
        add(v)
        var seen = Set<String>()
        out = out.filter { seen.insert($0).inserted }
        return out.isEmpty ? nil : out.joined(separator: ", ")
    }

    // MARK: Values

    static func nodeText(_ n: xmlNodePtr) -> String {
        guard let c = xmlNodeGetContent(n) else { return "" }
        defer { insight_xml_free(c) }
        return String(cString: c)
    }

    /// Collapses whitespace; nil when nothing is left.
    static func clean(_ s: String) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var space = false
        var prevC2 = false
        for c in s.utf8 {
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D || c == 0x0C {
                space = !out.isEmpty
                prevC2 = false
                continue
            }
            if prevC2 && c == 0xA0 {  // no-break space
                out.removeLast()
                space = !out.isEmpty
                prevC2 = false
                continue
            }
            if space { out.append(0x20); space = false }
            out.append(c)
            prevC2 = c == 0xC2
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    /// The meta names and properties read.
    static let keys: Set<String> = [
        "og:title", "twitter:title", "og:site_name", "application-name", "og:sitename", "author", "article:author",
        "byl", "parsely-author", "sailthru.author", "dc.creator", "dcterms.creator", "citation_author",
        "cxenseparse:author", "article:published_time", "datepublished", "pubdate", "publishdate", "publish-date",
        "publish_date", "date", "dc.date", "dc.date.issued", "dcterms.date", "dcterms.created", "sailthru.date",
        "parsely-pub-date", "og:published_time", "article.published", "release_date", "citation_date",
        "citation_publication_date", "originalpublicationdate", "datecreated", "og:url", "og:locale",
        "content-language", "language", "dc.language",
    ]

    /// An ISO 8601 date or date-time, from ISO text or `YYYY/MM/DD`; nil if the value is not one.
    static func isoDate(_ s: String) -> String? {
        let t = s.trimmingCharacters(in: .whitespaces)
        let u = Array(t.utf8)
        func digits(_ r: Range<Int>) -> Bool { r.upperBound <= u.count && r.allSatisfy { u[$0] >= 0x30 && u[$0] <= 0x39 } }
        guard digits(0..<4), u.count >= 10, u[4] == u[7], u[4] == 0x2D || u[4] == 0x2F, digits(5..<7), digits(8..<10)
        else { return nil }
        var date = String(decoding: u[0..<10], as: UTF8.self).replacingOccurrences(of: "/", with: "-")
        // Keep a time part when it follows in ISO form.
        if u.count >= 16, u[10] == 0x54 || u[10] == 0x20, digits(11..<13), u[13] == 0x3A, digits(14..<16) {
            var end = 16
            while end < u.count, u[end] != 0x20 { end += 1 }
            date += "T" + String(decoding: u[11..<end], as: UTF8.self)
        }
        return date
    }

    static func resolve(_ href: String, base: String?, pageURL: String?) -> String {
        if href.hasPrefix("http://") || href.hasPrefix("https://") { return href }
        guard let b = base ?? pageURL, let baseURL = URL(string: b),
              let u = URL(string: href, relativeTo: baseURL) else { return href }
        return u.absoluteString
    }
}
