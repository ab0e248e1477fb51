import Foundation
import Testing
@testable import InsightCore

@Suite("Canonical URLs")
struct CanonicalURLTests {
    static let cases: [(input: String, canonical: String)] = [
        // scheme and host case, default ports, empty path, fragment
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com#top", "https://example.com/"),
        ("  https://example.com/padded  ", "https://example.com/padded"),
        ("https://user:secret@example.com/x", "https://example.com/x"),
        ("https://example.com./x", "https://example.com/x"),
        // IDN to punycode
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("https://MÜNCHEN.de/stadt", "https://xn--mnchen-3ya.de/stadt"),
        ("https://日本語。jp/", "https://xn--wgv71a119e.jp/"),
        ("https://b%C3%BCcher.example/", "https://xn--bcher-kva.example/"),
        // UTS #46 mapping before IDNA2008: full-width forms and dots, compatibility characters, ignored code points,
        // final sigma and ß kept (non-transitional), combining marks composed first
        ("https://ｅｘａｍｐｌｅ.com/a", "https://example.com/a"),
        ("https://ＡＢＣ．ｃｏｍ/", "https://abc.com/"),
        ("https://①.com/", "https://1.com/"),
        ("https://ﬁle.example/", "https://file.example/"),
        ("https://ex\u{AD}ample.com/", "https://example.com/"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://ΣΟΦΟΣ.gr/", "https://xn--0xaakcn.gr/"),
        ("https://bu\u{308}cher.example/", "https://xn--bcher-kva.example/"),
        ("https://%EF%BD%85%EF%BD%98%EF%BD%81%EF%BD%8D%EF%BD%90%EF%BD%8C%EF%BD%85.com/", "https://example.com/"),
        // IPv6
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        // tracking parameters removed, remaining query sorted (stable for repeated names)
        ("https://example.com/p?utm_source=x&utm_MEDIUM=y&id=7", "https://example.com/p?id=7"),
        ("https://example.com/p?b=2&a=1&fbclid=abc&gclid=1&msclkid=2", "https://example.com/p?a=1&b=2"),
        ("https://example.com/p?z=1&mc_cid=1&mc_eid=2&igshid=3&_hsenc=4&ref_src=twsrc&dclid=5",
         "https://example.com/p?z=1"),
        ("https://example.com/p?tag=b&tag=a&id=1", "https://example.com/p?id=1&tag=b&tag=a"),
        ("https://example.com/p?utm_source=only", "https://example.com/p"),
        ("https://example.com/p?", "https://example.com/p"),
        ("https://example.com/p?&&a=1&", "https://example.com/p?a=1"),
        ("https://example.com/p?ref=home", "https://example.com/p?ref=home"),
        // percent-encoding: upper-case hex, unreserved decoded, unsafe encoded, stray % escaped
        ("https://example.com/%7euser/%61%62c", "https://example.com/~user/abc"),
        ("https://example.com/a%2fb%3a", "https://example.com/a%2Fb%3A"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/caf\u{E9}", "https://example.com/caf%C3%A9"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/q?x=%7e&y=%2b", "https://example.com/q?x=~&y=%2B"),
        // dot segments
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/a/b/..", "https://example.com/a/"),
        ("https://example.com/../../x", "https://example.com/x"),
        ("https://example.com/a/%2E%2E/b", "https://example.com/b"),
        ("https://example.com/a/.", "https://example.com/a/"),
        // Wikipedia-style parentheses are ordinary path characters
        ("https://en.wikipedia.org/wiki/Swift_(programming_language)",
         "https://en.wikipedia.org/wiki/Swift_(programming_language)"),
    ]

    @Test("canonicalises", arguments: cases)
    func canonicalises(_ c: (input: String, canonical: String)) throws {
        #expect(try CanonicalURL(c.input).string == c.canonical)
    }

    @Test("canonical form is a fixed point", arguments: cases)
    func idempotent(_ c: (input: String, canonical: String)) throws {
        let once = try CanonicalURL(c.input)
        #expect(try CanonicalURL(once.string) == once)
    }

    static let rejected: [(input: String, code: LinkError.Code)] = [
        ("", .empty),
        ("   ", .empty),
        ("example.com/no-scheme", .malformed),
        ("ftp://example.com/file", .unsupportedScheme),
        ("file:///etc/passwd", .unsupportedScheme),
        ("javascript:alert(1)", .unsupportedScheme),
        ("mailto:someone@example.com", .unsupportedScheme),
        ("http:example.com", .malformed),
        ("https://", .invalidHost),
        ("https:///path", .invalidHost),
        ("https://exa mple.com/", .invalidHost),
        ("https://a..b/", .invalidHost),
        ("https://example.com:0/", .invalidPort),
        ("https://example.com:70000/", .invalidPort),
        ("https://example.com:12ab/", .invalidPort),
        ("https://[::1/", .invalidHost),
        ("https://[zz::1]/", .invalidHost),
        ("https://" + String(repeating: "a", count: 64) + ".com/", .invalidHost),
        ("https://" + String(repeating: "ü", count: 64) + ".com/", .invalidHost),
        // UTS #46 disallowed characters and IDNA2008 label rules
        ("https://a\u{2028}b.com/", .invalidHost),
        ("https://a\u{2100}b.com/", .invalidHost),
        ("https://-bücher.example/", .invalidHost),
    ]

    @Test("rejects with a coded error and a readable message", arguments: rejected)
    func rejects(_ c: (input: String, code: LinkError.Code)) {
        do {
            let url = try CanonicalURL(c.input)
            Issue.record("expected \(c.code) for \(c.input), got \(url)")
        } catch {
            #expect(error.code == c.code)
            #expect(!error.message.isEmpty)
        }
    }

    @Test("exposes the parts it canonicalised")
    func parts() throws {
        let url = try CanonicalURL("HTTPS://Example.com:8443/a/../b?z=1&a=2#f")
        #expect(url.scheme == "https")
        #expect(url.host == "example.com")
        #expect(url.port == 8443)
        #expect(url.path == "/b")
        #expect(url.query == "a=2&z=1")
        #expect(url.description == "https://example.com:8443/b?a=2&z=1")
    }

    @Test("round-trips through Codable as its string")
    func codable() throws {
        let url = try CanonicalURL("https://Example.com/x?utm_source=a")
        let data = try JSONEncoder().encode([url])
        #expect(String(decoding: data, as: UTF8.self) == #"["https:\/\/example.com\/x"]"#)
        #expect(try JSONDecoder().decode([CanonicalURL].self, from: data) == [url])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([CanonicalURL].self, from: Data(#"["ftp://x"]"#.utf8)) }
    }
}
