import Foundation
import Testing
@testable import InsightSemantic

/// The fetched model and the reference outputs that Fixtures/reference.py computed with `tokenizers` and numpy.
enum ModelFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// `$INSIGHTD_MODEL_DIR`, else where `deploy/fetch-model.sh` installs for a user.
    static var modelDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let dir = environment["INSIGHTD_MODEL_DIR"], !dir.isEmpty { return dir }
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/share")
        return data + "/insightd/models/all-MiniLM-L6-v2"
    }

    private static let loaded: Result<SentenceEncoder, SemanticModelError> = Result { () throws(SemanticModelError) in
        try SentenceEncoder(modelDirectory: modelDirectory)
    }

    /// The encoder, or a recorded failure that says how to get the model (the tests need it; CI fetches it).
    static func encoder(sourceLocation: SourceLocation = #_sourceLocation) throws -> SentenceEncoder {
        switch loaded {
        case .success(let encoder):
            return encoder
        case .failure(let error):
            Issue.record("no model at \(modelDirectory) (\(error.code)): run deploy/fetch-model.sh, or set INSIGHTD_MODEL_DIR to a folder it filled. \(error.message)",
                         sourceLocation: sourceLocation)
            throw error
        }
    }

    struct TokenCase: Decodable, Sendable, CustomTestStringConvertible {
        let text: String
        let ids: [Int32]
        var testDescription: String { String(text.debugDescription.prefix(60)) }
    }

    struct EmbeddingCase: Decodable, Sendable, CustomTestStringConvertible {
        let text: String
        let ids: [Int32]
        let embedding: [Float]
        var testDescription: String { String(text.debugDescription.prefix(60)) }
    }

    private struct TokenFile: Decodable { let maxTokens: Int; let cases: [TokenCase] }
    private struct EmbeddingFile: Decodable { let model: String; let texts: [EmbeddingCase]; let paraphrasePairs: [[Int]] }

    private static func decode<T: Decodable>(_ name: String, as type: T.Type) -> T {
        let url = folder.appendingPathComponent(name)
        do {
            return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot read the fixture \(url.path) (regenerate it with reference.py): \(error)")
        }
    }

    static let tokenCases: [TokenCase] = decode("tokens.json", as: TokenFile.self).cases
    private static let embeddings = decode("embeddings.json", as: EmbeddingFile.self)
    static let embeddingCases: [EmbeddingCase] = embeddings.texts
    /// Every fixture text embedded in one batch (computed once; nil without the model).
    static let batchVectors: [[Float]]? = (try? loaded.get()).map { $0.embed(embeddingCases.map(\.text)) }
    /// Index pairs into `embeddingCases`: the same idea in other words.
    static let paraphrasePairs: [[Int]] = embeddings.paraphrasePairs
}

func cosine(_ a: [Float], _ b: [Float]) -> Float {
    var dot: Float = 0, na: Float = 0, nb: Float = 0
    for (x, y) in zip(a, b) { dot += x * y; na += x * x; nb += y * y }
    return dot / (na.squareRoot() * nb.squareRoot())
}
