import Testing
@testable import InsightDaemon

/// While files wait, the embedding worker rests after each batch so that embedding takes about a tenth of the time.
@Suite("The embedding worker's rest while files wait")
struct EmbeddingDutyTests {
    @Test("a batch of d seconds is followed by a rest of 9 d, so embedding takes a tenth of the time",
          arguments: [0.2, 0.4, 1.5, 3.0])
    func restKeepsEmbeddingToATenth(batchSeconds: Double) {
        let rest = EmbeddingDuty.pause(afterBatchSeconds: batchSeconds)
        let share = batchSeconds / (batchSeconds + rest)
        #expect(abs(share - EmbeddingDuty.share) < 1e-9, "rest \(rest) s after \(batchSeconds) s")
        #expect(rest >= 1)
    }

    @Test("never less than a second (the first batch, a tiny batch), never more than the longest rest")
    func restIsBounded() {
        #expect(EmbeddingDuty.pause(afterBatchSeconds: 0) == 1)
        #expect(EmbeddingDuty.pause(afterBatchSeconds: 0.01) == 1)
        #expect(EmbeddingDuty.pause(afterBatchSeconds: 0.5) == 4.5)
        #expect(EmbeddingDuty.pause(afterBatchSeconds: 100) == EmbeddingDuty.longestRestSeconds)
    }
}
