import Foundation
import InsightCore
import InsightStore
import Logging

/// Maps socket API requests to the daemon's parts. Runs off the event loop; may block on SQLite reads.
struct APIRouter: Sendable {
    let control: DaemonControl
    /// Handles `POST /v1/reload`; nil where the daemon cannot reload (then the route answers 503).
    var reloader: Reloader? = nil

    func handle(_ request: APIRequest) -> APIResponse {
        let route = (request.method, request.path)
        switch route {
        case ("GET", "/v1/status"):
            return .json(control.status())
        case ("GET", "/v1/export"):
            return export(request)
        case ("GET", "/v1/search"):
            return search(request)
        case ("GET", "/v1/links"):
            return listLinks(request)
        case ("POST", "/v1/links"):
            return addLink(request)
        case ("POST", "/v1/links/retry"):
            return retryLinks(request)
        case ("POST", "/v1/rescan"):
            control.watcher.requestRescan()
            return .json(ActionReply(ok: true, message: "a full scan of the inbox was started"))
        case ("POST", "/v1/pause"):
            control.pipeline.setPaused(true)
            return .json(ActionReply(ok: true, message: "ingestion paused; files keep queueing"))
        case ("POST", "/v1/resume"):
            control.pipeline.setPaused(false)
            return .json(ActionReply(ok: true, message: "ingestion resumed"))
        case ("POST", "/v1/reload"):
            guard let reloader else { return .error(503, "unavailable", "this daemon cannot reload; restart it instead") }
            let reply = reloader.reload(trigger: "insightctl reload")
            return reply.ok ? .json(reply) : .error(422, "invalid_config", reply.message)
        default:
            if Self.knownPaths.contains(request.path) {
                return .error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path)")
            }
            return .error(404, "not_found", "no endpoint \(request.path); see the API section of the README")
        }
    }

    static let knownPaths: Set<String> = ["/v1/status", "/v1/export", "/v1/search", "/v1/rescan", "/v1/pause", "/v1/resume", "/v1/links",
                                          "/v1/links/retry", "/v1/reload"]

    private func listLinks(_ request: APIRequest) -> APIResponse {
        let failedOnly = ["1", "true", "yes"].contains(request.query["failed"] ?? "")
        guard let limit = Int(request.query["limit"] ?? "100"), (1...10_000).contains(limit) else {
            return .error(400, "bad_limit", "limit must be a number from 1 to 10000")
        }
        do {
            let records = try control.database.links(failedOnly: failedOnly, limit: limit)
            let infos = try records.map { record in
                LinkInfo(id: record.id ?? 0, url: record.canonicalURL, givenUrl: record.givenURL, finalUrl: record.finalURL,
                         pageCanonicalUrl: record.pageCanonicalURL, state: record.state.rawValue, failure: record.failure,
                         error: record.error, attempts: record.attempts, nextAttemptAt: record.nextAttemptAt, title: record.title,
                         fetchedAt: record.fetchedAt, updatedAt: record.updatedAt,
                         linkedFrom: try control.database.linkReferences(linkID: record.id ?? 0).map {
                             SourceRef(path: $0.path, line: $0.line, section: nil, date: nil)
                         })
            }
            return .json(LinksReply(links: infos))
        } catch {
            return .error(500, "store", "\(error)")
        }
    }

    struct AddLinkRequest: Decodable { var url: String }
    struct RetryLinksRequest: Decodable { var id: Int64? }

    private func addLink(_ request: APIRequest) -> APIResponse {
        guard let body = try? WireJSON.decoder().decode(AddLinkRequest.self, from: Data(request.body)) else {
            return .error(400, "bad_request", "send {\"url\":\"https://…\"}")
        }
        let canonical: CanonicalURL
        do {
            canonical = try CanonicalURL(body.url)
        } catch {
            return .error(400, "bad_url", "\(error)")
        }
        do {
            let (link, created) = try control.database.addLink(canonical: canonical.string, given: body.url)
            control.links.poke()
            return .json(ActionReply(ok: true, message: created ? "queued \(link.canonicalURL)" : "already known: \(link.canonicalURL) is \(link.state.rawValue)"),
                         status: created ? 201 : 200)
        } catch {
            return .error(500, "store", "\(error)")
        }
    }

    private func retryLinks(_ request: APIRequest) -> APIResponse {
        let body = (try? WireJSON.decoder().decode(RetryLinksRequest.self, from: Data(request.body))) ?? RetryLinksRequest(id: nil)
        do {
            let count = try control.database.retryLinks(id: body.id)
            control.links.poke()
            return .json(ActionReply(ok: true, message: "\(count) link\(count == 1 ? "" : "s") queued again"))
        } catch {
            return .error(500, "store", "\(error)")
        }
    }

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
