/// How the bytes of a dropped file were turned into text.
public enum TextEncoding: String, Sendable, Codable {
    case utf8 = "utf-8"
    case utf8BOM = "utf-8-bom"
    case utf16LE = "utf-16le"
    case utf16BE = "utf-16be"
    case windows1252 = "windows-1252"
    /// UTF-8 with a few bytes that are not, read as Windows-1252 (text pasted from a Windows program into a note).
    case utf8WithWindows1252 = "utf-8+windows-1252"
}

/// Why bytes could not be read as text.
public struct DecodingFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was wrong with the bytes.
    public enum Code: String, Sendable {
        case binary
        case empty
    }
    public var code: Code
    public var description: String {
        switch code {
        case .binary: return "the file looks binary (it contains NUL or control bytes); only text files (.txt, .md) are ingested"
        case .empty: return "the file is empty"
        }
    }
}

/// Turns file bytes into text: UTF-8, then UTF-16 with a BOM, then UTF-8 with stray Windows-1252 bytes, then
/// Windows-1252, recording which.
public enum TextDecoder {
    /// Decodes `bytes`, rejecting binary content instead of guessing.
    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> (text: String, encoding: TextEncoding) {
        if bytes.isEmpty { throw DecodingFailure(code: .empty) }
        if bytes.count >= 2, bytes[0] == 0xFF, bytes[1] == 0xFE { return try utf16(bytes.dropFirst(2), littleEndian: true) }
        if bytes.count >= 2, bytes[0] == 0xFE, bytes[1] == 0xFF { return try utf16(bytes.dropFirst(2), littleEndian: false) }
        var body = bytes[...]
        var encoding = TextEncoding.utf8
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            body = bytes.dropFirst(3)
            encoding = .utf8BOM
        }
        if looksBinary(body) { throw DecodingFailure(code: .binary) }
        if let text = String(validating: body, as: UTF8.self) { return (text, encoding) }
        if let text = utf8WithStrayBytes(body) { return (text, .utf8WithWindows1252) }
        return (windows1252(body), .windows1252)
    }

    /// Reads UTF-8 sequences as UTF-8 and every other byte as Windows-1252; nil unless valid multi-byte sequences
    /// outnumber the stray bytes. One dash pasted from Word into a UTF-8 note must not turn every "é" of the file
    /// into "Ã©", while a Windows-1252 file (where "Ã©" is as rare as it looks) still reads as Windows-1252.
    static func utf8WithStrayBytes(_ bytes: ArraySlice<UInt8>) -> String? {
        var scalars = String.UnicodeScalarView()
        var sequences = 0, stray = 0
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b < 0x80 {
                scalars.append(Unicode.Scalar(b))
                i += 1
            } else if let (scalar, length) = utf8Sequence(bytes, at: i) {
                scalars.append(scalar)
                sequences += 1
                i += length
            } else {
                scalars.append(windows1252(b))
                stray += 1
                i += 1
            }
        }
        guard sequences > stray else { return nil }
        return String(scalars)
    }

    /// The scalar of the well-formed UTF-8 sequence starting at `i` (no overlong forms or surrogates) and its length.
    private static func utf8Sequence(_ bytes: ArraySlice<UInt8>, at i: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[i]
        let length: Int, secondRange: ClosedRange<UInt8>
        var value: UInt32
        switch lead {
        case 0xC2...0xDF: (length, secondRange, value) = (2, 0x80...0xBF, UInt32(lead & 0x1F))
        case 0xE0: (length, secondRange, value) = (3, 0xA0...0xBF, UInt32(lead & 0x0F))
        case 0xED: (length, secondRange, value) = (3, 0x80...0x9F, UInt32(lead & 0x0F))
        case 0xE1...0xEF: (length, secondRange, value) = (3, 0x80...0xBF, UInt32(lead & 0x0F))
        case 0xF0: (length, secondRange, value) = (4, 0x90...0xBF, UInt32(lead & 0x07))
        case 0xF4: (length, secondRange, value) = (4, 0x80...0x8F, UInt32(lead & 0x07))
        case 0xF1...0xF3: (length, secondRange, value) = (4, 0x80...0xBF, UInt32(lead & 0x07))
        default: return nil
        }
        guard i + length <= bytes.endIndex, secondRange.contains(bytes[i + 1]) else { return nil }
        for k in 1..<length {
            let continuation = bytes[i + k]
            guard (0x80...0xBF).contains(continuation) else { return nil }
            value = value << 6 | UInt32(continuation & 0x3F)
        }
        return Unicode.Scalar(value).map { ($0, length) }
    }

    /// NUL bytes or a high share of C0 control bytes mean this is not a text file.
    static func looksBinary(_ bytes: ArraySlice<UInt8>) -> Bool {
        var controls = 0
        for b in bytes {
            if b == 0 { return true }
            if b < 0x20, b != 0x09, b != 0x0A, b != 0x0D, b != 0x0C { controls += 1 }
        }
        return controls * 100 > max(bytes.count, 1) * 5 || (controls > 0 && bytes.count < 20)
    }

    private static func utf16(_ bytes: ArraySlice<UInt8>, littleEndian: Bool) throws(DecodingFailure) -> (text: String, encoding: TextEncoding) {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex {
            let a = UInt16(bytes[i]), b = UInt16(bytes[i + 1])
            units.append(littleEndian ? (b << 8 | a) : (a << 8 | b))
            i += 2
        }
        if units.contains(0) { throw DecodingFailure(code: .binary) }
        let text = String(decoding: units, as: UTF16.self)
        return (text, littleEndian ? .utf16LE : .utf16BE)
    }

    /// Windows-1252 differs from Latin-1 only in 0x80–0x9F.
    private static let cp1252High: [UInt32] = [
        0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
        0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
    ]

    static func windows1252(_ bytes: ArraySlice<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for b in bytes { scalars.append(windows1252(b)) }
        return String(scalars)
    }

    private static func windows1252(_ b: UInt8) -> Unicode.Scalar {
        let value: UInt32 = (0x80...0x9F).contains(b) ? cp1252High[Int(b) - 0x80] : UInt32(b)
        return Unicode.Scalar(value) ?? "\u{FFFD}"
    }
}
