import Foundation
import InsightCore
import InsightStoreCore
import Testing
@testable import InsightStore

#if canImport(Glibc)
import Glibc
#endif

/// SQLite writes on into a database file that was deleted or moved away; the store must refuse such a commit.
@Suite("A database whose path no longer names the open file takes no writes")
struct VanishedDatabaseTests {
    let a = "Open models shift value from software vendors to chip makers."
    let b = "Remote work moved spending from city centres to the suburbs."
    let c = "Battery prices fell faster than almost every forecast predicted."

    @Test func aFolderMovedAwayRefusesWritesUntilItIsBack() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a]))
        let away = temp.folder + "-away"
        #expect(rename(temp.folder, away) == 0)
        defer { rename(away, temp.folder) }
        #expect(throws: StoreError.self) { try temp.database.ingest(file("two.txt", [b])) }
        do {
            _ = try temp.database.ingestBatch([file("two.txt", [b])])
            Issue.record("a batch was committed into a moved file")
        } catch {
            #expect(error.code == .unwritable && error.isTransient, "\(error)")
            #expect(error.message.contains("was deleted, moved or unmounted while insightd had it open"), "\(error.message)")
        }
        // Rolled back, not written to the moved file.
        #expect(try temp.database.source(path: "two.txt") == nil)
        #expect(rename(away, temp.folder) == 0)
        _ = try temp.database.ingest(file("two.txt", [b]))
        #expect(try temp.database.counts().uniqueInsights == 2)
        #expect(try temp.database.integrityCheck() == "ok")
    }

    @Test func aDeletedFileIsNotWrittenIntoEvenWhenAnotherAppearsAtItsPath() throws {
        let temp = try TemporaryDatabase()
        _ = try temp.database.ingest(file("one.txt", [a]))
        try FileManager.default.removeItem(atPath: temp.folder)
        do {
            try temp.database.recordProblem(path: "x.png", state: .skipped, reason: "not text")
            Issue.record("a write was committed into a deleted file")
        } catch {
            #expect(error.code == .unwritable, "\(error)")
        }
        #expect(FileManager.default.fileExists(atPath: temp.folder) == false, "no folder or database is made again by a write")

        // Another database at the same path is not the one that is open.
        try FileManager.default.createDirectory(atPath: temp.folder, withIntermediateDirectories: true)
        let other = try InsightDatabase(path: temp.folder + "/insights.sqlite")
        do {
            _ = try temp.database.ingest(file("three.txt", [c]))
            Issue.record("a write was committed into a file replaced at its path")
        } catch {
            #expect(error.code == .unwritable, "\(error)")
            #expect(error.message.contains("was replaced by another file"), "\(error.message)")
        }
        #expect(try other.counts().uniqueInsights == 0)
        try other.close()
    }
}
