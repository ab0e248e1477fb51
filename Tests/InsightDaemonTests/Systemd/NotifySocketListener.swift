import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for systemd's notification socket: an AF_UNIX datagram socket bound in a temporary folder,
/// recording every message the daemon sends with the monotonic time it arrived.
final class NotifySocketListener: Sendable {
    struct Message: Sendable {
        var at: Double
        var text: String
        var fields: [String: String] {
            var out: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                out[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            return out
        }
    }

    let path: String
    private let fd: Int32
    private let messages = Mutex<[Message]>([])
    private let stopped = Atomic<Bool>(false)

    init(directory: String) throws {
        path = directory + "/notify.sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket(AF_UNIX, SOCK_DGRAM): \(String(cString: strerror(errno)))") }
        guard Self.bind(fd, path) == 0 else { throw HarnessError("bind(\(path)): \(String(cString: strerror(errno)))") }
        // A receive timeout lets the reader thread notice `stop()`.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Thread { [self] in receiveLoop() }.start()
    }

    deinit {
        stopped.store(true, ordering: .relaxed)
        usleep(150_000)
        close(fd)
        unlink(path)
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    var all: [Message] { messages.withLock { $0 } }

    /// Messages that set `key` (for example `READY`), in arrival order.
    func with(_ key: String) -> [Message] { all.filter { $0.fields[key] != nil } }

    /// Waits until a message setting `key` arrives after `after`; returns it.
    func wait(for key: String, after: Double = 0, timeout: Double = 20) throws -> Message {
        var found: Message?
        try waitUntil(timeout: timeout, "the daemon sends \(key)=") {
            found = with(key).first { $0.at >= after }
            return found != nil
        }
        guard let found else { throw HarnessError("no \(key)=") }
        return found
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopped.load(ordering: .relaxed) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                let message = Message(at: testMonotonicSeconds(), text: String(decoding: buffer[..<count], as: UTF8.self))
                messages.withLock { $0.append(message) }
            }
        }
    }

    private static func bind(_ fd: Int32, _ path: String) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { errno = ENAMETOOLONG; return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// `CLOCK_MONOTONIC` in seconds: the clock systemd's `MONOTONIC_USEC=` refers to, shared by all processes.
func testMonotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
