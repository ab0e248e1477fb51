import Foundation
import InsightCore

/// The commands of insightctl, each returning the process exit status
/// (0 ok, 1 error, 2 usage, 3 daemon not running, 4 permission or protocol failure).
public struct Control: Sendable {
    public let client: SocketClient
    public let output: Output

    public init(socketPath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        client = SocketClient(path: socketPath ?? SocketPath.resolve(environment: environment))
        output = Output(environment: environment)
    }

    /// Runs `body`, printing errors the way a user can act on them, and returns the exit status.
    public func run(_ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch let error as ClientError {
            printError("insightctl: \(error.message)")
            if error.code == .notRunning {
                printError("Start it with `systemctl start insightd` (system service) or `systemctl --user start insightd` (user service), "
                           + "or run `insightd` in a terminal. Use --socket or $INSIGHTD_SOCKET if it listens elsewhere.")
            }
            return error.exitCode
        } catch {
            printError("insightctl: \(error)")
            return 1
        }
    }

    /// Sends a request and decodes a successful JSON reply, turning error replies into `ClientError`s.
    public func call<T: Decodable>(_ method: String, _ target: String, body: [UInt8]? = nil, as type: T.Type = T.self) throws(ClientError) -> T {
        let reply = try client.request(method, target, body: body)
        try Self.check(reply)
        do {
            return try WireJSON.decoder().decode(T.self, from: Data(reply.body))
        } catch {
            throw ClientError(code: .protocol, message: "the daemon's reply to \(target) is not what this insightctl expects (\(error)); are daemon and CLI the same version?")
        }
    }

    static func check(_ reply: HTTPReply) throws(ClientError) {
        guard (200..<300).contains(reply.status) else {
            let message = (try? WireJSON.decoder().decode(ErrorReply.self, from: Data(reply.body)))?.error.message
                ?? "HTTP \(reply.status)"
            throw ClientError(code: reply.status == 403 ? .permission : .daemon, message: message)
        }
    }

    // MARK: - status

    /// `insightctl status [--json]`.
    public func status(json: Bool) throws {
        let reply = try client.request("GET", "/v1/status")
        try Self.check(reply)
        let report: StatusReport
        do {
            report = try WireJSON.decoder().decode(StatusReport.self, from: Data(reply.body))
        } catch {
            throw ClientError(code: .protocol, message: "the daemon's status reply cannot be read (\(error))")
        }
        guard report.schema == InsightVersion.apiSchema else {
            throw ClientError(code: .protocol, message: "the daemon speaks API schema \(report.schema) (insightd \(report.version)) but this insightctl speaks schema \(InsightVersion.apiSchema) (\(InsightVersion.current)); install matching versions")
        }
        if json {
            FileHandle.standardOutput.write(Data(reply.body))
            return
        }
        print(render(report))
    }

    func render(_ report: StatusReport) -> String {
        let state = report.state == "running" ? output.green(report.state) : output.yellow(report.state)
        var rows: [[String]] = []
        rows.append(["inbox", "\(report.inbox)  (\(report.watch.mode), \(Output.count(report.watch.folders)) folder\(report.watch.folders == 1 ? "" : "s"))"])
        var files = "\(Output.count(report.files.ingested)) ingested · \(Output.count(report.files.pending)) pending"
        files += " · \(Output.count(report.files.skipped)) skipped · "
        files += report.files.failed > 0 ? output.red("\(Output.count(report.files.failed)) failed") : "0 failed"
        if report.files.removed > 0 { files += " · \(Output.count(report.files.removed)) removed" }
        rows.append(["files", files])
        rows.append(["insights", "\(output.bold(Output.count(report.insights.unique))) unique · \(Output.count(report.insights.occurrences)) occurrences"])
        rows.append(["database", "\(report.database.path)  (\(Output.bytes(report.database.bytes)))"])
        if let last = report.lastIngestAt { rows.append(["last ingest", Output.ago(last)]) }
        if let oldest = report.watch.oldestPendingS, report.files.pending > 0 { rows.append(["oldest pending", Output.duration(oldest)]) }
        if report.watch.overflows > 0 || report.watch.rescans > 0 {
            rows.append(["rescans", "\(Output.count(report.watch.rescans)) (\(Output.count(report.watch.overflows)) after queue overflow)"])
        }
        if let error = report.lastError {
            rows.append(["last error", output.red("\(error.path): \(error.message)") + " (\(Output.ago(error.at)))"])
        }
        let header = "insightd \(report.version) · \(state) · up \(Output.duration(report.uptimeS)) · pid \(report.pid)"
        return header + "\n" + Output.table(rows.map { [output.dim($0[0]), $0[1]] })
    }

    // MARK: - export

    /// `insightctl export --format jsonl [--output FILE]`, streamed.
    public func export(format: String, outputPath: String?) throws {
        let handle: FileHandle
        if let outputPath {
            guard FileManager.default.createFile(atPath: outputPath, contents: nil) , let opened = FileHandle(forWritingAtPath: outputPath) else {
                throw ClientError(code: .daemon, message: "cannot write \(outputPath)")
            }
            handle = opened
        } else {
            handle = FileHandle.standardOutput
        }
        defer { if outputPath != nil { try? handle.close() } }
        let reply = try client.stream("GET", "/v1/export?format=\(format)") { chunk in handle.write(Data(chunk)) }
        try Self.check(reply)
    }

    // MARK: - actions

    /// A request that changes state, printing the daemon's message.
    public func action(_ path: String, json: Bool) throws {
        let reply = try client.request("POST", path, body: Array("{}".utf8))
        try Self.check(reply)
        if json {
            FileHandle.standardOutput.write(Data(reply.body))
        } else if let decoded = try? WireJSON.decoder().decode(ActionMessage.self, from: Data(reply.body)) {
            print(decoded.message)
        }
    }

    struct ActionMessage: Decodable { var message: String }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

extension Control {
    struct SearchReply: Decodable {
        struct Hit: Decodable {
            var id: Int64
            var text: String
            var snippet: String
            var score: Double
        }
        var results: [Hit]
    }

    /// `insightctl search WORDS`.
    public func search(_ query: String, limit: Int, json: Bool) throws {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let reply = try client.request("GET", "/v1/search?q=\(encoded)&limit=\(limit)")
        try Self.check(reply)
        if json {
            FileHandle.standardOutput.write(Data(reply.body))
            return
        }
        let decoded: SearchReply
        do {
            decoded = try WireJSON.decoder().decode(SearchReply.self, from: Data(reply.body))
        } catch {
            throw ClientError(code: .protocol, message: "the daemon's search reply cannot be read (\(error))")
        }
        if decoded.results.isEmpty {
            print("no insight matches \"\(query)\"")
            return
        }
        for hit in decoded.results {
            let snippet = output.color
                ? hit.snippet.replacingOccurrences(of: "[", with: "\u{1B}[1;33m").replacingOccurrences(of: "]", with: "\u{1B}[0m")
                : hit.snippet
            print("\(output.dim(String(format: "%6lld", hit.id)))  \(snippet)")
        }
    }
}
