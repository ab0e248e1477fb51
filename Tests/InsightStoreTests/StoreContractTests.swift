import Foundation
import InsightCore
import InsightPostgres
import InsightStore
import InsightStoreCore
import PostgresTestSupport
import Testing

/// The two stores, PostgreSQL both over its Unix socket and over TCP with TLS (`sslmode=verify-full`).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgresql
    case postgresqlOverTLS = "postgresql over TLS"
    var testDescription: String { rawValue }
}


/// A fresh store of either kind, removed afterwards.
final class StoreUnderTest {
    let store: any InsightStoring
    let folder: String?
    let url: String?

    init(_ kind: StoreKind, host: String = "alpha", inbox: String = "/srv/inbox") throws {
        switch kind {
        case .sqlite:
            let folder = NSTemporaryDirectory() + "insightd-contract-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            self.folder = folder
            url = nil
            store = try InsightDatabase(path: folder + "/insights.sqlite")
        case .postgresql, .postgresqlOverTLS:
            let url = try kind == .postgresql ? SharedPostgres.newDatabase() : SharedPostgres.newTLSDatabase()
            self.url = url
            folder = nil
            store = try PostgresInsightStore(url: url, host: host, inbox: inbox)
        }
    }

    deinit {
        try? store.close()
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }
}

func linkedFile(_ path: String, _ paragraphs: [String], links: [String]) throws -> FileIngest {
    var ingest = file(path, paragraphs)
    ingest.links = try links.enumerated().map { index, url in HarvestedLink(url: try CanonicalURL(url), original: url, line: index + 1) }
    return ingest
}

/// The behaviour both stores promise, run against each.
@Suite("The store contract, against SQLite and PostgreSQL (over a Unix socket and over TLS)")
struct StoreContractTests {
    let a = "Open models shift value from software vendors to chip makers."
    let b = "Remote work moved spending from city centres to the suburbs."
    let c = "Battery prices fell faster than almost every forecast predicted."
    let claim = "The stock market lost $1 trillion in value after the open model was released in January."
    let typo = "The stock markt lost $1 trillion in in value after the open model was released in January."
    let changed = "The stock market lost $3 trillion in value after the open model was released in January."

    @Test(arguments: StoreKind.allCases)
    func exactDuplicatesAreOneInsightWithEveryOccurrence(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        #expect(try store.ingestOne(file("one.txt", [a, b, a.uppercased()])) == .stored(newInsights: 2, occurrences: 3))
        #expect(try store.ingestOne(file("one.txt", [a, b, a.uppercased()])) == .unchanged)
        #expect(try store.ingestOne(file("copy.txt", [b, a])) == .stored(newInsights: 0, occurrences: 2))
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.occurrences == 5)
        #expect(counts.sourcesByState[.ingested] == 2)
        let exported = try store.exportPage(afterID: 0, limit: 10, since: nil)
        #expect(exported.map(\.text) == [a, b])
        #expect(exported[0].sources.map(\.path) == ["copy.txt", "one.txt", "one.txt"])
        #expect(exported[0].sources.map(\.section) == ["Section", nil, "Section"])
    }

    @Test(arguments: StoreKind.allCases)
    func aTextTooLongToCompareIsStoredAndFoundAgainWordForWordOnly(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        // One "paragraph" of about 90 KB (a single-line file): stored, found again by its fingerprint, never signed or
        // compared word by word with another long text, so the writer's time for it stays bounded.
        let long = (0..<12_000).map { "word\($0 % 997)" }.joined(separator: " ") + "."
        #expect(!NearDuplicateText.isComparable(long))
        #expect(NearDuplicateSignature(long).bandKeys.isEmpty)
        #expect(try store.ingestOne(file("one.txt", [long, a])) == .stored(newInsights: 2, occurrences: 2))
        #expect(try store.ingestOne(file("two.txt", [long])) == .stored(newInsights: 0, occurrences: 1))
        #expect(try store.ingestOne(file("three.txt", [long + " And one more."])) == .stored(newInsights: 1, occurrences: 1))
        #expect(try store.counts().uniqueInsights == 3)
        #expect(try store.exportPage(afterID: 0, limit: 10, since: nil).map(\.text.utf8.count) == [long.utf8.count, a.utf8.count, long.utf8.count + 14])
    }

    @Test(arguments: StoreKind.allCases)
    func changedContentReplacesOccurrencesAndDropsOrphans(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("one.txt", [a, b]))
        _ = try store.ingestOne(file("two.txt", [b]))
        #expect(try store.ingestOne(file("one.txt", [c, b])) == .stored(newInsights: 1, occurrences: 2))
        let texts = try store.exportPage(afterID: 0, limit: 10, since: nil).map(\.text)
        #expect(texts == [b, c])
        #expect(try store.counts().occurrences == 3)
        #expect(try store.source(path: "one.txt")?.insightCount == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func anotherWordingIsAVariantAndADifferentClaimAConflict(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("first.txt", [claim]))
        // The outcome counts what each file wrote: a new wording, nothing (the same wording again), a conflicting insight.
        #expect(try store.ingestOne(file("second.txt", [typo])) == .stored(newInsights: 0, occurrences: 1, variants: 1, conflicts: 0))
        #expect(try store.ingestOne(file("third.txt", [typo])) == .stored(newInsights: 0, occurrences: 1, variants: 0, conflicts: 0))
        #expect(try store.ingestOne(file("fourth.txt", [changed])) == .stored(newInsights: 1, occurrences: 1, variants: 0, conflicts: 1))
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.variants == 1)
        #expect(counts.conflicts == 1)
        let records = try store.exportPage(afterID: 0, limit: 10, since: nil)
        #expect(records[0].text == claim)
        #expect(records[0].variants.map(\.text) == [typo])
        #expect(records[0].variants.first?.sources.map(\.path) == ["second.txt", "third.txt"])
        #expect(records[0].conflicts == [records[1].id])
        let detail = try #require(try store.insight(id: records[1].id))
        #expect(detail.conflicts.map(\.id) == [records[0].id])
        #expect(detail.conflicts.first?.kind == "number")
        let pairs = try store.conflictPairs(limit: 10)
        #expect(pairs.count == 1)
        #expect(pairs.first?.kind == "number")
    }

    @Test(arguments: StoreKind.allCases)
    func searchMatchesEveryWordTheLastAsAPrefixWithFilters(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("notes/energy.txt", [c]), now: 1_000)
        _ = try store.ingestOne(file("notes/work.txt", [b, a]), now: 2_000)
        #expect(try store.search("battery forec", limit: 10, since: nil, source: nil).results.map(\.text) == [c])
        #expect(try store.search("battery forec", limit: 10, since: nil, source: nil).results.first?.snippet.contains("[Battery]") == true)
        #expect(try store.search("suburbs", limit: 10, since: nil, source: nil).results.map(\.text) == [b])
        #expect(try store.search("from", limit: 10, since: nil, source: nil).results.count == 2)
        #expect(try store.search("from", limit: 10, since: nil, source: "energy").results.isEmpty)
        #expect(try store.search("prices", limit: 10, since: 1_500, source: nil).results.isEmpty)
        #expect(try store.search("\"(*^", limit: 10, since: nil, source: nil).results.isEmpty)
        #expect(try store.search("zebra", limit: 10, since: nil, source: nil).results.isEmpty)
        #expect(try store.recent(limit: 2, since: nil).map(\.text) == [a, b])
        #expect(try store.recent(limit: 10, since: 1_500).count == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func anIdIsNeverHandedOutTwice(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("a.txt", [a]))
        _ = try store.ingestOne(file("b.txt", [b]))
        let newest = try #require(try store.search("suburbs", limit: 1).results.first?.id)
        #expect(try store.forget(id: newest) != nil)
        _ = try store.ingestOne(file("c.txt", [c]))
        let next = try #require(try store.search("battery", limit: 1).results.first?.id)
        #expect(next > newest)
        // Forgetting the saved id again finds nothing, and the newer insight stays.
        #expect(try store.forget(id: newest) == nil)
        #expect(try store.insight(id: next)?.text == c)
    }

    @Test(arguments: StoreKind.allCases)
    func theLastWordAsTypedRanksAboveALongerWordItStarts(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        let notes = [173, 174, 17, 179].map { "Moved folder note number \($0) has a sentence with enough words." }
        _ = try store.ingestOne(file("notes.txt", notes))
        let found = try store.search("note number 17", limit: 10).results.map(\.text)
        #expect(found.count == 4)
        #expect(found.first == notes[2], "\(found)")
    }

    @Test(arguments: StoreKind.allCases)
    func anotherWordingIsFoundByItsOwnWords(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("first.txt", [claim]), now: 1_000)
        _ = try store.ingestOne(file("notes/second.txt", [typo]), now: 2_000)
        _ = try store.ingestOne(file("other.txt", [b]), now: 2_000)
        let id = try #require(try store.search("market", limit: 10).results.first?.id)
        // "markt" is only in the wording folded into the insight: the insight is found, the snippet shows that wording.
        let found = try store.search("stock markt", limit: 10).results
        #expect(found.map(\.id) == [id])
        #expect(found.first?.text == claim)
        #expect(found.first?.snippet.contains("[markt]") == true, "\(found)")
        // A word of both wordings finds the insight once, showing its own text.
        let both = try store.search("trillion", limit: 10).results
        #expect(both.map(\.id) == [id])
        #expect(both.first?.snippet.contains("[trillion]") == true)
        #expect(both.first?.snippet.contains("markt") == false)
        // Filters apply to the insight, whichever wording matched.
        #expect(try store.search("markt", limit: 10, since: nil, source: "first").results.map(\.id) == [id])
        #expect(try store.search("markt", limit: 10, since: nil, source: "other").results.isEmpty)
        #expect(try store.search("markt", limit: 10, since: 1_500, source: nil).results.isEmpty)
        // Forgetting the insight takes its wordings out of the index.
        #expect(try store.forget(id: id) != nil)
        #expect(try store.search("markt", limit: 10).results.isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func aPlaceInAFileSinceRemovedIsMarkedSo(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("old-name.txt", [a]))
        _ = try store.ingestOne(file("new-name.txt", [a]))
        try store.markRemoved(path: "old-name.txt")
        let id = try #require(try store.search("chip makers", limit: 1).results.first?.id)
        let sources = try #require(try store.insight(id: id)).sources
        #expect(sources.map(\.path) == ["new-name.txt", "old-name.txt"])
        #expect(sources.map(\.removed) == [nil, true])
        #expect(try store.exportPage(afterID: 0, limit: 10, since: nil).first?.sources.map(\.removed) == [nil, true])
    }

    @Test(arguments: StoreKind.allCases)
    func problemsRemovalsAndForgetting(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("good.txt", [a, b]))
        _ = try store.ingestOne(file("other.txt", [b]))
        try store.recordProblem(path: "bad.bin", state: .skipped, reason: "a binary file", size: 10, mtime: 1, sha256: nil)
        try store.recordProblem(path: "locked.txt", state: .failed, reason: "permission denied", size: nil, mtime: nil, sha256: nil)
        #expect(try store.sources(states: [.failed, .skipped]).map(\.path) == ["bad.bin", "locked.txt"])
        #expect(try store.counts().lastError?.path == "locked.txt")
        #expect(Set(try store.activeSourcePaths()) == ["good.txt", "other.txt", "bad.bin", "locked.txt"])
        try store.markRemoved(path: "good.txt")
        #expect(try store.source(path: "good.txt")?.state == .removed)
        #expect(!(try store.activeSourcePaths()).contains("good.txt"))
        #expect(try store.counts().uniqueInsights == 2)
        let id = try #require(try store.search("suburbs", limit: 1).results.first?.id)
        #expect(try store.forget(id: id) == 2)
        #expect(try store.forget(id: id) == nil)
        #expect(try store.counts().uniqueInsights == 1)
        #expect(try store.source(path: "other.txt")?.insightCount == 0)
        #expect(try store.insight(id: id) == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func linksAreQueuedOnceClaimedOnceAndEndFetchedOrFailed(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(try linkedFile("links.txt", [a], links: ["https://example.org/a?utm_source=x", "https://example.org/b"]))
        _ = try store.ingestOne(try linkedFile("again.txt", [b], links: ["https://example.org/a"]))
        #expect(try store.counts().linksByState[.queued] == 2)
        #expect(try store.dueLinkCount(now: 10) == 2)
        let claimed = try store.claimDueLinks(limit: 10, now: 10)
        #expect(claimed.map(\.canonicalURL) == ["https://example.org/a", "https://example.org/b"])
        #expect(try store.claimDueLinks(limit: 10, now: 10).isEmpty)
        let first = try #require(claimed.first?.id), second = try #require(claimed.last?.id)
        #expect(try store.linkReferences(linkID: first).map(\.path) == ["again.txt", "links.txt"])
        #expect(try store.dueLinkCount(now: 10) == 0)
        try store.failFetch(linkID: second, permanent: false, reason: "HTTP 503", nextAttemptAt: 50, now: 11)
        #expect(try store.nextLinkDueAt() == 50)
        // Failed for a while: waiting for its retry, due once the time has come.
        #expect(try store.dueLinkCount(now: 20) == 0)
        #expect(try store.dueLinkCount(now: 50) == 1)
        #expect(try store.claimDueLinks(limit: 10, now: 20).isEmpty)
        #expect(try store.claimDueLinks(limit: 10, now: 60).map(\.id) == [second])
        try store.failFetch(linkID: second, permanent: true, reason: "HTTP 404", nextAttemptAt: nil, now: 61)
        let article = FileIngest(path: "https://example.org/a", size: 10, mtime: 0, sha256: "article", encoding: "utf-8", documentDate: nil,
                                 insights: [PreparedInsight(ParsedInsight(text: c, line: 1, section: nil))], kind: "url")
        let outcome = try store.completeFetch(linkID: first, content: article, now: 62) { $0.title = "A page" }
        #expect(outcome == .stored(newInsights: 1, occurrences: 1))
        let links = try store.links(failedOnly: false, limit: 10)
        #expect(links.first { $0.id == first }?.state == .fetched)
        #expect(links.first { $0.id == first }?.title == "A page")
        #expect(try store.links(failedOnly: true, limit: 10).map(\.error) == ["HTTP 404"])
        #expect(try store.counts().uniqueInsights == 3)
        #expect(try store.counts().sourcesByState[.ingested] == 2)
        #expect(try store.retryLinks(id: nil, now: 70) == 1)
        let (added, created) = try store.addLink(canonical: "https://example.org/c", given: "https://example.org/c", now: 71)
        #expect(created)
        #expect(added.state == .queued)
        #expect(try store.addLink(canonical: "https://example.org/c", given: "x", now: 72).created == false)
        // A claim left by a stopped daemon goes back to the queue when it starts again.
        #expect(try store.claimDueLinks(limit: 10, now: 80).count == 2)
        try store.requeueInterruptedFetches(now: 81)
        #expect(try store.counts().linksByState[.queued] == 2)
        #expect(try store.dueLinkCount(now: 82) == 2)
        // Put back for later (its host asked for a pause): queued, but not due until then.
        #expect(try store.claimDueLinks(limit: 10, now: 83).count == 2)
        try store.deferFetch(linkID: try #require(added.id), nextAttemptAt: 200, now: 84)
        #expect(try store.dueLinkCount(now: 85) == 0)
        #expect(try store.counts().linksByState[.queued] == 1)
        #expect(try store.dueLinkCount(now: 200) == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchStoresEachFileWholeAndStopsWhenAsked(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        let files = (0..<120).map { index in file("batch/\(index).txt", ["Paragraph number \(index) says something rather specific about item \(index).", a]) }
        var asked = 0
        let results = try store.ingestBatch(files, now: 5, shouldContinue: { asked += 1; return asked <= 1 })
        #expect(results.count >= 1)
        #expect(results.count < files.count)
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        let counts = try store.counts()
        #expect(counts.sourcesByState[.ingested] == results.count)
        #expect(counts.occurrences == results.count * 2)
        #expect(counts.uniqueInsights == results.count + 1)
    }

    @Test(arguments: StoreKind.allCases)
    func keptCountersEqualAFullCountAfterEveryKindOfWrite(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        /// The counters status reads against a count of every row, and the plain read against both.
        func check(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let (kept, counted) = try store.countsWithFullCount()
            #expect(kept == counted, "after \(step): \(kept.differences(from: counted))", sourceLocation: sourceLocation)
            #expect(try store.counts() == kept, "after \(step)", sourceLocation: sourceLocation)
        }
        try check("opening an empty store")

        _ = try store.ingestOne(try linkedFile("one.txt", [a, b, a.uppercased()], links: ["https://example.org/a", "https://example.org/b"]))
        try check("a first ingest")
        #expect(try store.ingestOne(try linkedFile("one.txt", [a, b, a.uppercased()], links: ["https://example.org/a", "https://example.org/b"]))
                == .unchanged)
        try check("the same file again")
        _ = try store.ingestOne(try linkedFile("one.txt", [c, b], links: ["https://example.org/b", "https://example.org/c"]))
        try check("new content for a path, dropping an orphaned insight")
        _ = try store.ingestOne(file("first.txt", [claim]))
        _ = try store.ingestOne(file("second.txt", [typo]))
        _ = try store.ingestOne(file("fourth.txt", [changed]))
        try check("a variant and a conflict")
        _ = try store.ingestOne(file("second.txt", [b]))
        try check("new content dropping an orphaned variant")

        var broken = file("broken.txt", [a, "Tidal power stations remain rare because suitable estuaries are rare too."])
        // An empty text violates the schema half-way through the file, whose writes are undone.
        broken.insights.append(PreparedInsight(ParsedInsight(text: "", line: 9, section: nil)))
        let batch = try store.ingestBatch([file("batch/1.txt", [a]), broken, file("batch/2.txt", [typo, c])], now: 100, shouldContinue: { true })
        #expect(batch.map { if case .success = $0 { true } else { false } } == [true, false, true])
        try check("a batch with a file rolled back")

        try store.recordProblem(path: "image.png", state: .skipped, reason: "a .png file", size: 3, mtime: 1, sha256: nil, now: 101)
        try store.recordProblem(path: "first.txt", state: .failed, reason: "permission denied", size: nil, mtime: nil, sha256: nil, now: 102)
        try store.recordProblem(path: "image.png", state: .skipped, reason: "still a .png file", size: 3, mtime: 2, sha256: nil, now: 103)
        try check("problems recorded, new and over a stored file")
        try store.markRemoved(path: "fourth.txt", now: 104)
        try store.markRemoved(path: "fourth.txt", now: 105)
        try store.markRemoved(path: "image.png", now: 106)
        try check("files removed")
        _ = try store.ingestOne(file("fourth.txt", [changed]), now: 107)
        try check("a removed file back")

        let claimID = try #require(try store.search("stock market", limit: 5).results.first { $0.text == claim }?.id)
        #expect(try store.forget(id: claimID) != nil)
        try check("forgetting an insight with its variant and conflict")

        let claimed = try store.claimDueLinks(limit: 10, now: 200)
        #expect(claimed.count == 3)
        try check("claiming links")
        let ids = claimed.compactMap(\.id)
        try store.failFetch(linkID: ids[0], permanent: false, reason: "HTTP 503", nextAttemptAt: 250, now: 201)
        try store.failFetch(linkID: ids[1], permanent: true, reason: "HTTP 404", nextAttemptAt: nil, now: 202)
        try store.deferFetch(linkID: ids[2], nextAttemptAt: 240, now: 203)
        try check("failed and deferred fetches")
        #expect(try store.claimDueLinks(limit: 10, now: 260).count == 2)
        let article = FileIngest(path: "https://example.org/a", size: 10, mtime: 0, sha256: "article", encoding: "utf-8", documentDate: nil,
                                 insights: [PreparedInsight(ParsedInsight(text: a, line: 1, section: nil)),
                                            PreparedInsight(ParsedInsight(text: "Rail freight wins over trucks on long distances.", line: 2, section: nil))],
                                 kind: "url")
        #expect(try store.completeFetch(linkID: ids[0], content: article, now: 261) { $0.title = "A" } != nil)
        try check("a fetched article stored")
        try store.requeueInterruptedFetches(now: 262)
        #expect(try store.retryLinks(id: nil, now: 263) == 1)
        #expect(try store.addLink(canonical: "https://example.org/d", given: "https://example.org/d", now: 264).created)
        try check("links requeued, retried and added")

        // What the counters should say, worked out by hand, so the check above cannot pass with both sides wrong.
        let counts = try store.counts()
        #expect(counts.sourcesByState == [.ingested: 5, .failed: 1, .removed: 1])
        #expect(counts.linksByState == [.queued: 3, .fetched: 1])
        #expect(counts.uniqueInsights == 5)
        #expect(counts.occurrences == 8)
        #expect(counts.variants == 0)
        #expect(counts.conflicts == 0)
    }
}

/// A file of insights carrying what readers' exports add: tags, notes, locations, dates and longer passages.
func richFile(_ path: String, format: String = "text", version: String = "1", _ insights: [ParsedInsight]) -> FileIngest {
    let content = insights.map { "\($0.text)|\($0.tags)|\($0.note ?? "")|\($0.variantOf.map(String.init) ?? "")" }.joined(separator: "\n")
    return FileIngest(path: path, size: Int64(content.utf8.count), mtime: 1, sha256: Hashing.sha256Hex(Array((version + content).utf8)),
                      encoding: "utf-8", documentDate: nil, insights: insights.map(PreparedInsight.init), format: format)
}

/// The same place without the machine, which only a shared store records.
func withoutHost(_ refs: [SourceRef]) -> [SourceRef] {
    refs.map { ref in
        var ref = ref
        ref.host = nil
        return ref
    }
}

@Suite("Tags, reading notes, formats and extended highlights, against SQLite and PostgreSQL")
struct StoreReadingNotesContractTests {
    let a = "Open models shift value from software vendors to chip makers."
    let b = "Remote work moved spending from city centres to the suburbs."
    let c = "Battery prices fell faster than almost every forecast predicted."
    let long = "Nothing in life is as important as you think it is, while you are thinking about it, the psychologist wrote in a book about the two systems that drive the way we think."
    let short = "Nothing in life is as important as you think it is."

    @Test(arguments: StoreKind.allCases)
    func tagsNotesLocationsAndFormatsAreStoredAndReadBackExactly(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        let highlight = ParsedInsight(text: a, line: 4, section: "Thinking, Fast and Slow", tags: ["economics", "ai", "economics", "#AI"],
                                      note: "Compare with the chip shortage.", location: "page 12 · location 180-182", addedAt: "2019-03-05T20:14:02")
        let plain = ParsedInsight(text: b, line: 9, section: nil, addedAt: "2019-03-06")
        #expect(try store.ingestOne(richFile("My Clippings.txt", format: "kindle-clippings", [highlight, plain]))
                == .stored(newInsights: 2, occurrences: 2))
        _ = try store.ingestOne(file("plain.txt", [a]))

        let records = try store.exportPage(afterID: 0, limit: 10, since: nil)
        #expect(records.map(\.text) == [a, b])
        let expected = SourceRef(path: "My Clippings.txt", line: 4, section: "Thinking, Fast and Slow", date: nil, tags: ["ai", "economics"],
                                 note: "Compare with the chip shortage.", location: "page 12 · location 180-182", addedAt: "2019-03-05T20:14:02",
                                 format: "kindle-clippings")
        let plainRef = SourceRef(path: "plain.txt", line: 1, section: nil, date: nil, format: "text")
        #expect(withoutHost(records[0].sources) == [expected, plainRef])
        #expect(records[0].tags == ["ai", "economics"])
        #expect(withoutHost(records[1].sources) == [SourceRef(path: "My Clippings.txt", line: 9, section: nil, date: nil, addedAt: "2019-03-06",
                                                              format: "kindle-clippings")])
        #expect(records[1].tags == [])

        let detail = try #require(try store.insight(id: records[0].id))
        #expect(withoutHost(detail.sources) == [expected, plainRef])
        #expect(detail.tags == ["ai", "economics"])
        #expect(try store.sources(states: []).map { "\($0.path)=\($0.format ?? "-")" } == ["My Clippings.txt=kindle-clippings", "plain.txt=text"])
        #expect(try store.recent(limit: 10, since: nil).map(\.tags) == [[], ["ai", "economics"]])
        #expect(try store.counts().occurrences == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func searchNarrowsToATagOrListsItNewestFirst(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(richFile("econ.md", format: "markdown", [
            ParsedInsight(text: a, line: 1, section: nil, tags: ["economics"]),
            ParsedInsight(text: b, line: 3, section: nil, tags: ["work", "economics"]),
        ]), now: 1_000)
        _ = try store.ingestOne(richFile("energy.md", format: "markdown", [ParsedInsight(text: c, line: 1, section: nil, tags: ["energy"])]), now: 2_000)

        let listed = try store.search("", limit: 10, since: nil, source: nil, tag: "economics").results
        #expect(listed.map(\.text) == [b, a])
        #expect(listed.map(\.tags) == [["economics", "work"], ["economics"]])
        #expect(try store.search("", limit: 10, since: nil, source: nil, tag: "#Economics").results.map(\.text) == [b, a])
        #expect(try store.search("", limit: 1, since: nil, source: nil, tag: "economics").results.map(\.text) == [b])
        #expect(try store.search("suburbs", limit: 10, since: nil, source: nil, tag: "economics").results.map(\.text) == [b])
        #expect(try store.search("from", limit: 10, since: nil, source: nil, tag: "ECONOMICS").results.count == 2)
        #expect(try store.search("from", limit: 10, since: nil, source: nil, tag: "energy").results.isEmpty)
        #expect(try store.search("battery", limit: 10, since: nil, source: nil, tag: "energy").results.map(\.tags) == [["energy"]])
        #expect(try store.search("", limit: 10, since: nil, source: nil, tag: "economic").results.isEmpty)
        #expect(try store.search("", limit: 10, since: nil, source: "energy", tag: "economics").results.isEmpty)
        #expect(try store.search("", limit: 10, since: 1_500, source: nil, tag: "economics").results.isEmpty)
        #expect(try store.search("", limit: 10, since: 1_500, source: nil, tag: "energy").results.map(\.text) == [c])
        #expect(try store.search("", limit: 10, since: nil, source: nil, tag: nil).results.isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func tagsCountDistinctInsightsAndOccurrencesMostUsedFirst(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        #expect(try store.tags().isEmpty)
        _ = try store.ingestOne(richFile("one.md", [
            ParsedInsight(text: a, line: 1, section: nil, tags: ["x", "y", "x"]),
            ParsedInsight(text: b, line: 2, section: nil, tags: ["x"]),
            ParsedInsight(text: c, line: 3, section: nil, tags: ["z"]),
        ]))
        _ = try store.ingestOne(richFile("two.md", [
            ParsedInsight(text: a, line: 1, section: nil, tags: ["x", "y", "aa"]),
        ]))
        // Ties on insights are broken by name, not by occurrences: y has more occurrences than aa.
        #expect(try store.tags() == [
            TagCount(tag: "x", insights: 2, occurrences: 3),
            TagCount(tag: "aa", insights: 1, occurrences: 1),
            TagCount(tag: "y", insights: 1, occurrences: 2),
            TagCount(tag: "z", insights: 1, occurrences: 1),
        ])
    }

    @Test(arguments: StoreKind.allCases)
    func aChangedFileReplacesItsTags(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(richFile("notes.md", version: "1", [
            ParsedInsight(text: a, line: 1, section: nil, tags: ["old"], note: "first thoughts"),
            ParsedInsight(text: b, line: 2, section: nil, tags: ["old", "keep"]),
        ]))
        #expect(try store.tags().map(\.tag) == ["old", "keep"])
        #expect(try store.ingestOne(richFile("notes.md", version: "2", [
            ParsedInsight(text: a, line: 1, section: nil, tags: ["new"]),
            ParsedInsight(text: b, line: 2, section: nil, tags: ["keep"]),
        ])) == .stored(newInsights: 0, occurrences: 2))
        #expect(try store.tags() == [TagCount(tag: "keep", insights: 1, occurrences: 1), TagCount(tag: "new", insights: 1, occurrences: 1)])
        #expect(try store.search("", limit: 10, since: nil, source: nil, tag: "old").results.isEmpty)
        let record = try #require(try store.exportPage(afterID: 0, limit: 10, since: nil).first)
        #expect(withoutHost(record.sources) == [SourceRef(path: "notes.md", line: 1, section: nil, date: nil, tags: ["new"], format: "text")])
        // Forgetting an insight takes its occurrences' tags too.
        #expect(try store.forget(id: record.id) == 1)
        #expect(try store.tags().map(\.tag) == ["keep"])
    }

    @Test(arguments: StoreKind.allCases, [true, false])
    func aHighlightPartOfALongerOneIsStoredAsItsVariantInEitherOrder(kind: StoreKind, shorterFirst: Bool) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        let insights = shorterFirst
            ? [ParsedInsight(text: short, line: 1, section: nil, tags: ["attention"], variantOf: 1), ParsedInsight(text: long, line: 2, section: nil)]
            : [ParsedInsight(text: long, line: 1, section: nil), ParsedInsight(text: short, line: 2, section: nil, tags: ["attention"], variantOf: 0)]
        #expect(try store.ingestOne(richFile("clips.txt", format: "kindle-clippings", insights)) == .stored(newInsights: 1, occurrences: 2, variants: 1))
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 1)
        #expect(counts.variants == 1)
        #expect(counts.occurrences == 2)
        let id = try #require(try store.recent(limit: 1, since: nil).first?.id)
        let detail = try #require(try store.insight(id: id))
        #expect(detail.text == long)
        let shortLine = shorterFirst ? 1 : 2
        let shortRef = SourceRef(path: "clips.txt", line: shortLine, section: nil, date: nil, tags: ["attention"], format: "kindle-clippings")
        #expect(detail.variants.map { VariantRef(text: $0.text, sources: withoutHost($0.sources)) } == [VariantRef(text: short, sources: [shortRef])])
        #expect(withoutHost(detail.sources).map(\.line) == [1, 2])
        #expect(detail.tags == ["attention"])
        // The shorter passage seen again on its own, in another file, joins the same insight.
        #expect(try store.ingestOne(file("again.txt", [short])) == .stored(newInsights: 0, occurrences: 1))
        #expect(try store.counts().uniqueInsights == 1)
        #expect(try store.insight(id: id)?.variants.first?.sources.count == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func aPassageAlreadyStoredOnItsOwnStaysItsOwnInsight(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        _ = try store.ingestOne(file("earlier.txt", [short]))
        #expect(try store.ingestOne(richFile("clips.txt", [
            ParsedInsight(text: short, line: 1, section: nil, variantOf: 1), ParsedInsight(text: long, line: 2, section: nil),
        ])) == .stored(newInsights: 1, occurrences: 2))
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 2)
        #expect(counts.variants == 0)
        let records = try store.exportPage(afterID: 0, limit: 10, since: nil)
        #expect(records.map(\.text) == [short, long])
        #expect(records[0].sources.map(\.path) == ["clips.txt", "earlier.txt"])
    }

    @Test(arguments: StoreKind.allCases)
    func unusableVariantOfIndicesFallBackToOrdinaryPlacement(kind: StoreKind) throws {
        let temp = try StoreUnderTest(kind)
        let store = temp.store
        let texts = [
            "Container shipping costs dropped sharply once the new canal locks opened.",
            "Most city parks were designed for a population half the size of today.",
            "Library loans of audiobooks tripled in the decade after smartphones spread.",
            "Coffee prices track rainfall in Brazil more closely than global demand.",
            "Solar panels on school roofs now supply most of their daytime electricity.",
            "Bicycle commuting doubles wherever protected lanes form a connected network.",
            "Tidal power stations remain rare because suitable estuaries are rare too.",
            "Rail freight wins over trucks on distances above roughly five hundred kilometres.",
        ]
        let variantOf: [Int?] = [
            99,   // out of range
            1,    // itself
            3, 2, // a cycle
            5,    // a chain: 4 → 5 → 6
            6,    // 5 → 6, which is a whole passage: honoured
            nil,
            -1,   // negative
        ]
        let insights = texts.enumerated().map { index, text in ParsedInsight(text: text, line: index + 1, section: nil, variantOf: variantOf[index]) }
        #expect(try store.ingestOne(richFile("odd.txt", insights)) == .stored(newInsights: 7, occurrences: 8, variants: 1))
        let counts = try store.counts()
        #expect(counts.uniqueInsights == 7)
        #expect(counts.variants == 1)
        #expect(counts.occurrences == 8)
        let records = try store.exportPage(afterID: 0, limit: 10, since: nil)
        #expect(Set(records.map(\.text)) == Set(texts.enumerated().filter { $0.offset != 5 }.map(\.element)))
        let whole = try #require(records.first { $0.text == texts[6] })
        #expect(whole.variants.map(\.text) == [texts[5]])
        #expect(whole.variants.first?.sources.map(\.line) == [6])
        #expect(whole.sources.map(\.line) == [6, 7])
    }

    /// A bulk batch (enough insights for PostgreSQL to write it in one turn, new files as runs) stores what the same
    /// files store one at a time: each file's outcome, the counts, and every insight with its wordings, sources and
    /// conflicts. It mixes new files, exact duplicates and wordings across files, an unchanged file, a changed one whose
    /// dropped claims are then worded again, and (`repeatsAPath`) a path given twice.
    @Test(arguments: StoreKind.allCases, [false, true])
    func aBulkBatchStoresWhatOneFileAtATimeStores(kind: StoreKind, repeatsAPath: Bool) throws {
        let claim = ClaimCorpus.claim, variant = ClaimCorpus.variant(of:)
        let before = [file("old.txt", [claim(0), claim(1), claim(2)]), file("keep.txt", [claim(3)])]
        // Five claims a file, the last of each the first of the next: exact duplicates across the run.
        var batch = (0..<12).map { index in
            var new = file("new/\(index).txt", (0..<5).map { claim(10 + index * 4 + $0) })
            new.insights[0].tags = ["file\(index)"]
            new.insights[index % 5].tags.append("line\(index % 5 + 1)of\(index)")
            return new
        }
        batch.insert(file("early.txt", [variant(claim(2)), variant(claim(11))]), at: 2)
        batch.insert(file("keep.txt", [claim(3)]), at: 4)
        batch.insert(file("old.txt", [claim(0), claim(5)]), at: 7)
        // Claim 1 went with the change, claim 0 stayed, claim 2 stays through its wording in early.txt.
        batch.append(file("late.txt", [variant(claim(1)), variant(claim(0)), variant(claim(2)), variant(claim(12)), variant(claim(30)), claim(46)]))
        if repeatsAPath { batch.append(file("new/0.txt", [claim(99), claim(10)])) }
        #expect(batch.reduce(0) { $0 + $1.insights.count } > 48)

        let bulk = try StoreUnderTest(kind), single = try StoreUnderTest(kind)
        for store in [bulk.store, single.store] {
            for file in before { _ = try store.ingestOne(file, now: 1) }
        }
        let results = try bulk.store.ingestBatch(batch, now: 2, shouldContinue: { true }).map { try $0.get() }
        let oneByOne = try batch.map { try single.store.ingestOne($0, now: 2) }
        #expect(results == oneByOne)
        #expect(results.contains(.unchanged))
        #expect(results.contains { if case .stored(_, _, let variants, _) = $0 { variants > 0 } else { false } })
        #expect(try bulk.store.counts() == single.store.counts())
        let stored = try digest(bulk.store)
        #expect(stored == (try digest(single.store)))
        #expect(stored.count == (try bulk.store.counts().uniqueInsights))
    }

    /// Every insight as one line: its text, sources, wordings with their sources, and the texts it conflicts with.
    func digest(_ store: any InsightStoring) throws -> [String] {
        let records = try store.exportPage(afterID: 0, limit: 10_000, since: nil)
        let textOf = Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.text) })
        func places(_ sources: [SourceRef]) -> [String] {
            sources.map { "\($0.path):\($0.line)" + $0.tags.sorted().map { " #" + $0 }.joined() }.sorted()
        }
        return records.map { record in
            let variants = record.variants.map { $0.text + " @ " + places($0.sources).joined(separator: ",") }.sorted()
            let conflicts = record.conflicts.map { "conflicts with " + (textOf[$0] ?? "?") }.sorted()
            return ([record.text] + places(record.sources) + variants + conflicts).joined(separator: " | ")
        }.sorted()
    }
}
