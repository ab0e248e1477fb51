import COpenBLAS
import Testing

/// `insight_sgemm`: OpenBLAS, loaded on first use, and the portable loop used where it cannot be loaded.
@Suite("Matrix products")
struct MatrixProductTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var m: Int, n: Int, k: Int
        var transA: Bool, transB: Bool
        var alpha: Float, beta: Float
        var testDescription: String { "\(m)×\(k)·\(k)×\(n) transA \(transA) transB \(transB) α \(alpha) β \(beta)" }
    }

    /// The encoder's three kinds of product (x·Wᵀ + bias, Q·Kᵀ·scale, S·V) and odd sizes around them.
    static let shapes: [Shape] = [
        Shape(m: 7, n: 384, k: 384, transA: false, transB: true, alpha: 1, beta: 1),
        Shape(m: 30, n: 30, k: 32, transA: false, transB: true, alpha: 0.17, beta: 0),
        Shape(m: 30, n: 32, k: 30, transA: false, transB: false, alpha: 1, beta: 0),
        Shape(m: 1, n: 1, k: 1, transA: false, transB: false, alpha: 2, beta: 0.5),
        Shape(m: 5, n: 3, k: 9, transA: true, transB: false, alpha: -1, beta: 1),
        Shape(m: 4, n: 6, k: 8, transA: true, transB: true, alpha: 0.5, beta: -2),
    ]

    /// Deterministic values in −1…1.
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    @Test("OpenBLAS loads, and the portable loop gives the same product", arguments: shapes)
    func portableLoopMatchesOpenBLAS(shape: Shape) throws {
        #expect(insight_blas_load() == nil, "OpenBLAS did not load: deploy/dev-deps.sh installs libopenblas-dev")
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = Self.values(m * k, seed: 1), b = Self.values(k * n, seed: 2), c = Self.values(m * n, seed: 3)
        // Leading dimensions of the matrices as stored: op(A) is m×k, so A is k×m when transposed.
        let lda = shape.transA ? m : k, ldb = shape.transB ? k : n
        let ta = shape.transA ? InsightTrans : InsightNoTrans, tb = shape.transB ? InsightTrans : InsightNoTrans
        var fast = c, slow = c
        insight_sgemm(ta, tb, Int32(m), Int32(n), Int32(k), shape.alpha, a, Int32(lda), b, Int32(ldb), shape.beta, &fast, Int32(n))
        insight_sgemm_portable(ta, tb, Int32(m), Int32(n), Int32(k), shape.alpha, a, Int32(lda), b, Int32(ldb), shape.beta, &slow, Int32(n))
        // The definition, in Double, for both.
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let x = shape.transA ? a[p * lda + i] : a[i * lda + p]
                    let y = shape.transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                let expected = Double(shape.alpha) * sum + Double(shape.beta) * Double(c[i * n + j])
                #expect(abs(Double(fast[i * n + j]) - expected) < 1e-3, "OpenBLAS at \(i),\(j)")
                #expect(abs(Double(slow[i * n + j]) - expected) < 1e-3, "portable at \(i),\(j)")
            }
        }
    }
}
