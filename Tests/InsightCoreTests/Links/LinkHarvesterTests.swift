import Testing
@testable import InsightCore

@Suite("Link harvesting from dropped files")
struct LinkHarvesterTests {
    /// (text, extension, expected canonical URLs with their lines)
    static let prose: [(String, String, [String])] = [
        ("See https://example.com/a.", "txt", ["1 https://example.com/a"]),
        ("Really? https://example.com/a?, yes", "txt", ["1 https://example.com/a"]),
        ("(see https://example.com/a)", "txt", ["1 https://example.com/a"]),
        ("[https://example.com/a]", "txt", ["1 https://example.com/a"]),
        ("Per https://en.wikipedia.org/wiki/Swift_(programming_language).", "txt",
         ["1 https://en.wikipedia.org/wiki/Swift_(programming_language)"]),
        ("(cf. https://en.wikipedia.org/wiki/Swift_(programming_language))", "txt",
         ["1 https://en.wikipedia.org/wiki/Swift_(programming_language)"]),
        ("\"https://example.com/q\" and 'https://example.com/r'", "txt",
         ["1 https://example.com/q", "1 https://example.com/r"]),
        ("**https://example.com/bold**", "md", ["1 https://example.com/bold"]),
        ("first line\nsecond https://example.com/2\r\nthird HTTPS://EXAMPLE.com/3!", "txt",
         ["2 https://example.com/2", "3 https://example.com/3"]),
        ("no scheme: example.com/x or www.example.com", "txt", []),
        ("ftp://example.com/file and mailto:x@example.com", "txt", []),
        ("Only the scheme: https:// and nothing", "txt", []),
        ("xhttps://example.com/glued", "txt", []),
        ("Read [the post](https://example.com/post \"Title\") now", "md", ["1 https://example.com/post"]),
        ("[wiki](https://en.wikipedia.org/wiki/Foo_(bar)) end", "md", ["1 https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("[angle](<https://example.com/a b>)", "md", ["1 https://example.com/a%20b"]),
        ("[rel](/relative/path) and [ftp](ftp://example.com)", "md", []),
        ("Autolink <https://example.com/auto>.", "md", ["1 https://example.com/auto"]),
        ("[ref]: https://example.com/ref-def", "md", ["1 https://example.com/ref-def"]),
        ("URL 東京 https://example.jp/パス。次", "txt", ["1 https://example.jp/%E3%83%91%E3%82%B9"]),
        ("https://example.com/a?utm_source=x https://example.com/a#frag https://example.com/b", "txt",
         ["1 https://example.com/a", "1 https://example.com/b"]),
        ("https://one.example/\nhttps://two.example/x\n\nhttps://three.example/?b=1&a=2\n", "list",
         ["1 https://one.example/", "2 https://two.example/x", "4 https://three.example/?a=2&b=1"]),
    ]

    @Test("finds links in prose, Markdown and URL lists", arguments: prose)
    func proseLinks(_ c: (String, String, [String])) {
        let found = LinkHarvester.links(in: c.0, fileExtension: c.1).map { "\($0.line) \($0.url.string)" }
        #expect(found == c.2)
    }

    static let html: [(String, [String])] = [
        (#"<p><a href="https://example.com/a?x=1&amp;y=2">A</a></p>"#, ["1 https://example.com/a?x=1&y=2"]),
        ("<html>\n<body>\n<A\n  class='c' HREF='HTTPS://Example.com/b'>B</A>", ["4 https://example.com/b"]),
        (#"<a href=https://example.com/unquoted>u</a>"#, ["1 https://example.com/unquoted"]),
        (#"<a href="/relative">r</a><a href="mailto:x@example.com">m</a><a name="x">n</a>"#, []),
        (#"<!-- <a href="https://example.com/commented">c</a> --><a href="https://example.com/live">l</a>"#,
         ["1 https://example.com/live"]),
        (#"<a data-x="1" href="&#104;ttps://example.com/&#x61;">e</a>"#, ["1 https://example.com/a"]),
        (#"<abbr title="https://example.com/not-a-link">x</abbr> https://example.com/text"#, []),
        (#"<a href="https://example.com/dup">1</a><a href="https://example.com/dup#x">2</a>"#,
         ["1 https://example.com/dup"]),
    ]

    @Test("takes <a href> targets from HTML files", arguments: html)
    func htmlLinks(_ c: (String, [String])) {
        let found = LinkHarvester.links(in: c.0, fileExtension: "html").map { "\($0.line) \($0.url.string)" }
        #expect(found == c.1)
    }

    static let shortcuts: [(String, [String])] = [
        ("[InternetShortcut]\r\nURL=https://example.com/short\r\n", ["2 https://example.com/short"]),
        ("[{000214A0-0000-0000-C000-000000000046}]\nProp3=19,11\n[InternetShortcut]\nIDList=\nurl = https://example.com/s2\n",
         ["5 https://example.com/s2"]),
        ("[Other]\nURL=https://example.com/wrong-section\n", []),
        ("[InternetShortcut]\nURL=file:///C:/Windows\n", []),
    ]

    @Test("reads .url internet shortcuts", arguments: shortcuts)
    func shortcutLinks(_ c: (String, [String])) {
        let found = LinkHarvester.links(in: c.0, fileExtension: "URL").map { "\($0.line) \($0.url.string)" }
        #expect(found == c.1)
    }

    @Test("keeps the link as written next to its canonical form")
    func original() {
        let links = LinkHarvester.links(in: "see HTTPS://Example.com/x?utm_source=a).", fileExtension: "txt")
        #expect(links.map(\.original) == ["HTTPS://Example.com/x?utm_source=a"])
        #expect(links.map(\.url.string) == ["https://example.com/x"])
    }

    static let malformed: [(String, String)] = [
        ("<a href=\"https://example.com/unterminated", "html"),
        ("<a", "html"),
        ("<a href=", "html"),
        ("<!-- never closed <a href=\"https://example.com/x\">", "html"),
        ("<a href=\"&#xFFFFFFFF;&#xD800;&bogus;&\">x</a>", "html"),
        ("[text](", "md"),
        ("[text](<https://example.com/never-closed", "md"),
        ("<https://", "md"),
        ("https://", "txt"),
        ("https://((((((((((", "txt"),
        ("https://" + String(repeating: "a", count: 300) + ".example/", "txt"),
        ("https://" + String(repeating: "é", count: 5000) + "/", "txt"),
        ("[InternetShortcut]\nURL=", "url"),
        ("\u{0}\u{1}https://example.com/\u{7F}", "txt"),
    ]

    @Test("malformed input yields no or few links and never traps", arguments: malformed)
    func malformedInput(_ c: (String, String)) {
        let links = LinkHarvester.links(in: c.0, fileExtension: c.1)
        #expect(links.allSatisfy { $0.url.scheme == "http" || $0.url.scheme == "https" })
        #expect(links.count <= 1)
    }
}
