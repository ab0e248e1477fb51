import Foundation
import Testing
@testable import InsightSemantic

/// Reproducible random numbers (SplitMix64), so a failure can be run again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomUnitVector(_ dimensions: Int, using rng: inout SeededGenerator) -> [Float] {
    // Sums of uniforms are close enough to Gaussian for directions spread over the sphere.
    let v = (0..<dimensions).map { _ in (0..<4).reduce(Float(0)) { s, _ in s + Float.random(in: -1...1, using: &rng) } }
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return v.map { $0 / norm }
}

@Suite("Int8 nearest-neighbour index")
struct VectorIndexTests {
    let dimensions = 384

    /// Float brute force: ids by descending dot product with `query`, ties by id.
    private func bruteForce(_ query: [Float], _ vectors: [(Int64, [Float])], limit: Int) -> [Int64] {
        var scored: [(id: Int64, score: Float)] = []
        for (id, v) in vectors {
            var dot: Float = 0
            for i in 0..<query.count { dot += query[i] * v[i] }
            scored.append((id, dot))
        }
        scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
        return scored.prefix(limit).map(\.id)
    }

    @Test("top 10 equals a float brute force", arguments: [1, 2, 3])
    func agreesWithBruteForce(seed: UInt64) {
        var rng = SeededGenerator(state: seed)
        let index = VectorIndex(dimensions: dimensions)
        var originals: [(Int64, [Float])] = []
        var dequantized: [(Int64, [Float])] = []
        for n in 0..<3000 {
            let v = randomUnitVector(dimensions, using: &rng)
            let id = Int64(n * 7 + 1)
            let q = QuantizedVector(v)
            index.upsert(id: id, q)
            originals.append((id, v))
            dequantized.append((id, q.dequantized))
        }
        #expect(index.count == 3000)
        var overlap = 0
        for _ in 0..<20 {
            // A query near a stored vector, as real queries are, and a random one.
            let base = originals[Int.random(in: 0..<originals.count, using: &rng)].1
            let noise = randomUnitVector(dimensions, using: &rng)
            for query in [zip(base, noise).map { $0 + 0.8 * $1 }, randomUnitVector(dimensions, using: &rng)] {
                let found = index.nearest(to: query, limit: 10)
                let unit = query.map { $0 / query.reduce(0) { $0 + $1 * $1 }.squareRoot() }
                // Exactly the float ranking of the vectors as stored…
                #expect(found.map(\.id) == bruteForce(unit, dequantized, limit: 10))
                // …with scores that are their cosines…
                for (id, score) in found {
                    let stored = dequantized.first { $0.0 == id }!.1
                    #expect(abs(score - cosine(unit, stored)) < 1e-4)
                }
                #expect(zip(found, found.dropFirst()).allSatisfy { $0.score >= $1.score })
                // …and nearly the ranking of the unquantised vectors.
                overlap += Set(found.map(\.id)).intersection(bruteForce(unit, originals, limit: 10)).count
            }
        }
        #expect(Double(overlap) / 400 >= 0.95, "top-10 recall against the float vectors: \(Double(overlap) / 400)")
    }

    @Test func upsertReplacesAndRemoveForgets() {
        var rng = SeededGenerator(state: 9)
        let index = VectorIndex(dimensions: dimensions)
        let vectors = (0..<50).map { _ in randomUnitVector(dimensions, using: &rng) }
        // Out of order, to exercise insertion between slots.
        for n in [5, 1, 40, 3, 0, 49] + Array(6..<40) + [2, 4] + Array(41..<49) {
            index.upsert(id: Int64(n), QuantizedVector(vectors[n]))
        }
        #expect(index.count == 50)
        for n in [0, 7, 23, 49] {
            #expect(index.nearest(to: vectors[n], limit: 1).first?.id == Int64(n))
            #expect(index.nearest(to: vectors[n], limit: 1).first.map { $0.score > 0.999 } == true)
        }
        // Replace 7 with the vector of 23: both now match it best.
        index.upsert(id: 7, QuantizedVector(vectors[23]))
        #expect(index.count == 50)
        #expect(Set(index.nearest(to: vectors[23], limit: 2).map(\.id)) == [7, 23])
        #expect(index.nearest(to: vectors[7], limit: 1).first?.id != 7)
        index.remove(id: 23)
        index.remove(id: 1000)  // unknown: nothing happens
        #expect(index.count == 49)
        #expect(!index.contains(id: 23))
        #expect(index.nearest(to: vectors[23], limit: 1).first?.id == 7)
        #expect(index.nearest(to: vectors[23], limit: 49).map(\.id).contains(23) == false)
        #expect(index.nearest(to: vectors[23], limit: 100).count == 49)
    }

    @Test func excludingLeavesOutIdsAndStillFillsTheLimit() {
        var rng = SeededGenerator(state: 11)
        let index = VectorIndex(dimensions: dimensions)
        let vectors = (0..<200).map { _ in randomUnitVector(dimensions, using: &rng) }
        for (n, v) in vectors.enumerated() { index.upsert(id: Int64(n), QuantizedVector(v)) }
        let all = index.nearest(to: vectors[10], limit: 30).map(\.id)
        #expect(all.first == 10)
        let excluded = Set(all.prefix(25))
        let rest = index.nearest(to: vectors[10], limit: 5, excluding: excluded).map(\.id)
        #expect(rest == Array(all.suffix(5)))
        #expect(index.nearest(to: [Float](repeating: 0, count: dimensions), limit: 5).isEmpty)
        #expect(index.nearest(to: vectors[0], limit: 0).isEmpty)
    }

    @Test func quantizedBytesRoundTrip() {
        var rng = SeededGenerator(state: 5)
        for _ in 0..<20 {
            let v = randomUnitVector(dimensions, using: &rng)
            let q = QuantizedVector(v)
            #expect(q.values.count == dimensions)
            #expect(q.values.contains(127) || q.values.contains(-127))
            let back = QuantizedVector(scale: q.scale, bytes: q.bytes)
            #expect(back == q)
            #expect(cosine(q.dequantized, v) > 0.999)
            let length = q.dequantized.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(length - 1) < 1e-5)
        }
        #expect(QuantizedVector([Float](repeating: 0, count: 4)).scale == 0)
    }

    @Test("readers run while a writer adds and removes")
    func concurrentReadersAndWriter() {
        var rng = SeededGenerator(state: 21)
        let index = VectorIndex(dimensions: dimensions)
        let vectors = (0..<400).map { _ in randomUnitVector(dimensions, using: &rng) }
        for n in 0..<200 { index.upsert(id: Int64(n), QuantizedVector(vectors[n])) }
        let group = DispatchGroup()
        for reader in 0..<2 {
            group.enter()
            Thread {
                for n in 0..<100 {
                    let result = index.nearest(to: vectors[(n * 3 + reader) % 200], limit: 5)
                    precondition(result.count == 5)
                }
                group.leave()
            }.start()
        }
        for n in 200..<400 {
            index.upsert(id: Int64(n), QuantizedVector(vectors[n]))
            index.remove(id: Int64(n - 200))
        }
        group.wait()
        #expect(index.count == 200)
        #expect(index.nearest(to: vectors[300], limit: 1).first?.id == 300)
    }
}
