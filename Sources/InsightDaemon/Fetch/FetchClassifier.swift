import CCurl
import Foundation
import InsightCore

/// Turns what libcurl and the server said into a `FetchOutcome`.
enum FetchClassifier {
    static func classify(code: UInt32, detail: String, context: TransferContext, status: Int, redirects: Int,
                         finalURL: String, request: FetchRequest, settings: FetchSettings, now: Date) -> FetchOutcome {
        let head = context.head
        let retryAfter = head.fields["retry-after"].flatMap { ResponseHead.parseRetryAfter($0, now: now) }

        func transient(_ code: FetchFailure.Code, _ reason: String) -> FetchOutcome {
            let failure = FetchFailure(code: code, reason: reason, status: status == 0 ? nil : status,
                                       finalURL: finalURL, retryAfter: retryAfter)
            var rng = SystemRandomNumberGenerator()
            let delay = FetchBackoff.delay(attempt: request.attempt, retryAfter: retryAfter,
                                           base: settings.backoffBase, cap: settings.backoffCap, using: &rng)
            return .transientFailure(failure, retryAt: now.addingTimeInterval(delay))
        }
        func permanent(_ code: FetchFailure.Code, _ reason: String) -> FetchOutcome {
            .permanentFailure(FetchFailure(code: code, reason: reason, status: status == 0 ? nil : status, finalURL: finalURL))
        }

        // A callback stopped the transfer on purpose: its reason is the real one.
        if var abort = context.abort {
            abort.finalURL = finalURL
            if abort.status == nil, status != 0 { abort.status = status }
            return .permanentFailure(abort)
        }

        switch code {
        case CURLE_OK.rawValue:
            break
        case CURLE_COULDNT_CONNECT.rawValue where context.refusedAddress != nil:
            return permanent(.refusedAddress, context.refusedAddress ?? detail)
        case CURLE_UNSUPPORTED_PROTOCOL.rawValue:
            let target = head.isRedirect ? head.fields["location"].map { " to '\($0)'" } ?? "" : ""
            return permanent(.refusedScheme, "A redirect\(target) was refused: only http and https links are followed (\(detail))")
        case CURLE_TOO_MANY_REDIRECTS.rawValue:
            return permanent(.tooManyRedirects, "Gave up after \(settings.maximumRedirects) redirects (\(detail))")
        case CURLE_FILESIZE_EXCEEDED.rawValue:
            return permanent(.bodyTooLarge, "The body is larger than the limit of \(settings.maximumBodyBytes) bytes (max_article_bytes)")
        case CURLE_OPERATION_TIMEDOUT.rawValue:
            return transient(.timedOut, "The transfer took too long or stalled (\(detail)); it will be tried again later")
        case CURLE_COULDNT_RESOLVE_HOST.rawValue:
            return transient(.dnsFailure, "The host name could not be resolved (\(detail)); it will be tried again later")
        case CURLE_COULDNT_CONNECT.rawValue, CURLE_SEND_ERROR.rawValue, CURLE_RECV_ERROR.rawValue,
             CURLE_GOT_NOTHING.rawValue, CURLE_PARTIAL_FILE.rawValue, CURLE_HTTP2.rawValue, CURLE_HTTP2_STREAM.rawValue,
             CURLE_COULDNT_RESOLVE_PROXY.rawValue:
            return transient(.connectionFailed, "The connection failed or broke off (\(detail)); it will be tried again later")
        case CURLE_SSL_CONNECT_ERROR.rawValue:
            return transient(.tlsFailure, "The TLS handshake failed (\(detail)); it will be tried again later")
        case CURLE_PEER_FAILED_VERIFICATION.rawValue, CURLE_SSL_CERTPROBLEM.rawValue, CURLE_SSL_CACERT_BADFILE.rawValue:
            return permanent(.tlsFailure, "The server's TLS certificate could not be verified (\(detail))")
        case CURLE_BAD_CONTENT_ENCODING.rawValue, CURLE_WEIRD_SERVER_REPLY.rawValue:
            return permanent(.badResponse, "The server's reply could not be understood (\(detail))")
        case CURLE_ABORTED_BY_CALLBACK.rawValue:
            return .transientFailure(FetchFailure(code: .cancelled, reason: "The fetch was cancelled before it finished",
                                                  finalURL: finalURL), retryAt: now)
        case CURLE_URL_MALFORMAT.rawValue:
            return permanent(.other, "libcurl could not use the URL (\(detail))")
        default:
            return transient(.other, "libcurl error \(code): \(detail); it will be tried again later")
        }

        let contentType = head.contentType
        let etag = head.fields["etag"]
        let lastModified = head.fields["last-modified"]
        func response(body: [UInt8]) -> FetchResponse {
            FetchResponse(requestedURL: request.url, finalURL: finalURL, status: status, redirectCount: redirects,
                          mediaType: contentType?.mediaType, charset: contentType?.charset,
                          etag: etag ?? request.etag, lastModified: lastModified ?? request.lastModified, body: body)
        }
        switch status {
        case 200...299:
            return .success(response(body: context.body))
        case 304:
            return .notModified(response(body: []))
        case 408, 425, 429:
            return transient(.httpStatus, "The server answered \(Self.statusText(status)); it will be tried again \(retryAfter != nil ? "after the time it asked for" : "later")")
        case 500...599:
            return transient(.httpStatus, "The server answered \(Self.statusText(status)); it will be tried again \(retryAfter != nil ? "after the time it asked for" : "later")")
        case 300...399:
            return permanent(.httpStatus, "The server answered \(status) without a usable Location; the link cannot be followed")
        case 400...499:
            return permanent(.httpStatus, "The server answered \(Self.statusText(status)); check the link")
        default:
            return permanent(.badResponse, "The server answered with status \(status), which is not a valid final HTTP status")
        }
    }

    /// `404 Not Found`, or just the number for statuses without a well-known phrase.
    static func statusText(_ status: Int) -> String {
        let phrase = reasonPhrase(status)
        return phrase.isEmpty ? String(status) : "\(status) \(phrase)"
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 408: "Request Timeout"
        case 410: "Gone"
        case 425: "Too Early"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: ""
        }
    }
}
