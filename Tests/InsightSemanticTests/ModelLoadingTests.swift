import Foundation
import Testing
@testable import InsightSemantic

/// Broken or missing model files give an error with the right code and a way out, never a crash.
@Suite("Model loading errors")
struct ModelLoadingTests {
    /// A folder with a valid config.json and a minimal vocab.txt, and `safetensors` as model.safetensors.
    private func folder(safetensors: [UInt8]?) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("semantic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = #"{"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 30522, "hidden_act": "gelu"}"#
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n".write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        if let safetensors {
            try Data(safetensors).write(to: dir.appendingPathComponent("model.safetensors"))
        }
        return dir.path
    }

    /// A safetensors file with this JSON header and `dataBytes` zero bytes after it.
    private func safetensors(header: String, dataBytes: Int) -> [UInt8] {
        var json = Array(header.utf8)
        while (json.count + 8) % 8 != 0 { json.append(0x20) }
        let length = UInt64(json.count)
        return withUnsafeBytes(of: length.littleEndian, Array.init) + json + [UInt8](repeating: 0, count: dataBytes)
    }

    private func loadError(_ dir: String) -> SemanticModelError? {
        do {
            _ = try SentenceEncoder(modelDirectory: dir)
            return nil
        } catch {
            return error
        }
    }

    @Test func missingFolderSaysHowToInstall() {
        let error = loadError("/nonexistent/insightd/models/all-MiniLM-L6-v2")
        #expect(error?.code == .modelMissing)
        #expect(error?.message.contains("deploy/fetch-model.sh") == true)
    }

    @Test func missingWeightsFile() throws {
        let error = loadError(try folder(safetensors: nil))
        #expect(error?.code == .modelMissing)
        #expect(error?.message.contains("model.safetensors") == true)
    }

    @Test func missingVocabulary() throws {
        let dir = try folder(safetensors: safetensors(header: "{}", dataBytes: 0))
        try FileManager.default.removeItem(atPath: dir + "/vocab.txt")
        #expect(loadError(dir)?.code == .modelMissing)
    }

    @Test("a file shorter than its header length is corrupt", arguments: [0, 5, 12])
    func truncatedHeader(length: Int) throws {
        let full = safetensors(header: #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, dataBytes: 8)
        let error = loadError(try folder(safetensors: Array(full.prefix(length))))
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("fetch-model.sh") == true)
    }

    @Test func truncatedData() throws {
        let header = #"{"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [30522, 384], "data_offsets": [0, 46881792]}}"#
        let error = loadError(try folder(safetensors: safetensors(header: header, dataBytes: 1000)))
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains("truncated") == true)
    }

    @Test func headerThatIsNotJSON() throws {
        let error = loadError(try folder(safetensors: safetensors(header: "{not json at all", dataBytes: 16)))
        #expect(error?.code == .corrupt)
    }

    @Test func missingTensor() throws {
        let error = loadError(try folder(safetensors: safetensors(header: #"{"__metadata__": {"format": "pt"}}"#, dataBytes: 0)))
        #expect(error?.code == .missingTensor)
        #expect(error?.message.contains("embeddings.word_embeddings.weight") == true)
    }

    @Test func tensorOfAnotherShape() throws {
        let header = #"{"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}"#
        let error = loadError(try folder(safetensors: safetensors(header: header, dataBytes: 16)))
        #expect(error?.code == .unexpectedTensor)
    }

    @Test func realModelTruncated() throws {
        // The first megabyte of the real file: the header is intact, the tensors run past the end.
        let real = ModelFixtures.modelDirectory + "/model.safetensors"
        let handle = try #require(FileHandle(forReadingAtPath: real), "run deploy/fetch-model.sh first")
        let prefix = try handle.read(upToCount: 1 << 20) ?? Data()
        let error = loadError(try folder(safetensors: Array(prefix)))
        #expect(error?.code == .corrupt)
    }

    @Test func otherArchitecture() throws {
        let dir = try folder(safetensors: nil)
        try #"{"hidden_size": 768, "num_hidden_layers": 12}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(loadError(dir)?.code == .invalidConfig)
    }

    @Test func vocabularyWithoutSpecialTokens() throws {
        let vocab = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString).txt")
        try "hello\nworld\n".write(to: vocab, atomically: true, encoding: .utf8)
        #expect(throws: SemanticModelError.self) { try WordPieceTokenizer(vocabularyFile: vocab.path) }
        do {
            _ = try WordPieceTokenizer(vocabularyFile: vocab.path)
        } catch {
            #expect(error.code == .invalidVocabulary)
        }
    }
}
