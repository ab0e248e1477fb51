import Foundation
import InsightCore

/// Every setting of the daemon, resolved from defaults, the config file, `INSIGHTD_*` variables and flags.
public struct Settings: Sendable, Equatable {
    /// The folder people drop files into.
    public var inbox: String
    /// Where the database lives (`STATE/insights.sqlite`).
    public var stateDirectory: String
    /// The Unix socket of the API.
    public var socketPath: String
    /// Paragraphs with fewer words are not insights.
    public var minWords = 6
    /// Larger files are skipped with a reason.
    public var maxFileBytes: Int64 = 10 * 1024 * 1024
    /// A file is taken once its size and mtime have been stable this long.
    public var settleMilliseconds = 50
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel = "info"
    /// `auto` (inotify, polling folders on network file systems), `inotify` or `poll`.
    public var watchMode = "auto"
    /// How often a full scan reconciles the inbox with the database, in seconds.
    public var reconcileIntervalSeconds = 300
    /// How often polled folders are scanned, in seconds.
    public var pollIntervalSeconds = 2
    /// Extra glob patterns of file names to ignore.
    public var ignore: [String] = []
    /// The socket file's permission bits.
    public var socketMode = 0o660
    /// Members of this group may change state over the socket (add, retry, rescan, pause, resume, reload, forget).
    public var adminGroup = ""
    /// A socket client must send its whole request within this many seconds of connecting.
    public var socketRequestTimeoutSeconds = 10

    /// Whether links in dropped files are fetched.
    public var fetchEnabled = true
    /// Allow fetching from loopback, private, link-local and multicast addresses (off: such links fail).
    public var fetchAllowPrivateAddresses = false
    /// Article bodies larger than this are refused.
    public var fetchMaxArticleBytes = 5 * 1024 * 1024
    /// Fetches running at once, in all.
    public var fetchConcurrency = 4
    /// Fetches running at once to one host.
    public var fetchPerHostConcurrency = 1
    /// Pause between two requests to the same host, in milliseconds.
    public var fetchPerHostDelayMilliseconds = 1000
    /// Connect timeout in seconds.
    public var fetchConnectTimeoutSeconds = 10
    /// Whole-transfer timeout in seconds.
    public var fetchTimeoutSeconds = 30
    /// First retry delay after a transient failure, in milliseconds; doubles each attempt (with jitter).
    public var fetchBackoffBaseMilliseconds = 30_000
    /// Transient failures after which a link counts as failed for good.
    public var fetchMaxAttempts = 8

    /// Whether other wordings of a stored insight are merged into it as variants (and conflicts recorded).
    public var nearDuplicatesEnabled = true
    /// The near-duplicate classifier's thresholds.
    public var nearDuplicateThresholds = NearDuplicateThresholds()

    /// Whether insights get sentence vectors: related insights, search by meaning, paraphrase suggestions.
    public var semanticEnabled = true
    /// The folder holding the sentence model (`model.safetensors`, `vocab.txt`); empty for the first of
    /// `semanticModelSearchPath` that holds one.
    public var semanticModelDirectory = ""
    /// Where the model is looked for when `semanticModelDirectory` is empty: the user's data folder, then the system's.
    public var semanticModelSearchPath: [String] = []
    /// A new insight at least this close in meaning (cosine) to an older one is suggested as its paraphrase.
    public var paraphraseThreshold = 0.85
    /// Insights embedded in one batch.
    public var semanticBatchSize = 32

    /// The model folder to load: the configured one, else the first default place holding a model, else the
    /// user's default place (where `deploy/fetch-model.sh` installs it).
    public var resolvedModelDirectory: String {
        if !semanticModelDirectory.isEmpty { return semanticModelDirectory }
        return semanticModelSearchPath.first { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") }
            ?? semanticModelSearchPath.first ?? ""
    }

    /// A `postgres://` URL to store into a PostgreSQL database shared with other daemons; empty for the
    /// embedded SQLite database in the state directory.
    public var storeURL = ""
    /// The name recorded with each source in a shared store; empty for this machine's host name.
    public var storeHost = ""

    /// The database file inside the state directory.
    public var databasePath: String { stateDirectory + "/insights.sqlite" }

    public init(inbox: String, stateDirectory: String, socketPath: String) {
        self.inbox = inbox
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
    }
}

/// An invalid setting: which key, which value, what is allowed, and where it came from.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var allowed: String
    public var origin: String
    public init(key: String, value: String, allowed: String, origin: String) {
        self.key = key
        self.value = value
        self.allowed = allowed
        self.origin = origin
    }
    /// A file that is not valid TOML.
    public init(syntaxIn file: String, line: Int, message: String) {
        self.init(key: "", value: "", allowed: "line \(line): \(message)", origin: file)
    }

    public var description: String {
        if key.isEmpty { return "cannot read the config file \(origin): \(allowed)" }
        return "invalid setting \(key) = \(value) (from \(origin)): \(allowed)"
    }
}

/// Where settings come from; later sources override earlier ones: defaults, config file, environment, flags.
public struct SettingsSources: Sendable {
    /// `--config FILE`, if given.
    public var configFile: String?
    /// Flag values by key (`inbox`, `state_dir`, `socket`).
    public var flags: [String: String]
    /// The process environment.
    public var environment: [String: String]

    public init(configFile: String?, flags: [String: String], environment: [String: String]) {
        self.configFile = configFile
        self.flags = flags
        self.environment = environment
    }

    /// The config file to read: `--config`, else `$INSIGHTD_CONFIG`, else `$CONFIGURATION_DIRECTORY/insightd.toml` when present.
    public var resolvedConfigFile: String? {
        if let configFile { return configFile }
        if let file = environment["INSIGHTD_CONFIG"], !file.isEmpty { return file }
        if let dir = environment["CONFIGURATION_DIRECTORY"], !dir.isEmpty {
            let file = (dir.split(separator: ":").first.map(String.init) ?? dir) + "/insightd.toml"
            if FileManager.default.fileExists(atPath: file) { return file }
        }
        return nil
    }

    /// `INSIGHTD_*` variables that are not settings: read by the daemon and insightctl (config file, socket), or by
    /// insightd's scripts and tests (`deploy/*.sh`, the soak loop), whose environment a daemon they start inherits.
    static let otherEnvironmentNames: Set<String> = [
        "INSIGHTD_CONFIG", "INSIGHTD_SOCKET", "INSIGHTD_MODEL_DIR", "INSIGHTD_BUILD", "INSIGHTD_BUILD_PATH", "INSIGHTD_DEB",
        "INSIGHTD_SECURITY_THRESHOLD", "INSIGHTD_CT_CACHE", "INSIGHTD_CT_MIRROR", "INSIGHTD_SOAK", "INSIGHTD_SOAK_RUNS",
    ]

    /// Each `INSIGHTD_*` variable in the environment that names no setting (a misspelt one would otherwise be
    /// ignored without a word), with the setting's variable it most likely meant, if one is close.
    public var unknownEnvironmentNames: [(name: String, meant: String?)] {
        let known = SettingKey.all.map(\.environmentName)
        return environment.keys.filter { name in
            name.hasPrefix("INSIGHTD_") && !name.hasPrefix("INSIGHTD_TEST_") && !Self.otherEnvironmentNames.contains(name)
                && !known.contains(name)
        }.sorted().map { name in
            let closest = known.map { ($0, editDistance(name, $0, limit: 3)) }.min { $0.1 < $1.1 }
            return (name, closest.flatMap { $0.1 <= 3 ? $0.0 : nil })
        }
    }

    /// Resolves and validates every setting.
    public func load() throws(ConfigError) -> Settings {
        var settings = Settings(
            inbox: expandHome("~/Insights"),
            stateDirectory: defaultStateDirectory(),
            socketPath: SocketPath.resolve(environment: environment))
        settings.semanticModelSearchPath = defaultModelDirectories()
        if let file = resolvedConfigFile {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ConfigError(key: "--config", value: file, allowed: "the file must exist and be readable UTF-8 text", origin: "the command line")
            }
            let table: [String: TOMLValue]
            do {
                table = try TOMLParser.parse(text)
            } catch {
                throw ConfigError(syntaxIn: file, line: error.line, message: error.message)
            }
            for (key, value) in flatten(table) {
                guard let spec = SettingKey.byName[key] else {
                    throw ConfigError(key: key, value: render(value), allowed: "unknown key; known keys are \(SettingKey.all.map(\.name).joined(separator: ", "))", origin: file)
                }
                try spec.apply(&settings, value, file)
            }
        }
        for spec in SettingKey.all {
            if let raw = environment[spec.environmentName] {
                try spec.apply(&settings, spec.parse(raw), "$" + spec.environmentName)
            }
        }
        for (key, raw) in flags {
            guard let spec = SettingKey.byName[key] else { continue }
            try spec.apply(&settings, spec.parse(raw), "--" + key.replacingOccurrences(of: "_", with: "-"))
        }
        return settings
    }

    func defaultStateDirectory() -> String {
        if let dir = environment["STATE_DIRECTORY"], !dir.isEmpty { return dir.split(separator: ":").first.map(String.init) ?? dir }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/insightd" }
        return expandHome("~/.local/state/insightd")
    }

    /// The user's data folder (`$XDG_DATA_HOME`, else `~/.local/share`), then the system's, each with
    /// `insightd/models/all-MiniLM-L6-v2`. A system service (systemd gave it `$STATE_DIRECTORY` and no
    /// `$XDG_DATA_HOME`) looks in the system's first: its user is a dynamic one without a home, so that is
    /// where the model is installed and the folder a missing model's message should name.
    func defaultModelDirectories() -> [String] {
        let system = "/usr/share/insightd/models/all-MiniLM-L6-v2"
        let xdg = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        let user = (xdg ?? expandHome("~/.local/share")) + "/insightd/models/all-MiniLM-L6-v2"
        if xdg == nil, let state = environment["STATE_DIRECTORY"], !state.isEmpty { return [system, user] }
        return [user, system]
    }

    func expandHome(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}

extension TOMLValue {
    var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}

func render(_ value: TOMLValue) -> String {
    switch value {
    case .string(let s): return "\"\(s)\""
    case .integer(let i): return String(i)
    case .float(let d): return String(d)
    case .boolean(let b): return String(b)
    case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
    case .table: return "{…}"
    }
}

/// Flattens nested tables into dotted keys.
func flatten(_ table: [String: TOMLValue], prefix: String = "") -> [(String, TOMLValue)] {
    table.sorted { $0.key < $1.key }.flatMap { key, value -> [(String, TOMLValue)] in
        let name = prefix.isEmpty ? key : prefix + "." + key
        if case .table(let child) = value { return flatten(child, prefix: name) }
        return [(name, value)]
    }
}
