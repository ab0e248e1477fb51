import ArgumentParser
import Foundation
import InsightExtract

/// `insightd extract [--out DIR] [--json] FILE...`: the main text of saved pages.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Extract the main text of saved HTML files.",
        discussion: """
            Prints each page's main text to standard output, paragraphs separated by blank lines.
            With --out, writes DIR/NAME.txt instead, NAME being the file name without .html (or .html.gz).
            """)

    @Option(name: .shortAndLong, help: "Write DIR/NAME.txt for each FILE instead of printing.")
    var out: String?

    @Flag(help: "Print (or write) the article as JSON, with its metadata.")
    var json = false

    @Option(help: "The charset of the pages, as an HTTP Content-Type would give it.")
    var charset: String?

    @Argument(help: "HTML files (.html, or .html.gz).")
    var files: [String]

    func run() throws {
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var failures = 0
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        for (k, file) in files.enumerated() {
            do {
                let article = try ArticleExtractor.extract(fileAtPath: file, contentTypeCharset: charset)
                let text = json ? String(decoding: try encoder.encode(article), as: UTF8.self) : article.text
                if let out {
                    let path = out + "/" + ArticleExtractor.outputName(forPath: file) + (json ? ".json" : ".txt")
                    try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path))
                } else {
                    if k > 0 { print("") }
                    print(text)
                }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("insightd extract: \(file): \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
