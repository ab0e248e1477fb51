import Foundation

/// Diagnostics on standard error when INSIGHT_EXTRACT_DEBUG is set.
enum Debug {
    static let enabled = ProcessInfo.processInfo.environment["INSIGHT_EXTRACT_DEBUG"] != nil

    static func log(_ s: @autoclosure () -> String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data((s() + "\n").utf8))
    }
}
