import ArgumentParser
import Foundation
import InsightCore

/// `insightctl generate-manual`: the insightctl(1) man page (roff), generated from the argument parser's own
/// description of the commands (`--experimental-dump-help`), so it never drifts from `--help`.
struct GenerateManual: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ManualPage.commandName, abstract: ManualPage.commandAbstract(page: "insightctl(1)"), shouldDisplay: false)

    func run() throws {
        do {
            print(try ManualPage.generate(InsightctlManual.render), terminator: "")
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

enum InsightctlManual {
    static func render(_ root: ManualPage.Command) -> String {
        var page = ManualPage.title("insightctl", section: 1, manual: "User Commands")
        page += ".SH NAME\ninsightctl \\- \(ManualPage.escape(root.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B insightctl\n[\\fB\\-\\-socket\\fR \\fIpath\\fR] \\fIcommand\\fR [\\fIoptions\\fR]\n"
        if let discussion = root.discussion {
            page += ".SH DESCRIPTION\n" + ManualPage.paragraphs(discussion)
        }
        page += ".SH COMMANDS\n" + ManualPage.commands(ManualPage.visibleSubcommands(root))
        page += ".SH EXIT STATUS\n" + ManualPage.list([
            ("0", "success"),
            ("1", "an error (the daemon refused or failed the request)"),
            ("2", "wrong usage"),
            ("3", "the daemon is not running"),
            ("4", "permission denied or a protocol failure (daemon and CLI versions differ)"),
        ])
        page += ".SH ENVIRONMENT\n" + ManualPage.list([
            ("INSIGHTD_SOCKET", "the daemon's socket"),
            ("NO_COLOR", "no colour in the output"),
        ])
        page += ".SH SEE ALSO\ninsightd(8)\n"
        return page
    }
}
