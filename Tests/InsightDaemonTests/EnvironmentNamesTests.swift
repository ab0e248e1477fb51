import Foundation
@testable import InsightDaemon
import Testing

/// A misspelt `INSIGHTD_*` variable is named in the log instead of being ignored without a word.
@Suite struct EnvironmentNamesTests {
    @Test func aVariableThatNamesNoSettingIsReportedWithTheClosestSetting() {
        let sources = SettingsSources(configFile: nil, flags: [:], environment: [
            "INSIGHTD_MIN_WORDZ": "3", "INSIGHTD_WATCH_MODE": "poll", "INSIGHTD_SOCKET": "/tmp/s", "INSIGHTD_TEST_WEDGE_FILE": "x",
            "INSIGHTD_SOMETHING_ELSE_ENTIRELY": "1", "HOME": "/home/ada",
        ])
        let unknown = sources.unknownEnvironmentNames
        #expect(unknown.map(\.name) == ["INSIGHTD_MIN_WORDZ", "INSIGHTD_SOMETHING_ELSE_ENTIRELY"])
        #expect(unknown.map(\.meant) == ["INSIGHTD_MIN_WORDS", nil])
    }

    @Test func theDaemonLogsItAndStartsAnyway() throws {
        let daemon = try DaemonHarness(environment: ["INSIGHTD_MIN_WORDZ": "3"])
        try daemon.start()
        defer { _ = try? daemon.stop() }
        #expect(try daemon.status().state != "")
        #expect(daemon.log.contains("$INSIGHTD_MIN_WORDZ names no setting and is ignored; did you mean $INSIGHTD_MIN_WORDS?"), "\(daemon.log)")
    }
}
