import ArgumentParser
import Foundation
import InsightExtract

/// `insightbench extraction`: InsightExtract against trafilatura on the shared extraction benchmark,
/// both timed per page on one thread and scored by the benchmark's own `score.py`.
struct ExtractionBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extraction",
        abstract: "Main-text extraction quality and speed.",
        discussion: """
            Unpacks the benchmark pages (score.py --unpack), extracts each with InsightExtract (timed per page,
            single thread, excluding process start and file reading), writes OUT/ours/<id>.txt, scores with
            score.py; then does the same with trafilatura through Tests/Benchmarks/trafilatura_driver.py
            (installing trafilatura with pip if it is missing). Use a release build for the timings.
            """)

    @Option(help: "Folder of unpacked pages (<id>.html); default: unpack the benchmark into OUT/pages.")
    var pages: String?

    @Option(help: "The benchmark folder holding score.py and ground-truth.json (default: shared/bench/extraction).")
    var bench: String?

    @Option(help: "Working folder for pages and outputs (default: a new folder under the temporary directory).")
    var out: String?

    @Flag(help: "Only a handful of pages (a smoke test).")
    var quick = false

    @Option(help: "How many pages --quick uses.")
    var quickPages = 8

    @Option(help: "Timed passes over the pages for InsightExtract (the mean is reported).")
    var passes = 3

    @Flag(help: "Skip trafilatura.")
    var noTrafilatura = false

    @Option(help: "The Python interpreter for score.py and trafilatura.")
    var python = "python3"

    struct Row {
        var name: String
        var pages: Int
        var f1: Double
        var precision: Double
        var recall: Double
        var msPerPage: Double
        var cpuMsPerPage: Double
    }

    func run() async throws {
        let fm = FileManager.default
        guard let benchDir = bench ?? Self.findBench() else {
            throw ValidationError("no benchmark folder found; pass --bench DIR (the folder with score.py)")
        }
        let scorePy = benchDir + "/score.py"
        guard fm.fileExists(atPath: scorePy) else { throw ValidationError("\(scorePy) does not exist") }
        let work = out ?? (NSTemporaryDirectory() + "insightbench-extraction-\(getpid())")
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)

        // 1. The pages.
        let pagesDir: String
        if let pages {
            pagesDir = pages
        } else {
            pagesDir = work + "/pages"
            let (status, output) = try Self.runProcess([python, scorePy, "--unpack", pagesDir])
            guard status == 0 else { throw ValidationError("score.py --unpack failed:\n\(output)") }
        }
        var names = try fm.contentsOfDirectory(atPath: pagesDir).filter { $0.hasSuffix(".html") }.sorted()
        if quick { names = Array(names.prefix(quickPages)) }
        guard !names.isEmpty else { throw ValidationError("no .html pages in \(pagesDir)") }
        let ids = names.map { String($0.dropLast(5)) }

        // 2. A scorer for exactly these pages (score.py reads ground-truth.json beside itself).
        let scorer = try Self.scorer(for: ids, benchDir: benchDir, work: work)

        // 3. InsightExtract.
        let inputs = try names.map { try ArticleExtractor.readPage(atPath: pagesDir + "/" + $0) }
        let oursDir = work + "/ours"
        try fm.createDirectory(atPath: oursDir, withIntermediateDirectories: true)
        _ = try? ArticleExtractor.extract(html: inputs[0])  // warm-up, untimed
        var texts = [String](repeating: "", count: inputs.count)
        var total: Duration = .zero
        var cpuTotal = 0.0
        let clock = ContinuousClock()
        for _ in 0..<max(1, passes) {
            for (k, bytes) in inputs.enumerated() {
                let cpuStart = Self.threadCPUSeconds()
                let start = clock.now
                let article = try? ArticleExtractor.extract(html: bytes)
                total += clock.now - start
                cpuTotal += Self.threadCPUSeconds() - cpuStart
                texts[k] = article?.text ?? ""
            }
        }
        for (k, id) in ids.enumerated() {
            try Data(texts[k].utf8).write(to: URL(fileURLWithPath: oursDir + "/" + id + ".txt"))
        }
        let calls = Double(inputs.count * max(1, passes))
        let ms = Self.milliseconds(total) / calls
        var rows = [try score(name: "InsightExtract", dir: oursDir, scorer: scorer, pages: ids.count, ms: ms,
                              cpuMs: cpuTotal * 1000 / calls)]

        // 4. trafilatura, timed the same way in Python.
        if !noTrafilatura {
            let driver = try Self.findDriver()
            try Self.ensureTrafilatura(python)
            for (label, extra) in [("trafilatura", [String]()), ("trafilatura, defaults", ["--include-comments"])] {
                let dir = work + (extra.isEmpty ? "/trafilatura" : "/trafilatura-defaults")
                var args = [python, driver, pagesDir, dir]
                if quick { args += ["--limit", String(ids.count)] }
                args += extra
                let (status, output) = try Self.runProcess(args)
                guard status == 0, let last = output.split(separator: "\n").last,
                      let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
                      let msPage = obj["ms_per_page"] as? Double
                else { throw ValidationError("trafilatura driver failed:\n\(output)") }
                let version = obj["version"] as? String ?? "?"
                let name = label.replacingOccurrences(of: "trafilatura", with: "trafilatura \(version)")
                rows.append(try score(name: name, dir: dir, scorer: scorer, pages: ids.count, ms: msPage,
                                      cpuMs: obj["cpu_ms_per_page"] as? Double ?? .nan))
            }
        }

        // 5. The table.
        print("extraction benchmark: \(ids.count) pages from \(benchDir)\(quick ? " (quick)" : "")")
        print("outputs under \(work)")
        print(Self.pad("extractor", 30) + Self.pad("F1", 8) + Self.pad("precision", 11) + Self.pad("recall", 8)
            + Self.pad("ms/page", 9) + "cpu ms/page")
        for r in rows {
            print(Self.pad(r.name, 30) + Self.pad(String(format: "%.4f", r.f1), 8)
                + Self.pad(String(format: "%.4f", r.precision), 11) + Self.pad(String(format: "%.4f", r.recall), 8)
                + Self.pad(String(format: "%.2f", r.msPerPage), 9) + String(format: "%.2f", r.cpuMsPerPage))
        }
        print("ms/page is wall-clock time per extraction call; cpu ms/page is the calling thread's CPU time")
        print("(the same unless other processes compete for the cores).")
        #if DEBUG
        print("note: this is a debug build; timings are only meaningful with `swift build -c release`")
        #endif
    }

    private func score(name: String, dir: String, scorer: String, pages: Int, ms: Double, cpuMs: Double) throws -> Row {
        let (status, output) = try Self.runProcess([python, scorer, dir])
        guard status == 0, let line = output.split(separator: "\n").first(where: { $0.hasPrefix("precision") }) else {
            throw ValidationError("score.py failed for \(name):\n\(output)")
        }
        // "precision 0.9421  recall 0.9784  F1 0.9599"
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        func value(after key: String) -> Double {
            guard let k = parts.firstIndex(where: { $0 == key }), k + 1 < parts.count else { return .nan }
            return Double(parts[k + 1]) ?? .nan
        }
        return Row(name: name, pages: pages, f1: value(after: "F1"), precision: value(after: "precision"),
                   recall: value(after: "recall"), msPerPage: ms, cpuMsPerPage: cpuMs)
    }

    // MARK: Helpers

    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func milliseconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    /// The package root, from this source file's path.
    static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    static func findBench() -> String? {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["INSIGHT_BENCH_EXTRACTION"] { candidates.append(env) }
        let cwd = FileManager.default.currentDirectoryPath
        candidates += [
            cwd + "/../shared/bench/extraction", packageRoot + "/../shared/bench/extraction",
            cwd + "/shared/bench/extraction", "/work/shared/bench/extraction",
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/score.py") }
            .map { URL(fileURLWithPath: $0).standardized.path }
    }

    static func findDriver() throws -> String {
        let rel = "/Tests/Benchmarks/trafilatura_driver.py"
        for root in [packageRoot, FileManager.default.currentDirectoryPath] where FileManager.default.fileExists(atPath: root + rel) {
            return root + rel
        }
        throw ValidationError("cannot find Tests/Benchmarks/trafilatura_driver.py; run from the package root")
    }

    static func ensureTrafilatura(_ python: String) throws {
        if try runProcess([python, "-c", "import trafilatura"]).0 == 0 { return }
        print("installing trafilatura with pip ...")
        let (status, output) = try runProcess([python, "-m", "pip", "install", "--quiet", "trafilatura", "lxml_html_clean"])
        guard status == 0, try runProcess([python, "-c", "import trafilatura"]).0 == 0 else {
            throw ValidationError("pip install trafilatura failed:\n\(output)")
        }
    }

    /// score.py scores every page of its ground-truth.json; for a subset, a copy with a trimmed truth file.
    static func scorer(for ids: [String], benchDir: String, work: String) throws -> String {
        let truthData = try Data(contentsOf: URL(fileURLWithPath: benchDir + "/ground-truth.json"))
        guard let truth = try JSONSerialization.jsonObject(with: truthData) as? [String: Any] else {
            throw ValidationError("cannot read ground-truth.json")
        }
        if Set(truth.keys) == Set(ids) { return benchDir + "/score.py" }
        let dir = work + "/scorer"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var subset: [String: Any] = [:]
        for id in ids { if let v = truth[id] { subset[id] = v } }
        try JSONSerialization.data(withJSONObject: subset).write(to: URL(fileURLWithPath: dir + "/ground-truth.json"))
        let copy = dir + "/score.py"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: benchDir + "/score.py", toPath: copy)
        return copy
    }

    static func runProcess(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
