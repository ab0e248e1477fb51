import Foundation
import Testing
@testable import InsightCore

/// One labelled pair of `Fixtures/neardup_pairs.jsonl` (made by `Fixtures/neardup_generate.py`).
struct LabelledPair: Decodable, Sendable {
    let a: String
    let b: String
    let label: String
    let kind: String
}

enum NearDuplicateFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func pairs() throws -> [LabelledPair] {
        let data = try Data(contentsOf: directory.appendingPathComponent("neardup_pairs.jsonl"))
        let decoder = JSONDecoder()
        return try data.split(separator: UInt8(ascii: "\n")).map { try decoder.decode(LabelledPair.self, from: Data($0)) }
    }

    static func paragraphs() throws -> [(topic: String, text: String)] {
        let text = try String(contentsOf: directory.appendingPathComponent("neardup_paragraphs.tsv"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }
}

@Suite struct LabelledSetTests {
    @Test func sameClaimRecallAndChangedClaimMergeRate() throws {
        let pairs = try NearDuplicateFixtures.pairs()
        #expect(pairs.count >= 500)
        let classifier = PairClassifier()
        var confusion: [String: [String: Int]] = [:]
        var sameTotal = 0, sameMerged = 0, changedTotal = 0, changedMerged = 0, unrelatedMerged = 0
        var changedDetectedAsConflict = 0
        var droppedTotal = 0, droppedMerged = 0
        var misses: [String] = []
        for pair in pairs {
            let comparison = classifier.compare(PreparedText(pair.a), PreparedText(pair.b))
            let verdict: String
            switch comparison.verdict {
            case .sameClaim: verdict = "same"
            case .conflict(let kind): verdict = "conflict.\(kind.rawValue)"
            case .unrelated: verdict = "unrelated"
            }
            confusion["\(pair.label)/\(pair.kind)", default: [:]][verdict, default: 0] += 1
            let merged = comparison.verdict == .sameClaim
            switch pair.label {
            case "same":
                sameTotal += 1
                if pair.kind == "dropped_ordinary_word" {
                    droppedTotal += 1
                    if merged { droppedMerged += 1 }
                }
                if merged { sameMerged += 1 } else { misses.append("MISSED \(pair.kind): \(comparison.differences)") }
            case "changed":
                changedTotal += 1
                if merged { changedMerged += 1; misses.append("MERGED \(pair.kind): \(comparison.differences)") }
                if case .conflict = comparison.verdict { changedDetectedAsConflict += 1 }
            default:
                if merged { unrelatedMerged += 1 }
            }
        }
        for key in confusion.keys.sorted() {
            print("neardup labelled \(key): \(confusion[key]!.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
        for miss in misses { print("neardup labelled \(miss)") }
        let recall = Double(sameMerged) / Double(sameTotal)
        let mergeRate = Double(changedMerged) / Double(changedTotal)
        print("neardup labelled: same-claim recall \(sameMerged)/\(sameTotal) = \(recall); changed-claim merged \(changedMerged)/\(changedTotal) = \(mergeRate); changed flagged as conflict \(changedDetectedAsConflict)/\(changedTotal); unrelated merged \(unrelatedMerged)")
        print("neardup labelled: dropped ordinary words merged \(droppedMerged)/\(droppedTotal)")
        #expect(droppedTotal >= 50)
        #expect(Double(droppedMerged) >= 0.99 * Double(droppedTotal))
        #expect(recall >= 0.99)
        #expect(mergeRate <= 0.02)
        #expect(unrelatedMerged == 0)
    }
}
