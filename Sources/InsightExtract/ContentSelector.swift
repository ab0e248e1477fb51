/// Picks the main content of a flattened page: readability-style paragraph scoring to find the best
/// container, sibling joining, then conditional cleaning of boilerplate inside it.
struct ContentSelector {
    struct Options: OptionSet {
        let rawValue: UInt8
        static let stripUnlikely = Options(rawValue: 1)
        static let weightClasses = Options(rawValue: 2)
        static let cleanConditionally = Options(rawValue: 4)
        static let all: Options = [.stripUnlikely, .weightClasses, .cleanConditionally]
    }

    /// Subtree totals for one attempt (excluded elements contribute nothing).
    struct Agg {
        var chars: Int32 = 0
        var link10: Int32 = 0
        var commas: Int32 = 0
        var p: Int32 = 0
        var img: Int32 = 0
        var li: Int32 = 0
        var input: Int32 = 0
        var embed: Int32 = 0
        var head: Int32 = 0
        var list: Int32 = 0
        var kids: Int32 = 0
    }

    // State bits per element.
    static let excludedSelf: UInt8 = 1
    static let excluded: UInt8 = 2  // self or an ancestor
    static let removed: UInt8 = 4  // removed by cleaning (self)
    static let candidate: UInt8 = 8
    static let chosen: UInt8 = 16
    static let dead: UInt8 = 32  // removed or excluded, self or an ancestor

    let tree: PageTree
    /// Elements excluded in every attempt (the byline, the heading that repeats the title, hidden text).
    let alwaysExcluded: [Int32]
    /// Characters in each element's subtree, before any exclusion.
    let totalChars: [Int32]

    var state: [UInt8]
    var agg: [Agg]
    var score: [Float]
    var roots: [Int32] = []

    init(tree: PageTree, alwaysExcluded: [Int32], totalChars: [Int32]) {
        self.tree = tree
        self.alwaysExcluded = alwaysExcluded
        self.totalChars = totalChars
        let n = tree.elems.count
        state = [UInt8](repeating: 0, count: n)
        agg = [Agg](repeating: Agg(), count: n)
        score = [Float](repeating: 0, count: n)
    }

    /// Runs the attempts (all flags, then fewer) until one yields enough text; returns the kept state.
    mutating func run() -> (roots: [Int32], state: [UInt8]) {
        let sequence: [Options] = [.all, [.weightClasses, .cleanConditionally], [.cleanConditionally], []]
        var best: (opts: Options, length: Int)? = nil
        var last: Options = .all
        for opts in sequence {
            attempt(opts)
            last = opts
            let length = keptLength()
            if length >= 500 { best = (opts, length); break }
            if best == nil || length > best!.length { best = (opts, length) }
        }
        if best!.opts != last { attempt(best!.opts) }
        postClean()
        return (roots, state)
    }

    // MARK: One attempt

    mutating func attempt(_ opts: Options) {
        let elems = tree.elems
        let n = elems.count
        for i in 0..<n { state[i] = 0; score[i] = 0 }
        // Exclusions. An "unlikely" wrapper that holds most of the page's text is a page wrapper with an
        // unlucky class name, not a sidebar.
        let pageChars = totalChars[Int(tree.body)]
        for i in 1..<n {
            let f = elems[i].flags
            if f.contains(.strip)
                || (opts.contains(.stripUnlikely) && f.contains(.unlikely) && !f.contains(.inTableOrCode)
                    && !f.contains(.holdsEmbed) && !(totalChars[i] * 2 >= pageChars && pageChars > 0))
            {
                state[i] |= Self.excludedSelf
            }
        }
        for i in alwaysExcluded { state[Int(i)] |= Self.excludedSelf }
        for i in 1..<n {
            let p = Int(elems[i].parent)
            if state[i] & Self.excludedSelf != 0 || state[p] & Self.excluded != 0 { state[i] |= Self.excluded | Self.dead }
        }
        aggregate()

        // Score paragraphs into their ancestors.
        var candidates: [Int32] = []
        candidates.reserveCapacity(256)
        for i in 1..<n where state[i] & Self.excluded == 0 {
            let e = elems[i]
            let isPara: Bool
            switch e.tag {
            case .section, .h2, .h3, .h4, .h5, .h6, .p, .td, .pre: isPara = true
            case .div: isPara = !e.flags.contains(.hasBlockChild)
            default: isPara = false
            }
            if !isPara { continue }
            let a = agg[i]
            if a.chars < 25 { continue }
            let s = Float(2 + a.commas + min(a.chars / 100, 3))
            addScore(from: Int(e.parent), s, opts, &candidates)
        }
        for b in tree.blocks {
            let o = Int(b.owner)
            guard elems[o].tag == .div, elems[o].flags.contains(.hasBlockChild), state[o] & Self.excluded == 0,
                  b.chars >= 25 else { continue }
            let s = Float(2 + b.commas + min(b.chars / 100, 3))
            addScore(from: o, s, opts, &candidates)
        }
        for c in candidates {
            let i = Int(c)
            score[i] *= 1 - linkDensity(i)
        }
        var top = candidates.sorted { score[Int($0)] > score[Int($1)] }
        if top.count > 5 { top.removeLast(top.count - 5) }

        let body = Int(tree.body)
        var topCandidate: Int
        if top.isEmpty || Int(top[0]) == body {
            topCandidate = body
            roots = [Int32(body)]
        } else {
            topCandidate = Int(top[0])
            let topScore = score[topCandidate]
            // Several strong candidates under one ancestor: take the ancestor.
            var alternatives: [Int] = []
            for k in 1..<top.count where topScore > 0 && score[Int(top[k])] / topScore >= 0.75 {
                alternatives.append(Int(top[k]))
            }
            if alternatives.count >= 3 {
                var p = Int(elems[topCandidate].parent)
                while p != body && p > 0 {
                    var containing = 0
                    for a in alternatives where isAncestor(p, of: a) { containing += 1 }
                    if containing >= 3 { topCandidate = p; break }
                    p = Int(elems[p].parent)
                }
            }
            if state[topCandidate] & Self.candidate == 0 { initialize(topCandidate, opts) }
            // A wide container that won on points gathered from around a dense inner block that holds
            // nearly all its text: take the inner block (siblings are reconsidered below).
            do {
                let ts = score[topCandidate], tc = Float(agg[topCandidate].chars)
                var best = -1
                for c in candidates {
                    let ci = Int(c)
                    guard ci != topCandidate, isAncestor(topCandidate, of: ci),
                          score[ci] >= ts * Tuning.descendScore, Float(agg[ci].chars) >= tc * Tuning.descendChars
                    else { continue }
                    if best < 0 || ci > best { best = ci }  // the deepest (later in pre-order)
                }
                if best >= 0 {
                    Debug.log("  descend from \(describe(topCandidate)) to \(describe(best))")
                    topCandidate = best
                }
            }
            // Climb while the parents' scores go up.
            var parent = Int(elems[topCandidate].parent)
            var lastScore = score[topCandidate]
            let threshold = lastScore / 3
            while parent != body && parent > 0 {
                if state[parent] & Self.candidate == 0 { parent = Int(elems[parent].parent); continue }
                let ps = score[parent]
                if ps < threshold { break }
                if ps > lastScore { topCandidate = parent; break }
                lastScore = ps
                parent = Int(elems[parent].parent)
            }
            // An only child: use the parent.
            parent = Int(elems[topCandidate].parent)
            while parent != body && parent > 0 && agg[parent].kids == 1 {
                topCandidate = parent
                parent = Int(elems[topCandidate].parent)
            }
            if state[topCandidate] & Self.candidate == 0 { initialize(topCandidate, opts) }
            roots = siblings(of: topCandidate, opts)
            addSameClassChunks(of: topCandidate)
        }
        for r in roots { state[Int(r)] |= Self.chosen }
        if Debug.enabled {
            Debug.log("attempt \(opts.rawValue): top candidates:")
            for t in top { Debug.log("  \(describe(Int(t))) score \(score[Int(t)]) chars \(agg[Int(t)].chars) ld \(linkDensity(Int(t)))") }
            Debug.log("  chosen top \(describe(topCandidate)); roots: \(roots.map { describe(Int($0)) })")
        }
        prepare(opts)
        if Debug.enabled { Debug.log("  kept length \(keptLength())") }
    }

    func describe(_ i: Int) -> String {
        let e = tree.elems[i]
        var s = "#\(i)<\(e.tag)"
        if let n = e.node {
            if let c = PageTree.attribute(n, "class") { s += " class=\"\(c.prefix(60))\"" }
            if let d = PageTree.attribute(n, "id") { s += " id=\"\(d.prefix(40))\"" }
        }
        return s + ">"
    }

    @inline(__always)
    private func isAncestor(_ a: Int, of d: Int) -> Bool {
        a < d && d < Int(tree.elems[a].end)
    }

    private mutating func initialize(_ i: Int, _ opts: Options) {
        state[i] |= Self.candidate
        var s: Float
        switch tree.elems[i].tag {
        case .div: s = 5
        case .pre, .td, .blockquote: s = 3
        case .address, .ol, .ul, .dl, .dd, .dt, .li, .form: s = -3
        case .h1, .h2, .h3, .h4, .h5, .h6, .th: s = -5
        default: s = 0
        }
        if opts.contains(.weightClasses) { s += Float(tree.elems[i].weight) }
        score[i] = s
    }

    private mutating func addScore(from start: Int, _ s: Float, _ opts: Options, _ candidates: inout [Int32]) {
        var a = start
        var level = 0
        while a > 0 && level < 5 {
            let e = tree.elems[a]
            if e.tag == .html || e.parent < 0 { break }
            if state[a] & Self.candidate == 0 {
                initialize(a, opts)
                candidates.append(Int32(a))
            }
            let divider: Float = level == 0 ? 1 : (level == 1 ? 2 : Float(level * 3))
            score[a] += s / divider
            a = Int(e.parent)
            level += 1
        }
    }

    @inline(__always)
    func linkDensity(_ i: Int) -> Float {
        let a = agg[i]
        return a.chars > 0 ? Float(a.link10) / 10 / Float(a.chars) : 0
    }

    /// The top candidate and those of its siblings that look like part of the same content.
    private func siblings(of top: Int, _ opts: Options) -> [Int32] {
        let elems = tree.elems
        let parent = Int(elems[top].parent)
        let threshold = max(10, score[top] * 0.2)
        var out: [Int32] = []
        var j = parent + 1
        let end = Int(elems[parent].end)
        while j < end {
            defer { j = Int(elems[j].end) }
            if state[j] & Self.excluded != 0 { continue }
            if j == top { out.append(Int32(j)); continue }
            var bonus: Float = 0
            if elems[j].classHash != 0 && elems[j].classHash == elems[top].classHash { bonus += score[top] * 0.2 }
            if state[j] & Self.candidate != 0 && score[j] + bonus >= threshold {
                out.append(Int32(j))
                continue
            }
            let isP = elems[j].tag == .p || (elems[j].tag == .div && !elems[j].flags.contains(.hasBlockChild))
            if isP {
                let ld = linkDensity(j)
                let len = agg[j].chars
                if len > 80 && ld < 0.25 {
                    out.append(Int32(j))
                } else if len < 80 && len > 0 && ld == 0 && hasSentenceEnd(j) {
                    out.append(Int32(j))
                }
            }
        }
        return out
    }

    /// Articles split into chunks (ads between them) repeat the chunk's class: the other chunks join.
    private mutating func addSameClassChunks(of top: Int) {
        let elems = tree.elems
        let ch = elems[top].classHash
        guard ch != 0 else { return }
        let threshold = max(10, score[top] * 0.2)
        // Chunks sit close together: within two levels above the top candidate.
        var near = top
        for _ in 0..<2 where elems[near].parent > 0 && Int(elems[near].parent) != Int(tree.body) {
            near = Int(elems[near].parent)
        }
        var added = false
        for j in (near + 1)..<Int(elems[near].end) where j != top && elems[j].classHash == ch {
            guard state[j] & Self.excluded == 0, state[j] & Self.candidate != 0, score[j] >= threshold,
                  linkDensity(j) < 0.3 else { continue }
            if roots.contains(where: { isAncestor(Int($0), of: j) || Int($0) == j || isAncestor(j, of: Int($0)) }) { continue }
            roots.append(Int32(j))
            added = true
        }
        if added { roots.sort() }
    }

    /// Whether the element's text has a full stop followed by a space or the end.
    private func hasSentenceEnd(_ i: Int) -> Bool {
        let e = tree.elems[i]
        var last: UInt8 = 0
        for b in Int(e.blockStart)..<Int(e.blockEnd) {
            let blk = tree.blocks[b]
            for s in Int(blk.segStart)..<Int(blk.segEnd) {
                let seg = tree.segs[s]
                guard let p = seg.ptr else { continue }
                for k in 0..<Int(seg.len) {
                    let c = p[k]
                    if last == 0x2E && (c == 0x20 || c == 0x0A) { return true }
                    last = c
                }
            }
        }
        return last == 0x2E
    }

    // MARK: Aggregation

    mutating func aggregate() {
        let elems = tree.elems
        let n = elems.count
        for i in 0..<n {
            let e = elems[i]
            agg[i] = Agg(chars: e.sChars, link10: e.sLink10, commas: e.sCommas, p: Int32(e.sVirtualP),
                         img: Int32(e.sImg), li: 0, input: Int32(e.sInput), embed: Int32(e.sEmbed))
        }
        var i = n - 1
        while i > 0 {
            defer { i -= 1 }
            if state[i] & Self.excludedSelf != 0 { continue }
            let p = Int(elems[i].parent)
            let a = agg[i]
            let tag = elems[i].tag
            agg[p].chars += a.chars
            agg[p].link10 += a.link10
            agg[p].commas += a.commas
            agg[p].p += a.p + (isPLike(i) ? 1 : 0)
            agg[p].img += a.img
            agg[p].li += a.li + (tag == .li ? 1 : 0)
            agg[p].input += a.input
            agg[p].embed += a.embed
            agg[p].head += Tags.has(tag, TagInfo.heading) ? a.chars : a.head
            agg[p].list += Tags.has(tag, TagInfo.list) ? a.chars : a.list
            agg[p].kids += 1
        }
    }

    @inline(__always)
    func isPLike(_ i: Int) -> Bool {
        let e = tree.elems[i]
        return e.tag == .p || (e.tag == .div && !e.flags.contains(.hasBlockChild))
    }

    /// Removes an element during cleaning: its totals leave all its ancestors.
    private mutating func remove(_ i: Int) {
        state[i] |= Self.removed | Self.dead
        let a = agg[i]
        let tag = tree.elems[i].tag
        let pAdd: Int32 = a.p + (isPLike(i) ? 1 : 0)
        let liAdd: Int32 = a.li + (tag == .li ? 1 : 0)
        let head = Tags.has(tag, TagInfo.heading) ? a.chars : a.head
        let list = Tags.has(tag, TagInfo.list) ? a.chars : a.list
        var p = Int(tree.elems[i].parent)
        var first = true
        while p > 0 {
            agg[p].chars -= a.chars
            agg[p].link10 -= a.link10
            agg[p].commas -= a.commas
            agg[p].p -= pAdd
            agg[p].img -= a.img
            agg[p].li -= liAdd
            agg[p].input -= a.input
            agg[p].embed -= a.embed
            agg[p].head -= head
            agg[p].list -= list
            if first { agg[p].kids -= 1; first = false }
            p = Int(tree.elems[p].parent)
        }
    }

    // MARK: Cleaning

    private mutating func refreshDead() {
        let elems = tree.elems
        for r in roots {
            let ri = Int(r)
            for i in (ri + 1)..<Int(elems[ri].end) {
                let p = Int(elems[i].parent)
                if state[i] & (Self.removed | Self.excluded) != 0 || state[p] & Self.dead != 0 {
                    state[i] |= Self.dead
                }
            }
        }
    }

    private mutating func prepare(_ opts: Options) {
        let elems = tree.elems
        if opts.contains(.cleanConditionally) {
            cleanConditionally(opts) { $0 == .form || $0 == .fieldset }
        }
        // Share bars inside each root (descendants only), when short.
        for r in roots {
            let ri = Int(r)
            var i = ri + 1
            let end = Int(elems[ri].end)
            while i < end {
                if state[i] & Self.dead == 0 && elems[i].hint.contains(.share) && agg[i].chars < 500
                    && !elems[i].flags.contains(.holdsEmbed)
                {
                    remove(i)
                    i = Int(elems[i].end)
                    continue
                }
                i += 1
            }
        }
        refreshDead()
        // Headings with a negative class weight.
        if opts.contains(.weightClasses) {
            for r in roots {
                let ri = Int(r)
                for i in ri..<Int(elems[ri].end) {
                    let t = elems[i].tag
                    if (t == .h1 || t == .h2) && elems[i].weight < 0 && state[i] & Self.dead == 0 { remove(i) }
                }
            }
            refreshDead()
        }
        if opts.contains(.cleanConditionally) {
            cleanConditionally(opts) { $0 == .table || $0 == .ul || $0 == .div }
        }
    }

    private mutating func cleanConditionally(_ opts: Options, _ match: (Tag) -> Bool) {
        let elems = tree.elems
        for r in roots {
            let ri = Int(r)
            var i = Int(elems[ri].end) - 1
            // Readability cleans the descendants of the article container; the roots are its children.
            while i >= ri {
                defer { i -= 1 }
                if state[i] & Self.dead != 0 { continue }
                let e = elems[i]
                guard match(e.tag) else { continue }
                // A div without block children was turned into a paragraph; it is not cleaned as a div.
                if e.tag == .div && !e.flags.contains(.hasBlockChild) { continue }
                // Embedded posts (quoted tweets) are part of the article.
                if e.flags.contains(.holdsEmbed) { continue }
                if shouldRemove(i, opts) { remove(i) }
            }
        }
        refreshDead()
    }

    private mutating func shouldRemove(_ i: Int, _ opts: Options) -> Bool {
        let e = tree.elems[i]
        if e.tag == .table && isDataTable(i) { return false }
        if e.flags.contains(.inTableOrCode) && e.tag != .table {
            // Inside a data table or code: kept.
            var p = Int(e.parent)
            while p > 0 {
                if tree.elems[p].tag == .code || tree.elems[p].tag == .pre { return false }
                if tree.elems[p].tag == .table && isDataTable(p) { return false }
                p = Int(tree.elems[p].parent)
            }
        }
        let a = agg[i]
        var isList = e.tag == .ul || e.tag == .ol
        if !isList && a.chars > 0 && Float(a.list) / Float(a.chars) > 0.9 { isList = true }
        let weight = opts.contains(.weightClasses) ? Int(e.weight) : 0
        if weight < 0 { return true }
        if a.commas >= 10 { return false }
        let p = Int(a.p), img = Int(a.img), li = Int(a.li) - 100, input = Int(a.input)
        let headingDensity: Float = a.chars > 0 ? Float(a.head) / Float(a.chars) : 0
        let embed = Int(a.embed)
        let contentLength = Int(a.chars)
        let ld = linkDensity(i)
        let isFigureChild = e.flags.contains(.inFigure)
        let textDensityZero = !e.flags.contains(.textishText)
        var remove = false
        if !isFigureChild && img > 1 && Float(p) / Float(img) < 0.5 { remove = true }
        else if !isList && li > p { remove = true }
        else if input > p / 3 { remove = true }
        else if !isList && !isFigureChild && headingDensity < 0.9 && contentLength < 25 && (img == 0 || img > 2) && ld > 0 {
            remove = true
        }
        else if !isList && weight < 25 && ld > 0.2 { remove = true }
        else if weight >= 25 && ld > 0.5 { remove = true }
        else if (embed == 1 && contentLength < 75) || embed > 1 { remove = true }
        else if img == 0 && textDensityZero { remove = true }
        if isList && remove {
            // A plain list of images is kept.
            let elems = tree.elems
            var j = i + 1
            while j < Int(e.end) {
                if state[j] & Self.dead == 0 && agg[j].kids > 1 { return remove }
                j = Int(elems[j].end)
            }
            if img == Int(a.li) { return false }
        }
        return remove
    }

    /// Tables with headers, captions or many cells hold data, not layout.
    private func isDataTable(_ t: Int) -> Bool {
        let elems = tree.elems
        let e = elems[t]
        if let n = e.node, let role = PageTree.attribute(n, "role"), role == "presentation" { return false }
        var rows = 0, cols = 0, cellsInRow = 0
        var i = t + 1
        while i < Int(e.end) {
            let tag = elems[i].tag
            switch tag {
            case .table: return false
            case .th, .thead, .tfoot, .caption, .col, .colgroup: return true
            case .tr: rows += 1; cols = max(cols, cellsInRow); cellsInRow = 0
            case .td: cellsInRow += 1
            default: break
            }
            i += 1
        }
        cols = max(cols, cellsInRow)
        if rows >= 10 || cols > 4 { return true }
        return rows * cols > 10
    }

    /// Boilerplate that readability keeps but an article's text does not have: captions, figures,
    /// newsletter and cookie boxes, ad slots, comment sections, related-link boxes, author boxes,
    /// post meta lines, screen-reader-only text, article headers.
    private mutating func postClean() {
        let elems = tree.elems
        for r in roots {
            let ri = Int(r)
            var i = ri + 1
            let end = Int(elems[ri].end)
            while i < end {
                let e = elems[i]
                if state[i] & Self.dead != 0 { i = Int(e.end); continue }
                let a = agg[i]
                let h = e.hint
                var drop = false
                switch e.tag {
                case .figcaption: drop = true
                case .figure: drop = a.chars < 400
                case .header: drop = a.chars < 400 && a.p <= 1
                default: break
                }
                if !drop && !h.isEmpty {
                    if h.contains(.comments) { drop = true }
                    else if (h.contains(.newsletter) || h.contains(.consent) || h.contains(.ad)) { drop = a.chars < 1000 }
                    else if h.contains(.caption) { drop = a.chars < 500 }
                    else if h.contains(.related) { drop = a.chars < 1500 || linkDensity(i) > 0.25 }
                    else if h.contains(.byline) { drop = a.chars < 600 }
                }
                if drop && !h.contains(.strongPositive) && !e.flags.contains(.articleBody)
                    && !e.flags.contains(.holdsEmbed)
                {
                    remove(i)
                    i = Int(e.end)
                    continue
                }
                i += 1
            }
        }
        refreshDead()
    }

    /// The amount of text the attempt keeps.
    func keptLength() -> Int {
        var total = 0
        for r in roots {
            let ri = Int(r)
            if state[ri] & Self.dead == 0 { total += Int(agg[ri].chars) }
        }
        return total
    }
}
