import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Tells SQLite failures caused by the file system under the state directory (a full disk, a read-only mount, a
/// folder that vanished) from failures of the data, so the caller can wait and write the same thing again.
enum StorageCondition {
    /// Below this many free bytes, an I/O error on write is taken for a full disk: SQLite reports ENOSPC as
    /// `SQLITE_FULL` only on some paths (the WAL and its index report `SQLITE_IOERR_*`).
    static let nearlyFullBytes: Int64 = 1 << 20

    /// `error` as a transient `StoreError` (`.diskFull` or `.unwritable`) when the file system holding
    /// `databasePath` is the cause; nil for anything else. `opened` is the identity of the file the database has
    /// open, so a path that no longer names it is told apart from a file system that refuses writes.
    static func classify(_ error: any Error, databasePath: String, opened: FileIdentity? = nil) -> StoreError? {
        if let error = error as? StoreError { return error.isTransient ? error : nil }
        guard let sqlite = error as? DatabaseError else { return nil }
        let directory = (databasePath as NSString).deletingLastPathComponent
        let disk = DiskState(directory)
        switch sqlite.resultCode {
        case .SQLITE_FULL:
            return full(disk, underlying: error)
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_IOERR:
            if let opened, let gone = vanished(databasePath, opened: opened, underlying: error) { return gone }
            if sqlite.extendedResultCode == .SQLITE_READONLY_DBMOVED || !disk.exists {
                return missing(databasePath, underlying: error)
            }
            if disk.readOnly || refusesWrites(directory) { return readOnly(disk, underlying: error) }
            switch sqlite.resultCode {
            case .SQLITE_READONLY:
                return readOnly(disk, underlying: error)
            case .SQLITE_CANTOPEN:
                return StoreError(.unwritable, "cannot create or open files in the state directory \(directory); check that insightd's user may "
                                  + "write there (new files stay queued, and ingestion resumes by itself once it can)", underlying: error)
            default:
                if let free = disk.freeBytes, free < nearlyFullBytes { return full(disk, underlying: error) }
                return nil
            }
        default:
            return nil
        }
    }

    /// A condition when `databasePath` no longer names the file the database has open (`opened`): the file or its
    /// folder was deleted, moved, unmounted or replaced. SQLite keeps writing to the open file even when it is
    /// deleted, and such writes are lost when the process ends, so none is acknowledged; nil while the path still
    /// names the open file.
    static func vanished(_ databasePath: String, opened: FileIdentity, underlying: (any Error)? = nil) -> StoreError? {
        guard let now = FileIdentity(path: databasePath) else { return missing(databasePath, underlying: underlying) }
        guard now != opened else { return nil }
        return StoreError(.unwritable, "the database \(databasePath) was replaced by another file while insightd had it open; nothing is "
                          + "written until the file insightd opened is back at that path, or insightd is restarted to open the one there now "
                          + "(new files stay queued meanwhile)", underlying: underlying)
    }

    /// Whether creating a file in `directory` fails with EROFS. A file system the kernel turns read-only after an
    /// error (ext4 `errors=remount-ro`) can still be listed read-write by `statvfs`, yet refuses every write.
    static func refusesWrites(_ directory: String) -> Bool {
        let probe = directory + "/.insightd-write-probe"
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 {
            close(fd)
            unlink(probe)
            return false
        }
        return errno == EROFS
    }

    private static func full(_ disk: DiskState, underlying: any Error) -> StoreError {
        StoreError(.diskFull, "the file system of the state directory \(disk.directory) is full (\(disk.mountDescription)): free space on "
                   + "\(disk.mountPoint ?? disk.directory); new files stay queued and ingestion resumes by itself", underlying: underlying)
    }

    private static func readOnly(_ disk: DiskState, underlying: any Error) -> StoreError {
        let mount = disk.mountPoint ?? disk.directory
        return StoreError(.unwritable, "the state directory \(disk.directory) is on a read-only file system (\(disk.mountDescription)): new files "
                          + "stay queued and ingestion resumes by itself once \(mount) takes writes again; for a file system the kernel made "
                          + "read-only after an error (see `dmesg`), insightd has closed its database files: unmount \(mount), repair it "
                          + "(e2fsck) and mount it read-write at the same place; insightd then opens the database again and ingests the "
                          + "queued files, with no restart", underlying: underlying)
    }

    private static func missing(_ databasePath: String, underlying: (any Error)?) -> StoreError {
        StoreError(.unwritable, "the database \(databasePath) or its state directory was deleted, moved or unmounted while insightd had it open; "
                   + "nothing is written to the lost file: put the state directory back (ingestion resumes by itself), or restart insightd "
                   + "to start a new, empty database there (new files stay queued meanwhile)", underlying: underlying)
    }
}

/// The device and inode of a file: whether a path still names the file that was opened.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64

    /// The identity of the file `path` names now; nil when there is none.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// Refuses to commit a write transaction once the database path no longer names the file the connection has open:
/// the commit would "succeed" into a deleted or detached file and be lost. Runs in SQLite's commit hook, so the
/// transaction is rolled back and the caller gets the condition before anything is acknowledged.
final class OpenFileGuard: TransactionObserver {
    let path: String
    let opened: FileIdentity

    init(path: String, opened: FileIdentity) {
        self.path = path
        self.opened = opened
    }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
    func databaseDidChange(with event: DatabaseEvent) {}
    func databaseDidCommit(_ db: Database) {}
    func databaseDidRollback(_ db: Database) {}

    func databaseWillCommit() throws {
        if let gone = StorageCondition.vanished(path, opened: opened) { throw gone }
    }
}

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

extension InsightDatabase {
    /// `error` as a `StoreError`: kept when it is one, `.diskFull` or `.unwritable` when the state directory's file
    /// system caused it, else `code` with `what` as the message.
    func storeError(_ code: StoreError.Code, _ what: String, _ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        return StorageCondition.classify(error, databasePath: path, opened: opened) ?? StoreError(code, what, underlying: error)
    }

    /// Whether the state directory refuses writes with EROFS, counted in `writeProbes`.
    private func probeRefusesWrites() -> Bool {
        writeProbes.wrappingAdd(1, ordering: .relaxed)
        return StorageCondition.refusesWrites((path as NSString).deletingLastPathComponent)
    }

    /// `storeError` for a write that has ended (never call it inside a transaction): on a full disk it also tries
    /// to give the write-ahead log's space back, which lets the next try fit where the log had grown into it.
    func failedWrite(_ code: StoreError.Code, _ what: String, _ error: any Error) -> StoreError {
        let failure = storeError(code, what, error)
        if failure.code == .diskFull {
            // Fails harmlessly when the database file itself has no room to take the log's pages.
            _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } else if failure.code == .unwritable, !filesReleased, let opened, FileIdentity(path: path) == opened,
                  probeRefusesWrites() {
            // A file system the kernel made read-only cannot be made writable again while files on it are open:
            // let go of them so it can be unmounted, repaired and mounted again while insightd runs. Checked first:
            // once they are released, every retried write fails with that reason and needs no probe.
            releaseFiles(because: failure)
        }
        return failure
    }
}
