/// The inbox paths waiting to be taken: each is taken once its size and mtime have stayed the same for the settle
/// time. Pure bookkeeping (time is passed in), so it is tested with a fake clock.
///
/// - A path queued again before it is taken keeps one entry (coalescing); its settle time starts over.
/// - A path handed out stays "in hand" until `finish(_:)`; queued again meanwhile, it waits and is queued after
///   `finish`, so two workers never hold the same path.
/// - **Folders take turns**: each folder has its own first-in first-out queue, and `takeDue` goes round the
///   folders, one path from each in turn. A sync client that pours 20,000 files into one folder never holds up a
///   note dropped into another.
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

    private var queued: [String: Entry] = [:]
    private var inHand: [String: Item] = [:]
    /// Paths queued again while in hand: queued when they are finished.
    private var again: [String: Item] = [:]
    private var folders: [String: FolderQueue] = [:]
    /// Folders that may hold queued paths, in turn order; `turn` is the next to serve.
    private var ring: [String] = []
    private var turn = 0
    private var nextGeneration = 0
    /// First-queued times in queueing order, for `oldestQueuedAt`; stale entries are dropped lazily.
    private var ages: [(path: String, queuedAt: Double)] = []
    private var agesHead = 0

    /// Seconds a path must stay unchanged before it is taken.
    var settle: Double

    init(settle: Double) {
        self.settle = settle
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

    /// Hands out up to `limit` paths that are due at `now`, going round the folders one path at a time, choosing
    /// only those `accept` takes (the others stay queued in their place). Handed-out paths are in hand until `finish`.
    mutating func takeDue(now: Double, limit: Int, accept: (Item) -> Bool = { _ in true }) -> [Item] {
        var taken: [Item] = []
        var idle = 0  // folders in a row that had nothing to give
        while taken.count < limit, !ring.isEmpty, idle < ring.count {
            if turn >= ring.count { turn = 0 }
            let folder = ring[turn]
            switch takeFirstDue(in: folder, now: now, accept: accept) {
            case .taken(let item):
                taken.append(item)
                idle = 0
                turn += 1
            case .nothingDue:
                idle += 1
                turn += 1
            case .empty:
                // Nothing queued there any more: the folder leaves the ring (and comes back when a path arrives).
                folders[folder] = nil
                ring.remove(at: turn)
            }
        }
        return taken
    }

    private enum FolderTake { case taken(Item), nothingDue, empty }

    private mutating func takeFirstDue(in folder: String, now: Double, accept: (Item) -> Bool) -> FolderTake {
        // Taken out of the dictionary while it changes, so its array is not copied on write.
        guard var queue = folders.removeValue(forKey: folder) else { return .empty }
        defer { folders[folder] = queue }
        var index = queue.head
        var live = false
        while index < queue.order.count {
            let (path, generation) = queue.order[index]
            guard let entry = queued[path], entry.generation == generation else {
                if index == queue.head { queue.head += 1 }
                index += 1
                continue
            }
            live = true
            guard entry.due <= now else { break }
            index += 1
            guard accept(entry.item) else { continue }
            if index - 1 == queue.head { queue.head += 1 }
            queue.compact()
            queued[path] = nil
            inHand[path] = entry.item
            return .taken(entry.item)
        }
        queue.compact()
        return live ? .nothingDue : .empty
    }

    /// When the first queued path that `accept` takes falls due, or nil when none is queued.
    func nextDue(accept: (Item) -> Bool = { _ in true }) -> Double? {
        var earliest: Double?
        for queue in folders.values {
            var index = queue.head
            while index < queue.order.count {
                let (path, generation) = queue.order[index]
                if let entry = queued[path], entry.generation == generation, accept(entry.item) {
                    earliest = min(earliest ?? entry.due, entry.due)
                    break
                }
                index += 1
            }
        }
        return earliest
    }

    /// Whether some queued path is due at `now` and taken by `accept`.
    func hasDue(now: Double, accept: (Item) -> Bool) -> Bool {
        nextDue(accept: accept).map { $0 <= now } ?? false
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
        if folders[folder] == nil {
            folders[folder] = FolderQueue()
            ring.append(folder)
        }
        folders[folder]!.order.append((item.path, nextGeneration))
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
