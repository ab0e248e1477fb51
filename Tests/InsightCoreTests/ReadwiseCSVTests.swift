import Foundation
import Testing
@testable import InsightCore

/// Readwise's CSV export, from a fixture written as Readwise writes it: a BOM, CRLF, quoted fields with commas,
/// doubled quotes and a line break.
@Suite("Readwise CSV export")
struct ReadwiseCSVTests {
    typealias Expected = MarkdownFormatsTests.Expected

    @Test func everyHighlightWithItsBookNoteTagsLocationAndDate() throws {
        let text = try MarkdownFormatsTests.fixture("readwise-highlights.csv")
        #expect(DocumentReader.format(of: text, fileExtension: "csv") == .readwiseCSV)
        let document = DocumentReader.parse(text, fileExtension: "csv", minWords: 6)
        #expect(document.format == .readwiseCSV)
        let models = "The Great Mental Models (Shane Parrish)"
        #expect(document.insights.map(Expected.init) == [
            Expected("The chief enemy of good decisions is a lack of sufficient perspectives on a problem, not a lack of intelligence.",
                     line: 2, section: models, tags: ["decisions", "thinking", "favorites"], note: "Ask who else sees this differently",
                     location: "location 212", addedAt: "2023-03-05T10:14:00"),
            Expected("Map is not the territory: a map, however good, leaves out what its makers could not see or chose to ignore.",
                     line: 3, section: models, tags: ["favorites"], location: "page 31", addedAt: "2023-03-05T10:20:41"),
            Expected("Second-order thinking asks \"and then what?\" for every decision, because the first effect is rarely the last.",
                     line: 5, section: models, tags: ["favorites"], location: "location 540", addedAt: "2023-03-06T08:02:00"),
            // Readwise's `order` is a position in an article, not a place a reader can turn to.
            Expected("Writing is the process by which you realize that you do not understand what you are talking about.",
                     line: 8, section: "How to Take Smart Notes (Sönke Ahrens)", tags: ["writing"], addedAt: "2024-01-15T21:45:10"),
        ])
        // Two books: the file has no one title.
        #expect(document.title == nil)
    }

    @Test(arguments: [
        ("Highlight,Title,Author\nA passage long enough to be kept as one insight.,Book,Someone\n", false),
        ("date,amount,currency\n2024-01-01,12.50,EUR\n", false),
        ("Book Title,Highlight\nBook,A passage long enough to be kept as one insight.\n", true),
        ("", false),
    ])
    func onlyReadwisesHeaderMakesAnExport(text: String, isExport: Bool) {
        #expect(ReadwiseCSV.looksLikeExport(text) == isExport)
    }

    @Test func columnsAreFoundByNameInAnyOrder() {
        let text = "Book Title,Highlight\nBook,A passage long enough to be kept as one insight."
        let document = ReadwiseCSV.parse(text, minWords: 6)
        #expect(document.insights.map(Expected.init) == [Expected("A passage long enough to be kept as one insight.", line: 2, section: "Book")])
        #expect(document.title == "Book")
    }

    @Test(arguments: [
        ("2023-03-05 10:14:00+00:00", "2023-03-05T10:14:00"), ("2024-05-14T09:12:00Z", "2024-05-14T09:12:00"),
        ("2020-01-01", "2020-01-01"), ("March 5, 2023 at 10:14 AM", "2023-03-05T10:14:00"), ("soon", nil),
    ] as [(String, String?)])
    func highlightedAt(value: String, iso: String?) {
        #expect(ReadwiseCSV.addedAt(value) == iso)
    }

    @Test func oldMacLineEndsActionTagsMarkdownAndNoteLines() {
        let text = "Highlight,Book Title,Note,Tags\r"
            + "\"A **bold** passage with a [link](https://example.org/x) that is long enough.\",Book,\"First line\nsecond line\",\"focus, .h1\"\r"
            + "Another passage long enough to be kept as one insight here.,Book,,.c1\r"
        let document = ReadwiseCSV.parse(text, minWords: 6)
        #expect(document.insights.map(Expected.init) == [
            Expected("A bold passage with a link that is long enough.", line: 2, section: "Book", tags: ["focus"],
                     note: "First line\nsecond line"),
            Expected("Another passage long enough to be kept as one insight here.", line: 4, section: "Book"),
        ])
    }

    @Test func anUnclosedQuoteEndsTheRecordAtTheEndOfTheFile() {
        var records = CSVRecords("a,b\n\"open,\nstill open")
        #expect(records.next()?.fields == ["a", "b"])
        let last = records.next()
        #expect(last?.fields == ["open,\nstill open"])
        #expect(last?.line == 2)
        #expect(records.next() == nil)
    }
}
