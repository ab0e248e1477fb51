import Foundation
import GRDB
import InsightCore
import InsightStoreCore

// The boundary's records and states, as rows and values of the SQLite database.

extension SourceState: DatabaseValueConvertible {}
extension LinkState: DatabaseValueConvertible {}

extension SourceRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "source"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension LinkRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "link"
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A row of `insight`: one unique insight, identified by the fingerprint of its normalized key.
public struct InsightRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "insight"
    public var id: Int64?
    public var fingerprint: Data
    public var text: String
    public var createdAt: Double
}

/// A row of `occurrence`: an insight seen at a line of a source.
public struct OccurrenceRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "occurrence"
    public var id: Int64?
    public var insightId: Int64
    public var sourceId: Int64
    public var ordinal: Int
    public var line: Int
    public var section: String?
    /// The reader's note on the passage.
    public var note: String?
    /// Where in the work the passage stands.
    public var location: String?
    /// When the reader saved the passage.
    public var addedAt: String?
}
