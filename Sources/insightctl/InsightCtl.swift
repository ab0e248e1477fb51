import ArgumentParser
import Foundation
import InsightClient
import InsightCore

#if canImport(Glibc)
import Glibc
#endif

/// `insightctl`: talks to insightd over its Unix socket.
@main
struct InsightCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightctl",
        abstract: "Search, read, export and steer the insights a running insightd has collected.",
        discussion: """
            The socket is --socket, else $INSIGHTD_SOCKET, else $RUNTIME_DIRECTORY/insightd.sock, else \
            $XDG_RUNTIME_DIR/insightd/insightd.sock, else /run/insightd/insightd.sock.

            Reading commands take --json and print the daemon's reply as is: one JSON object with a "schema" \
            field (the API version, now 1) whose layout the README describes; a failure prints \
            {"error":{"code":…,"message":…}} instead. Colour is used only on a terminal and never when NO_COLOR \
            is set.

            Commands that change state (add, retry, rescan, pause, resume, reload, forget, merge, keep-apart) are allowed to root, the \
            daemon's own user and members of the group named by admin_group in insightd.toml.

            Exit status: 0 ok, 1 error, 2 usage, 3 daemon not running, 4 permission or protocol failure.
            """,
        version: InsightVersion.current,
        subcommands: [
            Status.self, Search.self, Tags.self, Recent.self, Show.self, Related.self, Conflicts.self, Paraphrases.self, Sources.self,
            Failed.self, Links.self, Export.self, Metrics.self,
            Add.self, Retry.self, Rescan.self, Pause.self, Resume.self, Reload.self, Forget.self, Merge.self, KeepApart.self,
            GenerateManual.self,
        ]
    )

    /// Accepts the global `--socket PATH` before the subcommand too (`insightctl --socket S status`), and maps
    /// usage errors to exit status 2.
    static func main() {
        let arguments = Self.movingGlobalOptions(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    static func movingGlobalOptions(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("--socket") {
            if first == "--socket", rest.count >= 2 {
                leading += rest.prefix(2)
                rest = rest.dropFirst(2)
            } else if first.hasPrefix("--socket=") {
                leading.append(first)
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        guard !leading.isEmpty, let command = rest.first else { return arguments }
        return [command] + leading + rest.dropFirst()
    }
}

/// Options every command shares.
struct Connection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's Unix socket.", valueName: "path"))
    var socket: String?

    var control: Control { Control(socketPath: socket) }
}

/// Runs a command body and exits with its status; with `json`, an error is also printed as a JSON object.
func finish(_ connection: Connection, json: Bool = false, _ body: (Control) throws -> Void) throws {
    let control = connection.control
    let code = control.run(json: json) { try body(control) }
    if code != 0 { throw ExitCode(code) }
}

/// `--since` as seconds since the epoch.
func parseSince(_ text: String?) throws -> Double? {
    guard let text else { return nil }
    guard let value = SinceParser.parse(text) else {
        throw ValidationError("--since takes a span such as 90s, 30m, 12h, 7d, 2w, or a date such as 2025-01-31")
    }
    return value
}

let sinceHelp = ArgumentHelp("Only insights stored since then: 30m, 12h, 7d, 2w, or a date (2025-01-31).", valueName: "when")

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what the daemon is doing.",
        discussion: "With --watch the status is redrawn in place on a terminal, or printed as one JSON line per interval when piped; it ends when the daemon stops.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<StatusOutput>
    @Flag(name: .long, help: "Keep showing the status as it changes.")
    var watch = false
    @Option(name: .long, help: ArgumentHelp("Seconds between updates with --watch (0.1 to 3600).", valueName: "seconds"))
    var interval = 1.0
    @Flag(name: .long, help: "Also count every row of the store and check the counters status shows against it; exit status 1 when they differ.")
    var verify = false

    func validate() throws {
        guard (0.1...3600).contains(interval) else { throw ValidationError("--interval must be from 0.1 to 3600 seconds") }
        guard !(verify && watch) else { throw ValidationError("--verify counts every row once; it cannot be combined with --watch") }
    }

    func run() throws {
        try finish(connection, json: output.json) { control in
            if watch {
                try control.watchStatus(interval: interval, json: output.json)
            } else {
                try control.status(json: output.json, verify: verify)
            }
        }
    }
}

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Full-text search over stored insights, best matches first; or the insights with a tag.",
        discussion: "A word match needs every word (the last one may be the start of a word), in the insight or in another wording folded into it. With sentence vectors, insights close in meaning are ranked in too, so some results may lack a word; --words gives word matches only. Matches are highlighted on a terminal. With --tag only insights seen with that tag are searched; --tag without words lists them, newest first.")
    @OptionGroup var connection: Connection
    @Argument(help: "The words to search for.")
    var words: [String] = []
    @Option(name: .long, help: ArgumentHelp("Only insights seen with this tag (economics or #economics).", valueName: "tag"))
    var tag: String?
    @Option(name: .long, help: sinceHelp)
    var since: String?
    @Option(name: .long, help: ArgumentHelp("Only insights seen in a file whose path contains this text.", valueName: "text"))
    var source: String?
    @OptionGroup var listing: Limit<SearchLimit>
    @Flag(name: .customLong("words"), help: "Rank by words only (full text), even when sentence vectors exist.")
    var wordsOnly = false
    @Option(name: .customLong("meaning"), help: ArgumentHelp("Rank by meaning only: the insights closest to this text.", valueName: "text"))
    var meaning: String?
    @OptionGroup var output: JSONOutput<ResultsOutput>

    func validate() throws {
        if wordsOnly, meaning != nil { throw ValidationError("--words and --meaning exclude each other") }
        if let meaning, meaning.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--meaning needs a text") }
        if meaning != nil, !words.isEmpty { throw ValidationError("give the text with --meaning \"TEXT\" and no other words") }
        if meaning != nil { return try validateLimits() }
        if let tag, Control.tagName(tag) == nil { throw ValidationError("--tag needs a tag name, such as --tag economics") }
        guard !words.isEmpty || tag != nil else { throw ValidationError("give at least one word to search for, or --tag") }
        try validateLimits()
    }

    func validateLimits() throws {
        try listing.check()
        _ = try parseSince(since)
    }

    func run() throws {
        let since = try parseSince(since)
        let mode = meaning != nil ? "meaning" : wordsOnly ? "words" : nil
        try finish(connection, json: output.json) {
            try $0.search(meaning ?? words.joined(separator: " "), tag: tag, limit: listing.limit, since: since, source: source, mode: mode, json: output.json)
        }
    }
}

struct Tags: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every tag, with how many insights and occurrences carry it, most used first.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<TagsOutput>

    func run() throws {
        try finish(connection, json: output.json) { try $0.tags(json: output.json) }
    }
}

struct Recent: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The newest insights first.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: sinceHelp)
    var since: String?
    @OptionGroup var listing: Limit<RecentLimit>
    @OptionGroup var output: JSONOutput<InsightsOutput>

    func validate() throws {
        try listing.check()
        _ = try parseSince(since)
    }

    func run() throws {
        let since = try parseSince(since)
        try finish(connection, json: output.json) { try $0.recent(limit: listing.limit, since: since, json: output.json) }
    }
}

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pairs of insights with near-identical wording that state different claims.")
    @OptionGroup var connection: Connection
    @OptionGroup var listing: Limit<ConflictsLimit>
    @OptionGroup var output: JSONOutput<PairsOutput>

    func validate() throws {
        try listing.check()
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.conflicts(limit: listing.limit, json: output.json) }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One insight with every place it was seen.")
    @OptionGroup var connection: Connection
    @Argument(help: "The insight's id (search and recent show it).")
    var id: Int64
    @OptionGroup var output: JSONOutput<InsightOutput>

    func validate() throws {
        guard id > 0 else { throw ValidationError("an insight id is a positive number") }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.show(id: id, json: output.json) }
    }
}

struct Sources: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every inbox file the daemon has seen, with its state.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: ArgumentHelp("Only files in this state: pending, ingested, failed, skipped or removed (repeatable).", valueName: "state"))
    var state: [String] = []
    @OptionGroup var output: JSONOutput<FilesOutput>

    func validate() throws {
        let known = ["seen", "pending", "ingested", "failed", "skipped", "removed"]
        for value in state where !known.contains(value) {
            throw ValidationError("unknown state \"\(value)\"; use \(known.joined(separator: ", "))")
        }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.sources(states: state, json: output.json) }
    }
}

struct Failed: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Files that failed or were skipped, with the reason.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<FilesOutput>

    func run() throws {
        try finish(connection, json: output.json) { try $0.failed(json: output.json) }
    }
}

struct Links: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Linked articles the daemon fetches, with their state.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Only links that failed.")
    var failed = false
    @OptionGroup var output: JSONOutput<LinksOutput>

    func run() throws {
        try finish(connection, json: output.json) { try $0.links(failedOnly: failed, json: output.json) }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export every unique insight with its sources, streamed.",
        discussion: "jsonl: one JSON object a line; csv: RFC 4180 with a header row; markdown: one list item an insight. With --output the file appears only once complete.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: ArgumentHelp("jsonl, csv or markdown.", valueName: "format"))
    var format = "jsonl"
    @Option(name: .long, help: sinceHelp)
    var since: String?
    @Option(name: .long, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        guard ["jsonl", "csv", "markdown"].contains(format) else { throw ValidationError("--format must be jsonl, csv or markdown") }
        _ = try parseSince(since)
    }

    func run() throws {
        let since = try parseSince(since)
        try finish(connection) { try $0.export(format: format, since: since, outputPath: output) }
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's metrics in the Prometheus text format.",
        discussion: "Counters since the daemon started, histograms and gauges of the queues; the README's Metrics section lists them and shows scrape setups.")
    @OptionGroup var connection: Connection

    func run() throws {
        try finish(connection) { try $0.metrics() }
    }
}

struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Hand the daemon a URL to fetch and store.")
    @OptionGroup var connection: Connection
    @Argument(help: "An http or https URL.")
    var url: String
    @OptionGroup var output: JSONOutput<ReplyOutput>

    func validate() throws {
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
              components.host?.isEmpty == false else {
            throw ValidationError("\"\(url)\" is not an http or https URL")
        }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.add(url: url, json: output.json) }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take a failed or skipped file again, or all of them, or the failed links.")
    @OptionGroup var connection: Connection
    @Argument(help: "The file: relative to the inbox, or a path inside it.")
    var path: String?
    @Flag(name: .long, help: "Retry every failed and skipped file.")
    var all = false
    @Flag(name: .long, help: "Put every failed link back in the fetch queue.")
    var links = false
    @OptionGroup var output: JSONOutput<ReplyOutput>

    func validate() throws {
        guard [path != nil, all, links].filter({ $0 }).count == 1 else { throw ValidationError("give one of PATH, --all or --links") }
    }

    func run() throws {
        try finish(connection, json: output.json) { control in
            if links {
                try control.action("POST", "/v1/links/retry", json: output.json)
            } else {
                try control.retry(path: path, all: all, json: output.json)
            }
        }
    }
}

struct Rescan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Scan the whole inbox again.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<ReplyOutput>
    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/rescan", json: output.json) }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop ingesting; dropped files keep queueing.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<ReplyOutput>
    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/pause", json: output.json) }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume ingesting.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<ReplyOutput>
    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/resume", json: output.json) }
    }
}

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete an insight and every record of where it was seen.",
        discussion: "The only deletion: the files stay as they are, and an unchanged file is not stored again, so the insight stays forgotten until its file changes.")
    @OptionGroup var connection: Connection
    @Argument(help: "The insight's id.")
    var id: Int64
    @OptionGroup var output: JSONOutput<ReplyOutput>

    func validate() throws {
        guard id > 0 else { throw ValidationError("an insight id is a positive number") }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.forget(id: id, json: output.json) }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the daemon's configuration and wait for the outcome.",
        discussion: "Exits non-zero when the configuration is invalid; the daemon then keeps running with the old one.")
    @OptionGroup var connection: Connection
    @OptionGroup var output: JSONOutput<ReplyOutput>
    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/reload", json: output.json) }
    }
}

struct Related: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The insights closest in meaning to one insight, with their similarity (1 is the same meaning).",
        discussion: "Needs the sentence model (see `insightctl status`); an insight stored a moment ago may not have its vector yet.")
    @OptionGroup var connection: Connection
    @Argument(help: "The insight's id.")
    var id: Int64
    @OptionGroup var listing: Limit<RelatedLimit>
    @OptionGroup var output: JSONOutput<InsightsOutput>

    func validate() throws {
        guard id > 0 else { throw ValidationError("an insight id is a positive number") }
        try listing.check()
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.related(id: id, limit: listing.limit, json: output.json) }
    }
}

struct Paraphrases: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Newer insights that say an older one again in other words, waiting for merge or keep-apart.")
    @OptionGroup var connection: Connection
    @OptionGroup var listing: Limit<ParaphrasesLimit>
    @OptionGroup var output: JSONOutput<SuggestionsOutput>

    func validate() throws {
        try listing.check()
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.paraphrases(limit: listing.limit, json: output.json) }
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make one insight another wording of another, with every place it was seen.",
        discussion: "The first insight's text becomes a variant of the second; its sources, tags and notes move to it.")
    @OptionGroup var connection: Connection
    @Argument(help: "The insight to merge.")
    var id: Int64
    @Argument(help: "The insight it says again.")
    var into: Int64
    @OptionGroup var output: JSONOutput<ReplyOutput>

    func validate() throws {
        guard id > 0, into > 0 else { throw ValidationError("insight ids are positive numbers") }
        guard id != into else { throw ValidationError("an insight cannot be merged into itself") }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/merge", body: Array("{\"id\":\(id),\"into\":\(into)}".utf8), json: output.json) }
    }
}

struct KeepApart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keep-apart",
        abstract: "Dismiss a paraphrase suggestion: the two insights say different things and are not suggested again.")
    @OptionGroup var connection: Connection
    @Argument(help: "One insight.")
    var id: Int64
    @Argument(help: "The other insight.")
    var other: Int64
    @OptionGroup var output: JSONOutput<ReplyOutput>

    func validate() throws {
        guard id > 0, other > 0 else { throw ValidationError("insight ids are positive numbers") }
        guard id != other else { throw ValidationError("give two different insights") }
    }

    func run() throws {
        try finish(connection, json: output.json) { try $0.action("POST", "/v1/keep-apart", body: Array("{\"id\":\(id),\"other\":\(other)}".utf8), json: output.json) }
    }
}
