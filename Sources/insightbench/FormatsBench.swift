import ArgumentParser
import Foundation
import InsightCore

/// `insightbench formats`: parse throughput of every note format, beside the plain-text parser on the same
/// insights written as a plain list, in the same run.
struct FormatsBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "formats", abstract: "Parse throughput per note format.")

    @Option(help: "Insights per format.") var insights = 200_000
    @Option(help: "Insights per generated file.") var perFile = 200
    @Option(help: "Timed passes over each corpus (the fastest counts).") var passes = 3
    @Flag(help: "Print JSON instead of the table.") var json = false

    struct Row: Codable {
        var format: String
        var files: Int
        var bytes: Int
        var insights: Int
        var seconds: Double
        var megabytesPerSecond: Double
        var microsPerInsight: Double
        /// The same on this thread's CPU clock, which a busy machine inflates far less than the wall clock.
        var cpuMicrosPerInsight: Double
    }

    func run() throws {
        var generator = FormatsCorpus(seed: 7)
        let fileCount = max(1, insights / perFile)
        let corpora: [(DocumentFormat, String, [String])] = [
            (.text, "txt", (0..<fileCount).map { _ in generator.plainList(perFile) }),
            (.text, "txt", (0..<fileCount).map { _ in generator.wrappedProse(perFile) }),
            (.markdown, "md", (0..<fileCount).map { _ in generator.markdown(perFile) }),
            (.outline, "md", (0..<fileCount).map { _ in generator.outline(perFile) }),
            (.kindleClippings, "txt", (0..<fileCount).map { _ in generator.kindle(perFile) }),
            (.readwise, "md", (0..<fileCount).map { _ in generator.readwise(perFile) }),
        ]
        let names = ["text (one per line, the plain-text parser)", "text (hard-wrapped paragraphs)", "markdown", "outline (Logseq)",
                     "kindle-clippings", "readwise"]
        var rows: [Row] = []
        for ((format, ext, files), name) in zip(corpora, names) {
            let bytes = files.reduce(0) { $0 + $1.utf8.count }
            var best = Double.infinity
            var bestCPU = Double.infinity
            var count = 0
            for _ in 0..<max(1, passes) {
                count = 0
                let started = now()
                let startedCPU = threadCPUTime()
                for file in files {
                    let document = DocumentReader.parse(file, fileExtension: ext, minWords: 6)
                    precondition(document.format == format, "\(name): read as \(document.format), generated as \(format)")
                    count += document.insights.count
                }
                best = min(best, now() - started)
                bestCPU = min(bestCPU, threadCPUTime() - startedCPU)
            }
            rows.append(Row(format: name, files: files.count, bytes: bytes, insights: count, seconds: best,
                            megabytesPerSecond: Double(bytes) / 1e6 / best, microsPerInsight: best * 1e6 / Double(max(count, 1)),
                            cpuMicrosPerInsight: bestCPU * 1e6 / Double(max(count, 1))))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(["formats": rows]), as: UTF8.self))
            return
        }
        let plain = rows[0]
        print("| format | corpus | insights | MB/s | µs per insight | CPU µs per insight | beside the plain-text parser | goal ≤ 25 µs |")
        print("|---|---|---|---|---|---|---|---|")
        for row in rows {
            let ratio = row.megabytesPerSecond / plain.megabytesPerSecond
            print("| \(row.format) | \(row.files) files, \(String(format: "%.1f", Double(row.bytes) / 1e6)) MB | \(row.insights) "
                  + "| \(String(format: "%.1f", row.megabytesPerSecond)) | \(String(format: "%.2f", row.microsPerInsight)) "
                  + "| \(String(format: "%.2f", row.cpuMicrosPerInsight)) "
                  + "| \(String(format: "%.2f", ratio))× its MB/s | \(row.microsPerInsight <= 25 ? "yes" : "NO") |")
        }
    }
}

/// CPU time of the calling thread, in seconds.
private func threadCPUTime() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Generated notes in each format, from the same made-up sentences the other benchmarks use.
struct FormatsCorpus {
    var words: CorpusGenerator

    init(seed: UInt64) { words = CorpusGenerator(seed: seed) }

    mutating func sentence() -> String { words.paragraph() }

    mutating func plainList(_ count: Int) -> String {
        (0..<count).map { _ in sentence() }.joined(separator: "\n") + "\n"
    }

    /// Paragraphs wrapped at 72 columns, separated by blank lines.
    mutating func wrappedProse(_ count: Int) -> String {
        var out = ""
        for _ in 0..<count {
            var line = ""
            for word in sentence().split(separator: " ") {
                if !line.isEmpty, line.count + 1 + word.count > 72 {
                    out += line + "\n"
                    line = ""
                }
                line += line.isEmpty ? String(word) : " " + word
            }
            out += line + "\n\n"
        }
        return out
    }

    mutating func markdown(_ count: Int) -> String {
        var out = "---\ntitle: \(words.word().capitalized) notes\ndate: 2024-05-01\ntags: [reading, \(words.word())]\n---\n\n"
        for index in 0..<count {
            if index % 10 == 0 { out += "\n## \(words.word().capitalized) \(words.word())\n\n" }
            let text = sentence()
            switch index % 4 {
            case 0: out += "- **\(text.prefix(12))**\(text.dropFirst(12)) #\(words.word())\n"
            case 1: out += "- \(text) See [[\(words.word().capitalized)]].\n"
            case 2: out += "\n> \(text)\n\n"
            default: out += "\n\(text) [source](https://example.com/\(words.word()))\n\n"
            }
        }
        return out
    }

    mutating func outline(_ count: Int) -> String {
        var out = "tags:: \(words.word())\n\n"
        for index in 0..<count {
            if index % 5 == 0 { out += "- \(words.word().capitalized)\n" }
            out += "\t- \(sentence())\n"
        }
        return out
    }

    mutating func kindle(_ count: Int) -> String {
        var out = ""
        for index in 0..<count {
            out += "\u{FEFF}\(words.word().capitalized) \(words.word()) (\(words.word().capitalized), \(words.word().capitalized))\r\n"
            out += "- Your Highlight on page \(index + 1) | Location \(index * 10 + 100)-\(index * 10 + 104) | Added on Tuesday, March 5, 2019 8:14:02 PM\r\n\r\n"
            out += sentence() + "\r\n==========\r\n"
        }
        return out
    }

    mutating func readwise(_ count: Int) -> String {
        var out = "# \(words.word().capitalized)\n\n## Metadata\n- Author: [[\(words.word().capitalized)]]\n- Full Title: \(words.word().capitalized)\n- Category: #books\n\n## Highlights\n"
        for index in 0..<count {
            out += "- \(sentence()) ([Location \(index * 7 + 10)](https://readwise.io/to_kindle?action=open&asin=B0&location=\(index * 7 + 10)))\n"
            if index % 3 == 0 { out += "    - Note: \(sentence())\n" }
            if index % 4 == 0 { out += "    - Tags: [[\(words.word())]]\n" }
        }
        return out
    }
}
