import ArgumentParser

/// How a command words `--json`: what it prints.
protocol JSONWording {
    static var jsonHelp: String { get }
}

/// How a listing command words `--limit` and how many it lists by default.
protocol LimitWording {
    static var limitHelp: String { get }
    static var defaultLimit: Int { get }
}

/// `--json`, shared by every command that can print the daemon's reply as JSON.
struct JSONOutput<Wording: JSONWording>: ParsableArguments {
    @Flag(name: .long, help: ArgumentHelp(Wording.jsonHelp))
    var json = false
}

/// `--limit N` (1 to 1000), shared by the listing commands.
///
/// Checked by `check()`, which each command calls from its own `validate()` where it always did, so its errors come
/// in the same order (a group's own `validate()` would run while the group is decoded, before the command's checks).
struct Limit<Wording: LimitWording>: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(Wording.limitHelp))
    var limit = Wording.defaultLimit

    func check() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }
}

// What each command prints and lists.
enum StatusOutput: JSONWording { static let jsonHelp = "Print the status as JSON (schema in the README)." }
enum ResultsOutput: JSONWording { static let jsonHelp = "Print the results as JSON." }
enum TagsOutput: JSONWording { static let jsonHelp = "Print the tags as JSON." }
enum InsightsOutput: JSONWording { static let jsonHelp = "Print the insights as JSON." }
enum InsightOutput: JSONWording { static let jsonHelp = "Print the insight as JSON." }
enum PairsOutput: JSONWording { static let jsonHelp = "Print the pairs as JSON." }
enum FilesOutput: JSONWording { static let jsonHelp = "Print the files as JSON." }
enum LinksOutput: JSONWording { static let jsonHelp = "Print the links as JSON." }
enum SuggestionsOutput: JSONWording { static let jsonHelp = "Print the suggestions as JSON." }
enum ReplyOutput: JSONWording { static let jsonHelp = "Print the daemon's reply as JSON." }

enum SearchLimit: LimitWording {
    static let limitHelp = "At most this many results (1 to 1000)."
    static let defaultLimit = 20
}
enum RecentLimit: LimitWording {
    static let limitHelp = "At most this many (1 to 1000)."
    static let defaultLimit = 20
}
enum ConflictsLimit: LimitWording {
    static let limitHelp = "At most this many pairs (1 to 1000)."
    static let defaultLimit = 50
}
enum RelatedLimit: LimitWording {
    static let limitHelp = "At most this many insights (1 to 1000)."
    static let defaultLimit = 10
}
enum ParaphrasesLimit: LimitWording {
    static let limitHelp = "At most this many suggestions (1 to 1000)."
    static let defaultLimit = 50
}
