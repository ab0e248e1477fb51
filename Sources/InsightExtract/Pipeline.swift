/// Ties the steps together: exclusions known up front, content selection, text, metadata.
enum Pipeline {
    static func run(_ tree: PageTree, _ meta: Metadata) -> ExtractedArticle {
        let elems = tree.elems
        let n = elems.count
        // Static subtree character counts.
        var total = [Int32](repeating: 0, count: n)
        var link10 = [Int32](repeating: 0, count: n)
        for i in 0..<n { total[i] = elems[i].sChars; link10[i] = elems[i].sLink10 }
        var i = n - 1
        while i > 0 {
            let p = Int(elems[i].parent)
            total[p] += total[i]
            link10[p] += link10[i]
            i -= 1
        }

        var excluded: [Int32] = []
        // Screen-reader-only text, and hover cards full of links (the innermost such box, so that a
        // wrapper that also holds the linked name keeps the name).
        var popup = [Bool](repeating: false, count: n)
        var k = n - 1
        while k > 0 {
            let h = elems[k].hint
            if h.contains(.popup) && total[k] >= 40 && link10[k] >= total[k] * 5 {
                var inner = false
                for d in (k + 1)..<Int(elems[k].end) where popup[d] { inner = true; break }
                if !inner { popup[k] = true }
            }
            k -= 1
        }
        k = 1
        while k < n {
            if elems[k].hint.contains(.hidden) || popup[k] {
                excluded.append(Int32(k))
                k = Int(elems[k].end)
                continue
            }
            k += 1
        }
        // The first short byline element.
        var bylineText: String? = nil
        for k in 1..<n where elems[k].flags.contains(.byline) && total[k] > 0 && total[k] < 100 {
            excluded.append(Int32(k))
            bylineText = TextBuilder.text(of: k, in: tree)
            break
        }
        // The first h1/h2 that repeats the title.
        let titles = meta.titleVariants
        if !titles.isEmpty {
            var looked = 0
            for k in 1..<n where looked < 20 {
                let t = elems[k].tag
                guard t == .h1 || t == .h2, total[k] > 0 else { continue }
                looked += 1
                let text = TextBuilder.text(of: k, in: tree)
                if titles.contains(where: { Similarity.textSimilarity($0, text) > 0.75 }) {
                    excluded.append(Int32(k))
                    break
                }
            }
        }

        var selector = ContentSelector(tree: tree, alwaysExcluded: excluded, totalChars: total)
        let (roots, state) = selector.run()
        var keep = [Bool](repeating: false, count: n)
        for r in roots {
            let ri = Int(r)
            for k in ri..<Int(elems[ri].end) where state[k] & ContentSelector.dead == 0 {
                keep[k] = keep[k] || k == ri || keep[Int(elems[k].parent)]
            }
        }
        let paras = TextBuilder.paragraphs(tree, keep: keep)
        var paragraphs: [String] = []
        paragraphs.reserveCapacity(paras.count)
        for (k, p) in paras.enumerated() {
            // A leading paragraph that is the headline.
            if k == 0 && titles.contains(where: { Similarity.textSimilarity($0, p.text) > 0.9 }) { continue }
            // Mostly links: related-article teasers, "Read more: ..." lines, link lists.
            if p.chars > 0 && Double(p.link10) / 10 / Double(p.chars) > Tuning.paragraphLinkDensity { continue }
            if p.text.utf8.count < 400 && Boilerplate.isBoilerplate(p.text) { continue }
            // Separators ("* * *", "___") and other lines without a letter or digit.
            if !p.text.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) {
                continue
            }
            paragraphs.append(p.text)
        }

        var article = ExtractedArticle()
        article.title = meta.title ?? firstHeading(tree)
        article.byline = (meta.byline ?? bylineText).map(cleanByline)
        article.published = meta.published
        article.siteName = meta.siteName
        article.language = meta.language
        article.canonicalURL = meta.canonicalURL
        article.paragraphs = paragraphs
        return article
    }

    static func firstHeading(_ tree: PageTree) -> String? {
        for k in 1..<tree.elems.count where tree.elems[k].tag == .h1 {
            let t = TextBuilder.text(of: k, in: tree)
            if !t.isEmpty { return t }
        }
        return nil
    }

    static func cleanByline(_ s: String) -> String {
        var t = Substring(s)
        for prefix in ["By ", "by ", "BY ", "By: ", "Por ", "Von "] where t.hasPrefix(prefix) { t = t.dropFirst(prefix.count) }
        return String(t)
    }
}

enum Similarity {
    /// Readability's title similarity: 1 - (length of B's words missing from A) / (length of B's words).
    static func textSimilarity(_ a: String, _ b: String) -> Double {
        let ta = tokens(a), tb = tokens(b)
        if ta.isEmpty || tb.isEmpty { return 0 }
        let setA = Set(ta)
        let uniqB = tb.filter { !setA.contains($0) }
        let distance = Double(uniqB.joined(separator: " ").count) / Double(tb.joined(separator: " ").count)
        return 1 - distance
    }

    static func tokens(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init)
    }
}
