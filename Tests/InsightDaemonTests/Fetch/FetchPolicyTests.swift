import Foundation
import Testing
@testable import InsightDaemon

@Suite("Fetch policies without a network")
struct FetchPolicyTests {
    static let ipv4: [([UInt8], Bool)] = [
        ([127, 0, 0, 1], false), ([127, 255, 0, 9], false), ([10, 1, 2, 3], false), ([172, 16, 0, 1], false),
        ([172, 31, 255, 255], false), ([192, 168, 1, 1], false), ([169, 254, 169, 254], false),
        ([100, 64, 0, 1], false), ([100, 127, 255, 255], false), ([224, 0, 0, 251], false), ([0, 0, 0, 0], false),
        ([255, 255, 255, 255], false),
        ([93, 184, 216, 34], true), ([8, 8, 8, 8], true), ([172, 15, 0, 1], true), ([172, 32, 0, 1], true),
        ([100, 63, 0, 1], true), ([100, 128, 0, 1], true), ([192, 169, 0, 1], true), ([169, 253, 0, 1], true),
    ]

    @Test("IPv4 address policy", arguments: ipv4)
    func ipv4Policy(_ c: ([UInt8], Bool)) {
        #expect((AddressPolicy.refusal(ipv4: c.0) == nil) == c.1, "\(c.0)")
    }

    static func v6(_ groups: [UInt16]) -> [UInt8] { groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }

    static let ipv6: [([UInt8], Bool)] = [
        (v6([0, 0, 0, 0, 0, 0, 0, 1]), false),                       // ::1
        (v6([0, 0, 0, 0, 0, 0, 0, 0]), false),                       // ::
        (v6([0xfc00, 0, 0, 0, 0, 0, 0, 1]), false),                  // ULA
        (v6([0xfd12, 0x3456, 0, 0, 0, 0, 0, 1]), false),             // ULA
        (v6([0xfe80, 0, 0, 0, 0, 0, 0, 1]), false),                  // link-local
        (v6([0xff02, 0, 0, 0, 0, 0, 0, 1]), false),                  // multicast
        (v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001]), false),        // ::ffff:127.0.0.1
        (v6([0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101]), false),        // ::ffff:192.168.1.1
        (v6([0x64, 0xff9b, 0, 0, 0, 0, 0x0a00, 0x0001]), false),     // NAT64 of 10.0.0.1
        (v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), true),
        (v6([0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111]), true),
        (v6([0, 0, 0, 0, 0, 0xffff, 0x5db8, 0xd822]), true),         // ::ffff:93.184.216.34
    ]

    @Test("IPv6 address policy, including IPv4-mapped forms", arguments: ipv6)
    func ipv6Policy(_ c: ([UInt8], Bool)) {
        #expect((AddressPolicy.refusal(ipv6: c.0) == nil) == c.1, "\(PeerAddress.ipv6Text(c.0))")
    }

    @Test("mapped addresses say which IPv4 range they fall in")
    func mappedReason() {
        let reason = AddressPolicy.refusal(ipv6: Self.v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 0x0001]))
        #expect(reason?.contains("loopback") == true)
        #expect(reason?.contains("IPv4-mapped") == true)
    }

    static let contentTypes: [(String, String?, String?)] = [
        ("text/html", "text/html", nil),
        ("Text/HTML; Charset=UTF-8", "text/html", "utf-8"),
        ("text/html;charset=\"ISO-8859-1\"", "text/html", "iso-8859-1"),
        ("application/xhtml+xml; q=1; charset='windows-1252'", "application/xhtml+xml", "windows-1252"),
        ("text/plain; charset=", "text/plain", nil),
        ("", nil, nil),
    ]

    @Test("Content-Type media type and charset", arguments: contentTypes)
    func contentType(_ c: (String, String?, String?)) {
        let parsed = ResponseHead.parseContentType(c.0)
        #expect(parsed?.mediaType == c.1)
        #expect(parsed?.charset == c.2)
    }

    static let dates: [(String, Double?)] = [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),   // IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),  // RFC 850
        ("Sun Nov  6 08:49:37 1994", 784_111_777),        // asctime
        ("Thu, 29 Feb 2024 23:59:60 GMT", 1_709_251_200), // leap day, leap second
        ("yesterday", nil),
        ("Sun, 06 Nov 1994 25:00:00 GMT", nil),
    ]

    @Test("HTTP-date forms", arguments: dates)
    func httpDates(_ c: (String, Double?)) {
        #expect(HTTPDate.parse(c.0)?.timeIntervalSince1970 == c.1)
    }

    @Test("Retry-After as seconds, as a date, in the past, or garbage")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 784_111_777 - 90)
        #expect(ResponseHead.parseRetryAfter("120", now: now) == 120)
        #expect(ResponseHead.parseRetryAfter(" 0 ", now: now) == 0)
        #expect(ResponseHead.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == 90)
        #expect(ResponseHead.parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now: now.addingTimeInterval(1000)) == 0)
        #expect(ResponseHead.parseRetryAfter("-5", now: now) == nil)
        #expect(ResponseHead.parseRetryAfter("soon", now: now) == nil)
    }

    @Test("header lines: a new status line starts a new response (redirects, 100 Continue)")
    func headerLines() {
        var head = ResponseHead()
        for line in ["HTTP/1.1 301 Moved\r\n", "Location: /x\r\n", "ETag: \"old\"\r\n", "\r\n",
                     "HTTP/2 200\r\n", "content-type: text/html\r\n", "ETag:  \"new\" \r\n", "\r\n"] {
            head.consume(line: line)
        }
        #expect(head.status == 200)
        #expect(head.complete)
        #expect(head.fields["etag"] == "\"new\"")
        #expect(head.fields["location"] == nil)
    }

    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    @Test("backoff doubles from 30 s, stays in the jittered upper half, and is capped at 6 h",
          arguments: [(0, 30.0), (1, 60.0), (2, 120.0), (5, 960.0), (10, 21_600.0), (60, 21_600.0)])
    func backoff(_ c: (Int, Double)) {
        var generator = SeededGenerator(state: UInt64(c.0) + 1)
        var seen = Set<Double>()
        for _ in 0..<50 {
            let delay = FetchBackoff.delay(attempt: c.0, retryAfter: nil, base: 30, cap: 21_600, using: &generator)
            #expect(delay >= c.1 / 2 && delay <= c.1, "attempt \(c.0): \(delay)")
            seen.insert(delay)
        }
        #expect(seen.count > 1, "jitter varies the delay")
    }

    @Test("Retry-After wins over the backoff")
    func backoffRetryAfter() {
        var generator = SeededGenerator(state: 7)
        #expect(FetchBackoff.delay(attempt: 3, retryAfter: 5, base: 30, cap: 21_600, using: &generator) == 5)
    }

    @Test("default settings match the documented defaults")
    func defaults() {
        let s = FetchSettings()
        #expect(s.maximumRedirects == 5)
        #expect(s.connectTimeout == 10 && s.totalTimeout == 30)
        #expect(s.maximumBodyBytes == 5 * 1024 * 1024)
        #expect(s.globalConcurrency == 4 && s.perHostConcurrency == 1 && s.perHostDelay == 1)
        #expect(s.allowPrivateAddresses == false)
        #expect(s.userAgent.hasPrefix("insightd/") && s.userAgent.hasSuffix("(+https://github.com/insightd/insightd)"))
    }
}
