import CCurl
import Foundation
import InsightCore

#if canImport(Glibc)
import Glibc
#endif

/// libcurl, opened (and `curl_global_init` run) once per process before the first handle is created.
enum CurlGlobal {
    /// Nil once libcurl is ready; otherwise why it is not.
    static let failure: String? = insight_curl_load() == 0 ? nil : String(cString: insight_curl_load_error())
}

/// A cancellation flag set from any thread and read by the transfer thread.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// State shared with libcurl's callbacks during one transfer; reached through an `Unmanaged` pointer.
final class TransferContext {
    let maximumBodyBytes: Int
    let acceptedMediaTypes: Set<String>
    let allowPrivateAddresses: Bool
    let cancellation: CancellationFlag
    var head = ResponseHead()
    var body: [UInt8] = []
    /// Set when a callback stopped the transfer on purpose.
    var abort: FetchFailure?
    /// Set when the address policy refused a peer address.
    var refusedAddress: String?

    init(settings: FetchSettings, cancellation: CancellationFlag) {
        maximumBodyBytes = settings.maximumBodyBytes
        acceptedMediaTypes = settings.acceptedMediaTypes
        allowPrivateAddresses = settings.allowPrivateAddresses
        self.cancellation = cancellation
    }

    /// Returns false to abort the transfer.
    func receiveHeader(_ line: String) -> Bool {
        head.consume(line: line)
        guard head.complete, (200...299).contains(head.status) else { return true }
        if let length = head.contentLength, length > maximumBodyBytes {
            abort = FetchFailure(code: .bodyTooLarge,
                                 reason: "The server announced \(length) bytes, more than the limit of \(maximumBodyBytes) bytes (max_article_bytes)",
                                 status: head.status)
            return false
        }
        if let type = head.contentType?.mediaType, !acceptedMediaTypes.contains(type) {
            abort = FetchFailure(code: .unsupportedContentType,
                                 reason: "The response is '\(type)', not a readable document (accepted: \(acceptedMediaTypes.sorted().joined(separator: ", ")))",
                                 status: head.status)
            return false
        }
        return true
    }

    /// Returns false to abort the transfer.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Bodies of error responses are not needed: count nothing, keep nothing.
        guard (200...299).contains(head.status) else { return true }
        guard body.count + bytes.count <= maximumBodyBytes else {
            abort = FetchFailure(code: .bodyTooLarge,
                                 reason: "The body grew past the limit of \(maximumBodyBytes) bytes (max_article_bytes); the transfer was stopped",
                                 status: head.status)
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Opens the socket libcurl asked for, unless the address policy refuses the peer.
    func openSocket(family: Int32, type: Int32, protocol proto: Int32, address: UnsafeRawPointer, length: Int) -> Int32 {
        if !allowPrivateAddresses {
            let (text, refusal) = PeerAddress.describe(family: family, address: address, length: length)
            if let refusal {
                refusedAddress = "The host resolved to \(text), \(refusal); such addresses are refused unless allow_private_addresses is set"
                return -1  // CURL_SOCKET_BAD
            }
        }
        do {
            return try retryingSyscall("socket") { socket(family, type | Int32(SOCK_CLOEXEC.rawValue), proto) }
        } catch {
            abort = FetchFailure(code: .connectionFailed, reason: "Could not create a socket: \(error.errno) (errno \(error.errno.rawValue))")
            return -1
        }
    }
}

/// Reads a `sockaddr` that libcurl hands to the open-socket callback.
enum PeerAddress {
    /// The printable address and, when the policy refuses it, why.
    static func describe(family: Int32, address: UnsafeRawPointer, length: Int) -> (String, String?) {
        if family == AF_INET, length >= MemoryLayout<sockaddr_in>.size {
            let sin = address.loadUnaligned(as: sockaddr_in.self)
            let bytes = withUnsafeBytes(of: sin.sin_addr) { Array($0) }
            return (bytes.map(String.init).joined(separator: "."), AddressPolicy.refusal(ipv4: bytes))
        }
        if family == AF_INET6, length >= MemoryLayout<sockaddr_in6>.size {
            let sin6 = address.loadUnaligned(as: sockaddr_in6.self)
            let bytes = withUnsafeBytes(of: sin6.sin6_addr) { Array($0) }
            return (ipv6Text(bytes), AddressPolicy.refusal(ipv6: bytes))
        }
        return ("an address of family \(family)", "not an IPv4 or IPv6 address")
    }

    static func ipv6Text(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}

/// One libcurl easy handle, reused for the transfers of one worker thread (keeping its
/// connection and DNS caches). Not thread-safe: it lives on its thread.
final class CurlEasy {
    private let handle: UnsafeMutableRawPointer?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init() {
        handle = CurlGlobal.failure == nil ? insight_curl_easy_init() : nil
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        if let handle { insight_curl_easy_cleanup(handle) }
        errorBuffer.deallocate()
    }

    /// Performs `request` synchronously and classifies the result.
    func perform(_ request: FetchRequest, settings: FetchSettings, cancellation: CancellationFlag) -> FetchOutcome {
        let now = Date()
        guard let handle else {
            let reason = CurlGlobal.failure ?? "curl_easy_init failed; check the libcurl installation"
            return .transientFailure(FetchFailure(code: .other, reason: reason),
                                     retryAt: now.addingTimeInterval(settings.backoffBase))
        }
        insight_curl_easy_reset(handle)
        errorBuffer[0] = 0
        let context = TransferContext(settings: settings, cancellation: cancellation)
        let box = Unmanaged.passRetained(context)
        defer { box.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { insight_curl_slist_free_all(headers) }
        headers = insight_curl_slist_append(headers, "Accept: text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1")
        if let etag = request.etag, !etag.contains(where: \.isNewline) {
            headers = insight_curl_slist_append(headers, "If-None-Match: \(etag)")
        }
        if let lastModified = request.lastModified, !lastModified.contains(where: \.isNewline) {
            headers = insight_curl_slist_append(headers, "If-Modified-Since: \(lastModified)")
        }

        var failedOption: String?
        func check(_ code: CURLcode, _ name: String) {
            if code != CURLE_OK, failedOption == nil { failedOption = name }
        }
        check(insight_curl_setopt_string(handle, CURLOPT_URL, request.url.string), "CURLOPT_URL")
        check(insight_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"), "CURLOPT_PROTOCOLS_STR")
        check(insight_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "CURLOPT_REDIR_PROTOCOLS_STR")
        check(insight_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1), "CURLOPT_FOLLOWLOCATION")
        check(insight_curl_setopt_long(handle, CURLOPT_MAXREDIRS, settings.maximumRedirects), "CURLOPT_MAXREDIRS")
        check(insight_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(settings.connectTimeout)), "CURLOPT_CONNECTTIMEOUT_MS")
        check(insight_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(settings.totalTimeout)), "CURLOPT_TIMEOUT_MS")
        check(insight_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, settings.lowSpeedLimit), "CURLOPT_LOW_SPEED_LIMIT")
        check(insight_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.lowSpeedTime), "CURLOPT_LOW_SPEED_TIME")
        check(insight_curl_setopt_off(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(settings.maximumBodyBytes)), "CURLOPT_MAXFILESIZE_LARGE")
        check(insight_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, ""), "CURLOPT_ACCEPT_ENCODING")
        check(insight_curl_setopt_string(handle, CURLOPT_USERAGENT, settings.userAgent), "CURLOPT_USERAGENT")
        check(insight_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers), "CURLOPT_HTTPHEADER")
        // Signals cannot be used for timeouts in a threaded process.
        check(insight_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        // Ignore http_proxy and friends: every connection must pass the address check.
        check(insight_curl_setopt_string(handle, CURLOPT_PROXY, ""), "CURLOPT_PROXY")
        check(insight_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        let opaque = box.toOpaque()
        check(insight_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, { data, size, count, user in
            guard let user else { return 0 }
            let context = Unmanaged<TransferContext>.fromOpaque(user).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
            return context.receiveBody(bytes) ? size * count : 0
        }), "CURLOPT_WRITEFUNCTION")
        check(insight_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque), "CURLOPT_WRITEDATA")
        check(insight_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, { data, size, count, user in
            guard let user else { return 0 }
            let context = Unmanaged<TransferContext>.fromOpaque(user).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            return context.receiveHeader(line) ? size * count : 0
        }), "CURLOPT_HEADERFUNCTION")
        check(insight_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque), "CURLOPT_HEADERDATA")
        check(insight_curl_setopt_opensocket(handle, { user, _, address in
            guard let user, let address else { return -1 }
            let context = Unmanaged<TransferContext>.fromOpaque(user).takeUnretainedValue()
            let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr) ?? 16
            let raw = UnsafeRawPointer(address).advanced(by: offset)
            let entry = address.pointee
            return context.openSocket(family: entry.family, type: entry.socktype, protocol: entry.protocol,
                                      address: raw, length: Int(entry.addrlen))
        }), "CURLOPT_OPENSOCKETFUNCTION")
        check(insight_curl_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, opaque), "CURLOPT_OPENSOCKETDATA")
        check(insight_curl_setopt_xferinfo(handle, { user, _, _, _, _ in
            guard let user else { return 1 }
            let context = Unmanaged<TransferContext>.fromOpaque(user).takeUnretainedValue()
            return context.cancellation.isSet ? 1 : 0
        }), "CURLOPT_XFERINFOFUNCTION")
        check(insight_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque), "CURLOPT_XFERINFODATA")
        check(insight_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0), "CURLOPT_NOPROGRESS")
        if let failedOption {
            return .permanentFailure(FetchFailure(code: .other, reason: "libcurl refused the option \(failedOption); this libcurl build lacks a needed feature"))
        }

        let code = insight_curl_easy_perform(handle)

        var status = 0
        insight_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var redirects = 0
        insight_curl_getinfo_long(handle, CURLINFO_REDIRECT_COUNT, &redirects)
        var effective: UnsafeMutablePointer<CChar>?
        insight_curl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        let finalURL = effective.map { String(cString: $0) } ?? request.url.string
        let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: insight_curl_easy_strerror(code))

        return FetchClassifier.classify(
            code: code.rawValue, detail: detail, context: context, status: status, redirects: redirects,
            finalURL: finalURL, request: request, settings: settings, now: Date())
    }

    private static func milliseconds(_ seconds: TimeInterval) -> Int {
        Int(min(max(seconds, 0.001), 86_400) * 1000)
    }
}
