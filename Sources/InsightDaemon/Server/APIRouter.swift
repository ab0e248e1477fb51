import Foundation
import InsightCore
import InsightStoreCore
import Logging

/// One endpoint of the socket API.
struct Route: Sendable {
    /// Reads are open to anyone who can connect; writes need `AccessPolicy`'s approval.
    enum Access: Sendable { case read, write }

    var method: String
    /// Segments starting with `:` capture (`/v1/insights/:id`).
    var pattern: String
    var access: Access
    var handler: @Sendable (APIRouter, APIRequest, [String: String]) -> APIResponse

    /// The captured segments when `path` matches, else nil.
    func match(_ path: String) -> [String: String]? {
        let want = pattern.split(separator: "/"), have = path.split(separator: "/")
        guard want.count == have.count else { return nil }
        var captured: [String: String] = [:]
        for (expected, actual) in zip(want, have) {
            if expected.hasPrefix(":") {
                captured[String(expected.dropFirst())] = String(actual)
            } else if expected != actual {
                return nil
            }
        }
        return captured
    }
}

/// Maps socket API requests to the daemon's parts. Runs off the event loop; may block on SQLite reads.
///
/// To add an endpoint, add a `Route` to `routes`: method, path, whether it changes state, handler.
struct APIRouter: Sendable {
    let control: DaemonControl
    let access: AccessPolicy
    let logger: Logger
    /// Handles `POST /v1/reload`; nil where the daemon cannot reload (then the route answers 503).
    var reloader: Reloader? = nil

    /// Writes are allowed to root, the daemon's own user and members of the configured `admin_group`.
    init(control: DaemonControl, logger: Logger = Logger(label: "insightd.api")) {
        self.control = control
        self.logger = logger
        access = AccessPolicy(daemonUID: UInt32(getuid()), adminGroup: { control.settings.value.adminGroup })
    }

    static let routes: [Route] = [
        Route(method: "GET", pattern: "/v1/status", access: .read) { router, request, _ in router.status(request) },
        // Whoever may read status may read the metrics: they are counts of the same things.
        Route(method: "GET", pattern: "/v1/metrics", access: .read) { router, _, _ in router.metrics() },
        Route(method: "GET", pattern: "/v1/search", access: .read) { router, request, _ in router.search(request) },
        Route(method: "GET", pattern: "/v1/tags", access: .read) { router, _, _ in router.tags() },
        Route(method: "GET", pattern: "/v1/recent", access: .read) { router, request, _ in router.recent(request) },
        Route(method: "GET", pattern: "/v1/insights/:id", access: .read) { router, _, captured in router.show(captured["id"] ?? "") },
        Route(method: "DELETE", pattern: "/v1/insights/:id", access: .write) { router, _, captured in router.forget(captured["id"] ?? "") },
        Route(method: "GET", pattern: "/v1/insights/:id/related", access: .read) { router, request, captured in
            router.related(captured["id"] ?? "", request)
        },
        Route(method: "GET", pattern: "/v1/paraphrases", access: .read) { router, request, _ in router.paraphrases(request) },
        Route(method: "POST", pattern: "/v1/merge", access: .write) { router, request, _ in router.merge(request) },
        Route(method: "POST", pattern: "/v1/keep-apart", access: .write) { router, request, _ in router.keepApart(request) },
        Route(method: "GET", pattern: "/v1/conflicts", access: .read) { router, request, _ in router.conflicts(request) },
        Route(method: "GET", pattern: "/v1/sources", access: .read) { router, request, _ in router.sources(request) },
        Route(method: "GET", pattern: "/v1/failed", access: .read) { router, _, _ in router.failed() },
        Route(method: "GET", pattern: "/v1/links", access: .read) { router, request, _ in router.listLinks(request) },
        Route(method: "POST", pattern: "/v1/links", access: .write) { router, request, _ in router.addLink(request) },
        Route(method: "POST", pattern: "/v1/links/retry", access: .write) { router, request, _ in router.retryLinks(request) },
        Route(method: "GET", pattern: "/v1/export", access: .read) { router, request, _ in router.export(request) },
        Route(method: "POST", pattern: "/v1/retry", access: .write) { router, request, _ in router.retry(request) },
        Route(method: "POST", pattern: "/v1/rescan", access: .write) { router, _, _ in
            router.control.watcher.requestRescan()
            return .json(ActionReply(ok: true, message: "a full scan of the inbox was started"))
        },
        Route(method: "POST", pattern: "/v1/pause", access: .write) { router, _, _ in
            router.control.pipeline.setPaused(true)
            return .json(ActionReply(ok: true, message: "ingestion paused; files keep queueing"))
        },
        Route(method: "POST", pattern: "/v1/resume", access: .write) { router, _, _ in
            router.control.pipeline.setPaused(false)
            return .json(ActionReply(ok: true, message: "ingestion resumed"))
        },
        Route(method: "POST", pattern: "/v1/reload", access: .write) { router, _, _ in
            guard let reloader = router.reloader else { return .error(503, "unavailable", "this daemon cannot reload; restart it instead") }
            let reply = reloader.reload(trigger: "insightctl reload")
            return reply.ok ? .json(reply) : .error(422, "invalid_config", reply.message)
        },
    ]

    /// Answers a request and records it in the metrics under its route pattern, never its raw path.
    func handle(_ request: APIRequest) -> APIResponse {
        let started = monotonicSeconds()
        let (pattern, response) = dispatch(request)
        DaemonMetrics.shared.apiRequest(route: pattern, method: Self.methodLabel(request.method), status: response.status,
                                        seconds: monotonicSeconds() - started)
        return response
    }

    /// The method as a metrics label: one the API knows, else `other` (a client may send any token).
    static func methodLabel(_ method: String) -> String {
        ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"].contains(method) ? method : "other"
    }

    /// The route pattern a request is counted under: the matched route's (`unmatched` when no route has its path).
    private func dispatch(_ request: APIRequest) -> (String, APIResponse) {
        let matching = Self.routes.compactMap { route in route.match(request.path).map { (route, $0) } }
        guard let pattern = matching.first?.0.pattern else {
            return ("unmatched", .error(404, "not_found", "no endpoint \(request.path); see the API section of the README"))
        }
        guard let (route, captured) = matching.first(where: { $0.0.method == request.method }) else {
            let allowed = matching.map(\.0.method).joined(separator: ", ")
            return (pattern, .error(405, "method_not_allowed", "\(request.method) is not allowed on \(request.path); use \(allowed)"))
        }
        if route.access == .write {
            let uid = request.peer.map { String($0.uid) } ?? "unknown"
            let pid = request.peer.map { String($0.pid) } ?? "unknown"
            switch access.decide(request.peer) {
            case .allowed(let why):
                logger.notice("api \(request.method) \(request.path) allowed",
                              metadata: ["uid": "\(uid)", "pid": "\(pid)", "as": "\(why)"])
            case .denied(let why):
                logger.warning("api \(request.method) \(request.path) refused",
                               metadata: ["uid": "\(uid)", "pid": "\(pid)"])
                return (route.pattern, .error(403, "forbidden", why))
            }
        }
        return (route.pattern, route.handler(self, request, captured))
    }

    // MARK: - Parameters

    /// `limit` as a number from 1 to 1000 (default `fallback`), or the 400 to answer.
    private func limit(_ request: APIRequest, default fallback: Int) -> Result<Int, APIError> {
        let text = request.query["limit"] ?? String(fallback)
        guard let value = Int(text), (1...1000).contains(value) else {
            return .failure(APIError(400, "bad_limit", "limit must be a number from 1 to 1000, not \"\(text)\""))
        }
        return .success(value)
    }

    /// `since` in seconds since the epoch, if given.
    private func since(_ request: APIRequest) -> Result<Double?, APIError> {
        guard let text = request.query["since"], !text.isEmpty else { return .success(nil) }
        guard let value = Double(text), value.isFinite, value >= 0 else {
            return .failure(APIError(400, "bad_since", "since must be seconds since 1970-01-01 UTC, not \"\(text)\""))
        }
        return .success(value)
    }

    // MARK: - Reads

    /// Every metric in the Prometheus text format; the gauges that mirror state are read now, from the status report
    /// and the fetch queue.
    private func metrics() -> APIResponse {
        let text = DaemonMetrics.shared.exposition(status: control.status(), linksDue: try? control.database.dueLinkCount())
        return APIResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: .bytes(Array(text.utf8)))
    }

    private func status(_ request: APIRequest) -> APIResponse {
        let verify = request.query["verify"].map { $0 == "1" || $0 == "true" } ?? false
        guard let watch = request.query["watch"], watch == "1" || watch == "true" else {
            return .json(control.status(verify: verify))
        }
        // A full count reads every row: asked for once, not every interval.
        if verify { return .error(400, "verify_with_watch", "verify=1 counts every row and cannot be combined with watch=1") }
        let text = request.query["interval"] ?? "1"
        guard let interval = Double(text), (0.1...3600).contains(interval) else {
            return .error(400, "bad_interval", "interval must be seconds from 0.1 to 3600, not \"\(text)\"")
        }
        let control = self.control
        // One JSON line per interval on one connection, until the client leaves or the daemon stops.
        return APIResponse(status: 200, contentType: "application/x-ndjson", body: .stream { sink in
            while !sink.shouldStop {
                var line = try await sink.blocking { Array(try WireJSON.encoder().encode(control.status())) }
                line.append(0x0A)
                try await sink.write(line)
                let until = monotonicSeconds() + interval
                // Short sleeps, so a stopping daemon or a departed client ends the stream promptly.
                while !sink.shouldStop, monotonicSeconds() < until {
                    try await Task.sleep(for: .milliseconds(Int(min(50, max(1, (until - monotonicSeconds()) * 1000)))))
                }
            }
        })
    }

    private func search(_ request: APIRequest) -> APIResponse {
        let query = request.query["q"] ?? ""
        let tagText = request.query["tag"] ?? ""
        let tag = TagName.normalize(tagText)
        guard tagText.trimmingCharacters(in: .whitespaces).isEmpty || tag != nil else {
            return .error(400, "bad_tag", "tag must name a tag, such as ?tag=economics, not \"\(tagText)\"")
        }
        guard !query.trimmingCharacters(in: .whitespaces).isEmpty || tag != nil else {
            return .error(400, "missing_query", "give the words to search for as ?q=, or a tag as ?tag=")
        }
        do {
            let limit = try limit(request, default: 20).get()
            let since = try since(request).get()
            let source = request.query["source"]
            let asked = request.query["mode"] ?? ""
            guard ["", "words", "meaning", "hybrid"].contains(asked) else {
                return .error(400, "bad_mode", "mode must be words, meaning or hybrid, not \"\(asked)\"")
            }
            let semantic = control.semantic
            // Without words to embed (a tag alone) or without a model, words rank alone.
            let canMean = !query.trimmingCharacters(in: .whitespaces).isEmpty && semantic.unavailable == nil && semantic.state.index.count > 0
            if asked == "meaning" {
                guard canMean else {
                    let why = semantic.unavailable ?? (query.trimmingCharacters(in: .whitespaces).isEmpty
                        ? "a search by meaning needs words (?q=)" : "no insight has a sentence vector yet; see `insightctl status`")
                    return .error(409, "meaning_unavailable", "cannot search by meaning: \(why)")
                }
                var reply = SearchReply(query: query, tag: tag, results: try semantic.meaningSearch(query, limit: limit, since: since, source: source, tag: tag))
                reply.mode = "meaning"
                return .json(reply)
            }
            if asked != "words", canMean {
                let found = try semantic.hybridSearch(query, limit: limit, since: since, source: source, tag: tag)
                var reply = SearchReply(query: query, tag: tag, results: found.results, rankedAmongNewest: found.rankedAmongNewest)
                reply.mode = "hybrid"
                return .json(reply)
            }
            let found = try control.database.search(query, limit: limit, since: since, source: source, tag: tag)
            var reply = SearchReply(query: query, tag: tag, results: found.results, rankedAmongNewest: found.rankedAmongNewest)
            reply.mode = "words"
            if asked == "hybrid", !canMean { reply.note = "ranked by words only: " + (semantic.unavailable ?? "no insight has a sentence vector yet") }
            return .json(reply)
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    private func tags() -> APIResponse {
        do {
            return .json(TagsReply(tags: try control.database.tags()))
        } catch {
            return .store(error)
        }
    }

    private func recent(_ request: APIRequest) -> APIResponse {
        do {
            let limit = try limit(request, default: 20).get()
            let since = try since(request).get()
            return .json(RecentReply(insights: try control.database.recent(limit: limit, since: since)))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    private func conflicts(_ request: APIRequest) -> APIResponse {
        do {
            let limit = try limit(request, default: 50).get()
            return .json(ConflictsReply(conflicts: try control.database.conflictPairs(limit: limit)))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    private func show(_ idText: String) -> APIResponse {
        guard let id = Int64(idText), id > 0 else {
            return .error(400, "bad_id", "an insight id is a positive number, not \"\(idText)\"")
        }
        do {
            guard var detail = try control.database.insight(id: id) else {
                return .error(404, "no_such_insight", "there is no insight \(id); `insightctl search` or `insightctl recent` show ids")
            }
            detail.related = try control.semantic.related(to: id, limit: 5, closeOnly: true)
            return .json(detail)
        } catch {
            return .store(error)
        }
    }

    private func sources(_ request: APIRequest) -> APIResponse {
        var states: [SourceState] = []
        for name in (request.query["state"] ?? "").split(separator: ",") {
            guard let state = SourceState(rawValue: String(name)) else {
                return .error(400, "bad_state", "unknown state \"\(name)\"; use \(SourceState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            states.append(state)
        }
        do {
            return .json(SourcesReply(sources: try control.database.sources(states: states)))
        } catch {
            return .store(error)
        }
    }

    private func failed() -> APIResponse {
        do {
            return .json(SourcesReply(sources: try control.database.sources(states: [.failed, .skipped])))
        } catch {
            return .store(error)
        }
    }

    private func export(_ request: APIRequest) -> APIResponse {
        let format = request.query["format"] ?? "jsonl"
        guard let writer = ExportFormat(rawValue: format) else {
            return .error(400, "bad_format", "unknown export format \"\(format)\"; use jsonl, csv or markdown")
        }
        let since: Double?
        switch self.since(request) {
        case .success(let value): since = value
        case .failure(let error): return error.response
        }
        let database = control.database
        let semantic = control.semantic
        return APIResponse(status: 200, contentType: writer.contentType, body: .stream { sink in
            try await sink.write(writer.header)
            var after: Int64 = 0
            // Pages keep memory flat however many insights there are.
            while !sink.shouldStop {
                let from = after
                let (chunk, last) = try await sink.blocking { () throws -> ([UInt8], Int64?) in
                    var page = try database.exportPage(afterID: from, limit: 500, since: since)
                    try semantic.annotate(&page)
                    var chunk: [UInt8] = []
                    for record in page { chunk += try writer.render(record) }
                    return (chunk, page.last?.id)
                }
                guard let last else { break }
                try await sink.write(chunk)
                after = last
            }
        })
    }

    private func related(_ idText: String, _ request: APIRequest) -> APIResponse {
        guard let id = Int64(idText), id > 0 else {
            return .error(400, "bad_id", "an insight id is a positive number, not \"\(idText)\"")
        }
        do {
            let limit = try limit(request, default: 10).get()
            guard try control.database.insight(id: id) != nil else {
                return .error(404, "no_such_insight", "there is no insight \(id); `insightctl search` or `insightctl recent` show ids")
            }
            if let why = control.semantic.unavailable {
                return .error(409, "meaning_unavailable", "cannot find related insights: \(why)")
            }
            guard try control.semantic.vector(of: id) != nil else {
                return .error(409, "not_embedded", "insight \(id) has no sentence vector yet; `insightctl status` shows how many wait")
            }
            return .json(RelatedReply(id: id, related: try control.semantic.related(to: id, limit: limit)))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    private func paraphrases(_ request: APIRequest) -> APIResponse {
        do {
            let limit = try limit(request, default: 50).get()
            return .json(ParaphrasesReply(paraphrases: try control.semantic.paraphrases(limit: limit)))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    // MARK: - Writes

    struct MergeRequest: Decodable { var id: Int64?; var into: Int64? }
    struct KeepApartRequest: Decodable { var id: Int64?; var other: Int64? }

    private func merge(_ request: APIRequest) -> APIResponse {
        let usage = "{\"id\":N,\"into\":M} to make insight N another wording of insight M"
        do {
            let body = try JSONBody.decode(MergeRequest.self, from: request.body, fields: ["id", "into"], usage: usage)
            guard let id = body.id, let into = body.into, id > 0, into > 0, id != into else {
                return .error(400, "bad_body", "give two different positive ids; send \(usage)")
            }
            guard try control.semantic.merge(id, into: into) else {
                return .error(404, "no_such_insight", "insight \(id) or \(into) does not exist; `insightctl paraphrases` lists suggestions")
            }
            logger.notice("insights merged", metadata: ["id": "\(id)", "into": "\(into)"])
            return .json(ActionReply(ok: true, message: "insight \(id) is now another wording of insight \(into), with its sources"))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }

    private func keepApart(_ request: APIRequest) -> APIResponse {
        let usage = "{\"id\":N,\"other\":M} to stop suggesting that N and M say the same"
        do {
            let body = try JSONBody.decode(KeepApartRequest.self, from: request.body, fields: ["id", "other"], usage: usage)
            guard let id = body.id, let other = body.other, id > 0, other > 0, id != other else {
                return .error(400, "bad_body", "give two different positive ids; send \(usage)")
            }
            guard try control.database.keepApart(id, other, now: Date().timeIntervalSince1970) else {
                return .error(404, "no_such_insight", "insight \(id) or \(other) does not exist")
            }
            return .json(ActionReply(ok: true, message: "insights \(id) and \(other) are kept apart and not suggested again"))
        } catch let error as APIError {
            return error.response
        } catch {
            return .store(error)
        }
    }


    private func forget(_ idText: String) -> APIResponse {
        guard let id = Int64(idText), id > 0 else {
            return .error(400, "bad_id", "an insight id is a positive number, not \"\(idText)\"")
        }
        do {
            guard let occurrences = try control.database.forget(id: id) else {
                return .error(404, "no_such_insight", "there is no insight \(id); `insightctl search` or `insightctl recent` show ids")
            }
            control.semantic.forgotten(id)
            logger.notice("insight forgotten", metadata: ["id": "\(id)", "occurrences": "\(occurrences)"])
            return .json(ActionReply(ok: true, message: "forgot insight \(id) and its \(occurrences) occurrence\(occurrences == 1 ? "" : "s")"))
        } catch {
            return .store(error)
        }
    }

    private func retry(_ request: APIRequest) -> APIResponse {
        do {
            let body = try JSONBody.decode(RetryRequest.self, from: request.body, fields: ["path", "all"],
                                           usage: "{\"path\":\"FILE\"} or {\"all\":true}")
            if body.all == true {
                let count = try control.retryProblems()
                return .json(ActionReply(ok: true, message: count == 0 ? "no failed or skipped files to retry"
                                         : "\(count) failed or skipped file\(count == 1 ? "" : "s") queued again"))
            }
            guard let path = body.path, !path.isEmpty else {
                return .error(400, "bad_body", "give {\"path\":\"FILE\"} (relative to the inbox) or {\"all\":true}")
            }
            // Checked here, before any lookup: a NUL would cut the path short and retry another file.
            try TextCheck.plain(path, field: "the path")
            let relative = try control.retry(path: path)
            return .json(ActionReply(ok: true, message: "\(relative) queued again"))
        } catch {
            return error.response
        }
    }

    // MARK: - Links

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
            return .store(error)
        }
    }

    struct RetryLinksRequest: Decodable { var id: Int64? }

    private func addLink(_ request: APIRequest) -> APIResponse {
        let body: AddLinkRequest
        do {
            body = try JSONBody.decode(AddLinkRequest.self, from: request.body, fields: ["url"], usage: "{\"url\":\"https://…\"}")
            try TextCheck.plain(body.url, field: "the url")
        } catch {
            return error.response
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
            return .store(error)
        }
    }

    private func retryLinks(_ request: APIRequest) -> APIResponse {
        let usage = "{\"id\":N} for one link or {} for every failed one"
        let body: RetryLinksRequest
        do {
            body = try JSONBody.decode(RetryLinksRequest.self, from: request.body, fields: ["id"], usage: usage)
        } catch {
            return error.response
        }
        if let id = body.id, id <= 0 {
            return .error(400, "bad_body", "the field \"id\" must be a positive number; send \(usage)")
        }
        do {
            let count = try control.database.retryLinks(id: body.id)
            control.links.poke()
            return .json(ActionReply(ok: true, message: "\(count) link\(count == 1 ? "" : "s") queued again"))
        } catch {
            return .store(error)
        }
    }
}

/// An error reply decided while reading a request's parameters.
struct APIError: Error, Sendable {
    var status: Int
    var code: String
    var message: String
    init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
    var response: APIResponse { .error(status, code, message) }
}

/// The export formats: one record rendered at a time, so exports stream in constant memory.
enum ExportFormat: String, Sendable {
    case jsonl, csv, markdown

    var contentType: String {
        switch self {
        case .jsonl: return "application/x-ndjson"
        case .csv: return "text/csv; charset=utf-8"
        case .markdown: return "text/markdown; charset=utf-8"
        }
    }

    var header: [UInt8] {
        switch self {
        case .jsonl: return []
        case .csv: return Array("id,text,created_at,sources,tags,formats,locations,added_at,notes\r\n".utf8)
        case .markdown: return Array("# Insights\n\n".utf8)
        }
    }

    func render(_ record: ExportRecord) throws -> [UInt8] {
        switch self {
        case .jsonl:
            return Array(try WireJSON.encoder().encode(record)) + [0x0A]
        case .csv:
            // RFC 4180: every field quoted, quotes doubled, CRLF line ends. `formats`, `locations` and `added_at`
            // hold one entry per source, in the order of `sources`; `notes` one line per source that has a note.
            let sources = record.sources.map { "\($0.path):\($0.line)" }.joined(separator: "; ")
            let created = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: record.createdAt))
            let fields = [
                String(record.id), record.text, created, sources, record.tags.joined(separator: "; "),
                record.sources.map { $0.format ?? "" }.joined(separator: "; "),
                record.sources.map { $0.location ?? "" }.joined(separator: "; "),
                record.sources.map { $0.addedAt ?? "" }.joined(separator: "; "),
                record.sources.compactMap { source in source.note.map { "\(source.path):\(source.line): \($0)" } }.joined(separator: "\n"),
            ]
            return Array((fields.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ",") + "\r\n").utf8)
        case .markdown:
            let sources = record.sources.map { source -> String in
                var place = "\(source.path):\(source.line)"
                if let section = source.section { place += " (\(section))" }
                if let date = source.date { place += ", \(date)" }
                let details = [source.format, source.location, source.addedAt.map { "added \($0)" }].compactMap { $0 }
                if !details.isEmpty { place += " [\(details.joined(separator: ", "))]" }
                return place
            }.joined(separator: "; ")
            let text = record.text.replacingOccurrences(of: "\n", with: " ")
            var item = "- \(text)\n  *#\(record.id) · \(sources)*\n"
            if !record.tags.isEmpty { item += "  " + record.tags.map { "#" + $0 }.joined(separator: " ") + "\n" }
            for source in record.sources {
                guard let note = source.note else { continue }
                item += "  > \(note.replacingOccurrences(of: "\n", with: " ")) (\(source.path):\(source.line))\n"
            }
            return Array((item + "\n").utf8)
        }
    }
}
