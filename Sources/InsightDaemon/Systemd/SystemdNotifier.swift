import CSystemd
import Foundation

/// Tells systemd about the daemon's state through `sd_notify`; a no-op when `NOTIFY_SOCKET` is not set.
struct SystemdNotifier: Sendable {
    /// Sends `state` (for example `READY=1` or `STATUS=…`).
    func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    func stopping() { notify("STOPPING=1\nSTATUS=stopping") }
    func status(_ text: String) { notify("STATUS=\(text)") }
}
