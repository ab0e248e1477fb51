import CLibXML2

/// Extracts the main text and metadata of an HTML page.
///
/// The page is parsed once by libxml2's HTML parser (recovering from broken markup, never touching
/// the network), flattened into elements, text runs and blocks, and scored in the manner of
/// readability: paragraphs score their ancestors by length and commas, class and id names weigh in,
/// link-heavy containers lose; the best container and its related siblings are kept, and boilerplate
/// inside them (share bars, link lists, forms, captions of image galleries, ...) is cleaned out.
public enum ArticleExtractor {
    /// Extracts the article from raw page bytes.
    /// - Parameters:
    ///   - html: the page as fetched.
    ///   - contentTypeCharset: the `charset` of the HTTP `Content-Type`, if known; it wins over the page's own.
    ///   - baseURL: the page's URL, used to resolve a relative canonical URL.
    public static func extract(html: [UInt8], contentTypeCharset: String? = nil, baseURL: String? = nil) throws
        -> ExtractedArticle
    {
        try html.withUnsafeBufferPointer { try extract(buffer: $0, contentTypeCharset: contentTypeCharset, baseURL: baseURL) }
    }

    /// Extracts the article from a string (already decoded text, so no charset applies).
    public static func extract(html: String, baseURL: String? = nil) throws -> ExtractedArticle {
        try extract(html: Array(html.utf8), contentTypeCharset: "utf-8", baseURL: baseURL)
    }

    public static func extract(buffer: UnsafeBufferPointer<UInt8>, contentTypeCharset: String? = nil,
                               baseURL: String? = nil) throws -> ExtractedArticle
    {
        _ = libxmlReady
        let decision = Charset.decide(buffer, contentTypeCharset: contentTypeCharset)
        let body = UnsafeBufferPointer(rebasing: buffer[decision.skip...])
        try check(body, encoding: decision.encoding)
        if decision.needsRepair {
            let fixed = Charset.repairUTF8(body)
            return try fixed.withUnsafeBufferPointer { try filterAndExtract($0, encoding: "UTF-8", baseURL: baseURL) }
        }
        return try filterAndExtract(body, encoding: decision.encoding, baseURL: baseURL)
    }

    /// Cuts scripts, styles, SVG and comments out of ASCII-compatible input, then parses.
    static func filterAndExtract(_ b: UnsafeBufferPointer<UInt8>, encoding: String, baseURL: String?) throws
        -> ExtractedArticle
    {
        let e = encoding.uppercased()
        if !e.hasPrefix("UTF-16") && !e.hasPrefix("UTF-32") && !e.hasPrefix("ISO-2022") && !e.hasPrefix("UTF-7"),
           let filtered = Prefilter.strip(b)
        {
            return try filtered.withUnsafeBufferPointer { try parseAndExtract($0, encoding: encoding, baseURL: baseURL) }
        }
        return try parseAndExtract(b, encoding: encoding, baseURL: baseURL)
    }

    /// The encoding the extractor would use for these bytes (for diagnostics and tests).
    public static func detectedEncoding(html: [UInt8], contentTypeCharset: String? = nil) -> String {
        html.withUnsafeBufferPointer { Charset.decide($0, contentTypeCharset: contentTypeCharset).encoding }
    }

    // MARK: Steps

    private static let libxmlReady: Void = { xmlInitParser() }()

    static let parseOptions = Int32(
        HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
            | HTML_PARSE_NONET.rawValue | HTML_PARSE_COMPACT.rawValue
            | HTML_PARSE_IGNORE_ENC.rawValue)

    /// Rejects empty input and input that is plainly not HTML.
    static func check(_ b: UnsafeBufferPointer<UInt8>, encoding: String) throws {
        var i = 0
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 || b[i] == 0x0C { i += 1 }
        if i == b.count { throw ExtractionError(.empty, "the input is empty") }
        if encoding.hasPrefix("UTF-16") { return }
        let head = UnsafeBufferPointer(rebasing: b[i..<min(b.count, i + 8)])
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && zip(head, magic).allSatisfy { $0 == $1 } }
        if starts([0x25, 0x50, 0x44, 0x46]) || starts([0x89, 0x50, 0x4E, 0x47]) || starts([0x47, 0x49, 0x46, 0x38])
            || starts([0xFF, 0xD8, 0xFF]) || starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x1F, 0x8B])
        {
            throw ExtractionError(.notHTML, "the input is binary data (\(signature(head))), not HTML")
        }
        // NUL bytes near the start: binary data (UTF-16 has been handled above).
        for k in i..<min(b.count, i + 4096) where b[k] == 0 {
            throw ExtractionError(.notHTML, "the input holds NUL bytes: binary data, not HTML")
        }
        let limit = min(b.count, i + 65536)
        var sawTag = false
        var j = i
        while j < limit {
            let c = b[j]
            if c == 0x3C, j + 1 < b.count {
                let d = b[j + 1] | 0x20
                if (d >= 0x61 && d <= 0x7A) || b[j + 1] == 0x21 || b[j + 1] == 0x2F || b[j + 1] == 0x3F {
                    sawTag = true
                    break
                }
            }
            j += 1
        }
        if !sawTag { throw ExtractionError(.notHTML, "the input has no HTML markup") }
    }

    private static func signature(_ head: UnsafeBufferPointer<UInt8>) -> String {
        head.prefix(4).map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
    }

    static func parseAndExtract(_ b: UnsafeBufferPointer<UInt8>, encoding: String, baseURL: String?) throws
        -> ExtractedArticle
    {
        guard b.count < Int(Int32.max) else { throw ExtractionError(.parseFailed, "the input is larger than 2 GiB") }
        // Only comments or scripts: markup without content.
        if b.count == 0 { return ExtractedArticle() }
        let raw = UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self)
        guard let doc = htmlReadMemory(raw, Int32(b.count), nil, encoding, parseOptions) else {
            throw ExtractionError(.parseFailed, "libxml2 could not parse the input as HTML (\(encoding))")
        }
        defer { xmlFreeDoc(doc) }
        let tree = PageTree(doc: doc)
        let meta = Metadata(tree.meta, baseURL: baseURL)
        return Pipeline.run(tree, meta)
    }
}
