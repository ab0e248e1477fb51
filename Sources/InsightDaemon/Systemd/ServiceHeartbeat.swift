import Foundation
import InsightCore
import InsightStoreCore
import Synchronization

/// Driven by the ingest pipeline's writer thread: sends the watchdog's `WATCHDOG=1` and keeps systemd's
/// `STATUS=` current. Because the pings come from the loop that does the work, a wedged pipeline stops
/// them and systemd restarts the service. It asks for a wake-up only when a ping or a changed status line is
/// due (`tickDelay`): outside systemd, and idle under systemd without a watchdog, nothing wakes the daemon.
final class ServiceHeartbeat: Sendable {
    private struct State {
        var lastPing = -Double.infinity
        var lastStatus = -Double.infinity
        var statusDirty = false  // READY=1 carries the first status line
        var inbox: String
        var lastText = ""
        /// Why ingestion waits for the store ("disk full: free space on …"), shown first; nil while it writes.
        var hold: String?
    }

    let notifier: SystemdNotifier
    let database: any InsightReading
    let home: String?
    /// The least time between two `STATUS=` updates, in seconds.
    let statusInterval: Double
    private let state: Mutex<State>
    /// Wakes the thread that calls `tick()`, so a status change made elsewhere is sent once `statusInterval` allows.
    private let wakeTicker = Mutex<(@Sendable () -> Void)?>(nil)

    init(notifier: SystemdNotifier, database: any InsightReading, inbox: String, home: String? = ProcessInfo.processInfo.environment["HOME"],
         statusInterval: Double = 1) {
        self.notifier = notifier
        self.database = database
        self.home = home
        self.statusInterval = statusInterval
        state = Mutex(State(inbox: inbox))
    }

    /// The longest the pipeline may go without calling `tick()` while it waits for a store that takes no writes.
    var tickInterval: Double {
        guard let interval = notifier.watchdogInterval else { return statusInterval }
        // Waking at half the ping interval keeps the longest gap between pings under the interval.
        return max(0.005, min(interval / 2, statusInterval))
    }

    /// Seconds until `tick()` has something to do (a watchdog ping, or a changed status line whose update was held
    /// back by `statusInterval`), 0 when it has now; nil when nothing is due, so an idle daemon sleeps.
    func tickDelay(now: Double = monotonicSeconds()) -> Double? {
        state.withLock { s in
            var delay: Double?
            if let interval = notifier.watchdogInterval {
                // Half the ping interval keeps the longest gap between pings under it.
                delay = s.lastPing + interval / 2 - now
            }
            if notifier.enabled, s.statusDirty {
                let status = s.lastStatus + statusInterval - now
                delay = min(delay ?? status, status)
            }
            return delay.map { max(0, $0) }
        }
    }

    /// Sets what wakes the thread that calls `tick()`.
    func setTicker(wake: @escaping @Sendable () -> Void) {
        wakeTicker.withLock { $0 = wake }
    }

    /// Something changed that the status line shows.
    func progress() {
        state.withLock { $0.statusDirty = true }
        tick()
        if state.withLock({ $0.statusDirty }) { wakeTicker.withLock { $0 }?() }
    }

    /// The inbox shown in the status line (it changes only with a restart, but stays right if it did).
    func setInbox(_ inbox: String) {
        state.withLock { $0.inbox = inbox; $0.statusDirty = true }
    }

    /// Ingestion waits for the store (`state`, then what to do), or writes again (nil); systemd hears of it at once.
    func setHold(state: String?, detail: String?) {
        let text = state.map { state in detail.map { "\(state): \($0)" } ?? state }
        let changed = self.state.withLock { s -> Bool in
            defer { s.hold = text }
            if s.hold != text { s.statusDirty = true; s.lastStatus = -Double.infinity }
            return s.hold != text
        }
        if changed { tick() }
    }

    /// Pings the watchdog when due and refreshes the status line when it changed, at most once per `statusInterval`.
    func tick(now: Double = monotonicSeconds()) {
        let (ping, refresh, inbox, hold) = state.withLock { s -> (Bool, Bool, String, String?) in
            var ping = false, refresh = false
            if let interval = notifier.watchdogInterval, now - s.lastPing >= interval / 2 {
                s.lastPing = now
                ping = true
            }
            if notifier.enabled, s.statusDirty, now - s.lastStatus >= statusInterval {
                s.lastStatus = now
                s.statusDirty = false
                refresh = true
            }
            return (ping, refresh, s.inbox, s.hold)
        }
        if ping { notifier.watchdog() }
        if refresh {
            let text = hold.map { "\($0) · " + statusLine(inbox: inbox) } ?? statusLine(inbox: inbox)
            let changed = state.withLock { s in
                defer { s.lastText = text }
                return s.lastText != text
            }
            if changed { notifier.status(text) }
        }
    }

    /// The status line to send now with READY=1; later updates repeat it only when it changed.
    func announce(now: Double = monotonicSeconds()) -> String {
        let text = statusLine(inbox: state.withLock { $0.inbox })
        state.withLock { s in
            s.lastText = text
            s.lastStatus = now
            s.statusDirty = false
        }
        return text
    }

    /// "watching ~/Insights · 1,234 insights · 3 links queued" (the links part only when there are links).
    func statusLine(inbox: String) -> String {
        let counts = try? database.counts()
        let links = (counts?.linksByState[.queued] ?? 0) + (counts?.linksByState[.fetching] ?? 0)
        return Self.statusLine(inbox: inbox, home: home, insights: counts?.uniqueInsights ?? 0, linksQueued: links)
    }

    static func statusLine(inbox: String, home: String?, insights: Int, linksQueued: Int) -> String {
        var shown = inbox
        if let home, !home.isEmpty, home != "/", inbox == home || inbox.hasPrefix(home + "/") {
            shown = "~" + inbox.dropFirst(home.count)
        }
        var line = "watching \(shown) · \(grouped(insights)) insight\(insights == 1 ? "" : "s")"
        if linksQueued > 0 { line += " · \(grouped(linksQueued)) link\(linksQueued == 1 ? "" : "s") queued" }
        return line
    }

    /// 1234567 → "1,234,567", independent of the locale.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return value < 0 ? "-" + out : out
    }
}
