import Foundation
import InsightCore

/// One fetch to perform: a pure value, so a durable queue can store and replay it.
public struct FetchRequest: Sendable, Hashable, Codable {
    /// The canonical URL to fetch.
    public var url: CanonicalURL
    /// The `ETag` of the copy fetched before, sent as `If-None-Match`.
    public var etag: String?
    /// The `Last-Modified` of the copy fetched before, sent as `If-Modified-Since`.
    public var lastModified: String?
    /// How many earlier attempts failed transiently; drives the backoff of the next one.
    public var attempt: Int

    public init(url: CanonicalURL, etag: String? = nil, lastModified: String? = nil, attempt: Int = 0) {
        self.url = url
        self.etag = etag
        self.lastModified = lastModified
        self.attempt = attempt
    }
}

/// What came back, in the terms the caller needs to decide what to do next.
public enum FetchOutcome: Sendable {
    /// A 2xx response whose body is in `response.body`.
    case success(FetchResponse)
    /// 304: the copy identified by the request's `etag`/`lastModified` is still current.
    case notModified(FetchResponse)
    /// Worth trying again at `retryAt` (5xx, 429, timeouts, resets, DNS trouble).
    case transientFailure(FetchFailure, retryAt: Date)
    /// Trying again will not help (other 4xx, refused scheme or address, body too large, ...).
    case permanentFailure(FetchFailure)

    /// The failure, when there is one.
    public var failure: FetchFailure? {
        switch self {
        case .success, .notModified: nil
        case .transientFailure(let f, _), .permanentFailure(let f): f
        }
    }

    /// The response, for `success` and `notModified`.
    public var response: FetchResponse? {
        switch self {
        case .success(let r), .notModified(let r): r
        case .transientFailure, .permanentFailure: nil
        }
    }
}

/// A received response.
public struct FetchResponse: Sendable, Hashable {
    /// The URL that was asked for.
    public var requestedURL: CanonicalURL
    /// The URL that answered, after redirects.
    public var finalURL: String
    /// The HTTP status of the final response.
    public var status: Int
    /// How many redirects were followed.
    public var redirectCount: Int
    /// The media type without parameters, lower-cased (e.g. `text/html`), when sent.
    public var mediaType: String?
    /// The `charset` parameter of `Content-Type`, lower-cased, when sent.
    public var charset: String?
    /// The `ETag` header, verbatim.
    public var etag: String?
    /// The `Last-Modified` header, verbatim.
    public var lastModified: String?
    /// The decoded (decompressed) body; empty for 304.
    public var body: [UInt8]

    public init(requestedURL: CanonicalURL, finalURL: String, status: Int, redirectCount: Int,
                mediaType: String?, charset: String?, etag: String?, lastModified: String?, body: [UInt8]) {
        self.requestedURL = requestedURL
        self.finalURL = finalURL
        self.status = status
        self.redirectCount = redirectCount
        self.mediaType = mediaType
        self.charset = charset
        self.etag = etag
        self.lastModified = lastModified
        self.body = body
    }
}

/// Why a fetch failed, with a sentence for people.
public struct FetchFailure: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable, Codable {
        /// The server answered with an error status (see `status`).
        case httpStatus
        /// Connecting, the whole transfer, or the low-speed floor ran out of time.
        case timedOut
        /// The connection could not be made or broke off.
        case connectionFailed
        /// The host name did not resolve.
        case dnsFailure
        /// More redirects than `FetchSettings.maximumRedirects`.
        case tooManyRedirects
        /// A redirect pointed at something other than http or https.
        case refusedScheme
        /// The host resolved to an address the policy refuses (loopback, private, ...).
        case refusedAddress
        /// The body is larger than `FetchSettings.maximumBodyBytes`.
        case bodyTooLarge
        /// The response is not a document type that can be read (see `FetchSettings.acceptedMediaTypes`).
        case unsupportedContentType
        /// TLS failed (handshake or certificate).
        case tlsFailure
        /// The server sent something that is not valid HTTP, or undecodable content.
        case badResponse
        /// The host asked, with `Retry-After` on an earlier response, not to be contacted yet.
        case hostBackingOff
        /// The calling task was cancelled or the fetcher shut down.
        case cancelled
        /// libcurl reported an error outside the cases above.
        case other
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence saying what happened and, where useful, what to do.
    public var reason: String
    /// The HTTP status, when a response arrived.
    public var status: Int?
    /// The last URL reached, when known.
    public var finalURL: String?
    /// The server's `Retry-After`, in seconds from the response, when sent.
    public var retryAfter: TimeInterval?

    public init(code: Code, reason: String, status: Int? = nil, finalURL: String? = nil, retryAfter: TimeInterval? = nil) {
        self.code = code
        self.reason = reason
        self.status = status
        self.finalURL = finalURL
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code.rawValue): \(reason)" }
}

/// How the fetcher behaves. The defaults are polite to servers and safe for a daemon.
public struct FetchSettings: Sendable, Hashable {
    /// Redirects followed before giving up.
    public var maximumRedirects: Int = 5
    /// Time allowed to establish a connection, in seconds.
    public var connectTimeout: TimeInterval = 10
    /// Time allowed for the whole transfer, in seconds.
    public var totalTimeout: TimeInterval = 30
    /// A transfer slower than this many bytes per second for `lowSpeedTime` is aborted.
    public var lowSpeedLimit: Int = 100
    /// Seconds below `lowSpeedLimit` before aborting.
    public var lowSpeedTime: Int = 10
    /// Largest body accepted after decompression (`max_article_bytes`).
    public var maximumBodyBytes: Int = 5 * 1024 * 1024
    /// Transfers running at once over all hosts.
    public var globalConcurrency: Int = 4
    /// Transfers running at once against one host.
    public var perHostConcurrency: Int = 1
    /// Pause between the end of one request to a host and the start of the next, in seconds.
    public var perHostDelay: TimeInterval = 1
    /// Media types accepted for a 2xx response; a response without `Content-Type` is accepted.
    public var acceptedMediaTypes: Set<String> = ["text/html", "application/xhtml+xml", "text/plain"]
    /// Connect to loopback, private, link-local and similar addresses (off by default: links
    /// from dropped files must not reach into the local network).
    public var allowPrivateAddresses: Bool = false
    /// Longest time a host's `Retry-After` holds back further requests to it in this process,
    /// in seconds (the outcome's `retryAt` still carries the full time the server asked for).
    public var maximumHostPause: TimeInterval = 60 * 60
    /// First backoff step for transient failures, in seconds.
    public var backoffBase: TimeInterval = 30
    /// Longest backoff for transient failures, in seconds.
    public var backoffCap: TimeInterval = 6 * 60 * 60
    /// The `User-Agent` header.
    public var userAgent: String = "insightd/\(InsightVersion.current) (+https://github.com/insightd/insightd)"

    public init() {}
}
