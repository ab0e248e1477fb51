import CIDN2
import Foundation

/// An absolute `http`/`https` URL in canonical form, so that the same article reached through
/// differently written links is fetched and stored once.
///
/// Canonicalisation: scheme and host lower-cased, international host names through UTS #46 (libidn2) to punycode,
/// default port, fragment, user info and a trailing dot on the host dropped, tracking
/// parameters (`utm_*`, `fbclid`, `gclid`, ...) removed, the remaining query parameters sorted
/// by name (stable, so repeated names keep their order), an empty path written as `/`,
/// percent-encoding normalised (upper-case hex, unreserved characters decoded, unsafe
/// characters encoded) and `.`/`..` path segments resolved.
public struct CanonicalURL: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// `http` or `https`.
    public let scheme: String
    /// Lower-case ASCII host (punycode for international names; IPv6 literals keep their brackets).
    public let host: String
    /// The port when it is not the scheme's default.
    public let port: Int?
    /// The path, always starting with `/`.
    public let path: String
    /// The query without the leading `?`, or nil when none is left after cleaning.
    public let query: String?
    /// The full canonical text.
    public let string: String

    /// Parses and canonicalises `string`; throws when it is not an absolute http(s) URL.
    public init(_ string: String) throws(LinkError) {
        let input = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !input.isEmpty else {
            throw LinkError(.empty, "The link is empty; give an absolute http:// or https:// URL", input: string)
        }
        guard let colon = input.firstIndex(of: ":") else {
            throw LinkError(.malformed, "The link has no scheme; write it as http://host/path or https://host/path", input: input)
        }
        let rawScheme = input[..<colon].lowercased()
        guard rawScheme.first?.isLetter == true,
              rawScheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) else {
            throw LinkError(.malformed, "The link does not start with a valid scheme; write it as https://host/path", input: input)
        }
        guard rawScheme == "http" || rawScheme == "https" else {
            throw LinkError(.unsupportedScheme, "Only http and https links are fetched; '\(rawScheme)' links are ignored", input: input)
        }
        var rest = input[input.index(after: colon)...]
        guard rest.hasPrefix("//") else {
            throw LinkError(.malformed, "The link lacks '//' after '\(rawScheme):'; write it as \(rawScheme)://host/path", input: input)
        }
        rest = rest.dropFirst(2)

        // The fragment never reaches the server: drop it first.
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var rawQuery: Substring?
        if let q = rest.firstIndex(of: "?") {
            rawQuery = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let rawPath = rest[authorityEnd...]

        // User info (user:password@) is dropped: credentials do not belong in stored links.
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }

        let (host, port) = try Self.splitHostPort(authority, input: input)
        let canonicalHost = try Self.canonicalHost(host, input: input)
        let defaultPort = rawScheme == "http" ? 80 : 443
        let keptPort = port == defaultPort ? nil : port

        var path = PercentCoding.normalize(rawPath, allowed: PercentCoding.pathAllowed)
        path = Self.removeDotSegments(path)
        if path.isEmpty { path = "/" }

        let query = rawQuery.flatMap(Self.canonicalQuery)

        self.scheme = rawScheme
        self.host = canonicalHost
        self.port = keptPort
        self.path = path
        self.query = query
        var text = "\(rawScheme)://\(canonicalHost)"
        if let keptPort { text += ":\(keptPort)" }
        text += path
        if let query { text += "?" + query }
        self.string = text
    }

    public var description: String { string }

    public static func < (lhs: CanonicalURL, rhs: CanonicalURL) -> Bool { lhs.string < rhs.string }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(string)
    }

    // MARK: - Host and port

    private static func splitHostPort(_ authority: Substring, input: String) throws(LinkError) -> (Substring, Int?) {
        var host = authority
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw LinkError(.invalidHost, "The IPv6 address in the link is missing its closing ']'", input: input)
            }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.first == ":" else {
                    throw LinkError(.invalidHost, "Unexpected text after the IPv6 address; only ':port' may follow it", input: input)
                }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard let portText, !portText.isEmpty else { return (host, nil) }
        guard portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), (1...65535).contains(port) else {
            throw LinkError(.invalidPort, "The port '\(portText)' is not a number from 1 to 65535", input: input)
        }
        return (host, port)
    }

    private static func canonicalHost(_ raw: Substring, input: String) throws(LinkError) -> String {
        if raw.hasPrefix("[") {
            let inner = raw.dropFirst().dropLast()
            let address = inner.split(separator: "%", maxSplits: 1).first ?? inner  // zone ids are host-local
            guard !address.isEmpty, address.contains(":"),
                  address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw LinkError(.invalidHost, "'\(raw)' is not a valid IPv6 address", input: input)
            }
            return "[" + address.lowercased() + "]"
        }
        // Hosts may arrive percent-encoded; decode to Unicode before IDNA.
        let decoded = PercentCoding.decodeAll(raw)
        // An international name goes through UTS #46 (mapping: full-width forms, case, compatibility characters,
        // ignored code points; then IDNA2008 and punycode), as browsers and libcurl resolve it.
        let dotted = decoded.unicodeScalars.allSatisfy(\.isASCII) ? decoded : try Self.idnaToASCII(decoded, input: input)
        var labels = dotted.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        if labels.count > 1, labels.last == "" { labels.removeLast() }  // "example.com." is "example.com"
        guard !labels.isEmpty, !labels.contains(where: \.isEmpty) else {
            throw LinkError(.invalidHost, "The link has no host name, or one with an empty label", input: input)
        }
        var out: [String] = []
        for label in labels {
            // A DNS label holds at most 63 bytes; longer ones cannot be valid in any encoding.
            guard label.unicodeScalars.count <= 63 else {
                throw LinkError(.invalidHost, "A host label is longer than 63 characters, which DNS does not allow", input: input)
            }
            let ascii = label.lowercased()
            guard ascii.utf8.count <= 63,
                  ascii.utf8.allSatisfy({ PercentCoding.isHostByte($0) }) else {
                throw LinkError(.invalidHost, "The host label '\(label)' contains characters a host name may not have, or is longer than 63 bytes", input: input)
            }
            out.append(ascii)
        }
        return out.joined(separator: ".")
    }

    /// UTS #46 non-transitional processing of a host with non-ASCII characters (libidn2), to its ASCII form.
    static func idnaToASCII(_ host: String, input: String) throws(LinkError) -> String {
        var output: UnsafeMutablePointer<CChar>?
        let status = idn2_to_ascii_8z(host, &output, Int32(IDN2_NONTRANSITIONAL.rawValue | IDN2_NFC_INPUT.rawValue))
        defer { free(output) }
        guard status == IDN2_OK.rawValue, let output else {
            let reason = String(cString: idn2_strerror(status))
            throw LinkError(.invalidHost, "The host '\(host)' is not a valid international domain name (\(reason))", input: input)
        }
        return String(cString: output)
    }

    // MARK: - Path and query

    /// RFC 3986 section 5.2.4.
    static func removeDotSegments(_ path: String) -> String {
        guard path.contains(".") else { return path }
        var output: [Substring] = []
        var trailingSlash = false
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                trailingSlash = isLast
            case "..":
                if !output.isEmpty { output.removeLast() }
                trailingSlash = isLast
            default:
                output.append(segment)
                trailingSlash = false
            }
        }
        var result = "/" + output.joined(separator: "/")
        if trailingSlash && !result.hasSuffix("/") { result += "/" }
        return result
    }

    private static func canonicalQuery(_ raw: Substring) -> String? {
        var pairs: [(key: String, pair: String)] = []
        for piece in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = PercentCoding.normalize(piece, allowed: PercentCoding.queryAllowed)
            let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            if TrackingParameters.isTracking(PercentCoding.decodeAll(Substring(key))) { continue }
            pairs.append((key, pair))
        }
        guard !pairs.isEmpty else { return nil }
        // Stable sort by name only: the order of repeated names can carry meaning.
        let sorted = pairs.enumerated().sorted { a, b in
            a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
        }
        return sorted.map(\.element.pair).joined(separator: "&")
    }
}

/// Query parameters that only identify a campaign or click, never the document.
public enum TrackingParameters {
    /// Exact names (compared case-insensitively).
    public static let names: Set<String> = [
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "mc_cid", "mc_eid", "igshid", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",
        "ref_src", "ref_url", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "_openstat",
        "wickedid", "rb_clickid", "s_cid", "cmpid", "ncid", "sr_share", "spm",
    ]
    /// Name prefixes (compared case-insensitively).
    public static let prefixes: [String] = ["utm_", "pk_", "mtm_", "piwik_", "hmb_"]

    /// True when the parameter named `name` is a tracking parameter.
    public static func isTracking(_ name: String) -> Bool {
        let lower = name.lowercased()
        return names.contains(lower) || prefixes.contains(where: { lower.hasPrefix($0) })
    }
}

/// Percent-encoding normalisation (RFC 3986 section 6.2.2).
enum PercentCoding {
    /// Bytes left as they are in a path (besides unreserved): sub-delims, ':', '@', '/', and the
    /// brackets that servers in the wild accept.
    static let pathAllowed: Set<UInt8> = Set("!$&'()*+,;=:@/[]".utf8)
    /// Bytes left as they are in a query (besides unreserved).
    static let queryAllowed: Set<UInt8> = Set("!$&'()*+,;=:@/?[]".utf8)

    static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func appendEncoded(_ b: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "%"))
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 0xF)])
    }

    /// Decodes escapes of unreserved bytes, upper-cases the others, encodes bytes outside
    /// `allowed` and unreserved, and escapes a stray '%' as `%25`.
    static func normalize(_ text: Substring, allowed: Set<UInt8>) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "%") {
                if i + 2 < bytes.count,
                   let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                    let value = hi << 4 | lo
                    if isUnreserved(value) { out.append(value) } else { appendEncoded(value, to: &out) }
                    i += 3
                    continue
                }
                appendEncoded(b, to: &out)
            } else if isUnreserved(b) || allowed.contains(b) {
                out.append(b)
            } else {
                appendEncoded(b, to: &out)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes every valid `%XX` escape; invalid UTF-8 is replaced, invalid escapes are kept.
    static func decodeAll(_ text: Substring) -> String {
        guard text.contains("%") else { return String(text) }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
