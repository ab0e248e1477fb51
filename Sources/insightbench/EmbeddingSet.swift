import Foundation
import InsightSemantic

/// The vectors `insightbench semantic` fills its nearest-neighbour index with.
enum EmbeddingSet {
    /// Directions around real sentence embeddings: each vector is the embedding of one of the centre texts plus
    /// Gaussian noise of length σ, σ drawn per vector from `noise` (σ 0.3 keeps a cosine of about 0.96 with the
    /// centre, a close paraphrase; σ 0.9 about 0.74, a loose restatement), then normalised.
    case clustered(centres: [[Float]], noise: ClosedRange<Float>)
    /// Uniformly random directions: no structure at all, the worst case for a sketch pass.
    case random

    var description: String {
        switch self {
        case .clustered(let centres, let noise):
            return "around \(centres.count) real sentence embeddings, noise σ \(noise.lowerBound)–\(noise.upperBound) per vector"
        case .random:
            return "uniformly random directions (worst case)"
        }
    }

    /// The next vector of the set (the same `rng` state gives the same vectors).
    func vector(dimensions: Int, using rng: inout SplitMix64) -> [Float] {
        switch self {
        case .clustered(let centres, let noise):
            let centre = centres[Int(rng.next() % UInt64(centres.count))]
            return Self.around(centre, sigma: Float.random(in: noise, using: &rng), using: &rng)
        case .random:
            return Self.normalised((0..<dimensions).map { _ in Self.gaussian(using: &rng) })
        }
    }

    /// `centre` plus Gaussian noise of expected length `sigma`, normalised.
    static func around(_ centre: [Float], sigma: Float, using rng: inout SplitMix64) -> [Float] {
        let perDimension = sigma / Float(centre.count).squareRoot()
        return normalised(centre.map { $0 + perDimension * gaussian(using: &rng) })
    }

    /// Close to a standard normal: a sum of four uniforms, scaled to variance 1.
    static func gaussian(using rng: inout SplitMix64) -> Float {
        var sum: Float = 0
        for _ in 0..<4 { sum += Float.random(in: -1...1, using: &rng) }
        return sum * 0.866_025_4
    }

    static func normalised(_ v: [Float]) -> [Float] {
        let norm = v.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }

    /// `count` different insight-like sentences across many topics, in a seeded random order.
    static func texts(_ count: Int, seed: UInt64 = 0x5EED) -> [String] {
        let subjects = [
            "Teams that write decisions down", "People who sleep seven hours", "Companies that raise prices slowly",
            "Students who explain a topic aloud", "Investors who rebalance once a year", "Cities that plant street trees",
            "Managers who hold shorter meetings", "Writers who revise the next morning", "Runners who train at an easy pace",
            "Gardeners who water deeply but rarely", "Bakers who weigh their flour", "Parents who read to toddlers every night",
            "Doctors who follow a checklist in surgery", "Programmers who write tests first", "Farmers who rotate their crops",
            "Musicians who practise slowly", "Chess players who review their losses", "Hospitals that publish their error rates",
            "Shops that answer complaints within a day", "Engineers who review each other's code", "Languages learners who speak from day one",
            "Cyclists who commute all winter", "Restaurants with short menus", "Schools that start an hour later",
            "Volunteers who are thanked in person", "Pilots who brief the whole crew", "Libraries that stay open late",
            "Households that cook at home", "Startups that talk to customers weekly", "Climbers who rest between attempts",
            "Historians who read the original letters", "Nurses who work fixed shifts", "Drivers who leave ten minutes early",
            "Scientists who preregister their studies", "Towns that build protected bike lanes", "Designers who test with real users",
            "Teachers who give feedback the same day", "Families that eat dinner together", "Athletes who stretch after training",
            "Editors who cut the first paragraph",
        ]
        let claims = [
            "make fewer costly mistakes over the following year", "remember twice as much a week later",
            "keep more of their customers when markets turn", "recover faster from setbacks than their peers",
            "report higher satisfaction in long-term surveys", "spend less time fixing the same problems again",
            "get injured less often", "save more money than they expected", "see fewer accidents on their streets",
            "finish projects closer to the deadline they set", "lose fewer plants in a dry summer", "produce bread that rises more evenly",
            "have children with larger vocabularies", "cut complications by a third", "ship software with fewer outages",
            "improve their yields over a decade", "play difficult passages more cleanly", "climb the rankings faster",
            "are trusted more by their patients", "find more defects before release", "reach fluency months sooner",
            "arrive less stressed", "waste less food", "see better grades in the first lessons", "stay with the charity for years",
            "make fewer errors in bad weather", "draw more readers from poorer neighbourhoods", "eat more vegetables",
            "build products people actually want", "send harder routes", "find details that summaries miss",
            "make fewer medication errors", "are almost never late", "publish results that replicate more often",
            "double the number of people cycling", "fix usability problems before launch", "correct misconceptions early",
            "report feeling closer to each other", "are more flexible in old age", "keep readers past the first page",
        ]
        let reasons = [
            "because the habit forces them to state their assumptions", "since small, regular feedback compounds over time",
            "as several independent studies from different countries found", "according to a decade of data from thousands of cases",
            "because rested people make better judgements", "since attention is the scarcest resource they have",
            "as a long trial with a control group showed", "because the cost of a mistake is seen early",
            "since habits are easier to keep than resolutions", "as the effect held in every age group studied",
            "because it removes a step where things go wrong", "though the effect fades after a few years",
            "but only when the practice is kept up", "which surprised the researchers who ran the study",
            "because people copy what they see others do", "since the slow part is rarely the one that matters",
            "as measured in a survey of ten thousand people", "because it makes the invisible work visible",
            "since trust builds on many small kept promises", "according to records kept over thirty years",
        ]
        var rng = SplitMix64(seed: seed)
        var seen = Set<Int>()
        var out: [String] = []
        let total = subjects.count * claims.count * reasons.count
        while out.count < min(count, total) {
            let n = Int(rng.next() % UInt64(total))
            guard seen.insert(n).inserted else { continue }
            let s = n % subjects.count, c = (n / subjects.count) % claims.count, r = n / (subjects.count * claims.count)
            out.append("\(subjects[s]) \(claims[c]), \(reasons[r]).")
        }
        return out
    }
}
