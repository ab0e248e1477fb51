/// The inbox paths waiting to be taken: each is taken once its size and mtime have stayed the same for the settle
/// time. Pure bookkeeping (time is passed in), so it is tested with a fake clock.
///
/// - A path queued again before it is taken keeps one entry (coalescing); its settle time starts over.
/// - A path handed out stays "in hand" until `finish(_:)`; queued again meanwhile, it waits and is queued after
///   `finish`, so two workers never hold the same path.
/// - `count` and `oldestQueuedAt` cover queued and in-hand paths, so status stays true during a flood.
///
/// Every path has the same settle time, so the order of queueing is the order of due times: a FIFO with
/// lazily dropped stale entries serves `takeDue` in amortized O(1).
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

    private var queued: [String: Entry] = [:]
    private var inHand: [String: Item] = [:]
    /// Paths queued again while in hand: queued when they are finished.
    private var again: [String: Item] = [:]
    private var order: [(path: String, generation: Int)] = []
    private var head = 0
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

    /// Hands out up to `limit` paths that are due at `now`, oldest first, choosing only those `accept` takes (the
    /// others stay queued in their place). Handed-out paths are in hand until `finish`.
    mutating func takeDue(now: Double, limit: Int, accept: (Item) -> Bool = { _ in true }) -> [Item] {
        var taken: [Item] = []
        var index = head
        while taken.count < limit, index < order.count {
            let (path, generation) = order[index]
            guard let entry = queued[path], entry.generation == generation else {
                if index == head { head += 1 }
                index += 1
                continue
            }
            guard entry.due <= now else { break }
            index += 1
            guard accept(entry.item) else { continue }
            if index - 1 == head { head += 1 }
            queued[path] = nil
            inHand[path] = entry.item
            taken.append(entry.item)
        }
        compact()
        return taken
    }

    /// When the first queued path that `accept` takes falls due, or nil when none is queued.
    func nextDue(accept: (Item) -> Bool = { _ in true }) -> Double? {
        var index = head
        while index < order.count {
            let (path, generation) = order[index]
            if let entry = queued[path], entry.generation == generation, accept(entry.item) { return entry.due }
            index += 1
        }
        return nil
    }

    /// Whether some queued path is due at `now` and taken by `accept`.
    func hasDue(now: Double, accept: (Item) -> Bool) -> Bool {
        var index = head
        while index < order.count {
            let (path, generation) = order[index]
            if let entry = queued[path], entry.generation == generation {
                if entry.due > now { return false }
                if accept(entry.item) { return true }
            }
            index += 1
        }
        return false
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

    /// Drops every queued path (in-hand ones stay until finished); returns how many were dropped.
    mutating func removeAllQueued() -> Int {
        let dropped = queued.count + again.count
        queued = [:]
        again = [:]
        order = []
        head = 0
        return dropped
    }

    private mutating func schedule(_ item: Item, now: Double) {
        nextGeneration += 1
        queued[item.path] = Entry(generation: nextGeneration, due: now + settle, item: item)
        order.append((item.path, nextGeneration))
    }

    private mutating func compact() {
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        if agesHead > 4096, agesHead * 2 > ages.count {
            ages.removeFirst(agesHead)
            agesHead = 0
        }
    }
}
