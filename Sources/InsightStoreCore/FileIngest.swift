import Foundation
import InsightCore

/// An insight ready to store: its display text, where it stood, and its deduplication fingerprint.
public struct PreparedInsight: Sendable, Equatable {
    public var text: String
    public var line: Int
    public var section: String?
    public var fingerprint: [UInt8]
    /// Tags of this occurrence (lower-case, without `#`).
    public var tags: [String]
    /// The reader's note on this passage.
    public var note: String?
    /// Page or location in the work.
    public var location: String?
    /// When the reader saved the passage.
    public var addedAt: String?
    /// The ordinal (index in `FileIngest.insights`) of the longer passage this text is stored as a variant of.
    public var variantOf: Int?
    /// The near-duplicate tokens and LSH band keys (standard layout) of the text, computed by the parse stage so the
    /// writer only looks them up; nil when not computed (the store computes them then).
    public var signature: NearDuplicateSignature?

    /// Computes the fingerprint (and, with `sign`, the near-duplicate signature) outside the write transaction, so
    /// the writer lock is held briefly.
    public init(_ parsed: ParsedInsight, sign: Bool) {
        self.init(parsed)
        if sign { signature = NearDuplicateSignature(parsed.text) }
    }

    /// Computes the fingerprint outside the write transaction, so the writer lock is held briefly.
    public init(_ parsed: ParsedInsight) {
        text = parsed.text
        line = parsed.line
        section = parsed.section
        tags = parsed.tags
        note = parsed.note
        location = parsed.location
        addedAt = parsed.addedAt
        variantOf = parsed.variantOf
        fingerprint = Normalizer.fingerprint(ofKey: Normalizer.key(parsed.text))
    }
}

/// A text's near-duplicate tokens and LSH band keys in the standard layout (no keys for a text too short to sign).
public struct NearDuplicateSignature: Sendable, Equatable {
    public var tokens: [String]
    public var bandKeys: [UInt32]

    public init(_ text: String) {
        guard NearDuplicateText.isComparable(text) else {
            (tokens, bandKeys) = ([], [])
            return
        }
        tokens = NearDuplicateText.tokens(text)
        bandKeys = (try? NearDuplicateIndex.bandKeys(for: MinHashSignature(tokens: tokens), layout: .standard)) ?? []
    }
}

/// A parsed file, ready for the ingest transaction.
public struct FileIngest: Sendable {
    /// The path relative to the inbox.
    public var path: String
    public var size: Int64
    public var mtime: Double
    public var sha256: String
    public var encoding: String
    public var documentDate: String?
    public var insights: [PreparedInsight]
    /// `file` for inbox files, `url` for fetched articles.
    public var kind: String
    /// Links found in the file, queued for fetching in the same transaction.
    public var links: [HarvestedLink]
    /// How the file was read (`DocumentFormat.rawValue`: `text`, `markdown`, `kindle-clippings`, …).
    public var format: String

    public init(path: String, size: Int64, mtime: Double, sha256: String, encoding: String, documentDate: String?,
                insights: [PreparedInsight], kind: String = "file", links: [HarvestedLink] = [], format: String = "text") {
        self.kind = kind
        self.format = format
        self.links = links
        self.path = path
        self.size = size
        self.mtime = mtime
        self.sha256 = sha256
        self.encoding = encoding
        self.documentDate = documentDate
        self.insights = insights
    }
}

extension FileIngest {
    /// For each insight, the ordinal of the longer passage it is stored as a variant of, when that can be honoured:
    /// `variantOf` names another insight of this file that is not itself part of a longer one. Anything else (an
    /// ordinal out of range, the insight itself, a chain or a cycle) is nil, and the text is placed like any other.
    public var variantTargets: [Int?] {
        let count = insights.count
        func direct(_ index: Int) -> Int? {
            guard let target = insights[index].variantOf, (0..<count).contains(target), target != index else { return nil }
            return target
        }
        return insights.indices.map { index in
            guard let target = direct(index), direct(target) == nil else { return nil }
            return target
        }
    }

    /// The order in which ordinals are placed: every longer passage before the parts that name it, each group in
    /// file order.
    public static func placementOrder(_ targets: [Int?]) -> [Int] {
        targets.indices.filter { targets[$0] == nil } + targets.indices.filter { targets[$0] != nil }
    }
}

/// What the ingest transaction did with a file.
public enum IngestOutcome: Sendable, Equatable {
    /// The same path with the same content was stored before; nothing changed.
    case unchanged
    /// The file is stored: how many insights were new and how many occurrences it has; how many of its texts were
    /// stored as new wordings (variants) of a stored insight, and how many of the new insights were stored as
    /// conflicting with another (each of these is also one of `newInsights`). A text already stored word for word, as
    /// an insight or as a wording, adds an occurrence only.
    case stored(newInsights: Int, occurrences: Int, variants: Int = 0, conflicts: Int = 0)
}

/// A file that is not stored, with the reason a user reads in `insightctl failed`.
public struct ProblemRecord: Sendable, Equatable {
    public var path: String
    public var state: SourceState
    public var reason: String
    public var size: Int64?
    public var mtime: Double?

    public init(path: String, state: SourceState, reason: String, size: Int64? = nil, mtime: Double? = nil) {
        self.path = path
        self.state = state
        self.reason = reason
        self.size = size
        self.mtime = mtime
    }
}
