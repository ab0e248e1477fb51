import COpenBLAS
import Foundation

/// all-MiniLM-L6-v2 in Swift: WordPiece tokens → 6-layer BERT encoder → mean pooling → L2 normalisation.
/// The weights stay memory-mapped (about 90 MB shared with the page cache); `embed` allocates its own
/// scratch buffers, so several threads may embed at once.
public final class SentenceEncoder: @unchecked Sendable {
    /// The only model this encoder runs.
    public static let modelName = "all-MiniLM-L6-v2"
    /// Texts are truncated to this many tokens, `[CLS]` and `[SEP]` included.
    public static let maxTokens = 256

    /// The tokenizer of the model (for counting tokens).
    public let tokenizer: WordPieceTokenizer
    /// The folder the model was loaded from.
    public let modelDirectory: String

    private let hidden = 384
    private let heads = 12
    private let intermediate = 1536
    private let layerCount = 6
    private let vocabularySize = 30522
    private let unknownToken: Int32 = 100
    private let layerNormEpsilon: Float = 1e-12
    private let file: SafeTensorsFile  // owns the mapping the pointers below point into
    private let wordEmbeddings: UnsafePointer<Float>
    private let positionEmbeddings: UnsafePointer<Float>
    private let tokenTypeEmbeddings: UnsafePointer<Float>
    private let embeddingNorm: Norm
    private let layers: [Layer]
    /// Token ids a single forward pass takes at most, so a large batch does not allocate without bound.
    private let tokensPerPass = 2048

    private struct Linear {
        let weight: UnsafePointer<Float>  // [out, in], row-major as PyTorch stores it
        let bias: UnsafePointer<Float>
        let inputs: Int
        let outputs: Int
    }

    private struct Norm {
        let weight: UnsafePointer<Float>
        let bias: UnsafePointer<Float>
    }

    private struct Layer {
        let query, key, value, attentionOutput, intermediate, output: Linear
        let attentionNorm, outputNorm: Norm
    }

    /// Loads the model from a folder holding `model.safetensors`, `vocab.txt` and `config.json`.
    public init(modelDirectory: String) throws(SemanticModelError) {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelDirectory, isDirectory: &isFolder), isFolder.boolValue else {
            throw SemanticModelError(.modelMissing, "the model folder \(modelDirectory) does not exist; \(SemanticModelError.installHint)")
        }
        self.modelDirectory = modelDirectory
        let folder = URL(fileURLWithPath: modelDirectory)
        try Self.checkConfig(folder.appendingPathComponent("config.json").path)
        tokenizer = try WordPieceTokenizer(vocabularyFile: folder.appendingPathComponent("vocab.txt").path)
        let file = try SafeTensorsFile(path: folder.appendingPathComponent("model.safetensors").path)
        self.file = file
        let h = hidden, i = intermediate
        wordEmbeddings = try file.float32("embeddings.word_embeddings.weight", shape: [vocabularySize, h])
        positionEmbeddings = try file.float32("embeddings.position_embeddings.weight", shape: [512, h])
        tokenTypeEmbeddings = try file.float32("embeddings.token_type_embeddings.weight", shape: [2, h])
        func norm(_ prefix: String) throws(SemanticModelError) -> Norm {
            Norm(weight: try file.float32(prefix + ".weight", shape: [h]), bias: try file.float32(prefix + ".bias", shape: [h]))
        }
        func linear(_ prefix: String, _ inputs: Int, _ outputs: Int) throws(SemanticModelError) -> Linear {
            Linear(weight: try file.float32(prefix + ".weight", shape: [outputs, inputs]),
                   bias: try file.float32(prefix + ".bias", shape: [outputs]), inputs: inputs, outputs: outputs)
        }
        embeddingNorm = try norm("embeddings.LayerNorm")
        var layers: [Layer] = []
        for n in 0..<layerCount {
            let p = "encoder.layer.\(n)."
            layers.append(Layer(
                query: try linear(p + "attention.self.query", h, h),
                key: try linear(p + "attention.self.key", h, h),
                value: try linear(p + "attention.self.value", h, h),
                attentionOutput: try linear(p + "attention.output.dense", h, h),
                intermediate: try linear(p + "intermediate.dense", h, i),
                output: try linear(p + "output.dense", i, h),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                outputNorm: try norm(p + "output.LayerNorm")))
        }
        self.layers = layers
    }

    private static func checkConfig(_ path: String) throws(SemanticModelError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SemanticModelError(.modelMissing, "\(path) does not exist; \(SemanticModelError.installHint)")
        }
        guard let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SemanticModelError(.invalidConfig, "\(path) is not a JSON object; \(SemanticModelError.installHint)")
        }
        let expected: [String: Int] = ["hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
                                       "intermediate_size": 1536, "vocab_size": 30522]
        for (key, value) in expected where (config[key] as? NSNumber)?.intValue != value {
            throw SemanticModelError(.invalidConfig, "\(path): \(key) is not \(value), so this is not \(modelName); \(SemanticModelError.installHint)")
        }
        if let act = config["hidden_act"] as? String, act != "gelu" {
            throw SemanticModelError(.invalidConfig, "\(path): hidden_act is \(act), expected gelu")
        }
    }

    /// Sets how many threads OpenBLAS uses inside each matrix product, for the whole process. Does not load
    /// OpenBLAS: the count is applied when the first product loads it.
    public static func setMatrixProductThreads(_ count: Int) {
        insight_blas_set_threads(Int32(max(1, count)))
    }

    /// Threads OpenBLAS uses inside each matrix product (loads OpenBLAS).
    public static var matrixProductThreads: Int { Int(insight_blas_threads()) }

    /// Loads OpenBLAS, which the first matrix product would otherwise do. Returns nil once it is loaded, else
    /// why it could not be: products then run in a portable loop, many times slower.
    public static func loadMatrixLibrary() -> String? {
        insight_blas_load().map { String(cString: $0) }
    }

    /// Length of every embedding.
    public var dimensions: Int { hidden }

    /// Embeds a batch; each result is L2-normalised, `dimensions` long. Thread-safe: callers may run it from
    /// several threads. Runs on the calling thread (OpenBLAS may use its own threads inside a product).
    public func embed(_ texts: [String]) -> [[Float]] {
        embed(tokenized: texts.map { tokenizer.encode($0, maxTokens: Self.maxTokens) })
    }

    /// Embeds texts already turned into token ids by `tokenizer` (each with `[CLS]` and `[SEP]`).
    /// Ids outside the vocabulary become `[UNK]` and a text keeps at most `maxTokens`, so no input can read
    /// past a table.
    public func embed(tokenized input: [[Int32]]) -> [[Float]] {
        let tokenized = input.map { ids in
            ids.prefix(Self.maxTokens).map { $0 >= 0 && $0 < Int32(vocabularySize) ? $0 : unknownToken }
        }
        var results: [[Float]] = []
        results.reserveCapacity(tokenized.count)
        var start = 0
        while start < tokenized.count {
            // Texts are packed one after the other rather than padded: attention only ever looks within a
            // text, which is what a padding mask does, without the work on padding rows.
            var end = start, tokens = 0
            while end < tokenized.count, end == start || tokens + tokenized[end].count <= tokensPerPass {
                tokens += tokenized[end].count
                end += 1
            }
            results.append(contentsOf: forward(Array(tokenized[start..<end])))
            start = end
        }
        return results
    }

    /// Floating-point operations of the matrix products for texts of these token counts (for GFLOP/s).
    public static func floatingPointOperations(tokenCounts: [Int]) -> Double {
        let h = 384.0, i = 1536.0
        let tokens = Double(tokenCounts.reduce(0, +))
        let dense = tokens * (4 * h * h + 2 * h * i) * 2
        let attention = tokenCounts.reduce(0.0) { $0 + 4 * Double($1 * $1) * h }
        return 6 * (dense + attention)
    }

    /// One pass over packed texts: rows of `x` are tokens, text after text.
    private func forward(_ batch: [[Int32]]) -> [[Float]] {
        let h = hidden
        let lengths = batch.map { max(1, $0.count) }
        let total = lengths.reduce(0, +)
        let longest = lengths.max() ?? 1
        var x = [Float](repeating: 0, count: total * h)
        var q = x, k = x, v = x, context = x, scratch = x
        var inter = [Float](repeating: 0, count: total * intermediate)
        var scores = [Float](repeating: 0, count: longest * longest)

        var row = 0
        for ids in batch {
            for (position, id) in (ids.isEmpty ? [0] : ids).enumerated() {
                Kernels.embed(into: &x, row: row, width: h, word: wordEmbeddings + Int(id) * h,
                              position: positionEmbeddings + position * h, type: tokenTypeEmbeddings)
                row += 1
            }
        }
        Kernels.layerNorm(&x, rows: total, width: h, weight: embeddingNorm.weight, bias: embeddingNorm.bias, epsilon: layerNormEpsilon)

        let headWidth = h / heads
        let scale = 1 / Float(headWidth).squareRoot()
        for layer in layers {
            Kernels.linear(x, rows: total, layer.query, into: &q)
            Kernels.linear(x, rows: total, layer.key, into: &k)
            Kernels.linear(x, rows: total, layer.value, into: &v)
            var offset = 0
            for length in lengths {
                for head in 0..<heads {
                    Kernels.attention(q: q, k: k, v: v, context: &context, scores: &scores, firstRow: offset,
                                      length: length, column: head * headWidth, headWidth: headWidth, width: h, scale: scale)
                }
                offset += length
            }
            Kernels.linear(context, rows: total, layer.attentionOutput, into: &scratch)
            Kernels.addLayerNorm(residual: &x, scratch, rows: total, width: h, norm: layer.attentionNorm, epsilon: layerNormEpsilon)
            Kernels.linear(x, rows: total, layer.intermediate, into: &inter)
            Kernels.gelu(&inter)
            Kernels.linear(inter, rows: total, layer.output, into: &scratch)
            Kernels.addLayerNorm(residual: &x, scratch, rows: total, width: h, norm: layer.outputNorm, epsilon: layerNormEpsilon)
        }

        var results: [[Float]] = []
        results.reserveCapacity(batch.count)
        var offset = 0
        for length in lengths {
            var pooled = [Float](repeating: 0, count: h)
            for r in offset..<(offset + length) {
                for c in 0..<h { pooled[c] += x[r * h + c] }
            }
            var norm: Float = 0
            for c in 0..<h { pooled[c] /= Float(length); norm += pooled[c] * pooled[c] }
            let inverse = norm > 0 ? 1 / norm.squareRoot() : 0
            results.append(pooled.map { $0 * inverse })
            offset += length
        }
        return results
    }

    /// The pointer work of the forward pass, each kernel a small function over whole buffers.
    private enum Kernels {
        static func embed(into x: inout [Float], row: Int, width: Int, word: UnsafePointer<Float>,
                          position: UnsafePointer<Float>, type: UnsafePointer<Float>) {
            x.withUnsafeMutableBufferPointer { out in
                let base = row * width
                for c in 0..<width { out[base + c] = word[c] + position[c] + type[c] }
            }
        }

        /// y = x · Wᵀ + b through cblas_sgemm (the bias is copied into y first, then β = 1).
        static func linear(_ x: [Float], rows: Int, _ layer: Linear, into y: inout [Float]) {
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    for r in 0..<rows {
                        (y.baseAddress! + r * layer.outputs).update(from: layer.bias, count: layer.outputs)
                    }
                    insight_sgemm(InsightNoTrans, InsightTrans, Int32(rows), Int32(layer.outputs), Int32(layer.inputs),
                                1, x.baseAddress, Int32(layer.inputs), layer.weight, Int32(layer.inputs),
                                1, y.baseAddress, Int32(layer.outputs))
                }
            }
        }

        /// One head of self-attention for one text: softmax(Q Kᵀ · scale) V into the head's columns of `context`.
        /// Only the text's own rows take part, which is what the padding mask does in a padded batch.
        static func attention(q: [Float], k: [Float], v: [Float], context: inout [Float], scores: inout [Float],
                              firstRow: Int, length: Int, column: Int, headWidth: Int, width: Int, scale: Float) {
            let start = firstRow * width + column
            let n = Int32(length), d = Int32(headWidth), ld = Int32(width)
            q.withUnsafeBufferPointer { q in
                k.withUnsafeBufferPointer { k in
                    v.withUnsafeBufferPointer { v in
                        context.withUnsafeMutableBufferPointer { context in
                            scores.withUnsafeMutableBufferPointer { s in
                                insight_sgemm(InsightNoTrans, InsightTrans, n, n, d, scale,
                                            q.baseAddress! + start, ld, k.baseAddress! + start, ld, 0, s.baseAddress, n)
                                for r in 0..<length {
                                    let rowBase = r * length
                                    var top = -Float.infinity
                                    for c in 0..<length { top = max(top, s[rowBase + c]) }
                                    var sum: Float = 0
                                    for c in 0..<length {
                                        let e = Foundation.exp(s[rowBase + c] - top)
                                        s[rowBase + c] = e
                                        sum += e
                                    }
                                    let inverse = 1 / sum
                                    for c in 0..<length { s[rowBase + c] *= inverse }
                                }
                                insight_sgemm(InsightNoTrans, InsightNoTrans, n, d, n, 1,
                                            s.baseAddress, n, v.baseAddress! + start, ld, 0, context.baseAddress! + start, ld)
                            }
                        }
                    }
                }
            }
        }

        static func layerNorm(_ x: inout [Float], rows: Int, width: Int, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>, epsilon: Float) {
            x.withUnsafeMutableBufferPointer { x in
                for r in 0..<rows { normalizeRow(x.baseAddress! + r * width, width: width, weight: weight, bias: bias, epsilon: epsilon) }
            }
        }

        /// x = LayerNorm(x + y), row by row.
        static func addLayerNorm(residual x: inout [Float], _ y: [Float], rows: Int, width: Int, norm: Norm, epsilon: Float) {
            x.withUnsafeMutableBufferPointer { x in
                y.withUnsafeBufferPointer { y in
                    for i in 0..<(rows * width) { x[i] += y[i] }
                    for r in 0..<rows {
                        normalizeRow(x.baseAddress! + r * width, width: width, weight: norm.weight, bias: norm.bias, epsilon: epsilon)
                    }
                }
            }
        }

        @inline(__always)
        static func normalizeRow(_ row: UnsafeMutablePointer<Float>, width: Int, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, epsilon: Float) {
            var mean: Float = 0
            for c in 0..<width { mean += row[c] }
            mean /= Float(width)
            var variance: Float = 0
            for c in 0..<width { let d = row[c] - mean; variance += d * d }
            variance /= Float(width)
            let inverse = 1 / (variance + epsilon).squareRoot()
            for c in 0..<width { row[c] = (row[c] - mean) * inverse * weight[c] + bias[c] }
        }

        /// GELU with the exact error function, x · (1 + erf(x/√2)) / 2.
        static func gelu(_ x: inout [Float]) {
            x.withUnsafeMutableBufferPointer { x in
                let n = x.count
                var i = 0
                while i + 8 <= n {
                    let v = SIMD8<Float>(UnsafeBufferPointer(rebasing: x[i..<(i + 8)]))
                    let g = 0.5 * v * (1 + erf8(v * 0.70710678118654752))
                    for j in 0..<8 { x[i + j] = g[j] }
                    i += 8
                }
                while i < n { x[i] = 0.5 * x[i] * (1 + Foundation.erf(x[i] * 0.70710678118654752)); i += 1 }
            }
        }
    }
}

/// erf for eight floats at once: a rational approximation on [-4, 4] (beyond it erf is ±1 in Float), the one
/// Eigen uses; its error (under 1e-7 in exact arithmetic) is below Float's resolution near 1.
@inline(__always)
func erf8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let x = input.clamped(lowerBound: SIMD8(repeating: -4), upperBound: SIMD8(repeating: 4))
    let x2 = x * x
    var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
    p = x2 * p + -2.10102402082508e-06
    p = x2 * p + -5.69250639462346e-05
    p = x2 * p + -7.34990630326855e-04
    p = x2 * p + -2.95459980854025e-03
    p = x2 * p + -1.60960333262415e-02
    p = x * p
    var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
    q = x2 * q + -1.68282697438203e-03
    q = x2 * q + -7.37332916720468e-03
    q = x2 * q + -1.42647390514189e-02
    return p / q
}
