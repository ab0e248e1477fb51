import Foundation

/// Man pages in roff, rendered from the command tree that ArgumentParser prints with `--experimental-dump-help`,
/// so a page never drifts from `--help`. `insightctl generate-manual` and `insightd generate-manual` compose
/// their pages from these parts.
public enum ManualPage {
    /// The parts of ArgumentParser's `--experimental-dump-help` output a man page needs.
    public struct ToolInfo: Decodable, Sendable {
        public var command: Command
    }

    public struct Command: Decodable, Sendable {
        public var commandName: String
        public var abstract: String?
        public var discussion: String?
        public var shouldDisplay: Bool?
        public var subcommands: [Command]?
        public var arguments: [Argument]?
    }

    public struct Argument: Decodable, Sendable {
        public struct Name: Decodable, Sendable {
            public var kind: String
            public var name: String
        }
        public var kind: String
        public var shouldDisplay: Bool
        public var isOptional: Bool
        public var isRepeating: Bool
        public var names: [Name]?
        public var valueName: String?
        public var defaultValue: String?
        public var abstract: String?
    }

    /// This executable's command tree, from `/proc/self/exe --experimental-dump-help`.
    public static func commandTree() throws -> Command {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["--experimental-dump-help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode(ToolInfo.self, from: data).command
    }

    /// The name of the hidden command with which `insightd` and `insightctl` print their man pages.
    public static let commandName = "generate-manual"

    /// That command's abstract for `page`, such as `insightd(8)`.
    public static func commandAbstract(page: String) -> String { "Print the \(page) man page in roff." }

    /// A command tree that could not be read, so no page was made.
    public struct GenerationError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What `generate-manual` prints: the page `render` makes of this executable's command tree.
    public static func generate(_ render: (Command) -> String) throws(GenerationError) -> String {
        do {
            return render(try commandTree())
        } catch {
            throw GenerationError(description: "cannot read the command tree from --experimental-dump-help: \(error)")
        }
    }

    /// The `.TH` line: NAME(SECTION), the version in the footer, the manual's title in the header.
    public static func title(_ name: String, section: Int, manual: String) -> String {
        ".TH \(name.uppercased()) \(section) \"\" \"\(name) \(InsightVersion.current)\" \"\(manual)\"\n"
    }

    /// The commands a page lists: shown ones, without ArgumentParser's own `help`.
    public static func visibleSubcommands(_ command: Command) -> [Command] {
        (command.subcommands ?? []).filter { $0.shouldDisplay ?? true && $0.commandName != "help" }
    }

    /// One `.SS` entry per command: its name and positional arguments, abstract, discussion and options.
    public static func commands(_ commands: [Command], prefix: String = "") -> String {
        var page = ""
        for command in commands {
            page += ".SS \"\(prefix)\(command.commandName)\(usage(command))\"\n"
            page += escape(command.abstract ?? "") + "\n"
            if let discussion = command.discussion { page += ".PP\n" + paragraphs(discussion) }
            page += options(command.arguments ?? [])
        }
        return page
    }

    /// A `.TP` list of the arguments that are shown, with their defaults.
    public static func options(_ arguments: [Argument]) -> String {
        var page = ""
        for argument in arguments where argument.shouldDisplay {
            guard let label = label(argument) else { continue }
            page += ".TP\n\(label)\n\(escape(argument.abstract ?? ""))"
            if let value = argument.defaultValue, !value.isEmpty, argument.kind == "option" { page += " (default: \(escape(value)))" }
            page += "\n"
        }
        return page
    }

    /// A `.TP` list from plain (term, text) pairs: exit codes, files, environment variables, signals.
    public static func list(_ items: [(String, String)]) -> String {
        items.map { ".TP\n\(escape($0.0))\n\(escape($0.1))\n" }.joined()
    }

    /// The positional arguments of a command, as ` NAME` or ` [NAME...]`.
    public static func usage(_ command: Command) -> String {
        let positional = (command.arguments ?? []).filter { $0.kind == "positional" && $0.shouldDisplay }
        return positional.map { argument in
            let name = (argument.valueName ?? "value").uppercased() + (argument.isRepeating ? "..." : "")
            return argument.isOptional ? " [\(name)]" : " \(name)"
        }.joined()
    }

    static func label(_ argument: Argument) -> String? {
        if argument.kind == "positional" { return "\\fI\(escape(argument.valueName ?? "value"))\\fR" }
        guard let names = argument.names, !names.isEmpty else { return nil }
        let flags = names.map { name in name.kind == "short" ? "\\fB\\-\(name.name)\\fR" : "\\fB\\-\\-\(escape(name.name))\\fR" }
            .joined(separator: ", ")
        return argument.kind == "option" ? flags + " \\fI\(escape(argument.valueName ?? "value"))\\fR" : flags
    }

    /// Blank-line separated paragraphs as `.PP` paragraphs; single line breaks are joined.
    public static func paragraphs(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { escape($0.replacingOccurrences(of: "\n", with: " ")) }.joined(separator: "\n.PP\n") + "\n"
    }

    /// Backslashes and hyphens escaped; a leading dot or quote cannot start a roff request.
    public static func escape(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }
}
