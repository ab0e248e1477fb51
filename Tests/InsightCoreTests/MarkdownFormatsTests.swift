import Foundation
import Testing
@testable import InsightCore

/// Markdown notes, outlines, Readwise exports and front matter, read from fixtures written as the tools write them.
struct MarkdownFormatsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/formats")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    struct Expected: Equatable, CustomStringConvertible {
        var text: String
        var line: Int
        var section: String?
        var tags: [String] = []
        var note: String? = nil
        var location: String? = nil
        var addedAt: String? = nil

        init(_ text: String, line: Int, section: String?, tags: [String] = [], note: String? = nil, location: String? = nil,
             addedAt: String? = nil) {
            self.text = text
            self.line = line
            self.section = section
            self.tags = tags
            self.note = note
            self.location = location
            self.addedAt = addedAt
        }

        init(_ insight: ParsedInsight) {
            self.init(insight.text, line: insight.line, section: insight.section, tags: insight.tags, note: insight.note,
                      location: insight.location, addedAt: insight.addedAt)
        }

        var description: String { "\(line) [\(section ?? "-")] \(text) \(tags) \(note ?? "") \(location ?? "") \(addedAt ?? "")" }
    }

    @Test func obsidianNoteGivesParagraphsItemsAndQuotesOnly() throws {
        let document = DocumentReader.parse(try Self.fixture("obsidian-tsmc.md"), fileExtension: "md", minWords: 6)
        #expect(document.format == .markdown)
        #expect(document.date == "2024-03-18")
        #expect(document.title == "TSMC episode")
        #expect(document.tags == ["semiconductors", "business-strategy"])
        let base = ["semiconductors", "business-strategy"]
        #expect(document.insights.map(Expected.init) == [
            Expected("TSMC never competes with its customers, so chip designers trust it with their most valuable designs.",
                     line: 16, section: "TSMC episode › Key insights", tags: base + ["strategy"]),
            Expected("The foundry model works because the fixed cost of a leading-edge fab is so large that only pooled demand from many designers can fill it.",
                     line: 17, section: "TSMC episode › Key insights", tags: base),
            Expected("Yield learning compounds: every wafer run teaches the process engineers something the next node inherits.",
                     line: 19, section: "TSMC episode › Key insights", tags: base + ["manufacturing", "learning"]),
            Expected("Morris Chang founded TSMC at 54, after being passed over for CEO at Texas Instruments, so late starts can still build giants.",
                     line: 24, section: "TSMC episode › Key insights", tags: base),
            Expected("See also Intel's foundry plans and how they matter for Apple silicon strategy decisions today.",
                     line: 42, section: "TSMC episode › Numbers", tags: base),
        ])
        // The front matter's source and the inline link; never the image.
        #expect(document.links == [
            ParsedLink(url: "https://www.acquired.fm/episodes/tsmc", line: 5),
            ParsedLink(url: "https://www.acquired.fm/", line: 12),
        ])
        let texts = document.insights.map(\.text).joined(separator: "\n")
        for never in ["title", "---", "Short bullet", "Chip War", "Listen to", "Revenue", "print(", "Raw HTML", "microscope", "footnote", "**", "[["] {
            #expect(!texts.contains(never), "\(never) must not be in an insight")
        }
    }

    @Test func logseqPageKeepsShortParentsAsContextAndDropsTasksAndProperties() throws {
        let document = DocumentReader.parse(try Self.fixture("logseq-deep-work.md"), fileExtension: "md", minWords: 6)
        #expect(document.format == .outline)
        #expect(document.title == "Deep Work notes")
        let tags = ["books", "focus"]
        #expect(document.insights.map(Expected.init) == [
            Expected("Deep work is the ability to focus without distraction on a cognitively demanding task.",
                     line: 5, section: "Deep Work notes › Deep work", tags: tags),
            Expected("Shallow work is non-cognitively demanding, logistical-style work, often performed while distracted.",
                     line: 7, section: "Deep Work notes › Deep work", tags: tags + ["definitions"]),
            Expected("Where you will work and for how long matters, so decide both before you start any session.",
                     line: 11, section: "Deep Work notes › Rituals", tags: tags),
            Expected("This child note explains why a fixed ritual reduces the friction of starting.",
                     line: 12, section: "Deep Work notes › Rituals", tags: tags),
            Expected("Embracing boredom is a skill: a mind that fills every idle moment with a phone is rewired for distraction.",
                     line: 13, section: "Deep Work notes", tags: tags),
        ])
    }

    @Test func indentedTextOutlineReadsLikeLogseq() throws {
        let text = try Self.fixture("workflowy-export.txt")
        #expect(DocumentReader.format(of: text, fileExtension: "txt") == .outline)
        let document = DocumentReader.parse(text, fileExtension: "txt", minWords: 6)
        #expect(document.format == .outline)
        #expect(document.insights.map(Expected.init) == [
            Expected("Compounding knowledge beats raw intelligence over a long enough career.",
                     line: 3, section: "Podcast notes: Lex Fridman #400 › Guest"),
            Expected("Write down every question you cannot answer and revisit the list each month.",
                     line: 5, section: "Podcast notes: Lex Fridman #400 › Habits worth copying"),
            Expected("Walk without a phone for an hour a day to let ideas connect on their own.",
                     line: 6, section: "Podcast notes: Lex Fridman #400 › Habits worth copying"),
            Expected("A second brain is only useful if you read it back, not just write into it.", line: 8, section: "Misc"),
        ])
    }

    @Test func readwiseBookExportGivesHighlightsWithLocationsNotesAndTags() throws {
        let text = try Self.fixture("readwise-thinking-fast-and-slow.md")
        let document = DocumentReader.parse(text, fileExtension: "md", minWords: 6)
        #expect(document.format == .readwise)
        #expect(document.title == "Thinking, Fast and Slow")
        let section = "Thinking, Fast and Slow (Daniel Kahneman)"
        #expect(document.insights.map(Expected.init) == [
            Expected("A reliable way to make people believe in falsehoods is frequent repetition, because familiarity is not easily distinguished from truth.",
                     line: 11, section: section, tags: ["psychology", "persuasion"], note: "Advertising and propaganda both run on this.",
                     location: "location 1043"),
            Expected("Nothing in life is as important as you think it is, while you are thinking about it.",
                     line: 14, section: section, location: "location 6780"),
            Expected("The idea that the future is unpredictable is undermined every day by the ease with which the past is explained.",
                     line: 17, section: section, tags: ["hindsight"], location: "page 218", addedAt: "2023-03-05T22:14:00"),
        ])
        // Location links lead back into Readwise; a book export has nothing to fetch.
        #expect(document.links == [])
    }

    @Test func readwiseArticleExportLinksTheArticle() throws {
        let document = DocumentReader.parse(try Self.fixture("readwise-article.md"), fileExtension: "md", minWords: 6)
        #expect(document.format == .readwise)
        let section = "How to Do Great Work (Paul Graham)"
        #expect(document.insights.map(Expected.init) == [
            Expected("The way to figure out what to work on is by working. If you're not sure what to work on, guess.",
                     line: 12, section: section, tags: ["career", "work"]),
            Expected("Develop a habit of working on your own projects. Don't let \"work\" mean something other people tell you to do.",
                     line: 14, section: section, note: "This is the one I keep coming back to."),
        ])
        #expect(document.links == [ParsedLink(url: "http://paulgraham.com/greatwork.html", line: 9)])
    }

    @Test func tomlFrontMatter() throws {
        let document = DocumentReader.parse(try Self.fixture("hugo-post.md"), fileExtension: "md", minWords: 6)
        #expect(document.date == "2023-11-02")
        #expect(document.title == "Notes on compounding")
        #expect(document.insights.map(Expected.init) == [
            Expected("Compounding rewards patience more than brilliance: the returns arrive late and all at once.",
                     line: 7, section: "Notes on compounding", tags: ["investing", "habits"]),
        ])
    }

    @Test func frontMatterSubset() {
        let yaml = """
            ---
            title: "Quoted: with a colon"
            tags:
              - Alpha
              - "#beta"
            created: 2022-01-09
            url: 'https://example.com/a'
            ---
            Body
            """
        let lines = DocumentParser.lines(yaml)
        let matter = FrontMatter.read(lines)
        #expect(matter == FrontMatter(date: "2022-01-09", title: "Quoted: with a colon", tags: ["alpha", "beta"],
                                      links: [ParsedLink(url: "https://example.com/a", line: 7)], lineCount: 8))
        #expect(FrontMatter.read(DocumentParser.lines("---\ntags: one, two three\n---\n"))?.tags == ["one", "two", "three"])
        #expect(FrontMatter.read(DocumentParser.lines("---\ntags: [\"a, b\", c]\n---\n"))?.tags == ["a, b", "c"])
        // Not closed: a thematic break, not metadata.
        #expect(FrontMatter.read(DocumentParser.lines("---\ntitle: x\n\nText goes on.")) == nil)
        #expect(FrontMatter.read(DocumentParser.lines("Text\n---\n")) == nil)
    }

    @Test func unclosedFrontMatterIsText() {
        let document = MarkdownParser(minWords: 3).parse("---\nnot front matter at all here\n\nA paragraph of plain words.")
        #expect(document.insights.map(\.text) == ["not front matter at all here", "A paragraph of plain words."])
    }

    @Test(arguments: [
        ("Ship small and often. #habits #Work", "Ship small and often.", ["habits", "work"]),
        ("Learn C# before #1 ranking", "Learn C# before #1 ranking", []),
        ("A text about #rust in the middle", "A text about #rust in the middle", []),
        ("Ends with a hash #", "Ends with a hash #", []),
    ])
    func trailingTags(input: String, text: String, tags: [String]) {
        let split = Tags.splitTrailing(input)
        #expect(split.text == text)
        #expect(split.tags == tags)
    }

    @Test(arguments: [
        ("See [[Page]] and [[Other Page|the alias]].", "See Page and the alias."),
        ("Embed ![[diagram.png]] gone.", "Embed  gone."),
        ("Ref ((64f1c2a0-1111-4a2b-9c3d-aaaaaaaaaaaa)) gone.", "Ref  gone."),
        ("A ==highlighted== word.", "A highlighted word."),
        ("Math a == b stays (x) as is.", "Math a == b stays (x) as is."),
        ("[[Page#Heading]] link", "Page › Heading link"),
    ])
    func noteSyntax(input: String, output: String) {
        #expect(MarkdownInline.noteSyntax(input) == output)
    }

    @Test(arguments: [
        ("March 5, 2023 at 10:14 PM", "2023-03-05T22:14:00"),
        ("Tuesday, March 5, 2019 8:14:02 PM", "2019-03-05T20:14:02"),
        ("Sunday, 1 January 2023 09:14:55", "2023-01-01T09:14:55"),
        ("Monday, December 12, 2022 12:05:00 AM", "2022-12-12T00:05:00"),
        ("July 12, 2023", "2023-07-12"),
        ("sometime last year", nil),
    ])
    func englishDates(input: String, iso: String?) {
        #expect(EnglishDate.iso(input) == iso)
    }

    @Test func markdownListOfInsightsIsOneInsightPerBullet() {
        let text = "## Lessons\n\n- Keep the feedback loop short so mistakes stay cheap.\n- Write the test before the fix, or the fix will not stay fixed.\n- Measure before optimising anything at all.\n"
        let document = MarkdownParser(minWords: 6).parse(text)
        #expect(document.insights.map(\.text) == [
            "Keep the feedback loop short so mistakes stay cheap.",
            "Write the test before the fix, or the fix will not stay fixed.",
            "Measure before optimising anything at all.",
        ])
        #expect(document.insights.map(\.line) == [3, 4, 5])
        #expect(Set(document.insights.map(\.section)) == ["Lessons"])
    }

    @Test func nodesCmarkLeavesWithoutAPositionTakeTheirBlocksLine() {
        let text = "# T\n\nA paragraph of plain words right above a table.\n| a | b |\n|---|---|\n| 1 | 2 |\n\nSee https://example.com/page for the whole long story.\n"
        let document = MarkdownParser(minWords: 6).parse(text)
        #expect(document.insights.map(\.text) == ["A paragraph of plain words right above a table.",
                                                  "See https://example.com/page for the whole long story."])
        #expect(document.insights.allSatisfy { (1...8).contains($0.line) })
        #expect(document.insights.last?.line == 8)
        #expect(document.links == [ParsedLink(url: "https://example.com/page", line: 8)])
    }

    @Test func crlfAndBomMarkdown() {
        let text = "\u{FEFF}---\r\ndate: 2021-06-01\r\n---\r\n# Heading\r\n\r\nA paragraph written on Windows with CRLF line ends.\r\n"
        let document = MarkdownParser(minWords: 6).parse(text)
        #expect(document.date == "2021-06-01")
        #expect(document.insights.map(Expected.init) == [
            Expected("A paragraph written on Windows with CRLF line ends.", line: 6, section: "Heading"),
        ])
    }

    @Test func formatDetection() {
        #expect(DocumentReader.format(of: "Plain line one is here.\nPlain line two is here.", fileExtension: "txt") == .text)
        #expect(DocumentReader.format(of: "# A note\n\nText.", fileExtension: "MD") == .markdown)
        #expect(DocumentReader.format(of: "- a\n- b\n- c\n- d\n", fileExtension: "txt") == .text, "a flat list is text")
        #expect(DocumentReader.format(of: "- a\n  - b\n- c\n  - d\n", fileExtension: "txt") == .outline)
        #expect(DocumentReader.format(of: "## Highlights\n- x ([Location 1](https://readwise.io/x))\n", fileExtension: "md") == .readwise)
        #expect(DocumentReader.format(of: "## Highlights\n- x\n", fileExtension: "md") == .markdown)
    }
}
