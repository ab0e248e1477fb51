import Foundation
import InsightClient
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import Testing

/// The sentence model the tests run: `$INSIGHTD_MODEL_DIR`, else where `deploy/fetch-model.sh` installs it.
enum SentenceModel {
    static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["INSIGHTD_MODEL_DIR"], !dir.isEmpty { return dir }
        let data = ProcessInfo.processInfo.environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.local/share"
        return data + "/insightd/models/all-MiniLM-L6-v2"
    }

    /// The environment that turns meaning features on with the model; fails the test when the model is missing.
    static func environment(_ extra: [String: String] = [:]) throws -> [String: String] {
        guard FileManager.default.fileExists(atPath: directory + "/model.safetensors") else {
            throw HarnessError("no sentence model at \(directory): run deploy/fetch-model.sh (deploy/test.sh does)")
        }
        return extra.merging(["INSIGHTD_SEMANTIC_ENABLED": "true", "INSIGHTD_SEMANTIC_MODEL_DIR": directory]) { old, _ in old }
    }
}

/// Related insights, search by meaning, paraphrase suggestions and merges through the real daemon, the real
/// model and the real insightctl.
@Suite("Meaning: sentence vectors end to end", .serialized)
struct SemanticTests {
    let sleep = "Sleep deprivation makes people much worse at judging how well they are performing."
    let sleepAgain = "People who lack sleep are much worse at judging how well they are doing their work."
    let chips = "Open models shift value from software vendors to the chip makers who sell the hardware."
    let chipsAgain = "Open models move value away from software vendors and toward chip makers selling hardware."
    let suburbs = "Remote work moved spending from city centres to the suburbs and small towns nearby."
    let coffee = "Drinking coffee after two in the afternoon cuts deep sleep by about twenty percent in adults."
    let tea = "Drinking coffee after four in the afternoon cuts deep sleep by about twenty percent in adults."

    @Test(arguments: TestStore.allCases)
    func relatedSearchParaphrasesKeepApartAndMerge(store: TestStore) throws {
        let daemon = try DaemonHarness(environment: try SentenceModel.environment(try store.environment([
            "INSIGHTD_SEMANTIC_PARAPHRASE_THRESHOLD": "0.75",
        ])))
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.moveIn("notes.txt", [sleep, chips, suburbs, coffee].joined(separator: "\n") + "\n")
        try waitEmbedded(daemon, insights: 4)
        try daemon.moveIn("later.txt", [sleepAgain, chipsAgain, tea].joined(separator: "\n") + "\n")
        let report = try waitEmbedded(daemon, insights: 7)
        let semantic = try #require(report.semantic)
        #expect(semantic.model == "all-MiniLM-L6-v2")
        #expect(semantic.indexed == 7)

        let ids = try idsByText(daemon)
        let sleepID = try #require(ids[sleep]), sleepAgainID = try #require(ids[sleepAgain])
        let chipsID = try #require(ids[chips]), chipsAgainID = try #require(ids[chipsAgain])
        let coffeeID = try #require(ids[coffee]), teaID = try #require(ids[tea])

        // related: the other wording first, never the insight itself.
        let related = try decode(RelatedReply.self, daemon.ctl(["related", String(sleepID), "--json"]))
        #expect(related.related.first?.id == sleepAgainID)
        #expect(!related.related.contains { $0.id == sleepID })
        #expect(related.related.map(\.score) == related.related.map(\.score).sorted(by: >))
        let relatedText = try daemon.ctl(["related", String(chipsID)])
        #expect(relatedText.status == 0)
        #expect(relatedText.stdout.split(separator: "\n").first?.contains("#\(chipsAgainID)") == true)
        // show lists the closest under "related".
        let shown = try decode(InsightDetail.self, daemon.ctl(["show", String(chipsID), "--json"]))
        #expect(shown.related.first?.id == chipsAgainID)
        #expect(shown.related.count <= 5 && shown.related.allSatisfy { $0.score >= 0.3 })
        #expect(try daemon.ctl(["show", String(chipsID)]).stdout.contains("related:"))

        // search: by meaning alone finds a text with none of the words; words alone do not.
        let meaning = try decode(SearchReply.self, daemon.ctl(["search", "--meaning", "tired people misjudge their own work", "--json"]))
        #expect(meaning.mode == "meaning")
        #expect(Set(meaning.results.prefix(2).map(\.id)) == [sleepID, sleepAgainID])
        let words = try decode(SearchReply.self, daemon.ctl(["search", "--words", "hardware", "--json"]))
        #expect(words.mode == "words")
        #expect(Set(words.results.map(\.id)) == [chipsID, chipsAgainID])
        // hybrid (the default): insights found by both rank first, and a word hit is never lost.
        let hybrid = try decode(SearchReply.self, daemon.ctl(["search", "chip makers hardware", "--json"]))
        #expect(hybrid.mode == "hybrid")
        #expect(Set(hybrid.results.prefix(2).map(\.id)) == [chipsID, chipsAgainID])

        // paraphrases: the later wordings are suggested as the earlier ones said again; a changed figure is not.
        let suggestions = try decode(ParaphrasesReply.self, daemon.ctl(["paraphrases", "--json"])).paraphrases
        let pairs = Set(suggestions.map { [$0.insight.id, $0.of.id] })
        #expect(pairs.contains([sleepAgainID, sleepID]))
        #expect(pairs.contains([chipsAgainID, chipsID]))
        #expect(!pairs.contains([teaID, coffeeID]))
        #expect(suggestions.allSatisfy { $0.score >= 0.75 })

        // keep-apart: dismissed for good.
        let apart = try daemon.ctl(["keep-apart", String(sleepAgainID), String(sleepID)])
        #expect(apart.status == 0)
        let after = try decode(ParaphrasesReply.self, daemon.ctl(["paraphrases", "--json"])).paraphrases
        #expect(!after.contains { $0.insight.id == sleepAgainID })

        // merge: the later wording becomes a variant of the earlier, with its place; it leaves the index.
        let merge = try daemon.ctl(["merge", String(chipsAgainID), String(chipsID)])
        #expect(merge.status == 0, "\(merge.stderr)")
        let merged = try decode(InsightDetail.self, daemon.ctl(["show", String(chipsID), "--json"]))
        #expect(merged.variants.map(\.text) == [chipsAgain])
        #expect(merged.sources.map(\.path).sorted() == ["later.txt", "notes.txt"])
        #expect(!merged.related.contains { $0.id == chipsAgainID })
        #expect(try daemon.ctl(["show", String(chipsAgainID)]).status != 0)
        #expect(try decode(ParaphrasesReply.self, daemon.ctl(["paraphrases", "--json"])).paraphrases.isEmpty)
        // Export carries the relations.
        let export = try daemon.ctl(["export", "--format", "jsonl"])
        let records = try export.stdout.split(separator: "\n").map { try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8)) }
        #expect(records.first { $0.id == sleepID }?.related.first == sleepAgainID)

        let verify = try daemon.ctl(["status", "--verify"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("6 of 6 insights embedded"))
    }

    @Test func withoutTheModelStatusSaysWhyAndEverythingElseWorks() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_SEMANTIC_ENABLED": "true", "INSIGHTD_SEMANTIC_MODEL_DIR": "/nonexistent/model"])
        try daemon.start()
        defer { _ = try? daemon.stop() }
        try daemon.moveIn("notes.txt", sleep + "\n" + chips + "\n")
        let report = try daemon.waitForStatus("two insights are stored") { $0.insights.unique == 2 && $0.semantic?.state == "off" }
        let reason = try #require(report.semantic?.reason)
        #expect(reason.contains("/nonexistent/model"))
        #expect(reason.contains("deploy/fetch-model.sh"))
        #expect(try daemon.ctl(["status"]).stdout.contains("off: no sentence model"))
        let search = try decode(SearchReply.self, daemon.ctl(["search", "chip", "--json"]))
        #expect(search.results.count == 1)
        #expect(search.mode == "words")
        let meaning = try daemon.ctl(["search", "--meaning", "chips"])
        #expect(meaning.status == 1)
        #expect(meaning.stderr.contains("deploy/fetch-model.sh"))
        let id = try #require(search.results.first?.id)
        let related = try daemon.ctl(["related", String(id)])
        #expect(related.status == 1)
        #expect(related.stderr.contains("cannot find related insights"))
    }

    /// OpenBLAS (about 3 MiB and a thread) is loaded when there is a first text to embed, not when the daemon starts.
    @Test func openBLASIsLoadedOnlyOnceThereIsSomethingToEmbed() throws {
        let daemon = try DaemonHarness(environment: try SentenceModel.environment())
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let pid = try #require(daemon.process?.processIdentifier)
        func mapsOpenBLAS() throws -> Bool {
            let maps = try #require(FileHandle(forReadingAtPath: "/proc/\(pid)/maps")).readDataToEndOfFile()
            #expect(!maps.isEmpty)
            return String(decoding: maps, as: UTF8.self).contains("libopenblas")
        }
        try daemon.waitForStatus(timeout: 60, "the model is loaded and nothing waits") { $0.semantic?.state == "idle" }
        #expect(try !mapsOpenBLAS())
        try daemon.moveIn("one.txt", coffee + "\n")
        try waitEmbedded(daemon, insights: 1)
        #expect(try mapsOpenBLAS())
    }

    @Test func aKilledDaemonResumesEmbeddingWithNothingLostOrCountedTwice() throws {
        let daemon = try DaemonHarness(environment: try SentenceModel.environment())
        try daemon.start()
        let lines = (1...300).map { "Observation \($0): the team that ships small changes every day learns about its users faster than one that ships big releases." }
        try daemon.moveIn("many.txt", lines.joined(separator: "\n") + "\n")
        // Killed while the backlog runs (or just after it, on a fast machine: the restart must agree either way).
        try waitUntil(timeout: 120, "embedding has begun") { (try? daemon.status().semantic?.embedded ?? 0) ?? 0 > 0 }
        daemon.crash()
        try daemon.start()
        defer { _ = try? daemon.stop() }
        let report = try waitEmbedded(daemon, insights: 300, timeout: 300)
        #expect(report.semantic?.embedded == 300)
        #expect(report.semantic?.indexed == 300)
        let verify = try daemon.ctl(["status", "--verify"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    @Test func twoDaemonsSharingPostgreSQLEmbedEachInsightOnce() throws {
        let environment = try SentenceModel.environment(try TestStore.postgresql.environment())
        let alpha = try DaemonHarness(environment: environment.merging(["INSIGHTD_STORE_HOST": "alpha"]) { $1 })
        let beta = try DaemonHarness(environment: environment.merging(["INSIGHTD_STORE_HOST": "beta"]) { $1 })
        try alpha.start()
        try beta.start()
        defer {
            _ = try? alpha.stop()
            _ = try? beta.stop()
        }
        let lines = (1...120).map { "Finding \($0): teams that write their decisions down argue less about what was decided and why." }
        try alpha.moveIn("a.txt", lines.prefix(60).joined(separator: "\n") + "\n")
        try beta.moveIn("b.txt", lines.suffix(60).joined(separator: "\n") + "\n")
        try waitEmbedded(alpha, insights: 120, timeout: 300)
        try waitEmbedded(beta, insights: 120, timeout: 300)
        // Each daemon logs every batch it embedded: together they embedded each insight once.
        func embedded(_ log: String) -> Int {
            log.split(separator: "\n").filter { $0.contains("embedded a batch") }.compactMap { line -> Int? in
                guard let range = line.range(of: "count=") else { return nil }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }.reduce(0, +)
        }
        #expect(embedded(alpha.log) + embedded(beta.log) == 120)
        // Each finds the other's vectors: related works on both.
        let firstOnBeta = try decode(SearchReply.self, beta.ctl(["search", "--meaning", "decisions written down", "--limit", "3", "--json"]))
        #expect(firstOnBeta.results.count == 3)
    }

    /// Waits until `insights` are stored and every one has its vector.
    @discardableResult
    func waitEmbedded(_ daemon: DaemonHarness, insights: Int, timeout: Double = 120) throws -> StatusReport {
        try daemon.waitForStatus(timeout: timeout, "\(insights) insights are embedded") { report in
            report.insights.unique == insights && report.semantic?.pending == 0 && report.semantic?.embedded == insights
                && report.semantic?.indexed == insights
        }
    }

    func idsByText(_ daemon: DaemonHarness) throws -> [String: Int64] {
        let recent = try decode(RecentReply.self, daemon.ctl(["recent", "--limit", "100", "--json"]))
        return Dictionary(uniqueKeysWithValues: recent.insights.map { ($0.text, $0.id) })
    }
}
