import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Synchronization
import Testing

/// The vector queue, vectors, paraphrase suggestions and merges both stores promise.
@Suite("The embedding store contract, against SQLite and PostgreSQL")
struct EmbeddingStoreContractTests {
    let texts = [
        "Open models shift value from software vendors to chip makers.",
        "Remote work moved spending from city centres to the suburbs.",
        "Battery prices fell faster than almost every forecast predicted.",
        "Chip makers capture the value that open models take from software vendors.",
    ]
    let model = "all-MiniLM-L6-v2"

    func vector(_ id: Int64, seed: UInt8 = 0) -> StoredVector {
        StoredVector(insightID: id, scale: 0.01, bytes: (0..<384).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(id) &+ Int(seed)) })
    }

    @Test(arguments: StoreKind.allCases)
    func insightsWithoutVectorsAreTheQueueAndStoredVectorsLeaveIt(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("one.txt", texts))
        let jobs = try store.claimInsightsToEmbed(model: model, afterID: 0, limit: 3, leaseSeconds: 600, now: 1000)
        #expect(jobs.map(\.text) == Array(texts.prefix(3)))
        try store.storeVectors(jobs.map { vector($0.insightID) }, paraphrases: [], model: model, now: 1001)
        #expect(try store.counts().embeddedInsights == 3)
        #expect(try store.countsWithFullCount().counted.embeddedInsights == 3)
        // What remains is the fourth insight, whatever the cursor.
        let rest = try store.claimInsightsToEmbed(model: model, afterID: 0, limit: 10, leaseSeconds: 600, now: 1002)
        #expect(rest.map(\.text) == [texts[3]])
        // The vectors come back byte for byte, in id order, and page by id.
        let stored = try store.vectors(model: model, afterID: 0, embeddedSince: nil, limit: 10)
        #expect(stored == jobs.map { vector($0.insightID) })
        #expect(try store.vectors(model: model, afterID: jobs[0].insightID, embeddedSince: nil, limit: 1) == [vector(jobs[1].insightID)])
        #expect(try store.vectors(model: model, afterID: 0, embeddedSince: 1001.5, limit: 10).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func forgettingAnInsightTakesItsVectorAndAVectorForAForgottenInsightIsDropped(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("one.txt", texts))
        let jobs = try store.claimInsightsToEmbed(model: model, afterID: 0, limit: 4, leaseSeconds: 600, now: 1000)
        try store.storeVectors([vector(jobs[0].insightID)], paraphrases: [], model: model, now: 1001)
        _ = try store.forget(id: jobs[0].insightID)
        _ = try store.forget(id: jobs[1].insightID)
        // Insight 2 was forgotten after it was claimed: its vector has nowhere to go.
        try store.storeVectors([vector(jobs[1].insightID), vector(jobs[2].insightID)], paraphrases: [], model: model, now: 1002)
        #expect(try store.vectors(model: model, afterID: 0, embeddedSince: nil, limit: 10).map(\.insightID) == [jobs[2].insightID])
        let counts = try store.countsWithFullCount()
        #expect(counts.kept.embeddedInsights == 1)
        #expect(counts.kept == counts.counted)
    }

    @Test(arguments: StoreKind.allCases)
    func aModelChangeDropsTheOldVectors(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("one.txt", texts))
        let jobs = try store.claimInsightsToEmbed(model: "old-model", afterID: 0, limit: 4, leaseSeconds: 600, now: 1000)
        try store.storeVectors(jobs.map { vector($0.insightID) }, paraphrases: [], model: "old-model", now: 1001)
        #expect(try store.dropVectors(notOf: model) == 4)
        #expect(try store.counts().embeddedInsights == 0)
        #expect(try store.claimInsightsToEmbed(model: model, afterID: 0, limit: 10, leaseSeconds: 600, now: 1002).count == 4)
    }

    @Test(arguments: StoreKind.allCases)
    func paraphraseSuggestionsCanBeKeptApartOrMerged(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("one.txt", texts))
        _ = try store.ingestOne(file("two.txt", [texts[3]], sha: "other"))
        let ids = try store.claimInsightsToEmbed(model: model, afterID: 0, limit: 4, leaseSeconds: 600, now: 1000).map(\.insightID)
        let suggestions = [
            StoredParaphrase(insightID: ids[3], otherID: ids[0], score: 0.91, createdAt: 1001),
            StoredParaphrase(insightID: ids[2], otherID: ids[1], score: 0.87, createdAt: 1000),
        ]
        try store.storeVectors(ids.map { vector($0) }, paraphrases: suggestions, model: model, now: 1001)
        #expect(try store.openParaphrases(limit: 10) == suggestions)

        // Kept apart: no longer open, and known as apart whichever way round it is asked.
        #expect(try store.keepApart(ids[1], ids[2], now: 1002))
        #expect(try store.openParaphrases(limit: 10) == [suggestions[0]])
        #expect(try store.keptApart(among: [ids[1]]) == [[ids[1], ids[2]]])
        // A pair never suggested can be kept apart ahead; a missing insight cannot.
        #expect(try store.keepApart(ids[0], ids[2], now: 1002))
        #expect(try store.keptApart(among: [ids[0]]) == [[ids[0], ids[2]]])
        #expect(try !store.keepApart(ids[0], 999_999, now: 1002))

        // Merged: the newer insight becomes a variant of the older, with both of its places.
        let before = try store.counts()
        #expect(try store.merge(ids[3], into: ids[0], now: 1003))
        #expect(try store.insight(id: ids[3]) == nil)
        let merged = try #require(try store.insight(id: ids[0]))
        #expect(merged.variants.map(\.text) == [texts[3]])
        #expect(Set(merged.variants[0].sources.map(\.path)) == ["one.txt", "two.txt"])
        #expect(merged.sources.count == 3)
        #expect(try store.openParaphrases(limit: 10).isEmpty)
        let after = try store.countsWithFullCount()
        #expect(after.kept == after.counted)
        #expect(after.kept.uniqueInsights == before.uniqueInsights - 1)
        #expect(after.kept.occurrences == before.occurrences)
        #expect(after.kept.variants == before.variants + 1)
        #expect(after.kept.embeddedInsights == 3)
        // The merged wording, dropped again, is recognised as that variant: no new insight.
        #expect(try store.ingestOne(file("three.txt", [texts[3]], sha: "third")) == .stored(newInsights: 0, occurrences: 1))
        #expect(try !store.merge(ids[3], into: ids[0], now: 1004))
    }
}

/// Daemons sharing a PostgreSQL database lease batches, so each insight is embedded by one of them.
@Suite("Embedding leases on a shared PostgreSQL store")
struct EmbeddingLeaseTests {
    @Test func twoDaemonsClaimDisjointBatchesAndALapsedLeaseIsClaimedAgain() throws {
        let url = try SharedPostgres.newDatabase()
        let alpha = try PostgresInsightStore(url: url, host: "alpha", inbox: "/srv/inbox")
        let beta = try PostgresInsightStore(url: url, host: "beta", inbox: "/srv/inbox")
        defer {
            try? alpha.close()
            try? beta.close()
        }
        let texts = (1...40).map { "Insight number \($0) says something different about the world of work." }
        _ = try alpha.ingestOne(file("many.txt", texts))
        let model = "all-MiniLM-L6-v2"
        // Both claim at once, from threads of their own, as two daemons would.
        let claims = Mutex<[[Int64]]>([[], []])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let store = index == 0 ? alpha : beta
            var mine: [Int64] = []
            while let batch = try? store.claimInsightsToEmbed(model: model, afterID: 0, limit: 7, leaseSeconds: 600, now: 1000),
                  !batch.isEmpty {
                mine += batch.map(\.insightID)
            }
            claims.withLock { $0[index] = mine }
        }
        let (a, b) = claims.withLock { ($0[0], $0[1]) }
        #expect(Set(a).isDisjoint(with: Set(b)))
        #expect(a.count + b.count == 40)
        // Alpha stores its vectors; beta's daemon dies. Once beta's lease ends, alpha takes its insights.
        try alpha.storeVectors(a.map { StoredVector(insightID: $0, scale: 1, bytes: [1, 2, 3]) }, paraphrases: [], model: model, now: 1001)
        #expect(try alpha.claimInsightsToEmbed(model: model, afterID: 0, limit: 100, leaseSeconds: 600, now: 1500).isEmpty)
        let retaken = try alpha.claimInsightsToEmbed(model: model, afterID: 0, limit: 100, leaseSeconds: 600, now: 1700).map(\.insightID)
        #expect(retaken == b.sorted())
        // An insight with a vector is never claimed again, even after every lease has ended.
        #expect(try Set(beta.claimInsightsToEmbed(model: model, afterID: 0, limit: 100, leaseSeconds: 600, now: 99_999).map(\.insightID))
                == Set(b))
    }
}
