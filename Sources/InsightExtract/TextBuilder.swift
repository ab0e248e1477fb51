/// Turns the kept blocks of a page into whitespace-normalised paragraphs.
enum TextBuilder {
    struct Paragraph {
        var text: String
        var block: Int
        /// Characters and link characters (×10) of the kept text.
        var chars: Int32
        var link10: Int32
    }

    /// `keep[i]` says whether the text directly inside element `i` is kept.
    static func paragraphs(_ tree: PageTree, keep: [Bool]) -> [Paragraph] {
        var out: [Paragraph] = []
        var buf: [UInt8] = []
        buf.reserveCapacity(4096)
        for (bi, block) in tree.blocks.enumerated() {
            buf.removeAll(keepingCapacity: true)
            var pendingSpace = false
            var dropped = false
            for si in Int(block.segStart)..<Int(block.segEnd) {
                let seg = tree.segs[si]
                guard keep[Int(seg.elem)] else { dropped = true; continue }
                if seg.kind == 1 {
                    while buf.last == 0x20 { buf.removeLast() }
                    if !buf.isEmpty && buf.last != 0x0A { buf.append(0x0A) }
                    pendingSpace = false
                    continue
                }
                if seg.kind == 3 {
                    while buf.last == 0x20 { buf.removeLast() }
                    if !buf.isEmpty && buf.last != 0x0A { buf.append(0x09) }
                    pendingSpace = false
                    continue
                }
                guard let p = seg.ptr else { continue }
                append(p, Int(seg.len), pre: seg.kind == 2, into: &buf, pendingSpace: &pendingSpace)
            }
            while let l = buf.last, l == 0x20 || l == 0x0A || l == 0x09 { buf.removeLast() }
            if buf.isEmpty { continue }
            var chars = block.chars, link10 = block.link10
            if dropped {
                // Part of the block was cleaned out: count what is left.
                chars = 0; link10 = 0
                for si in Int(block.segStart)..<Int(block.segEnd) {
                    let e = Int(tree.segs[si].elem)
                    guard keep[e], tree.segs[si].kind == 0 || tree.segs[si].kind == 2 else { continue }
                    let c = Int32(tree.segs[si].len)
                    chars += c
                    if tree.elems[e].flags.contains(.inLink) { link10 += c * (tree.elems[e].flags.contains(.hashLink) ? 3 : 10) }
                }
            }
            out.append(Paragraph(text: String(decoding: buf, as: UTF8.self), block: bi, chars: chars, link10: link10))
        }
        return out
    }

    /// The text of one element (all blocks inside it), on one line.
    static func text(of i: Int, in tree: PageTree) -> String {
        let e = tree.elems[i]
        var buf: [UInt8] = []
        var pendingSpace = false
        var first = true
        for b in Int(e.blockStart)..<Int(e.blockEnd) {
            let block = tree.blocks[b]
            if !first { pendingSpace = true }
            first = false
            for si in Int(block.segStart)..<Int(block.segEnd) {
                let seg = tree.segs[si]
                if seg.kind == 1 || seg.kind == 3 { pendingSpace = true; continue }
                guard let p = seg.ptr else { continue }
                append(p, Int(seg.len), pre: false, into: &buf, pendingSpace: &pendingSpace)
            }
        }
        while buf.last == 0x20 { buf.removeLast() }
        return String(decoding: buf, as: UTF8.self)
    }

    @inline(__always)
    static func append(_ p: UnsafePointer<UInt8>, _ len: Int, pre: Bool, into buf: inout [UInt8], pendingSpace: inout Bool) {
        var i = 0
        while i < len {
            let c = p[i]
            if c < 0x80 {
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C {
                    if pre && c == 0x0A {
                        while buf.last == 0x20 { buf.removeLast() }
                        buf.append(0x0A)
                        pendingSpace = false
                    } else if !buf.isEmpty && buf.last != 0x0A {
                        pendingSpace = true
                    }
                    i += 1
                    continue
                }
                if pendingSpace { buf.append(0x20); pendingSpace = false }
                buf.append(c)
                i += 1
                continue
            }
            if c == 0xC2 && i + 1 < len {
                let d = p[i + 1]
                if d == 0xA0 { if !buf.isEmpty && buf.last != 0x0A { pendingSpace = true }; i += 2; continue }
                if d == 0xAD { i += 2; continue }  // soft hyphen
            }
            if c == 0xE2 && i + 2 < len && p[i + 1] == 0x80 {
                let d = p[i + 2]
                if d >= 0x80 && d <= 0x8A || d == 0xAF {  // spaces
                    if !buf.isEmpty && buf.last != 0x0A { pendingSpace = true }
                    i += 3
                    continue
                }
                if d >= 0x8B && d <= 0x8D { i += 3; continue }  // zero-width
            }
            if c == 0xEF && i + 2 < len && p[i + 1] == 0xBB && p[i + 2] == 0xBF { i += 3; continue }  // BOM
            if c == 0xE3 && i + 2 < len && p[i + 1] == 0x80 && p[i + 2] == 0x80 {  // ideographic space
                if !buf.isEmpty && buf.last != 0x0A { pendingSpace = true }
                i += 3
                continue
            }
            if pendingSpace { buf.append(0x20); pendingSpace = false }
            buf.append(c)
            i += 1
        }
    }
}
