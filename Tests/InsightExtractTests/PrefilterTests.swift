import Testing

@testable import InsightExtract

@Suite("Prefilter")
struct PrefilterTests {
    func strip(_ s: String) -> String {
        let bytes = Array(s.utf8)
        return bytes.withUnsafeBufferPointer { b in
            Prefilter.strip(b).map { String(decoding: $0, as: UTF8.self) } ?? s
        }
    }

    @Test("script, style and svg bodies and comments are cut; JSON-LD stays")
    func cuts() {
        #expect(strip("<p>a</p><script>var x = '<p>';</script><p>b</p>") == "<p>a</p><script></script><p>b</p>")
        #expect(strip("<STYLE type=\"text/css\">p { color: red }</STYLE>x") == "<STYLE type=\"text/css\"></STYLE>x")
        #expect(strip("a<!-- <script>no</script> -->b") == "ab")
        #expect(strip("<svg viewBox=\"0 0 1 1\"><path d=\"M0\"/><title>icon</title></svg>t") == "<svg viewBox=\"0 0 1 1\"></svg>t")
        let ld = "<script type=\"application/ld+json\">{\"@type\":\"Article\"}</script>"
        #expect(strip(ld + "<!--x-->") == ld)
    }

    @Test("quoted > in the start tag, self-closing svg, unterminated elements")
    func edges() {
        #expect(strip("<script data-x=\"a>b\">code</script>after") == "<script data-x=\"a>b\"></script>after")
        #expect(strip("<svg/>text<!--c-->") == "<svg/>text")
        // No closing tag: everything from there on is left to libxml2.
        #expect(strip("<p>x</p><script>never closed <p>y</p>") == "<p>x</p><script>never closed <p>y</p>")
        #expect(strip("a<!-- never closed") == "a<!-- never closed")
        // Names that only start like the cut elements are kept.
        #expect(strip("<scripted>a</scripted><styles>b</styles>") == "<scripted>a</scripted><styles>b</styles>")
    }

    @Test("nothing to cut gives nil (no copy)")
    func noCopy() {
        let bytes = Array("<p>plain</p>".utf8)
        #expect(bytes.withUnsafeBufferPointer { Prefilter.strip($0) } == nil)
    }

    @Test("extraction is the same with the cut parts")
    func sameText() throws {
        let noisy = Fixtures.newsArticle.replacingOccurrences(
            of: "<div class=\"story-body\">",
            with: "<div class=\"story-body\"><!-- comment --><script>if (a < b) { document.write('</p>'); }</script>"
                + "<svg><text>not text</text></svg><style>.x{}</style>")
        let article = try ArticleExtractor.extract(html: Array(noisy.utf8))
        #expect(article.paragraphs == Fixtures.paragraphs)
        #expect(article.byline == "Jane Reporter, John Writer")
    }
}
