/// What the `class` and `id` attributes of an element suggest, as a bit set of pattern groups.
/// Patterns are lower-case substrings, as in the usual readability heuristics.
struct Hint: OptionSet, Hashable {
    let rawValue: UInt32
    static let negative = Hint(rawValue: 1 << 0)
    static let positive = Hint(rawValue: 1 << 1)
    static let unlikely = Hint(rawValue: 1 << 2)
    static let maybe = Hint(rawValue: 1 << 3)
    static let byline = Hint(rawValue: 1 << 4)
    static let share = Hint(rawValue: 1 << 5)
    static let comments = Hint(rawValue: 1 << 6)
    static let ad = Hint(rawValue: 1 << 7)
    static let newsletter = Hint(rawValue: 1 << 8)
    static let caption = Hint(rawValue: 1 << 9)
    static let related = Hint(rawValue: 1 << 10)
    static let consent = Hint(rawValue: 1 << 11)
    static let hidden = Hint(rawValue: 1 << 12)
    static let meta = Hint(rawValue: 1 << 13)
    static let strongPositive = Hint(rawValue: 1 << 14)
    /// An embedded social-media post (a quoted tweet or Instagram post), which is part of the article.
    static let embed = Hint(rawValue: 1 << 15)
    /// Hover cards and tooltips: text shown on demand, not part of the flow.
    static let popup = Hint(rawValue: 1 << 16)
}

enum Hints {
    /// (pattern, groups). "hid" as a whole word is handled separately.
    static let patterns: [(String, Hint)] = [
        // Negative weight (readability's list).
        ("-ad-", [.negative, .unlikely, .ad]), ("hidden", [.negative]), ("banner", [.negative, .unlikely]),
        ("combx", [.negative, .unlikely]), ("comment", [.negative, .unlikely, .comments]), ("com-", [.negative]),
        ("contact", [.negative]), ("footer", [.negative, .unlikely]), ("gdpr", [.negative, .unlikely, .consent]),
        ("masthead", [.negative]), ("media", [.negative]), ("meta", [.negative, .meta]),
        ("outbrain", [.negative, .related]), ("promo", [.negative, .ad]), ("related", [.negative, .unlikely, .related]),
        ("scroll", [.negative]), ("share", [.negative, .share]), ("shoutbox", [.negative, .unlikely]),
        ("sidebar", [.negative, .unlikely]), ("skyscraper", [.negative, .unlikely, .ad]),
        ("sponsor", [.negative, .unlikely, .ad]), ("shopping", [.negative]), ("tags", [.negative]),
        ("widget", [.negative]),
        // Unlikely candidates.
        ("ai2html", [.unlikely]), ("breadcrumbs", [.unlikely]), ("community", [.unlikely]),
        ("cover-wrap", [.unlikely]), ("disqus", [.unlikely, .comments]), ("extra", [.unlikely]),
        ("header", [.unlikely]), ("legends", [.unlikely]), ("menu", [.unlikely]), ("remark", [.unlikely]),
        ("replies", [.unlikely, .comments]), ("rss", [.unlikely]), ("social", [.unlikely, .share]),
        ("supplemental", [.unlikely]), ("ad-break", [.unlikely, .ad]), ("agegate", [.unlikely]),
        ("pagination", [.unlikely, .positive]), ("pager", [.unlikely]), ("popup", [.unlikely]),
        ("yom-remote", [.unlikely]),
        // Maybe a candidate after all.
        ("and", [.maybe]), ("article", [.maybe, .positive]), ("body", [.maybe, .positive]), ("column", [.maybe]),
        ("content", [.maybe, .positive]), ("main", [.maybe, .positive]), ("mathjax", [.maybe]),
        ("shadow", [.maybe]),
        // Positive weight.
        ("entry", [.positive]), ("hentry", [.positive]), ("h-entry", [.positive]), ("page", [.positive]),
        ("post", [.positive]), ("text", [.positive]), ("blog", [.positive]), ("story", [.positive]),
        // Bylines.
        ("byline", [.byline]), ("author", [.byline]), ("dateline", [.byline]), ("writtenby", [.byline]),
        ("p-author", [.byline]),
        // Finer groups used by the boilerplate filter.
        ("sharedaddy", [.share]), ("addthis", [.share]), ("sharing", [.share]), ("share-", [.share]),
        ("respond", [.comments]), ("advert", [.ad]), ("adslot", [.ad]), ("ad-slot", [.ad]), ("adunit", [.ad]),
        ("ad-unit", [.ad]), ("ad-container", [.ad]), ("ad-wrapper", [.ad]), ("dfp", [.ad]),
        ("newsletter", [.newsletter]), ("subscribe", [.newsletter]), ("signup", [.newsletter]),
        ("sign-up", [.newsletter]), ("caption", [.caption]), ("credit", [.caption]),
        ("recommend", [.related]), ("more-stories", [.related]), ("read-more", [.related]),
        ("readmore", [.related]), ("most-popular", [.related]), ("trending", [.related]), ("most-read", [.related]),
        ("mostread", [.related]), ("popular", [.related]), ("carousel", [.related]), ("swiper", [.related]),
        ("cookie", [.consent]), ("consent", [.consent]), ("visually-hidden", [.hidden]), ("sr-only", [.hidden]),
        ("screen-reader", [.hidden]), ("visuallyhidden", [.hidden]), ("tooltip", [.popup]), ("popover", [.popup]),
        ("hovercard", [.popup]), ("rollover", [.popup]),
        ("articlebody", [.strongPositive]), ("article-body", [.strongPositive]), ("article__body", [.strongPositive]),
        ("article-content", [.strongPositive]), ("entry-content", [.strongPositive]),
        ("post-content", [.strongPositive]), ("story-body", [.strongPositive]), ("post-body", [.strongPositive]),
        ("article_body", [.strongPositive]), ("articlecontent", [.strongPositive]),
        ("story-content", [.strongPositive]), ("article-text", [.strongPositive]),
        ("twitter-tweet", [.embed]), ("instagram-media", [.embed]), ("tiktok-embed", [.embed]),
        ("twitter-video", [.embed]),
    ]

    /// Patterns grouped by first byte.
    static let byFirstByte: [[([UInt8], Hint)]] = {
        var t = [[([UInt8], Hint)]](repeating: [], count: 256)
        for (s, h) in patterns {
            let bytes = Array(s.utf8)
            t[Int(bytes[0])].append((bytes, h))
        }
        return t
    }()

    /// The hint groups matched by an attribute value (compared case-insensitively).
    static func classify(_ value: UnsafePointer<UInt8>, _ length: Int) -> Hint {
        if length == 0 { return [] }
        // Lower-case into a bounded local buffer.
        let n = min(length, 512)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: n + 1) { buf -> Hint in
            for k in 0..<n {
                let c = value[k]
                buf[k] = (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
            }
            buf[n] = 0
            var h: Hint = []
            for i in 0..<n {
                let bucket = byFirstByte[Int(buf[i])]
                if bucket.isEmpty { continue }
                for (pat, groups) in bucket where i + pat.count <= n {
                    var ok = true
                    for k in 1..<pat.count where buf[i + k] != pat[k] { ok = false; break }
                    if ok { h.formUnion(groups) }
                }
            }
            // "hid" as a whole word.
            var i = 0
            while i + 3 <= n {
                if buf[i] == 0x68, buf[i + 1] == 0x69, buf[i + 2] == 0x64,
                   i == 0 || buf[i - 1] == 0x20, i + 3 == n || buf[i + 3] == 0x20 {
                    h.insert(.negative)
                }
                i += 1
            }
            return h
        }
    }
}

/// A per-document cache of `Hints.classify`, keyed by an FNV-1a hash of the value.
struct HintCache {
    private var table: [UInt64: Hint] = [:]

    mutating func hint(_ value: UnsafePointer<UInt8>, _ length: Int, hash: UInt64) -> Hint {
        if let h = table[hash] { return h }
        let h = Hints.classify(value, length)
        table[hash] = h
        return h
    }

    @inline(__always)
    static func fnv(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for k in 0..<n { h = (h ^ UInt64(p[k])) &* 0x100_0000_01b3 }
        return h
    }
}
