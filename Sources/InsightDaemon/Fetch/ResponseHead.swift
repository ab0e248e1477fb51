import Foundation

/// The status line and headers of one HTTP response, built line by line as libcurl delivers them.
struct ResponseHead: Sendable, Hashable {
    var status: Int = 0
    /// Header names lower-cased; a repeated header keeps its last value.
    var fields: [String: String] = [:]
    var complete = false

    /// Feeds one raw header line (with or without CRLF). A status line starts a new response,
    /// because libcurl reports the heads of redirects and `100 Continue` too.
    mutating func consume(line raw: String) {
        let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
        if line.hasPrefix("HTTP/") {
            self = ResponseHead()
            let parts = line.split(separator: " ", maxSplits: 2)
            if parts.count >= 2, let code = Int(parts[1]) { status = code }
            return
        }
        if line.isEmpty {
            complete = true
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        fields[name] = value
    }

    var contentType: (mediaType: String, charset: String?)? {
        fields["content-type"].flatMap(ResponseHead.parseContentType)
    }

    var contentLength: Int? { fields["content-length"].flatMap { Int($0) } }

    var isRedirect: Bool { (300...399).contains(status) && status != 304 && fields["location"] != nil }

    /// Splits `text/html; charset="ISO-8859-1"` into `text/html` and `iso-8859-1`.
    static func parseContentType(_ value: String) -> (mediaType: String, charset: String?)? {
        let parts = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = parts.first?.lowercased(), !type.isEmpty else { return nil }
        var charset: String?
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "charset" {
                charset = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'")).lowercased()
            }
        }
        return (type, charset?.isEmpty == true ? nil : charset)
    }

    /// `Retry-After` as seconds from `now`: either delta-seconds or an HTTP-date (never negative).
    static func parseRetryAfter(_ value: String, now: Date) -> TimeInterval? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty, trimmed.allSatisfy(\.isASCII), trimmed.allSatisfy(\.isNumber) {
            return TimeInterval(Int(trimmed.prefix(9)) ?? 0)
        }
        guard let date = HTTPDate.parse(trimmed) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}

/// HTTP dates (RFC 9110 section 5.6.7): IMF-fixdate, the obsolete RFC 850 form and asctime.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func parse(_ text: String) -> Date? {
        // Tokens regardless of form: weekday, day, month, year, hh:mm:ss, zone.
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        var day: Int?, month: Int?, year: Int?, time: [Int]?
        for token in tokens {
            if token.contains(":") {
                let parts = token.split(separator: ":").compactMap { Int($0) }
                guard parts.count == 3 else { return nil }
                time = parts
            } else if let m = months.firstIndex(of: token.lowercased()) {
                month = m + 1
            } else if token.allSatisfy(\.isNumber), let n = Int(token) {
                if token.count == 4 {
                    year = n
                } else if token.count <= 2, day == nil {
                    day = n
                } else if token.count == 2 {
                    year = n < 70 ? 2000 + n : 1900 + n  // RFC 850 two-digit year
                } else {
                    return nil
                }
            }
        }
        guard let day, let month, let year, let time,
              (1...31).contains(day), (0...23).contains(time[0]), (0...59).contains(time[1]), (0...60).contains(time[2])
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + time[0] * 3600 + time[1] * 60 + time[2]
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Exponential backoff with jitter for transient failures.
public enum FetchBackoff {
    /// Seconds to wait before attempt number `attempt + 1`: `base * 2^attempt`, capped, with the
    /// upper half randomised so that many failed fetches do not retry in step. A server's
    /// `Retry-After` wins when present (up to a week).
    public static func delay(attempt: Int, retryAfter: TimeInterval?, base: TimeInterval, cap: TimeInterval,
                             using generator: inout some RandomNumberGenerator) -> TimeInterval {
        if let retryAfter { return min(max(retryAfter, 0), 7 * 86_400) }
        let exponent = min(max(attempt, 0), 40)
        let full = min(cap, base * pow(2, Double(exponent)))
        return full / 2 + Double.random(in: 0...(full / 2), using: &generator)
    }
}
