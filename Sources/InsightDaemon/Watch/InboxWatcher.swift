import Foundation
import InsightCore
import InsightStoreCore
import Logging
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Watches the inbox and its subfolders with inotify (or by polling where inotify cannot serve) and
/// queues every file that arrives, changes or goes away.
///
/// Runs on a thread of its own, blocked in `poll(2)` on the inotify descriptor and a wake-up pipe, so it
/// costs nothing while the inbox is quiet. Full scans run at start, on `IN_Q_OVERFLOW`, on request, and
/// every reconcile interval, so no file is missed even when events are.
final class InboxWatcher: @unchecked Sendable {
    private let pipeline: IngestPipeline
    private let database: any IngestStoring
    private let stats: DaemonStats
    private let logger: Logger
    private let lock = NSLock()
    private var settings: Settings  // guarded by lock

    // Owned by the watcher thread.
    private var inotify: Int32 = -1
    private var watches: [Int32: String] = [:]  // wd -> folder relative to the inbox ("" is the inbox)
    private var polled: [String: [String: (Int64, Double)]] = [:]  // polled folder -> file snapshots
    private var tooLong: Set<String> = []  // short forms of paths over PATH_MAX already recorded
    private var nextReconcile = 0.0
    private var nextPoll = 0.0

    private let wakeRead: FileDescriptor
    private let wakeWrite: FileDescriptor
    private var requests: [Request] = []  // guarded by lock
    private var stopped = false  // guarded by lock
    private var finished: CheckedContinuation<Void, Never>?  // guarded by lock
    private var done = false  // guarded by lock

    private enum Request { case rescan, stop }

    /// Test hook (`INSIGHTD_TEST_HOLD_EVENTS=PATH`): while PATH exists, inotify events are not read.
    private let holdEventsPath = ProcessInfo.processInfo.environment["INSIGHTD_TEST_HOLD_EVENTS"]

    init(settings: Settings, pipeline: IngestPipeline, database: any IngestStoring, stats: DaemonStats, logger: Logger) throws(SystemCallError) {
        self.settings = settings
        self.pipeline = pipeline
        self.database = database
        self.stats = stats
        self.logger = logger
        do {
            (wakeRead, wakeWrite) = try FileDescriptor.pipe(options: [.closeOnExec, .nonBlocking])
        } catch {
            throw SystemCallError(call: "pipe", errno: error)
        }
    }

    func start() {
        Thread.startNamed("insightd-watch") { [self] in run() }
    }

    /// Asks for a full scan of the inbox.
    func requestRescan() { send(.rescan) }

    func update(settings newSettings: Settings) {
        lock.withLock { settings = newSettings }
    }

    /// Stops watching and returns once the thread has ended.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyDone = lock.withLock { () -> Bool in
                if done { return true }
                finished = continuation
                return false
            }
            if alreadyDone { continuation.resume() } else { send(.stop) }
        }
    }

    private func send(_ request: Request) {
        lock.withLock { requests.append(request) }
        // A full pipe already wakes the thread.
        _ = try? wakeWrite.writeAll(CollectionOfOne(UInt8(1)))
    }

    private var currentSettings: Settings { lock.withLock { settings } }

    // MARK: - The watcher thread

    private func run() {
        let settings = currentSettings
        let mode = settings.watchMode
        if mode != "poll" {
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if inotify < 0 {
                logger.warning("inotify is not available; polling the inbox instead", metadata: ["error": "\(Errno(rawValue: errno))"])
            }
        }
        fullScan(reason: "start")
        let now = monotonicSeconds()
        nextReconcile = now + Double(settings.reconcileIntervalSeconds)
        nextPoll = now + Double(settings.pollIntervalSeconds)

        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        loop: while true {
            let timeout = pollTimeoutMilliseconds()
            var fds = [pollfd(fd: wakeRead.rawValue, events: Int16(POLLIN), revents: 0), pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, inotify >= 0 ? 2 : 1, timeout) < 0 {
                // An interrupted poll is not retried here: the loop goes on to its timers and recomputes the timeout.
                let error = Errno(rawValue: errno)
                if error != .interrupted {
                    logger.error("poll failed in the watcher", metadata: ["error": "\(error)"])
                    usleep(100_000)
                }
            }
            if fds[0].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 64)
                while (try? drain.withUnsafeMutableBytes { try wakeRead.read(into: $0) }) ?? 0 > 0 {}
                let pending = lock.withLock { () -> [Request] in defer { requests = [] }; return requests }
                for request in pending {
                    switch request {
                    case .stop: break loop
                    case .rescan:
                        stats.update { $0.rescans += 1 }
                        DaemonMetrics.shared.rescan(.requested)
                        fullScan(reason: "requested")
                    }
                }
            }
            if inotify >= 0, fds[1].revents != 0 {
                if let hold = holdEventsPath, access(hold, F_OK) == 0 {
                    // Test hook: leave events in the kernel queue (to provoke IN_Q_OVERFLOW) while the file exists.
                    usleep(20_000)
                } else {
                    readEvents(&buffer)
                }
            }
            let now = monotonicSeconds()
            if now >= nextPoll {
                pollFolders()
                nextPoll = now + Double(currentSettings.pollIntervalSeconds)
            }
            if now >= nextReconcile {
                stats.update { $0.rescans += 1 }
                DaemonMetrics.shared.rescan(.reconcile)
                fullScan(reason: "reconcile")
                nextReconcile = now + Double(currentSettings.reconcileIntervalSeconds)
            }
        }
        if inotify >= 0 { close(inotify) }
        try? wakeRead.close()
        try? wakeWrite.close()
        let continuation = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            done = true
            defer { finished = nil }
            return finished
        }
        continuation?.resume()
    }

    /// Sleeps until the next reconcile, or the next poll when some folder is polled: no other timers.
    private func pollTimeoutMilliseconds() -> Int32 {
        let now = monotonicSeconds()
        var deadline = nextReconcile
        if !polled.isEmpty { deadline = min(deadline, nextPoll) }
        return Int32(max(0, min(deadline - now, 86_400)) * 1000) + 1
    }

    private func readEvents(_ buffer: inout [UInt8]) {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count <= 0 { return }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (wd, mask, name, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, String?, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let nameStart = offset + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[nameStart..<(nameStart + Int(event.len))].prefix(while: { $0 != 0 })
                    var name = event.len == 0 ? nil : String(validating: nameBytes, as: UTF8.self)
                    if event.len > 0, name == nil {
                        // Marked so handle() can record it: such a name cannot be opened through a String path.
                        name = Self.invalidNameMarker + String(decoding: nameBytes, as: UTF8.self)
                    }
                    return (event.wd, event.mask, name, MemoryLayout<inotify_event>.size + Int(event.len))
                }
                offset += length
                handle(wd: wd, mask: mask, name: name)
            }
        }
    }

    private func handle(wd: Int32, mask: UInt32, name: String?) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            stats.update { $0.overflows += 1; $0.rescans += 1 }
            DaemonMetrics.shared.inotifyOverflows.increment()
            DaemonMetrics.shared.rescan(.overflow)
            logger.warning("inotify queue overflowed; rescanning the inbox so nothing is missed")
            fullScan(reason: "overflow")
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 {
            watches[wd] = nil
            stats.update { $0.watches = watches.count }
            return
        }
        guard let folder = watches[wd], var name else { return }
        let settings = currentSettings
        var validName = true
        if name.hasPrefix(Self.invalidNameMarker) {
            name.removeFirst(Self.invalidNameMarker.count)
            validName = false
        }
        let rules = IgnoreRules(globs: settings.ignore)
        if rules.ignores(name) { return }
        let relative = folder.isEmpty ? name : folder + "/" + name
        if InboxPathLimit.exceeded(by: settings.inbox + "/" + relative) {
            if mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) != 0 {
                recordTooLong(relative, folder: mask & UInt32(IN_ISDIR) != 0, settings: settings)
            } else if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 {
                // Gone: the pipeline marks its record removed.
                let short = InboxPathLimit.shortened(relative)
                tooLong.remove(short)
                pipeline.enqueue(short)
            }
            return
        }
        if mask & UInt32(IN_ISDIR) != 0 {
            if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                // Watch first, then scan: files created before the watch existed are caught by the scan.
                addFolder(relative, settings: settings)
                var unused = Set<String>()
                scan(folder: relative, rules: rules, seen: &unused, collect: false)
            } else if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 {
                removeFolder(relative)
            }
            return
        }
        if !validName {
            if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) != 0 { recordInvalidName(relative) }
            return
        }
        if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) != 0 {
            pipeline.enqueue(relative)
        } else if mask & UInt32(IN_CREATE) != 0 {
            // A regular file is taken when its writer closes it; links, FIFOs and devices never close-write.
            if let info = try? lstatPath(settings.inbox + "/" + relative), !info.isRegularFile { pipeline.enqueue(relative) }
        }
    }

    static let invalidNameMarker = "\u{0}invalid-name\u{0}"

    /// A name whose bytes are not UTF-8 is recorded as skipped (once) rather than silently missed.
    private func recordInvalidName(_ relative: String) {
        do {
            if try database.source(path: relative)?.state == .skipped { return }
        } catch {
            logger.error("cannot look up a file with an invalid name", metadata: ["error": "\(error)"])
            return
        }
        // Recorded by the pipeline, which waits out a full disk rather than lose the record.
        pipeline.recordProblem(path: relative, state: .skipped,
                               reason: "the file name is not valid UTF-8; rename the file (for example with convmv) and it will be ingested")
    }

    /// A file or folder whose path is longer than the kernel takes cannot be read, listed or watched: it is recorded
    /// as failed, once, under a short form of its path (the whole path would flood `insightctl failed` and status).
    /// Returns that form; scans count it as seen, so the record stays while the folder is there.
    @discardableResult
    private func recordTooLong(_ relative: String, folder: Bool, settings: Settings) -> String {
        let short = InboxPathLimit.shortened(relative)
        pipeline.recordStands(short, for: relative)
        // An event and a scan may both find it before the pipeline has written the record.
        guard tooLong.insert(short).inserted else { return short }
        do {
            if try database.source(path: short)?.state == .failed { return short }
        } catch {
            logger.error("cannot look up a path that is too long", metadata: ["path": "\(short)", "error": "\(error)"])
            tooLong.remove(short)  // the next scan tries again
            return short
        }
        let length = (settings.inbox + "/" + relative).utf8.count
        let what = folder ? "folder" : "file"
        let fix = folder ? "move the folder higher up in the inbox or shorten the names of the folders above it"
                         : "move the file higher up in the inbox or shorten its name or the names of the folders above it"
        let reason = "the \(what)'s path is \(length) bytes long, and the system takes paths under \(InboxPathLimit.bytes) bytes (PATH_MAX), so "
            + "insightd cannot \(folder ? "watch or read it or anything in it" : "read it"); \(fix), and the next scan (`insightctl rescan`) takes it"
        logger.warning("a \(what) of the inbox has a path over PATH_MAX; recorded as failed", metadata: ["path": "\(short)"])
        pipeline.recordProblem(path: short, state: .failed, reason: reason)
        return short
    }

    // MARK: - Folders

    private func addFolder(_ relative: String, settings: Settings) {
        let path = relative.isEmpty ? settings.inbox : settings.inbox + "/" + relative
        if !relative.isEmpty, InboxPathLimit.exceeded(by: path) {
            // Polling it would fail forever, too.
            recordTooLong(relative, folder: true, settings: settings)
            return
        }
        let forcePoll = settings.watchMode == "poll" || inotify < 0 || (settings.watchMode == "auto" && isNetworkFileSystem(path))
        if !forcePoll {
            let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
            let wd = inotify_add_watch(inotify, path, mask)
            if wd >= 0 {
                watches[wd] = relative
                polled[relative] = nil
                updateWatchStats()
                return
            }
            if errno == ENOSPC {
                let message = "inotify watches are used up; polling \(path) instead. Raise the limit with: sysctl fs.inotify.max_user_watches=524288"
                logger.warning("\(message)")
                stats.update { $0.watchWarning = message }
            } else if errno == ENOENT || errno == ENOTDIR {
                return
            } else if errno == ENAMETOOLONG, !relative.isEmpty {
                recordTooLong(relative, folder: true, settings: settings)
                return
            } else {
                logger.warning("cannot watch a folder; polling it instead", metadata: ["folder": "\(path)", "error": "\(Errno(rawValue: errno))"])
            }
        }
        if polled[relative] == nil { polled[relative] = snapshot(folder: relative, settings: settings) }
        updateWatchStats()
    }

    private func removeFolder(_ relative: String) {
        for (wd, folder) in watches where folder == relative || folder.hasPrefix(relative + "/") {
            inotify_rm_watch(inotify, wd)
            watches[wd] = nil
        }
        for folder in polled.keys where folder == relative || folder.hasPrefix(relative + "/") { polled[folder] = nil }
        updateWatchStats()
        // Files below it are gone from the inbox: a scan marks their sources removed.
        fullScan(reason: "folder removed")
    }

    private func updateWatchStats() {
        let settings = currentSettings
        let watched = watches.count, polledCount = polled.count
        let polledNames = polled.keys.sorted()
        stats.update {
            $0.watches = watched
            $0.folders = watched + polledCount
            $0.polledFolders = polledNames
            $0.watchMode = polledCount == 0 ? "inotify" : (watched == 0 ? "poll" : "mixed")
            if settings.watchMode == "poll" { $0.watchMode = "poll" }
        }
    }

    // MARK: - Scans

    /// Walks the whole inbox: (re)watches every folder, queues every file, and queues sources whose files are gone.
    private func fullScan(reason: String) {
        let settings = currentSettings
        let rules = IgnoreRules(globs: settings.ignore)
        logger.debug("scanning the inbox", metadata: ["reason": "\(reason)"])
        var seen = Set<String>()
        if !watches.values.contains("") && polled[""] == nil { addFolder("", settings: settings) }
        scan(folder: "", rules: rules, seen: &seen)
        tooLong.formIntersection(seen)
        do {
            for path in try database.activeSourcePaths() where !seen.contains(path) {
                pipeline.enqueue(path)
            }
        } catch {
            logger.error("cannot list known sources during a scan", metadata: ["error": "\(error)"])
        }
    }

    private func scan(folder: String, rules: IgnoreRules, seen: inout Set<String>, collect: Bool = true) {
        let settings = currentSettings
        let path = folder.isEmpty ? settings.inbox : settings.inbox + "/" + folder
        let entries: [DirectoryEntry]
        do {
            entries = try listDirectory(path)
        } catch {
            logger.warning("cannot list a folder of the inbox", metadata: ["folder": "\(path)", "error": "\(error)"])
            return
        }
        let watchedFolders = Set(watches.values).union(polled.keys)
        for entry in entries where !rules.ignores(entry.name) {
            let relative = folder.isEmpty ? entry.name : folder + "/" + entry.name
            if InboxPathLimit.exceeded(by: settings.inbox + "/" + relative) {
                let short = recordTooLong(relative, folder: entry.isDirectory, settings: settings)
                if collect { seen.insert(short) }
            } else if entry.isDirectory {
                if !watchedFolders.contains(relative) { addFolder(relative, settings: settings) }
                scan(folder: relative, rules: rules, seen: &seen, collect: collect)
            } else if !entry.nameIsUTF8 {
                if collect { seen.insert(relative) }
                recordInvalidName(relative)
            } else {
                if collect { seen.insert(relative) }
                pipeline.enqueue(relative)
            }
        }
    }

    private func snapshot(folder: String, settings: Settings) -> [String: (Int64, Double)] {
        let path = folder.isEmpty ? settings.inbox : settings.inbox + "/" + folder
        var files: [String: (Int64, Double)] = [:]
        guard let entries = try? listDirectory(path) else { return files }
        for entry in entries where !entry.isDirectory {
            if let info = try? lstatPath(path + "/" + entry.name) { files[entry.name] = (Int64(info.st_size), info.modificationTime) }
        }
        return files
    }

    /// Polled folders: compare a fresh listing with the last one and queue what changed.
    private func pollFolders() {
        guard !polled.isEmpty else { return }
        let settings = currentSettings
        let rules = IgnoreRules(globs: settings.ignore)
        for (folder, before) in polled {
            let after = snapshot(folder: folder, settings: settings)
            for (name, state) in after where !rules.ignores(name) {
                if let old = before[name], old == state { continue }
                pipeline.enqueue(folder.isEmpty ? name : folder + "/" + name)
            }
            for name in before.keys where after[name] == nil && !rules.ignores(name) {
                pipeline.enqueue(folder.isEmpty ? name : folder + "/" + name)
            }
            polled[folder] = after
            // New subfolders of a polled folder are picked up by scanning it.
            let path = folder.isEmpty ? settings.inbox : settings.inbox + "/" + folder
            let known = Set(watches.values).union(polled.keys)
            for entry in (try? listDirectory(path)) ?? [] where entry.isDirectory && !rules.ignores(entry.name) {
                let relative = folder.isEmpty ? entry.name : folder + "/" + entry.name
                if !known.contains(relative) {
                    addFolder(relative, settings: settings)
                    var unused = Set<String>()
                    scan(folder: relative, rules: rules, seen: &unused, collect: false)
                }
            }
        }
    }
}
