/// Which peer addresses a fetch may connect to.
///
/// Links come from files anyone may drop into the inbox; without this policy a link could make
/// the daemon talk to services on the machine or the local network.
enum AddressPolicy {
    /// Why connecting to this IPv4 address is refused, or nil when it is allowed.
    static func refusal(ipv4 a: [UInt8]) -> String? {
        guard a.count == 4 else { return "an IPv4 address of the wrong length" }
        switch (a[0], a[1]) {
        case (0, _): return a == [0, 0, 0, 0] ? "the unspecified address" : "a 'this network' address (0.0.0.0/8)"
        case (10, _): return "a private address (10.0.0.0/8)"
        case (100, 64...127): return "a carrier-grade NAT address (100.64.0.0/10)"
        case (127, _): return "a loopback address (127.0.0.0/8)"
        case (169, 254): return "a link-local address (169.254.0.0/16)"
        case (172, 16...31): return "a private address (172.16.0.0/12)"
        case (192, 168): return "a private address (192.168.0.0/16)"
        case (224...239, _): return "a multicast address (224.0.0.0/4)"
        case (240...255, _): return a == [255, 255, 255, 255] ? "the broadcast address" : "a reserved address (240.0.0.0/4)"
        default: return nil
        }
    }

    /// Why connecting to this IPv6 address is refused, or nil when it is allowed.
    static func refusal(ipv6 a: [UInt8]) -> String? {
        guard a.count == 16 else { return "an IPv6 address of the wrong length" }
        let firstTen = a[0..<10].allSatisfy { $0 == 0 }
        if firstTen && a[10] == 0xFF && a[11] == 0xFF {
            // ::ffff:a.b.c.d reaches the IPv4 address itself.
            return refusal(ipv4: Array(a[12..<16])).map { "\($0), written as an IPv4-mapped IPv6 address" }
        }
        if a[0..<15].allSatisfy({ $0 == 0 }) {
            if a[15] == 0 { return "the unspecified address (::)" }
            if a[15] == 1 { return "the loopback address (::1)" }
        }
        if firstTen && a[10] == 0 && a[11] == 0 {
            // Deprecated IPv4-compatible form ::a.b.c.d.
            return refusal(ipv4: Array(a[12..<16])).map { "\($0), written as an IPv4-compatible IPv6 address" }
        }
        if a[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0][...] {
            return refusal(ipv4: Array(a[12..<16])).map { "\($0), reached through NAT64 (64:ff9b::/96)" }
        }
        if a[0] & 0xFE == 0xFC { return "a unique local address (fc00::/7)" }
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return "a link-local address (fe80::/10)" }
        if a[0] == 0xFE && a[1] & 0xC0 == 0xC0 { return "a site-local address (fec0::/10)" }
        if a[0] == 0xFF { return "a multicast address (ff00::/8)" }
        return nil
    }
}
