/// The main text of one HTML page and what its markup says about it.
public struct ExtractedArticle: Sendable, Codable, Equatable {
    /// The headline: Open Graph title, else JSON-LD headline, else `<title>`, else the first `<h1>`.
    public var title: String?
    /// The author or authors, as the page names them.
    public var byline: String?
    /// The publication date as the page gives it in ISO 8601 form (`2019-11-19` or `2019-11-19T10:30:00Z`).
    public var published: String?
    /// The site's name (`og:site_name`, JSON-LD publisher, `application-name`).
    public var siteName: String?
    /// The language tag (`<html lang>`, `Content-Language`, `og:locale`), e.g. `en` or `pt-BR`.
    public var language: String?
    /// `<link rel=canonical>` (or `og:url`), resolved against the base URL when one is given.
    public var canonicalURL: String?
    /// The paragraphs of the main text, in document order, whitespace-normalised, without the headline.
    public var paragraphs: [String]

    public init(
        title: String? = nil, byline: String? = nil, published: String? = nil, siteName: String? = nil,
        language: String? = nil, canonicalURL: String? = nil, paragraphs: [String] = []
    ) {
        self.title = title
        self.byline = byline
        self.published = published
        self.siteName = siteName
        self.language = language
        self.canonicalURL = canonicalURL
        self.paragraphs = paragraphs
    }

    /// The main text: the paragraphs joined by blank lines.
    public var text: String { paragraphs.joined(separator: "\n\n") }
}

/// Why a page could not be extracted.
public struct ExtractionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        /// The input has no bytes, or only whitespace.
        case empty
        /// The input is not HTML: binary data, or text without any markup.
        case notHTML
        /// libxml2 produced no document.
        case parseFailed
        /// The input file could not be read.
        case unreadable
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
