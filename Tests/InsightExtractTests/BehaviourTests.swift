import Testing

@testable import InsightExtract

@Suite("Content selection")
struct BehaviourTests {
    let p = Fixtures.paragraphs

    @Test("an article split into chunks of the same class, with ads between, comes out whole")
    func chunks() throws {
        let html = """
        <html><body><main><div class="article-chunks">
        <div class="grid"><div class="body-chunk story"><p>\(p[0])</p><p>\(p[1])</p></div><div class="rail advert">Advertisement</div></div>
        <div class="ad-break">Advertisement</div>
        <div class="grid"><div class="body-chunk story"><p>\(p[2])</p><p>\(p[3])</p><p>\(p[0]) Again, with more words.</p></div></div>
        </div></main>
        <div class="more"><div class="body-chunk story"><p>Unrelated teaser far away from the article, with a long sentence of filler text in it.</p></div></div>
        </body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(Array(article.paragraphs.prefix(4)) == p)
        #expect(!article.text.contains("Unrelated teaser"))
        #expect(!article.text.contains("Advertisement"))
    }

    @Test("an embedded tweet inside a social-media wrapper stays; a hover card full of links goes")
    func embedsAndHoverCards() throws {
        let html = """
        <html><body><div class="entry-content">
        <p>\(p[0]) Said Rep. <span class="rollover-people"><a href="/people/x">Jane Doe</a><span class="rollover-people-block"><a href="/a">First related headline about Jane Doe and more</a> <a href="/b">Second related headline about Jane Doe</a></span></span> yesterday.</p>
        <p>\(p[1])</p>
        <div class="social-media-embed"><blockquote class="twitter-tweet"><p>Quoted tweet text that the article is about, word for word.</p>— Someone (@someone) <a href="https://twitter.com/x/status/1">November 18, 2019</a></blockquote></div>
        <p>\(p[2])</p><p>\(p[3])</p>
        </div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.text.contains("Quoted tweet text that the article is about"))
        #expect(!article.text.contains("related headline"))
        #expect(article.paragraphs[0] == p[0] + " Said Rep. Jane Doe yesterday.")
        #expect(article.paragraphs[1] == p[1])
    }

    @Test("paragraphs that are mostly links, calls to action and date lines are dropped")
    func paragraphFilters() throws {
        let html = """
        <html><body><article>
        <p>Updated 11:21 pm CST, Tuesday, November 19, 2019</p>
        <p>\(p[0])</p>
        <p>Read more: <a href="/x">The council's previous plan for the riverside, explained in full</a></p>
        <p>\(p[1])</p><p>\(p[2])</p>
        <p>Follow us on Twitter and Facebook for more local news.</p>
        <p>\(p[3])</p>
        <p>[button link="/submit" type="big"]Send us your story[/button]</p>
        </article></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.paragraphs == p)
    }

    @Test("ad labels only as whole paragraphs")
    func adLabels() {
        #expect(Boilerplate.isBoilerplate("Advertisement"))
        #expect(Boilerplate.isBoilerplate("ADVERTISEMENT"))
        #expect(!Boilerplate.isBoilerplate("Advertisement spending rose by a tenth last year, the agency said."))
    }

    @Test("date lines")
    func dateLines() {
        #expect(Boilerplate.isBoilerplate("Published Nov 18, 2019 at 4:07 PM"))
        #expect(Boilerplate.isBoilerplate("segunda-feira, 22 de janeiro de 2018 às 0:13"))
        #expect(Boilerplate.isBoilerplate("Updated Nov. 19, 2019 8:21 am ET / Original Nov. 19, 2019 8:02 am ET"))
        #expect(Boilerplate.isBoilerplate("Updated at 1:23 p.m."))
        #expect(Boilerplate.isBoilerplate("5 min read"))
        #expect(!Boilerplate.isBoilerplate("In 2019 the council approved the plan."))
        #expect(!Boilerplate.isBoilerplate("The meeting starts at 10:30 in the town hall."))
        #expect(!Boilerplate.isBoilerplate("The park will open in May 2020."))
    }

    @Test("a page whose wrapper has an 'unlikely' class name is still read in the first attempt")
    func unluckyWrapper() throws {
        let html = """
        <html><body><div class="page-wrapper has-sidebar-menu"><div class="story">
        \(p.map { "<p>\($0)</p>" }.joined())
        </div><div class="sidebar">Sidebar links and more sidebar links</div></div></body></html>
        """
        let article = try ArticleExtractor.extract(html: Array(html.utf8))
        #expect(article.paragraphs == p)
    }

    @Test("concurrent extraction")
    func concurrent() async throws {
        let bytes = Array(Fixtures.newsArticle.utf8)
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<16 { group.addTask { try ArticleExtractor.extract(html: bytes).paragraphs } }
            var all: [[String]] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(results.count == 16)
        #expect(results.allSatisfy { $0 == Fixtures.paragraphs })
    }
}
