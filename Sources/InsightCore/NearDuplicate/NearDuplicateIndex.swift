import Foundation

/// How a MinHash signature is cut into LSH bands.
///
/// Two texts become candidates when all `rows` values of at least one band agree. With Jaccard similarity `s`
/// that happens with probability `1 - (1 - s^rows)^bands`. The default 20 × 6 (120 of the 128 values) puts the
/// S-curve's midpoint near (1/20)^(1/6) ≈ 0.61:
///
/// | s    | 0.3   | 0.5  | 0.6  | 0.7  | 0.8   | 0.9  |
/// |------|-------|------|------|------|-------|------|
/// | P    | 0.015 | 0.27 | 0.62 | 0.92 | 0.998 | 1.0  |
///
/// Same-claim variants of a paragraph (a typo or two, a dropped word) sit at s ≥ 0.8 even for short statements,
/// so they are found almost surely, while unrelated paragraphs (s ≈ 0.05–0.3) rarely cost a verification. More
/// rows would sharpen the curve but lose short-text variants near s ≈ 0.7; more bands would add memory
/// (one 8-byte slot per band per entry) for little recall, since the verifier, not LSH, decides.
public struct LSHLayout: Sendable, Hashable, Codable {
    /// Number of bands, each one hash-table key per entry.
    public var bands: Int
    /// Signature values per band.
    public var rows: Int

    /// 20 bands of 6 rows over a 128-value signature.
    public static let standard = LSHLayout(bands: 20, rows: 6)

    /// Creates a layout; `bands * rows` must not exceed the signature length used with it.
    public init(bands: Int, rows: Int) {
        self.bands = max(1, bands)
        self.rows = max(1, rows)
    }

    /// Probability that two texts with Jaccard similarity `s` share at least one band.
    public func candidateProbability(jaccard s: Double) -> Double {
        1 - pow(1 - pow(s, Double(rows)), Double(bands))
    }
}

/// An LSH index over MinHash signatures: answers "which stored insights may be near this one" without a scan.
///
/// Memory is one flat open-addressing table of 8-byte slots (32-bit band key, 32-bit entry number) with linear
/// probing, plus 8 bytes per entry for its `Int64` id: about 20 × 8 / 0.8 + 8 ≈ 210 bytes per insight with the
/// standard layout, ~210 MB for a million. Signatures themselves are not kept: a store persists them (or the
/// band keys, 4 bytes per band) and rebuilds the index at start with ``reserveCapacity(_:)`` and
/// ``insert(id:bandKeys:)``.
///
/// A 32-bit band key can collide by chance: with a million insights a query meets about 20 × 20M / 2³² ≈ 0.1
/// unrelated entries that way. Candidates are therefore hints that a verifier confirms, never verdicts.
public struct NearDuplicateIndex: Sendable {
    /// A stored id that shares at least one band with the query.
    public struct Candidate: Sendable, Hashable {
        /// The id given to ``NearDuplicateIndex/insert(id:signature:)``.
        public let id: Int64
        /// How many bands agree: a rough similarity that orders verification.
        public let matchedBands: Int
    }

    /// The band layout.
    public let layout: LSHLayout
    /// Number of stored entries.
    public private(set) var count = 0

    /// Slot = key << 32 | (entry + 1); 0 marks an empty slot.
    private var slots: [UInt64]
    private var usedSlots = 0
    /// Entry number -> id; `Int64.min` marks a free entry.
    private var ids: [Int64] = []
    private var freeEntries: [UInt32] = []

    /// Fill factor at which the table grows; linear probing stays short below it.
    static let maxLoad = 0.8

    /// Creates an empty index.
    public init(layout: LSHLayout = .standard, expectedCount: Int = 0) {
        self.layout = layout
        self.slots = []
        reserveCapacity(expectedCount)
    }

    // MARK: Band keys

    /// The per-band keys of `signature` (one `UInt32` per band), suitable for persisting next to an insight.
    /// - Throws: `.signatureSizeMismatch` when the signature is shorter than `bands × rows`.
    public func bandKeys(for signature: MinHashSignature) throws -> [UInt32] {
        try NearDuplicateIndex.bandKeys(for: signature, layout: layout)
    }

    /// The per-band keys of `signature` under `layout`.
    public static func bandKeys(for signature: MinHashSignature, layout: LSHLayout) throws -> [UInt32] {
        let values = signature.values
        guard values.count >= layout.bands * layout.rows else {
            throw NearDuplicateError(
                code: .signatureSizeMismatch,
                message: "The signature has \(values.count) values but the LSH layout needs "
                    + "\(layout.bands) × \(layout.rows); compute signatures with at least that many permutations.")
        }
        var keys = [UInt32]()
        keys.reserveCapacity(layout.bands)
        for band in 0..<layout.bands {
            // The band number is mixed in so that equal values in different bands do not meet in the one table.
            var h = UInt64(band) &* 0x9E37_79B9_7F4A_7C15 ^ 0x5851_F42D_4C95_7F2D
            for row in 0..<layout.rows {
                h = ShingleSet.fmix64(h ^ values[band * layout.rows + row]) &+ UInt64(row)
            }
            keys.append(UInt32(truncatingIfNeeded: ShingleSet.fmix64(h) >> 32))
        }
        return keys
    }

    // MARK: Mutation

    /// Makes room for `entryCount` entries without rehashing (use before a bulk rebuild).
    public mutating func reserveCapacity(_ entryCount: Int) {
        let needed = Int(Double(max(entryCount, count) * layout.bands) / NearDuplicateIndex.maxLoad) + 1
        if needed > slots.count { rehash(capacity: max(needed, 64)) }
        ids.reserveCapacity(entryCount)
    }

    /// Stores `id` under the bands of `signature`. An id must not be stored twice without ``remove(id:signature:)``.
    public mutating func insert(id: Int64, signature: MinHashSignature) throws {
        try insert(id: id, bandKeys: bandKeys(for: signature))
    }

    /// Stores `id` under persisted band keys (from ``bandKeys(for:)``).
    public mutating func insert(id: Int64, bandKeys: [UInt32]) throws {
        // No keys at all: a text that is not compared for near duplicates (`NearDuplicateText.isComparable`); it is
        // never anyone's candidate.
        if bandKeys.isEmpty { return }
        guard bandKeys.count == layout.bands else {
            throw NearDuplicateError(
                code: .signatureSizeMismatch,
                message: "Got \(bandKeys.count) band keys for a \(layout.bands)-band index; recompute them from the "
                    + "signature with this index's layout.")
        }
        let entry: UInt32
        if let free = freeEntries.popLast() {
            entry = free
            ids[Int(free)] = id
        } else {
            guard ids.count < Int(UInt32.max) - 1 else {
                throw NearDuplicateError(
                    code: .indexFull,
                    message: "The near-duplicate index holds \(ids.count) entries, its maximum; remove old entries first.")
            }
            entry = UInt32(ids.count)
            ids.append(id)
        }
        if Double(usedSlots + bandKeys.count) > Double(slots.count) * NearDuplicateIndex.maxLoad {
            rehash(capacity: max(64, slots.count + slots.count / 2, Int(Double(usedSlots + bandKeys.count) / NearDuplicateIndex.maxLoad) + 1))
        }
        var placed = 0
        for key in bandKeys where NearDuplicateIndex.placeUnlessCrowded(UInt64(key) << 32 | UInt64(entry + 1), in: &slots) {
            placed += 1
        }
        usedSlots += placed
        count += 1
    }

    /// A band key shared by this many stored texts is the common part of a template ("Observation N shows…"),
    /// not evidence of a near duplicate: further texts are not filed under it. Real near duplicates share many
    /// bands and are still found through the others; without the cap, lookups and inserts in such a bucket
    /// grow with the number of stored texts.
    static let maxEntriesPerBandKey = 48

    /// Places `slot` at the end of its probe run unless its key already has `maxEntriesPerBandKey` entries.
    @inline(__always)
    static func placeUnlessCrowded(_ slot: UInt64, in table: inout [UInt64]) -> Bool {
        let capacity = table.count
        let key = UInt32(slot >> 32)
        var position = home(key, capacity: capacity)
        var sameKey = 0
        while table[position] != 0 {
            if UInt32(table[position] >> 32) == key {
                sameKey += 1
                if sameKey >= maxEntriesPerBandKey { return false }
            }
            position = position + 1 == capacity ? 0 : position + 1
        }
        table[position] = slot
        return true
    }

    /// Removes `id`, stored with `signature`. Returns whether it was found.
    @discardableResult
    public mutating func remove(id: Int64, signature: MinHashSignature) throws -> Bool {
        try remove(id: id, bandKeys: bandKeys(for: signature))
    }

    /// Removes `id`, stored with `bandKeys`. Returns whether it was found.
    @discardableResult
    public mutating func remove(id: Int64, bandKeys: [UInt32]) -> Bool {
        guard !slots.isEmpty else { return false }
        var entry: UInt32?
        for key in bandKeys {
            var position = NearDuplicateIndex.home(key, capacity: slots.count)
            while slots[position] != 0 {
                let slot = slots[position]
                if UInt32(slot >> 32) == key {
                    let e = UInt32(truncatingIfNeeded: slot) - 1
                    if ids[Int(e)] == id && (entry == nil || entry == e) {
                        entry = e
                        deleteSlot(at: position)
                        usedSlots -= 1
                        break
                    }
                }
                position = position + 1 == slots.count ? 0 : position + 1
            }
        }
        guard let found = entry else { return false }
        ids[Int(found)] = .min
        freeEntries.append(found)
        count -= 1
        return true
    }

    // MARK: Query

    /// Stored ids sharing at least one band with `signature`, most matched bands first.
    public func candidates(for signature: MinHashSignature) throws -> [Candidate] {
        candidates(forBandKeys: try bandKeys(for: signature))
    }

    /// Stored ids sharing at least one of `bandKeys`, most matched bands first.
    public func candidates(forBandKeys bandKeys: [UInt32]) -> [Candidate] {
        guard !slots.isEmpty, count > 0 else { return [] }
        var hits: [UInt32] = []
        let capacity = slots.count
        slots.withUnsafeBufferPointer { table in
            // First touch every band's home slot with independent loads, so the cache misses of a large table
            // overlap instead of queueing behind each probe loop's branches.
            var firstSlots = [UInt64](repeating: 0, count: bandKeys.count)
            for (band, key) in bandKeys.enumerated() {
                firstSlots[band] = table[NearDuplicateIndex.home(key, capacity: capacity)]
            }
            for (band, key) in bandKeys.enumerated() where firstSlots[band] != 0 {
                var position = NearDuplicateIndex.home(key, capacity: capacity)
                while true {
                    let slot = table[position]
                    if slot == 0 { break }
                    if UInt32(slot >> 32) == key { hits.append(UInt32(truncatingIfNeeded: slot) - 1) }
                    position = position + 1 == capacity ? 0 : position + 1
                }
            }
        }
        if hits.isEmpty { return [] }
        hits.sort()
        var result: [Candidate] = []
        var i = 0
        while i < hits.count {
            var j = i + 1
            while j < hits.count && hits[j] == hits[i] { j += 1 }
            result.append(Candidate(id: ids[Int(hits[i])], matchedBands: j - i))
            i = j
        }
        result.sort { $0.matchedBands != $1.matchedBands ? $0.matchedBands > $1.matchedBands : $0.id < $1.id }
        return result
    }

    /// Bytes held by the table and the id array (capacity, not just use).
    public var memoryBytes: Int {
        slots.capacity * 8 + ids.capacity * 8 + freeEntries.capacity * 4
    }

    /// Number of slots in the table.
    public var slotCapacity: Int { slots.count }

    // MARK: Table internals

    /// Multiply-shift range reduction: any capacity works, so the table can sit near its target load.
    @inline(__always)
    static func home(_ key: UInt32, capacity: Int) -> Int {
        Int((UInt64(key) &* UInt64(capacity)) >> 32)
    }

    @inline(__always)
    static func place(_ slot: UInt64, in table: inout [UInt64]) {
        let capacity = table.count
        var position = home(UInt32(slot >> 32), capacity: capacity)
        while table[position] != 0 {
            position = position + 1 == capacity ? 0 : position + 1
        }
        table[position] = slot
    }

    private mutating func rehash(capacity: Int) {
        var table = [UInt64](repeating: 0, count: capacity)
        for slot in slots where slot != 0 {
            NearDuplicateIndex.place(slot, in: &table)
        }
        slots = table
    }

    /// Backward-shift deletion keeps probe sequences intact without tombstones.
    private mutating func deleteSlot(at start: Int) {
        let capacity = slots.count
        var hole = start
        var position = start
        while true {
            position = position + 1 == capacity ? 0 : position + 1
            let slot = slots[position]
            if slot == 0 { break }
            let home = NearDuplicateIndex.home(UInt32(slot >> 32), capacity: capacity)
            // The slot may move into the hole when its home is not cyclically inside (hole, position].
            let distanceToHome = (position - home + capacity) % capacity
            let distanceToHole = (position - hole + capacity) % capacity
            if distanceToHome >= distanceToHole {
                slots[hole] = slot
                hole = position
            }
        }
        slots[hole] = 0
    }
}
