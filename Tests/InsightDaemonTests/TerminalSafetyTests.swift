import Foundation
import InsightCore
import Testing

/// File names and texts come from whoever can write to the inbox. Shown on an admin's terminal (a real
/// pseudo-terminal here, through `script`) or in the log, their control characters must be visible, not obeyed.
@Suite("hostile names and texts on a terminal and in the log", .serialized)
struct TerminalSafetyTests {
    /// Clears the screen, retitles the terminal (OSC … BEL), returns the cursor and reverses what follows.
    static let hostileName = "red\u{1B}[31m\u{1B}]0;owned\u{07}\r\u{202E}txt.exe\nnext.txt"
    static let hostileText = "Attackers hide \u{1B}[2J\u{1B}]0;retitled\u{07} escape sequences in otherwise ordinary notes."
    static let skippedName = "pic\u{1B}[5m\u{9B}31m.png"

    /// Runs insightctl under a pseudo-terminal, so it behaves as on an admin's screen.
    func onTerminal(_ daemon: DaemonHarness, _ arguments: [String]) throws -> String {
        let command = ([Binaries.insightctl, "--socket", daemon.socket] + arguments).map { "'" + $0 + "'" }.joined(separator: " ")
        let result = try runCommand("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"])
        #expect(result.status == 0, "insightctl \(arguments): \(result.stderr)")
        return result.stdout
    }

    /// What a terminal would obey: ESC other than the CLI's own SGR styling, CSI, BEL, a bare CR, bidi overrides.
    func obeyed(_ output: String) -> [String] {
        var found: [String] = []
        let scalars = Array(output.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar.value {
            case 0x1B:
                // The CLI's own styling: ESC [ digits m.
                var end = index + 1
                guard end < scalars.count, scalars[end] == "[" else { found.append("ESC"); continue }
                end += 1
                while end < scalars.count, ("0"..."9").contains(scalars[end]) || scalars[end] == ";" { end += 1 }
                if end >= scalars.count || scalars[end] != "m" { found.append("ESC[…") }
            case 0x07, 0x9B, 0x202E, 0x202D: found.append(String(format: "U+%04X", scalar.value))
            case 0x0D where index + 1 >= scalars.count || scalars[index + 1] != "\n": found.append("CR")
            default: continue
            }
        }
        return found
    }

    @Test func namesAndTextsAreShownEscapedOnATerminalAndInTheLog() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.write(Self.hostileName, Self.hostileText + "\n")
        try daemon.write(Self.skippedName, "not really a picture")
        try daemon.waitForStatus("the text file is stored and the picture skipped") { $0.files.ingested == 1 && $0.files.skipped == 1 }
        let id = try #require(try decode(RecentReply.self, daemon.ctl(["recent", "--json"])).insights.first?.id)

        let visibleName = "red\\e[31m\\e]0;owned\\a\\r\\u202etxt.exe\\nnext.txt"
        let screens = [
            ("sources", try onTerminal(daemon, ["sources"]), visibleName),
            ("show", try onTerminal(daemon, ["show", String(id)]), visibleName),
            ("failed", try onTerminal(daemon, ["failed"]), "pic\\e[5m\\x9b31m.png"),
            ("recent", try onTerminal(daemon, ["recent"]), "hide \\e[2J\\e]0;retitled\\a escape"),
            ("search", try onTerminal(daemon, ["search", "attackers"]), "\\e[2J"),
            ("export markdown", try onTerminal(daemon, ["export", "--format", "markdown"]), "hide \\e[2J\\e]0;retitled\\a escape"),
        ]
        for (command, screen, visible) in screens {
            #expect(obeyed(screen).isEmpty, "\(command) sent \(obeyed(screen)) to the terminal")
            #expect(screen.contains(visible), "\(command) does not show \(visible):\n\(screen)")
        }

        // JSON stays exact: the same text decodes to the control characters it holds.
        let exact = try decode(InsightDetail.self, daemon.ctl(["show", String(id), "--json"]))
        #expect(exact.text == Self.hostileText)
        #expect(exact.sources.map(\.path) == [Self.hostileName])

        // The daemon's log: one line per event, nothing a terminal would obey.
        let log = daemon.log
        #expect(log.contains("pic\\e[5m\\x9b31m.png"))
        #expect(!log.unicodeScalars.contains { VisibleText.needsEscape($0.value) && $0 != "\n" })
    }

    @Test(arguments: [
        ("plain text stays as it is", "plain text stays as it is"),
        ("\u{1B}[2J\u{1B}]0;t\u{07}", "\\e[2J\\e]0;t\\a"),
        ("a\r\nb\tc\0d\u{7F}", "a\\r\\nb\\tc\\0d\\x7f"),
        ("\u{85}\u{9B}", "\\x85\\x9b"),
        ("abc\u{202E}txt.exe \u{2066}x\u{2069} \u{200F}", "abc\\u202etxt.exe \\u2066x\\u2069 \\u200f"),
        ("café ☕ 東京", "café ☕ 東京"),
    ])
    func visibleEscapes(input: String, shown: String) {
        #expect(VisibleText.escape(input) == shown)
    }

    @Test func decodedRepliesShowWhatJSONHolds() throws {
        let nasty = "x\u{1B}[31m\u{202E}y\n\"q\"\\z\u{85}"
        let json = Array(try WireJSON.encoder().encode(ActionReply(ok: true, message: nasty)))
        let shown = try WireJSON.decoder().decode(ActionReply.self, from: Data(VisibleText.escapingStrings(inJSON: json)))
        #expect(shown.message == VisibleText.escape(nasty))
        #expect(shown.message == "x\\e[31m\\u202ey\\n\"q\"\\z\\x85")
        // Keys, numbers and plain strings are untouched.
        let plain = Array(#"{"a":"b","n":[1,2.5,true,null],"s":"\"\\\/é"}"#.utf8)
        #expect(VisibleText.escapingStrings(inJSON: plain) == plain)
    }
}
