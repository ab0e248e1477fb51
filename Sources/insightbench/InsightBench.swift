import ArgumentParser

/// `insightbench`: measures insightd and prints its figures beside its peers' from the same run.
@main
struct InsightBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insightbench",
        abstract: "Benchmarks for insightd (use a release build).",
        subcommands: [ExtractionBench.self, NearDuplicateBench.self,
                      IngestBench.self, LatencyBench.self, IdleBench.self, ScaleBench.self, AllBench.self, SearchBench.self,
                      PostgresBench.self, FormatsBench.self, FloodBench.self, SemanticBench.self]
    )
}
