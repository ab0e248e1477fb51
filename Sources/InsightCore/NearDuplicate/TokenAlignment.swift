import Foundation

/// Longest-common-subsequence alignment of two token arrays, reported as differing spans.
enum TokenAlignment {
    /// A maximal run of removed tokens of the first text and added tokens of the second between two matches.
    struct Hunk: Sendable, Hashable {
        let removedRange: Range<Int>
        let addedRange: Range<Int>
    }

    /// Cells of the dynamic-programming table allowed after trimming the common prefix and suffix (32 MB of Int32);
    /// longer differing middles are not near-duplicates of each other anyway.
    static let maxCells = 8_000_000

    /// The differing spans, in order, or nil when the texts are too long to align.
    static func hunks(_ a: [String], _ b: [String]) -> [Hunk]? {
        var prefix = 0
        while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix && suffix < b.count - prefix
            && a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let n = a.count - prefix - suffix, m = b.count - prefix - suffix
        if n == 0 && m == 0 { return [] }
        if n == 0 || m == 0 {
            return [Hunk(removedRange: prefix..<(prefix + n), addedRange: prefix..<(prefix + m))]
        }
        guard (n + 1) * (m + 1) <= maxCells else { return nil }
        // Word tokens are mostly small strings stored inline, whose equality is a two-word compare.
        let x = a[prefix..<(prefix + n)]
        let y = b[prefix..<(prefix + m)]
        let x0 = x.startIndex, y0 = y.startIndex
        // suffixLCS[i][j] = LCS of x[i...] and y[j...]; forward walk then emits matches greedily in order.
        let width = m + 1
        var table = [Int32](repeating: 0, count: (n + 1) * width)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                if x[x0 + i] == y[y0 + j] {
                    table[i * width + j] = table[(i + 1) * width + j + 1] + 1
                } else {
                    table[i * width + j] = max(table[(i + 1) * width + j], table[i * width + j + 1])
                }
            }
        }
        var hunks: [Hunk] = []
        var i = 0, j = 0
        var hunkStartI = 0, hunkStartJ = 0
        var open = false
        func close() {
            if open {
                hunks.append(Hunk(removedRange: (prefix + hunkStartI)..<(prefix + i),
                                  addedRange: (prefix + hunkStartJ)..<(prefix + j)))
                open = false
            }
        }
        while i < n || j < m {
            if i < n && j < m && x[x0 + i] == y[y0 + j] {
                close()
                i += 1; j += 1
                continue
            }
            if !open { open = true; hunkStartI = i; hunkStartJ = j }
            if j >= m || (i < n && table[(i + 1) * width + j] >= table[i * width + j + 1]) {
                i += 1
            } else {
                j += 1
            }
        }
        close()
        return hunks
    }
}
