import CLibXML2

/// Works out the character encoding of a page's bytes, in the order the caller's brief asks for:
/// the HTTP `Content-Type` charset, else a byte-order mark, else `<meta charset>` / `http-equiv`,
/// else UTF-8, with Windows-1252 as the fallback for bytes that are not valid UTF-8.
enum Charset {
    struct Decision: Equatable {
        /// The name handed to libxml2 (`UTF-8`, `windows-1252`, `UTF-16LE`, `Shift_JIS`, ...).
        var encoding: String
        /// How many leading bytes (a byte-order mark) to skip.
        var skip: Int
        /// Where the decision came from, for diagnostics and tests.
        var source: Source
        /// Set when the bytes were declared (or taken to be) UTF-8 but hold a few invalid sequences,
        /// which are replaced by U+FFFD before parsing.
        var needsRepair: Bool = false
    }

    enum Source: String, Equatable { case header, bom, meta, defaultUTF8, fallback1252 }

    static func decide(_ bytes: UnsafeBufferPointer<UInt8>, contentTypeCharset: String?) -> Decision {
        let bom = bomEncoding(bytes)
        if let raw = contentTypeCharset, let label = normalize(raw), isSupported(label) {
            let skip = (bom != nil && bom!.0 == label) ? bom!.1 : (label == "UTF-8" && bom?.0 == "UTF-8" ? 3 : 0)
            if label == "UTF-8" { return utf8Decision(bytes, skip: skip, source: .header, declared: true) }
            return Decision(encoding: label, skip: skip, source: .header)
        }
        if let (label, skip) = bom {
            if label == "UTF-8" { return utf8Decision(bytes, skip: skip, source: .bom, declared: true) }
            return Decision(encoding: label, skip: skip, source: .bom)
        }
        if let raw = metaCharset(bytes), var label = normalize(raw) {
            // A document cannot declare itself UTF-16 from inside ASCII-compatible bytes (WHATWG).
            if label.hasPrefix("UTF-16") { label = "UTF-8" }
            if label == "UTF-8" { return utf8Decision(bytes, skip: 0, source: .meta, declared: true) }
            if isSupported(label) { return Decision(encoding: label, skip: 0, source: .meta) }
        }
        return utf8Decision(bytes, skip: 0, source: .defaultUTF8, declared: false)
    }

    private static func utf8Decision(_ bytes: UnsafeBufferPointer<UInt8>, skip: Int, source: Source, declared: Bool) -> Decision {
        let (invalid, multibyte) = utf8Stats(UnsafeBufferPointer(rebasing: bytes[skip...]))
        if invalid == 0 { return Decision(encoding: "UTF-8", skip: skip, source: source) }
        // Undeclared, or declared UTF-8 but plainly something else: Windows-1252 (a superset of Latin-1).
        if !declared || invalid > multibyte {
            return Decision(encoding: "windows-1252", skip: skip, source: .fallback1252)
        }
        return Decision(encoding: "UTF-8", skip: skip, source: source, needsRepair: true)
    }

    static func bomEncoding(_ b: UnsafeBufferPointer<UInt8>) -> (String, Int)? {
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { return ("UTF-8", 3) }
        if b.count >= 2, b[0] == 0xFF, b[1] == 0xFE { return ("UTF-16LE", 2) }
        if b.count >= 2, b[0] == 0xFE, b[1] == 0xFF { return ("UTF-16BE", 2) }
        return nil
    }

    /// Maps a charset label to the name used with libxml2, folding the WHATWG aliases that matter.
    static func normalize(_ raw: String) -> String? {
        var s = raw.trimmingASCIIWhitespace().lowercased()
        while let f = s.first, f == "\"" || f == "'" { s.removeFirst() }
        while let l = s.last, l == "\"" || l == "'" || l == ";" { s.removeLast() }
        if s.isEmpty { return nil }
        switch s {
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8": return "UTF-8"
        case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii", "iso_8859-1", "cp1252",
             "windows-1252", "x-cp1252", "cp819", "ibm819", "iso-ir-100", "iso_8859-1:1987", "ansi_x3.4-1968":
            return "windows-1252"
        case "utf-16", "utf-16le", "unicode", "ucs-2", "csunicode", "iso-10646-ucs-2", "unicodefeff": return "UTF-16LE"
        case "utf-16be", "unicodefffe": return "UTF-16BE"
        case "gb2312", "gb_2312-80", "chinese", "csgb2312", "x-gbk", "gbk", "cp936", "windows-936": return "GBK"
        case "x-sjis", "shift-jis", "sjis", "ms_kanji", "csshiftjis", "windows-31j", "ms932": return "SHIFT_JIS"
        case "ks_c_5601-1987", "korean", "cseuckr", "windows-949", "euc-kr": return "EUC-KR"
        case "iso-8859-9", "latin5", "windows-1254": return "windows-1254"
        default: return s.uppercased()
        }
    }

    static func isSupported(_ label: String) -> Bool {
        if label == "UTF-8" || label == "UTF-16LE" || label == "UTF-16BE" { return true }
        guard let handler = xmlFindCharEncodingHandler(label) else { return false }
        xmlCharEncCloseFunc(handler)
        return true
    }

    /// The charset named by a `<meta charset>` or `<meta http-equiv=Content-Type content="...; charset=...">`
    /// in the first 16 KiB.
    static func metaCharset(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        let n = min(b.count, 16384)
        var i = 0
        while i + 7 < n {
            // Find "charset" case-insensitively.
            if (b[i] | 0x20) == 0x63, (b[i + 1] | 0x20) == 0x68, (b[i + 2] | 0x20) == 0x61, (b[i + 3] | 0x20) == 0x72,
               (b[i + 4] | 0x20) == 0x73, (b[i + 5] | 0x20) == 0x65, (b[i + 6] | 0x20) == 0x74 {
                if insideMetaTag(b, at: i) {
                    var j = i + 7
                    while j < n, b[j] == 0x20 || b[j] == 0x09 || b[j] == 0x0A || b[j] == 0x0D { j += 1 }
                    if j < n, b[j] == 0x3D {  // '='
                        j += 1
                        while j < n, b[j] == 0x20 || b[j] == 0x09 || b[j] == 0x22 || b[j] == 0x27 { j += 1 }
                        let start = j
                        while j < n, isLabelByte(b[j]) { j += 1 }
                        if j > start {
                            return String(decoding: UnsafeBufferPointer(rebasing: b[start..<j]), as: UTF8.self)
                        }
                    }
                }
                i += 7
                continue
            }
            i += 1
        }
        return nil
    }

    private static func isLabelByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            || c == 0x3A || c == 0x2E
    }

    private static func insideMetaTag(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        var j = i - 1
        let limit = max(0, i - 512)
        while j >= limit {
            if b[j] == 0x3E { return false }  // '>' closes an earlier tag
            if b[j] == 0x3C {  // '<'
                return j + 5 <= b.count && (b[j + 1] | 0x20) == 0x6D && (b[j + 2] | 0x20) == 0x65
                    && (b[j + 3] | 0x20) == 0x74 && (b[j + 4] | 0x20) == 0x61
            }
            j -= 1
        }
        return false
    }

    /// Counts invalid UTF-8 sequences and valid multi-byte ones.
    static func utf8Stats(_ b: UnsafeBufferPointer<UInt8>) -> (invalid: Int, multibyte: Int) {
        var invalid = 0, multi = 0
        var i = 0
        let n = b.count
        guard let base = b.baseAddress else { return (0, 0) }
        while i < n {
            // Skip ASCII eight bytes at a time.
            if i + 8 <= n {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 == 0 { i += 8; continue }
            }
            let c = base[i]
            if c < 0x80 { i += 1; continue }
            let len = sequenceLength(base, i, n)
            if len == 0 { invalid += 1; i += 1 } else { multi += 1; i += len }
        }
        return (invalid, multi)
    }

    /// The length of the valid UTF-8 sequence starting at `i` (non-ASCII lead byte), or 0 if invalid.
    @inline(__always)
    static func sequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let c = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && p[i + k] & 0xC0 == 0x80 }
        if c >= 0xC2 && c <= 0xDF { return cont(1) ? 2 : 0 }
        if c >= 0xE0 && c <= 0xEF {
            guard cont(1), cont(2) else { return 0 }
            let c1 = p[i + 1]
            if c == 0xE0 && c1 < 0xA0 { return 0 }
            if c == 0xED && c1 > 0x9F { return 0 }
            return 3
        }
        if c >= 0xF0 && c <= 0xF4 {
            guard cont(1), cont(2), cont(3) else { return 0 }
            let c1 = p[i + 1]
            if c == 0xF0 && c1 < 0x90 { return 0 }
            if c == 0xF4 && c1 > 0x8F { return 0 }
            return 4
        }
        return 0
    }

    /// Copies the bytes with every invalid UTF-8 sequence replaced by U+FFFD.
    static func repairUTF8(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(b.count + 64)
        guard let base = b.baseAddress else { return out }
        let n = b.count
        var i = 0
        while i < n {
            let c = base[i]
            if c < 0x80 { out.append(c); i += 1; continue }
            let len = sequenceLength(base, i, n)
            if len == 0 {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                i += 1
            } else {
                out.append(contentsOf: UnsafeBufferPointer(start: base + i, count: len))
                i += len
            }
        }
        return out
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var u = Substring(self)
        while let f = u.first, f.isWhitespace { u.removeFirst() }
        while let l = u.last, l.isWhitespace { u.removeLast() }
        return String(u)
    }
}
