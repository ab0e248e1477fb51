/// Byte-level helpers for text that is known to be ASCII, where every byte is a character of its own, so the
/// results equal the `Character`-based ones without grapheme breaking or allocation.
enum ASCIIText {
    @inline(__always)
    static func isASCII(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { $0 < 0x80 }
    }

    /// The non-empty pieces of an ASCII `text` between `separator` bytes, like `split(separator:)`.
    static func split(_ text: Substring, at separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == separator {
                if start != index { pieces.append(text[start..<index]) }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if start != index { pieces.append(text[start..<index]) }
        return pieces
    }

    /// The words of an ASCII `text` between spaces and tabs.
    static func words(_ text: Substring) -> [Substring] {
        var words: [Substring] = []
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            guard utf8[index] != 0x20, utf8[index] != 0x09 else {
                index = utf8.index(after: index)
                continue
            }
            let start = index
            while index != utf8.endIndex, utf8[index] != 0x20, utf8[index] != 0x09 { index = utf8.index(after: index) }
            words.append(text[start..<index])
        }
        return words
    }

    /// Whether `word.lowercased() == lowercase` for an ASCII, lower-case `lowercase`, without building the
    /// lower-cased copy when `word` is ASCII.
    static func equalsLowercased(_ word: Substring, _ lowercase: String) -> Bool {
        let bytes = word.utf8
        guard isASCII(word) else { return word.lowercased() == lowercase }
        guard bytes.count == lowercase.utf8.count else { return false }
        return zip(bytes, lowercase.utf8).allSatisfy { byte, wanted in
            ((0x41...0x5A).contains(byte) ? byte | 0x20 : byte) == wanted
        }
    }

    /// `text` with each line feed that is a character of its own (not the end of a CR LF) replaced by a space:
    /// what splitting at `"\n"` and joining with `" "` gives.
    static func replacingLineFeeds(_ text: String) -> String {
        guard text.utf8.contains(0x0A) else { return text }
        var bytes = Array(text.utf8)
        for index in bytes.indices where bytes[index] == 0x0A && (index == 0 || bytes[index - 1] != 0x0D) {
            bytes[index] = 0x20
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `MarkdownInline.noteSyntax` for an ASCII text, on its bytes; nil for other text.
    static func noteSyntax(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { bytes -> String? in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            let count = bytes.count
            func byte(_ index: Int) -> UInt8 { index < count ? bytes[index] : 0 }
            /// The first `pair` pair at or after `from`.
            func find(_ pair: UInt8, from: Int) -> Int? {
                var index = from
                while index + 1 < count {
                    if bytes[index] == pair, bytes[index + 1] == pair { return index }
                    index += 1
                }
                return nil
            }
            var index = 0
            while index < count {
                let current = bytes[index]
                guard current == 0x5B || current == 0x28 || current == 0x3D || current == 0x21 else {  // [ ( = !
                    out.append(current)
                    index += 1
                    continue
                }
                if current == 0x21, byte(index + 1) == 0x5B, byte(index + 2) == 0x5B, let close = find(0x5D, from: index + 3) {
                    // ![[embed]]
                    index = close + 2
                } else if current == 0x5B, byte(index + 1) == 0x5B, let close = find(0x5D, from: index + 2) {
                    // [[Page|alias]] and [[Page#Heading]]
                    let inner = UnsafeBufferPointer(rebasing: bytes[(index + 2)..<close])
                    let shown = inner.split(separator: 0x7C, maxSplits: 1).last ?? inner[...]
                    for (position, part) in shown.split(separator: 0x23).enumerated() {
                        if position > 0 { out.append(contentsOf: " › ".utf8) }
                        out.append(contentsOf: part)
                    }
                    index = close + 2
                } else if current == 0x28, byte(index + 1) == 0x28, let close = find(0x29, from: index + 2),
                          bytes[(index + 2)..<close].allSatisfy({ isHexDigit($0) || $0 == 0x2D }) {
                    // ((block-ref))
                    index = close + 2
                } else if current == 0x3D, byte(index + 1) == 0x3D, let close = find(0x3D, from: index + 2), close > index + 2 {
                    // ==highlight==
                    out.append(contentsOf: bytes[(index + 2)..<close])
                    index = close + 2
                } else {
                    out.append(current)
                    index += 1
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    @inline(__always)
    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }
}
