import Foundation
import InsightCore
import InsightStoreCore
import Testing
@testable import InsightStore

@Suite("Variants and conflicts in the store")
struct NearDuplicateStoreTests {
    let claim = "The stock market lost $1 trillion in value after the open model was released in January."

    @Test func anotherWordingIsStoredAsAVariantWithItsOwnSources() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("first.txt", [claim]))
        // A typo and a repeated small word: the same claim.
        let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."
        #expect(try temp.database.ingest(file("second.txt", [typo])) == .stored(newInsights: 0, occurrences: 1, variants: 1))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 1)
        #expect(counts.variants == 1)
        #expect(counts.occurrences == 2)
        let record = try #require(try temp.database.exportPage(afterID: 0, limit: 10).first)
        #expect(record.text == claim)
        #expect(record.sources.map(\.path) == ["first.txt", "second.txt"])
        #expect(record.variants == [VariantRef(text: typo, sources: [SourceRef(path: "second.txt", line: 1, section: nil, date: nil, format: "text")])])
        // The same wording again maps to the same variant.
        _ = try temp.database.ingest(file("third.txt", [typo]))
        #expect(try temp.database.counts().variants == 1)
    }

    @Test(arguments: [
        "The stock market lost $3 trillion in value after the open model was released in January.",
        "The stock market did not lose $1 trillion in value after the open model was released in January.",
        "The bond market lost $1 trillion in value after the open model was released in January.",
    ])
    func aDifferentClaimIsANewInsightLinkedAsAConflict(other: String) throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("first.txt", [claim]))
        #expect(try temp.database.ingest(file("second.txt", [other])) == .stored(newInsights: 1, occurrences: 1, conflicts: 1))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.variants == 0)
        #expect(counts.conflicts == 1)
        let records = try temp.database.exportPage(afterID: 0, limit: 10)
        #expect(records[0].conflicts == [records[1].id])
        #expect(records[1].conflicts == [records[0].id])
    }

    @Test func theIndexIsRebuiltFromTheDatabaseAfterAReopen() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("first.txt", [claim]))
        try temp.database.close()
        let reopened = try InsightDatabase(path: temp.folder + "/insights.sqlite")
        let variant = "the stock market lost $1 trillion in value after the open model was released in january"
        _ = try reopened.ingest(file("second.txt", [variant.replacingOccurrences(of: "released", with: "relased")]))
        #expect(try reopened.counts().variants == 1)
        #expect(try reopened.counts().uniqueInsights == 1)
    }

    @Test func aRolledBackFileLeavesNoTraceInTheIndex() throws {
        let temp = try TemporaryDatabase()
        var broken = file("broken.txt", [claim])
        broken.insights.append(PreparedInsight(ParsedInsight(text: "", line: 2, section: nil)))
        #expect(throws: StoreError.self) { try temp.database.ingest(broken) }
        // Had the index kept the rolled-back insight, this wording would be taken as its variant and lost.
        _ = try temp.database.ingest(file("good.txt", [claim.replacingOccurrences(of: "lost", with: "lsot")]))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 1)
        #expect(counts.variants == 0)
    }

    @Test func turnedOffOnlyExactDuplicatesMerge() throws {
        let folder = NSTemporaryDirectory() + "insightd-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let database = try InsightDatabase(path: folder + "/insights.sqlite", nearDuplicates: nil)
        _ = try database.ingest(file("first.txt", [claim]))
        _ = try database.ingest(file("second.txt", [claim.replacingOccurrences(of: "lost", with: "lsot")]))
        #expect(try database.counts().uniqueInsights == 2)
    }
}
