import COpenBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A vector stored as int8 with one scale: `values[i] × scale` is the unit-length direction of the input.
/// The scale is chosen so the dequantised vector has length 1, which makes a dot product with a unit query
/// the cosine similarity.
public struct QuantizedVector: Sendable, Equatable {
    public var scale: Float
    public var values: [Int8]

    /// Quantises the direction of `v` (it is L2-normalised first; a zero vector stays zero).
    public init(_ v: [Float]) {
        let largest = v.reduce(Float(0)) { max($0, abs($1)) }
        guard largest > 0, largest.isFinite else {
            scale = 0
            values = [Int8](repeating: 0, count: v.count)
            return
        }
        values = v.map { Int8(($0 / largest * 127).rounded()) }
        let norm = values.reduce(Float(0)) { $0 + Float($1) * Float($1) }.squareRoot()
        scale = 1 / norm
    }

    /// A vector of these values and scale.
    public init(scale: Float, values: [Int8]) {
        self.scale = scale
        self.values = values
    }

    /// Reads the form `bytes` writes.
    public init(scale: Float, bytes: [UInt8]) {
        self.scale = scale
        self.values = bytes.map { Int8(bitPattern: $0) }
    }

    /// The values as bytes (two's complement), for storage as a BLOB beside the scale.
    public var bytes: [UInt8] { values.map { UInt8(bitPattern: $0) } }

    /// The float vector this stands for.
    public var dequantized: [Float] { values.map { Float($0) * scale } }
}

/// Int8-quantised nearest-neighbour index (SIMD dot products), for up to ~1M vectors.
/// Slots are kept sorted by id so an id is found by binary search with no extra table. A vector is held as a
/// 48-byte sign sketch (bit i set where value i is positive) and its 384 magnitudes in 7 bits each (336 bytes),
/// which together are exactly the int8 values (−127…127), plus a 4-byte scale and an 8-byte id: 396 bytes.
/// Appending increasing ids (the usual order) is O(1); an id below the largest, or a removal, moves the slots
/// after it.
///
/// A search over a small index scans every vector, unpacking blocks of them to int8 for the dot products.
/// From `exactScanBelow` vectors on, it first compares
/// sign sketches (one bit per dimension: 48 MB at 1M instead of 384 MB) and scans only the
/// `oversampling × k` slots whose sketches differ least from the query's, where k is the limit plus the
/// excluded ids plus 16; the result is the exact scan's whenever its best k are among those slots.
/// Internally locked: readers run concurrently with each other, writers exclusively.
public final class VectorIndex: @unchecked Sendable {
    public let dimensions: Int
    private var ids: [Int64] = []
    private var scales: [Float] = []
    /// `rowBytes` bytes per slot: the magnitudes of its values, 7 bits each (`pack`).
    private var packed: [UInt8] = []
    /// `sketchWords` words per slot: bit i of a slot's sketch is set when value i is positive. The sign of each
    /// value, so also the other half of `packed`.
    private var sketches: [UInt64] = []
    private let sketchWords: Int
    private let rowBytes: Int
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    /// Threads a search over a large index splits its scan across (the calling thread is one of them).
    public let scanThreads: Int
    /// From this many vectors on, a search compares sign sketches first; below it, it scans every vector.
    public let exactScanBelow: Int
    /// Slots rescored with int8 dot products per vector asked for (limit + excluded + 16).
    public let oversampling: Int
    /// Below this many vectors (sketches, in the first pass) a scan stays on the calling thread: starting a
    /// thread would cost more.
    private let vectorsPerExtraThread = 100_000
    private let sketchesPerExtraThread = 400_000

    /// - Parameters:
    ///   - scanThreads: threads for a search over a large index; default: up to 2, as cores allow.
    ///     A scan reads every vector or sketch (384 MB or 48 MB at 1M), so a second core helps when one cannot
    ///     use all the memory bandwidth.
    ///   - exactScanBelow: index size from which a search compares sign sketches first (an exhaustive scan
    ///     of 50k vectors takes a few milliseconds).
    ///   - oversampling: slots rescored per vector asked for, after the sketch pass (40: 1,080 slots for a
    ///     limit of 10 with one id excluded).
    public init(dimensions: Int, scanThreads: Int? = nil, exactScanBelow: Int = 50_000, oversampling: Int = 40) {
        precondition(dimensions > 0)
        precondition(oversampling > 0)
        self.dimensions = dimensions
        self.scanThreads = max(1, scanThreads ?? min(2, ProcessInfo.processInfo.activeProcessorCount))
        self.exactScanBelow = exactScanBelow
        self.oversampling = oversampling
        sketchWords = (dimensions + 63) / 64
        rowBytes = Self.packedBytes(dimensions)
        lock = .allocate(capacity: 1)
        pthread_rwlock_init(lock, nil)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    private func reading<T>(_ body: () -> T) -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return body()
    }

    private func writing<T>(_ body: () -> T) -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return body()
    }

    /// Room for `count` vectors without growing (to load a known number at start).
    public func reserveCapacity(_ count: Int) {
        writing {
            ids.reserveCapacity(count)
            scales.reserveCapacity(count)
            packed.reserveCapacity(count * rowBytes)
            sketches.reserveCapacity(count * sketchWords)
        }
    }

    /// The sign sketch of `values`: bit i (of word i / 64) is set when `values[i]` is positive.
    static func sketch(_ values: [Int8]) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: (values.count + 63) / 64)
        values.withUnsafeBufferPointer { v in
            for i in 0..<v.count where v[i] > 0 { out[i >> 6] |= 1 << UInt64(i & 63) }
        }
        return out
    }

    /// Bytes of a packed row of `dimensions` values: 7 bits each, eight values in seven bytes.
    static func packedBytes(_ dimensions: Int) -> Int { (7 * dimensions + 7) / 8 }

    /// The magnitudes of `values`, value i at bits 7i…7i+6 of the row read as one little-endian bit string (the
    /// form `insight_unpack_i8` reads back with the signs of the sketch). −128, which int8 quantisation never
    /// makes, is held as −127.
    static func pack(_ values: [Int8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: packedBytes(values.count))
        var bits: UInt32 = 0, held = 0, at = 0
        for v in values {
            bits |= UInt32(min(v.magnitude, 127)) << UInt32(held)
            held += 7
            while held >= 8 {
                out[at] = UInt8(truncatingIfNeeded: bits)
                bits >>= 8
                held -= 8
                at += 1
            }
        }
        if held > 0 { out[at] = UInt8(truncatingIfNeeded: bits) }
        return out
    }

    /// Rows of `dimensions` int8 values from `count` packed rows and their sketches; `portable` takes the path
    /// for CPUs without AVX2 whatever this one has (to test both).
    static func unpack(_ packed: UnsafeBufferPointer<UInt8>, sketches: UnsafeBufferPointer<UInt64>, dimensions: Int,
                       count: Int, portable: Bool = false) -> [Int8] {
        precondition(packed.count >= count * packedBytes(dimensions) && sketches.count >= count * ((dimensions + 63) / 64))
        return [Int8](unsafeUninitializedCapacity: count * dimensions) { out, initialized in
            if portable {
                insight_unpack_i8_portable(packed.baseAddress, sketches.baseAddress, dimensions, count, out.baseAddress)
            } else {
                insight_unpack_i8(packed.baseAddress, sketches.baseAddress, dimensions, count, out.baseAddress)
            }
            initialized = count * dimensions
        }
    }

    /// Adds the vector for `id`, or replaces it. A value of −128 (int8 quantisation makes none) is held as −127.
    public func upsert(id: Int64, _ v: QuantizedVector) {
        precondition(v.values.count == dimensions, "vector of \(v.values.count) values in an index of \(dimensions)")
        let sketch = Self.sketch(v.values)
        let row = Self.pack(v.values)
        writing {
            let slot = firstSlot(notBelow: id)
            if slot < ids.count, ids[slot] == id {
                scales[slot] = v.scale
                packed.replaceSubrange((slot * rowBytes)..<((slot + 1) * rowBytes), with: row)
                sketches.replaceSubrange((slot * sketchWords)..<((slot + 1) * sketchWords), with: sketch)
            } else if slot == ids.count {
                ids.append(id)
                scales.append(v.scale)
                packed.append(contentsOf: row)
                sketches.append(contentsOf: sketch)
            } else {
                ids.insert(id, at: slot)
                scales.insert(v.scale, at: slot)
                packed.insert(contentsOf: row, at: slot * rowBytes)
                sketches.insert(contentsOf: sketch, at: slot * sketchWords)
            }
        }
    }

    /// Removes the vector for `id` if there is one.
    public func remove(id: Int64) {
        writing {
            let slot = firstSlot(notBelow: id)
            guard slot < ids.count, ids[slot] == id else { return }
            ids.remove(at: slot)
            scales.remove(at: slot)
            packed.removeSubrange((slot * rowBytes)..<((slot + 1) * rowBytes))
            sketches.removeSubrange((slot * sketchWords)..<((slot + 1) * sketchWords))
        }
    }

    public var count: Int { reading { ids.count } }

    /// Whether `id` has a vector.
    public func contains(id: Int64) -> Bool {
        reading {
            let slot = firstSlot(notBelow: id)
            return slot < ids.count && ids[slot] == id
        }
    }

    /// The vector held for `id`, as int8 values and scale (unpacked from the magnitudes and the sketch).
    public func vector(id: Int64) -> QuantizedVector? {
        reading {
            let slot = firstSlot(notBelow: id)
            guard slot < ids.count, ids[slot] == id else { return nil }
            return QuantizedVector(scale: scales[slot], values: row(slot))
        }
    }

    /// The int8 values of `slot` (under the lock).
    private func row(_ slot: Int) -> [Int8] {
        packed.withUnsafeBufferPointer { packed in
            sketches.withUnsafeBufferPointer { sketches in
                Self.unpack(UnsafeBufferPointer(rebasing: packed[(slot * rowBytes)..<((slot + 1) * rowBytes)]),
                            sketches: UnsafeBufferPointer(rebasing: sketches[(slot * sketchWords)..<((slot + 1) * sketchWords)]),
                            dimensions: dimensions, count: 1)
            }
        }
    }

    /// Bytes the index holds per vector (packed magnitudes, scale, id, sign sketch), for reporting.
    public var bytesPerVector: Int {
        rowBytes + MemoryLayout<Float>.size + MemoryLayout<Int64>.size + sketchWords * MemoryLayout<UInt64>.size
    }

    private func firstSlot(notBelow id: Int64) -> Int {
        if let last = ids.last, last < id { return ids.count }
        var low = 0, high = ids.count
        while low < high {
            let mid = (low + high) / 2
            if ids[mid] < id { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The `limit` vectors most similar to `query` (cosine), best first, leaving out `excluding`.
    /// Candidates are chosen by int8 dot products (over every vector, or, in a large index, over the slots whose
    /// sign sketches are closest to the query's), then scored again with the float query, so the order and
    /// the scores are the exact cosines with the stored (dequantised) vectors.
    /// - Parameter exhaustive: scan every int8 vector whatever the index size (the reference the sketch pass
    ///   is measured against).
    public func nearest(to query: [Float], limit: Int, excluding: Set<Int64> = [], exhaustive: Bool = false) -> [(id: Int64, score: Float)] {
        precondition(query.count == dimensions, "query of \(query.count) values in an index of \(dimensions)")
        guard limit > 0 else { return [] }
        var norm: Float = 0
        for x in query { norm += x * x }
        guard norm > 0 else { return [] }
        let unit = query.map { $0 / norm.squareRoot() }
        let q = QuantizedVector(unit)
        let wide = q.values.map { Int16($0) }
        let querySketch = Self.sketch(q.values)
        return reading { () -> [(id: Int64, score: Float)] in
            let k = limit + excluding.count + 16
            let count = ids.count
            let shortlist = k * oversampling
            let candidates = packed.withUnsafeBufferPointer { packed in
                sketches.withUnsafeBufferPointer { sketches in
                    scales.withUnsafeBufferPointer { scales in
                        let rows = Scan.Rows(packed: packed, sketches: sketches, scales: scales, dimensions: dimensions,
                                             rowBytes: rowBytes, words: sketchWords)
                        if exhaustive || count < exactScanBelow || shortlist >= count / 2 {
                            let parts = min(scanThreads, max(1, count / vectorsPerExtraThread))
                            return Scan.topInParallel(k, parts: parts, query: wide, rows: rows, count: count)
                        }
                        let parts = min(scanThreads, max(1, count / sketchesPerExtraThread))
                        let slots = Self.closestSketches(shortlist, parts: parts, query: querySketch, sketches: sketches,
                                                         words: sketchWords, count: count).slots
                        return Scan.top(k, of: slots, query: wide, rows: rows)
                    }
                }
            }
            var scored: [(id: Int64, score: Float)] = []
            scored.reserveCapacity(candidates.count)
            for slot in candidates where !excluding.contains(ids[slot]) {
                scored.append((ids[slot], Scan.exactScore(unit, values: row(slot)) * scales[slot]))
            }
            scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
            return Array(scored.prefix(limit))
        }
    }

    /// The pointer loops of the search.
    private enum Scan {
        /// The `k` highest scores offered, kept in ascending order.
        struct Best {
            let k: Int
            var items: [(score: Float, slot: Int)] = []
            var floor = -Float.infinity

            init(_ k: Int) {
                self.k = k
                items.reserveCapacity(k + 1)
            }

            mutating func offer(_ score: Float, _ slot: Int) {
                if items.count == k && score <= floor { return }
                var at = items.count
                while at > 0 && items[at - 1].score > score { at -= 1 }
                items.insert((score, slot), at: at)
                if items.count > k { items.removeFirst() }
                floor = items[0].score
            }
        }

        /// The packed rows of an index, read under its lock.
        struct Rows {
            let packed: UnsafeBufferPointer<UInt8>
            let sketches: UnsafeBufferPointer<UInt64>
            let scales: UnsafeBufferPointer<Float>
            let dimensions: Int
            let rowBytes: Int
            let words: Int

            /// Unpacks rows `first..<first + count` into `out` (count × dimensions int8 values).
            func unpack(_ first: Int, _ count: Int, into out: UnsafeMutablePointer<Int8>) {
                insight_unpack_i8(packed.baseAddress! + first * rowBytes, sketches.baseAddress! + first * words, dimensions, count, out)
            }
        }

        /// Rows unpacked at a time by a scan: 32 × 384 bytes stay in the L1 cache between unpacking and the dots.
        static let rowsPerBlock = 32

        /// The `k` best slots of the whole index, each part scanned on its own thread (the first on the caller's).
        static func topInParallel(_ k: Int, parts: Int, query: [Int16], rows: Rows, count: Int) -> [Int] {
            let bounds = (0...parts).map { count * $0 / parts }
            var found = inParallel(parts) { part in
                top(k, query: query, rows: rows, range: bounds[part]..<bounds[part + 1])
            }.flatMap { $0 }
            found.sort { $0.score > $1.score }
            return found.prefix(k).map(\.slot)
        }

        /// The `k` highest approximate scores (int8 dot × scale) in `range`: blocks of rows are unpacked to int8,
        /// then their dot products taken.
        static func top(_ k: Int, query: [Int16], rows: Rows, range: Range<Int>) -> [(score: Float, slot: Int)] {
            var best = Best(k)
            let block = rowsPerBlock
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: block * rows.dimensions) { values in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: block) { dots in
                    query.withUnsafeBufferPointer { q in
                        var first = range.lowerBound
                        while first < range.upperBound {
                            let n = min(block, range.upperBound - first)
                            rows.unpack(first, n, into: values.baseAddress!)
                            insight_dot_i8(q.baseAddress, values.baseAddress, rows.dimensions, n, dots.baseAddress)
                            for j in 0..<n { best.offer(Float(dots[j]) * rows.scales[first + j], first + j) }
                            first += n
                        }
                    }
                }
            }
            return best.items
        }

        /// The `k` highest approximate scores (int8 dot × scale) among `slots`, best first.
        static func top(_ k: Int, of slots: [Int], query: [Int16], rows: Rows) -> [Int] {
            var best = Best(k)
            var dot: Int32 = 0
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: rows.dimensions) { values in
                query.withUnsafeBufferPointer { q in
                    for slot in slots {
                        rows.unpack(slot, 1, into: values.baseAddress!)
                        insight_dot_i8(q.baseAddress, values.baseAddress, rows.dimensions, 1, &dot)
                        best.offer(Float(dot) * rows.scales[slot], slot)
                    }
                }
            }
            return best.items.reversed().map(\.slot)
        }

        static func exactScore(_ query: [Float], values: [Int8]) -> Float {
            var sum: Float = 0
            for i in 0..<values.count { sum += query[i] * Float(values[i]) }
            return sum
        }
    }
}

extension VectorIndex {
    /// The `n` slots below `count` whose sketches (`words` words each) differ from `query` in the fewest bits
    /// (ties: lower slots), ascending, with those distances. Each of `parts` ranges is read on a thread of its own.
    static func closestSketches(_ n: Int, parts: Int, query: [UInt64], sketches: UnsafeBufferPointer<UInt64>,
                                words: Int, count: Int) -> (slots: [Int], distances: [UInt16]) {
        let bounds = (0...parts).map { count * $0 / parts }
        let found = inParallel(parts) { part in
            SketchShortlist(n, query: query, sketches: sketches, words: words, range: bounds[part]..<bounds[part + 1])
        }
        // Every part kept its own best n, so together they hold the best n of all.
        var histogram = found[0].histogram
        for part in found.dropFirst() {
            for (d, c) in part.histogram.enumerated() { histogram[d] += c }
        }
        return select(n, from: found.lazy.flatMap { zip($0.slots.lazy.map(Int.init), $0.distances) }, histogram: histogram)
    }

    /// The first `n` candidates in order of distance, then of position in `candidates` (which is by slot), with
    /// `histogram` counting at least every candidate's distance (more, of slots left out, only after the n-th).
    private static func select<S: Sequence>(_ n: Int, from candidates: S, histogram: [UInt32]) -> (slots: [Int], distances: [UInt16])
    where S.Element == (Int, UInt16) {
        // The largest distance kept, and how many at exactly that distance fit.
        var below = 0, cutoff = 0
        while cutoff < histogram.count - 1 && below + Int(histogram[cutoff]) < n {
            below += Int(histogram[cutoff])
            cutoff += 1
        }
        var atCutoff = n - below
        var slots: [Int] = [], distances: [UInt16] = []
        slots.reserveCapacity(n)
        distances.reserveCapacity(n)
        for (slot, d) in candidates where Int(d) <= cutoff {
            if Int(d) == cutoff {
                guard atCutoff > 0 else { continue }
                atCutoff -= 1
            }
            slots.append(slot)
            distances.append(d)
        }
        return (slots, distances)
    }
}

/// The slots of a range whose sketches are closest to a query's: at least the best `n` (all those at the
/// distance of the n-th, and some beyond it), in slot order, with the histogram of every distance in the range.
/// Distances are computed a block at a time, and the largest distance worth keeping falls as blocks are seen,
/// so nothing of the size of the range is written.
private struct SketchShortlist {
    let slots: [Int32]
    let distances: [UInt16]
    let histogram: [UInt32]

    init(_ n: Int, query: [UInt64], sketches: UnsafeBufferPointer<UInt64>, words: Int, range: Range<Int>) {
        let bins = words * 64 + 1
        var histogram = [UInt32](repeating: 0, count: bins)
        var slots: [Int32] = [], distances: [UInt16] = []
        slots.reserveCapacity(4 * n)
        distances.reserveCapacity(4 * n)
        func prune(to cutoff: Int) {
            var kept = 0
            for i in 0..<slots.count where Int(distances[i]) <= cutoff {
                slots[kept] = slots[i]
                distances[kept] = distances[i]
                kept += 1
            }
            slots.removeLast(slots.count - kept)
            distances.removeLast(distances.count - kept)
        }
        var cutoff = bins - 1  // the largest distance kept: every slot until n have been seen
        var atOrBelow = 0  // slots seen at a distance ≤ cutoff
        var pruneAbove = 3 * n
        let block = 4096
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: block) { blockDistances in
            query.withUnsafeBufferPointer { q in
                var first = range.lowerBound
                while first < range.upperBound {
                    let count = min(block, range.upperBound - first)
                    histogram.withUnsafeMutableBufferPointer { h in
                        insight_hamming(q.baseAddress, sketches.baseAddress! + first * words, words, count,
                                        blockDistances.baseAddress, h.baseAddress)
                    }
                    let limit = UInt16(cutoff)
                    for j in 0..<count where blockDistances[j] <= limit {
                        slots.append(Int32(first + j))
                        distances.append(blockDistances[j])
                        atOrBelow += 1
                    }
                    while cutoff > 0 && atOrBelow - Int(histogram[cutoff]) >= n {
                        atOrBelow -= Int(histogram[cutoff])
                        cutoff -= 1
                    }
                    if slots.count > pruneAbove {
                        prune(to: cutoff)
                        pruneAbove = max(pruneAbove, 2 * slots.count)  // many ties at the cutoff: prune less often
                    }
                    first += count
                }
            }
        }
        prune(to: cutoff)
        self.slots = slots
        self.distances = distances
        self.histogram = histogram
    }
}

/// `work(part)` for each part below `parts`, part 0 on the calling thread and each other on a thread of its own
/// (plain pthreads: no pool, all joined before this returns, so the buffers they read outlive them).
private func inParallel<T>(_ parts: Int, _ work: (Int) -> T) -> [T] {
    withoutActuallyEscaping(work) { work in
        let others = (1..<max(1, parts)).map { part in ScanJob<T> { work(part) } }
        let threads = others.map { $0.start() }
        var results = [work(0)]
        for (job, thread) in zip(others, threads) { results.append(job.join(thread)) }
        return results
    }
}

/// One part of a scan on a thread of its own.
private final class ScanJob<Result>: @unchecked Sendable {
    private let body: () -> Result
    private var result: Result?

    init(_ body: @escaping () -> Result) { self.body = body }

    /// Runs the body on a new thread, or here when no thread can be had (then it returns nil).
    func start() -> pthread_t? {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self as AnyObject).toOpaque()
        let started = pthread_create(&thread, nil, { context in
            (Unmanaged<AnyObject>.fromOpaque(context!).takeRetainedValue() as! Runnable).run()
            return nil
        }, context)
        if started != 0 {
            Unmanaged<AnyObject>.fromOpaque(context).release()
            result = body()
            return nil
        }
        return thread
    }

    func join(_ thread: pthread_t?) -> Result {
        if let thread { pthread_join(thread, nil) }
        return result!
    }
}

private protocol Runnable: AnyObject { func run() }

extension ScanJob: Runnable {
    func run() { result = body() }
}
