/// HTML pages written for these tests.
enum Fixtures {
    static let paragraphs = [
        "The city council voted on Tuesday to extend the riverside park by another two kilometres, ending a debate that has run for almost a decade.",
        "Supporters said the extension, which will follow the old towpath, would give the eastern districts their first large green space, while critics worried about the cost of draining the marshland.",
        "The plan, drawn up by the parks department in 2017, was revised twice after residents asked for more trees, fewer car parks and a cycle lane that does not cross the playgrounds.",
        "Work is expected to begin in the spring, and the first section, between the old mill and the railway bridge, should open to the public before the end of next year.",
    ]

    /// A news article surrounded by the usual furniture.
    static let newsArticle = """
    <!DOCTYPE html>
    <html lang="en-GB">
    <head>
      <meta charset="utf-8">
      <title>Council extends riverside park | The Daily Example</title>
      <meta property="og:title" content="Council extends riverside park">
      <meta property="og:site_name" content="The Daily Example">
      <meta name="author" content="Meta Author">
      <meta property="article:published_time" content="2019-11-19T10:30:00Z">
      <link rel="canonical" href="/news/council-extends-park">
      <script>var tracking = "ignore me entirely";</script>
      <style>.hidden { display: none }</style>
      <script type="application/ld+json">
      {"@context": "https://schema.org", "@type": "NewsArticle",
       "headline": "Council extends riverside park",
       "datePublished": "2019-11-19T10:30:00Z",
       "author": [{"@type": "Person", "name": "Jane Reporter"}, {"@type": "Person", "name": "John Writer"}],
       "publisher": {"@type": "Organization", "name": "Example Media Group"}}
      </script>
    </head>
    <body>
      <div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. By continuing you accept our cookie policy. <button>Accept</button></div>
      <header class="site-header">
        <nav class="main-menu"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav>
      </header>
      <main>
        <article class="story">
          <h1>Council extends riverside park</h1>
          <div class="byline">By <a href="/jane" rel="author">Jane Reporter</a></div>
          <div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Share on Twitter</a> <a href="#">Email this article</a></div>
          <div class="story-body">
            <p>\(paragraphs[0])</p>
            <p>\(paragraphs[1])</p>
            <figure><img src="park.jpg"><figcaption>The towpath near the old mill. Photo: Example Photo Agency</figcaption></figure>
            <p>\(paragraphs[2])</p>
            <div class="advert ad-slot">Advertisement</div>
            <p>\(paragraphs[3])</p>
          </div>
          <div class="newsletter-signup"><p>Sign up for our morning newsletter and get the news before breakfast.</p><form><input type="email"><button>Subscribe</button></form></div>
          <div class="related-stories"><h3>Related stories</h3><ul>
            <li><a href="/a">Parks department announces new opening hours for the summer season</a></li>
            <li><a href="/b">Residents petition for more benches along the river walk</a></li>
            <li><a href="/c">Railway bridge repairs to close the towpath for two weeks</a></li>
          </ul></div>
        </article>
        <section id="comments" class="comments">
          <h3>Comments</h3>
          <div class="comment"><p>Great news, finally some green space for the east side of the city, about time too!</p></div>
          <div class="comment"><p>What a waste of money, the marsh should have been left alone, the birds were there first.</p></div>
        </section>
      </main>
      <aside class="sidebar"><h3>Most read</h3><ol><li><a href="/x">Storm warning for the weekend</a></li><li><a href="/y">New bakery opens on the high street</a></li></ol></aside>
      <footer class="site-footer"><p>Copyright 2019 The Daily Example. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
    </body>
    </html>
    """

    /// The same article text as bytes in another encoding, with non-ASCII letters.
    static let latinParagraphs = [
        "Le café de la gare a rouvert ses portes après trois mois de travaux, au grand plaisir des habitués du quartier.",
        "Les propriétaires ont conservé le comptoir en zinc et les miroirs d'époque, mais la cuisine a été entièrement refaite.",
        "Le menu reste fidèle à la tradition : œufs mayonnaise, bœuf bourguignon et crème brûlée, servis à des prix raisonnables.",
        "Une terrasse chauffée doit ouvrir à l'automne, si la mairie accorde l'autorisation demandée au début de l'été.",
    ]

    static func latinPage(metaCharset: String?) -> String {
        """
        <html><head>\(metaCharset.map { "<meta charset=\"\($0)\">" } ?? "")<title>Le café de la gare</title></head>
        <body><div class="content"><h1>Le café de la gare</h1>
        \(latinParagraphs.map { "<p>\($0)</p>" }.joined(separator: "\n"))
        </div></body></html>
        """
    }

    /// Markup with unclosed paragraphs, a stray closing tag, unquoted attributes and an unclosed div.
    static let brokenMarkup = """
    <html><head><title>Broken</title>
    <body>
    <div class=menu><a href=/>Home</a> | <a href=/about>About</a>
    <div id=content class=post-content>
    <p>\(paragraphs[0])
    <p>\(paragraphs[1])</span>
    <p>\(paragraphs[2]) <b>bold <i>and italic</b> text</i> here.
    <p>\(paragraphs[3])
    </div></td>
    <div class=footer>Footer text with links <a href=/x>x</a> <a href=/y>y</a>
    """
}
