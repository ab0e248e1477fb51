import Foundation
import GRDB
import InsightCore
import InsightStoreCore
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

/// An SQLite file as a daemon of an older version left it: migrated up to `migration`, with `rows` inserted; its
/// folder is removed with it.
final class OldSQLiteFile {
    let folder: String
    var path: String { folder + "/insights.sqlite" }

    init(migratedUpTo migration: String, rows: String) throws {
        folder = NSTemporaryDirectory() + "insightd-old-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let old = try DatabaseQueue(path: folder + "/insights.sqlite")
        try Migrations.migrator.migrate(old, upTo: migration)
        try old.write { try $0.execute(sql: rows) }
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }
}

func file(_ path: String, _ paragraphs: [String], sha: String? = nil, date: String? = nil) -> FileIngest {
    let insights = paragraphs.enumerated().map { index, text in
        PreparedInsight(ParsedInsight(text: text, line: index + 1, section: index == 0 ? nil : "Section"))
    }
    let content = paragraphs.joined(separator: "\n")
    return FileIngest(path: path, size: Int64(content.utf8.count), mtime: 1, sha256: sha ?? Hashing.sha256Hex(Array(content.utf8)),
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

@Suite("Formats, tags and reading notes in the SQLite file")
struct ReadingNotesSQLiteTests {
    let short = "Nothing in life is as important as you think it is."
    let long = "Nothing in life is as important as you think it is, while you are thinking about it, the psychologist wrote in a book about the two systems that drive the way we think."

    @Test func aDatabaseFromBeforeFormatsIsMigratedAndItsFilesReadAsText() throws {
        let old = try OldSQLiteFile(migratedUpTo: "v3: near-duplicate variants, conflicts and LSH band keys", rows: """
            INSERT INTO source (id, path, sha256, state, insightCount, firstSeenAt, updatedAt, ingestedAt) VALUES (1, 'old.txt', 'x', 'ingested', 1, 1, 1, 1);
            INSERT INTO source (id, path, state, error, insightCount, firstSeenAt, updatedAt) VALUES (2, 'bad.bin', 'skipped', 'a binary file', 0, 1, 1);
            INSERT INTO insight (id, fingerprint, text, createdAt) VALUES (1, x'00112233445566778899aabbccddeeff', 'An insight stored by an older insightd.', 1);
            INSERT INTO occurrence (insightId, sourceId, ordinal, line, section) VALUES (1, 1, 0, 3, 'Notes');
            """)
        let database = try InsightDatabase(path: old.path)
        #expect(try database.sources().map { "\($0.path)=\($0.format ?? "-")" } == ["bad.bin=-", "old.txt=text"])
        let detail = try #require(try database.insight(id: 1))
        #expect(detail.sources == [SourceRef(path: "old.txt", line: 3, section: "Notes", date: nil, format: "text")])
        #expect(detail.tags.isEmpty)
        #expect(try database.tags().isEmpty)
        #expect(try database.integrityCheck() == "ok")
    }

    @Test func aDatabaseFromBeforeKeepsItsInsightsAndNeverReusesAnIdOnceMigrated() throws {
        let old = try OldSQLiteFile(migratedUpTo: "v7: full-text index of other wordings", rows: """
            INSERT INTO source (id, path, sha256, state, insightCount, firstSeenAt, updatedAt, ingestedAt) VALUES (1, 'old.txt', 'x', 'ingested', 2, 1, 1, 1);
            INSERT INTO insight (id, fingerprint, text, createdAt) VALUES
                (1, x'00112233445566778899aabbccddeeff', 'The first insight stored by an older insightd.', 1),
                (3, x'ffeeddccbbaa99887766554433221100', 'The third insight stored by an older insightd.', 1);
            INSERT INTO occurrence (insightId, sourceId, ordinal, line) VALUES (1, 1, 0, 1), (3, 1, 1, 2);
            """)
        let database = try InsightDatabase(path: old.path)
        // The insights, their full-text entries and the counters came through the rebuild.
        #expect(try database.search("third", limit: 5).results.map(\.id) == [3])
        let (kept, counted) = try database.countsWithFullCount()
        #expect(kept == counted, "\(kept.differences(from: counted))")
        #expect(kept.uniqueInsights == 2)
        #expect(try database.forget(id: 3) == 1)
        _ = try database.ingest(file("new.txt", ["A new insight stored after the newest one was forgotten."]))
        #expect(try database.search("forgotten", limit: 5).results.map(\.id) == [4])
        #expect(try database.search("older", limit: 5).results.map(\.id) == [1])
        // The triggers came back: counters and full-text entries follow the writes made after the rebuild.
        let after = try database.countsWithFullCount()
        #expect(after.kept == after.counted, "\(after.kept.differences(from: after.counted))")
        #expect(try database.search("third", limit: 5).results.isEmpty)
        #expect(try database.integrityCheck() == "ok")
    }

    @Test func occurrencesKeepTheirOrdinalsWhenTheLongerPassageIsPlacedFirst() throws {
        let temp = try TemporaryDatabase()
        let insights = [ParsedInsight(text: short, line: 1, section: nil, tags: ["a", "b", "a"], variantOf: 1), ParsedInsight(text: long, line: 5, section: nil)]
        _ = try temp.database.ingest(richFile("clips.txt", insights))
        let rows = try temp.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT ordinal, line, variantId IS NOT NULL FROM occurrence ORDER BY ordinal").map { "\($0[0] as Int):\($0[1] as Int):\($0[2] as Bool)" }
        }
        #expect(rows == ["0:1:true", "1:5:false"])
        let tagRows = try temp.database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM occurrenceTag") }
        #expect(tagRows == 2)
        // The passages' occurrences share the longer passage's insight, which is the only one.
        let insightIDs = try temp.database.pool.read { db in try Int64.fetchAll(db, sql: "SELECT DISTINCT insightId FROM occurrence") }
        #expect(insightIDs.count == 1)
        #expect(try temp.database.integrityCheck() == "ok")
    }
}

@Suite("Status counters kept by triggers in the SQLite file")
struct StatusCountersSQLiteTests {
    @Test func aDatabaseFromBeforeTheCountersIsCountedWhenMigratedAndKeptAfter() throws {
        let old = try OldSQLiteFile(migratedUpTo: "v4: formats, tags and reading notes", rows: """
            INSERT INTO source (id, path, sha256, state, insightCount, firstSeenAt, updatedAt, ingestedAt) VALUES
                (1, 'a.txt', 'x', 'ingested', 2, 1, 1, 1), (2, 'b.txt', 'y', 'ingested', 1, 1, 1, 5);
            INSERT INTO source (id, path, state, error, firstSeenAt, updatedAt) VALUES
                (3, 'c.bin', 'skipped', 'a binary file', 1, 1), (4, 'd.txt', 'failed', 'permission denied', 1, 2),
                (5, 'e.txt', 'removed', NULL, 1, 1);
            INSERT INTO source (id, path, kind, sha256, state, firstSeenAt, updatedAt, ingestedAt) VALUES
                (6, 'https://example.org/a', 'url', 'z', 'ingested', 1, 1, 9);
            INSERT INTO insight (id, fingerprint, text, createdAt) VALUES
                (1, randomblob(16), 'The first insight.', 1), (2, randomblob(16), 'The second insight.', 1),
                (3, randomblob(16), 'The third insight.', 1);
            INSERT INTO variant (id, insightId, fingerprint, text, createdAt) VALUES (1, 1, randomblob(16), 'The first insight!', 1);
            INSERT INTO occurrence (insightId, sourceId, ordinal, line, variantId) VALUES
                (1, 1, 0, 1, NULL), (1, 1, 1, 2, 1), (2, 2, 0, 1, NULL), (3, 6, 0, 1, NULL);
            INSERT INTO conflict (insightId, otherId, kind, createdAt) VALUES (1, 2, 'number', 1);
            INSERT INTO link (id, canonicalURL, givenURL, state, createdAt, updatedAt) VALUES
                (1, 'https://example.org/a', 'https://example.org/a', 'fetched', 1, 1),
                (2, 'https://example.org/b', 'https://example.org/b', 'queued', 1, 1);
            INSERT INTO link (id, canonicalURL, givenURL, state, failure, error, createdAt, updatedAt) VALUES
                (3, 'https://example.org/c', 'https://example.org/c', 'failed', 'permanent', 'HTTP 404', 1, 1);
            """)
        let database = try InsightDatabase(path: old.path)
        let (kept, counted) = try database.countsWithFullCount()
        #expect(kept == counted, "\(kept.differences(from: counted))")
        #expect(kept.sourcesByState == [.ingested: 2, .skipped: 1, .failed: 1, .removed: 1])
        #expect(kept.linksByState == [.queued: 1, .fetched: 1, .failed: 1])
        #expect(kept.uniqueInsights == 3)
        #expect(kept.occurrences == 4)
        #expect(kept.variants == 1)
        #expect(kept.conflicts == 1)
        // The fetched article's later ingest is not an inbox file's.
        #expect(kept.lastIngestAt == 5)
        #expect(kept.lastError?.path == "d.txt")

        // New content for b.txt orphans the second insight, and its conflict goes with it.
        _ = try database.ingest(file("b.txt", ["Something else entirely, said in other words than any before."]))
        try database.markRemoved(path: "a.txt")
        _ = try database.claimDueLinks(limit: 5)
        let after = try database.countsWithFullCount()
        #expect(after.kept == after.counted, "\(after.kept.differences(from: after.counted))")
        #expect(after.kept.sourcesByState == [.ingested: 1, .skipped: 1, .failed: 1, .removed: 2])
        #expect(after.kept.linksByState == [.fetching: 1, .fetched: 1, .failed: 1])
        #expect(after.kept.uniqueInsights == 3)
        #expect(after.kept.conflicts == 0)
        #expect(try database.integrityCheck() == "ok")
    }

    @Test func aCounterThatDriftedIsReportedAgainstTheFullCount() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", ["Open models shift value from software vendors to chip makers."]))
        try temp.database.pool.write { db in try db.execute(sql: "UPDATE stats SET value = value + 2 WHERE key = 'occurrence'") }
        let (kept, counted) = try temp.database.countsWithFullCount()
        #expect(kept.differences(from: counted) == [.init(counter: "insights.occurrences", kept: 3, counted: 1)])
        #expect(try temp.database.counts().occurrences == 3)
    }
}
