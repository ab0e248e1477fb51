import ArgumentParser
import Foundation
import InsightCore

/// `insightd generate-manual`: the insightd(8) man page (roff), generated from the argument parser's own
/// description of the options and commands (`--experimental-dump-help`), so it never drifts from `--help`.
struct GenerateManual: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: ManualPage.commandName, abstract: ManualPage.commandAbstract(page: "insightd(8)"), shouldDisplay: false)

    func run() throws {
        do {
            print(try ManualPage.generate(InsightdManual.render), terminator: "")
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

enum InsightdManual {
    static func render(_ root: ManualPage.Command) -> String {
        let subcommands = ManualPage.visibleSubcommands(root)
        let run = subcommands.first { $0.commandName == "run" }
        var page = ManualPage.title("insightd", section: 8, manual: "System Administration")
        page += ".SH NAME\ninsightd \\- \(ManualPage.escape(root.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B insightd\n[\\fB\\-\\-config\\fR \\fIfile\\fR] [\\fB\\-\\-inbox\\fR \\fIdir\\fR] "
        page += "[\\fB\\-\\-state\\-dir\\fR \\fIdir\\fR] [\\fB\\-\\-socket\\fR \\fIpath\\fR]\n"
        for command in subcommands where command.commandName != "run" {
            page += ".br\n.B insightd \(command.commandName)\n[\\fIoptions\\fR]\(ManualPage.escape(ManualPage.usage(command)))\n"
        }
        page += ".SH DESCRIPTION\n"
        page += ManualPage.paragraphs("""
            insightd watches an inbox folder for notes (plain text, Markdown, Kindle clippings, Readwise exports, saved \
            articles), splits them into insights of one paragraph, fetches the articles they link to, merges exact and \
            near duplicates, and answers insightctl(1) over a Unix socket. Without a command it runs the daemon in the \
            foreground; under systemd it reports readiness, status and watchdog pings (Type=notify).
            """ + (run?.discussion.map { "\n\n" + $0 } ?? ""))
        page += ".SH OPTIONS\n" + ManualPage.options(run?.arguments ?? [])
        let others = subcommands.filter { $0.commandName != "run" }
        if !others.isEmpty {
            page += ".SH COMMANDS\n" + ManualPage.commands(others, prefix: "insightd ")
        }
        page += ".SH SIGNALS\n" + ManualPage.list([
            ("SIGTERM, SIGINT", "stop taking files, finish the file in hand, close the database, remove the socket (not one passed by systemd) and exit 0"),
            ("SIGHUP", "re-read the configuration and apply what can change at run time (as insightctl reload does)"),
        ])
        page += ".SH FILES\n" + ManualPage.list([
            ("/etc/insightd/insightd.toml", "the system service's settings; every setting is listed there with its default"),
            ("/srv/insightd/inbox", "the system service's inbox (group insightd, setgid)"),
            ("/var/lib/insightd/insights.sqlite", "the system service's database"),
            ("/run/insightd/insightd.sock", "the system service's socket, made by insightd.socket (mode 0660, group insightd)"),
            ("/usr/share/insightd/models/all-MiniLM-L6-v2", "the sentence model for search by meaning, when installed"),
        ])
        page += ".SH ENVIRONMENT\n" + ManualPage.list([
            ("INSIGHTD_CONFIG", "the config file when --config is not given"),
            ("INSIGHTD_*", "any setting: INSIGHTD_ and the key in upper case with dots as underscores (watch.mode: INSIGHTD_WATCH_MODE)"),
            ("CONFIGURATION_DIRECTORY, STATE_DIRECTORY, RUNTIME_DIRECTORY", "set by systemd: where insightd.toml, the database and the socket go"),
            ("LISTEN_FDS, LISTEN_PID", "set by systemd for socket activation: the daemon serves on the listening socket passed as descriptor 3 instead of binding one"),
        ])
        page += ".SH EXIT STATUS\n" + ManualPage.list([
            ("0", "a clean stop"),
            ("1", "the daemon cannot start"),
            ("2", "an invalid setting (the message names the key, the value and what is allowed)"),
        ])
        page += ".SH SEE ALSO\ninsightctl(1), systemd.service(5)\n"
        return page
    }
}
