import InsightCore

/// Aggregate counts for status.
public struct StoreCounts: Sendable, Equatable {
    /// Inbox files by state (fetched articles are counted under links).
    public var sourcesByState: [SourceState: Int] = [:]
    public var linksByState: [LinkState: Int] = [:]
    public var uniqueInsights = 0
    public var occurrences = 0
    /// Other wordings merged into stored insights.
    public var variants = 0
    /// Pairs of near-identical insights that state different claims.
    public var conflicts = 0
    /// Insights with a sentence vector (of the model in use).
    public var embeddedInsights = 0
    public var lastIngestAt: Double?
    public var lastError: StatusReport.LastError?

    public init() {}
}

extension StoreCounts {
    /// Sets a counter read from the `stats` table by its key: `source.STATE`, `link.STATE`, `insight`, `occurrence`,
    /// `variant`, `conflict` or `embedding`. A state counted zero is left out, as a count grouped by state leaves it out; a key
    /// this version does not know is ignored.
    package mutating func setCounter(_ key: String, to value: Int) {
        switch key {
        case "insight": uniqueInsights = value
        case "occurrence": occurrences = value
        case "variant": variants = value
        case "conflict": conflicts = value
        case "embedding": embeddedInsights = value
        default:
            if key.hasPrefix("source."), let state = SourceState(rawValue: String(key.dropFirst("source.".count))) {
                sourcesByState[state] = value == 0 ? nil : value
            } else if key.hasPrefix("link."), let state = LinkState(rawValue: String(key.dropFirst("link.".count))) {
                linksByState[state] = value == 0 ? nil : value
            }
        }
    }

    /// Every counter status is made from: `sources.STATE` (this daemon's inbox files in each state, as
    /// `insightctl sources --state` lists them), `links.STATE`, and `insights.unique`, `.occurrences`, `.variants`
    /// `.conflicts` and `.embedded` (insights with a sentence vector) as in the status report.
    public var counters: [(name: String, value: Int)] {
        SourceState.allCases.map { ("sources.\($0.rawValue)", sourcesByState[$0] ?? 0) }
            + LinkState.allCases.map { ("links.\($0.rawValue)", linksByState[$0] ?? 0) }
            + [("insights.unique", uniqueInsights), ("insights.occurrences", occurrences), ("insights.variants", variants),
               ("insights.conflicts", conflicts), ("insights.embedded", embeddedInsights)]
    }

    /// The counters whose value here (kept) differs from `counted` (a full count); empty when they agree.
    public func differences(from counted: StoreCounts) -> [StatusReport.Verification.Difference] {
        zip(counters, counted.counters).compactMap { kept, counted in
            kept.value == counted.value ? nil : .init(counter: kept.name, kept: kept.value, counted: counted.value)
        }
    }
}
