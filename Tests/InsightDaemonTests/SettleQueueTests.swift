import Testing

@testable import InsightDaemon

/// The settle queue with a fake clock: time is whatever the test passes in.
@Suite struct SettleQueueTests {
    private func snapshot(_ size: Int64, _ mtime: Double = 1) -> SettleQueue.Snapshot { .init(size: size, mtime: mtime) }

    @Test func aPathIsTakenOnlyAfterTheSettleTime() {
        var queue = SettleQueue(settle: 0.5)
        queue.add("a.txt", snapshot: snapshot(10), now: 100)
        #expect(queue.takeDue(now: 100.4, limit: 10).isEmpty)
        let next = queue.nextDue()
        #expect(next == 100.5)
        let taken = queue.takeDue(now: 100.5, limit: 10)
        #expect(taken.map(\.path) == ["a.txt"])
        #expect(taken.first?.snapshot == snapshot(10))
        #expect(queue.count == 1, "a path in hand is still pending")
        queue.finish("a.txt", now: 101)
        #expect(queue.isEmpty)
    }

    @Test func queueingAgainCoalescesAndRestartsTheSettleTime() {
        var queue = SettleQueue(settle: 1)
        queue.add("a.txt", snapshot: snapshot(1), now: 0)
        queue.add("b.txt", snapshot: snapshot(1), now: 0.2)
        queue.add("a.txt", snapshot: snapshot(2), now: 0.9)
        #expect(queue.count == 2)
        // b is due first now; a waits until 1.9 and keeps its first queueing time for the age.
        #expect(queue.takeDue(now: 1.5, limit: 10).map(\.path) == ["b.txt"])
        #expect(queue.oldestQueuedAt() == 0)
        let a = queue.takeDue(now: 1.9, limit: 10)
        #expect(a.map(\.path) == ["a.txt"])
        #expect(a.first?.snapshot == snapshot(2))
        #expect(a.first?.queuedAt == 0)
    }

    @Test func aPathQueuedWhileInHandWaitsUntilFinished() {
        var queue = SettleQueue(settle: 1)
        queue.add("a.txt", snapshot: snapshot(1), now: 0)
        #expect(queue.takeDue(now: 1, limit: 10).count == 1)
        queue.add("a.txt", snapshot: snapshot(5), now: 1.2)
        #expect(queue.count == 1, "one path, in hand and queued again, counts once")
        #expect(queue.takeDue(now: 10, limit: 10).isEmpty, "never handed out twice at once")
        queue.finish("a.txt", now: 2)
        #expect(queue.takeDue(now: 2.5, limit: 10).isEmpty)
        let again = queue.takeDue(now: 3, limit: 10)
        #expect(again.map(\.path) == ["a.txt"])
        #expect(again.first?.snapshot == snapshot(5))
    }

    @Test func aChangingFileIsRequeuedWithItsNewLookAndItsAge() {
        var queue = SettleQueue(settle: 1)
        queue.add("a.txt", snapshot: snapshot(1), now: 0)
        let item = queue.takeDue(now: 1, limit: 1)[0]
        queue.requeue(item, snapshot: snapshot(7, 2), now: 1.5)
        #expect(queue.count == 1)
        #expect(queue.takeDue(now: 2, limit: 1).isEmpty)
        let again = queue.takeDue(now: 2.5, limit: 1)
        #expect(again.first?.snapshot == snapshot(7, 2))
        #expect(again.first?.queuedAt == 0)
    }

    @Test func retryForcesEvenWhenCoalesced() {
        var queue = SettleQueue(settle: 0)
        queue.add("a.txt", snapshot: snapshot(1), now: 0, force: true)
        queue.add("a.txt", snapshot: snapshot(1), now: 0.1)
        #expect(queue.takeDue(now: 1, limit: 1).first?.force == true)
    }

    @Test func lanesTakeOnlyTheirOwnPathsAndKeepTheOrderOfTheRest() {
        var queue = SettleQueue(settle: 0, largeBytes: 1_000_000)
        queue.add("big.txt", snapshot: snapshot(50_000_000), now: 0)
        queue.add("s1.txt", snapshot: snapshot(10), now: 0.1)
        queue.add("s2.txt", snapshot: snapshot(10), now: 0.2)
        queue.add("gone.txt", snapshot: .init(size: nil, mtime: nil), now: 0.3)
        #expect(queue.takeDue(now: 1, limit: 1, lane: .small).map(\.path) == ["s1.txt"])
        let largeDue = queue.nextDue(lane: .large)
        #expect(largeDue.map { $0 <= 1 } == true)
        let smallNext = queue.nextDue(lane: .small)
        #expect(smallNext == 0.2)
        #expect(queue.takeDue(now: 1, limit: 5, lane: .large).map(\.path) == ["big.txt"])
        #expect(queue.takeDue(now: 1, limit: 5, lane: .small).map(\.path) == ["s2.txt", "gone.txt"])
        let (smallAfter, largeAfter) = (queue.nextDue(lane: .small), queue.nextDue(lane: .large))
        #expect(smallAfter == nil)
        #expect(largeAfter == nil)
    }

    @Test func aPathThatGrewPastTheThresholdMovesToTheLargeLane() {
        var queue = SettleQueue(settle: 0, largeBytes: 1_000)
        queue.add("log.txt", snapshot: snapshot(10), now: 0)
        let item = queue.takeDue(now: 1, limit: 1, lane: .small)[0]
        // Still being written: it comes back, now large.
        queue.requeue(item, snapshot: snapshot(5_000), now: 1)
        #expect(queue.takeDue(now: 2, limit: 5, lane: .small).isEmpty)
        #expect(queue.takeDue(now: 2, limit: 5, lane: .large).map(\.path) == ["log.txt"])
        // Coalesced while queued: the entry in the lane it left is stale and never handed out.
        queue.add("a.txt", snapshot: snapshot(5_000), now: 3)
        queue.add("a.txt", snapshot: snapshot(10), now: 3.5)
        #expect(queue.takeDue(now: 4, limit: 5, lane: .large).isEmpty)
        #expect(queue.takeDue(now: 4, limit: 5, lane: .small).map(\.path) == ["a.txt"])
        #expect(queue.count == 2)  // log.txt and a.txt in hand
    }

    @Test(arguments: [1_000, 40_000])
    func aLaneFindsItsWorkWithoutLookingAtTheOtherLanesPaths(smallFiles: Int) {
        // A flood of small files in one folder and one large file behind it: the large lane's worker looks for work
        // after every round of the small ones. It must not walk the flood each time.
        var queue = SettleQueue(settle: 0.05, largeBytes: 1_000_000)
        for index in 0..<smallFiles { queue.add("restore/e\(index).txt", snapshot: snapshot(0), now: 0) }
        queue.add("restore/large.txt", snapshot: snapshot(10_000_000), now: 0)
        let before = queue.examined
        for round in 0..<100 {
            #expect(queue.takeDue(now: 0.01, limit: 1, lane: .large).isEmpty, "round \(round): not due yet")
            let next = queue.nextDue(lane: .large)
            #expect(next == 0.05)
        }
        #expect(queue.examined - before <= 200, "examined \(queue.examined - before) entries for 100 looks")
        #expect(queue.takeDue(now: 1, limit: 1, lane: .large).map(\.path) == ["restore/large.txt"])
        queue.finish("restore/large.txt", now: 1)
        // The large lane is empty now: looking costs nothing however many small paths wait.
        let idle = queue.examined
        for _ in 0..<100 {
            #expect(queue.takeDue(now: 1, limit: 1, lane: .large).isEmpty)
            let next = queue.nextDue(lane: .large)
            #expect(next == nil)
        }
        #expect(queue.examined - idle <= 1)
        #expect(queue.count == smallFiles)
    }

    @Test func foldersTakeTurnsSoAFloodInOneFolderDoesNotHoldUpAnother() {
        var queue = SettleQueue(settle: 0)
        for index in 0..<1_000 { queue.add("restore/e\(index).txt", snapshot: snapshot(0), now: 0) }
        for index in 0..<3 { queue.add("sync/deep/r\(index).txt", snapshot: snapshot(9), now: 0.5) }
        queue.add("note.txt", snapshot: snapshot(5), now: 1)
        let first = queue.takeDue(now: 2, limit: 6).map(\.path)
        // One from each folder in turn, first in, first out within each.
        #expect(first == ["restore/e0.txt", "sync/deep/r0.txt", "note.txt", "restore/e1.txt", "sync/deep/r1.txt", "restore/e2.txt"])
        // Everything is still handed out exactly once.
        var all = Set(first)
        while true {
            let taken = queue.takeDue(now: 2, limit: 50)
            if taken.isEmpty { break }
            for item in taken { #expect(all.insert(item.path).inserted) }
        }
        #expect(all.count == 1_004)
        #expect(SettleQueue.folder(of: "a/b/c.txt") == "a/b")
        #expect(SettleQueue.folder(of: "c.txt") == "")
    }

    @Test(arguments: [10, 5_000, 20_000])
    func countAndAgeStayExactThroughAFlood(files: Int) {
        var queue = SettleQueue(settle: 0.1)
        for index in 0..<files { queue.add("f\(index).txt", snapshot: snapshot(0), now: Double(index) / 1000) }
        // Every file deleted: queued again (coalesced) before it is taken.
        for index in 0..<files { queue.add("f\(index).txt", snapshot: .init(size: nil, mtime: nil), now: 100) }
        #expect(queue.count == files)
        var handled = 0
        var now = 100.1
        while true {
            let taken = queue.takeDue(now: now, limit: 64)
            if taken.isEmpty { break }
            #expect(queue.count == files - handled)
            #expect(queue.oldestQueuedAt() == Double(handled) / 1000)
            for item in taken {
                #expect(item.snapshot.size == nil)
                queue.finish(item.path, now: now)
            }
            handled += taken.count
            now += 0.001
        }
        #expect(handled == files)
        #expect(queue.isEmpty)
        #expect(queue.oldestQueuedAt() == nil)
    }
}
