import CSystemd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd about the daemon's state through `sd_notify`; every message is a no-op when
/// `NOTIFY_SOCKET` is not set, so the daemon behaves the same in a terminal.
struct SystemdNotifier: Sendable {
    /// How often the watchdog wants `WATCHDOG=1`: half of `WATCHDOG_USEC`, in seconds; nil when the
    /// watchdog is off or meant for another process (`WATCHDOG_PID`).
    let watchdogInterval: Double?
    /// Whether a service manager listens (`NOTIFY_SOCKET` is set); status lines are not even computed otherwise.
    let enabled: Bool

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        enabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
        var usec: UInt64 = 0
        // > 0: enabled for this process; 0: off; < 0: malformed variables, treated as off.
        if sd_watchdog_enabled(0, &usec) > 0, usec > 0 {
            watchdogInterval = Double(usec) / 2_000_000
        } else {
            watchdogInterval = nil
        }
    }

    /// Sends `state`, newline-separated `KEY=VALUE` assignments (for example `READY=1`).
    func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    func stopping() { notify("STOPPING=1\nSTATUS=stopping") }
    func status(_ text: String) { notify("STATUS=\(text)") }
    func watchdog() { notify("WATCHDOG=1") }

    /// Announces a reload; systemd ≥ 253 matches it to the reload request by the monotonic timestamp.
    func reloading() {
        notify("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())\nSTATUS=reloading the configuration")
    }

    /// Asks for `seconds` more before the current start-up or shutdown times out.
    func extendTimeout(seconds: Double, status: String) {
        notify("EXTEND_TIMEOUT_USEC=\(UInt64(seconds * 1_000_000))\nSTATUS=\(status)")
    }

    /// Runs `body` (for example opening and migrating the database) and keeps extending the start-up
    /// timeout while it lasts: at once when `slowExpected`, otherwise from the fifth second on.
    func extendingTimeout<T>(status: String, slowExpected: Bool, _ body: () throws -> T) rethrows -> T {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "insightd-extend-timeout"))
        timer.schedule(deadline: .now() + (slowExpected ? 0 : 5), repeating: 10)
        timer.setEventHandler { [self] in extendTimeout(seconds: 30, status: status) }
        timer.resume()
        defer { timer.cancel() }
        return try body()
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock `MONOTONIC_USEC=` refers to.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
