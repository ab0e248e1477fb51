import Foundation

/// Renders a run's results as one Markdown table: figure, value, the peer measured in the same run, goal, verdict.
enum ReportTable {
    static func render(_ report: BenchReport) -> String {
        var rows: [[String]] = []
        func row(_ metric: String, _ value: String, _ peer: String = "", _ goal: String = "", _ met: Bool? = nil) {
            rows.append([metric, value, peer, goal, met.map { $0 ? "yes" : "NO" } ?? ""])
        }
        func corpusRow(_ spec: CorpusSpec, occurrences: Int, unique: Int) {
            row("corpus", "\(occurrences) insights (\(unique) unique) in \(spec.files) files, "
                + "\(Int(spec.exactShare * 100)) % exact + \(Int(spec.nearShare * 100)) % near duplicates, seed \(spec.seed)")
        }
        if let ingest = report.ingest {
            corpusRow(ingest.corpus, occurrences: ingest.occurrences, unique: ingest.unique)
            let floorRate = ingest.floor?.insightsPerSecond
            let floorText = ingest.floor.map { "sqlite3: \(grouped($0.insightsPerSecond)) insights/s (\(grouped($0.rowsPerSecond)) rows/s, \(format($0.seconds, 2)) s)" } ?? "sqlite3 not installed"
            for (name, run) in [("bulk ingest, dropped before start", ingest.droppedBeforeStart), ("bulk ingest, dropped while running", ingest.droppedWhileRunning)] {
                let share = floorRate.map { " = \(Int((run.insightsPerSecond / $0 * 100).rounded())) % of floor" } ?? ""
                row(name, rate(run, share), floorText, "≥ 50 % of floor", floorRate.map { run.countsMatch && run.insightsPerSecond >= 0.5 * $0 })
            }
            if let stages = ingest.stages {
                let daemon = 1e6 / min(ingest.droppedBeforeStart.insightsPerSecond, ingest.droppedWhileRunning.insightsPerSecond)
                row("time per insight: daemon / parse stage / store stage", "\(format(daemon, 1)) / \(format(stages.parseMicrosPerInsight, 1)) / "
                    + "\(format(stages.storeMicrosPerInsight, 1)) µs", stages.floorMicrosPerInsight.map { "sqlite3: \(format($0, 1)) µs" } ?? "")
            }
            row("RSS after bulk", mebibytes(ingest.rssAfterBulkKiB))
        }
        if let latency = report.latency {
            row("drop to searchable p50 (\(latency.drops) drops)", "\(format(latency.p50Ms, 1)) ms", "settle \(latency.settleMs) ms",
                "≤ \(latency.settleMs + 20) ms", latency.p50Ms <= Double(latency.settleMs + 20))
            row("drop to searchable p99", "\(format(latency.p99Ms, 1)) ms (p90 \(format(latency.p90Ms, 1)), max \(format(latency.maxMs, 1)))",
                "", "≤ \(latency.settleMs + 100) ms", latency.p99Ms <= Double(latency.settleMs + 100))
        }
        if let idle = report.idle {
            row("RSS fresh", mebibytes(idle.rssFreshKiB), "", "≤ 30 MB", Double(idle.rssFreshKiB) * 1024 <= 30_000_000)
            row("idle CPU (\(Int(idle.windowSeconds.rounded())) s)", "\(format(idle.cpuPercent, 3)) % (\(format(idle.cpuSeconds, 2)) s)", "", "< 0.1 %", idle.cpuPercent < 0.1)
            let busiest = idle.busiestThreads.map { "\($0.name): \($0.wakeups)" }.joined(separator: ", ")
            // Watchdog (off outside systemd) and reconcile (300 s) are the only timers: no thread should wake in a 60 s window.
            row("idle wake-ups", "\(idle.wakeups) in \(Int(idle.windowSeconds.rounded())) s over \(idle.threads) threads"
                + (busiest.isEmpty ? "" : " (\(busiest))"), "", "no periodic timer", idle.wakeups <= Int(idle.windowSeconds / 60 * 2))
        }
        if let scale = report.scale {
            row("at scale: database", "\(grouped(Double(scale.insights))) insights in \(scale.files) files, built with \(scale.builtWith) "
                + "at \(grouped(scale.buildInsightsPerSecond)) insights/s")
            row("at scale: start to socket ready", "\(format(scale.readySeconds * 1000, 1)) ms")
            row("at scale: start-up scan done", "\(format(scale.startupScanSeconds, 2)) s (\(scale.files) unchanged files)")
            row("at scale: search p50 / p99 (\(scale.searches))", "\(format(scale.searchP50Ms, 2)) ms / \(format(scale.searchP99Ms, 2)) ms")
            row("at scale: database size", "\(mebibytes(Int(scale.databaseBytes / 1024))), \(Int(scale.bytesPerInsight.rounded())) bytes per insight")
            row("at scale: RSS", mebibytes(scale.rssKiB))
        }
        if let postgres = report.postgres {
            corpusRow(postgres.corpus, occurrences: postgres.occurrences, unique: postgres.unique)
            row("store server", postgres.server)
            let sqlite = postgres.sqlite
            row("bulk ingest, 1 daemon, SQLite", rate(sqlite))
            let peer = "SQLite: \(grouped(sqlite.insightsPerSecond)) insights/s"
            for round in postgres.rounds {
                let daemons = round.daemons == 1 ? "1 daemon" : "\(round.daemons) daemons"
                let files = "\(round.filesPerDaemon) files" + (round.daemons == 1 ? "" : " each")
                let name = "bulk ingest, \(daemons), PostgreSQL" + (round.overlapping ? ", every file to each" : "") + " (\(files))"
                let share = round.run.insightsPerSecond / sqlite.insightsPerSecond
                // The goal is one daemon's: several daemons share one server and, in bulk, take turns at writing.
                let single = round.daemons == 1 && !round.overlapping
                row(name, rate(round.run, " = \(Int((share * 100).rounded())) % of SQLite"), peer, single ? "≥ 40 % of SQLite" : "",
                    single ? round.run.countsMatch && share >= 0.4 : nil)
            }
        }
        let header = ["figure", "value", "floor / peer (same run)", "goal", "met"]
        var lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.map { _ in "---" }.joined(separator: "|") + "|"]
        lines += rows.map { "| " + $0.map { $0.replacingOccurrences(of: "|", with: "/") }.joined(separator: " | ") + " |" }
        let m = report.machine
        lines.append("")
        lines.append("Machine: \(m.cpu), \(m.cores) cores, \(format(m.memoryGiB, 1)) GiB, \(m.kernel), sqlite3 \(m.sqlite3); load average at the end \(m.loadAverage)"
                     + (report.quick ? ". QUICK RUN: smoke test only, not a measurement." : "."))
        return lines.joined(separator: "\n")
    }

    /// An ingest's rates and duration, and a warning when the store holds other rows than the corpus gives.
    static func rate(_ run: IngestRun, _ suffix: String = "") -> String {
        "\(grouped(run.insightsPerSecond)) insights/s, \(grouped(run.filesPerSecond)) files/s (\(format(run.seconds, 2)) s)\(suffix)"
            + (run.countsMatch ? "" : " (COUNTS WRONG: \(run.unique)/\(run.occurrences))")
    }

    static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let digits = String(Int(value.rounded()))
        var out = ""
        for (index, character) in digits.reversed().enumerated() {
            if index > 0, index % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }

    static func mebibytes(_ kib: Int) -> String { "\(format(Double(kib) / 1024, 1)) MiB" }
}
