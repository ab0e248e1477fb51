import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A deterministic burst of inbox files whose expected insight counts are known by construction.
///
/// Every paragraph is built from a sentence number, so two paragraphs are duplicates exactly when they
/// come from the same number: the expected unique count is the number of distinct sentence numbers used,
/// counted here without any of insightd's own code.
struct Burst {
    struct File {
        var relativePath: String
        var sentences: [Int]
        var style: Style
    }

    enum Style: CaseIterable { case inPlace, renamedIn, chunked }

    var files: [File] = []

    init(files count: Int, seed: UInt64, folders: Int = 20, distinctSentences: Int? = nil) {
        var rng = SplitMix(seed: seed)
        let pool = distinctSentences ?? max(10, count * 7)
        for index in 0..<count {
            let paragraphs = 1 + Int(rng.next() % 12)
            let sentences = (0..<paragraphs).map { _ in Int(rng.next() % UInt64(pool)) }
            // Some files go into nested folders that do not exist until the burst creates them.
            let folder = index % 3 == 0 ? "" : "n\(index % folders)/deep\(index % 4)/"
            files.append(File(relativePath: "\(folder)f\(index).txt", sentences: sentences, style: Style.allCases[Int(rng.next() % 3)]))
        }
    }

    /// Twelve words drawn by the sentence number: distinct numbers give unrelated sentences, not near duplicates.
    static func sentence(_ number: Int) -> String {
        var rng = SplitMix(seed: UInt64(number) &* 0x9E37_79B9 &+ 17)
        let words = (0..<12).map { _ in vocabulary[Int(rng.next() % UInt64(vocabulary.count))] }
        return words.joined(separator: " ").prefix(1).uppercased() + words.joined(separator: " ").dropFirst() + " (\(number))."
    }

    static let vocabulary: [String] = {
        let syllables = ["ka", "lo", "mi", "ren", "sa", "tu", "vor", "quel", "dan", "pe", "zi", "ob", "ux", "fen", "gar", "hil", "jo", "wen",
                         "bra", "cet", "dro", "eli", "fos", "gun"]
        var words: [String] = []
        for a in syllables { for b in syllables { words.append(a + b) } }
        return words
    }()

    static func content(_ file: File) -> String {
        file.sentences.map(sentence).joined(separator: "\n") + "\n"
    }

    var expectedUnique: Int { Set(files.flatMap(\.sentences)).count }
    var expectedOccurrences: Int { files.reduce(0) { $0 + $1.sentences.count } }

    /// Writes every file into `inbox`, each in its style; `staging` must be on the same file system.
    func write(into inbox: String, staging: String) throws {
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for file in files {
            let path = inbox + "/" + file.relativePath
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let bytes = Array(Self.content(file).utf8)
            switch file.style {
            case .inPlace:
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            case .renamedIn:
                let temp = staging + "/" + file.relativePath.replacingOccurrences(of: "/", with: "_")
                try Data(bytes).write(to: URL(fileURLWithPath: temp))
                guard rename(temp, path) == 0 else { throw HarnessError("rename failed for \(path)") }
            case .chunked:
                // One open, several writes: the writer closes only at the end.
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                guard fd >= 0 else { throw HarnessError("open failed for \(path)") }
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + 37)
                    _ = bytes[offset..<end].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    offset = end
                }
                close(fd)
            }
        }
    }
}

/// A small deterministic generator (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
