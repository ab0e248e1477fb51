import Foundation

/// A value of the configuration file's TOML subset.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table([String: TOMLValue])

    /// A short description of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a number"
        case .boolean: return "a boolean"
        case .array: return "an array"
        case .table: return "a table"
        }
    }
}

/// A syntax error in a TOML file, with the line where it was found.
public struct TOMLError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parses the TOML subset a configuration file needs: `[table]` and `[a.b]` headers, `key = value` with
/// bare, quoted and dotted keys, basic and literal strings, integers (with `_`), floats, booleans, and
/// arrays (also spanning lines), with `#` comments.
public enum TOMLParser {
    /// Parses `text` into its root table.
    public static func parse(_ text: String) throws(TOMLError) -> [String: TOMLValue] {
        var parser = Parser(Array(text.unicodeScalars))
        return try parser.document()
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        var line = 1

        init(_ s: [Unicode.Scalar]) { self.s = s }

        func fail(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

        mutating func document() throws(TOMLError) -> [String: TOMLValue] {
            var root: [String: TOMLValue] = [:]
            var current: [String] = []
            var definedTables: Set<[String]> = []
            while true {
                skipTrivia(newlines: true)
                guard i < s.count else { break }
                if s[i] == "[" {
                    i += 1
                    if i < s.count, s[i] == "[" { throw fail("arrays of tables ([[...]]) are not used in this configuration") }
                    skipSpaces()
                    let path = try keyPath()
                    skipSpaces()
                    guard i < s.count, s[i] == "]" else { throw fail("expected ']' after the table name") }
                    i += 1
                    guard definedTables.insert(path).inserted else { throw fail("table [\(path.joined(separator: "."))] is defined twice") }
                    try ensureTable(&root, path)
                    current = path
                } else {
                    let path = try keyPath()
                    skipSpaces()
                    guard i < s.count, s[i] == "=" else { throw fail("expected '=' after the key '\(path.joined(separator: "."))'") }
                    i += 1
                    skipSpaces()
                    let value = try self.value()
                    try assign(&root, current + path, value)
                }
                skipSpaces()
                skipComment()
                if i < s.count {
                    guard s[i] == "\n" || s[i] == "\r" else { throw fail("unexpected '\(s[i])' after a value; one key = value a line") }
                }
            }
            return root
        }

        mutating func skipSpaces() { while i < s.count, s[i] == " " || s[i] == "\t" { i += 1 } }
        mutating func skipComment() { if i < s.count, s[i] == "#" { while i < s.count, s[i] != "\n" { i += 1 } } }
        mutating func skipTrivia(newlines: Bool) {
            while i < s.count {
                if s[i] == " " || s[i] == "\t" || s[i] == "\r" { i += 1 }
                else if s[i] == "\n" { if !newlines { return }; line += 1; i += 1 }
                else if s[i] == "#" { skipComment() }
                else { return }
            }
        }

        mutating func keyPath() throws(TOMLError) -> [String] {
            var parts: [String] = []
            while true {
                skipSpaces()
                guard i < s.count else { throw fail("expected a key") }
                if s[i] == "\"" || s[i] == "'" {
                    guard case .string(let key) = try string() else { throw fail("bad key") }
                    parts.append(key)
                } else {
                    var key = String.UnicodeScalarView()
                    while i < s.count, isBare(s[i]) { key.append(s[i]); i += 1 }
                    if key.isEmpty { throw fail("expected a key, found '\(s[i])'") }
                    parts.append(String(key))
                }
                skipSpaces()
                if i < s.count, s[i] == "." { i += 1; continue }
                return parts
            }
        }

        func isBare(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
        }

        mutating func value() throws(TOMLError) -> TOMLValue {
            guard i < s.count else { throw fail("expected a value") }
            switch s[i] {
            case "\"", "'": return try string()
            case "[": return try array()
            case "t", "f": return try boolean()
            default: return try number()
            }
        }

        mutating func string() throws(TOMLError) -> TOMLValue {
            let quote = s[i]
            if i + 2 < s.count, s[i + 1] == quote, s[i + 2] == quote { throw fail("multi-line strings are not supported; use one line") }
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count {
                let c = s[i]
                if c == quote { i += 1; return .string(String(out)) }
                if c == "\n" { break }
                if c == "\\", quote == "\"" {
                    i += 1
                    guard i < s.count else { break }
                    switch s[i] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "u", "U":
                        let width = s[i] == "u" ? 4 : 8
                        guard i + width < s.count, let v = UInt32(String(String.UnicodeScalarView(s[(i + 1)...(i + width)])), radix: 16),
                              let scalar = Unicode.Scalar(v) else { throw fail("bad \\u escape") }
                        out.append(scalar)
                        i += width
                    default: throw fail("unknown escape '\\\(s[i])' in a string")
                    }
                    i += 1
                    continue
                }
                out.append(c)
                i += 1
            }
            throw fail("unterminated string")
        }

        mutating func array() throws(TOMLError) -> TOMLValue {
            i += 1
            var items: [TOMLValue] = []
            while true {
                skipTrivia(newlines: true)
                guard i < s.count else { throw fail("unterminated array") }
                if s[i] == "]" { i += 1; return .array(items) }
                items.append(try value())
                skipTrivia(newlines: true)
                guard i < s.count else { throw fail("unterminated array") }
                if s[i] == "," { i += 1; continue }
                if s[i] == "]" { i += 1; return .array(items) }
                throw fail("expected ',' or ']' in an array")
            }
        }

        mutating func boolean() throws(TOMLError) -> TOMLValue {
            if match("true") { return .boolean(true) }
            if match("false") { return .boolean(false) }
            throw fail("expected a value (a string needs quotes)")
        }

        mutating func match(_ word: String) -> Bool {
            let w = Array(word.unicodeScalars)
            guard i + w.count <= s.count, Array(s[i..<(i + w.count)]) == w else { return false }
            if i + w.count < s.count, isBare(s[i + w.count]) { return false }
            i += w.count
            return true
        }

        mutating func number() throws(TOMLError) -> TOMLValue {
            var text = ""
            while i < s.count, isBare(s[i]) || s[i] == "+" || s[i] == "." { text.unicodeScalars.append(s[i]); i += 1 }
            let clean = text.replacingOccurrences(of: "_", with: "")
            if let v = Int(clean) { return .integer(v) }
            if clean.contains("."), let v = Double(clean) { return .float(v) }
            if clean.isEmpty { throw fail("expected a value") }
            throw fail("'\(text)' is not a value (a string needs quotes)")
        }

        func ensureTable(_ root: inout [String: TOMLValue], _ path: [String]) throws(TOMLError) {
            guard let head = path.first else { return }
            var child: [String: TOMLValue] = [:]
            if let existing = root[head] {
                guard case .table(let table) = existing else { throw fail("'\(head)' is already a value, not a table") }
                child = table
            }
            try ensureTable(&child, Array(path.dropFirst()))
            root[head] = .table(child)
        }

        func assign(_ root: inout [String: TOMLValue], _ path: [String], _ value: TOMLValue) throws(TOMLError) {
            guard let head = path.first else { return }
            if path.count == 1 {
                if root[head] != nil { throw fail("key '\(head)' is set twice") }
                root[head] = value
                return
            }
            var child: [String: TOMLValue] = [:]
            if let existing = root[head] {
                guard case .table(let table) = existing else { throw fail("'\(head)' is already a value, not a table") }
                child = table
            }
            try assign(&child, Array(path.dropFirst()), value)
            root[head] = .table(child)
        }
    }
}
