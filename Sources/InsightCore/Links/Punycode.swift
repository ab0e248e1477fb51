/// Punycode (RFC 3492), the encoding IDNA uses to carry Unicode host labels in ASCII.
public enum Punycode {
    private static let base: UInt32 = 36
    private static let tMin: UInt32 = 1
    private static let tMax: UInt32 = 26
    private static let skew: UInt32 = 38
    private static let damp: UInt32 = 700
    private static let initialBias: UInt32 = 72
    private static let initialN: UInt32 = 128

    /// Why a label could not be encoded or decoded.
    public enum Failure: Error, Sendable, Hashable {
        /// An intermediate value exceeded 32 bits (RFC 3492 section 6.4).
        case overflow
        /// The encoded input contains a character that is not a base-36 digit.
        case badInput
    }

    /// Encodes one label, e.g. `bücher` -> `bcher-kva` (without the `xn--` prefix).
    public static func encode(_ input: String) throws(Failure) -> String {
        let scalars = input.unicodeScalars.map(\.value)
        var output: [UInt8] = scalars.filter { $0 < 0x80 }.map { UInt8($0) }
        let basicCount = UInt32(output.count)
        var handled = basicCount
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }

        var n = initialN
        var delta: UInt32 = 0
        var bias = initialBias
        while handled < UInt32(scalars.count) {
            // The smallest code point not yet handled.
            guard let m = scalars.filter({ $0 >= n }).min() else { break }
            let (step, o1) = (m - n).multipliedReportingOverflow(by: handled + 1)
            let (d1, o2) = delta.addingReportingOverflow(step)
            if o1 || o2 { throw .overflow }
            delta = d1
            n = m
            for c in scalars {
                if c < n {
                    let (d, o) = delta.addingReportingOverflow(1)
                    if o { throw .overflow }
                    delta = d
                }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, numPoints: handled + 1, firstTime: handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            let (d2, o3) = delta.addingReportingOverflow(1)
            if o3 { throw .overflow }
            delta = d2
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes one label, e.g. `bcher-kva` -> `bücher` (without the `xn--` prefix).
    public static func decode(_ input: String) throws(Failure) -> String {
        let bytes = Array(input.utf8)
        var output: [UInt32] = []
        var start = 0
        if let dash = bytes.lastIndex(of: UInt8(ascii: "-")) {
            for b in bytes[..<dash] {
                guard b < 0x80 else { throw .badInput }
                output.append(UInt32(b))
            }
            start = dash + 1
        }
        var n = initialN
        var i: UInt32 = 0
        var bias = initialBias
        var index = start
        while index < bytes.count {
            let oldI = i
            var w: UInt32 = 1
            var k = base
            while true {
                guard index < bytes.count, let d = digitValue(bytes[index]) else { throw .badInput }
                index += 1
                let (dw, o1) = d.multipliedReportingOverflow(by: w)
                let (ni, o2) = i.addingReportingOverflow(dw)
                if o1 || o2 { throw .overflow }
                i = ni
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if d < t { break }
                let (nw, o3) = w.multipliedReportingOverflow(by: base - t)
                if o3 { throw .overflow }
                w = nw
                k += base
            }
            let count = UInt32(output.count + 1)
            bias = adapt(i - oldI, numPoints: count, firstTime: oldI == 0)
            let (nn, o4) = n.addingReportingOverflow(i / count)
            if o4 { throw .overflow }
            n = nn
            i %= count
            output.insert(n, at: Int(i))
            i += 1
        }
        var result = String.UnicodeScalarView()
        for v in output {
            guard let s = Unicode.Scalar(v) else { throw .badInput }
            result.append(s)
        }
        return String(result)
    }

    private static func adapt(_ delta: UInt32, numPoints: UInt32, firstTime: Bool) -> UInt32 {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k: UInt32 = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    private static func digit(_ d: UInt32) -> UInt8 {
        // 0..25 -> a..z, 26..35 -> 0..9
        d < 26 ? UInt8(d) + UInt8(ascii: "a") : UInt8(d - 26) + UInt8(ascii: "0")
    }

    private static func digitValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(b - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(b - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0")) + 26
        default: nil
        }
    }
}
