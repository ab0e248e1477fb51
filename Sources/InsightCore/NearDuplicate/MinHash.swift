import Foundation

/// Character shingles of a normalized text, as 64-bit hashes.
public struct ShingleSet: Sendable, Hashable {
    /// The 64-bit hashes of the character `k`-grams in text order, repeats included (set operations ignore them).
    public let hashes: [UInt64]

    /// Shingles `normalized` (the output of ``NearDuplicateText/normalize(_:)``) into character `k`-grams.
    /// A text shorter than `k` characters yields one shingle for the whole text (none when empty).
    public init(normalized: String, k: Int = 5) {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(normalized.utf8.count)
        for scalar in normalized.unicodeScalars { scalars.append(scalar.value) }
        self.init(scalars: scalars, k: k)
    }

    /// Shingles normalized tokens as if joined by single spaces.
    public init(tokens: [String], k: Int = 5) {
        self.init(scalars: ShingleSet.scalars(tokens: tokens), k: k)
    }

    init(scalars: [UInt32], k: Int) {
        self.hashes = ShingleSet.rawHashes(scalars: scalars, k: k)
    }

    /// The scalars of the tokens joined by single spaces.
    static func scalars(tokens: [String]) -> [UInt32] {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(tokens.count * 8)
        for (i, token) in tokens.enumerated() {
            if i > 0 { scalars.append(0x20) }
            var word = token
            let ascii = word.withUTF8 { bytes -> Bool in
                for byte in bytes where byte >= 0x80 { return false }
                for byte in bytes { scalars.append(UInt32(byte)) }
                return true
            }
            if !ascii {
                for scalar in token.unicodeScalars { scalars.append(scalar.value) }
            }
        }
        return scalars
    }

    /// One hash per `k`-gram position, unsorted and with repeats (MinHash does not mind either).
    ///
    /// A 5-gram of scalars below U+1000 (Latin, Greek, Cyrillic, Arabic, Indic...) is packed exactly into 60 bits
    /// with a rolling shift; any other 5-gram is FNV-1a hashed and tagged in the top 4 bits so the two kinds never
    /// meet. Either key then goes through the murmur3 finalizer, whose well-mixed bits the MinHash bins use.
    static func rawHashes(scalars: [UInt32], k: Int) -> [UInt64] {
        let k = max(1, k)
        guard !scalars.isEmpty else { return [] }
        if scalars.count <= k { return [hash(scalars[...])] }
        var out = [UInt64]()
        out.reserveCapacity(scalars.count - k + 1)
        let mask: UInt64 = (1 << 60) - 1
        var window: UInt64 = 0
        var lastWide = -1
        for (i, s) in scalars.enumerated() {
            window = ((window << 12) | UInt64(s & 0xFFF)) & mask
            if s >= 0x1000 { lastWide = i }
            guard i >= k - 1 else { continue }
            let start = i - k + 1
            if lastWide >= start || k > 5 {
                out.append(hash(scalars[start...i]))
            } else {
                out.append(fmix64(window))
            }
        }
        return out
    }

    /// The hash of one shingle (see ``rawHashes(scalars:k:)``).
    static func hash(_ scalars: ArraySlice<UInt32>) -> UInt64 {
        if scalars.count <= 5 && scalars.allSatisfy({ $0 < 0x1000 }) {
            var key: UInt64 = 0
            for s in scalars { key = (key << 12) | UInt64(s) }
            return fmix64(key)
        }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for s in scalars {
            h = (h ^ UInt64(s)) &* 0x0000_0100_0000_01b3
        }
        return fmix64(h | 0xF000_0000_0000_0000)
    }

    @inline(__always)
    static func fmix64(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k = k &* 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k = k &* 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }

    /// Exact Jaccard similarity |A ∩ B| / |A ∪ B| of the two sets of shingles (1 when both are empty).
    ///
    /// One small open-addressing table instead of sorting: a few hundred inserts and probes, no comparisons sort.
    public func jaccard(_ other: ShingleSet) -> Double {
        let a = hashes, b = other.hashes
        if a.isEmpty && b.isEmpty { return 1 }
        if a.isEmpty || b.isEmpty { return 0 }
        var capacity = 16
        while capacity < 2 * (a.count + b.count) { capacity <<= 1 }
        let mask = capacity - 1
        var keys = [UInt64](repeating: 0, count: capacity)
        // 0 empty, 1 seen in A, 2 seen in B only, 3 seen in both.
        var marks = [UInt8](repeating: 0, count: capacity)
        var uniqueA = 0, onlyB = 0, common = 0
        for h in a {
            var i = Int(truncatingIfNeeded: h) & mask
            while marks[i] != 0 && keys[i] != h { i = (i + 1) & mask }
            if marks[i] == 0 {
                keys[i] = h
                marks[i] = 1
                uniqueA += 1
            }
        }
        for h in b {
            var i = Int(truncatingIfNeeded: h) & mask
            while marks[i] != 0 && keys[i] != h { i = (i + 1) & mask }
            switch marks[i] {
            case 0: keys[i] = h; marks[i] = 2; onlyB += 1
            case 1: marks[i] = 3; common += 1
            default: break
            }
        }
        return Double(common) / Double(uniqueA + onlyB)
    }
}

/// A MinHash signature: for each of `count` hash permutations, the minimum permuted shingle hash.
///
/// The fraction of equal positions in two signatures estimates the Jaccard similarity of their shingle sets.
/// Signatures are deterministic across runs and machines (fixed seeds, explicit little-endian bytes), so a store can
/// persist them and rebuild an index later.
public struct MinHashSignature: Sendable, Hashable, Codable {
    /// Number of permutations used by default.
    public static let defaultCount = 128

    /// The minimum of each permutation, `values.count` entries.
    public let values: [UInt64]

    /// Wraps stored values.
    public init(values: [UInt64]) {
        self.values = values
    }

    /// Computes the signature of a shingle set: one-permutation MinHash with optimal densification.
    ///
    /// Each shingle hash (already a finalized 64-bit hash, i.e. a random permutation of the shingle space) falls
    /// into one of `count` bins by its top bits and the bin keeps its minimum: `count` minima for the price of one
    /// hash per shingle, where `count` independent permutations (two multiply-xor mixes each) cost 128 × more and
    /// measured ~25 µs per paragraph, the whole time budget of a lookup. Empty bins (short texts) borrow the
    /// minimum of a non-empty bin chosen by a fixed hash of (bin, attempt), as in Shrivastava's optimal
    /// densification (ICML 2017), which keeps P[equal bin] = Jaccard for the LSH bands.
    public init(shingles: ShingleSet, count: Int = MinHashSignature.defaultCount) {
        self.init(shingleHashes: shingles.hashes, count: count)
    }

    /// Computes the signature of normalized tokens without sorting their shingles (the lookup path).
    public init(tokens: [String], count: Int = MinHashSignature.defaultCount) {
        self.init(shingleHashes: ShingleSet.rawHashes(scalars: ShingleSet.scalars(tokens: tokens), k: 5), count: count)
    }

    /// Signature of shingle hashes in any order, repeats allowed.
    init(shingleHashes: [UInt64], count: Int) {
        let bins = max(1, count)
        var minima = [UInt64](repeating: .max, count: bins)
        var filled = [Bool](repeating: false, count: bins)
        let binCount = UInt64(bins)
        for h in shingleHashes {
            // Multiply-shift takes the bin from the high bits; the rest of the hash orders the bin.
            let bin = Int(h.multipliedFullWidth(by: binCount).high)
            if h < minima[bin] { minima[bin] = h }
            filled[bin] = true
        }
        if shingleHashes.isEmpty {
            self.values = minima
            return
        }
        var densified = minima
        for bin in 0..<bins where !filled[bin] {
            var attempt: UInt64 = 0
            while attempt < 4096 {
                let probe = ShingleSet.fmix64(UInt64(bin) << 32 ^ attempt ^ 0xD5A6_1266_F0C9_392C)
                let source = Int(probe.multipliedFullWidth(by: binCount).high)
                if filled[source] {
                    densified[bin] = minima[source]
                    break
                }
                attempt += 1
            }
            if attempt == 4096, let source = (1..<bins).lazy.map({ (bin + $0) % bins }).first(where: { filled[$0] }) {
                // Practically unreachable (one filled bin in 128 is found in ~128 attempts); keeps the loop bounded.
                densified[bin] = minima[source]
            }
        }
        self.values = densified
    }

    /// Computes the signature of a raw text: normalize, shingle (5-grams), sign.
    public init(text: String, count: Int = MinHashSignature.defaultCount) {
        self.init(tokens: NearDuplicateText.tokens(text), count: count)
    }

    /// The signature as `8 × count` little-endian bytes, for a BLOB column.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * 8)
        for value in values {
            var v = value.littleEndian
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
        }
        return out
    }

    /// Reads a signature written by ``bytes``.
    /// - Throws: ``NearDuplicateError`` with code `.badSignatureBytes` when the length is not a multiple of 8 or is 0.
    public init(bytes: [UInt8]) throws {
        guard !bytes.isEmpty, bytes.count % 8 == 0 else {
            throw NearDuplicateError(
                code: .badSignatureBytes,
                message: "A MinHash signature blob must be a non-empty multiple of 8 bytes, got \(bytes.count); "
                    + "recompute the signature from the insight text.")
        }
        var values = [UInt64]()
        values.reserveCapacity(bytes.count / 8)
        var i = 0
        while i < bytes.count {
            var v: UInt64 = 0
            for b in 0..<8 { v |= UInt64(bytes[i + b]) << (8 * UInt64(b)) }
            values.append(v)
            i += 8
        }
        self.values = values
    }

    /// Fraction of equal positions: an unbiased estimate of the Jaccard similarity.
    public func estimatedJaccard(_ other: MinHashSignature) -> Double {
        let n = min(values.count, other.values.count)
        guard n > 0 else { return 0 }
        var equal = 0
        for i in 0..<n where values[i] == other.values[i] { equal += 1 }
        return Double(equal) / Double(n)
    }
}

/// SplitMix64: a tiny deterministic generator for fixed parameters and reproducible test data.
public struct SplitMix64: Sendable, RandomNumberGenerator {
    private var state: UInt64

    /// Starts the sequence at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64-bit value.
    public mutating func next() -> UInt64 { SplitMix64.next(&state) }

    @inline(__always)
    static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An error of the near-duplicate component.
public struct NearDuplicateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Equatable {
        /// A persisted signature blob has the wrong length.
        case badSignatureBytes
        /// A signature or band-key list does not fit the index's band layout.
        case signatureSizeMismatch
        /// The index cannot hold more entries.
        case indexFull
    }

    /// What went wrong.
    public let code: Code
    /// What happened and what to do next.
    public let message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
