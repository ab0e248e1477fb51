import Foundation
import InsightCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// An article page with boilerplate around three paragraphs that are insights.
func articlePage(_ topic: String, charset: String = "utf-8") -> String {
    """
    <!doctype html><html lang="en"><head><meta charset="\(charset)"><title>\(topic) | Example News</title>
    <meta property="og:site_name" content="Example News"><link rel="canonical" href="https://news.example/\(topic.lowercased())">
    </head><body><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/tech">Tech</a></nav>
    <article><h1>\(topic)</h1>
    <p>The first finding about \(topic) is that small changes in price moved demand far more than anyone expected.</p>
    <p>The second finding about \(topic) is that regions which moved early kept their lead for more than a decade.</p>
    <p>The third finding about \(topic) is that the official forecasts missed the turning point by several years.</p>
    </article><footer>Copyright Example News. <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer></body></html>
    """
}

/// GET /v1/links through the real socket.
func linkList(_ daemon: DaemonHarness) throws -> [LinkInfo] {
    let reply = try rawRequest(daemon.socket, "GET /v1/links?limit=1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    guard let body = reply.range(of: "\r\n\r\n").map({ reply[$0.upperBound...] }) else { throw HarnessError("no reply body") }
    return try WireJSON.decoder().decode(LinksReply.self, from: Data(body.utf8)).links
}

@Suite("Linked articles are fetched with libcurl and stored", .serialized)
struct LinkTests {
    static let fetchEnvironment = [
        "INSIGHTD_FETCH_ALLOW_PRIVATE_ADDRESSES": "true", "INSIGHTD_FETCH_PER_HOST_DELAY_MS": "0",
        "INSIGHTD_FETCH_PER_HOST_CONCURRENCY": "4", "INSIGHTD_FETCH_BACKOFF_BASE_MS": "300",
        "INSIGHTD_FETCH_MAX_ARTICLE_BYTES": "8192", "INSIGHTD_FETCH_TIMEOUT_S": "2", "INSIGHTD_FETCH_MAX_ATTEMPTS": "3",
    ]

    @Test func linksInDroppedFilesBecomeArticlesWithEveryOutcomeRecorded() async throws {
        let flaky = Atomic<Int>(0)
        let limited = Atomic<Int>(0)
        let server = try await HTTPTestServer.start { request in
            let path = request.path.split(separator: "?").first.map(String.init) ?? request.path
            switch path {
            case "/solar": return .text(200, articlePage("Solar"))
            case "/moved": return .redirect(301, to: "/batteries")
            case "/batteries": return .text(200, articlePage("Batteries"))
            case "/to-ftp": return .redirect(302, to: "ftp://127.0.0.1/file")
            case "/missing": return .text(404, "not here")
            case "/flaky":
                return flaky.wrappingAdd(1, ordering: .relaxed).oldValue == 0 ? .text(500, "try later") : .text(200, articlePage("Shipping"))
            case "/limited":
                return limited.wrappingAdd(1, ordering: .relaxed).oldValue == 0
                    ? .text(429, "slow down", headers: [("Retry-After", "1")]) : .text(200, articlePage("Housing"))
            case "/latin1":
                let page = articlePage("Café", charset: "iso-8859-1")
                return .full(status: 200, headers: [("Content-Type", "text/html; charset=iso-8859-1")],
                             body: page.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            case "/huge": return .text(200, articlePage("Huge") + String(repeating: "<p>padding words here</p>", count: 2000))
            case "/slow":
                return .drip(status: 200, headers: [("Content-Type", "text/html")], chunk: Array("<p>".utf8), interval: .milliseconds(700), count: 20)
            case "/notes.txt":
                return .text(200, "Plain text articles are split into insights like dropped files are.\n", type: "text/plain; charset=utf-8")
            default: return .text(404, "unknown")
            }
        }
        let daemon = try DaemonHarness(environment: Self.fetchEnvironment)
        try daemon.start()
        let base = server.baseURL
        try daemon.write("reading.md", """
            Links I want to keep, with notes that are long enough to be insights of their own.

            The solar piece (\(base)/solar?utm_source=newsletter&utm_medium=email) is worth a second read.
            Same piece again: [solar](\(base)/solar?fbclid=abc123#comments) and <\(base)/moved>.
            Also \(base)/to-ftp, \(base)/missing and \(base)/flaky, plus \(base)/limited.
            Then \(base)/latin1 and \(base)/huge and \(base)/slow and \(base)/notes.txt.
            """)
        let report = try daemon.waitForStatus(timeout: 60, "every link is fetched or failed for good") { report in
            guard report.links.found == 10, report.links.queued == 0, report.links.fetching == 0 else { return false }
            let links = (try? linkList(daemon)) ?? []
            return links.allSatisfy { $0.state == "fetched" || $0.failure == "permanent" }
        }
        let links = try linkList(daemon)
        func link(_ path: String) throws -> LinkInfo { try #require(links.first { $0.url.hasPrefix(base + path) }, "\(path)") }

        // Two tracking variants of one article: one link, fetched once.
        #expect(links.filter { $0.url.contains("/solar") }.count == 1)
        #expect(server.requests.filter { $0.path.hasPrefix("/solar") }.count == 1)
        #expect(try link("/solar").url == base + "/solar")
        #expect(try link("/solar").title?.contains("Solar") == true)
        #expect(try link("/moved").state == "fetched")
        #expect(try link("/moved").finalUrl == base + "/batteries")
        #expect(try link("/to-ftp").failure == "permanent")
        #expect(try link("/missing").failure == "permanent")
        #expect(try link("/missing").error?.contains("404") == true)
        #expect(try link("/flaky").state == "fetched")
        #expect(try link("/flaky").attempts >= 1)
        #expect(try link("/limited").state == "fetched")
        #expect(try link("/latin1").state == "fetched")
        #expect(try link("/huge").failure == "permanent")
        #expect(try link("/slow").state == "failed")
        #expect(try link("/notes.txt").state == "fetched")
        #expect(try link("/solar").linkedFrom.map(\.path) == ["reading.md"])

        // The articles' paragraphs are insights whose source is the URL.
        #expect(report.links.fetched == 6)
        let export = try daemon.ctl(["export"])
        let records = try export.stdout.split(separator: "\n").map { try WireJSON.decoder().decode(ExportRecord.self, from: Data($0.utf8)) }
        let solar = try #require(records.first { $0.text.hasPrefix("The first finding about Solar") })
        #expect(solar.sources.map(\.path) == [base + "/solar"])
        // A fetched article reads as the same page saved into the inbox: under its title, as html.
        #expect(solar.sources.first?.section == "Solar | Example News", "\(solar.sources)")
        #expect(solar.sources.first?.format == "html")
        #expect(records.first { $0.text.hasPrefix("Plain text articles are split") }?.sources.first?.format == "text")
        #expect(records.contains { $0.text.hasPrefix("The second finding about Café") })
        #expect(records.contains { $0.text.hasPrefix("Plain text articles are split") })
        #expect(!records.contains { $0.text.contains("Copyright Example News") })
        // Files count only inbox files.
        #expect(report.files.ingested == 1)
        try daemon.stop()
        await server.stop()
    }

    @Test func theQueueSurvivesARestartAndEachArticleIsStoredOnce() async throws {
        let server = try await HTTPTestServer.start { request in
            .delayed(.milliseconds(300), then: .text(200, articlePage("Topic" + request.path.filter(\.isNumber))))
        }
        var environment = Self.fetchEnvironment
        environment["INSIGHTD_FETCH_CONCURRENCY"] = "1"
        environment["INSIGHTD_FETCH_PER_HOST_CONCURRENCY"] = "1"
        let daemon = try DaemonHarness(environment: environment)
        try daemon.start()
        let urls = (1...8).map { server.url("/a\($0)") }
        try daemon.write("queue.txt", urls.joined(separator: "\n") + "\n")
        try waitUntil(timeout: 30, "some links are fetched") { ((try? daemon.status().links.fetched) ?? 0) >= 2 }
        daemon.crash()
        try daemon.start()
        let report = try daemon.waitForStatus(timeout: 60, "all eight links are fetched") { $0.links.fetched == 8 }
        #expect(report.insights.unique == 24)
        #expect(report.insights.occurrences == 24)
        try daemon.stop()
        await server.stop()
    }

    @Test func aLinkFetchedAgainUsesAConditionalGet() async throws {
        let server = try await HTTPTestServer.start { request in
            if request.header("If-None-Match") == "\"v1\"" { return .full(status: 304, headers: [("ETag", "\"v1\"")]) }
            return .text(200, articlePage("Tides"), headers: [("ETag", "\"v1\"")])
        }
        let daemon = try DaemonHarness(environment: Self.fetchEnvironment)
        try daemon.start()
        try daemon.write("tides.txt", "An article about tides that I want to keep: \(server.url("/tides"))\n")
        try daemon.waitForStatus(timeout: 30, "the article is fetched") { $0.links.fetched == 1 }
        let id = try #require(try linkList(daemon).first?.id)
        let reply = try rawRequest(daemon.socket, "POST /v1/links/retry HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(#"{"id":\#(id)}"#.utf8.count)\r\n\r\n{\"id\":\(id)}")
        #expect(reply.hasPrefix("HTTP/1.1 200"))
        let sawConditional = await server.waitFor(timeout: .seconds(20)) { $0.count == 2 }
        #expect(sawConditional)
        #expect(server.requests.last?.header("If-None-Match") == "\"v1\"")
        let report = try daemon.waitForStatus(timeout: 30, "the link is fetched again") { $0.links.fetched == 1 && $0.links.queued == 0 && $0.links.fetching == 0 }
        // Three paragraphs of the article and the file's own line, each once.
        #expect(report.insights.unique == 4)
        #expect(report.insights.occurrences == 4)
        try daemon.stop()
        await server.stop()
    }

    @Test func byDefaultLinksToLoopbackAreRefusedWithAReason() async throws {
        let server = try await HTTPTestServer.start { _ in .text(200, articlePage("Private")) }
        let daemon = try DaemonHarness()
        try daemon.start()
        try daemon.write("private.txt", "This file links to a local page at \(server.url("/page")) that must not be fetched.\n")
        try daemon.waitForStatus(timeout: 30, "the link failed") { $0.links.failed == 1 }
        let link = try #require(try linkList(daemon).first)
        #expect(link.failure == "permanent")
        #expect(link.error?.contains("127.0.0.1") == true)
        #expect(server.requests.isEmpty)
        try daemon.stop()
        await server.stop()
    }
}

@Suite("libcurl is opened on the first fetch")
struct LazyCurlTests {
    /// Whether a shared object whose name starts with `libcurl` is mapped into process `pid`.
    static func curlMapped(_ pid: Int32) throws -> Bool {
        // Read to the end: /proc files say they are empty, so a read sized by stat gets nothing.
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/maps") else { throw HarnessError("cannot open /proc/\(pid)/maps") }
        defer { try? handle.close() }
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        guard maps.contains("insightd") else { throw HarnessError("/proc/\(pid)/maps does not list insightd") }
        return maps.split(separator: "\n").contains { $0.split(separator: "/").last?.hasPrefix("libcurl") == true }
    }

    @Test func aDaemonWithNoLinkToFetchNeverMapsLibcurlAndTheFirstLinkOpensIt() async throws {
        let server = try await HTTPTestServer.start { _ in .text(200, articlePage("Tides")) }
        let daemon = try DaemonHarness(environment: LinkTests.fetchEnvironment)
        try daemon.start()
        let pid = try #require(daemon.process?.processIdentifier)
        try daemon.write("plain.txt", "A note without any link in it, long enough to be an insight of its own.\n")
        _ = try daemon.waitForStatus(timeout: 30, "the note is stored") { $0.files.ingested == 1 }
        #expect(try Self.curlMapped(pid) == false, "libcurl is mapped before any link was fetched")

        try daemon.write("linked.txt", "The tides piece at \(server.baseURL)/tides is the one to read again this week.\n")
        _ = try daemon.waitForStatus(timeout: 30, "the link is fetched") { $0.links.fetched == 1 }
        #expect(try Self.curlMapped(pid), "libcurl is not mapped after a fetch")
        #expect(try daemon.stop() == 0)
    }
}
