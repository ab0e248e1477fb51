/// The HTML elements the extractor tells apart. Everything else is `.other` (treated as inline).
enum Tag: UInt8 {
    case other = 0
    case root
    // inline
    case a, span, b, i, em, strong, font, small, sup, sub, u, label, time, code, abbr, cite, q, mark, img
    // block containers
    case html, body, div, section, article, main, header, footer, nav, aside, form, fieldset, figure, figcaption
    case details, summary, center, address, hgroup, blockquote, dialog, menu, legend
    // paragraph-like
    case p, pre, h1, h2, h3, h4, h5, h6, li, ul, ol, dl, dt, dd
    case table, tbody, thead, tfoot, tr, td, th, caption, col, colgroup
    case br, hr
    // dropped with everything inside
    case head, title, meta, link, base, script, style, noscript, template, svg, math, canvas, iframe, object, embed
    case video, audio, picture, source, track, param, select, option, optgroup, textarea, button, input, map, area
    case frame, frameset, datalist, output, progress, meter
}

struct TagInfo {
    /// Starts and ends a text block (a line box of its own).
    static let block: UInt64 = 1 << 0
    /// Skipped with all its content.
    static let drop: UInt64 = 1 << 1
    /// Counts as a block child for the div-to-paragraph rule.
    static let divToP: UInt64 = 1 << 2
    /// "Textish" for text density.
    static let textish: UInt64 = 1 << 3
    static let heading: UInt64 = 1 << 4
    static let list: UInt64 = 1 << 5
}

enum Tags {
    /// Properties indexed by `Tag.rawValue`.
    static let props: [UInt64] = {
        var p = [UInt64](repeating: 0, count: 256)
        let blocks: [Tag] = [
            .root, .html, .body, .div, .section, .article, .main, .header, .footer, .nav, .aside, .form, .fieldset,
            .figure, .figcaption, .details, .summary, .center, .address, .hgroup, .blockquote, .dialog, .menu,
            .legend, .p, .pre, .h1, .h2, .h3, .h4, .h5, .h6, .li, .ul, .ol, .dl, .dt, .dd, .table, .tbody, .thead,
            .tfoot, .tr, .caption, .hr,
        ]
        // Table cells are not blocks: a row is one line, its cells separated by tabs.
        for t in blocks { p[Int(t.rawValue)] |= TagInfo.block }
        let drops: [Tag] = [
            .head, .title, .meta, .link, .base, .script, .style, .noscript, .template, .svg, .math, .canvas, .iframe,
            .object, .embed, .video, .audio, .picture, .source, .track, .param, .select, .option, .optgroup,
            .textarea, .button, .input, .map, .area, .frame, .frameset, .datalist, .output, .progress, .meter,
        ]
        for t in drops { p[Int(t.rawValue)] |= TagInfo.drop }
        let divToP: [Tag] = [
            .blockquote, .dl, .div, .img, .ol, .p, .pre, .table, .ul, .section, .article, .main, .header, .footer,
            .nav, .aside, .form, .fieldset, .figure, .h1, .h2, .h3, .h4, .h5, .h6, .hr, .details, .address, .center,
            .menu, .hgroup,
        ]
        for t in divToP { p[Int(t.rawValue)] |= TagInfo.divToP }
        let textish: [Tag] = [.span, .li, .td, .blockquote, .dl, .div, .img, .ol, .p, .pre, .table, .ul]
        for t in textish { p[Int(t.rawValue)] |= TagInfo.textish }
        for t in [Tag.h1, .h2, .h3, .h4, .h5, .h6] { p[Int(t.rawValue)] |= TagInfo.heading }
        for t in [Tag.ul, .ol] { p[Int(t.rawValue)] |= TagInfo.list }
        return p
    }()

    /// Tag names packed little-endian into a UInt64 (names of up to 8 bytes), to their tags.
    static let byPackedName: [UInt64: Tag] = {
        let names: [(String, Tag)] = [
            ("a", .a), ("span", .span), ("b", .b), ("i", .i), ("em", .em), ("strong", .strong), ("font", .font),
            ("small", .small), ("sup", .sup), ("sub", .sub), ("u", .u), ("label", .label), ("time", .time),
            ("code", .code), ("abbr", .abbr), ("cite", .cite), ("q", .q), ("mark", .mark), ("img", .img),
            ("html", .html), ("body", .body), ("div", .div), ("section", .section), ("article", .article),
            ("main", .main), ("header", .header), ("footer", .footer), ("nav", .nav), ("aside", .aside),
            ("form", .form), ("fieldset", .fieldset), ("figure", .figure), ("details", .details),
            ("summary", .summary), ("center", .center), ("address", .address), ("hgroup", .hgroup),
            ("dialog", .dialog), ("menu", .menu), ("legend", .legend), ("p", .p), ("pre", .pre), ("h1", .h1),
            ("h2", .h2), ("h3", .h3), ("h4", .h4), ("h5", .h5), ("h6", .h6), ("li", .li), ("ul", .ul), ("ol", .ol),
            ("dl", .dl), ("dt", .dt), ("dd", .dd), ("table", .table), ("tbody", .tbody), ("thead", .thead),
            ("tfoot", .tfoot), ("tr", .tr), ("td", .td), ("th", .th), ("caption", .caption), ("col", .col),
            ("colgroup", .colgroup), ("br", .br), ("hr", .hr), ("head", .head), ("title", .title), ("meta", .meta),
            ("link", .link), ("base", .base), ("script", .script), ("style", .style), ("noscript", .noscript),
            ("template", .template), ("svg", .svg), ("math", .math), ("canvas", .canvas), ("iframe", .iframe),
            ("object", .object), ("embed", .embed), ("video", .video), ("audio", .audio), ("picture", .picture),
            ("source", .source), ("track", .track), ("param", .param), ("select", .select), ("option", .option),
            ("optgroup", .optgroup), ("textarea", .textarea), ("button", .button), ("input", .input),
            ("map", .map), ("area", .area), ("frame", .frame), ("frameset", .frameset), ("datalist", .datalist),
            ("output", .output), ("progress", .progress), ("meter", .meter),
            // Longer names, matched on their first eight bytes plus the length check below.
            ("blockquote", .blockquote), ("figcaption", .figcaption),
        ]
        var d = [UInt64: Tag]()
        for (name, tag) in names {
            var key: UInt64 = 0
            for (k, byte) in name.utf8.prefix(8).enumerated() { key |= UInt64(byte) << (8 * UInt64(k)) }
            d[key] = tag
        }
        return d
    }()

    @inline(__always)
    static func tag(_ name: UnsafePointer<UInt8>) -> Tag {
        var key: UInt64 = 0
        var k = 0
        while k < 8 {
            let c = name[k]
            if c == 0 { break }
            key |= UInt64(c | (c >= 0x41 && c <= 0x5A ? 0x20 : 0)) << (8 * UInt64(k))
            k += 1
        }
        if k == 8 && name[8] != 0 {
            // Only "blockquote" and "figcaption" are longer than eight bytes.
            guard name[9] != 0, name[10] == 0, let t = byPackedName[key], t == .blockquote || t == .figcaption
            else { return .other }
            return t
        }
        guard let t = byPackedName[key] else { return .other }
        return (t == .blockquote || t == .figcaption) ? .other : t
    }

    @inline(__always) static func has(_ t: Tag, _ bit: UInt64) -> Bool { props[Int(t.rawValue)] & bit != 0 }
}
