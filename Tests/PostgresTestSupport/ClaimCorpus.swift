/// Generated insight texts for tests of many writers: claims far apart from one another, and other wordings of
/// each (one typo) that near-duplicate detection merges into it.
public enum ClaimCorpus {
    static let slots: [[String]] = [
        ["Berlin", "Lagos", "Osaka", "Lima", "Oslo", "Austin", "Nairobi", "Lyon", "Hanoi", "Quito", "Perth", "Krakow", "Seville", "Dakar", "Tbilisi", "Bergen"],
        ["landlords", "farmers", "teachers", "startups", "hospitals", "retailers", "pensioners", "students", "bakeries", "shipyards", "courts", "libraries", "airlines", "dentists", "breweries", "foundries"],
        ["quietly", "rapidly", "reluctantly", "eagerly", "openly", "gradually", "suddenly", "cautiously", "stubbornly", "cheaply", "lavishly", "jointly", "secretly", "boldly", "patiently", "clumsily"],
        ["replaced", "doubled", "abandoned", "automated", "outsourced", "rationed", "subsidised", "rebuilt", "licensed", "insured", "audited", "merged", "digitised", "unionised", "relocated", "redesigned"],
        ["their ledgers", "night shifts", "delivery routes", "waiting lists", "supply contracts", "apprenticeships", "pricing models", "cooling systems", "loyalty schemes", "hiring rules", "warehouse space", "tax filings", "spare parts", "training budgets", "water rights", "solar roofs"],
        ["after the floods", "during the strike", "once rents rose", "when fuel spiked", "after the merger", "despite the ban", "before the election", "amid the drought", "after the audit", "during the boom", "once tariffs fell", "after the scandal", "during the heatwave", "when rates climbed", "after the census", "despite the protests"],
        ["surprising economists", "angering regulators", "pleasing investors", "confusing customers", "worrying unions", "delighting tourists", "alarming insurers", "splitting voters", "baffling analysts", "calming lenders", "irritating neighbours", "impressing auditors", "exhausting managers", "inspiring rivals", "frustrating suppliers", "reassuring parents"],
    ]

    /// Claim number `n`: the same text for the same `n` in every process.
    public static func claim(_ n: Int) -> String {
        var state = UInt64(n) &* 0x9E37_79B9_7F4A_7C15 &+ 0x1234_5678
        var words: [String] = []
        for slot in slots {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            words.append(slot[Int((state >> 33) % UInt64(slot.count))])
        }
        return "In \(words[0]), \(words[1]) \(words[2]) \(words[3]) \(words[4]) \(words[5]), \(words[6]) across the region."
    }

    /// Another wording of `text`: one letter dropped from its longest word, as a typo would.
    public static func variant(of text: String) -> String {
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard let longest = words.indices.max(by: { words[$0].count < words[$1].count }) else { return text }
        var word = Array(words[longest])
        word.remove(at: word.count / 2)
        var changed = words
        changed[longest] = String(word)
        return changed.joined(separator: " ")
    }
}
