import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether a private mount namespace (and so a throwaway systemd user manager) can be had here.
private let userManagerAvailable: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/lib/systemd/systemd"),
          FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? runCommand("/usr/bin/unshare", ["--mount", "--propagation", "private", "true"], timeout: 10).status) == 0
}()

@Suite("deploy/insightd.user.service under a real systemd user manager", .serialized)
struct UserManagerTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("user-manager.sh").path
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test(.enabled(if: userManagerAvailable, "skipped: unshare --mount is not permitted here or systemd is not installed"))
    func startIngestReloadStopRestartAndWatchdog() throws {
        let result = try runCommand("/bin/bash", [Self.script, Binaries.directory, Binaries.fixtures + "/inbox", Self.repo], timeout: 240)
        let transcript = result.stdout + result.stderr
        #expect(result.status == 0, "\(transcript)")
        #expect(transcript.contains("PASS"))
        print(transcript.split(separator: "\n").filter { $0.hasPrefix("ok:") || $0.hasPrefix("PASS") }.joined(separator: "\n"))
    }
}
