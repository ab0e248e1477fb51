import Foundation
import InsightClient
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import Testing

/// Tags, reading notes and formats through the real daemon and the real insightctl.
@Suite("insightctl tags, search --tag and show with reading notes, against a real daemon", .serialized)
struct CLIReadingNotesTests {
    let focusing = "Nothing in life is as important as you think it is, while you are thinking about it."
    let story = "The confidence people have in their beliefs depends mostly on the quality of the story they can tell."
    let chips = "Open models shift value from software vendors to chip makers over the next decade."

    /// Stores two files the way the daemon's readers hand them over (a Kindle export with a note, location and date;
    /// a Markdown note with tags) into the store the daemon will open, so these commands are checked whatever
    /// the readers of the day produce.
    func seed(_ store: any InsightStoring) throws {
        let clippings = FileIngest(path: "My Clippings.txt", size: 600, mtime: 1, sha256: "clippings", encoding: "utf-8", documentDate: nil, insights: [
            PreparedInsight(ParsedInsight(text: focusing, line: 4, section: "Thinking, Fast and Slow (Kahneman, Daniel)", tags: ["psychology"],
                                          note: "The focusing illusion.", location: "page 12 · location 180-182", addedAt: "2019-03-05T20:14:02")),
            PreparedInsight(ParsedInsight(text: story, line: 9, section: "Thinking, Fast and Slow (Kahneman, Daniel)",
                                          tags: ["psychology", "attention"], location: "page 61 · location 903-905", addedAt: "2019-03-06")),
        ], format: "kindle-clippings")
        let notes = FileIngest(path: "notes/economics.md", size: 200, mtime: 1, sha256: "economics", encoding: "utf-8", documentDate: "2025-04-04",
                               insights: [PreparedInsight(ParsedInsight(text: chips, line: 6, section: "Notes", tags: ["economics"]))], format: "markdown")
        for file in [clippings, notes] { _ = try store.ingestOne(file) }
        try store.close()
    }

    @Test(arguments: TestStore.allCases)
    func tagsSearchByTagShowAndExport(store: TestStore) throws {
        let environment = try store.environment()
        let daemon = try DaemonHarness(environment: environment)
        if let url = environment["INSIGHTD_STORE_URL"] {
            try seed(try PostgresInsightStore(url: url, host: "tester", inbox: daemon.inbox))
        } else {
            try seed(try InsightDatabase(path: daemon.state + "/insights.sqlite"))
        }
        try daemon.start()
        defer { _ = try? daemon.stop() }

        // tags: most insights first, ties by name; the table and the JSON say the same.
        let tags = try decode(TagsReply.self, daemon.ctl(["tags", "--json"]))
        #expect(tags.schema == 1)
        #expect(tags.tags == [TagCount(tag: "psychology", insights: 2, occurrences: 2), TagCount(tag: "attention", insights: 1, occurrences: 1),
                              TagCount(tag: "economics", insights: 1, occurrences: 1)])
        let table = try daemon.ctl(["tags"])
        #expect(table.status == 0)
        #expect(table.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                == ["TAG INSIGHTS OCCURRENCES", "#psychology 2 2", "#attention 1 1", "#economics 1 1"])

        // search --tag without words: the tag's insights, newest first; with words: only matches so tagged.
        let tagged = try decode(SearchReply.self, daemon.ctl(["search", "--tag", "#Psychology", "--json"]))
        #expect(tagged.tag == "psychology")
        #expect(tagged.query == "")
        #expect(tagged.results.map(\.text) == [story, focusing])
        #expect(tagged.results.map(\.tags) == [["attention", "psychology"], ["psychology"]])
        let focusingID = try #require(tagged.results.last?.id)
        let storyID = try #require(tagged.results.first?.id)
        let taggedText = try daemon.ctl(["search", "--tag", "psychology"])
        #expect(taggedText.status == 0)
        #expect(taggedText.stdout.contains("#\(storyID)") && taggedText.stdout.contains("#\(focusingID)") && taggedText.stdout.contains("2 results"))
        #expect(taggedText.stdout.contains("#attention #psychology"))
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "important", "--tag", "psychology", "--json"])).results.map(\.id) == [focusingID])
        #expect(try decode(SearchReply.self, daemon.ctl(["search", "important", "--tag", "economics", "--json"])).results.isEmpty)
        let untagged = try daemon.ctl(["search", "--tag", "gardening"])
        #expect(untagged.status == 0 && untagged.stdout.contains("no insight has the tag #gardening"))
        #expect(try daemon.ctl(["search"]).status == 2)
        #expect(try daemon.ctl(["search", "--tag", "#"]).status == 2)

        // show: tags, and per source its format, location, added date and note.
        let shown = try daemon.ctl(["show", String(focusingID)])
        #expect(shown.status == 0)
        #expect(shown.stdout.contains("tags: #psychology"))
        #expect(shown.stdout.contains("My Clippings.txt:4"))
        #expect(shown.stdout.contains("kindle-clippings"))
        #expect(shown.stdout.contains("page 12 · location 180-182 · added 2019-03-05 20:14:02 · #psychology"))
        #expect(shown.stdout.contains("note: The focusing illusion."))
        let detail = try decode(InsightDetail.self, daemon.ctl(["show", String(focusingID), "--json"]))
        #expect(detail.tags == ["psychology"])
        let source = try #require(detail.sources.first)
        #expect(detail.sources.count == 1)
        #expect(source.note == "The focusing illusion.")
        #expect(source.location == "page 12 · location 180-182")
        #expect(source.addedAt == "2019-03-05T20:14:02")
        #expect(source.format == "kindle-clippings")
        #expect(source.tags == ["psychology"])
        let raw = try daemon.ctl(["show", String(focusingID), "--json"]).stdout
        #expect(raw.contains("\"added_at\":\"2019-03-05T20:14:02\"") && raw.contains("\"tags\":[\"psychology\"]"))
        let chipsID = try #require(try decode(SearchReply.self, daemon.ctl(["search", "--tag", "economics", "--json"])).results.first?.id)
        let markdown = try daemon.ctl(["show", String(chipsID)])
        #expect(markdown.stdout.contains("notes/economics.md:6") && markdown.stdout.contains("markdown") && !markdown.stdout.contains("note:"))

        // sources carry how each file was read.
        let sources = try decode(SourcesReply.self, daemon.ctl(["sources", "--json"])).sources
        #expect(sources.map { "\($0.path)=\($0.format ?? "-")" } == ["My Clippings.txt=kindle-clippings", "notes/economics.md=markdown"])

        // Every export format carries the tags, notes, locations, dates and formats.
        let records = try daemon.ctl(["export"]).stdout.split(separator: "\n").map {
            try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8))
        }
        let exported = try #require(records.first { $0.id == focusingID })
        #expect(exported.tags == ["psychology"])
        #expect(exported.sources.map { [$0.note, $0.location, $0.addedAt, $0.format] } ==
                [["The focusing illusion.", "page 12 · location 180-182", "2019-03-05T20:14:02", "kindle-clippings"]])
        let csv = try daemon.ctl(["export", "--format", "csv"]).stdout.components(separatedBy: "\r\n")
        #expect(csv.first == "id,text,created_at,sources,tags,formats,locations,added_at,notes")
        let focusingRow = try #require(csv.first { $0.hasPrefix("\"\(focusingID)\",") })
        #expect(focusingRow.hasSuffix(",\"My Clippings.txt:4\",\"psychology\",\"kindle-clippings\",\"page 12 · location 180-182\",\"2019-03-05T20:14:02\",\"My Clippings.txt:4: The focusing illusion.\""))
        let storyRow = try #require(csv.first { $0.hasPrefix("\"\(storyID)\",") })
        #expect(storyRow.hasSuffix(",\"attention; psychology\",\"kindle-clippings\",\"page 61 · location 903-905\",\"2019-03-06\",\"\""))
        let markdownExport = try daemon.ctl(["export", "--format", "markdown"]).stdout
        #expect(markdownExport.contains("My Clippings.txt:4 (Thinking, Fast and Slow (Kahneman, Daniel)) [kindle-clippings, page 12 · location 180-182, added 2019-03-05T20:14:02]"))
        #expect(markdownExport.contains("\n  #psychology\n  > The focusing illusion. (My Clippings.txt:4)\n"))
        #expect(markdownExport.components(separatedBy: "\n- ").count - 1 == 3)
    }

    /// The same commands on files dropped into the inbox and read by the daemon's own readers: a Kindle export
    /// (note, location, date) and a Markdown note whose front matter carries tags.
    @Test(arguments: TestStore.allCases)
    func droppedKindleAndMarkdownFiles(store: TestStore) throws {
        let daemon = try DaemonHarness(environment: try store.environment())
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.write("My Clippings.txt", """
            Thinking, Fast and Slow (Kahneman, Daniel)
            - Your Highlight on page 12 | Location 180-182 | Added on Tuesday, March 5, 2019 8:14:02 PM

            A reliable way to make people believe in falsehoods is frequent repetition, because familiarity is not easily distinguished from truth.
            ==========
            Thinking, Fast and Slow (Kahneman, Daniel)
            - Your Note on page 12 | Location 182 | Added on Tuesday, March 5, 2019 8:15:40 PM

            Compare with the illusory truth effect.
            ==========

            """)
        try daemon.write("notes.md", """
            ---
            title: Reading notes
            tags: [economics, Attention]
            ---

            # Notes

            Open models shift value from software vendors to chip makers over the next decade.

            Remote work moved spending from city centres to the suburbs in most large cities.

            """)
        try daemon.waitForStatus("both files are stored") { $0.files.ingested == 2 }

        #expect(try decode(TagsReply.self, daemon.ctl(["tags", "--json"])).tags
                == [TagCount(tag: "attention", insights: 2, occurrences: 2), TagCount(tag: "economics", insights: 2, occurrences: 2)])
        let tagged = try decode(SearchReply.self, daemon.ctl(["search", "--tag", "economics", "--json"])).results
        #expect(Set(tagged.map(\.text)) == ["Open models shift value from software vendors to chip makers over the next decade.",
                                            "Remote work moved spending from city centres to the suburbs in most large cities."])
        let highlight = try #require(try decode(SearchReply.self, daemon.ctl(["search", "falsehoods", "--json"])).results.first)
        let shown = try daemon.ctl(["show", String(highlight.id)])
        #expect(shown.stdout.contains("kindle-clippings"))
        #expect(shown.stdout.contains("page 12 · location 180-182"))
        #expect(shown.stdout.contains("added 2019-03-05 20:14:02"))
        #expect(shown.stdout.contains("note: Compare with the illusory truth effect."))
        let sources = try decode(SourcesReply.self, daemon.ctl(["sources", "--json"])).sources
        #expect(sources.map { "\($0.path)=\($0.format ?? "-")" } == ["My Clippings.txt=kindle-clippings", "notes.md=markdown"])
    }
}
