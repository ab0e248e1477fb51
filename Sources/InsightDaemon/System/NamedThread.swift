import CLinux
import Foundation

extension Thread {
    /// Starts `body` on a new thread that the kernel knows by `name` (`/proc/PID/task/TID/comm`, `top -H`, the
    /// idle benchmark), cut to the 15 bytes the kernel keeps. Foundation on Linux loses a name given before
    /// `start()`, and one given from inside the thread as well when the thread runs before `start()` returns: the
    /// thread keeps the name of the thread that created it, often a dispatch worker ("oot.default-qos").
    static func startNamed(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            _ = insight_set_thread_name(name)
            body()
        }
        thread.name = name
        thread.start()
    }
}
