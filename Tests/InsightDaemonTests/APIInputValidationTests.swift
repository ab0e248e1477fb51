import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A reply read off the raw socket: status, headers and body.
struct RawReply {
    var status: Int?
    var headers: [String: String]
    var body: String

    init(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        status = statusCode(bytes)
        let parts = text.components(separatedBy: "\r\n\r\n")
        body = parts.dropFirst().joined(separator: "\r\n\r\n")
        var headers: [String: String] = [:]
        for line in (parts.first ?? "").components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
    }

    var error: ErrorReply? { try? WireJSON.decoder().decode(ErrorReply.self, from: Data(body.utf8)) }
}

/// Sends `head` (request line and headers, without the blank line) and `body` on a new connection.
func send(_ daemon: DaemonHarness, _ head: String, body: String? = nil) -> RawReply {
    var request = head + "\r\nHost: x\r\n"
    if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
    request += "\r\n" + (body ?? "")
    return RawReply(exchange(daemon.socket, [Array(request.utf8)]))
}

@Suite("what the socket accepts and refuses at the edge", .serialized)
struct APIInputValidationTests {
    @Test func controlCharactersInPathsURLsAndFieldsAreRefusedAndChangeNothing() throws {
        let daemon = try startedWithFixtures()
        let before = try #require(try sourceList(daemon).first { $0.path == "a.txt" })
        #expect(before.state == "ingested")

        let refusals: [(head: String, body: String?, field: String, character: String)] = [
            ("POST /v1/retry HTTP/1.1", #"{"path":"a.txt\u0000x"}"#, "the path", "U+0000 at character 6"),
            ("POST /v1/retry HTTP/1.1", #"{"path":"a.txt\u001b[2J"}"#, "the path", "U+001B at character 6"),
            ("POST /v1/retry HTTP/1.1", #"{"path":"a.txt\u007f"}"#, "the path", "U+007F at character 6"),
            ("POST /v1/retry HTTP/1.1", #"{"path":"a.txt\u0085"}"#, "the path", "U+0085 at character 6"),
            ("POST /v1/retry HTTP/1.1", #"{"path":"a\tb.txt"}"#, "the path", "U+0009 at character 2"),
            ("POST /v1/links HTTP/1.1", #"{"url":"https://example.org/a\u0000b"}"#, "the url", "U+0000 at character 22"),
            ("GET /v1/insights/1%00 HTTP/1.1", nil, "the path", "U+0000 at character 15"),
            ("DELETE /v1/insights/1%00 HTTP/1.1", nil, "the path", "U+0000 at character 15"),
            ("GET /v1/status%C2%9B HTTP/1.1", nil, "the path", "U+009B at character 11"),
            ("GET /v1/search?q=shipping%00 HTTP/1.1", nil, "the query parameter q", "U+0000 at character 9"),
            ("GET /v1/search?q=shipping&source=a.txt%0A HTTP/1.1", nil, "the query parameter source", "U+000A at character 6"),
            ("GET /v1/sources?state=ingested%09 HTTP/1.1", nil, "the query parameter state", "U+0009 at character 9"),
            ("GET /v1/recent?limit%7F=3 HTTP/1.1", nil, "a query parameter name", "U+007F at character 6"),
        ]
        for refusal in refusals {
            let reply = send(daemon, refusal.head, body: refusal.body)
            #expect(reply.status == 400, "\(refusal.head) \(refusal.body ?? ""): \(reply.body)")
            #expect(reply.error?.error.code == "control_character", "\(refusal.head): \(reply.body)")
            #expect(reply.error?.error.message == "\(refusal.field) contains the control character \(refusal.character); remove it and send the request again",
                    "\(refusal.head): \(reply.body)")
        }
        // A target that does not decode is refused too, and a tab is ordinary text in a search.
        let undecodable = send(daemon, "GET /v1/search?q=%FF HTTP/1.1")
        #expect(undecodable.status == 400)
        #expect(undecodable.error?.error.code == "bad_target")
        let tab = send(daemon, "GET /v1/search?q=container%09shipping HTTP/1.1")
        #expect(tab.status == 200, "\(tab.body)")
        #expect(try WireJSON.decoder().decode(SearchReply.self, from: Data(tab.body.utf8)).results.count == 1)

        // Nothing was retried, forgotten or queued: give a wrongly retried file time to be taken, then read the store.
        usleep(1_000_000)
        let report = try daemon.waitForStatus("nothing is pending") { _ in true }
        #expect(report.insights.unique == 10)
        #expect(report.links.found == 0)
        try daemon.stop()
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        let after = try #require(try database.source(path: "a.txt"))
        #expect(after.state == .ingested)
        #expect(after.error == nil)
        #expect(after.updatedAt == before.updatedAt)
        #expect(after.ingestedAt == before.ingestedAt)
        #expect(try database.links(failedOnly: false, limit: 10).isEmpty)
    }

    @Test func bodiesThatCannotBeReadAre400OnEveryRouteThatTakesOne() throws {
        let daemon = try DaemonHarness()
        try daemon.start()
        // A link to a private address fails for good, without a fetch.
        try daemon.write("private.txt", "This note links to a local page at http://127.0.0.1:9/page that is never fetched.\n")
        try daemon.waitForStatus(timeout: 30, "the link failed") { $0.links.failed == 1 }
        let before = try linkList(daemon)
        #expect(before.count == 1)

        let refusals: [(head: String, body: String, message: String)] = [
            ("POST /v1/links/retry HTTP/1.1", #"{"id":"7"}"#,
             #"the field "id" must be a number; send {"id":N} for one link or {} for every failed one"#),
            ("POST /v1/links/retry HTTP/1.1", #"{"ids":7}"#,
             #"the body has an unknown field "ids"; send {"id":N} for one link or {} for every failed one"#),
            ("POST /v1/links/retry HTTP/1.1", #"{"id":0}"#,
             #"the field "id" must be a positive number; send {"id":N} for one link or {} for every failed one"#),
            ("POST /v1/links/retry HTTP/1.1", "[7]",
             #"the body is not a JSON object; send {"id":N} for one link or {} for every failed one"#),
            ("POST /v1/links/retry HTTP/1.1", "{id:7",
             #"the body is not a JSON object; send {"id":N} for one link or {} for every failed one"#),
            ("POST /v1/retry HTTP/1.1", #"{"all":"yes"}"#, #"the field "all" must be true or false; send {"path":"FILE"} or {"all":true}"#),
            ("POST /v1/retry HTTP/1.1", #"{"path":7}"#, #"the field "path" must be a string; send {"path":"FILE"} or {"all":true}"#),
            ("POST /v1/retry HTTP/1.1", #"{"everything":true}"#,
             #"the body has an unknown field "everything"; send {"path":"FILE"} or {"all":true}"#),
            ("POST /v1/links HTTP/1.1", #"{"uri":"https://example.org/"}"#,
             #"the body has an unknown field "uri"; send {"url":"https://…"}"#),
            ("POST /v1/links HTTP/1.1", "{}", #"the field "url" is missing; send {"url":"https://…"}"#),
            ("POST /v1/links HTTP/1.1", #"{"url":["https://example.org/"]}"#, #"the field "url" must be a string; send {"url":"https://…"}"#),
        ]
        for refusal in refusals {
            let reply = send(daemon, refusal.head, body: refusal.body)
            #expect(reply.status == 400, "\(refusal.head) \(refusal.body): \(reply.body)")
            #expect(reply.error?.error.code == "bad_body", "\(refusal.head) \(refusal.body): \(reply.body)")
            #expect(reply.error?.error.message == refusal.message, "\(refusal.head) \(refusal.body)")
        }

        // The failed link was not put back in the queue: give a wrong retry time to fetch, then read the store.
        usleep(1_500_000)
        #expect(try linkList(daemon) == before)
        try daemon.stop()
        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        let links = try database.links(failedOnly: false, limit: 10)
        #expect(links.count == 1)
        #expect(links.first?.state == .failed)
        #expect(links.first?.attempts == before.first?.attempts)
        #expect(links.first?.updatedAt == before.first?.updatedAt)
    }

    @Test func absoluteFormTargetsAreServedAndUnknownMethodsGetJSON() throws {
        let daemon = try startedWithFixtures()
        defer { _ = try? daemon.stop() }

        // RFC 9112 §3.2.2: a target with scheme and authority is the same request as its path.
        let absolute = send(daemon, "GET http://localhost/v1/status HTTP/1.1")
        #expect(absolute.status == 200)
        #expect(try WireJSON.decoder().decode(StatusReport.self, from: Data(absolute.body.utf8)).insights.unique == 10)
        let search = send(daemon, "GET HTTP://LOCALHOST:80/v1/search?q=container&limit=5 HTTP/1.1")
        let origin = send(daemon, "GET /v1/search?q=container&limit=5 HTTP/1.1")
        #expect(search.status == 200)
        #expect(search.body == origin.body)
        #expect(send(daemon, "GET http://localhost/v1/nothing HTTP/1.1").error?.error.message
                == "no endpoint /v1/nothing; see the API section of the README")

        let answers: [(head: String, status: Int, code: String, message: String)] = [
            ("CONNECT localhost:80 HTTP/1.1", 405, "method_not_allowed",
             "CONNECT is not allowed: insightd is not a proxy; the API uses GET, POST and DELETE on /v1/…"),
            ("BREW /v1/status HTTP/1.1", 501, "not_implemented",
             "BREW is not a method insightd knows; the API uses GET, POST and DELETE on /v1/…"),
            ("PROPFIND /v1/status HTTP/1.1", 501, "not_implemented",
             "PROPFIND is not a method insightd knows; the API uses GET, POST and DELETE on /v1/…"),
            ("DELETE /v1/status HTTP/1.1", 405, "method_not_allowed", "DELETE is not allowed on /v1/status; use GET"),
            ("PUT /v1/pause HTTP/1.1", 405, "method_not_allowed", "PUT is not allowed on /v1/pause; use POST"),
            ("GET /v1/status HTTP/1.1\r\nBad Header: x", 400, "bad_request", "the request is not valid HTTP/1.1 (invalid character in header)"),
        ]
        for answer in answers {
            let reply = send(daemon, answer.head)
            #expect(reply.status == answer.status, "\(answer.head): \(reply.body)")
            #expect(reply.headers["content-type"] == "application/json")
            #expect(reply.headers["insightd-api"] == "1")
            #expect(reply.headers["connection"] == "close")
            #expect(reply.error?.error.code == answer.code, "\(answer.head): \(reply.body)")
            #expect(reply.error?.error.message == answer.message, "\(answer.head)")
        }
        #expect(try daemon.status().state == "running")
    }
}

/// GET /v1/sources through the real socket.
func sourceList(_ daemon: DaemonHarness) throws -> [SourceInfo] {
    let reply = send(daemon, "GET /v1/sources HTTP/1.1")
    guard reply.status == 200 else { throw HarnessError("GET /v1/sources answered \(reply.status ?? 0): \(reply.body)") }
    return try WireJSON.decoder().decode(SourcesReply.self, from: Data(reply.body.utf8)).sources
}
