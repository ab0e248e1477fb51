/// Thresholds of the content selection that are not readability's own.
enum Tuning {
    /// A paragraph whose text is more than this share link text is a teaser or a link list.
    static let paragraphLinkDensity = 0.75
    /// Descend from the top candidate to an inner candidate with this share of its score and of its text.
    static let descendScore: Float = 0.75
    static let descendChars: Float = 0.8
}

/// Short paragraphs that are page furniture rather than article text, recognised by their wording:
/// calls to subscribe, follow or share, "read more" teasers, cookie and affiliate notices, copyright
/// lines, wire-service credit lines, post meta lines, and lines that only give a date.
enum Boilerplate {
    /// Lower-cased openings of furniture paragraphs.
    static let openings: [String] = [
        "sign up for", "sign up to", "subscribe to", "subscribe now",
        "follow us", "follow him on", "follow her on", "follow them on", "follow @", "like this story",
        "share this", "share on", "read more:", "read more ", "related:", "related articles", "see also:",
        "also read", "also see:", "don't miss", "don’t miss", "recommended:", "more:", "get the latest",
        "join our", "this website uses cookies", "we use cookies", "this site uses cookies", "by using this site",
        "this post may contain affiliate", "this article may contain affiliate", "(reporting by", "reporting by",
        "writing by", "editing by", "citation:", "copyright", "©", "all rights reserved", "have a tip?",
        "listen to", "watch:", "watch the video", "download the", "get breaking news", "let our news meet",
        "leia também", "leia mais", "veja também", "lea también", "lire aussi", "leggi anche", "(leggi anche",
        "lesen sie auch", "mehr zum thema", "posted in", "filed under", "tags:", "tagged:", "tagged with",
        "categories:", "category:", "listen:", "download:", "reading time", "tempo de leitura", "tiempo de lectura",
        "temps de lecture", "lesezeit",
    ]

    /// Phrases that make a short paragraph furniture wherever they appear in it.
    static let phrases: [String] = [
        "follow us on", "follow him on", "follow her on", "follow them on", "follow me on", "follow him @",
        "follow her @", "sign up for our", "subscribe to our", "reach the reporter", "if you enjoyed this article",
        "share this article", "share this story", "click here",
    ]

    static let endings: [String] = [
        "contributed to this report.", "contributed to this story.", "contributed reporting.",
        "all rights reserved.", "all rights reserved", "min read", "mins read", "minute read", "minutes read",
    ]

    /// Whole paragraphs that are ad-slot labels or loading placeholders.
    static let labels: Set<String> = [
        "advertisement", "advertisements", "advertising", "ad", "sponsored", "sponsored content", "publicidad",
        "publicidade", "anzeige", "werbung", "publicité", "pubblicità", "реклама", "广告", "loading", "loading...",
        "loading…",
    ]

    static let openingBytes: [[UInt8]] = openings.map { Array($0.utf8) }
    static let endingBytes: [[UInt8]] = endings.map { Array($0.utf8) }
    static let phraseBytes: [[UInt8]] = phrases.map { Array($0.utf8) }

    static func isBoilerplate(_ text: String) -> Bool {
        var utf8 = Array(text.utf8)
        for k in utf8.indices where utf8[k] >= 0x41 && utf8[k] <= 0x5A { utf8[k] |= 0x20 }
        if utf8.count <= 24 && labels.contains(String(decoding: utf8, as: UTF8.self).lowercased()) { return true }
        for o in openingBytes where utf8.count >= o.count && utf8[0..<o.count].elementsEqual(o) { return true }
        for e in endingBytes where utf8.count >= e.count && utf8[(utf8.count - e.count)...].elementsEqual(e) {
            return true
        }
        if utf8.count < 250 {
            for p in phraseBytes where contains(utf8, p) { return true }
        }
        // An unrendered WordPress shortcode: "[button link=...]Text[/button]".
        if utf8.first == 0x5B && contains(utf8, [0x5B, 0x2F]) { return true }
        if utf8.count < 130 && (hasYear(utf8) || hasTime(utf8)) && isDateLine(String(decoding: utf8, as: UTF8.self)) {
            return true
        }
        return false
    }

    static func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count, let first = needle.first else { return false }
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == first && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// A clock time such as 1:23 or 11:05.
    static func hasTime(_ b: [UInt8]) -> Bool {
        guard b.count >= 4 else { return false }
        for k in 1..<(b.count - 2) where b[k] == 0x3A {
            let d = { (c: UInt8) in c >= 0x30 && c <= 0x39 }
            if d(b[k - 1]) && d(b[k + 1]) && d(b[k + 2]) { return true }
        }
        return false
    }

    /// Four digits that could be a year.
    static func hasYear(_ b: [UInt8]) -> Bool {
        var run = 0
        for (k, c) in b.enumerated() {
            if c >= 0x30 && c <= 0x39 {
                run += 1
                if run == 4 && (b[k - 3] == 0x31 && b[k - 2] == 0x39 || b[k - 3] == 0x32 && b[k - 2] == 0x30) { return true }
            } else {
                run = 0
            }
        }
        return false
    }

    static let months: Set<String> = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "january",
        "february", "march", "april", "june", "july", "august", "september", "october", "november", "december",
        "janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
        "novembro", "dezembro", "enero", "febrero", "marzo", "mayo", "junio", "julio", "septiembre", "octubre",
        "noviembre", "diciembre", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
        "septembre", "octobre", "novembre", "décembre", "januar", "februar", "märz", "juni", "juli", "oktober",
        "dezember", "gennaio", "febbraio", "aprile", "maggio", "giugno", "luglio", "settembre", "ottobre",
        "dicembre",
    ]

    static let dateWords: Set<String> = [
        "updated", "published", "posted", "modified", "last", "on", "at", "am", "pm", "et", "est", "edt", "cst",
        "cdt", "pst", "pdt", "gmt", "utc", "bst", "cet", "ist", "de", "às", "the", "original", "publicado",
        "atualizado", "em", "por", "by", "le", "am", "um", "uhr", "il", "del", "a", "la", "monday", "tuesday",
        "wednesday", "thursday", "friday", "saturday", "sunday", "segunda", "feira", "terça", "quarta", "quinta",
        "sexta", "sábado", "domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "lundi", "mardi",
        "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "montag", "dienstag", "mittwoch", "donnerstag",
        "freitag", "samstag", "sonntag", "ago", "hours", "hour", "minutes", "days", "day", "time", "read", "min",
        "p", "m", "today", "yesterday", "à", "jour",
    ]

    /// A line made of a date or a time (a year, a numeric date, a clock time) and date-ish words only.
    static func isDateLine(_ lower: String) -> Bool {
        let words = lower.split(whereSeparator: { !($0.isLetter || $0.isNumber) })
        if words.isEmpty || words.count > 16 { return false }
        var hasYear = false
        var other = 0
        var stamp = false  // "updated", "published", "posted", ...
        for w in words {
            if w.allSatisfy(\.isNumber) {
                if w.count == 4, let y = Int(w), y >= 1990 && y <= 2100 { hasYear = true }
                continue
            }
            if stampWords.contains(String(w)) { stamp = true }
            let s = String(w)
            if months.contains(s) || dateWords.contains(s) { continue }
            if s.count <= 2, s.first?.isNumber == true { continue }  // 1st, 2nd, 19h
            other += 1
        }
        return (hasYear || stamp) && other <= 1
    }

    static let stampWords: Set<String> = [
        "updated", "published", "posted", "modified", "publicado", "atualizado", "actualizado", "publié", "mis",
        "aktualisiert", "veröffentlicht", "pubblicato", "aggiornato",
    ]
}
