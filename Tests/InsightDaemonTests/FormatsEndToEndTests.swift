import Foundation
import InsightCore
import Testing

/// Real notes dropped into a real daemon's inbox: every format read, recorded on its source, and read again
/// when the file changes.
@Suite("note formats through the real daemon", .serialized)
struct FormatsEndToEndTests {
    /// The parser fixtures, written as Obsidian, Logseq, Readwise and Workflowy write them.
    static func noteFixture(_ name: String) throws -> String {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("InsightCoreTests/Fixtures/formats")
        return try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }

    /// A Kindle file as the device writes it: CRLF, a BOM before each book line, a highlight and its later
    /// extension, a note on the extension and a bookmark.
    static let clippings = [
        "\u{FEFF}Atomic Habits (James Clear)",
        "- Your Highlight on page 27 | Location 410-411 | Added on Monday, January 2, 2023 9:01:12 AM",
        "",
        "You do not rise to the level of your goals.",
        "==========",
        "\u{FEFF}Atomic Habits (James Clear)",
        "- Your Highlight on page 27 | Location 410-412 | Added on Monday, January 2, 2023 9:02:40 AM",
        "",
        "You do not rise to the level of your goals. You fall to the level of your systems.",
        "==========",
        "\u{FEFF}Atomic Habits (James Clear)",
        "- Your Note on page 27 | Location 412 | Added on Monday, January 2, 2023 9:03:00 AM",
        "",
        "Systems over goals",
        "==========",
        "\u{FEFF}Atomic Habits (James Clear)",
        "- Your Bookmark on page 30 | Location 455 | Added on Monday, January 2, 2023 9:10:00 AM",
        "",
        "",
        "==========",
        "",
    ].joined(separator: "\r\n")

    static let article = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Why small teams ship faster</title>
        <meta property="article:published_time" content="2024-02-10T08:00:00Z"></head>
        <body><nav><a href="/">Home</a> · <a href="/about">About</a> · <a href="/archive">Archive</a></nav>
        <article><h1>Why small teams ship faster</h1>
        <p>Small teams ship faster because every person holds the whole design in their head, so decisions need no meetings.</p>
        <p>Communication paths grow with the square of the team size, which is why adding people to a late project makes it later.</p>
        <p>A team that owns its deploys learns from production within hours instead of waiting weeks for a release train.</p>
        </article>
        <footer>Copyright 2024 Example Blog. All rights reserved.</footer></body></html>
        """

    static let bookmarks = """
        <!DOCTYPE NETSCAPE-Bookmark-file-1>
        <META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
        <TITLE>Bookmarks</TITLE>
        <H1>Bookmarks</H1>
        <DL><p>
            <DT><H3 ADD_DATE="1700000000">Reading</H3>
            <DL><p>
                <DT><A HREF="https://example.org/essays/compounding" ADD_DATE="1700000000">Compounding</A>
                <DT><A HREF="https://example.net/posts/focus" ADD_DATE="1700000100">Focus</A>
            </DL><p>
        </DL><p>
        """

    @Test func everyFormatIsReadRecordedAndReadAgainWhenChanged() throws {
        // Links to the outside fail at once here; what matters is which of them were queued.
        let daemon = try DaemonHarness(environment: ["INSIGHTD_FETCH_MAX_ATTEMPTS": "1"])
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let tsmc = try Self.noteFixture("obsidian-tsmc.md")
        try daemon.write("tsmc.md", tsmc)
        try daemon.write("deep-work.md", Self.noteFixture("logseq-deep-work.md"))
        try daemon.write("thinking.md", Self.noteFixture("readwise-thinking-fast-and-slow.md"))
        try daemon.write("podcast.txt", Self.noteFixture("workflowy-export.txt"))
        try daemon.moveIn("My Clippings.txt", Self.clippings)
        try daemon.write("article.html", Self.article)
        try daemon.write("bookmarks.html", Self.bookmarks)

        let report = try daemon.waitForStatus("seven files are stored") { $0.files.ingested == 7 }
        #expect(report.files.failed == 0 && report.files.skipped == 0)
        // 5 Obsidian + 5 Logseq + 3 Readwise + 4 Workflowy + 1 Kindle (and its shorter first version) + 3 article.
        #expect(report.insights.unique == 21)
        #expect(report.insights.variants == 1)
        #expect(report.insights.occurrences == 22)

        let sources = try decode(SourcesReply.self, daemon.ctl(["sources", "--json"])).sources
        #expect(sources.map { "\($0.path)=\($0.format ?? "-")" } == [
            "My Clippings.txt=kindle-clippings", "article.html=html", "bookmarks.html=links", "deep-work.md=outline",
            "podcast.txt=outline", "thinking.md=readwise", "tsmc.md=markdown",
        ])

        let records = try exportRecords(daemon)
        // The Kindle extension is the insight; the first, shorter highlight is its variant, and the note is attached.
        let habits = try #require(records.first { $0.text.hasPrefix("You do not rise") })
        #expect(habits.text == "You do not rise to the level of your goals. You fall to the level of your systems.")
        #expect(habits.variants.map(\.text) == ["You do not rise to the level of your goals."])
        let extended = try #require(habits.sources.first { $0.location == "page 27 · location 410-412" })
        #expect(extended.section == "Atomic Habits (James Clear)")
        #expect(extended.note == "Systems over goals")
        #expect(extended.addedAt == "2023-01-02T09:02:40")
        #expect(extended.format == "kindle-clippings")

        // The saved article: its paragraphs, under its title, dated by the page.
        let article = records.filter { $0.sources.contains { $0.path == "article.html" } }
        #expect(Set(article.map(\.text)) == [
            "Small teams ship faster because every person holds the whole design in their head, so decisions need no meetings.",
            "Communication paths grow with the square of the team size, which is why adding people to a late project makes it later.",
            "A team that owns its deploys learns from production within hours instead of waiting weeks for a release train.",
        ])
        #expect(Set(article.flatMap(\.sources).map(\.section)) == ["Why small teams ship faster"])
        #expect(Set(article.flatMap(\.sources).map(\.date)) == ["2024-02-10"])

        // Nothing that is metadata, a task, code or a separator became an insight.
        for never in ["title:", "Short bullet", "TODO", "Schedule a four hour", "print(", "==========", "Your Highlight", "Full Title", "Revenue"] {
            #expect(!records.contains { $0.text.contains(never) }, "\(never)")
        }

        // Links: the front matter source, the note's link and both bookmarks; never Readwise's own location links.
        let links = try decode(LinksReply.self, daemon.ctl(["links", "--json"])).links
        #expect(links.count == 4)
        #expect(!links.contains { $0.url.contains("readwise.io") })
        #expect(links.contains { $0.url.contains("example.org/essays/compounding") })
        #expect(links.contains { $0.url.contains("acquired.fm/episodes/tsmc") })

        let tags = try decode(TagsReply.self, daemon.ctl(["tags", "--json"])).tags
        #expect(tags.first { $0.tag == "semiconductors" }?.insights == 5)
        #expect(tags.first { $0.tag == "focus" }?.insights == 5)

        // The note changes: a bullet goes, the tags change. Its occurrences are replaced; the gone insight with them.
        let changed = tsmc.replacingOccurrences(of: "tags: [semiconductors, business-strategy]", with: "tags: [chips]")
            .replacingOccurrences(of: "- **Yield learning** compounds: every wafer run teaches the _process engineers_ something the next node inherits. #manufacturing #Learning\n", with: "")
        #expect(changed != tsmc)
        try daemon.write("tsmc.md", changed)
        let after = try daemon.waitForStatus("the changed note is read again") { $0.insights.unique == 20 }
        #expect(after.insights.occurrences == 21)
        let retagged = try decode(TagsReply.self, daemon.ctl(["tags", "--json"])).tags
        #expect(retagged.first { $0.tag == "chips" }?.insights == 4)
        #expect(!retagged.contains { ["semiconductors", "manufacturing", "learning"].contains($0.tag) })
        #expect(!(try exportRecords(daemon)).contains { $0.text.hasPrefix("Yield learning") })
    }

    @Test func aReadwiseCSVExportIsReadAndAnyOtherCSVSkippedWithItsReason() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.write("readwise-export.csv", Self.noteFixture("readwise-highlights.csv"))
        try daemon.write("expenses.csv", "date,amount,currency\n2024-01-01,12.50,EUR\n")
        let report = try daemon.waitForStatus("both files are handled") { $0.files.ingested == 1 && $0.files.skipped == 1 }
        #expect(report.insights.unique == 4)

        let sources = try decode(SourcesReply.self, daemon.ctl(["sources", "--json"])).sources
        #expect(sources.first { $0.path == "readwise-export.csv" }?.format == "readwise-csv")
        let skipped = try #require(sources.first { $0.path == "expenses.csv" })
        #expect(skipped.state == "skipped")
        #expect(skipped.reason?.contains("not a Readwise export") == true, "\(String(describing: skipped.reason))")

        let records = try exportRecords(daemon)
        let map = try #require(records.first { $0.text.hasPrefix("Map is not the territory") })
        #expect(map.text == "Map is not the territory: a map, however good, leaves out what its makers could not see or chose to ignore.")
        let place = try #require(map.sources.first)
        #expect(place.section == "The Great Mental Models (Shane Parrish)")
        #expect(place.location == "page 31")
        #expect(place.addedAt == "2023-03-05T10:20:41")
        #expect(place.line == 3)
        let tags = try decode(TagsReply.self, daemon.ctl(["tags", "--json"])).tags
        #expect(tags.first { $0.tag == "favorites" }?.insights == 3)
    }

    func exportRecords(_ daemon: DaemonHarness) throws -> [ExportRecord] {
        try daemon.ctl(["export"]).stdout.split(separator: "\n").map { try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8)) }
    }
}
