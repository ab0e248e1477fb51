import Foundation
import InsightCore
import InsightPostgres
import InsightStoreCore

/// One configurable key: its name in the file, its environment variable, and how it is validated and applied.
struct SettingKey: Sendable {
    var name: String
    var parse: @Sendable (String) -> TOMLValue
    var apply: @Sendable (inout Settings, TOMLValue, String) throws(ConfigError) -> Void

    /// `INSIGHTD_` and the key in upper case, dots as underscores (`watch.mode` → `INSIGHTD_WATCH_MODE`).
    var environmentName: String { "INSIGHTD_" + name.uppercased().replacingOccurrences(of: ".", with: "_") }

    static let all: [SettingKey] = [
        path("inbox") { $0.inbox = $1 },
        path("state_dir") { $0.stateDirectory = $1 },
        string("socket", allowed: "a path to the Unix socket (at most 107 bytes), or \"\" for the default") { value in
            value.utf8.count <= 107
        } set: { if !$1.isEmpty { $0.socketPath = absolute($1) } },
        SettingKey(name: "store.url", parse: { .string($0) }) { settings, value, origin throws(ConfigError) in
            // The message names the problem but never repeats a password.
            guard case .string(let url) = value else {
                throw ConfigError(key: "store.url", value: render(value), allowed: "expected a string", origin: origin)
            }
            if !url.isEmpty {
                do throws(StoreError) {
                    _ = try PostgresURL(url)
                } catch {
                    throw ConfigError(key: "store.url", value: "\"\(PostgresURL.redact(url))\"", allowed: error.message, origin: origin)
                }
            }
            settings.storeURL = url
        },
        string("store.host", allowed: "a host name, or \"\" for this machine's") { value in
            !value.contains(":") && value.utf8.count <= 255
        } set: { $0.storeHost = $1 },
        integer("min_words", range: 1...1000) { $0.minWords = $1 },
        integer("max_file_bytes", range: 1...(1 << 40)) { $0.maxFileBytes = Int64($1) },
        integer("settle_ms", range: 0...60_000) { $0.settleMilliseconds = $1 },
        choice("log_level", ["trace", "debug", "info", "notice", "warning", "error", "critical"]) { $0.logLevel = $1 },
        choice("watch.mode", ["auto", "inotify", "poll"]) { $0.watchMode = $1 },
        integer("watch.reconcile_interval_s", range: 10...86_400) { $0.reconcileIntervalSeconds = $1 },
        integer("watch.poll_interval_s", range: 1...3_600) { $0.pollIntervalSeconds = $1 },
        strings("watch.ignore") { $0.ignore = $1 },
        octal("socket_mode") { $0.socketMode = $1 },
        string("admin_group", allowed: "a group name") { _ in true } set: { $0.adminGroup = $1 },
        integer("socket_request_timeout_s", range: 1...300) { $0.socketRequestTimeoutSeconds = $1 },
        boolean("fetch.enabled") { $0.fetchEnabled = $1 },
        boolean("fetch.allow_private_addresses") { $0.fetchAllowPrivateAddresses = $1 },
        integer("fetch.max_article_bytes", range: 1024...(1 << 30)) { $0.fetchMaxArticleBytes = $1 },
        integer("fetch.concurrency", range: 1...64) { $0.fetchConcurrency = $1 },
        integer("fetch.per_host_concurrency", range: 1...16) { $0.fetchPerHostConcurrency = $1 },
        integer("fetch.per_host_delay_ms", range: 0...600_000) { $0.fetchPerHostDelayMilliseconds = $1 },
        integer("fetch.connect_timeout_s", range: 1...600) { $0.fetchConnectTimeoutSeconds = $1 },
        integer("fetch.timeout_s", range: 1...3_600) { $0.fetchTimeoutSeconds = $1 },
        integer("fetch.backoff_base_ms", range: 10...86_400_000) { $0.fetchBackoffBaseMilliseconds = $1 },
        integer("fetch.max_attempts", range: 1...100) { $0.fetchMaxAttempts = $1 },
        boolean("near_duplicates.enabled") { $0.nearDuplicatesEnabled = $1 },
        fraction("near_duplicates.min_jaccard") { $0.nearDuplicateThresholds.minJaccard = $1 },
        fraction("near_duplicates.conflict_min_token_similarity") { $0.nearDuplicateThresholds.conflictMinTokenSimilarity = $1 },
        fraction("near_duplicates.max_surface_edit_fraction") { $0.nearDuplicateThresholds.maxSurfaceEditFraction = $1 },
        integer("near_duplicates.two_edit_min_length", range: 1...100) { $0.nearDuplicateThresholds.twoEditMinLength = $1 },
        integer("near_duplicates.any_edit_min_length", range: 1...100) { $0.nearDuplicateThresholds.anyEditMinLength = $1 },
        boolean("semantic.enabled") { $0.semanticEnabled = $1 },
        string("semantic.model_dir", allowed: "a folder holding model.safetensors and vocab.txt, or \"\" for the default places") { _ in
            true
        } set: { if !$1.isEmpty { $0.semanticModelDirectory = absolute($1) } else { $0.semanticModelDirectory = "" } },
        fraction("semantic.paraphrase_threshold") { $0.paraphraseThreshold = $1 },
        integer("semantic.batch_size", range: 1...256) { $0.semanticBatchSize = $1 },
    ]

    static let byName: [String: SettingKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static func path(_ name: String, _ set: @escaping @Sendable (inout Settings, String) -> Void) -> SettingKey {
        string(name, allowed: "a non-empty path") { !$0.isEmpty } set: { settings, value in
            set(&settings, absolute(value))
        }
    }

    static func string(_ name: String, allowed: String, valid: @escaping @Sendable (String) -> Bool,
                       set: @escaping @Sendable (inout Settings, String) -> Void) -> SettingKey {
        SettingKey(name: name, parse: { .string($0) }) { settings, value, origin throws(ConfigError) in
            guard case .string(let s) = value, valid(s) else {
                throw ConfigError(key: name, value: render(value), allowed: "expected \(allowed)", origin: origin)
            }
            set(&settings, s)
        }
    }

    static func choice(_ name: String, _ choices: [String], set: @escaping @Sendable (inout Settings, String) -> Void) -> SettingKey {
        string(name, allowed: "one of " + choices.map { "\"\($0)\"" }.joined(separator: ", "), valid: { choices.contains($0) }, set: set)
    }

    static func integer(_ name: String, range: ClosedRange<Int>, set: @escaping @Sendable (inout Settings, Int) -> Void) -> SettingKey {
        SettingKey(name: name, parse: { raw in Int(raw.replacingOccurrences(of: "_", with: "")).map(TOMLValue.integer) ?? .string(raw) }) {
            settings, value, origin throws(ConfigError) in
            guard case .integer(let i) = value, range.contains(i) else {
                throw ConfigError(key: name, value: render(value), allowed: "expected an integer from \(range.lowerBound) to \(range.upperBound)", origin: origin)
            }
            set(&settings, i)
        }
    }

    static func boolean(_ name: String, set: @escaping @Sendable (inout Settings, Bool) -> Void) -> SettingKey {
        SettingKey(name: name, parse: { raw in
            switch raw.lowercased() {
            case "true", "1", "yes", "on": return .boolean(true)
            case "false", "0", "no", "off": return .boolean(false)
            default: return .string(raw)
            }
        }) { settings, value, origin throws(ConfigError) in
            guard case .boolean(let b) = value else {
                throw ConfigError(key: name, value: render(value), allowed: "expected true or false", origin: origin)
            }
            set(&settings, b)
        }
    }

    static func fraction(_ name: String, set: @escaping @Sendable (inout Settings, Double) -> Void) -> SettingKey {
        SettingKey(name: name, parse: { raw in Double(raw).map(TOMLValue.float) ?? .string(raw) }) { settings, value, origin throws(ConfigError) in
            let number: Double
            switch value {
            case .float(let d): number = d
            case .integer(let i): number = Double(i)
            default: number = .nan
            }
            guard (0.0...1.0).contains(number) else {
                throw ConfigError(key: name, value: render(value), allowed: "expected a number from 0 to 1", origin: origin)
            }
            set(&settings, number)
        }
    }

    static func octal(_ name: String, set: @escaping @Sendable (inout Settings, Int) -> Void) -> SettingKey {
        string(name, allowed: "octal permission bits such as \"0660\" (owner read-write required)") { raw in
            guard let bits = Int(raw, radix: 8) else { return false }
            return (0...0o777).contains(bits) && bits & 0o600 == 0o600
        } set: { settings, raw in
            if let bits = Int(raw, radix: 8) { set(&settings, bits) }
        }
    }

    static func strings(_ name: String, set: @escaping @Sendable (inout Settings, [String]) -> Void) -> SettingKey {
        SettingKey(name: name, parse: { raw in .array(raw.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) }) }) {
            settings, value, origin throws(ConfigError) in
            guard case .array(let items) = value else {
                throw ConfigError(key: name, value: render(value), allowed: "expected an array of strings, like [\"*.bak\"]", origin: origin)
            }
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item, !s.isEmpty else {
                    throw ConfigError(key: name, value: render(value), allowed: "expected an array of non-empty strings", origin: origin)
                }
                out.append(s)
            }
            set(&settings, out)
        }
    }

    /// Relative paths are taken from the working directory, so the settings mean the same after a chdir.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path == "~" || path.hasPrefix("~/") {
            return (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + path.dropFirst()
        }
        let cwd = FileManager.default.currentDirectoryPath
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd)).standardizedFileURL.path
    }
}
