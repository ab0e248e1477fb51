import Foundation
import Testing

/// Keeps the benchmark harness from rotting: a quick run against the built daemon must finish and report
/// the rows the corpus should produce. Speed is not checked here; benchmarks print figures, tests do not time.
@Suite("insightbench smoke run", .serialized)
struct BenchSmokeTests {
    @Test func quickIngestRunStoresTheExpectedRows() throws {
        let bench = Binaries.directory + "/insightbench"
        #expect(FileManager.default.isExecutableFile(atPath: bench), "insightbench is built next to insightd")
        let result = try runCommand(bench, ["ingest", "--quick", "--json", "--files", "40", "--insightd", Binaries.insightd], timeout: 180)
        #expect(result.status == 0, "insightbench failed: \(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ingest = try #require(json["ingest"] as? [String: Any])
        let occurrences = try #require(ingest["occurrences"] as? Int)
        let unique = try #require(ingest["unique"] as? Int)
        // 40 files of 10 paragraphs; 20 % exact repeats collapse, 10 % near repeats become variants.
        #expect(occurrences == 400)
        #expect(unique < occurrences && unique > occurrences / 2)
        for run in ["dropped_before_start", "dropped_while_running"] {
            let figures = try #require(ingest[run] as? [String: Any])
            #expect(figures["counts_match"] as? Bool == true, "\(run): the daemon stored other rows than the corpus should give")
            #expect(figures["occurrences"] as? Int == occurrences)
            let stored = try #require(figures["unique"] as? Int), variants = try #require(figures["variants"] as? Int)
            #expect(stored + variants == unique)
            #expect((figures["insights_per_second"] as? Double ?? 0) > 0)
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") {
            let floor = try #require(ingest["floor"] as? [String: Any], "the sqlite3 floor runs when sqlite3 is installed")
            #expect(floor["rows"] as? Int == occurrences + unique + 40)
        }
    }

    @Test func quickFormatsRunParsesEveryGeneratedInsight() throws {
        let result = try runCommand(Binaries.directory + "/insightbench",
                                    ["formats", "--insights", "2000", "--per-file", "100", "--passes", "1", "--json"], timeout: 180)
        #expect(result.status == 0, "insightbench failed: \(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let rows = try #require(json["formats"] as? [[String: Any]])
        #expect(rows.count == 6)
        for row in rows {
            // Every generated insight is long enough and in a place that counts, in every format.
            #expect(row["insights"] as? Int == 2000, "\(row["format"] ?? "?"): \(row["insights"] ?? "?") insights")
            #expect((row["megabytes_per_second"] as? Double ?? 0) > 0)
        }
    }

    /// Needs the PostgreSQL server binaries (deploy/dev-deps.sh), as the store tests do: the bench starts its own server.
    @Test func quickPostgresRunReportsOneTwoAndThreeDaemonsBesideSQLite() throws {
        let result = try runCommand(Binaries.directory + "/insightbench",
                                    ["postgres", "--quick", "--json", "--files", "30", "--insightd", Binaries.insightd], timeout: 300)
        #expect(result.status == 0, "insightbench failed: \(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let postgres = try #require(json["postgres"] as? [String: Any])
        let occurrences = try #require(postgres["occurrences"] as? Int)
        #expect(occurrences == 300)
        let sqlite = try #require(postgres["sqlite"] as? [String: Any])
        #expect(sqlite["counts_match"] as? Bool == true, "SQLite: the daemon stored other rows than the corpus should give")
        #expect((sqlite["insights_per_second"] as? Double ?? 0) > 0)
        let rounds = try #require(postgres["rounds"] as? [[String: Any]])
        let split = rounds.filter { $0["overlapping"] as? Bool == false }
        #expect(split.compactMap { $0["daemons"] as? Int } == [1, 2, 3])
        for round in rounds {
            let daemons = round["daemons"] as? Int ?? 0, overlapping = round["overlapping"] as? Bool ?? false
            let run = try #require(round["run"] as? [String: Any])
            #expect(run["counts_match"] as? Bool == true, "\(daemons) daemons (overlapping: \(overlapping)): other rows than the corpus should give")
            #expect((run["insights_per_second"] as? Double ?? 0) > 0)
            #expect(run["occurrences"] as? Int == occurrences * (overlapping ? daemons : 1))
        }
    }

    @Test func quickRunPrintsTheTable() throws {
        let result = try runCommand(Binaries.directory + "/insightbench",
                                    ["latency", "--quick", "--drops", "3", "--insightd", Binaries.insightd], timeout: 120)
        #expect(result.status == 0, "insightbench failed: \(result.stderr)")
        #expect(result.stdout.contains("| drop to searchable p50 (3 drops) |"))
        #expect(result.stdout.contains("Machine: "))
    }
}
