import Testing
@testable import InsightSemantic

/// The packed form of the index: each int8 value as a 7-bit magnitude beside its sign in the sketch.
@Suite("Packed int8 rows")
struct PackedVectorTests {
    /// Dimension counts around the 8-value groups and the 32-value steps of the AVX2 path, and the model's.
    static let dimensionCounts = [1, 2, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 100, 383, 384, 385]

    /// 255 rows of `dimensions` values in which every position takes every value −127…127 once.
    private static func everyValueEverywhere(_ dimensions: Int) -> [[Int8]] {
        (0..<255).map { row in (0..<dimensions).map { i in Int8((row + 37 * i) % 255 - 127) } }
    }

    /// The packed rows and sketches of `rows`, one after another as the index holds them.
    private static func packAll(_ rows: [[Int8]]) -> (packed: [UInt8], sketches: [UInt64]) {
        (rows.flatMap { VectorIndex.pack($0) }, rows.flatMap { VectorIndex.sketch($0) })
    }

    @Test("pack then unpack gives back every value −127…127 at every position", arguments: dimensionCounts)
    func roundTrip(dimensions: Int) {
        let rows = Self.everyValueEverywhere(dimensions)
        let (packed, sketches) = Self.packAll(rows)
        #expect(packed.count == rows.count * VectorIndex.packedBytes(dimensions))
        #expect(VectorIndex.packedBytes(dimensions) == (7 * dimensions + 7) / 8)
        packed.withUnsafeBufferPointer { packed in
            sketches.withUnsafeBufferPointer { sketches in
                // All rows in one call (the AVX2 path reads past a step only inside the rows given), each row on
                // its own (its last step is the last of the buffer), and the portable path.
                for portable in [false, true] {
                    let all = VectorIndex.unpack(packed, sketches: sketches, dimensions: dimensions, count: rows.count, portable: portable)
                    #expect(all == rows.flatMap { $0 }, "\(dimensions) dimensions, all rows at once, portable: \(portable)")
                    let rowBytes = VectorIndex.packedBytes(dimensions), words = (dimensions + 63) / 64
                    var wrong: [Int] = []
                    for (r, row) in rows.enumerated() {
                        let one = VectorIndex.unpack(UnsafeBufferPointer(rebasing: packed[(r * rowBytes)..<((r + 1) * rowBytes)]),
                                                     sketches: UnsafeBufferPointer(rebasing: sketches[(r * words)..<((r + 1) * words)]),
                                                     dimensions: dimensions, count: 1, portable: portable)
                        if one != row { wrong.append(r) }
                    }
                    #expect(wrong.isEmpty, "\(dimensions) dimensions, rows unpacked one by one, portable: \(portable): \(wrong.prefix(10))")
                }
            }
        }
    }

    @Test("the bit layout: value i at bits 7i…7i+6, little-endian, sign only in the sketch")
    func bitLayout() {
        #expect(VectorIndex.pack([Int8](repeating: 127, count: 8)) == [UInt8](repeating: 0xFF, count: 7))
        #expect(VectorIndex.pack([Int8](repeating: -127, count: 8)) == [UInt8](repeating: 0xFF, count: 7))
        #expect(VectorIndex.pack([1, 0, 0, 0, 0, 0, 0, 0]) == [0x01, 0, 0, 0, 0, 0, 0])
        #expect(VectorIndex.pack([0, -1, 0, 0, 0, 0, 0, 0]) == [0x80, 0, 0, 0, 0, 0, 0])
        #expect(VectorIndex.pack([0, 0, 0, 0, 0, 0, 0, 127]) == [0, 0, 0, 0, 0, 0, 0xFE])
        #expect(VectorIndex.pack([0, 0, 0, 0, 0, 0, 0, 0, 5]) == [0, 0, 0, 0, 0, 0, 0, 5])
        #expect(VectorIndex.pack([3]) == [3])
        // −128 has no 7-bit magnitude: it is held as −127.
        #expect(VectorIndex.pack([-128]) == [0x7F])
        #expect(VectorIndex(dimensions: 384).bytesPerVector == 336 + 48 + 4 + 8)
    }

    /// The search as it was over unpacked int8 rows: the best `k` by int8 dot × scale over every vector, then
    /// the exact float scores of those, best first (ties by id), `limit` of them.
    private static func unpackedSearch(_ query: [Float], stored: [(id: Int64, vector: QuantizedVector)], limit: Int) -> [(id: Int64, score: Float)] {
        var norm: Float = 0
        for x in query { norm += x * x }
        let unit = query.map { $0 / norm.squareRoot() }
        let wide = QuantizedVector(unit).values.map { Int32($0) }
        let k = limit + 16
        let approximate = stored.map { item -> (score: Float, id: Int64, values: [Int8], scale: Float) in
            var dot: Int32 = 0
            for i in 0..<wide.count { dot += wide[i] * Int32(item.vector.values[i]) }
            return (Float(dot) * item.vector.scale, item.id, item.vector.values, item.vector.scale)
        }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(k)
        var scored = approximate.map { item -> (id: Int64, score: Float) in
            var sum: Float = 0
            for i in 0..<item.values.count { sum += unit[i] * Float(item.values[i]) }
            return (item.id, sum * item.scale)
        }
        scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        return Array(scored.prefix(limit))
    }

    @Test("scores from the packed index are those of the unpacked int8 rows, bit for bit", arguments: [384, 100])
    func scoresMatchUnpackedReference(dimensions: Int) {
        var rng = SeededGenerator(state: UInt64(dimensions))
        // Exhaustive below 3000; the sketch pass (with a shortlist large enough to hold the best ten) above.
        for (count, exactBelow) in [(2500, 50_000), (3000, 0)] {
            let index = VectorIndex(dimensions: dimensions, exactScanBelow: exactBelow, oversampling: 40)
            var stored: [(id: Int64, vector: QuantizedVector)] = []
            for n in 0..<count {
                let q = QuantizedVector(randomUnitVector(dimensions, using: &rng))
                index.upsert(id: Int64(n * 3 + 1), q)
                stored.append((Int64(n * 3 + 1), q))
            }
            for _ in 0..<10 {
                // Near a stored vector, so the best ten stand out and the sketch pass finds them.
                let base = stored[Int(rng.next() % UInt64(count))].vector.dequantized
                let noise = randomUnitVector(dimensions, using: &rng)
                let query = zip(base, noise).map { $0 + 0.3 * $1 }
                let expected = Self.unpackedSearch(query, stored: stored, limit: 10)
                let exhaustive = index.nearest(to: query, limit: 10, exhaustive: true)
                #expect(exhaustive.map(\.id) == expected.map(\.id), "\(count) vectors")
                #expect(exhaustive.map(\.score) == expected.map(\.score), "\(count) vectors")
                // The default search (the sketch pass in the larger index) may pick other neighbours among such
                // faint similarities, but each score it gives is the one of the unpacked row.
                let all = Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0.vector) })
                for (id, score) in index.nearest(to: query, limit: 10) {
                    let reference = Self.unpackedSearch(query, stored: [(id, all[id]!)], limit: 1)
                    #expect(score == reference.first?.score, "\(count) vectors, id \(id)")
                }
            }
        }
    }

    @Test("magnitudes, signs and scales stay with their ids through out-of-order inserts, replacements and removals")
    func rowsStayWithTheirIds() {
        var rng = SeededGenerator(state: 77)
        let dimensions = 100  // 88 bytes a row, two sketch words: rows that do not line up with either
        let index = VectorIndex(dimensions: dimensions)
        var current: [Int64: QuantizedVector] = [:]
        func random() -> QuantizedVector {
            // Every value −127…127 can occur, zeros included.
            QuantizedVector(scale: Float(rng.next() % 1000) / 1000, values: (0..<dimensions).map { _ in Int8(Int(rng.next() % 255) - 127) })
        }
        var order = Array(0..<600)
        order.shuffle(using: &rng)
        for n in order {
            current[Int64(n)] = random()
            index.upsert(id: Int64(n), current[Int64(n)]!)
        }
        for n in stride(from: 0, to: 600, by: 5) {
            index.remove(id: Int64(n))
            current[Int64(n)] = nil
        }
        for n in stride(from: 1, to: 600, by: 9) {  // replacements, and re-inserts of removed ids between others
            current[Int64(n)] = random()
            index.upsert(id: Int64(n), current[Int64(n)]!)
        }
        index.upsert(id: -5, random())  // below every id: every slot moves
        index.remove(id: -5)
        #expect(index.count == current.count)
        var wrong: [Int64] = []
        for n in -5..<600 where index.vector(id: Int64(n)) != current[Int64(n)] { wrong.append(Int64(n)) }
        #expect(wrong.isEmpty, "ids whose vector differs: \(wrong.prefix(20))")
    }

    @Test("a stored −128 is searched as −127")
    func minus128IsHeldAs127() {
        let index = VectorIndex(dimensions: 8)
        index.upsert(id: 1, QuantizedVector(scale: 0.01, values: [-128, 5, 0, 0, 0, 0, 0, 0]))
        #expect(index.vector(id: 1)?.values == [-127, 5, 0, 0, 0, 0, 0, 0])
    }
}
