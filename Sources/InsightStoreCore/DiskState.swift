import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What `statvfs(3)` says about the file system holding a directory.
public struct DiskState: Sendable, Equatable {
    /// The directory asked about.
    public var directory: String
    /// Whether the directory still exists.
    public var exists: Bool
    /// Bytes this process may still write there; nil when unknown.
    public var freeBytes: Int64?
    /// Whether the file system is mounted read-only.
    public var readOnly: Bool
    /// Where that file system is mounted (the highest folder above `directory` on the same device).
    public var mountPoint: String?

    /// Reads the state of the file system holding `directory` now; cheap (two or three system calls per folder level).
    public init(_ directory: String) {
        self.directory = directory
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else {
            exists = false
            freeBytes = nil
            readOnly = false
            mountPoint = nil
            return
        }
        exists = true
        // Root may use the blocks reserved for it; everyone else only the available ones.
        let blocks = getuid() == 0 ? info.f_bfree : info.f_bavail
        freeBytes = Int64(clamping: UInt64(blocks) &* UInt64(info.f_frsize))
        readOnly = info.f_flag & UInt(ST_RDONLY) != 0
        mountPoint = Self.mountPoint(of: directory)
    }

    /// "mounted at /var, 12 KB free".
    public var mountDescription: String {
        var parts: [String] = []
        if let mountPoint { parts.append("mounted at \(mountPoint)") }
        if let freeBytes { parts.append("\(Self.bytes(freeBytes)) free") }
        return parts.joined(separator: ", ")
    }

    /// Walks up from `directory` while the parent is on the same device.
    static func mountPoint(of directory: String) -> String? {
        var current = (directory as NSString).standardizingPath
        var info = stat()
        guard stat(current, &info) == 0 else { return nil }
        let device = info.st_dev
        while current != "/" {
            let parent = (current as NSString).deletingLastPathComponent
            var parentInfo = stat()
            guard stat(parent, &parentInfo) == 0, parentInfo.st_dev == device else { return current }
            current = parent
        }
        return "/"
    }

    /// 1536 → "1.5 KB", in powers of 1024.
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024, unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: amount < 10 ? "%.1f" : "%.0f", amount) + " " + units[unit]
    }
}
