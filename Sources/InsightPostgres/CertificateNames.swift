import Foundation

/// The names a server certificate carries, and libpq's rule for whether they name a host (`sslmode=verify-full`).
///
/// The rule, from libpq: the subject alternative names are compared in order, DNS names as text (case aside, a
/// leading `*.` standing for one label) and IP addresses as addresses when the host is written as one. The common
/// name is compared only when no alternative name is of the host's kind (DNS for a name, IP for an address), and
/// only the first common name. A name with a NUL byte in it fails the check.
struct CertificateNames: Equatable, Sendable {
    enum AlternativeName: Equatable, Sendable {
        /// A `dNSName`, as the bytes the certificate holds.
        case dns([UInt8])
        /// An `iPAddress`: 4 bytes for IPv4, 16 for IPv6.
        case ip([UInt8])
    }

    var alternativeNames: [AlternativeName]
    /// The first common name of the subject.
    var commonName: [UInt8]?

    init(alternativeNames: [AlternativeName], commonName: [UInt8]? = nil) {
        self.alternativeNames = alternativeNames
        self.commonName = commonName
    }

    /// Reads the subject's first common name and the subject alternative names of a DER X.509 certificate.
    init(der: [UInt8]) throws {
        var certificate = DERReader(der[...])
        var tbs = try DERReader(certificate.read(0x30).contents(0x30))
        if tbs.peek == 0xA0 { _ = try tbs.read(0xA0) }   // version
        _ = try tbs.read(0x02)                           // serial number
        _ = try tbs.read(0x30)                           // signature algorithm
        _ = try tbs.read(0x30)                           // issuer
        _ = try tbs.read(0x30)                           // validity
        var subject = try DERReader(tbs.read(0x30))
        _ = try tbs.read(0x30)                           // public key
        commonName = nil
        while !subject.isEmpty, commonName == nil {
            var set = try DERReader(subject.read(0x31))
            while !set.isEmpty {
                var attribute = try DERReader(set.read(0x30))
                let type = try attribute.read(0x06)
                let value = try attribute.readAny()
                if Array(type) == [0x55, 0x04, 0x03] {
                    commonName = Array(value.contents)
                    break
                }
            }
        }
        alternativeNames = []
        while !tbs.isEmpty {
            let field = try tbs.readAny()
            guard field.tag == 0xA3 else { continue }   // [1], [2]: unique identifiers
            var extensions = try DERReader(field.contents.contents(0x30))
            while !extensions.isEmpty {
                var item = try DERReader(extensions.read(0x30))
                let id = try item.read(0x06)
                if item.peek == 0x01 { _ = try item.read(0x01) }   // critical
                let value = try item.read(0x04)
                guard Array(id) == [0x55, 0x1D, 0x11] else { continue }
                var names = try DERReader(value.contents(0x30))
                while !names.isEmpty {
                    let name = try names.readAny()
                    switch name.tag {
                    case 0x82: alternativeNames.append(.dns(Array(name.contents)))
                    case 0x87: alternativeNames.append(.ip(Array(name.contents)))
                    default: break
                    }
                }
            }
        }
    }

    /// Whether the certificate names `host`, by libpq's rule.
    func match(host: String) -> Bool {
        let hostIsAddress = Self.ipv4(host) != nil || Self.ipv6(host) != nil
        var checkCommonName = true
        for name in alternativeNames {
            switch name {
            case .dns(let bytes):
                if !hostIsAddress { checkCommonName = false }
                guard !bytes.contains(0) else { return false }
                if Self.nameMatches(bytes, host: host) { return true }
            case .ip(let bytes):
                if hostIsAddress { checkCommonName = false }
                switch bytes.count {
                case 4: if Self.ipv4(host) == bytes { return true }
                case 16: if Self.ipv6(host) == bytes { return true }
                default: return false
                }
            }
        }
        guard checkCommonName, let commonName, !commonName.contains(0) else { return false }
        return Self.nameMatches(commonName, host: host)
    }

    /// The names, for a message.
    var listed: [String] {
        var names = alternativeNames.map { name -> String in
            switch name {
            case .dns(let bytes): String(decoding: bytes, as: UTF8.self)
            case .ip(let bytes): Self.format(bytes)
            }
        }
        if let commonName {
            let text = String(decoding: commonName, as: UTF8.self)
            if !names.contains(text) { names.append(text) }
        }
        return names
    }

    /// An exact match, case aside, or a `*.` wildcard standing for the host's first label.
    private static func nameMatches(_ name: [UInt8], host: String) -> Bool {
        let pattern = name.map(lowercased)
        let host = Array(host.utf8).map(lowercased)
        if pattern == host { return true }
        guard pattern.count >= 3, pattern[0] == UInt8(ascii: "*"), pattern[1] == UInt8(ascii: "."), pattern.count <= host.count else {
            return false
        }
        // Where the pattern starts to match: the host must end with the pattern past its `*`, and have no dot before that.
        let start = host.count - pattern.count
        guard host[(start + 1)...].elementsEqual(pattern.dropFirst()) else { return false }
        return host.firstIndex(of: UInt8(ascii: ".")).map { $0 >= start } ?? true
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }

    /// `host` as an IPv4 address the way inet_aton reads it (so `127.1` too), or nil.
    static func ipv4(_ host: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_aton(host, &address) != 0 else { return nil }
        return withUnsafeBytes(of: address.s_addr) { Array($0) }
    }

    /// `host` as an IPv6 address, or nil.
    static func ipv6(_ host: String) -> [UInt8]? {
        var address = in6_addr()
        guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address) { Array($0) }
    }

    private static func format(_ bytes: [UInt8]) -> String {
        let family = bytes.count == 4 ? AF_INET : bytes.count == 16 ? AF_INET6 : -1
        guard family != -1 else { return bytes.map { String(format: "%02x", $0) }.joined(separator: ":") }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let written = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) != nil }
        guard written else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Reads DER one element at a time: enough of it for the names of a certificate.
private struct DERReader {
    struct Element {
        let tag: UInt8
        let contents: ArraySlice<UInt8>
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String { "the certificate is not valid DER" }
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isEmpty: Bool { bytes.isEmpty }
    var peek: UInt8? { bytes.first }

    /// The next element's contents, which must have `tag`.
    mutating func read(_ tag: UInt8) throws -> ArraySlice<UInt8> {
        let element = try readAny()
        guard element.tag == tag else { throw Malformed() }
        return element.contents
    }

    mutating func readAny() throws -> Element {
        var index = bytes.startIndex
        guard bytes.count >= 2 else { throw Malformed() }
        let tag = bytes[index]
        // Multi-byte tags do not occur in the parts read here.
        guard tag & 0x1F != 0x1F else { throw Malformed() }
        index += 1
        let first = bytes[index]
        index += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7F)
            guard (1...4).contains(count), bytes.endIndex - index >= count else { throw Malformed() }
            for _ in 0..<count {
                length = length << 8 | Int(bytes[index])
                index += 1
            }
        }
        guard length <= bytes.endIndex - index else { throw Malformed() }
        let contents = bytes[index..<(index + length)]
        bytes = bytes[(index + length)...]
        return Element(tag: tag, contents: contents)
    }
}

private extension ArraySlice where Element == UInt8 {
    /// The contents of the one element these bytes hold, which must have `tag`.
    func contents(_ tag: UInt8) throws -> ArraySlice<UInt8> {
        var reader = DERReader(self)
        return try reader.read(tag)
    }
}
