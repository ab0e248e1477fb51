import Foundation
import GRDB
import InsightCore
import Testing
@testable import InsightStore

/// A fresh database file in a temporary folder, removed afterwards.
final class TemporaryDatabase {
    let folder: String
    let database: InsightDatabase

    init() throws {
        folder = NSTemporaryDirectory() + "insightd-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        database = try InsightDatabase(path: folder + "/insights.sqlite")
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}

func file(_ path: String, _ paragraphs: [String], sha: String? = nil, date: String? = nil) -> FileIngest {
    let insights = paragraphs.enumerated().map { index, text in
        PreparedInsight(ParsedInsight(text: text, line: index + 1, section: index == 0 ? nil : "Section"))
    }
    let content = paragraphs.joined(separator: "\n")
    return FileIngest(path: path, size: Int64(content.utf8.count), mtime: 1, sha256: sha ?? SHA256.hex(Array(content.utf8)),
                      encoding: "utf-8", documentDate: date, insights: insights)
}

@Suite("The ingest transaction")
struct InsightDatabaseTests {
    let a = "Open models shift value from software vendors to chip makers."
    let b = "Remote work moved spending from city centres to the suburbs."
    let c = "Battery prices fell faster than almost every forecast predicted."

    @Test func storesInsightsSourcesAndOccurrences() throws {
        let temp = try TemporaryDatabase()
        let outcome = try temp.database.ingest(file("one.txt", [a, b, a.uppercased()]))
        #expect(outcome == .stored(newInsights: 2, occurrences: 3))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.occurrences == 3)
        #expect(counts.sourcesByState[.ingested] == 1)
        #expect(try temp.database.integrityCheck() == "ok")
    }

    @Test func theSameContentAgainAddsNothing() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a, b]))
        #expect(try temp.database.ingest(file("one.txt", [a, b])) == .unchanged)
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.occurrences == 2)
    }

    @Test func theSameContentUnderAnotherNameAddsASourceNotInsights() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a, b]))
        #expect(try temp.database.ingest(file("copy.txt", [a, b])) == .stored(newInsights: 0, occurrences: 2))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.occurrences == 4)
        #expect(counts.sourcesByState[.ingested] == 2)
        let exported = try temp.database.exportPage(afterID: 0, limit: 10)
        #expect(exported.map { $0.sources.map(\.path) } == [["copy.txt", "one.txt"], ["copy.txt", "one.txt"]])
    }

    @Test func changedContentReplacesOccurrencesAndDropsOrphans() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a, b]))
        _ = try temp.database.ingest(file("two.txt", [b]))
        #expect(try temp.database.ingest(file("one.txt", [c, b])) == .stored(newInsights: 1, occurrences: 2))
        let texts = try temp.database.exportPage(afterID: 0, limit: 10).map(\.text)
        #expect(Set(texts) == [b, c])  // a was only in the old one.txt
        #expect(try temp.database.counts().occurrences == 3)
    }

    @Test func aFileIsStoredWholeOrNotAtAll() throws {
        let temp = try TemporaryDatabase()
        var broken = file("broken.txt", [a, b])
        // An empty text violates the table's CHECK constraint half-way through the file.
        broken.insights.append(PreparedInsight(ParsedInsight(text: "", line: 9, section: nil)))
        #expect(throws: StoreError.self) { try temp.database.ingest(broken) }
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 0)
        #expect(counts.occurrences == 0)
        #expect(counts.sourcesByState.isEmpty)
    }

    @Test func problemsAreRecordedWithTheirReason() throws {
        let temp = try TemporaryDatabase()
        try temp.database.recordProblem(path: "image.png", state: .skipped, reason: "a .png file; insightd ingests .txt and .md files")
        try temp.database.recordProblem(path: "locked.txt", state: .failed, reason: "permission denied", size: 10)
        let counts = try temp.database.counts()
        #expect(counts.sourcesByState[.skipped] == 1)
        #expect(counts.sourcesByState[.failed] == 1)
        #expect(counts.lastError?.path == "locked.txt")
        #expect(try temp.database.source(path: "image.png")?.error == "a .png file; insightd ingests .txt and .md files")
    }

    @Test func aFailedRowNeedsAReason() throws {
        let temp = try TemporaryDatabase()
        // The schema itself refuses a failure without an explanation.
        #expect(throws: (any Error).self) {
            try temp.database.pool.write { db in
                try db.execute(sql: "INSERT INTO source (path, state, firstSeenAt, updatedAt) VALUES ('x', 'failed', 0, 0)")
            }
        }
    }

    @Test func removedSourcesKeepTheirInsights() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a]))
        try temp.database.markRemoved(path: "one.txt")
        let counts = try temp.database.counts()
        #expect(counts.sourcesByState[.removed] == 1)
        #expect(counts.uniqueInsights == 1)
        #expect(try temp.database.activeSourcePaths().isEmpty)
    }

    @Test func searchFindsWordsAndPrefixesAndIgnoresSyntax() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a, b, c]))
        #expect(try temp.database.search("battery forecast", limit: 10).map(\.text) == [c])
        #expect(try temp.database.search("subur", limit: 10).map(\.text) == [b])
        #expect(try temp.database.search("\"unbalanced AND (", limit: 10).isEmpty)
        #expect(try temp.database.search("NEAR(", limit: 10).isEmpty)
        #expect(try temp.database.search("software", limit: 10).first?.snippet.contains("[software]") == true)
    }

    @Test func exportPagesCoverEveryInsightOnce() throws {
        let temp = try TemporaryDatabase()
        let texts = (0..<1234).map { "Insight number \($0) says something different from the others." }
        _ = try temp.database.ingest(file("many.txt", texts))
        var seen: [Int64] = []
        var after: Int64 = 0
        while true {
            let page = try temp.database.exportPage(afterID: after, limit: 100)
            guard let last = page.last else { break }
            seen += page.map(\.id)
            after = last.id
        }
        #expect(seen.count == 1234)
        #expect(Set(seen).count == 1234)
    }

    @Test func reopeningKeepsEverything() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a, b], date: "2025-04-04"))
        try temp.database.close()
        let reopened = try InsightDatabase(path: temp.folder + "/insights.sqlite")
        #expect(try reopened.counts().uniqueInsights == 2)
        #expect(try reopened.source(path: "one.txt")?.documentDate == "2025-04-04")
    }
}

@Suite("Several files in one transaction")
struct IngestBatchTests {
    @Test func aBadFileInABatchIsRolledBackAloneAndTheOthersAreStored() throws {
        let temp = try TemporaryDatabase()
        let good1 = file("good1.txt", ["Open models shift value from software vendors to chip makers."])
        var bad = file("bad.txt", ["Remote work moved spending from city centres to the suburbs."])
        bad.insights.append(PreparedInsight(ParsedInsight(text: "", line: 2, section: nil)))
        let good2 = file("good2.txt", ["Battery prices fell faster than almost every forecast predicted."])
        let results = try temp.database.ingestBatch([good1, bad, good2])
        #expect(results.count == 3)
        #expect((try? results[0].get()) == .stored(newInsights: 1, occurrences: 1))
        #expect((try? results[1].get()) == nil)
        #expect((try? results[2].get()) == .stored(newInsights: 1, occurrences: 1))
        let counts = try temp.database.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.sourcesByState[.ingested] == 2)
        #expect(try temp.database.source(path: "bad.txt") == nil)
        // The rolled-back insight left nothing in the near-duplicate index.
        let keys = try NearDuplicateIndex.bandKeys(
            for: NearDuplicateDetector.signature(of: "Remote work moved spending from city centres to the suburbs."), layout: .standard)
        let candidates = temp.database.nearDuplicates?.detector.withLock { $0.index.candidates(forBandKeys: keys) }
        #expect(candidates?.isEmpty == true)
    }
}
