import Foundation
import GRDB
import InsightCore
import InsightStoreCore

extension InsightDatabase {
    /// Conflicting pairs, newest first: near-identical wording, different claims.
    public func conflictPairs(limit: Int) throws(StoreError) -> [ConflictPair] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.kind, c.createdAt,
                       a.id, a.text, a.createdAt, (SELECT COUNT(*) FROM occurrence WHERE insightId = a.id),
                       b.id, b.text, b.createdAt, (SELECT COUNT(*) FROM occurrence WHERE insightId = b.id)
                FROM conflict c JOIN insight a ON a.id = c.insightId JOIN insight b ON b.id = c.otherId
                ORDER BY c.createdAt DESC, c.insightId, c.otherId LIMIT ?
                """, arguments: [limit])
            let tags = try Self.tags(of: rows.flatMap { [$0[2], $0[6]] as [Int64] }, in: db)
            return rows.map { row in
                let first: Int64 = row[2], second: Int64 = row[6]
                return ConflictPair(first: InsightSummary(id: first, text: row[3], createdAt: row[4], occurrences: row[5], tags: tags[first] ?? []),
                                    second: InsightSummary(id: second, text: row[7], createdAt: row[8], occurrences: row[9], tags: tags[second] ?? []),
                                    kind: row[0], createdAt: row[1])
            }
        }
    }
}
