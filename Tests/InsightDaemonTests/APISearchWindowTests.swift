import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

@Suite("search ranks among the newest matches only when a query matches very many insights")
struct APISearchWindowTests {
    @Test func aCommonWordIsRankedAmongTheNewestMatchesAndARareOneExactly() throws {
        let folder = "/tmp/insightd-window-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let database = try InsightDatabase(path: folder + "/insights.sqlite", nearDuplicates: nil)
        // 120 insights with "common"; the oldest one mentions it three times, so exact BM25 ranks it first.
        var insights = [PreparedInsight(ParsedInsight(text: "Common common common words fill the very first insight stored here.", line: 1, section: nil))]
        for index in 1..<120 {
            let rare = index == 7 ? " and one rare zebra" : ""
            insights.append(PreparedInsight(ParsedInsight(text: "A common remark number \(index) about weather patterns\(rare).", line: index * 2 + 1, section: nil)))
        }
        _ = try database.ingest(FileIngest(path: "many.txt", size: 1, mtime: 1, sha256: "x", encoding: "utf-8", documentDate: nil, insights: insights))

        let exact = try database.search("common", limit: 5, rankingWindow: 1000)
        #expect(exact.rankedAmongNewest == nil)
        #expect(exact.results.first?.text.hasPrefix("Common common common") == true)

        let windowed = try database.search("common", limit: 5, rankingWindow: 50)
        #expect(windowed.rankedAmongNewest == 50)
        #expect(windowed.results.count == 5)
        let newestIDs = try database.search("common", limit: 120, rankingWindow: 1000).results.map(\.id).sorted().suffix(50)
        #expect(windowed.results.allSatisfy { newestIDs.contains($0.id) })
        #expect(windowed.results.map(\.score) == windowed.results.map(\.score).sorted(by: >))

        let rare = try database.search("zebra", limit: 5, rankingWindow: 50)
        #expect(rare.rankedAmongNewest == nil)
        #expect(rare.results.count == 1)
        // With a filter every match is ranked: the window applies to unfiltered queries only.
        let filtered = try database.search("common", limit: 5, source: "many", rankingWindow: 50)
        #expect(filtered.rankedAmongNewest == nil)
        #expect(filtered.results.first?.text.hasPrefix("Common common common") == true)
        try database.close()
    }
}

@Suite("search snippets")
struct APISearchSnippetTests {
    @Test(arguments: [
        ("Container shipping cut the cost of moving goods.", "shipping", "Container [shipping] cut the cost of moving goods."),
        ("Café owners say the CAFÉ trade is slow.", "cafe", "[Café] owners say the [CAFÉ] trade is slow."),
        ("Open research spreads faster than closed research.", "open res", "[Open] [research] spreads faster than closed [research]."),
        ("One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty target end.",
         "target", "…seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty [target] end."),
    ])
    func matchesAreMarkedLikeTheIndexMatchesThem(text: String, query: String, expected: String) {
        #expect(InsightDatabase.snippet(text, query: query) == expected)
    }
}
