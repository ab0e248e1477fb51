import Testing
@testable import InsightCore

@Suite("Punycode (RFC 3492)")
struct PunycodeTests {
    // Vectors from RFC 3492 section 7.1 and common IDN examples.
    static let vectors: [(unicode: String, ascii: String)] = [
        ("bücher", "bcher-kva"),
        ("münchen", "mnchen-3ya"),
        ("ü", "tda"),
        ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
        ("3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),
        ("日本語", "wgv71a119e"),
        ("пример", "e1afmkfd"),
    ]

    @Test("encodes Unicode labels to the RFC 3492 form", arguments: vectors)
    func encodes(_ vector: (unicode: String, ascii: String)) throws {
        #expect(try Punycode.encode(vector.unicode) == vector.ascii)
    }

    @Test("decodes RFC 3492 labels back to Unicode", arguments: vectors)
    func decodes(_ vector: (unicode: String, ascii: String)) throws {
        #expect(try Punycode.decode(vector.ascii) == vector.unicode)
    }

    @Test("rejects encoded input with characters outside the base-36 alphabet")
    func rejectsBadInput() {
        #expect(throws: Punycode.Failure.badInput) { try Punycode.decode("abc-d!e") }
    }
}
