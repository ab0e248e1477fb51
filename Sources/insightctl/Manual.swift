import ArgumentParser
import Foundation

/// `insightctl generate-manual`: the man page (roff), generated from the argument parser's own description
/// of the commands (`--experimental-dump-help`), so it never drifts from `--help`.
struct GenerateManual: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-manual",
        abstract: "Print the insightctl(1) man page in roff.",
        shouldDisplay: false)

    func run() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["--experimental-dump-help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let tool: ToolInfo
        do {
            tool = try JSONDecoder().decode(ToolInfo.self, from: data)
        } catch {
            throw ValidationError("cannot read the command tree from --experimental-dump-help: \(error)")
        }
        print(ManualPage.render(tool.command), terminator: "")
    }
}

/// The parts of ArgumentParser's `--experimental-dump-help` output the man page needs.
struct ToolInfo: Decodable {
    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var subcommands: [Command]?
        var arguments: [Argument]?
    }
    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        var kind: String
        var shouldDisplay: Bool
        var isOptional: Bool
        var isRepeating: Bool
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var abstract: String?
    }
    var command: Command
}

enum ManualPage {
    static func render(_ root: ToolInfo.Command) -> String {
        var page = ".TH INSIGHTCTL 1 \"\" \"insightctl 0.1.0\" \"User Commands\"\n"
        page += ".SH NAME\ninsightctl \\- \(escape(root.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B insightctl\n[\\fB\\-\\-socket\\fR \\fIpath\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n"
        if let discussion = root.discussion {
            page += ".SH DESCRIPTION\n" + paragraphs(discussion)
        }
        page += ".SH COMMANDS\n"
        for command in root.subcommands ?? [] where command.shouldDisplay ?? true && command.commandName != "help" {
            page += ".SS \"\(command.commandName)\(usage(command))\"\n"
            page += escape(command.abstract ?? "") + "\n"
            if let discussion = command.discussion { page += ".PP\n" + paragraphs(discussion) }
            for argument in command.arguments ?? [] where argument.shouldDisplay {
                guard let label = label(argument) else { continue }
                page += ".TP\n\(label)\n\(escape(argument.abstract ?? ""))"
                if let value = argument.defaultValue, !value.isEmpty, argument.kind == "option" { page += " (default: \(escape(value)))" }
                page += "\n"
            }
        }
        page += ".SH EXIT STATUS\n.TP\n0\nsuccess\n.TP\n1\nan error (the daemon refused or failed the request)\n.TP\n2\nwrong usage\n"
        page += ".TP\n3\nthe daemon is not running\n.TP\n4\npermission denied or a protocol failure (daemon and CLI versions differ)\n"
        page += ".SH ENVIRONMENT\n.TP\nINSIGHTD_SOCKET\nthe daemon's socket\n.TP\nNO_COLOR\nno colour in the output\n"
        page += ".SH SEE ALSO\ninsightd(8)\n"
        return page
    }

    static func usage(_ command: ToolInfo.Command) -> String {
        let positional = (command.arguments ?? []).filter { $0.kind == "positional" && $0.shouldDisplay }
        return positional.map { argument in
            let name = (argument.valueName ?? "value").uppercased() + (argument.isRepeating ? "..." : "")
            return argument.isOptional ? " [\(name)]" : " \(name)"
        }.joined()
    }

    static func label(_ argument: ToolInfo.Argument) -> String? {
        if argument.kind == "positional" { return "\\fI\(escape(argument.valueName ?? "value"))\\fR" }
        guard let names = argument.names, !names.isEmpty else { return nil }
        let flags = names.map { name in name.kind == "short" ? "\\fB\\-\(name.name)\\fR" : "\\fB\\-\\-\(escape(name.name))\\fR" }
            .joined(separator: ", ")
        return argument.kind == "option" ? flags + " \\fI\(escape(argument.valueName ?? "value"))\\fR" : flags
    }

    static func paragraphs(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { escape($0.replacingOccurrences(of: "\n", with: " ")) }.joined(separator: "\n.PP\n") + "\n"
    }

    /// Backslashes and hyphens escaped; a leading dot or quote cannot start a roff request.
    static func escape(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }
}
