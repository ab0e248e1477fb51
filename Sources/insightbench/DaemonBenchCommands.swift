import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Options every daemon benchmark takes.
struct CommonOptions: ParsableArguments {
    @Flag(help: "A few seconds: tiny corpus, few drops, short idle window (a smoke run, not a measurement).")
    var quick = false

    @Flag(help: "Print the results as JSON on standard output (progress goes to standard error).")
    var json = false

    @Option(help: "The insightd binary to drive (default: the one next to insightbench).")
    var insightd: String?

    @Option(help: "Seed of the generated corpus.")
    var seed: UInt64 = 42

    @Flag(help: "Keep the scratch folders under /tmp (inbox, state, daemon log) for inspection.")
    var keep = false

    func context() -> BenchContext {
        BenchContext(insightd: insightd ?? executableDirectory() + "/insightd", quick: quick, keep: keep, seed: seed) { message in
            FileHandle.standardError.write(Data(("insightbench: " + message + "\n").utf8))
        }
    }

    func emit(_ report: BenchReport) throws {
        var report = report
        report.machine = machineInfo()  // the load average at the end of the run says how busy the machine was
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(ReportTable.render(report))
        }
    }
}

/// Options of the bulk ingest benchmark.
struct IngestOptions: ParsableArguments {
    @Option(help: "Files in the generated corpus (quick: 100).")
    var files: Int?
    @Option(help: "Insights (paragraphs) per file.")
    var paragraphs = 10
    @Option(help: "Share of insights that exactly repeat an earlier one after normalization.")
    var exactShare = 0.2
    @Option(help: "Share of insights that repeat an earlier one with one word changed.")
    var nearShare = 0.1

    /// The corpus to generate; `full` is the benchmark's own default size when neither --files nor --quick is given.
    func spec(_ common: CommonOptions, files full: Int = 10_000) -> CorpusSpec {
        CorpusSpec(files: files ?? (common.quick ? 100 : full), paragraphs: paragraphs, exactShare: exactShare, nearShare: nearShare, seed: common.seed)
    }

    func validate() throws {
        guard (files ?? 1) > 0, paragraphs > 0 else { throw ValidationError("--files and --paragraphs must be at least 1") }
        guard exactShare >= 0, nearShare >= 0, exactShare + nearShare < 1 else {
            throw ValidationError("--exact-share and --near-share must be non-negative and add up to less than 1")
        }
    }
}

struct LatencyOptions: ParsableArguments {
    @Option(help: "Single-file drops (quick: 20).")
    var drops: Int?
    @Option(help: "The daemon's settle_ms for this run.")
    var settleMs = 50
}

struct IdleOptions: ParsableArguments {
    @Option(help: "Seconds of idle to measure (quick: 2).")
    var window: Double?
}

struct ScaleOptions: ParsableArguments {
    @Option(help: "Insights in the large database (quick: 5000).")
    var insights: Int?
    @Option(help: "Searches to time on it (quick: 20).")
    var searches: Int?
}

func machineInfo() -> BenchReport.Machine {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    let cpu = read("/proc/cpuinfo").split(separator: "\n").first { $0.hasPrefix("model name") }
        .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "?"
    let memory = read("/proc/meminfo").split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
        .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? 0
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return BenchReport.Machine(cpu: cpu, cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryGiB: (memory / 1024 / 1024 * 10).rounded() / 10,
                               kernel: "Linux " + release, sqlite3: sqlite3Path().map(sqliteVersion) ?? "not installed",
                               loadAverage: read("/proc/loadavg").split(separator: " ").prefix(3).joined(separator: " "))
}

struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Bulk ingest through a real insightd (dropped before start and while running) beside the sqlite3 floor.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: IngestOptions

    func run() throws {
        let context = common.context()
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.ingest = try IngestBenchmark.run(context, spec: options.spec(common))
        try common.emit(report)
    }
}

struct LatencyBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency", abstract: "Time from a file's rename into the inbox until search finds it.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: LatencyOptions

    func run() throws {
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.latency = try LatencyBenchmark.run(common.context(), drops: options.drops ?? (common.quick ? 20 : 1000), settleMs: options.settleMs)
        try common.emit(report)
    }
}

struct IdleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle", abstract: "Memory after start, CPU time and wake-ups of an idle daemon.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: IdleOptions

    func run() throws {
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.idle = try IdleBenchmark.run(common.context(), window: options.window ?? (common.quick ? 2 : 60))
        try common.emit(report)
    }
}

struct ScaleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Start-up and search with a large database (1,000,000 insights by default).")
    @OptionGroup var common: CommonOptions
    @OptionGroup var options: ScaleOptions

    func run() throws {
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.scale = try ScaleBenchmark.run(common.context(), insights: options.insights ?? (common.quick ? 5000 : 1_000_000),
                                              searches: options.searches ?? (common.quick ? 20 : 500))
        try common.emit(report)
    }
}

struct AllBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all", abstract: "Every benchmark in one run and one table; then the extraction and near-duplicate benchmarks.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var ingest: IngestOptions
    @OptionGroup var latency: LatencyOptions
    @OptionGroup var idle: IdleOptions
    @OptionGroup var scale: ScaleOptions
    @Flag(help: "Skip the extraction and near-duplicate benchmarks.")
    var daemonOnly = false

    func run() throws {
        let context = common.context()
        var report = BenchReport(machine: machineInfo(), quick: common.quick)
        report.ingest = try IngestBenchmark.run(context, spec: ingest.spec(common))
        report.latency = try LatencyBenchmark.run(context, drops: latency.drops ?? (common.quick ? 20 : 1000), settleMs: latency.settleMs)
        report.idle = try IdleBenchmark.run(context, window: idle.window ?? (common.quick ? 2 : 60))
        report.scale = try ScaleBenchmark.run(context, insights: scale.insights ?? (common.quick ? 5000 : 1_000_000),
                                              searches: scale.searches ?? (common.quick ? 20 : 500))
        try common.emit(report)
        if !daemonOnly {
            // The other benchmarks print their own tables; run them as they would be run by hand.
            for name in ["extraction", "neardup"] {
                var arguments = [name]
                if common.quick, subcommandAccepts(name, "--quick") { arguments.append("--quick") }
                if common.json, subcommandAccepts(name, "--json") { arguments.append("--json") }
                context.log("running insightbench \(arguments.joined(separator: " "))")
                let status = runSelf(arguments)
                if status != 0 { context.log("insightbench \(name) ended with status \(status)") }
            }
        }
    }

    private func subcommandAccepts(_ name: String, _ flag: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executableDirectory() + "/insightbench")
        process.arguments = [name, "--help"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        let help = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return help.contains(flag)
    }

    private func runSelf(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executableDirectory() + "/insightbench")
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
