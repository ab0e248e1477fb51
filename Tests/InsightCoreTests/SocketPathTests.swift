import Testing
@testable import InsightCore

@Suite("Default socket path")
struct SocketPathTests {
    @Test(arguments: [
        (["INSIGHTD_SOCKET": "/x/s.sock", "RUNTIME_DIRECTORY": "/run/insightd", "XDG_RUNTIME_DIR": "/run/user/1"], "/x/s.sock"),
        (["RUNTIME_DIRECTORY": "/run/insightd", "XDG_RUNTIME_DIR": "/run/user/1"], "/run/insightd/insightd.sock"),
        (["RUNTIME_DIRECTORY": "/run/a:/run/b"], "/run/a/insightd.sock"),
        (["XDG_RUNTIME_DIR": "/run/user/1000"], "/run/user/1000/insightd/insightd.sock"),
        ([:], "/run/insightd/insightd.sock"),
    ])
    func followsTheDocumentedOrder(environment: [String: String], expected: String) {
        #expect(SocketPath.resolve(environment: environment) == expected)
    }
}
