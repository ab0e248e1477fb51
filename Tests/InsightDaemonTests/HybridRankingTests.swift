@testable import InsightDaemon
import Testing

@Suite("Hybrid search ranking")
struct HybridRankingTests {
    @Test func foundByBothRanksAboveFoundByEither() {
        let ranked = HybridRanking.fuse(words: [1, 2], meaning: [3, 2], hasVector: { _ in true }, limit: 10)
        #expect(ranked.map(\.id) == [2, 1, 3])
    }

    @Test func theOneWordMatchWithoutAVectorIsNotOutrankedByResemblance() {
        // Insight 7 holds the searched word but was stored a moment ago; 3 and 5 only resemble the query.
        let ranked = HybridRanking.fuse(words: [7], meaning: [3, 5], hasVector: { $0 != 7 }, limit: 10)
        #expect(ranked.map(\.id) == [7, 3, 5])
        #expect(ranked[0].score == 2.0 / 61)
    }

    @Test func aWordMatchWithAVectorIsRankedByBothListsAsBefore() {
        // With its vector, 7 earns its meaning vote only if meaning found it: a tie at the top goes to words.
        let ranked = HybridRanking.fuse(words: [7], meaning: [3, 5], hasVector: { _ in true }, limit: 10)
        #expect(ranked.map(\.id) == [7, 3, 5])
        #expect(ranked[0].score == ranked[1].score)
        let found = HybridRanking.fuse(words: [7, 9], meaning: [9, 3], hasVector: { _ in true }, limit: 2)
        #expect(found.map(\.id) == [9, 7])
    }

    @Test func theLimitCutsTheFusedList() {
        let ranked = HybridRanking.fuse(words: [1, 2, 3], meaning: [4, 5, 6], hasVector: { _ in true }, limit: 4)
        #expect(ranked.count == 4)
        #expect(ranked.map(\.id) == [1, 4, 2, 5])
    }
}
