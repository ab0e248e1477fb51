import Foundation

/// Character shingles of a normalized text, as a sorted set of 64-bit hashes.
public struct ShingleSet: Sendable, Hashable {
    /// Sorted, unique 64-bit hashes of the character `k`-grams.
    public let hashes: [UInt64]

    /// Shingles `normalized` (the output of ``NearDuplicateText/normalize(_:)``) into character `k`-grams.
    /// A text shorter than `k` characters yields one shingle for the whole text (none when empty).
    public init(normalized: String, k: Int = 5) {
        let k = max(1, k)
        var scalars: [UInt32] = []
        scalars.reserveCapacity(normalized.utf8.count)
        for scalar in normalized.unicodeScalars { scalars.append(scalar.value) }
        var hashes: [UInt64] = []
        if scalars.isEmpty {
            self.hashes = []
            return
        }
        if scalars.count <= k {
            hashes.append(ShingleSet.hash(scalars[...]))
        } else {
            hashes.reserveCapacity(scalars.count - k + 1)
            for start in 0...(scalars.count - k) {
                hashes.append(ShingleSet.hash(scalars[start..<(start + k)]))
            }
        }
        hashes.sort()
        var unique: [UInt64] = []
        unique.reserveCapacity(hashes.count)
        for h in hashes where unique.last != h { unique.append(h) }
        self.hashes = unique
    }

    /// FNV-1a over the scalar values followed by a murmur3 finalizer: cheap, and the finalizer gives the
    /// well-mixed high bits that the MinHash permutations compare on.
    @inline(__always)
    static func hash(_ scalars: ArraySlice<UInt32>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for s in scalars {
            h = (h ^ UInt64(s)) &* 0x0000_0100_0000_01b3
        }
        return fmix64(h)
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

    /// Exact Jaccard similarity |A ∩ B| / |A ∪ B| of two shingle sets (1 when both are empty).
    public func jaccard(_ other: ShingleSet) -> Double {
        let a = hashes, b = other.hashes
        if a.isEmpty && b.isEmpty { return 1 }
        var i = 0, j = 0, common = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] {
                common += 1; i += 1; j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return Double(common) / Double(a.count + b.count - common)
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

    /// Computes the signature of a shingle set with `count` permutations.
    ///
    /// Each permutation is `(h ^ a_i) &* m_i` with an odd multiplier: a bijection on 64-bit words that costs two
    /// instructions, so 128 of them over a few hundred shingles stay within a few microseconds. The shingle hash `h`
    /// is already finalized, so the xor/multiply mix only needs to reorder, not to randomize.
    public init(shingles: ShingleSet, count: Int = MinHashSignature.defaultCount) {
        let parameters = MinHashPermutations.shared(count: count)
        var minima = [UInt64](repeating: .max, count: parameters.xors.count)
        let xors = parameters.xors, multipliers = parameters.multipliers
        MinHashSignature.accumulate(shingles.hashes, xors: xors, multipliers: multipliers, into: &minima)
        self.values = minima
    }

    /// Computes the signature of a raw text: normalize, shingle (5-grams), sign.
    public init(text: String, count: Int = MinHashSignature.defaultCount) {
        self.init(shingles: ShingleSet(normalized: NearDuplicateText.normalize(text)), count: count)
    }

    @inline(__always)
    static func accumulate(_ hashes: [UInt64], xors: [UInt64], multipliers: [UInt64], into minima: inout [UInt64]) {
        let n = minima.count
        minima.withUnsafeMutableBufferPointer { out in
            xors.withUnsafeBufferPointer { x in
                multipliers.withUnsafeBufferPointer { m in
                    for h in hashes {
                        for i in 0..<n {
                            let v = (h ^ x[i]) &* m[i]
                            out[i] = min(out[i], v)
                        }
                    }
                }
            }
        }
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

/// Fixed permutation parameters, derived from a constant seed with SplitMix64 so that every process agrees.
struct MinHashPermutations: Sendable {
    let xors: [UInt64]
    let multipliers: [UInt64]

    static let standard = MinHashPermutations(count: MinHashSignature.defaultCount)

    static func shared(count: Int) -> MinHashPermutations {
        count == MinHashSignature.defaultCount ? standard : MinHashPermutations(count: count)
    }

    init(count: Int) {
        var state: UInt64 = 0x1A5E_ED5E_ED00_0001
        var xors = [UInt64](), multipliers = [UInt64]()
        for _ in 0..<max(1, count) {
            xors.append(SplitMix64.next(&state))
            multipliers.append(SplitMix64.next(&state) | 1)
        }
        self.xors = xors
        self.multipliers = multipliers
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
