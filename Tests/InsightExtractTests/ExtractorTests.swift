import Foundation
import Testing

@testable import InsightExtract

/// Windows-1252 bytes for a string (only Latin-1 range characters plus œ are used by the fixtures).
func windows1252(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    for u in s.unicodeScalars {
        switch u.value {
        case 0..<0x80, 0xA0...0xFF: out.append(UInt8(u.value))
        case 0x153: out.append(0x9C)  // œ
        case 0x2019: out.append(0x92)  // ’
        default: out.append(0x3F)
        }
    }
    return out
}

@Suite("Article extraction")
struct ArticleExtractionTests {
    @Test("main paragraphs are kept, navigation, banners, share bars, comments and footers are not")
    func boilerplateRemoved() throws {
        let article = try ArticleExtractor.extract(html: Array(Fixtures.newsArticle.utf8))
        #expect(article.paragraphs == Fixtures.paragraphs)
        let text = article.text
        for junk in ["cookies", "Home", "Share on", "Advertisement", "newsletter", "Related stories", "Parks department",
                     "Great news", "waste of money", "Most read", "Copyright", "Privacy", "tracking", "Photo:",
                     "Jane Reporter", "Council extends riverside park"] {
            #expect(!text.contains(junk), "\(junk) should not be in the text")
        }
        #expect(article.text == Fixtures.paragraphs.joined(separator: "\n\n"))
    }

    @Test("metadata from Open Graph, JSON-LD, canonical link and html lang")
    func metadata() throws {
        let article = try ArticleExtractor.extract(
            html: Array(Fixtures.newsArticle.utf8), baseURL: "https://example.com/news/some-page")
        #expect(article.title == "Council extends riverside park")
        #expect(article.byline == "Jane Reporter, John Writer")
        #expect(article.published == "2019-11-19T10:30:00Z")
        #expect(article.siteName == "The Daily Example")
        #expect(article.language == "en-GB")
        #expect(article.canonicalURL == "https://example.com/news/council-extends-park")
    }

    @Test("metadata falls back to <title>, meta author and meta dates without JSON-LD")
    func metadataFallbacks() throws {
        let html = """
        <html lang="pt-BR"><head><title>Only a title</title><meta name="author" content="Ana Souza">
        <meta name="pubdate" content="2018/10/05"><meta property="og:url" content="https://example.org/a">
        <meta name="application-name" content="Example App"></head>
        <body><article>\(Fixtures.paragraphs.map { "<p>\($0)</p>" }.joined())</article></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.title == "Only a title")
        #expect(article.byline == "Ana Souza")
        #expect(article.published == "2018-10-05")
        #expect(article.siteName == "Example App")
        #expect(article.language == "pt-BR")
        #expect(article.canonicalURL == "https://example.org/a")
        #expect(article.paragraphs == Fixtures.paragraphs)
    }

    @Test("JSON-LD inside @graph")
    func jsonLDGraph() throws {
        let html = """
        <html><head><script type="application/ld+json">{"@context":"https://schema.org","@graph":[
        {"@type":"WebSite","name":"Site"},
        {"@type":"BlogPosting","headline":"Graph headline","datePublished":"2020-02-03","author":{"@type":"Person","name":"Graph Author"}}]}
        </script></head><body><div>\(Fixtures.paragraphs.map { "<p>\($0)</p>" }.joined())</div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.title == "Graph headline")
        #expect(article.byline == "Graph Author")
        #expect(article.published == "2020-02-03")
    }

    @Test("JSON-LD wrapped in CDATA comments, with a raw line break in a string, after a WebPage object")
    func jsonLDLenient() throws {
        let html = """
        <html><head><script type="application/ld+json">/* <![CDATA[ */
        [{"@type":"WebPage","name":"Page name, not the headline","datePublished":"2001-01-01"},
         {"@type":"Article","headline":"Lenient
        headline","datePublished":"2021-07-08T09:10:11+02:00","author":"Plain Author"}]
        /* ]]> */</script></head><body><div>\(Fixtures.paragraphs.map { "<p>\($0)</p>" }.joined())</div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.title == "Lenient headline")
        #expect(article.published == "2021-07-08T09:10:11+02:00")
        #expect(article.byline == "Plain Author")
    }

    @Test("a Latin-1 page that says so in <meta charset>")
    func latin1MetaCharset() throws {
        let bytes = windows1252(Fixtures.latinPage(metaCharset: "ISO-8859-1"))
        #expect(ArticleExtractor.detectedEncoding(html: bytes) == "windows-1252")
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs == Fixtures.latinParagraphs)
        #expect(article.title == "Le café de la gare")
    }

    @Test("a Latin-1 page declared by http-equiv")
    func latin1HttpEquiv() throws {
        let page = Fixtures.latinPage(metaCharset: nil).replacingOccurrences(
            of: "<head>", with: "<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">")
        let article = try ArticleExtractor.extract(html: windows1252(page))
        #expect(article.paragraphs == Fixtures.latinParagraphs)
    }

    @Test("the Content-Type charset wins over the page's own declaration")
    func charsetFromHeader() throws {
        // The page claims UTF-8, but the bytes are Latin-1 and the header says so.
        let bytes = windows1252(Fixtures.latinPage(metaCharset: "utf-8"))
        #expect(ArticleExtractor.detectedEncoding(html: bytes, contentTypeCharset: "ISO-8859-1") == "windows-1252")
        let article = try ArticleExtractor.extract(html: bytes, contentTypeCharset: "ISO-8859-1")
        #expect(article.paragraphs == Fixtures.latinParagraphs)
        // A quoted label, as some servers send it.
        let again = try ArticleExtractor.extract(html: bytes, contentTypeCharset: "\"latin1\"")
        #expect(again.paragraphs == Fixtures.latinParagraphs)
    }

    @Test("a UTF-8 byte-order mark wins over a <meta charset>")
    func utf8BOM() throws {
        let bytes = [0xEF, 0xBB, 0xBF] + Array(Fixtures.latinPage(metaCharset: "windows-1252").utf8)
        #expect(ArticleExtractor.detectedEncoding(html: bytes) == "UTF-8")
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs == Fixtures.latinParagraphs)
        #expect(!article.text.contains("\u{FEFF}"))
    }

    @Test("a UTF-16 page with a byte-order mark")
    func utf16BOM() throws {
        var bytes: [UInt8] = [0xFF, 0xFE]
        for unit in Fixtures.latinPage(metaCharset: nil).utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        #expect(ArticleExtractor.detectedEncoding(html: bytes) == "UTF-16LE")
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs == Fixtures.latinParagraphs)
    }

    @Test("undeclared bytes that are not UTF-8 are read as Windows-1252")
    func windows1252Fallback() throws {
        let bytes = windows1252(Fixtures.latinPage(metaCharset: nil))
        #expect(ArticleExtractor.detectedEncoding(html: bytes) == "windows-1252")
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs == Fixtures.latinParagraphs)
    }

    @Test("undeclared valid UTF-8 is read as UTF-8")
    func defaultUTF8() throws {
        let bytes = Array(Fixtures.latinPage(metaCharset: nil).utf8)
        #expect(ArticleExtractor.detectedEncoding(html: bytes) == "UTF-8")
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs == Fixtures.latinParagraphs)
    }

    @Test("UTF-8 with a stray invalid byte keeps the rest of the text intact")
    func repairedUTF8() throws {
        var bytes = Array(Fixtures.latinPage(metaCharset: "utf-8").utf8)
        let marker = Array("trois mois".utf8)
        let at = bytes.indices.first { bytes[$0...].starts(with: marker) }!
        bytes.insert(0xFF, at: at)
        let article = try ArticleExtractor.extract(html: bytes)
        #expect(article.paragraphs[0].contains("\u{FFFD}trois mois"))
        #expect(article.paragraphs[2] == Fixtures.latinParagraphs[2])
    }

    @Test("broken and unclosed markup")
    func brokenMarkup() throws {
        let article = try ArticleExtractor.extract(html: Array(Fixtures.brokenMarkup.utf8))
        #expect(article.paragraphs.count == 4)
        #expect(article.paragraphs[0] == Fixtures.paragraphs[0])
        #expect(article.paragraphs[2] == Fixtures.paragraphs[2] + " bold and italic text here.")
        #expect(!article.text.contains("Home"))
        #expect(!article.text.contains("Footer text"))
        #expect(article.title == "Broken")
    }

    @Test("a page with no article still gives its text and no error")
    func tinyPage() throws {
        let article = try ArticleExtractor.extract(html: Array("<p>Just one short line.</p>".utf8))
        #expect(article.paragraphs == ["Just one short line."])
    }

    @Test("hidden elements, scripts and templates are not text")
    func hiddenContent() throws {
        let html = """
        <html><body><article>
        \(Fixtures.paragraphs.map { "<p>\($0)</p>" }.joined())
        <p style="display: none">Hidden by style.</p><p hidden>Hidden by attribute.</p>
        <div aria-hidden="true">Hidden from readers.</div><span class="sr-only">Screen reader only.</span>
        <template><p>Template text.</p></template><noscript>Enable JavaScript.</noscript>
        </article></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.paragraphs == Fixtures.paragraphs)
    }

    @Test("line breaks, entities and whitespace")
    func whitespace() throws {
        let html = """
        <html><body><div class="entry-content">
        <p>\(Fixtures.paragraphs[0])</p><p>\(Fixtures.paragraphs[1])</p><p>\(Fixtures.paragraphs[2])</p>
        <p>First   line&nbsp;here<br>second&amp;line<br/>  third\tline</p>
        <p>Tom&#8217;s caf&eacute; is   <em>open</em>.</p>
        </div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.paragraphs.contains("First line here\nsecond&line\nthird line"))
        #expect(article.paragraphs.contains("Tom\u{2019}s café is open."))
    }

    @Test("a data table becomes one line per row")
    func tables() throws {
        let html = """
        <html><body><div class="post-content"><p>\(Fixtures.paragraphs[0])</p><p>\(Fixtures.paragraphs[1])</p>
        <table><thead><tr><th>Team</th><th>Points</th></tr></thead>
        <tr><td>Riverside</td><td>21</td></tr><tr><td>Old Mill</td><td>18</td></tr></table>
        <p>\(Fixtures.paragraphs[2])</p></div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.paragraphs.contains("Team\tPoints"))
        #expect(article.paragraphs.contains("Riverside\t21"))
    }

    @Test("a String input")
    func stringInput() throws {
        let article = try ArticleExtractor.extract(html: Fixtures.newsArticle)
        #expect(article.paragraphs == Fixtures.paragraphs)
    }

    @Test("the article encodes to JSON and back")
    func codable() throws {
        let article = try ArticleExtractor.extract(html: Array(Fixtures.newsArticle.utf8))
        let data = try JSONEncoder().encode(article)
        #expect(try JSONDecoder().decode(ExtractedArticle.self, from: data) == article)
    }
}

@Suite("Errors")
struct ExtractionErrorTests {
    func code(_ bytes: [UInt8]) -> ExtractionError.Code? {
        do {
            _ = try ArticleExtractor.extract(html: bytes)
            return nil
        } catch let e as ExtractionError {
            return e.code
        } catch {
            return nil
        }
    }

    @Test func emptyInput() {
        #expect(code([]) == .empty)
        #expect(code(Array(" \n\t  \r\n".utf8)) == .empty)
        #expect(code([0xEF, 0xBB, 0xBF]) == .empty)
    }

    @Test func notHTML() {
        #expect(code([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]) == .notHTML)  // PNG
        #expect(code(Array("%PDF-1.7\n%...".utf8)) == .notHTML)
        #expect(code([0x1F, 0x8B, 0x08, 0x00, 0x00]) == .notHTML)  // gzip
        #expect(code(Array("just some plain text, no markup at all".utf8)) == .notHTML)
        #expect(code(Array("{\"json\": true}".utf8)) == .notHTML)
        #expect(code([0x3C, 0x70, 0x3E, 0x00, 0x41]) == .notHTML)  // NUL bytes
    }

    @Test("markup without text gives an empty article, not an error")
    func markupOnly() throws {
        for html in ["<!-- only a comment -->", "<html></html>", "<html><head><title>T</title></head><body></body></html>",
                     "<div><div><span></span></div></div>", "<p>"] {
            let article = try ArticleExtractor.extract(html: Array(html.utf8))
            #expect(article.paragraphs.isEmpty, "\(html)")
        }
    }

    @Test("deeply nested markup")
    func deepNesting() throws {
        let html = String(repeating: "<div>", count: 5000) + "<p>\(Fixtures.paragraphs[0])</p>"
            + String(repeating: "</div>", count: 5000)
        _ = try ArticleExtractor.extract(html: Array(html.utf8))
    }

    @Test func messages() {
        let e = ExtractionError(.notHTML, "the input has no HTML markup")
        #expect(e.description == "notHTML: the input has no HTML markup")
    }
}

@Suite("Files")
struct FileTests {
    @Test func outputNames() {
        #expect(ArticleExtractor.outputName(forPath: "/tmp/pages/abc123.html") == "abc123")
        #expect(ArticleExtractor.outputName(forPath: "abc.html.gz") == "abc")
        #expect(ArticleExtractor.outputName(forPath: "dir/Page.HTM") == "Page")
        #expect(ArticleExtractor.outputName(forPath: "notes.txt") == "notes.txt")
    }

    @Test func readPlainFile() throws {
        let path = NSTemporaryDirectory() + "insight-extract-test-\(getpid()).html"
        try Data(Fixtures.newsArticle.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let article = try ArticleExtractor.extract(fileAtPath: path)
        #expect(article.paragraphs == Fixtures.paragraphs)
    }

    @Test func missingFile() {
        #expect(throws: ExtractionError.self) { try ArticleExtractor.readPage(atPath: "/nonexistent/x.html") }
    }
}
