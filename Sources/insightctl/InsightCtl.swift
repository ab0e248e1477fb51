import ArgumentParser
import Foundation
import InsightClient

/// `insightctl`: talks to insightd over its Unix socket.
@main
struct InsightCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightctl",
        abstract: "Ask a running insightd for its status, search and export insights, and steer it.",
        discussion: """
            The socket is --socket, else $INSIGHTD_SOCKET, else $RUNTIME_DIRECTORY/insightd.sock, else \
            $XDG_RUNTIME_DIR/insightd/insightd.sock, else /run/insightd/insightd.sock.

            Exit status: 0 ok, 1 error, 2 usage, 3 daemon not running, 4 permission or protocol failure.
            """,
        version: "0.1.0",
        subcommands: [Status.self, Search.self, Export.self, Rescan.self, Pause.self, Resume.self, Reload.self]
    )

    /// Accepts the global `--socket PATH` before the subcommand too (`insightctl --socket S status`).
    static func main() {
        main(Self.movingGlobalOptions(Array(CommandLine.arguments.dropFirst())))
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
    @Option(name: .long, help: "The daemon's Unix socket.")
    var socket: String?

    var control: Control { Control(socketPath: socket) }
}

/// Runs a command body and exits with its status.
func finish(_ code: Int32) throws {
    if code != 0 { throw ExitCode(code) }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the daemon is doing.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the status as JSON (schema in the README).")
    var json = false

    func run() throws {
        let control = connection.control
        try finish(control.run { try control.status(json: json) })
    }
}

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Full-text search over stored insights.")
    @OptionGroup var connection: Connection
    @Argument(help: "The words to search for.")
    var words: [String]
    @Option(name: .long, help: "At most this many results.")
    var limit = 20
    @Flag(name: .long, help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        guard !words.isEmpty else { throw ValidationError("give at least one word to search for") }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() throws {
        let control = connection.control
        try finish(control.run { try control.search(words.joined(separator: " "), limit: limit, json: json) })
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export every unique insight with its sources.")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: "jsonl (one JSON object a line).")
    var format = "jsonl"
    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard ["jsonl"].contains(format) else { throw ValidationError("--format must be jsonl") }
    }

    func run() throws {
        let control = connection.control
        try finish(control.run { try control.export(format: format, outputPath: output) })
    }
}

struct Rescan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Scan the whole inbox again.")
    @OptionGroup var connection: Connection
    func run() throws {
        let control = connection.control
        try finish(control.run { try control.action("/v1/rescan", json: false) })
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop ingesting; dropped files keep queueing.")
    @OptionGroup var connection: Connection
    func run() throws {
        let control = connection.control
        try finish(control.run { try control.action("/v1/pause", json: false) })
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume ingesting.")
    @OptionGroup var connection: Connection
    func run() throws {
        let control = connection.control
        try finish(control.run { try control.action("/v1/resume", json: false) })
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the daemon's configuration and wait for the outcome.",
        discussion: "Exits non-zero when the configuration is invalid; the daemon then keeps running with the old one.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the daemon's reply as JSON.")
    var json = false
    func run() throws {
        let control = connection.control
        try finish(control.run { try control.action("/v1/reload", json: json) })
    }
}
