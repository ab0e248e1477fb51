import Foundation

/// Closed word classes used to judge differing spans. Lists are lower-case, after normalization.
enum WordLists {
    /// Words that invert a statement. Contractions arrive expanded ("doesn't" -> "does not").
    static let negations: Set<String> = [
        "not", "no", "never", "none", "nobody", "nothing", "nowhere", "neither", "nor", "without", "non",
    ]

    /// Articles: swapping or dropping them never changes a claim.
    static let articles: Set<String> = ["a", "an", "the"]

    /// Function words that may be dropped or added without changing a claim. Deliberately absent: negations,
    /// quantifiers (all, some, most, few, many, more, less, only), modals (may, might, will, can, must), "us".
    static let functionWords: Set<String> = [
        "of", "to", "in", "on", "at", "for", "with", "by", "from", "as", "into", "onto", "upon", "about",
        "and", "that", "this", "these", "those", "which", "who", "whom", "whose", "it", "its",
        "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "has", "have", "had",
        "there", "then", "so", "also", "very", "just", "really", "quite", "rather", "such", "even", "too",
        "thus", "therefore", "however", "indeed", "actually", "simply", "own", "they", "them", "their",
        "we", "our", "i", "you", "your", "he", "she", "his", "her", "him", "one's", "s",
    ]

    /// Spelled-out quantities, multipliers and ordinals; a change in any of them changes a figure.
    static let numberWords: Set<String> = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
        "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands",
        "million", "millions", "billion", "billions", "trillion", "trillions", "dozen", "dozens", "half", "quarter",
        "double", "doubled", "twice", "triple", "tripled", "halved", "percent", "permille", "first", "second",
        "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "once", "thrice",
        "$", "€", "£", "¥", "₹", "₩", "₽", "₿",
    ]

    /// Words that carry a claim although they are not negations or numbers: quantifiers, modals, frequency and
    /// certainty, comparison, condition and contrast, order in time. Dropping one changes what is claimed.
    static let claimWords: Set<String> = [
        "all", "some", "most", "many", "much", "few", "fewer", "more", "less", "least", "only", "every", "each", "any",
        "both", "either", "several", "enough", "whole", "entire", "majority", "minority",
        "always", "often", "sometimes", "usually", "rarely", "seldom", "occasionally", "frequently", "ever", "again",
        "may", "might", "will", "would", "can", "could", "must", "should", "shall", "cannot", "probably", "possibly",
        "likely", "unlikely", "certainly", "definitely", "perhaps", "maybe", "almost", "nearly", "barely", "hardly",
        "roughly", "approximately", "about", "around", "over", "under", "above", "below", "than", "up", "down",
        "before", "after", "since", "until", "still", "yet", "already", "no", "longer", "if", "unless", "but",
        "because", "although", "though", "while", "whether", "or", "against", "despite", "except", "instead",
        "first", "last", "next", "previous", "former", "latter", "new", "old", "same", "different", "other",
        "higher", "lower", "larger", "smaller", "bigger", "better", "worse", "best", "worst", "faster", "slower",
        "increase", "decrease", "rise", "fall", "too",
    ]

    /// A word that may be dropped or added without changing the claim: a plain word (letters only, three or more)
    /// that is no function word (those are judged apart), negation, number or claim word.
    static func isOrdinary(_ word: String) -> Bool {
        word.utf8.count >= 3 && word.unicodeScalars.allSatisfy { $0.properties.isAlphabetic }
            && !negations.contains(word) && !isNumeric(word) && !claimWords.contains(word) && !functionWords.contains(word)
    }

    /// Prefixes that negate the stem they attach to ("likely" / "unlikely", "legal" / "illegal").
    static let negatingPrefixes = ["non", "un", "in", "im", "il", "ir", "dis"]

    static func isNegation(_ word: String) -> Bool { negations.contains(word) }
    static func isArticle(_ word: String) -> Bool { articles.contains(word) }
    static func isFunctionWord(_ word: String) -> Bool { functionWords.contains(word) }

    /// Digits anywhere, a number word, or a currency sign.
    static func isNumeric(_ word: String) -> Bool {
        numberWords.contains(word) || word.unicodeScalars.contains { $0.properties.numericType != nil }
    }

    /// Two different words that are both known negation or number words ("million"/"billion", "no"/"not"), or
    /// both names of places ("Austria"/"Australia", "Slovak"/"Slovene"), are never typos of each other, however
    /// close their spelling.
    static func areDistinctListWords(_ x: String, _ y: String) -> Bool {
        guard x != y else { return false }
        if (negations.contains(x) || numberWords.contains(x)) && (negations.contains(y) || numberWords.contains(y)) { return true }
        return places.contains(x) && places.contains(y)
    }

    /// Continents and countries, with the words for their people, lower-case: the names most often one or two
    /// letters from another place's name.
    static let places: Set<String> = [
        "africa", "african", "america", "american", "americas", "antarctica", "asia", "asian", "europe", "european",
        "oceania", "afghanistan", "afghan", "albania", "albanian", "algeria", "algerian", "andorra", "andorran",
        "angola", "angolan", "argentina", "argentine", "argentinian", "armenia", "armenian", "australia", "australian",
        "austria", "austrian", "azerbaijan", "azerbaijani", "bahamas", "bahamian", "bahrain", "bahraini",
        "bangladesh", "bangladeshi", "barbados", "belarus", "belarusian", "belgium", "belgian", "belize", "benin",
        "bhutan", "bolivia", "bolivian", "bosnia", "bosnian", "botswana", "brazil", "brazilian", "brunei", "bulgaria",
        "bulgarian", "burkina", "burundi", "cambodia", "cambodian", "cameroon", "cameroonian", "canada", "canadian",
        "chad", "chadian", "chile", "chilean", "china", "chinese", "colombia", "colombian", "comoros", "congo",
        "congolese", "croatia", "croatian", "cuba", "cuban", "cyprus", "cypriot", "czechia", "czech", "denmark",
        "danish", "djibouti", "dominica", "dominican", "ecuador", "ecuadorian", "egypt", "egyptian", "eritrea",
        "eritrean", "estonia", "estonian", "eswatini", "ethiopia", "ethiopian", "fiji", "fijian", "finland", "finnish",
        "france", "french", "gabon", "gambia", "gambian", "georgia", "georgian", "germany", "german", "ghana",
        "ghanaian", "greece", "greek", "grenada", "guatemala", "guatemalan", "guinea", "guinean", "guyana",
        "guyanese", "haiti", "haitian", "honduras", "honduran", "hungary", "hungarian", "iceland", "icelandic",
        "india", "indian", "indonesia", "indonesian", "iran", "iranian", "iraq", "iraqi", "ireland", "irish",
        "israel", "israeli", "italy", "italian", "jamaica", "jamaican", "japan", "japanese", "jordan", "jordanian",
        "kazakhstan", "kazakh", "kenya", "kenyan", "kiribati", "korea", "korean", "kosovo", "kuwait", "kuwaiti",
        "kyrgyzstan", "kyrgyz", "laos", "lao", "latvia", "latvian", "lebanon", "lebanese", "lesotho", "liberia",
        "liberian", "libya", "libyan", "liechtenstein", "lithuania", "lithuanian", "luxembourg", "madagascar",
        "malagasy", "malawi", "malawian", "malaysia", "malaysian", "maldives", "mali", "malian", "malta", "maltese",
        "mauritania", "mauritanian", "mauritius", "mexico", "mexican", "micronesia", "moldova", "moldovan", "monaco",
        "mongolia", "mongolian", "montenegro", "morocco", "moroccan", "mozambique", "myanmar", "namibia", "namibian",
        "nauru", "nepal", "nepali", "netherlands", "dutch", "nicaragua", "nicaraguan", "niger", "nigeria", "nigerian",
        "nigerien", "norway", "norwegian", "oman", "omani", "pakistan", "pakistani", "palau", "palestine",
        "palestinian", "panama", "panamanian", "paraguay", "paraguayan", "peru", "peruvian", "philippines",
        "filipino", "poland", "polish", "portugal", "portuguese", "qatar", "qatari", "romania", "romanian", "russia",
        "russian", "rwanda", "rwandan", "samoa", "samoan", "senegal", "senegalese", "serbia", "serbian", "seychelles",
        "singapore", "singaporean", "slovakia", "slovak", "slovenia", "slovene", "slovenian", "somalia", "somali",
        "spain", "spanish", "sudan", "sudanese", "suriname", "sweden", "swedish", "switzerland", "swiss", "syria",
        "syrian", "taiwan", "taiwanese", "tajikistan", "tajik", "tanzania", "tanzanian", "thailand", "thai", "togo",
        "tonga", "tunisia", "tunisian", "turkey", "turkish", "turkmenistan", "turkmen", "tuvalu", "uganda", "ugandan",
        "ukraine", "ukrainian", "uruguay", "uruguayan", "uzbekistan", "uzbek", "vanuatu", "venezuela", "venezuelan",
        "vietnam", "vietnamese", "yemen", "yemeni", "zambia", "zambian", "zimbabwe", "zimbabwean",
    ]

    /// The tokens in `range` equal the same number of tokens right before or right after them.
    static func isRepeatedPhrase(_ tokens: [String], _ range: Range<Int>) -> Bool {
        let n = range.count
        if range.lowerBound - n >= 0 && tokens[(range.lowerBound - n)..<range.lowerBound] == tokens[range] { return true }
        if range.upperBound + n <= tokens.count && tokens[range.upperBound..<(range.upperBound + n)] == tokens[range] { return true }
        return false
    }

    /// A token equal to a neighbour in its own text ("the the", "models models").
    static func isEcho(_ tokens: [String], _ i: Int) -> Bool {
        (i > 0 && tokens[i - 1] == tokens[i]) || (i + 1 < tokens.count && tokens[i + 1] == tokens[i])
    }

    /// One word is the other with a negating prefix, on a stem of at least four letters.
    static func isNegatingPrefixPair(_ x: String, _ y: String) -> Bool {
        let (short, long) = x.count <= y.count ? (x, y) : (y, x)
        guard short.count >= 4 else { return false }
        for prefix in negatingPrefixes where long.count == short.count + prefix.count {
            if long.hasPrefix(prefix) && long.hasSuffix(short) { return true }
        }
        return false
    }
}

/// A bounded typing-error model for single words.
enum Typo {
    /// Whether `y` is a plausible misspelling of `x` (or the reverse).
    ///
    /// Digits never carry typos. Words of `anyEditMinLength`+ characters may differ by one edit of any kind
    /// (insert, delete, substitute, swap adjacent); shorter words (3-4 letters) only by a swap, a dropped or extra
    /// letter (four letters or more), or a slip to a neighbouring key, because a freely substituted letter in a short
    /// word mostly makes another word ("Iran"/"Iraq", "US"/"UK"). Words of `twoEditMinLength`+ characters may
    /// differ by two edits when their first two letters agree ("DeepSeq"/"DeepSeek"; not "increase"/"decrease").
    static func isTypo(_ x: String, _ y: String, thresholds: NearDuplicateThresholds) -> Bool {
        if x == y { return true }
        let a = Array(x.unicodeScalars), b = Array(y.unicodeScalars)
        if a.contains(where: { $0.properties.numericType != nil }) || b.contains(where: { $0.properties.numericType != nil }) {
            return false
        }
        let longer = max(a.count, b.count), shorter = min(a.count, b.count)
        guard shorter >= 2, longer >= 3 else { return false }
        let distance = damerauLevenshtein(a, b, limit: 2)
        if distance == 1 {
            if longer >= thresholds.anyEditMinLength { return true }
            return isShortWordSlip(a, b)
        }
        if distance == 2 && longer >= thresholds.twoEditMinLength && shorter >= thresholds.twoEditMinLength - 1 {
            return a.count >= 2 && b.count >= 2 && a[0] == b[0] && a[1] == b[1]
        }
        return false
    }

    /// One edit in a 3-4 letter word that a typist makes: adjacent swap, dropped or extra letter, neighbour key.
    static func isShortWordSlip(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Bool {
        if a.count == b.count {
            let diffs = (0..<a.count).filter { a[$0] != b[$0] }
            if diffs.count == 2 && diffs[1] == diffs[0] + 1 && a[diffs[0]] == b[diffs[1]] && a[diffs[1]] == b[diffs[0]] {
                return true
            }
            if diffs.count == 1 { return areKeyboardNeighbours(a[diffs[0]], b[diffs[0]]) }
            return false
        }
        // A dropped or extra letter: the longer word keeps four letters or more ("ths"/"this", "teh" is a swap).
        return max(a.count, b.count) >= 4
    }

    static let keyboardRows: [[Character]] = [
        Array("1234567890"), Array("qwertyuiop"), Array("asdfghjkl"), Array("zxcvbnm"),
    ]

    static let keyPositions: [Character: (Int, Int)] = {
        var positions: [Character: (Int, Int)] = [:]
        for (row, keys) in keyboardRows.enumerated() {
            for (column, key) in keys.enumerated() { positions[key] = (row, column) }
        }
        return positions
    }()

    /// QWERTY neighbours: same row one apart, or adjacent rows with the usual half-key stagger.
    static func areKeyboardNeighbours(_ x: Unicode.Scalar, _ y: Unicode.Scalar) -> Bool {
        guard let p = keyPositions[Character(x)], let q = keyPositions[Character(y)] else { return false }
        if p.0 == q.0 { return abs(p.1 - q.1) == 1 }
        guard abs(p.0 - q.0) == 1 else { return false }
        let (upper, lower) = p.0 < q.0 ? (p, q) : (q, p)
        return lower.1 == upper.1 || lower.1 == upper.1 - 1
    }

    /// Optimal-string-alignment distance, stopping early once every path exceeds `limit` (returns limit + 1).
    static func damerauLevenshtein(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar], limit: Int) -> Int {
        if abs(a.count - b.count) > limit { return limit + 1 }
        let n = a.count, m = b.count
        var previous2 = [Int](repeating: 0, count: m + 1)
        var previous = Array(0...m)
        var current = [Int](repeating: 0, count: m + 1)
        for i in 1...max(n, 1) where n > 0 {
            current[0] = i
            var rowMin = current[0]
            for j in 1...max(m, 1) where m > 0 {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    value = min(value, previous2[j - 2] + 1)
                }
                current[j] = value
                rowMin = min(rowMin, value)
            }
            if rowMin > limit { return limit + 1 }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return n == 0 ? m : min(previous[m], limit + 1)
    }
}

/// The edit distance (optimal string alignment: insert, delete, substitute, swap two neighbours) between two
/// strings, counted up to `limit`; anything farther apart is `limit + 1`.
public func editDistance(_ a: String, _ b: String, limit: Int) -> Int {
    Typo.damerauLevenshtein(Array(a.unicodeScalars), Array(b.unicodeScalars), limit: limit)
}
