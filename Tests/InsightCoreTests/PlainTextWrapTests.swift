import Foundation
import Testing
@testable import InsightCore

@Suite("Plain text: hard wraps, line ends and byte order marks")
struct PlainTextWrapTests {
    let parser = DocumentParser(minWords: 6)

    static let essay = [
        "In April 1956 a refitted tanker called the Ideal X sailed from Newark to Houston with fifty-eight aluminium boxes on its deck, and the cost of loading cargo fell from almost six dollars a ton to about sixteen cents within a few years of that first voyage.",
        "Cheaper loading mattered more than faster ships, because a cargo vessel of the time spent as many days tied up at the quay as it did at sea while dockers carried sacks and crates up and down the gangways by hand.",
        "Ports that refused to build cranes and container yards, from Manhattan to Liverpool, lost their trade within a decade to places such as Elizabeth and Felixstowe that had room for the stacks of boxes and the trucks that came to collect them.",
    ]

    @Test func hardWrappedEssayWithoutBlankLinesIsJoinedIntoParagraphs() throws {
        let raw = try FormatFixtures.text("wrapped-essay-72.txt")
        #expect(raw.contains("\r\n") && !raw.contains("\r\n\r\n"))
        #expect(DocumentParser.lines(raw).allSatisfy { $0.count <= 72 })
        let doc = parser.parse(raw)
        #expect(doc.format == .text)
        #expect(doc.insights.map(\.text) == Self.essay)
        #expect(doc.insights.map(\.line) == [2, 6, 9])
        // The title is still a heading: the first line of the essay would have fit after it.
        #expect(doc.insights.allSatisfy { $0.section == "The Box That Changed Trade" })
    }

    @Test func blankLineParagraphsWithWrappedLinesAndHeadings() throws {
        let doc = parser.parse(try FormatFixtures.text("wrapped-paragraphs.txt"))
        #expect(doc.insights.map(\.text) == [
            "Open models shift value from software vendors to the makers of chips and the owners of clouds, because the model itself becomes a commodity that anyone can run.",
            "A long-term view of energy prices favours solar panels and batteries over new gas plants in almost every market that has reliable sunshine.",
            "Remote work moved spending from city centres to the suburbs around them, and the shops and cafes followed the money within two years.",
        ])
        #expect(doc.insights.map(\.section) == ["Related Insights", "Related Insights", "Economic and Strategic Impacts"])
        #expect(doc.insights.map(\.line) == [3, 7, 15])
    }

    @Test func aListOfShortLinesStaysOneInsightPerLine() throws {
        let doc = parser.parse(try FormatFixtures.text("short-lines-list.txt"))
        #expect(doc.insights.map(\.text) == [
            "Cheap solar power changes where factories are built across the world.",
            "Remote work moved spending from city centres to the suburbs around them",
            "Battery prices fell faster than almost every forecast made ten years ago",
            "Small teams ship faster because they spend less time coordinating work.",
            "Most meetings could be replaced by a short written update and a deadline",
            "Interest rates shape startup funding more than any single technology trend",
            "Open models shift value from software vendors to chip makers and clouds.",
            "Writing things down is the cheapest way to find out what you actually think",
        ])
        #expect(doc.insights.map(\.line) == Array(2...9))
        #expect(doc.insights.allSatisfy { $0.section == "Related Insights" })
    }

    @Test func aListOfLinksIsNeverJoinedIntoProse() {
        // One token a line, each "starting lower-case": nothing a wrapper would have broken. Joined, eight URLs
        // would pass as an eight-word insight.
        let urls = (1...8).map { "http://127.0.0.1:8080/a\($0)" }
        #expect(parser.parse(urls.joined(separator: "\n") + "\n").insights.isEmpty)
        #expect(parser.parse(urls.joined(separator: "\r\n")).insights.isEmpty)
    }

    @Test func fullWidthListLinesStartingUpperCaseAreNotJoined() {
        // Every line nearly fills a common width and lacks a full stop, but no line break falls before a
        // lower-case word: these are list items, not wrapped prose.
        let lines = [
            "Interest rates shape startup funding more than any single technology trend",
            "Battery prices fell faster than almost every forecast made a decade ago",
            "Most meetings could be replaced by a short written update and a deadline",
            "Writing things down is the cheapest way to find out what you really think",
        ]
        let doc = parser.parse(lines.joined(separator: "\n"))
        #expect(doc.insights.map(\.text) == lines)
    }

    @Test func aByteOrderMarkIsNotPartOfTheFirstHeadingOrInsight() throws {
        let raw = try FormatFixtures.text("bom.txt")
        #expect(raw.unicodeScalars.first == "\u{FEFF}")
        let doc = parser.parse(raw)
        #expect(doc.insights.map(\.text) == [
            "Open models shift value from software vendors to chip makers and clouds.",
            "Battery prices fell faster than almost every forecast made ten years ago.",
        ])
        #expect(doc.insights.map(\.section) == ["Notes from the podcast", "Notes from the podcast"])
    }

    @Test(arguments: [
        ("\n\n\u{FEFF}Open models shift value from software vendors to chip makers and clouds.\n", nil),
        ("  \u{FEFF}Open models shift value from software vendors to chip makers and clouds.", nil),
        ("\u{FEFF}\nOpen models shift value from software vendors to chip makers and clouds.\n", nil),
        ("\u{FEFF}\r\n\r\nOpen models shift value from software vendors to chip makers and clouds.\r\n", nil),
        ("\n\u{FEFF}Podcast Notes\n\nOpen models shift value from software vendors to chip makers and clouds.\n", "Podcast Notes"),
        ("\u{FEFF}date 2025-04-04\nOpen models shift value from software vendors to chip makers and clouds.", nil),
    ] as [(String, String?)])
    func byteOrderMarkAfterBlankLinesOrWhitespace(text: String, section: String?) {
        let doc = parser.parse(text)
        #expect(doc.insights.map(\.text) == ["Open models shift value from software vendors to chip makers and clouds."])
        #expect(doc.insights.map(\.section) == [section])
    }

    @Test func carriageReturnOnlyFileIsSplitIntoLines() throws {
        let raw = try FormatFixtures.text("cr-only.txt")
        #expect(raw.contains("\r") && !raw.contains("\n"))
        let doc = parser.parse(raw)
        #expect(doc.insights.map(\.text) == [
            "Cheap solar power changes where factories are built, because an energy-hungry plant can now sit next to its customers instead of next to a coal mine or a river dam.",
            "Remote work moved spending from city centres to the suburbs; the sandwich shops followed their customers out of town.",
        ])
        #expect(doc.insights.map(\.line) == [1, 4])
    }

    @Test(arguments: ["\n", "\r\n", "\r"])
    func lineEndsDoNotChangeTheResult(end: String) {
        let lines = [
            "Shipping containers cut the cost of trade more than",
            "any tariff cut did in the decades after the war.",
            "Remote work moved spending from city centres to the suburbs.",
        ]
        let doc = parser.parse(lines.joined(separator: end) + end)
        #expect(doc.insights.map(\.text) == [
            "Shipping containers cut the cost of trade more than any tariff cut did in the decades after the war.",
            "Remote work moved spending from city centres to the suburbs.",
        ])
        #expect(doc.insights.map(\.line) == [1, 3])
    }

    @Test func theFirstShortLineOfWrappedProseIsNotAHeading() {
        let text = "Cheap solar\npower changes where factories are built across the world.\nBattery prices fell faster than almost every forecast made ten years ago.\n"
        let doc = parser.parse(text)
        #expect(doc.insights.map(\.text) == [
            "Cheap solar power changes where factories are built across the world.",
            "Battery prices fell faster than almost every forecast made ten years ago.",
        ])
        #expect(doc.insights.map(\.section) == [nil, nil])
        #expect(doc.insights.map(\.line) == [1, 3])
    }

    @Test(arguments: [
        // A full stop ends the line's sentence even when the next line starts in lower case.
        ["Use version control for every project you ever start.", "git makes branching cheap enough to try every idea."],
        // So does punctuation inside closing quotes.
        ["She wrote that \u{201C}the best code is no code at all.\u{201D}", "most readers took the line as a joke about managers."],
        ["Which of these trade routes will matter in ten years?)", "nobody at the conference was willing to guess at all."],
        // A Markdown heading is never continued.
        ["# notes from the second episode", "the guest argued that open models cut prices for everyone."],
    ])
    func linesEndingASentenceAreNotJoined(lines: [String]) {
        let doc = parser.parse(lines.joined(separator: "\n"))
        #expect(!doc.insights.contains { $0.text.contains(lines[0]) && $0.text.contains(lines[1]) })
        #expect(doc.insights.last?.text == lines[1])
    }

    @Test func aClosingBracketWithoutPunctuationDoesNotEndTheSentence() {
        let doc = parser.parse("Container ships (the largest carry twenty thousand boxes)\nsail with crews of about two dozen people on board.")
        #expect(doc.insights.map(\.text) == ["Container ships (the largest carry twenty thousand boxes) sail with crews of about two dozen people on board."])
    }

    @Test func aWrappedBulletIsOneInsightAndTheNextBulletStartsAnother() {
        let text = "- Small teams ship faster because they spend\n  less time coordinating their work.\n- another item that is long enough to count.\n"
        #expect(parser.parse(text).insights.map(\.text) == [
            "Small teams ship faster because they spend less time coordinating their work.",
            "another item that is long enough to count.",
        ])
    }

    @Test func aDashStandingAloneAtTheLineEndKeepsItsSpace() {
        let doc = parser.parse("Prices rose for three years -\nand then fell faster than anyone expected.")
        #expect(doc.insights.map(\.text) == ["Prices rose for three years - and then fell faster than anyone expected."])
    }

    @Test func aMarkdownHeadingInAWrappedFileStaysASection() {
        let doc = parser.parse("# Notes\nthe guest argued that open models cut prices\nfor everyone who builds on them.")
        #expect(doc.insights.map(\.text) == ["the guest argued that open models cut prices for everyone who builds on them."])
        #expect(doc.insights.map(\.section) == ["Notes"])
    }
}
