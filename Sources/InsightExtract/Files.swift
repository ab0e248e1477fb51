import CLibXML2

extension ArticleExtractor {
    /// Reads a saved page. Files ending in `.gz` are decompressed (through libxml2's gzip-aware input).
    public static func readPage(atPath path: String) throws -> [UInt8] {
        _ = xmlInitParserOnce
        guard let input = xmlParserInputBufferCreateFilename(path, XML_CHAR_ENCODING_NONE) else {
            throw ExtractionError(.unreadable, "cannot open \(path)")
        }
        defer { xmlFreeParserInputBuffer(input) }
        while true {
            let n = xmlParserInputBufferRead(input, 1 << 16)
            if n < 0 { throw ExtractionError(.unreadable, "cannot read \(path)") }
            if n == 0 { break }
        }
        guard let buf = input.pointee.buffer else { return [] }
        let count = Int(xmlBufUse(buf))
        guard count > 0, let content = xmlBufContent(buf) else { return [] }
        return Array(UnsafeBufferPointer(start: content, count: count))
    }

    /// Reads and extracts a saved page.
    public static func extract(fileAtPath path: String, contentTypeCharset: String? = nil, baseURL: String? = nil)
        throws -> ExtractedArticle
    {
        let bytes = try readPage(atPath: path)
        return try extract(html: bytes, contentTypeCharset: contentTypeCharset, baseURL: baseURL)
    }

    /// The name an output file gets for a page file: the file name without its directory and without
    /// `.html`, `.htm`, `.xhtml` (and a `.gz` after them). `pages/abc.html.gz` gives `abc`.
    public static func outputName(forPath path: String) -> String {
        var name = Substring(path.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(path))
        for suffix in [".gz"] where name.lowercased().hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        for suffix in [".html", ".htm", ".xhtml"] where name.lowercased().hasSuffix(suffix) {
            name = name.dropLast(suffix.count)
            break
        }
        return name.isEmpty ? "page" : String(name)
    }

    static let xmlInitParserOnce: Void = { xmlInitParser() }()
}
