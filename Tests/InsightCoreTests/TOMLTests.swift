import Testing
@testable import InsightCore

@Suite("TOML subset")
struct TOMLTests {
    @Test func parsesTheShapesTheConfigUses() throws {
        let table = try TOMLParser.parse("""
            # comment
            name = "insight\\td"   # trailing comment
            path = 'C:\\raw'
            count = 1_000
            ratio = 0.5
            on = true
            list = ["a", "b",
                    "c"]
            [watch]
            mode = "poll"
            [fetch.limits]
            max = 5
            dotted.key = 1
            """)
        #expect(table["name"] == .string("insight\td"))
        #expect(table["path"] == .string("C:\\raw"))
        #expect(table["count"] == .integer(1000))
        #expect(table["ratio"] == .float(0.5))
        #expect(table["on"] == .boolean(true))
        #expect(table["list"] == .array([.string("a"), .string("b"), .string("c")]))
        #expect(table["watch"] == .table(["mode": .string("poll")]))
        #expect(table["fetch"] == .table(["limits": .table(["max": .integer(5), "dotted": .table(["key": .integer(1)])])]))
    }

    @Test(arguments: [
        ("key = ", 1),
        ("a = 1\nb = \"unterminated", 2),
        ("a = 1\na = 2", 2),
        ("[t]\n[t]", 2),
        ("a = bare", 1),
        ("a = 1 b = 2", 1),
    ])
    func errorsNameTheLine(text: String, line: Int) {
        #expect { try TOMLParser.parse(text) } throws: { error in (error as? TOMLError)?.line == line }
    }
}
