import Foundation
import GRDB
import InsightStoreCore

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
