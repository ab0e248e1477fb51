import Testing
@testable import InsightCore

@Suite("Splitting files into insights")
struct DocumentParserTests {
    let parser = DocumentParser(minWords: 6)

    @Test func fileWithoutBlankLinesHasOneInsightPerLine() {
        let text = """
            Cheap solar power changes where factories are built across the world.
            Remote work moved spending from city centres to the suburbs around them.
            Battery prices fell faster than almost every forecast made ten years ago.
            """
        let doc = parser.parse(text)
        #expect(doc.insights.map(\.line) == [1, 2, 3])
        #expect(doc.insights[1].text == "Remote work moved spending from city centres to the suburbs around them.")
        #expect(doc.insights.allSatisfy { $0.section == nil })
    }

    @Test func paragraphsAreSeparatedByBlankLinesAndJoined() {
        let text = "First line of a paragraph that goes on\nacross a second line of the same paragraph.\n\nA second paragraph that stands on its own line here.\n"
        let doc = parser.parse(text)
        #expect(doc.insights.count == 2)
        #expect(doc.insights[0].text == "First line of a paragraph that goes on across a second line of the same paragraph.")
        #expect(doc.insights[0].line == 1)
        #expect(doc.insights[1].line == 4)
    }

    @Test(arguments: [
        ("Related Insights", "Related Insights"),
        ("Economic and Strategic Impacts", "Economic and Strategic Impacts"),
        ("# Notes from the podcast", "Notes from the podcast"),
        ("## Second Level", "Second Level"),
        ("The US Response: Challenges and Opportunities", "The US Response: Challenges and Opportunities"),
    ])
    func headingsBecomeSectionsAndAreNeverInsights(heading: String, section: String) {
        let text = "\(heading)\n\nShipping containers cut the cost of trade more than any tariff cut did.\n"
        let doc = parser.parse(text)
        #expect(doc.insights.count == 1)
        #expect(doc.insights[0].section == section)
        #expect(!doc.insights.contains { $0.text.contains(heading) })
    }

    @Test func aLongSentenceWithoutClosingPunctuationIsNotAHeading() {
        let text = "the cheapest energy source in most countries is now new solar and wind power\n\nAnother paragraph that is clearly a full sentence of its own.\n"
        let doc = parser.parse(text)
        #expect(doc.insights.count == 2)
        #expect(doc.insights[1].section == nil)
    }

    @Test(arguments: [
        "date 2025-04-04 Open models shift value from software vendors to chip makers and clouds.",
        "date 2025-04-04\nOpen models shift value from software vendors to chip makers and clouds.",
        " Date: 2025-04-04 Open models shift value from software vendors to chip makers and clouds.",
    ])
    func leadingDateIsTheDocumentsDate(text: String) {
        let doc = parser.parse(text)
        #expect(doc.date == "2025-04-04")
        #expect(doc.insights.map(\.text) == ["Open models shift value from software vendors to chip makers and clouds."])
    }

    @Test func aDateLaterInTheTextIsLeftAlone() {
        let doc = parser.parse("Prices rose sharply in the quarter that ended in March.\n\ndate 2025-04-04 is not at the start of this file at all.\n")
        #expect(doc.date == nil)
        #expect(doc.insights.count == 2)
    }

    @Test(arguments: [
        "- Bulleted insights lose their bullet mark when stored.",
        "* Bulleted insights lose their bullet mark when stored.",
        "• Bulleted insights lose their bullet mark when stored.",
        "1. Bulleted insights lose their bullet mark when stored.",
        "12) Bulleted insights lose their bullet mark when stored.",
        "a) Bulleted insights lose their bullet mark when stored.",
    ])
    func bulletAndNumberMarksAreStripped(line: String) {
        #expect(parser.parse(line).insights.map(\.text) == ["Bulleted insights lose their bullet mark when stored."])
    }

    @Test func shortParagraphsAndLeadInsAreNotInsights() {
        let text = "For example:\n\nToo short to count.\n\nKey considerations for the team include:\n\nThis paragraph has enough words to be an insight of its own.\n"
        #expect(parser.parse(text).insights.map(\.text) == ["This paragraph has enough words to be an insight of its own."])
    }

    @Test func minWordsIsConfigurable() {
        #expect(DocumentParser(minWords: 3).parse("Three words here.").insights.count == 1)
        #expect(DocumentParser(minWords: 4).parse("Three words here.").insights.isEmpty)
    }

    @Test func windowsLineEndingsSplitLikeUnix() {
        let doc = parser.parse("One paragraph that is long enough to count.\r\n\r\nAnother paragraph that is long enough to count.\r\n")
        #expect(doc.insights.count == 2)
        #expect(doc.insights[1].line == 3)
    }
}
