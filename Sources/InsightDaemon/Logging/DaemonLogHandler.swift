import Foundation
import InsightCore
import Logging
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Writes log lines to stderr: with `<N>` syslog priority prefixes and no timestamps when stderr is the
/// journal (`$JOURNAL_STREAM` names stderr's device and inode), readable text with timestamps otherwise.
public struct DaemonLogHandler: LogHandler, Sendable {
    public var metadata: Logger.Metadata = [:]
    /// Read from and written to the shared box, so a reload changes the level of every logger.
    public var logLevel: Logger.Level {
        get { levelBox.level }
        set { levelBox.level = newValue }
    }
    let label: String
    let journal: Bool
    let levelBox: LogLevelBox

    public init(label: String, level: LogLevelBox, journal: Bool = DaemonLogHandler.stderrIsJournal()) {
        self.label = label
        self.levelBox = level
        self.journal = journal
    }

    public init(label: String, level: Logger.Level, journal: Bool = DaemonLogHandler.stderrIsJournal()) {
        self.init(label: label, level: LogLevelBox(level), journal: journal)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let line = Self.format(level: event.level, message: "\(event.message)", metadata: fields, journal: journal)
        // Whole, through interruptions and short writes; a log line that cannot be written is dropped.
        _ = try? FileDescriptor.standardError.writeAll(line.utf8)
    }

    /// One log line: `<6>message key=value` for the journal (it adds its own timestamps), else
    /// `2025-01-02 03:04:05.678 INFO message key=value`. Control characters (file names and texts come from inbox
    /// writers) are made visible, so one event stays one line and never drives the terminal reading the log.
    static func format(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool, timestamp: @autoclosure () -> String = timestamp()) -> String {
        let suffix = metadata.isEmpty ? "" : " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text = VisibleText.escape(message + suffix)
        if journal { return "<\(priority(level))>\(text)\n" }
        return "\(timestamp()) \(level.rawValue.uppercased()) \(text)\n"
    }

    /// Whether `$JOURNAL_STREAM` (`DEVICE:INODE`) matches stderr, as systemd documents.
    public static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        localtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%03d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000))
    }
}
