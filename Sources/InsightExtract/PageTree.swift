import CLibXML2

/// One element of the page, in document (pre-)order. Index 0 is a virtual root above `<html>`.
struct Elem {
    var node: xmlNodePtr?
    var parent: Int32
    /// One past the index of the last element inside this one.
    var end: Int32
    /// The blocks inside this element (exact for block-level elements).
    var blockStart: Int32
    var blockEnd: Int32
    /// The nearest block-level ancestor-or-self.
    var blockAnc: Int32
    var tag: Tag
    var flags: ElemFlags
    /// Readability's class weight from `class` and `id` (±25 each).
    var weight: Int16
    var hint: Hint
    var classHash: UInt64
    // Text directly inside this element (not in child elements).
    var sChars: Int32
    var sLink10: Int32
    var sCommas: Int32
    var sImg: Int16
    var sInput: Int16
    var sEmbed: Int16
    var sVirtualP: Int16
}

struct ElemFlags: OptionSet {
    let rawValue: UInt32
    static let inLink = ElemFlags(rawValue: 1 << 0)
    static let hashLink = ElemFlags(rawValue: 1 << 1)
    static let hasBlockChild = ElemFlags(rawValue: 1 << 2)  // has a div-to-p element among its descendants
    static let unlikely = ElemFlags(rawValue: 1 << 3)  // class/id/role says unlikely content
    static let byline = ElemFlags(rawValue: 1 << 4)  // rel=author, itemprop=author or a byline class
    static let inTableOrCode = ElemFlags(rawValue: 1 << 5)
    static let inFigure = ElemFlags(rawValue: 1 << 6)
    static let inPre = ElemFlags(rawValue: 1 << 7)
    static let articleBody = ElemFlags(rawValue: 1 << 8)  // itemprop=articleBody
    static let textishText = ElemFlags(rawValue: 1 << 9)  // some text below it sits in a "textish" element
    static let strip = ElemFlags(rawValue: 1 << 12)  // nav, aside, footer, dialog: never content
    static let roleUnlikely = ElemFlags(rawValue: 1 << 15)
    static let holdsEmbed = ElemFlags(rawValue: 1 << 17)  // is or contains an embedded social-media post
}

/// A run of text (a text node), or a line break.
struct Seg {
    var ptr: UnsafePointer<UInt8>?
    var len: Int32
    var elem: Int32
    var kind: UInt8  // 0 text, 1 <br>, 2 text inside <pre>, 3 between table cells
}

/// A line box: the text between two block-level boundaries, owned by the innermost block element.
struct Block {
    var owner: Int32
    var segStart: Int32
    var segEnd: Int32
    var chars: Int32
    var commas: Int32
    var link10: Int32
}

/// Where the document's metadata sits.
struct MetaSources {
    var titleNode: xmlNodePtr?
    var metas: [xmlNodePtr] = []
    var canonical: String?
    var ldJSON: [xmlNodePtr] = []
    var htmlLang: String?
    var baseHref: String?
}

/// The page flattened for scoring: elements, text segments and blocks, all in document order.
struct PageTree {
    var elems: [Elem] = []
    var segs: [Seg] = []
    var blocks: [Block] = []
    var meta = MetaSources()
    var body: Int32 = 0
    private var hints = HintCache()

    // Block being built.
    private var blockSegStart = 0
    private var bChars: Int32 = 0
    private var bCommas: Int32 = 0
    private var bLink10: Int32 = 0
    private var bInWord = false
    private var bHasText = false
    private var bLastBreak = false
    private var owner: Int32 = 0

    init(doc: htmlDocPtr) {
        elems.reserveCapacity(4096)
        segs.reserveCapacity(4096)
        blocks.reserveCapacity(1024)
        elems.append(Elem(
            node: nil, parent: -1, end: 0, blockStart: 0, blockEnd: 0, blockAnc: 0, tag: .root, flags: [],
            weight: 0, hint: [], classHash: 0, sChars: 0, sLink10: 0, sCommas: 0, sImg: 0, sInput: 0, sEmbed: 0,
            sVirtualP: 0))
        walk(UnsafeMutableRawPointer(doc).assumingMemoryBound(to: xmlNode.self).pointee.children)
        finish()
    }

    // MARK: Walk

    private mutating func walk(_ first: xmlNodePtr?) {
        var cur = first
        var parentIdx: Int32 = 0
        outer: while let n = cur {
            var descend: xmlNodePtr? = nil
            let type = n.pointee.type
            if type == XML_ELEMENT_NODE {
                descend = openElement(n, parent: &parentIdx)
            } else if type == XML_TEXT_NODE || type == XML_CDATA_SECTION_NODE {
                if let c = n.pointee.content { addText(UnsafePointer(c), elem: parentIdx) }
            }
            if let d = descend { cur = d; continue }
            var m = n
            while m.pointee.next == nil {
                if parentIdx == 0 { break outer }
                guard let p = m.pointee.parent else { break outer }
                closeElement(parentIdx)
                parentIdx = elems[Int(parentIdx)].parent
                m = p
            }
            cur = m.pointee.next
        }
        // Close whatever is still open (only happens if the walk was cut short).
        while parentIdx > 0 {
            closeElement(parentIdx)
            parentIdx = elems[Int(parentIdx)].parent
        }
    }

    /// Handles an element start. Returns its first child if the walk should descend.
    private mutating func openElement(_ n: xmlNodePtr, parent parentIdx: inout Int32) -> xmlNodePtr? {
        guard let name = n.pointee.name else { return nil }
        let tag = Tags.tag(UnsafePointer(name))
        let props = Tags.props[Int(tag.rawValue)]
        let pi = Int(parentIdx)
        if props & TagInfo.drop != 0 {
            dropped(n, tag, parent: pi)
            return nil
        }
        if tag == .br {
            addBreak(elem: parentIdx)
            return nil
        }
        if tag == .img {
            elems[pi].sImg &+= 1
            elems[pi].flags.insert(.hasBlockChild)
            return nil
        }
        // Attributes.
        var weight: Int16 = 0
        var hint: Hint = []
        var flags: ElemFlags = []
        var classHash: UInt64 = 0
        var attr = n.pointee.properties
        while let a = attr {
            attr = a.pointee.next
            guard let an = a.pointee.name else { continue }
            let vptr: UnsafePointer<UInt8>? = a.pointee.children?.pointee.content.map { UnsafePointer($0) }
            switch an[0] {
            case 0x63:  // c
                if an[1] == 0x6C, an[2] == 0x61, an[3] == 0x73, an[4] == 0x73, an[5] == 0, let v = vptr {  // class
                    let len = Int(insight_strlen(v))
                    let h = HintCache.fnv(v, len)
                    classHash = h
                    let ch = hints.hint(v, len, hash: h)
                    hint.formUnion(ch)
                    if ch.contains(.negative) { weight -= 25 }
                    if ch.contains(.positive) { weight += 25 }
                }
            case 0x69:  // i
                if an[1] == 0x64, an[2] == 0, let v = vptr {  // id
                    let len = Int(insight_strlen(v))
                    let ih = hints.hint(v, len, hash: HintCache.fnv(v, len))
                    hint.formUnion(ih)
                    if ih.contains(.negative) { weight -= 25 }
                    if ih.contains(.positive) { weight += 25 }
                } else if an[1] == 0x74, let v = vptr, equalsLower(an, "itemprop") {
                    if containsLower(v, "articlebody") { flags.insert(.articleBody) }
                    if containsLower(v, "author") { flags.insert(.byline) }
                }
            case 0x73:  // s
                if an[1] == 0x74, equalsLower(an, "style"), let v = vptr, styleHides(v) { return nil }
            case 0x68:  // h
                if an[1] == 0x69, equalsLower(an, "hidden") { return nil }
                if tag == .a, an[1] == 0x72, an[2] == 0x65, an[3] == 0x66, an[4] == 0, let v = vptr, v[0] == 0x23 {
                    flags.insert(.hashLink)
                }
            case 0x61:  // a
                if equalsLower(an, "aria-hidden"), let v = vptr, equalsLower(v, "true") { return nil }
            case 0x72:  // r
                if an[1] == 0x6F, equalsLower(an, "role"), let v = vptr {
                    if equalsLower(v, "menu") || equalsLower(v, "menubar") || equalsLower(v, "complementary")
                        || equalsLower(v, "navigation") || equalsLower(v, "alert") || equalsLower(v, "alertdialog")
                        || equalsLower(v, "dialog") {
                        flags.insert(.roleUnlikely)
                    }
                } else if an[1] == 0x65, an[2] == 0x6C, an[3] == 0, let v = vptr, containsLower(v, "author") {
                    flags.insert(.byline)
                }
            case 0x6C:  // l
                if tag == .html, equalsLower(an, "lang"), let v = vptr, meta.htmlLang == nil {
                    meta.htmlLang = String(cString: v)
                }
            default: break
            }
        }
        let parent = elems[pi]
        // Inherited flags.
        flags.formUnion(parent.flags.intersection([.inLink, .hashLink, .inTableOrCode, .inFigure, .inPre]))
        if tag == .a { flags.insert(.inLink) }
        if tag == .table { flags.insert(.inTableOrCode) }
        if tag == .code { flags.insert(.inTableOrCode) }
        if tag == .figure { flags.insert(.inFigure) }
        if tag == .pre { flags.insert(.inPre) }
        if hint.contains(.byline) { flags.insert(.byline) }
        if hint.contains(.embed) && tag == .blockquote { flags.insert(.holdsEmbed) }
        if hint.contains(.unlikely) && !hint.contains(.maybe) && tag != .body && tag != .a { flags.insert(.unlikely) }
        if flags.contains(.roleUnlikely) { flags.insert(.unlikely) }
        if tag == .nav || tag == .aside || tag == .footer || tag == .dialog || tag == .menu { flags.insert(.strip) }

        let idx = Int32(elems.count)
        let isBlock = props & TagInfo.block != 0
        if isBlock { flush() }
        if (tag == .td || tag == .th) && bHasText {
            segs.append(Seg(ptr: nil, len: 0, elem: parentIdx, kind: 3))
            bInWord = false
        }
        if props & TagInfo.divToP != 0 { elems[pi].flags.insert(.hasBlockChild) }
        if tag == .body && body == 0 { body = idx }
        elems.append(Elem(
            node: n, parent: parentIdx, end: idx + 1, blockStart: Int32(blocks.count), blockEnd: Int32(blocks.count),
            blockAnc: isBlock ? idx : parent.blockAnc, tag: tag, flags: flags, weight: weight, hint: hint,
            classHash: classHash, sChars: 0, sLink10: 0, sCommas: 0, sImg: 0, sInput: 0, sEmbed: 0, sVirtualP: 0))
        if isBlock { owner = idx }
        if let c = n.pointee.children {
            parentIdx = idx
            return c
        }
        closeElement(idx)
        return nil
    }

    private mutating func closeElement(_ idx: Int32) {
        let i = Int(idx)
        let tag = elems[i].tag
        if Tags.has(tag, TagInfo.block) {
            flush()
            owner = elems[Int(elems[i].parent)].blockAnc
        }
        elems[i].end = Int32(elems.count)
        elems[i].blockEnd = Int32(blocks.count)
    }

    private mutating func dropped(_ n: xmlNodePtr, _ tag: Tag, parent pi: Int) {
        switch tag {
        case .head:
            var c = n.pointee.children
            while let k = c {
                if k.pointee.type == XML_ELEMENT_NODE, let nm = k.pointee.name {
                    let t = Tags.tag(UnsafePointer(nm))
                    if t != .head { dropped(k, t, parent: pi) }
                }
                c = k.pointee.next
            }
        case .title:
            if meta.titleNode == nil { meta.titleNode = n }
        case .meta:
            meta.metas.append(n)
        case .link:
            if meta.canonical == nil, let rel = attribute(n, "rel"), rel.lowercased().split(separator: " ").contains("canonical"),
               let href = attribute(n, "href") {
                meta.canonical = href
            }
        case .base:
            if meta.baseHref == nil { meta.baseHref = attribute(n, "href") }
        case .script:
            if let t = attribute(n, "type"), t.lowercased().contains("ld+json") { meta.ldJSON.append(n) }
        case .input:
            elems[pi].sInput &+= 1
        case .iframe, .embed, .object:
            if let src = attribute(n, "src") ?? attribute(n, "data"), isVideoURL(src) {
                // Video players are kept, as readability does.
            } else {
                elems[pi].sEmbed &+= 1
            }
        case .noscript, .template:
            break
        default:
            break
        }
    }

    // MARK: Text

    private mutating func addBreak(elem: Int32) {
        guard bHasText else { return }
        if bLastBreak {
            // <br><br>: a paragraph break.
            flush()
            return
        }
        segs.append(Seg(ptr: nil, len: 0, elem: elem, kind: 1))
        bLastBreak = true
        bInWord = false
    }

    private mutating func addText(_ p: UnsafePointer<UInt8>, elem: Int32) {
        let len = Int(insight_strlen(p))
        if len == 0 { return }
        var nonWS: Int32 = 0
        var gaps: Int32 = 0
        var commas: Int32 = 0
        var inWord = bInWord
        var hadWord = bHasText
        var i = 0
        while i < len {
            let c = p[i]
            if c < 0x80 {
                if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D || c == 0x0C {
                    inWord = false
                } else {
                    if !inWord { if hadWord { gaps += 1 }; inWord = true; hadWord = true }
                    nonWS += 1
                    if c == 0x2C { commas += 1 }
                }
                i += 1
                continue
            }
            // Multi-byte: count one character per lead byte; a few are spaces or commas.
            if c == 0xC2, i + 1 < len, p[i + 1] == 0xA0 { inWord = false; i += 2; continue }  // nbsp
            if c == 0xE2, i + 2 < len, p[i + 1] == 0x80, p[i + 2] >= 0x80 && p[i + 2] <= 0x8B {  // U+2000..U+200B
                inWord = false; i += 3; continue
            }
            if c == 0xE3, i + 2 < len, p[i + 1] == 0x80, p[i + 2] == 0x80 { inWord = false; i += 3; continue }  // ideographic space
            if c >= 0xC0 {
                if !inWord { if hadWord { gaps += 1 }; inWord = true; hadWord = true }
                nonWS += 1
                if c == 0xEF, i + 2 < len, p[i + 1] == 0xBC, p[i + 2] == 0x8C { commas += 1 }  // ，
                else if c == 0xD8, i + 1 < len, p[i + 1] == 0x8C { commas += 1 }  // ،
                else if c == 0xE3, i + 2 < len, p[i + 1] == 0x80, p[i + 2] == 0x81 { commas += 1 }  // 、
            }
            i += 1
        }
        if nonWS == 0 && !bHasText { return }  // leading whitespace of a block
        let e = Int(elem)
        let flags = elems[e].flags
        segs.append(Seg(ptr: p, len: Int32(len), elem: elem, kind: flags.contains(.inPre) ? 2 : 0))
        bInWord = inWord
        if nonWS > 0 {
            bHasText = true
            bLastBreak = false
            let chars = nonWS + gaps
            bChars += chars
            bCommas += commas
            elems[e].sChars += chars
            elems[e].sCommas += commas
            if flags.contains(.inLink) {
                let l = chars * (flags.contains(.hashLink) ? 3 : 10)
                bLink10 += l
                elems[e].sLink10 += l
            }
        }
    }

    private mutating func flush() {
        if bHasText {
            blocks.append(Block(owner: owner, segStart: Int32(blockSegStart), segEnd: Int32(segs.count),
                                chars: bChars, commas: bCommas, link10: bLink10))
        } else if segs.count > blockSegStart {
            segs.removeLast(segs.count - blockSegStart)
        }
        blockSegStart = segs.count
        bChars = 0
        bCommas = 0
        bLink10 = 0
        bInWord = false
        bHasText = false
        bLastBreak = false
    }

    // MARK: Derived facts

    private mutating func finish() {
        flush()
        elems[0].end = Int32(elems.count)
        elems[0].blockEnd = Int32(blocks.count)
        if body == 0 {
            // No <body>: use <html> or the root.
            body = elems.count > 1 && elems[1].tag == .html ? 1 : 0
        }
        // hasBlockChild and direct text propagate upwards (descendants, as readability's check is recursive).
        var i = elems.count - 1
        while i > 0 {
            let p = Int(elems[i].parent)
            if elems[i].flags.contains(.hasBlockChild) { elems[p].flags.insert(.hasBlockChild) }
            if elems[i].flags.contains(.holdsEmbed) { elems[p].flags.insert(.holdsEmbed) }
            i -= 1
        }
        // Virtual paragraphs: loose text inside a div that also has block children is wrapped in a <p>.
        for b in blocks {
            let o = Int(b.owner)
            if elems[o].tag == .div && elems[o].flags.contains(.hasBlockChild) { elems[o].sVirtualP &+= 1 }
        }
        // Text density: mark elements with text in a "textish" descendant.
        for s in segs where s.kind == 0 || s.kind == 2 {
            var e = Int(s.elem)
            // The innermost textish ancestor-or-self of the text; a div with block children wraps it in a <p>.
            while e > 0 && !Tags.has(elems[e].tag, TagInfo.textish) { e = Int(elems[e].parent) }
            if e == 0 { continue }
            if elems[e].tag == .div && elems[e].flags.contains(.hasBlockChild) {
                // Wrapped in a virtual <p>: the div itself has textish text.
            } else {
                e = Int(elems[e].parent)
            }
            while e > 0 && !elems[e].flags.contains(.textishText) {
                elems[e].flags.insert(.textishText)
                e = Int(elems[e].parent)
            }
        }
    }

    // MARK: Helpers

    func attribute(_ n: xmlNodePtr, _ name: String) -> String? { PageTree.attribute(n, name) }

    static func attribute(_ n: xmlNodePtr, _ name: String) -> String? {
        var attr = n.pointee.properties
        while let a = attr {
            if let an = a.pointee.name, equalsLower(an, name) {
                guard let v = a.pointee.children?.pointee.content else { return "" }
                return String(cString: v)
            }
            attr = a.pointee.next
        }
        return nil
    }

    private func isVideoURL(_ s: String) -> Bool {
        let l = s.lowercased()
        return l.contains("youtube.com") || l.contains("youtube-nocookie.com") || l.contains("player.vimeo.com")
            || l.contains("dailymotion.com") || l.contains("youtu.be")
    }
}

// MARK: Byte helpers

/// Compares a NUL-terminated C string to an ASCII string, ignoring ASCII case.
@inline(__always)
func equalsLower(_ p: UnsafePointer<UInt8>, _ s: StaticString) -> Bool {
    let q = s.utf8Start
    let n = s.utf8CodeUnitCount
    for k in 0..<n {
        var c = p[k]
        if c == 0 { return false }
        if c >= 0x41 && c <= 0x5A { c |= 0x20 }
        if c != q[k] { return false }
    }
    return p[n] == 0
}

func equalsLower(_ p: UnsafePointer<UInt8>, _ s: String) -> Bool {
    var k = 0
    for b in s.utf8 {
        var c = p[k]
        if c == 0 { return false }
        if c >= 0x41 && c <= 0x5A { c |= 0x20 }
        if c != b { return false }
        k += 1
    }
    return p[k] == 0
}

/// Whether a NUL-terminated C string contains `s` (lower-case ASCII), ignoring ASCII case.
func containsLower(_ p: UnsafePointer<UInt8>, _ s: StaticString) -> Bool {
    let q = s.utf8Start
    let n = s.utf8CodeUnitCount
    var i = 0
    while p[i] != 0 {
        var k = 0
        while k < n {
            var c = p[i + k]
            if c == 0 { return false }
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            if c != q[k] { break }
            k += 1
        }
        if k == n { return true }
        i += 1
    }
    return false
}

/// Whether an inline style hides the element (`display: none` or `visibility: hidden`).
func styleHides(_ p: UnsafePointer<UInt8>) -> Bool {
    // Lower-case, spaces removed, into a small buffer.
    var buf = [UInt8]()
    buf.reserveCapacity(64)
    var i = 0
    while p[i] != 0 && buf.count < 400 {
        let c = p[i]
        if c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D { buf.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c) }
        i += 1
    }
    func has(_ s: String) -> Bool {
        let pat = Array(s.utf8)
        if buf.count < pat.count { return false }
        outer: for start in 0...(buf.count - pat.count) {
            for k in 0..<pat.count where buf[start + k] != pat[k] { continue outer }
            // Must be the start of a declaration.
            if start == 0 || buf[start - 1] == 0x3B || buf[start - 1] == 0x22 { return true }
        }
        return false
    }
    return has("display:none") || has("visibility:hidden")
}
