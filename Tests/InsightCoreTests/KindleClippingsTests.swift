import Foundation
import Testing
@testable import InsightCore

enum FormatFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent("formats")

    static func text(_ name: String) throws -> String {
        // Decoded byte for byte: a byte order mark at the start must reach the parser as it would from a real file.
        String(decoding: try Data(contentsOf: directory.appendingPathComponent(name)), as: UTF8.self)
    }
}

@Suite("Kindle clippings")
struct KindleClippingsTests {
    static let kahneman = "Thinking, Fast and Slow (Kahneman, Daniel)"
    static let meditations = "Meditations (Penguin Classics) (Marcus Aurelius)"
    static let munger = "Poor Charlie's Almanack (Munger, Charles T.)"
    static let pragmatic = "The Pragmatic Programmer (Hunt, Andrew; Thomas, David)"
    static let focusing = "Nothing in life is as important as you think it is, while you are thinking about it."

    func fixture(minWords: Int = 6) throws -> ParsedDocument {
        KindleClippings.parse(try FormatFixtures.text("kindle-clippings.txt"), minWords: minWords)
    }

    @Test func fixtureIsRealisticKindleOutput() throws {
        let raw = try FormatFixtures.text("kindle-clippings.txt")
        #expect(raw.contains("\r\n"))
        #expect(raw.components(separatedBy: "\u{FEFF}").count - 1 == 18)
    }

    @Test func highlightsBecomeInsightsInFileOrder() throws {
        let doc = try fixture()
        #expect(doc.format == .kindleClippings)
        #expect(doc.date == nil)
        #expect(doc.title == nil)
        #expect(doc.links == [])
        #expect(doc.tags == [])
        #expect(doc.insights.map(\.text) == [
            "A reliable way to make people believe in falsehoods is frequent repetition, because familiarity is not easily distinguished from truth.",
            "The confidence that individuals have in their beliefs depends mostly on the quality of the story they can tell about what they see, even if they see little.",
            Self.focusing,
            "You have power over your mind, not outside events.",
            "You have power over your mind, not outside events. Realize this, and you will find strength.",
            Self.focusing,
            "Don't live with broken windows; fix each one as soon as it is discovered.",
        ])
        #expect(doc.insights.map(\.section) == [
            Self.kahneman, Self.kahneman, Self.kahneman, Self.meditations, Self.meditations, Self.munger, Self.pragmatic,
        ])
        #expect(doc.insights.map(\.line) == [4, 24, 29, 54, 59, 86, 91])
        #expect(doc.insights.allSatisfy { $0.tags.isEmpty })
    }

    @Test func locationsAndDatesAreReadFromTheMetaLine() throws {
        let doc = try fixture()
        #expect(doc.insights.map(\.location) == [
            "page 12 · location 180-182", "page 61 · location 903-905", "page 44 · location 671-672",
            "location 1012-1015", "location 1012-1018", "page 12 · location 180-182", "page 20 · location 300-301",
        ])
        #expect(doc.insights.map(\.addedAt) == [
            "2019-03-05T20:14:02",  // 8:14:02 PM
            "2019-03-06T00:04:30",  // 12:04:30 AM
            "2019-03-07T12:30:00",  // 12:30:00 PM
            "2023-01-01T09:14:55",  // day first, 24-hour
            "2023-01-01T09:16:10",
            "2024-05-04T18:22:07",
            "2024-07-01T15:07:09",
        ])
    }

    @Test func notesAttachToTheHighlightEndingAtTheirLocation() throws {
        let doc = try fixture()
        #expect(doc.insights.map(\.note) == [
            "Compare with the illusory truth effect.",  // note after its highlight
            "This is why first impressions stick.",  // note before its highlight in the file
            "Focusing illusion.",  // note on the repeated copy of a highlight
            nil,
            "Stoic dichotomy of control.\nCompare with Epictetus, Enchiridion 1.",  // two notes, the extension's end
            nil,  // same text in another book: notes stay with their book
            nil,
        ])
    }

    @Test func notesBookmarksSeparatorsAndMetaLinesAreNeverInsightText() throws {
        let doc = try fixture()
        let texts = doc.insights.map(\.text) + doc.insights.compactMap(\.note)
        for fragment in ["==========", "Your Highlight", "Your Note", "Your Bookmark", "Added on", "\u{FEFF}", "\r"] {
            #expect(!texts.contains { $0.contains(fragment) }, "\(fragment.debugDescription) leaked into a text")
        }
        #expect(!doc.insights.contains { $0.text.contains("A note on a passage that was never highlighted") })
        #expect(!doc.insights.contains { $0.text == "Losses loom larger than gains." || $0.text == "Focusing illusion." })
        #expect(!doc.insights.contains { $0.section?.contains("Your") == true })
    }

    @Test func aNoteWithoutItsHighlightIsDropped() throws {
        let doc = try fixture()
        let notes = doc.insights.compactMap(\.note).joined(separator: "\n")
        #expect(!notes.contains("never highlighted"))
        // The only highlight at location 690 is too short to be an insight, so its note goes with it.
        #expect(!notes.contains("Losses loom larger"))
    }

    @Test func aShorterMinWordsKeepsShortHighlightsAndTheirNotes() throws {
        let doc = try fixture(minWords: 2)
        let loss = try #require(doc.insights.first { $0.text == "Loss aversion." })
        #expect(loss.note == "Losses loom larger than gains.")
        #expect(loss.location == "page 45 · location 690")
        #expect(loss.line == 34)
        #expect(doc.insights.count == 8)
        #expect(doc.insights.firstIndex { $0.text == "Loss aversion." } == 3)
    }

    @Test func aRepeatedHighlightIsOneInsightPerBook() throws {
        let doc = try fixture()
        #expect(doc.insights.filter { $0.text == Self.focusing }.map(\.section) == [Self.kahneman, Self.munger])
        // The first copy is the one kept.
        #expect(doc.insights[2].addedAt == "2019-03-07T12:30:00")
        #expect(doc.insights[2].line == 29)
    }

    @Test func anExtendedHighlightKeepsBothWithTheShorterAsVariant() throws {
        let doc = try fixture()
        #expect(doc.insights.map(\.variantOf) == [nil, nil, nil, 4, nil, nil, nil])
    }

    @Test func variantOfPointsAtTheLongestExtensionWhateverTheOrder() {
        let text = clippings([
            ("Book (Author)", "- Your Highlight on page 3 | Location 40-48 | Added on Monday, 2 January 2023 10:00:00",
             "The first part of the sentence and then the middle part and then the end of it."),
            ("Book (Author)", "- Your Highlight on page 3 | Location 40-42 | Added on Monday, 2 January 2023 09:00:00",
             "The first part of the sentence"),
            ("Book (Author)", "- Your Highlight on page 3 | Location 40-45 | Added on Monday, 2 January 2023 09:30:00",
             "The first part of the sentence and then the middle part"),
            ("Book (Author)", "- Your Highlight on page 9 | Location 140-142 | Added on Monday, 2 January 2023 11:00:00",
             "the middle part and then the end of it somewhere else"),
        ])
        let doc = KindleClippings.parse(text, minWords: 3)
        #expect(doc.insights.count == 4)
        #expect(doc.insights.map(\.variantOf) == [nil, 0, 0, nil])
    }

    @Test func containedTextAtADistantLocationOrInAnotherBookIsNotAVariant() {
        let text = clippings([
            ("Book (Author)", "- Your Highlight on page 3 | Location 40-48 | Added on Monday, 2 January 2023 10:00:00",
             "Habits compound over years, and small gains add up to large results."),
            ("Book (Author)", "- Your Highlight on page 30 | Location 400-402 | Added on Monday, 2 January 2023 10:05:00",
             "Habits compound over years, and small gains add up"),
            ("Other (Writer)", "- Your Highlight on page 3 | Location 40-42 | Added on Monday, 2 January 2023 10:06:00",
             "Habits compound over years, and small gains add up"),
            ("Book (Author)", "- Your Highlight on page 3 | Location 41-43 | Added on Monday, 2 January 2023 10:07:00",
             "ears, and small gains add up to large"),
        ])
        let doc = KindleClippings.parse(text, minWords: 3)
        #expect(doc.insights.count == 4)
        // The last one overlaps but starts inside a word ("years"): not the same passage.
        #expect(doc.insights.map(\.variantOf) == [nil, nil, nil, nil])
    }

    @Test func aNoteInsideARangeAttachesWhenNoHighlightEndsThere() {
        let text = clippings([
            ("Book (Author)", "- Your Highlight on page 3 | Location 40-48 | Added on Monday, 2 January 2023 10:00:00",
             "Good judgement comes from experience, and experience comes from bad judgement."),
            ("Book (Author)", "- Your Note on page 3 | Location 44 | Added on Monday, 2 January 2023 10:01:00", "Attributed to many."),
            ("Book (Author)", "- Your Note on page 3 | Location 49 | Added on Monday, 2 January 2023 10:02:00", "Outside the range."),
            ("Other (Writer)", "- Your Note on page 3 | Location 48 | Added on Monday, 2 January 2023 10:03:00", "Another book."),
        ])
        let doc = KindleClippings.parse(text, minWords: 6)
        #expect(doc.insights.map(\.note) == ["Attributed to many."])
    }

    @Test func aHighlightEndingAtTheNoteWinsOverANearerOneContainingIt() {
        let text = clippings([
            ("Book (Author)", "- Your Highlight on page 8 | Location 110-115 | Added on Monday, 2 January 2023 10:00:00",
             "Most of what we call planning is really just guessing with confidence."),
            ("Book (Author)", "- Your Highlight on page 8 | Location 100-120 | Added on Monday, 2 January 2023 10:05:00",
             "A budget is a forecast, and every forecast is a story about a future nobody has seen yet."),
            ("Book (Author)", "- Your Note on page 8 | Location 115 | Added on Monday, 2 January 2023 10:06:00", "On planning."),
        ])
        let doc = KindleClippings.parse(text, minWords: 6)
        #expect(doc.insights.map(\.note) == ["On planning.", nil])
    }

    @Test func bookmarksGiveNothing() {
        let text = clippings([
            ("Book (Author)", "- Your Bookmark on page 40 | Location 600 | Added on Tuesday, March 5, 2019 9:02:11 PM", ""),
            ("Book (Author)", "- Your Bookmark at location 700 | Added on Tuesday, March 5, 2019 9:03:11 PM", ""),
        ])
        #expect(KindleClippings.looksLikeClippings(text))
        #expect(KindleClippings.parse(text, minWords: 1).insights.isEmpty)
    }

    @Test func malformedEntriesAreSkipped() {
        let text = "\u{FEFF}Book (Author)\r\n- Your Highlight on page 1 | Location 10-11 | Added on Monday, 2 January 2023 10:00:00\r\n\r\n"
            + "A passage that is long enough to be an insight on its own.\r\n==========\r\n"
            + "==========\r\n"  // empty entry
            + "- Your Highlight on page 2 | Location 20 | Added on Monday, 2 January 2023 10:00:00\r\n\r\nNo book line above this highlight text at all.\r\n==========\r\n"
            + "Book (Author)\r\nnot a meta line, although the entry goes on for a while\r\n\r\nAnother passage that is long enough to count here.\r\n==========\r\n"
            + "Book (Author)\r\n- Your Highlight on page 3 | Location 30 | Added on garbage\r\n\r\nA passage whose date cannot be read by anyone.\r\n==========\r\n"
            + "Book (Author)"  // a cut-off entry with a book line only
        let doc = KindleClippings.parse(text, minWords: 6)
        #expect(doc.insights.map(\.text) == [
            "A passage that is long enough to be an insight on its own.",
            "A passage whose date cannot be read by anyone.",
        ])
        #expect(doc.insights.map(\.addedAt) == ["2023-01-02T10:00:00", nil])
        #expect(doc.insights.map(\.location) == ["page 1 · location 10-11", "page 3 · location 30"])
        #expect(doc.insights.map(\.line) == [4, 19])
    }

    @Test func aTruncatedLastEntryStillCounts() throws {
        let doc = try fixture()
        #expect(doc.insights.last?.text == "Don't live with broken windows; fix each one as soon as it is discovered.")
        let raw = try FormatFixtures.text("kindle-clippings.txt")
        #expect(!raw.hasSuffix("==========") && !raw.hasSuffix("\n"))
    }

    @Test func unixLineEndsAndNoByteOrderMarkWorkToo() throws {
        let raw = try FormatFixtures.text("kindle-clippings.txt")
        let unix = raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\u{FEFF}", with: "")
        #expect(KindleClippings.looksLikeClippings(unix))
        #expect(KindleClippings.parse(unix, minWords: 6) == (try fixture()))
    }

    @Test(arguments: [
        ("Added on Tuesday, March 5, 2019 8:14:02 PM", "2019-03-05T20:14:02"),
        ("Added on Wednesday, March 6, 2019 12:03:11 AM", "2019-03-06T00:03:11"),
        ("Added on Thursday, March 7, 2019 12:30:00 PM", "2019-03-07T12:30:00"),
        ("Added on Sunday, 1 January 2023 09:14:55", "2023-01-01T09:14:55"),
        ("Added on Sunday, 1 January 2023 21:45:00", "2023-01-01T21:45:00"),
        ("Added on Friday, September 13, 2013, 11:05 PM", "2013-09-13T23:05:00"),
        ("Added on Saturday, 30 December 2017", "2017-12-30"),
        ("Added on Sonntag, 1. Januar 2023 09:14:55", nil),
    ] as [(String, String?)])
    func addedOnDates(meta: String, iso: String?) {
        let line = "- Your Highlight on page 1 | Location 1-2 | \(meta)"
        let parsed = KindleClippings.meta(Substring(line))
        #expect(parsed?.kind == .highlight)
        #expect(parsed?.addedAt == iso)
    }

    @Test(arguments: [
        ("- Your Highlight on page 12 | Location 180-182 | Added on Tuesday, March 5, 2019 8:14:02 PM", "12", "180-182", 180, 182),
        ("- Your Highlight at location 1012-1015 | Added on Sunday, 1 January 2023 09:14:55", nil, "1012-1015", 1012, 1015),
        ("- Your Note on page 12 | Location 182 | Added on Tuesday, March 5, 2019 8:15:40 PM", "12", "182", 182, 182),
        ("- Your Highlight on Page xii | Loc. 1234-37 | Added on Tuesday, March 5, 2019 8:14:02 PM", "xii", "1234-37", 1234, 1237),
    ] as [(String, String?, String, Int, Int)])
    func metaLines(line: String, page: String?, location: String, start: Int, end: Int) {
        let meta = KindleClippings.meta(Substring(line))
        #expect(meta?.page == page)
        #expect(meta?.locationText == location)
        #expect(meta?.range == start...end)
    }

    @Test func recognisesClippingFiles() throws {
        #expect(KindleClippings.looksLikeClippings(try FormatFixtures.text("kindle-clippings.txt")))
    }

    @Test(arguments: [
        "Title\n==========\n\nA paragraph under a Setext heading that is long enough.\n",
        "Some notes\n\n==========\n\nMore notes after a divider line made of equals signs.\n==========\n",
        "How Kindle exports work\n- Your Highlight on page 12 | Location 180-182 | Added on Tuesday, March 5, 2019 8:14:02 PM\nis what a meta line looks like.\n",
        "",
        "==========",
    ])
    func ordinaryTextIsNotClippings(text: String) {
        #expect(!KindleClippings.looksLikeClippings(text))
    }

    @Test func aFileMostlyOfOtherTextIsNotClippings() {
        let entry = "Book (Author)\n- Your Highlight on page 1 | Location 10-11 | Added on Monday, 2 January 2023 10:00:00\n\nQuoted passage.\n==========\n"
        let prose = (1...3).map { "Section \($0)\n\nSome ordinary prose paragraph number \($0).\n==========\n" }.joined()
        #expect(!KindleClippings.looksLikeClippings(prose + entry))
        #expect(KindleClippings.looksLikeClippings(entry + "Stray text\n==========\n" + entry))
    }

    /// A clippings file in Kindle's own layout from (book, meta line, body) triples.
    func clippings(_ entries: [(String, String, String)]) -> String {
        entries.map { "\u{FEFF}\($0.0)\r\n\($0.1)\r\n\r\n\($0.2)\r\n==========\r\n" }.joined()
    }
}
