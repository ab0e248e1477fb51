/// The inbox paths waiting to be taken: each is taken once its size and mtime have stayed the same for the settle
/// time. Pure bookkeeping (time is passed in), so it is tested with a fake clock.
///
/// - A path queued again before it is taken keeps one entry (coalescing); its settle time starts over.
/// - A path handed out stays "in hand" until `finish(_:)`; queued again meanwhile, it waits and is queued after
///   `finish`, so two workers never hold the same path.
/// - **Folders take turns**: each folder has its own first-in first-out queue, and `takeDue` goes round the
///   folders, one path from each in turn. A sync client that pours 20,000 files into one folder never holds up a
///   note dropped into another.
/// - **Lanes**: a path whose size when queued is at least `largeBytes` waits in the large lane, every other path in
///   the small lane, each lane with its own folder queues. A worker of one lane finds its next path without looking
///   at the other's: with 40,000 small paths queued, the large lane's worker takes or waits in constant time.
/// - `count` and `oldestQueuedAt` cover queued and in-hand paths, so status stays true during a flood.
///
/// Every path has the same settle time, so within a folder the order of queueing is the order of due times: a
/// FIFO with lazily dropped stale entries.
struct SettleQueue {
    /// What the path looked like when it was queued; it is taken only if it still looks the same.
    struct Snapshot: Equatable, Sendable {
        var size: Int64?
        var mtime: Double?
    }

    /// A path handed out to be read.
    struct Item: Equatable, Sendable {
        var path: String
        var snapshot: Snapshot
        /// When the path was first queued (kept across coalescing and requeueing), for the oldest-pending age.
        var queuedAt: Double
        /// Taken even if it looks unchanged since it was last stored (`insightctl retry`).
        var force: Bool
    }

    /// The worker lane a path waits in: large files have their own, so one never holds up small ones.
    enum Lane: Int, CaseIterable, Sendable {
        case small, large
    }

    private struct Entry {
        var generation: Int
        var due: Double
        var item: Item
    }

    /// One folder's paths in queueing order, with entries made stale by coalescing dropped lazily.
    private struct FolderQueue {
        var order: [(path: String, generation: Int)] = []
        var head = 0

        mutating func compact() {
            if head > 1024, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    /// One lane's folder queues, and the folders that may hold queued paths in turn order (`turn` is the next to
    /// serve).
    private struct LaneQueues {
        var folders: [String: FolderQueue] = [:]
        var ring: [String] = []
        var turn = 0
    }

    private var queued: [String: Entry] = [:]
    private var inHand: [String: Item] = [:]
    /// Paths queued again while in hand: queued when they are finished.
    private var again: [String: Item] = [:]
    private var lanes = [LaneQueues](repeating: LaneQueues(), count: Lane.allCases.count)
    private var nextGeneration = 0
    /// Queue entries looked at by `takeDue` and `nextDue`, stale ones included (for the tests of the lanes).
    private(set) var examined = 0
    /// First-queued times in queueing order, for `oldestQueuedAt`; stale entries are dropped lazily.
    private var ages: [(path: String, queuedAt: Double)] = []
    private var agesHead = 0

    /// Seconds a path must stay unchanged before it is taken.
    var settle: Double
    /// Paths of this size or more when queued wait in the large lane.
    let largeBytes: Int64

    init(settle: Double, largeBytes: Int64 = 1 << 20) {
        self.settle = settle
        self.largeBytes = largeBytes
    }

    /// The lane of a path that looks like `snapshot` (a path that is gone, or unreadable, is small: it is quick).
    func lane(of snapshot: Snapshot) -> Lane {
        (snapshot.size ?? 0) >= largeBytes ? .large : .small
    }

    /// Queued and in-hand paths.
    var count: Int { queued.count + inHand.count }  // a path queued again while in hand is in both `inHand` and `again`
    var isEmpty: Bool { count == 0 }
    var inHandCount: Int { inHand.count }

    /// Queues `path`, due `settle` seconds from `now`.
    mutating func add(_ path: String, snapshot: Snapshot, now: Double, force: Bool = false) {
        if let held = inHand[path] {
            var item = again[path] ?? held
            item.snapshot = snapshot
            item.force = item.force || force
            again[path] = item
            return
        }
        let previous = queued[path]?.item
        let item = Item(path: path, snapshot: snapshot, queuedAt: previous?.queuedAt ?? now, force: (previous?.force ?? false) || force)
        if previous == nil { ages.append((path, now)) }
        schedule(item, now: now)
    }

    /// Hands out up to `limit` paths of `lane` that are due at `now`, going round the lane's folders one path at a
    /// time. Handed-out paths are in hand until `finish`.
    mutating func takeDue(now: Double, limit: Int, lane: Lane = .small) -> [Item] {
        // Moved out while it changes (and back at the end), so its dictionary is not copied on write.
        var queues = LaneQueues()
        swap(&queues, &lanes[lane.rawValue])
        defer { swap(&queues, &lanes[lane.rawValue]) }
        var taken: [Item] = []
        var idle = 0  // folders in a row that had nothing to give
        while taken.count < limit, !queues.ring.isEmpty, idle < queues.ring.count {
            if queues.turn >= queues.ring.count { queues.turn = 0 }
            let folder = queues.ring[queues.turn]
            switch takeFirstDue(in: folder, of: &queues, now: now) {
            case .taken(let item):
                taken.append(item)
                idle = 0
                queues.turn += 1
            case .nothingDue:
                idle += 1
                queues.turn += 1
            case .empty:
                // Nothing queued there any more: the folder leaves the ring (and comes back when a path arrives).
                queues.folders[folder] = nil
                queues.ring.remove(at: queues.turn)
            }
        }
        return taken
    }

    private enum FolderTake { case taken(Item), nothingDue, empty }

    /// Takes the folder's first live path if it is due. Every live path of a lane's folder is the lane's, and they
    /// fall due in queueing order, so only the first needs a look (stale entries before it are dropped).
    private mutating func takeFirstDue(in folder: String, of queues: inout LaneQueues, now: Double) -> FolderTake {
        // Taken out of the dictionary while it changes, so its array is not copied on write.
        guard var queue = queues.folders.removeValue(forKey: folder) else { return .empty }
        defer { queues.folders[folder] = queue }
        while queue.head < queue.order.count {
            examined += 1
            let (path, generation) = queue.order[queue.head]
            guard let entry = queued[path], entry.generation == generation else {
                queue.head += 1
                continue
            }
            guard entry.due <= now else {
                queue.compact()
                return .nothingDue
            }
            queue.head += 1
            queue.compact()
            queued[path] = nil
            inHand[path] = entry.item
            return .taken(entry.item)
        }
        queue.compact()
        return .empty
    }

    /// When the first queued path of `lane` falls due, or nil when none is queued.
    mutating func nextDue(lane: Lane = .small) -> Double? {
        var earliest: Double?
        var queues = LaneQueues()
        swap(&queues, &lanes[lane.rawValue])
        defer { swap(&queues, &lanes[lane.rawValue]) }
        for folder in queues.ring {
            guard var queue = queues.folders.removeValue(forKey: folder) else { continue }
            // Stale entries at the head are dropped here too, so the next look starts at a live one.
            while queue.head < queue.order.count {
                examined += 1
                let (path, generation) = queue.order[queue.head]
                if let entry = queued[path], entry.generation == generation {
                    earliest = min(earliest ?? entry.due, entry.due)
                    break
                }
                queue.head += 1
            }
            queue.compact()
            queues.folders[folder] = queue
        }
        return earliest
    }

    /// Ends the hand-out of `path`; if it was queued again meanwhile, it is queued now.
    mutating func finish(_ path: String, now: Double) {
        guard inHand.removeValue(forKey: path) != nil else { return }
        if let item = again.removeValue(forKey: path) { schedule(item, now: now) }
    }

    /// Puts an in-hand path back to wait, because it was still changing: `snapshot` is what it looks like now.
    mutating func requeue(_ item: Item, snapshot: Snapshot, now: Double) {
        guard inHand.removeValue(forKey: item.path) != nil else { return }
        var next = again.removeValue(forKey: item.path) ?? item
        next.snapshot = snapshot
        next.queuedAt = item.queuedAt
        next.force = next.force || item.force
        schedule(next, now: now)
    }

    /// When the oldest queued or in-hand path was first queued.
    mutating func oldestQueuedAt() -> Double? {
        while agesHead < ages.count {
            let (path, at) = ages[agesHead]
            let current = queued[path]?.item ?? inHand[path] ?? again[path]
            if let current, current.queuedAt == at { return at }
            agesHead += 1
        }
        return nil
    }

    private mutating func schedule(_ item: Item, now: Double) {
        nextGeneration += 1
        queued[item.path] = Entry(generation: nextGeneration, due: now + settle, item: item)
        let folder = Self.folder(of: item.path)
        let lane = lane(of: item.snapshot).rawValue
        if lanes[lane].folders[folder] == nil {
            lanes[lane].folders[folder] = FolderQueue()
            lanes[lane].ring.append(folder)
        }
        lanes[lane].folders[folder]!.order.append((item.path, nextGeneration))
        if agesHead > 4096, agesHead * 2 > ages.count {
            ages.removeFirst(agesHead)
            agesHead = 0
        }
    }

    /// The folder a path (relative to the inbox) is in; "" for the inbox itself.
    static func folder(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return String(path[..<slash])
    }
}
