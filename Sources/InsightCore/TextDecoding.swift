/// How the bytes of a dropped file were turned into text.
public enum TextEncoding: String, Sendable, Codable {
    case utf8 = "utf-8"
    case utf8BOM = "utf-8-bom"
    case utf16LE = "utf-16le"
    case utf16BE = "utf-16be"
    case windows1252 = "windows-1252"
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

/// Turns file bytes into text: UTF-8, then UTF-16 with a BOM, then Windows-1252, recording which.
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
        return (windows1252(body), .windows1252)
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
        for b in bytes {
            let value: UInt32 = (0x80...0x9F).contains(b) ? cp1252High[Int(b) - 0x80] : UInt32(b)
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(scalars)
    }
}
