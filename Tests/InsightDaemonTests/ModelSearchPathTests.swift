import Foundation
@testable import InsightDaemon
import Testing

/// Where the daemon looks for the sentence model, and so which folder a missing model's message names.
@Suite struct ModelSearchPathTests {
    static let system = "/usr/share/insightd/models/all-MiniLM-L6-v2"

    @Test func aUserLooksInTheirDataFolderFirst() throws {
        let settings = try SettingsSources(configFile: nil, flags: [:], environment: ["HOME": "/home/ada"]).load()
        #expect(settings.semanticModelSearchPath == ["/home/ada/.local/share/insightd/models/all-MiniLM-L6-v2", Self.system])
        let xdg = try SettingsSources(configFile: nil, flags: [:], environment: ["HOME": "/home/ada", "XDG_DATA_HOME": "/data"]).load()
        #expect(xdg.semanticModelSearchPath == ["/data/insightd/models/all-MiniLM-L6-v2", Self.system])
    }

    /// The system unit's dynamic user has no home; systemd gives the service $STATE_DIRECTORY.
    @Test func aSystemServiceLooksInTheSystemFolderFirst() throws {
        let environment = ["HOME": "/var/empty", "STATE_DIRECTORY": "/var/lib/insightd"]
        let settings = try SettingsSources(configFile: nil, flags: [:], environment: environment).load()
        #expect(settings.semanticModelSearchPath == [Self.system, "/var/empty/.local/share/insightd/models/all-MiniLM-L6-v2"])
        // With the model in neither folder, the one named is the system's.
        let installed = settings.semanticModelSearchPath.contains { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") }
        if !installed {
            #expect(settings.resolvedModelDirectory == Self.system)
        }
    }
}
