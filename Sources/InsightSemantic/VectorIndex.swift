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

/// Int8-quantised brute-force nearest-neighbour index (SIMD dot products), for up to ~1M vectors.
/// Slots are kept sorted by id so an id is found by binary search with no extra table: 384 value bytes,
/// a 4-byte scale and an 8-byte id per vector. Appending increasing ids (the usual order) is O(1);
/// an id below the largest, or a removal, moves the slots after it.
/// Internally locked: readers run concurrently with each other, writers exclusively.
public final class VectorIndex: @unchecked Sendable {
    public let dimensions: Int
    private var ids: [Int64] = []
    private var scales: [Float] = []
    private var values: [Int8] = []
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>

    /// Threads a search over a large index splits its scan across (the calling thread is one of them).
    public let scanThreads: Int
    /// Below this many vectors a search stays on the calling thread: starting a thread would cost more.
    private let vectorsPerExtraThread = 100_000

    /// - Parameter scanThreads: threads for a search over a large index; default: up to 2, as cores allow.
    ///   The scan reads every vector (384 MB at 1M), so a second core helps when one cannot use all the
    ///   memory bandwidth.
    public init(dimensions: Int, scanThreads: Int? = nil) {
        precondition(dimensions > 0)
        self.dimensions = dimensions
        self.scanThreads = max(1, scanThreads ?? min(2, ProcessInfo.processInfo.activeProcessorCount))
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
            values.reserveCapacity(count * dimensions)
        }
    }

    /// Adds the vector for `id`, or replaces it.
    public func upsert(id: Int64, _ v: QuantizedVector) {
        precondition(v.values.count == dimensions, "vector of \(v.values.count) values in an index of \(dimensions)")
        writing {
            let slot = firstSlot(notBelow: id)
            if slot < ids.count, ids[slot] == id {
                scales[slot] = v.scale
                values.replaceSubrange((slot * dimensions)..<((slot + 1) * dimensions), with: v.values)
            } else if slot == ids.count {
                ids.append(id)
                scales.append(v.scale)
                values.append(contentsOf: v.values)
            } else {
                ids.insert(id, at: slot)
                scales.insert(v.scale, at: slot)
                values.insert(contentsOf: v.values, at: slot * dimensions)
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
            values.removeSubrange((slot * dimensions)..<((slot + 1) * dimensions))
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

    /// Bytes the index holds per vector (values, scale, id), for reporting.
    public var bytesPerVector: Int { dimensions + MemoryLayout<Float>.size + MemoryLayout<Int64>.size }

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
    /// The scan compares int8 with int8; the best candidates are then scored again with the float query, so
    /// the order is the exact cosine with the stored (dequantised) vectors.
    public func nearest(to query: [Float], limit: Int, excluding: Set<Int64> = []) -> [(id: Int64, score: Float)] {
        precondition(query.count == dimensions, "query of \(query.count) values in an index of \(dimensions)")
        guard limit > 0 else { return [] }
        var norm: Float = 0
        for x in query { norm += x * x }
        guard norm > 0 else { return [] }
        let unit = query.map { $0 / norm.squareRoot() }
        let q = QuantizedVector(unit)
        return reading { () -> [(id: Int64, score: Float)] in
            let k = limit + excluding.count + 16
            let parts = min(scanThreads, max(1, ids.count / vectorsPerExtraThread))
            let candidates = values.withUnsafeBufferPointer { all in
                scales.withUnsafeBufferPointer { scales in
                    Scan.topInParallel(k, parts: parts, query: q.values, values: all, scales: scales, count: ids.count, dimensions: dimensions)
                }
            }
            var scored: [(id: Int64, score: Float)] = []
            scored.reserveCapacity(candidates.count)
            for slot in candidates where !excluding.contains(ids[slot]) {
                scored.append((ids[slot], Scan.exactScore(unit, values: values, slot: slot, dimensions: dimensions) * scales[slot]))
            }
            scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
            return Array(scored.prefix(limit))
        }
    }

    /// The pointer loops of the search.
    private enum Scan {
        /// The `k` best slots of the whole index, each part scanned on its own thread (the first on the caller's).
        static func topInParallel(_ k: Int, parts: Int, query: [Int8], values: UnsafeBufferPointer<Int8>,
                                  scales: UnsafeBufferPointer<Float>, count: Int, dimensions: Int) -> [Int] {
            let wide = query.map { Int16($0) }
            let bounds = (0...parts).map { count * $0 / parts }
            let jobs = (1..<parts).map { part in
                ScanJob { top(k, query: wide, values: values, scales: scales, range: bounds[part]..<bounds[part + 1], dimensions: dimensions) }
            }
            let threads = jobs.map { $0.start() }
            var found = top(k, query: wide, values: values, scales: scales, range: bounds[0]..<bounds[1], dimensions: dimensions)
            for (job, thread) in zip(jobs, threads) {
                found.append(contentsOf: job.join(thread))
            }
            found.sort { $0.score > $1.score }
            return found.prefix(k).map(\.slot)
        }

        /// The `k` highest approximate scores (int8 dot × scale) in `range`, scanned in blocks of dot products.
        static func top(_ k: Int, query: [Int16], values: UnsafeBufferPointer<Int8>, scales: UnsafeBufferPointer<Float>,
                        range: Range<Int>, dimensions: Int) -> [(score: Float, slot: Int)] {
            var best: [(score: Float, slot: Int)] = []  // ascending, at most k
            best.reserveCapacity(k + 1)
            var floor = -Float.infinity
            let block = 1024
            var dots = [Int32](repeating: 0, count: block)
            query.withUnsafeBufferPointer { q in
                dots.withUnsafeMutableBufferPointer { dots in
                    var first = range.lowerBound
                    while first < range.upperBound {
                        let n = min(block, range.upperBound - first)
                        insight_dot_i8(q.baseAddress, values.baseAddress! + first * dimensions, dimensions, n, dots.baseAddress)
                        for j in 0..<n {
                            let score = Float(dots[j]) * scales[first + j]
                            if best.count == k && score <= floor { continue }
                            var at = best.count
                            while at > 0 && best[at - 1].score > score { at -= 1 }
                            best.insert((score, first + j), at: at)
                            if best.count > k { best.removeFirst() }
                            floor = best[0].score
                        }
                        first += n
                    }
                }
            }
            return best
        }

        static func exactScore(_ query: [Float], values: [Int8], slot: Int, dimensions: Int) -> Float {
            var sum: Float = 0
            let base = slot * dimensions
            for i in 0..<dimensions { sum += query[i] * Float(values[base + i]) }
            return sum
        }
    }
}

/// One part of a scan on a thread of its own (a plain pthread: no pool, joined before the search returns,
/// so the buffers it reads outlive it).
private final class ScanJob: @unchecked Sendable {
    private let body: () -> [(score: Float, slot: Int)]
    private var result: [(score: Float, slot: Int)] = []

    init(_ body: @escaping () -> [(score: Float, slot: Int)]) { self.body = body }

    func start() -> pthread_t? {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let started = pthread_create(&thread, nil, { context in
            let job = Unmanaged<ScanJob>.fromOpaque(context!).takeRetainedValue()
            job.result = job.body()
            return nil
        }, context)
        if started != 0 {
            Unmanaged<ScanJob>.fromOpaque(context).release()
            result = body()  // no thread to be had: scan here
            return nil
        }
        return thread
    }

    func join(_ thread: pthread_t?) -> [(score: Float, slot: Int)] {
        if let thread { pthread_join(thread, nil) }
        return result
    }
}
