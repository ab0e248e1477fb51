import CLibXML2

/// A fast pass over the raw bytes before libxml2 sees them: the bodies of `<script>` (except JSON-LD),
/// `<style>` and `<svg>` elements and HTML comments are cut out. They are never text, but they are
/// about half the bytes of a typical news page and libxml2 reads them a character at a time.
/// Only for ASCII-compatible encodings (where `<` is always the byte 0x3C).
enum Prefilter {
    /// The filtered bytes, or nil when there is nothing to cut.
    static func strip(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let base = b.baseAddress, b.count > 0 else { return nil }
        let n = b.count
        var out: [UInt8] = []
        var copyFrom = 0
        var i = 0

        @inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
        @inline(__always) func nextLT(_ from: Int) -> Int {
            guard from < n, let p = insight_memchr(base + from, 0x3C, n - from) else { return n }
            return p - base
        }
        /// Whether `name` (lower-case ASCII) starts at `at`, followed by a tag-name terminator.
        func nameAt(_ at: Int, _ name: StaticString) -> Bool {
            let q = name.utf8Start
            let len = name.utf8CodeUnitCount
            guard at + len < n else { return false }
            for k in 0..<len where lower(base[at + k]) != q[k] { return false }
            let t = base[at + len]
            return t == 0x20 || t == 0x3E || t == 0x2F || t == 0x09 || t == 0x0A || t == 0x0D || t == 0x0C
        }
        /// The index of the `>` that ends the start tag beginning at `from`, honouring quotes.
        func tagEnd(_ from: Int) -> Int? {
            var k = from
            var quote: UInt8 = 0
            while k < n {
                let c = base[k]
                if quote != 0 {
                    if c == quote { quote = 0 }
                } else if c == 0x22 || c == 0x27 {
                    quote = c
                } else if c == 0x3E {
                    return k
                }
                k += 1
            }
            return nil
        }
        /// The index of `</name` at or after `from`.
        func closing(_ from: Int, _ name: StaticString) -> Int? {
            var k = nextLT(from)
            while k < n {
                if k + 1 < n && base[k + 1] == 0x2F && nameAt(k + 2, name) { return k }
                k = nextLT(k + 1)
            }
            return nil
        }
        func flush(_ upTo: Int) {
            if out.isEmpty { out.reserveCapacity(n / 2) }
            out.append(contentsOf: UnsafeBufferPointer(start: base + copyFrom, count: upTo - copyFrom))
        }
        func containsLDJSON(_ from: Int, _ to: Int) -> Bool {
            let pat: [UInt8] = Array("ld+json".utf8)
            var k = from
            while k + pat.count <= to {
                var ok = true
                for j in 0..<pat.count where lower(base[k + j]) != pat[j] { ok = false; break }
                if ok { return true }
                k += 1
            }
            return false
        }

        i = nextLT(0)
        while i + 3 < n {
            let c1 = base[i + 1]
            if c1 == 0x21 && base[i + 2] == 0x2D && base[i + 3] == 0x2D {  // <!--
                var k = i + 4
                var end = -1
                while k < n {
                    k = nextGT(base, n, k)
                    if k >= n { break }
                    if k - 2 >= i + 4 && base[k - 1] == 0x2D && base[k - 2] == 0x2D { end = k + 1; break }
                    k += 1
                }
                if end < 0 { break }  // unterminated: leave the rest to libxml2
                flush(i)
                copyFrom = end
                i = nextLT(end)
                continue
            }
            let l1 = lower(c1)
            if l1 == 0x73 {  // s: script, style, svg
                let name: StaticString?
                if nameAt(i + 1, "script") { name = "script" }
                else if nameAt(i + 1, "style") { name = "style" }
                else if nameAt(i + 1, "svg") { name = "svg" }
                else { name = nil }
                if let name {
                    guard let te = tagEnd(i + 1) else { break }
                    if base[te - 1] == 0x2F && name.utf8CodeUnitCount == 3 {  // <svg ... />
                        i = nextLT(te + 1)
                        continue
                    }
                    guard let close = closing(te + 1, name) else { break }
                    let keep = name.utf8CodeUnitCount == 6 && containsLDJSON(i, te)
                    if !keep && close > te + 1 {
                        flush(te + 1)
                        copyFrom = close
                    }
                    i = nextLT(close + 2)
                    continue
                }
            }
            i = nextLT(i + 1)
        }
        if copyFrom == 0 { return nil }
        flush(n)
        return out
    }

    @inline(__always)
    private static func nextGT(_ base: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        guard from < n, let p = insight_memchr(base + from, 0x3E, n - from) else { return n }
        return p - base
    }
}
