/// Text made safe to print on a terminal or in a log line: every character that would act instead of show —
/// C0 and C1 controls, DEL, and the bidirectional overrides that reorder what follows — is written as a visible
/// escape (`\e`, `\r`, `\n`, `\x7f`, `\u202e`).
///
/// File names and note texts come from whoever can write to the inbox; printed raw, `ESC]0;…BEL` retitles the
/// admin's terminal, `ESC[2J` clears it and `U+202E` makes `txt.exe` read as `exe.txt`.
public enum VisibleText {
    /// Whether `scalar` must be escaped before it reaches a terminal.
    @inlinable
    public static func needsEscape(_ value: UInt32) -> Bool {
        value < 0x20 || (0x7F...0x9F).contains(value)
            || (0x202A...0x202E).contains(value) || (0x2066...0x2069).contains(value)
            || value == 0x200E || value == 0x200F || value == 0x061C
    }

    /// `text` with every unsafe character escaped; the text itself when there is none (the common case, no copy).
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0.value) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar.value) { out += escaped(scalar.value) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// The visible form of one unsafe character.
    static func escaped(_ value: UInt32) -> String {
        switch value {
        case 0x00: return "\\0"
        case 0x07: return "\\a"
        case 0x08: return "\\b"
        case 0x09: return "\\t"
        case 0x0A: return "\\n"
        case 0x0B: return "\\v"
        case 0x0C: return "\\f"
        case 0x0D: return "\\r"
        case 0x1B: return "\\e"
        case ..<0x100: return "\\x" + hex(value, digits: 2)
        default: return "\\u" + hex(value, digits: 4)
        }
    }

    static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// JSON's one-letter escapes of control characters: `\n`, `\r`, `\t`, `\b`, `\f`.
    static let shortEscapes: [UInt8: UInt32] = [0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x66: 0x0C]

    /// A JSON document whose string values are escaped as `escape` does, for replies that are decoded to be shown:
    /// `"a\u001b[31m"` becomes `"a\\e[31m"`, which decodes to the visible `a\e[31m`. Everything else is copied;
    /// invalid JSON stays invalid (the decoder reports it).
    public static func escapingStrings(inJSON json: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(json.count)
        var inString = false
        var index = 0
        func appendVisible(_ value: UInt32) {
            // A visible escape is ASCII starting with a backslash; in JSON that backslash is itself escaped.
            out.append(0x5C)
            out.append(contentsOf: Array(escaped(value).utf8))
        }
        while index < json.count {
            let byte = json[index]
            guard inString else {
                if byte == 0x22 { inString = true }
                out.append(byte)
                index += 1
                continue
            }
            switch byte {
            case 0x22:
                inString = false
                out.append(byte)
                index += 1
            case 0x5C where index + 1 < json.count:
                let kind = json[index + 1]
                if let value = shortEscapes[kind] {
                    appendVisible(value)
                    index += 2
                } else if kind == 0x75, index + 5 < json.count,
                          let value = UInt32(String(decoding: json[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16),
                          needsEscape(value) {
                    appendVisible(value)
                    index += 6
                } else {
                    out.append(byte)
                    out.append(kind)
                    index += 2
                }
            case 0x7F:
                appendVisible(0x7F)
                index += 1
            case 0xC2 where index + 1 < json.count && (0x80...0x9F).contains(json[index + 1]):
                appendVisible(UInt32(json[index + 1]))
                index += 2
            case 0xD8 where index + 1 < json.count && json[index + 1] == 0x9C:
                appendVisible(0x061C)
                index += 2
            case 0xE2 where index + 2 < json.count && (json[index + 1] == 0x80 || json[index + 1] == 0x81)
                    && needsEscape(0x2000 + (UInt32(json[index + 1] & 0x3F) << 6) + UInt32(json[index + 2] & 0x3F)):
                // U+200E/F (E2 80 8E/8F), U+202A–E (E2 80 AA–AE), U+2066–9 (E2 81 A6–A9).
                appendVisible(0x2000 + (UInt32(json[index + 1] & 0x3F) << 6) + UInt32(json[index + 2] & 0x3F))
                index += 3
            default:
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
