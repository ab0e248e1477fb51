import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

/// A query is folded the way keys are, so what was stored is found as it was typed, in both stores.
struct SearchNormalizationTests {
    @Test(arguments: StoreKind.allCases)
    func fullWidthCurlyAndCasedQueriesFindStoredText(kind: StoreKind) throws {
        let subject = try StoreUnderTest(kind)
        let text = "Open models don't stay ahead for long once rivals can copy the weights."
        _ = try subject.store.ingestOne(FileIngest(path: "a.txt", size: 1, mtime: 1, sha256: "a", encoding: "utf-8", documentDate: nil,
                                                   insights: [PreparedInsight(ParsedInsight(text: text, line: 1, section: nil))]))
        // Full-width letters (as an East Asian input method types them), a curly apostrophe, capitals.
        for query in ["ｏｐｅｎ ｍｏｄｅｌｓ", "don’t stay", "OPEN Models", "ＷＥＩＧＨＴＳ"] {
            let found = try subject.store.search(query, limit: 10).results.map(\.text)
            #expect(found == [text], "\(query)")
        }
        #expect(try subject.store.search("ｃｌｏｓｅｄ", limit: 10).results.isEmpty)
    }
}
