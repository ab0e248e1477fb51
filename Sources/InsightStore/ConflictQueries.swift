import Foundation
import GRDB
import InsightCore

extension InsightDatabase {
    /// Conflicting pairs, newest first: near-identical wording, different claims.
    public func conflictPairs(limit: Int) throws(StoreError) -> [ConflictPair] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT c.kind, c.createdAt,
                       a.id, a.text, a.createdAt, (SELECT COUNT(*) FROM occurrence WHERE insightId = a.id),
                       b.id, b.text, b.createdAt, (SELECT COUNT(*) FROM occurrence WHERE insightId = b.id)
                FROM conflict c JOIN insight a ON a.id = c.insightId JOIN insight b ON b.id = c.otherId
                ORDER BY c.createdAt DESC, c.insightId, c.otherId LIMIT ?
                """, arguments: [limit]).map { row in
                ConflictPair(first: InsightSummary(id: row[2], text: row[3], createdAt: row[4], occurrences: row[5]),
                             second: InsightSummary(id: row[6], text: row[7], createdAt: row[8], occurrences: row[9]),
                             kind: row[0], createdAt: row[1])
            }
        }
    }
}
