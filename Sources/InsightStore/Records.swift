import Foundation
import GRDB
import InsightCore

/// The state of one inbox file (or, later, fetched URL) as the database remembers it.
public enum SourceState: String, Sendable, Codable, CaseIterable, DatabaseValueConvertible {
    case seen, pending, ingested, failed, skipped, removed
}

/// A row of `source`: one file of the inbox, keyed by its path relative to the inbox.
public struct SourceRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "source"
    public var id: Int64?
    public var path: String
    public var size: Int64?
    public var mtime: Double?
    public var sha256: String?
    public var state: SourceState
    public var error: String?
    public var encoding: String?
    public var documentDate: String?
    public var insightCount: Int
    public var firstSeenAt: Double
    public var updatedAt: Double
    public var ingestedAt: Double?
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
}

extension SourceRecord {
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
