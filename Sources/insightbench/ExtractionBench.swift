import ArgumentParser

struct ExtractionBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extraction", abstract: "Main-text extraction quality and speed.")
    func run() async throws {}
}
