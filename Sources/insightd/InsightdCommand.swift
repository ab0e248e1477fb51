import ArgumentParser

/// `insightd`: with no subcommand it runs the daemon in the foreground.
@main
struct InsightdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightd",
        abstract: "Collects insights from an inbox folder into a searchable SQLite store.",
        subcommands: [Run.self, Extract.self, GenerateManual.self],
        defaultSubcommand: Run.self
    )
}
