import Foundation
import InsightCore
import InsightStore
import Logging

/// Maps socket API requests to the daemon's parts. Runs off the event loop; may block on SQLite reads.
struct APIRouter: Sendable {
    let control: DaemonControl

    func handle(_ request: APIRequest) -> APIResponse {
        let route = (request.method, request.path)
        switch route {
        case ("GET", "/v1/status"):
            return .json(control.status())
        case ("GET", "/v1/export"):
            return export(request)
        case ("GET", "/v1/search"):
            return search(request)
        case ("POST", "/v1/rescan"):
            control.watcher.requestRescan()
            return .json(ActionReply(ok: true, message: "a full scan of the inbox was started"))
        case ("POST", "/v1/pause"):
            control.pipeline.setPaused(true)
            return .json(ActionReply(ok: true, message: "ingestion paused; files keep queueing"))
        case ("POST", "/v1/resume"):
            control.pipeline.setPaused(false)
            return .json(ActionReply(ok: true, message: "ingestion resumed"))
        default:
            if Self.knownPaths.contains(request.path) {
                return .error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
            }
            return .error(404, "not_found", "no endpoint \(request.path); see the API section of the README")
        }
    }

    static let knownPaths: Set<String> = ["/v1/status", "/v1/export", "/v1/search", "/v1/rescan", "/v1/pause", "/v1/resume"]

    private func export(_ request: APIRequest) -> APIResponse {
        let format = request.query["format"] ?? "jsonl"
        guard format == "jsonl" else {
            return .error(400, "bad_format", "unknown export format \"\(format)\"; use jsonl")
        }
        let database = control.database
        return APIResponse(status: 200, contentType: "application/x-ndjson", body: .stream { sink in
            let encoder = WireJSON.encoder()
            var after: Int64 = 0
            // Pages keep memory flat however many insights there are.
            while true {
                let page = try database.exportPage(afterID: after, limit: 500)
                guard let last = page.last else { break }
                var chunk: [UInt8] = []
                for record in page {
                    chunk += Array(try encoder.encode(record))
                    chunk.append(0x0A)
                }
                try sink.write(chunk)
                after = last.id
            }
        })
    }

    private func search(_ request: APIRequest) -> APIResponse {
        guard let query = request.query["q"], !query.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .error(400, "missing_query", "give the words to search for as ?q=")
        }
        let limitText = request.query["limit"] ?? "20"
        guard let limit = Int(limitText), (1...1000).contains(limit) else {
            return .error(400, "bad_limit", "limit must be a number from 1 to 1000, not \"\(limitText)\"")
        }
        do {
            return .json(SearchReply(query: query, results: try control.database.search(query, limit: limit)))
        } catch {
            return .error(500, "store", "\(error)")
        }
    }
}

/// The reply of a request that changes state.
struct ActionReply: Codable, Sendable {
    var ok: Bool
    var message: String
}

/// `GET /v1/search`.
struct SearchReply: Codable, Sendable {
    var query: String
    var results: [SearchHit]
}
