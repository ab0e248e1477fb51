import Foundation
import GRDB
import InsightCore
import InsightStoreCore
import Synchronization

/// The in-memory LSH index over stored insights, shared by every writer.
///
/// Writers are serialized by the database, and every use happens inside a write transaction, so the index
/// always reflects committed rows plus the current transaction's; a rolled-back transaction's insertions are
/// taken out again.
final class NearDuplicateState: Sendable {
    let detector: Mutex<NearDuplicateDetector>
    let layout: LSHLayout
    /// Index insertions of the open transaction, undone if it (or a file's savepoint) rolls back.
    private let journal = Mutex<(entries: [(id: Int64, bandKeys: [UInt32])], hooked: Bool)>(([], false))

    init(thresholds: NearDuplicateThresholds, expectedCount: Int) {
        layout = .standard
        detector = Mutex(NearDuplicateDetector(thresholds: thresholds, layout: .standard, expectedCount: expectedCount))
    }

    static func encode(_ keys: [UInt32]) -> Data {
        var data = Data(capacity: keys.count * 4)
        for key in keys { withUnsafeBytes(of: key.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decode(_ data: Data) -> [UInt32] {
        stride(from: 0, to: data.count - 3, by: 4).map { offset in
            data.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        }
    }

    /// Loads every stored signature, computing the missing ones (insights stored before near-duplicate detection).
    func load(_ pool: DatabasePool) throws {
        try pool.write { db in
            let missing = try Row.fetchAll(db, sql: """
                SELECT i.id, i.text FROM insight i LEFT JOIN insightSignature s ON s.insightId = i.id WHERE s.insightId IS NULL
                """)
            for row in missing {
                let text: String = row[1]
                let keys = NearDuplicateText.isComparable(text)
                    ? try NearDuplicateIndex.bandKeys(for: NearDuplicateDetector.signature(of: text), layout: layout) : []
                try db.execute(sql: "INSERT INTO insightSignature (insightId, bandKeys) VALUES (?, ?)", arguments: [row[0] as Int64, Self.encode(keys)])
            }
        }
        try pool.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM insightSignature") ?? 0
            try detector.withLock { detector in
                detector.index.reserveCapacity(count)
                let rows = try Row.fetchCursor(db, sql: "SELECT insightId, bandKeys FROM insightSignature")
                while let row = try rows.next() {
                    try detector.index.insert(id: row[0], bandKeys: Self.decode(row[1]))
                }
            }
        }
    }

    /// What a new paragraph is, relative to what is stored.
    enum Placement {
        /// A wording of stored insight `id`.
        case variant(of: Int64)
        /// A new insight; conflicts with these stored ones.
        case new(bandKeys: [UInt32], conflicts: [(id: Int64, kind: ConflictKind)])
    }

    /// Finds where `text` belongs, reading candidate texts through `db`. A `signature` computed by the parse stage
    /// (in the standard layout) saves tokenizing and signing here, inside the write transaction.
    func place(_ text: String, signature: NearDuplicateSignature? = nil, in db: Database) throws -> Placement {
        // Normalize once: the tokens feed both the signature and, when there are candidates, the verification.
        let tokens: [String]
        let keys: [UInt32]
        if let signature, layout == .standard {
            tokens = signature.tokens
            keys = signature.bandKeys
        } else if NearDuplicateText.isComparable(text) {
            tokens = NearDuplicateText.tokens(text)
            keys = try NearDuplicateIndex.bandKeys(for: MinHashSignature(tokens: tokens), layout: layout)
        } else {
            (tokens, keys) = ([], [])
        }
        let statement = try db.cachedStatement(sql: "SELECT text FROM insight WHERE id = ?")
        let match = try detector.withLock { detector -> NearDuplicateMatch? in
            let candidates = detector.index.candidates(forBandKeys: keys)
            guard !candidates.isEmpty else { return nil }
            return try detector.verify(PreparedText(tokens: tokens, text: text), candidates: candidates) { id in
                try String.fetchOne(statement, arguments: [id])
            }
        }
        if let same = match?.sameClaim { return .variant(of: same.id) }
        let conflicts = (match?.conflicts ?? []).compactMap { hit -> (Int64, ConflictKind)? in
            guard case .conflict(let kind) = hit.comparison.verdict else { return nil }
            return (hit.id, kind)
        }
        return .new(bandKeys: keys, conflicts: conflicts)
    }

    /// Indexes a new insight now; takes it out again if the transaction rolls back.
    func insert(id: Int64, bandKeys: [UInt32], in db: Database) throws {
        try detector.withLock { try $0.index.insert(id: id, bandKeys: bandKeys) }
        let needsHook = journal.withLock { journal -> Bool in
            journal.entries.append((id, bandKeys))
            defer { journal.hooked = true }
            return !journal.hooked
        }
        if needsHook {
            db.afterNextTransaction(onCommit: { [self] _ in
                journal.withLock { $0 = ([], false) }
            }, onRollback: { [self] _ in
                undo(to: 0)
                journal.withLock { $0 = ([], false) }
            })
        }
    }

    /// A point in the open transaction's insertions, for `undo(to:)`.
    func mark() -> Int { journal.withLock { $0.entries.count } }

    /// Takes out the insertions made since `mark` (a file's savepoint rolled back).
    func undo(to mark: Int) {
        let undone = journal.withLock { journal -> [(id: Int64, bandKeys: [UInt32])] in
            guard mark < journal.entries.count else { return [] }
            defer { journal.entries.removeSubrange(mark...) }
            return Array(journal.entries[mark...])
        }
        guard !undone.isEmpty else { return }
        detector.withLock { detector in
            for entry in undone { _ = detector.index.remove(id: entry.id, bandKeys: entry.bandKeys) }
        }
    }

    /// Takes deleted insights out of the index once their deletion is committed.
    func removeAfterCommit(_ removed: [(id: Int64, bandKeys: [UInt32])], in db: Database) {
        guard !removed.isEmpty else { return }
        db.afterNextTransaction(onCommit: { [self] _ in
            detector.withLock { detector in
                for entry in removed { _ = detector.index.remove(id: entry.id, bandKeys: entry.bandKeys) }
            }
        })
    }
}
