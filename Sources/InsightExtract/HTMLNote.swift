import InsightCore

/// A dropped `.html` file: an article saved from the web becomes insights through the extractor; a bookmarks
/// export or any other page that is mostly links stays a list of links to fetch.
public enum HTMLNote {
    /// Reads `html` (the file's bytes). `text` is the same file decoded, for the link harvester.
    ///
    /// The page is an article when the extractor finds at least two paragraphs of `minWords` words or more, or
    /// one of 40 words or more; a Netscape bookmarks file never is.
    public static func parse(html: [UInt8], text: String, minWords: Int) -> ParsedDocument {
        // No links given: the harvester reads every `<a href>` of the page.
        let linkList = ParsedDocument(date: nil, insights: [], format: .links, links: nil)
        if text.prefix(512).uppercased().contains("NETSCAPE-BOOKMARK-FILE") { return linkList }
        guard let article = try? ArticleExtractor.extract(html: html) else { return linkList }
        let counts = article.paragraphs.map(DocumentParser.wordCount)
        let substantial = counts.filter { $0 >= minWords }.count
        guard substantial >= 2 || counts.contains(where: { $0 >= 40 }) else { return linkList }
        // A saved article's own links are its references, not things its reader asked to fetch.
        return document(of: article, minWords: minWords)
    }

    /// An extracted article as a document, whether saved into the inbox or fetched from a link: each paragraph
    /// parsed on its own, under the article's title, dated by its published date; no links.
    public static func document(of article: ExtractedArticle, minWords: Int) -> ParsedDocument {
        let title = article.title.map(Normalizer.display)
        let parser = DocumentParser(minWords: minWords)
        var insights: [ParsedInsight] = []
        for (index, paragraph) in article.paragraphs.enumerated() {
            // The extractor's paragraphs are whole; lines here number them in reading order.
            for insight in parser.parse(paragraph).insights {
                insights.append(ParsedInsight(text: insight.text, line: index + 1, section: title))
            }
        }
        return ParsedDocument(date: article.published.map { String($0.prefix(10)) }, insights: insights, format: .html,
                              title: title, links: [])
    }
}
