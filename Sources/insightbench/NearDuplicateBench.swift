import ArgumentParser

struct NearDuplicateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "neardup", abstract: "Near-duplicate detection throughput and accuracy.")
    func run() async throws {}
}
