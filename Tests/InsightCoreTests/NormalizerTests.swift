import Testing
@testable import InsightCore

@Suite("Exact-duplicate key")
struct NormalizerTests {
    @Test(arguments: [
        ("China leads in open-source AI models.", "china leads in open-source ai models"),
        ("China   leads in\topen-source AI models", "china leads in open-source ai models"),
        ("CHINA LEADS IN OPEN-SOURCE AI MODELS!", "china leads in open-source ai models"),
        ("China leads in open\u{2013}source AI models.", "china leads in open-source ai models"),
        ("China leads in in open-source AI models.", "china leads in open-source ai models"),
        ("ｃｈｉｎａ leads in open-source AI models", "china leads in open-source ai models"),
    ])
    func variantsThatReadersDoNotSeeAsDifferentShareAKey(text: String, key: String) {
        #expect(Normalizer.key(text) == key)
    }

    @Test func curlyAndStraightQuotesFoldTogether() {
        #expect(Normalizer.key("The \u{201C}intelligence supply\u{201D} can be cut off.") == Normalizer.key("The \"intelligence supply\" can be cut off."))
        #expect(Normalizer.key("China\u{2019}s lead") == Normalizer.key("China's lead"))
    }

    @Test func differentWordsKeepDifferentKeys() {
        #expect(Normalizer.key("The market lost $1 trillion.") != Normalizer.key("The market lost $3 trillion."))
        #expect(Normalizer.key("X is open source.") != Normalizer.key("X is not open source."))
    }

    @Test func displayKeepsWordsAndTidiesWhitespace() {
        #expect(Normalizer.display("  Keep   THE words\n as  written. ") == "Keep THE words as written.")
    }

    @Test func fingerprintIsSixteenBytesAndStable() {
        let a = Normalizer.fingerprint(ofKey: "a key")
        #expect(a.count == 16)
        #expect(a == Normalizer.fingerprint(ofKey: "a key"))
        #expect(a != Normalizer.fingerprint(ofKey: "another key"))
    }
}

@Suite("SHA-256")
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(Hashing.sha256Hex(Array(input.utf8)) == digest)
        #expect(hexString(Hashing.sha256(Array(input.utf8))) == digest)
    }

    @Test func millionAsMatchesTheStandardVector() {
        let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hashing.sha256Hex(bytes) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func aKeysFingerprintIsTheFirstHalfOfItsSHA256() {
        // The value stored databases hold for this key: it must never change.
        #expect(hexString(Normalizer.fingerprint(ofKey: "a key")) == "8fa3aab2faa9b79e0a0398da5b5abd07")
    }
}

@Suite("Text decoding")
struct TextDecoderTests {
    @Test func utf8IsReadAsIs() throws {
        let (text, encoding) = try TextDecoder.decode(Array("naïve café".utf8))
        #expect(text == "naïve café")
        #expect(encoding == .utf8)
    }

    @Test func utf16WithBOMIsDecoded() throws {
        var bytes: [UInt8] = [0xFF, 0xFE]
        for unit in "héllo".utf16 { bytes += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        let (text, encoding) = try TextDecoder.decode(bytes)
        #expect(text == "héllo")
        #expect(encoding == .utf16LE)
    }

    @Test func invalidUTF8FallsBackToWindows1252() throws {
        let (text, encoding) = try TextDecoder.decode([0x63, 0x61, 0x66, 0xE9, 0x20, 0x93, 0x71, 0x94])
        #expect(text == "café \u{201C}q\u{201D}")
        #expect(encoding == .windows1252)
    }

    @Test func aStrayWindows1252ByteLeavesTheUTF8OfTheFileAlone() throws {
        // A UTF-8 note with one dash pasted from a Windows program (0x96, an en dash in Windows-1252).
        let bytes = Array("Our café in Zürich serves naïve pastries.\n\nA dash ".utf8) + [0x96] + Array(" pasted here.\n".utf8)
        let (text, encoding) = try TextDecoder.decode(bytes)
        #expect(text == "Our café in Zürich serves naïve pastries.\n\nA dash \u{2013} pasted here.\n")
        #expect(encoding == .utf8WithWindows1252)
    }

    @Test(arguments: [
        // "Ã©" in Windows-1252 is a valid two-byte UTF-8 sequence, outnumbered here by the file's other accents.
        ([0x63, 0x61, 0x66, 0xE9, 0x20, 0xC3, 0xA9, 0x20, 0x6E, 0x61, 0xEF, 0x76, 0x65], "café Ã© naïve"),
        // Truncated, overlong and surrogate sequences are not UTF-8.
        ([0x61, 0xE2, 0x82, 0x20, 0xC0, 0xAF, 0x20, 0xED, 0xA0, 0x80], "a\u{E2}\u{201A} \u{C0}\u{AF} \u{ED}\u{A0}\u{20AC}"),
    ] as [([UInt8], String)])
    func windows1252WinsWhenUTF8IsTheException(bytes: [UInt8], expected: String) throws {
        let (text, encoding) = try TextDecoder.decode(bytes)
        #expect(text == expected)
        #expect(encoding == .windows1252)
    }

    @Test(arguments: [[UInt8]([0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00]])
    func binaryIsRefused(bytes: [UInt8]) {
        #expect(throws: DecodingFailure(code: .binary)) { try TextDecoder.decode(bytes) }
    }

    @Test func emptyIsRefused() {
        #expect(throws: DecodingFailure(code: .empty)) { try TextDecoder.decode([]) }
    }
}

@Suite("The ASCII fast paths agree with the Unicode rules")
struct FastPathTests {
    @Test(arguments: [
        "Plain text with  double  spaces and a trailing period.",
        "Repeated repeated words and the the slips...",
        "  Leading and trailing whitespace\t\n",
        "Quotes 'single' and \"double\" and `ticks` at the end!?'\"",
        "UPPER lower MiXeD 123 numbers: 4,5",
        "",
        "...",
    ])
    func keyAndDisplayMatchTheGeneralPath(text: String) {
        #expect(Normalizer.asciiKey(text) == Normalizer.unicodeKey(text))
        #expect(Normalizer.display(text) == text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " "))
        #expect(DocumentParser.wordCount(text) == text.split(whereSeparator: { $0.isWhitespace }).count { word in
            word.contains(where: { $0.isLetter || $0.isNumber })
        })
    }

    @Test func lineSplittingHandlesEveryLineBreak() {
        #expect(DocumentParser.lines("a\nb\r\nc\rd").map(String.init) == ["a", "b", "c", "d"])
        #expect(DocumentParser.lines("é\n\nü\r\n").map(String.init) == ["é", "", "ü", ""])
    }
}
