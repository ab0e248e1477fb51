import ArgumentParser
import Foundation
import InsightDaemon

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon in the foreground (the default).",
        discussion: """
            Settings come from defaults, then the config file (--config, $INSIGHTD_CONFIG, or \
            $CONFIGURATION_DIRECTORY/insightd.toml), then INSIGHTD_* environment variables, then these flags.
            Exit status: 0 after a clean stop, 1 when it cannot start, 2 for invalid settings.
            """)

    @Option(name: .long, help: "Read settings from this TOML file.")
    var config: String?

    @Option(name: .long, help: "The folder to watch for dropped files.")
    var inbox: String?

    @Option(name: .customLong("state-dir"), help: "Where the database lives (STATE/insights.sqlite).")
    var stateDir: String?

    @Option(name: .long, help: "The Unix socket for insightctl.")
    var socket: String?

    func run() async throws {
        var flags: [String: String] = [:]
        flags["inbox"] = inbox
        flags["state_dir"] = stateDir
        flags["socket"] = socket
        let sources = SettingsSources(configFile: config, flags: flags, environment: ProcessInfo.processInfo.environment)
        let code = await Daemon.run(sources: sources)
        if code != 0 { throw ExitCode(code) }
    }
}
