import Foundation
import InsightCore
import InsightExtract
import InsightStore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Turns one settled inbox file into stored insights, or into a recorded reason why not.
struct FileProcessor {
    /// Files split into insights (and searched for links); the format is chosen by content too.
    static let ingestedExtensions: Set<String> = ["txt", "md", "markdown"]
    /// Saved pages: an article gives insights, a bookmarks export or link page gives links.
    static let htmlExtensions: Set<String> = ["html", "htm", "xhtml"]
    /// Files read only for the links they hold: internet shortcuts.
    static let linkOnlyExtensions: Set<String> = ["url", "webloc"]

    let settings: Settings
    let database: any InsightStoring
    let logger: Logger
    /// Told when a stored file queued links, so fetching starts without delay.
    var onLinksQueued: @Sendable () -> Void = {}
    /// Take the file again even when it looks unchanged (`insightctl retry`).
    var force = false
    /// Runs the store write that records a skipped or failed file and returns its error, if any. The pipeline
    /// passes one that waits out a full disk or an unreachable database, so the record is not lost.
    var storeWrite: (_ body: () throws(StoreError) -> Void) -> StoreError? = { body in
        do throws(StoreError) {
            try body()
            return nil
        } catch {
            return error
        }
    }

    /// What became of a file.
    enum Verdict {
        case stored(IngestOutcome)
        case skipped(String)
        case failed(String)
        case unchanged
        /// Read and parsed; to be stored (possibly together with other files).
        case ready(FileIngest)
    }

    /// Reads and parses a file, or decides why it is not stored; does not write the database.
    func prepare(relativePath path: String, info linkInfo: stat) -> Verdict {
        decide(path, linkInfo)
    }

    /// Logs and records what became of a file whose verdict is final.
    func finish(relativePath path: String, info linkInfo: stat, verdict: Verdict) {
        switch verdict {
        case .ready:
            logger.error("a file was finished before it was stored", metadata: ["path": "\(path)"])
        case .stored(.stored(let new, let occurrences)):
            logger.info("stored", metadata: ["path": "\(path)", "insights": "\(occurrences)", "new": "\(new)"])
            onLinksQueued()
        case .stored(.unchanged), .unchanged:
            logger.debug("unchanged", metadata: ["path": "\(path)"])
        case .skipped(let reason):
            record(path, .skipped, reason, linkInfo)
        case .failed(let reason):
            record(path, .failed, reason, linkInfo)
        }
    }

    private func decide(_ path: String, _ linkInfo: stat) -> Verdict {
        let absolutePath = settings.inbox + "/" + path
        // Same size and mtime as last time: already handled (stored, or refused with a reason).
        if !force, let source = try? database.source(path: path), [.ingested, .skipped, .failed].contains(source.state),
           source.size == Int64(linkInfo.st_size), source.mtime == linkInfo.modificationTime {
            return .unchanged
        }
        var info = linkInfo
        if linkInfo.isSymlink {
            // Links are followed only to files inside the inbox, which also rules out loops.
            guard let target = realpath(absolutePath, nil) else {
                if errno == ELOOP { return .failed("symbolic link loop: the link leads back to itself") }
                return .failed("broken symbolic link: its target does not exist")
            }
            let resolved = String(cString: target)
            free(target)
            let root = (realpath(settings.inbox, nil)).map { p in defer { free(p) }; return String(cString: p) } ?? settings.inbox
            guard resolved.hasPrefix(root + "/") else {
                return .skipped("symbolic link to \(resolved), outside the inbox; only links within the inbox are followed")
            }
            guard let targetInfo = try? statPath(resolved) else { return .failed("broken symbolic link") }
            if targetInfo.isDirectory { return .skipped("symbolic link to a folder; folder links are not followed") }
            info = targetInfo
        }
        guard info.isRegularFile else {
            return .skipped("\(info.kindName) is not a file insightd reads; only regular text files are ingested")
        }
        let ext = (path as NSString).pathExtension.lowercased()
        let linksOnly = Self.linkOnlyExtensions.contains(ext)
        let html = Self.htmlExtensions.contains(ext)
        guard Self.ingestedExtensions.contains(ext) || linksOnly || html else {
            return .skipped(ext.isEmpty ? "no file extension; insightd ingests .txt, .md and .html files (and links from .url files)"
                                        : "a .\(ext) file; insightd ingests .txt, .md and .html files (and links from .url files)")
        }
        let contents: FileContents
        do {
            contents = try FileReader.read(absolutePath, maxBytes: settings.maxFileBytes)
        } catch {
            switch error.code {
            case .notRegular, .tooLarge: return .skipped(error.message)
            case .vanished: return .unchanged
            case .unreadable, .changedWhileReading: return .failed(error.message)
            }
        }
        let decoded: (text: String, encoding: TextEncoding)
        do {
            decoded = try TextDecoder.decode(contents.bytes)
        } catch {
            return .skipped(error.description)
        }
        let document: ParsedDocument
        if linksOnly {
            document = ParsedDocument(date: nil, insights: [], format: .links)
        } else if html {
            document = HTMLNote.parse(html: contents.bytes, text: decoded.text, minWords: settings.minWords)
        } else {
            document = DocumentReader.parse(decoded.text, fileExtension: ext, minWords: settings.minWords)
        }
        var links: [HarvestedLink] = []
        if settings.fetchEnabled {
            // A format that knows which of its URLs are worth fetching says so; otherwise every link counts.
            links = document.links.map(LinkHarvester.canonical) ?? LinkHarvester.links(in: decoded.text, fileExtension: ext)
        }
        let ingest = FileIngest(
            path: path, size: contents.size, mtime: contents.mtime, sha256: SHA256.hex(contents.bytes),
            encoding: decoded.encoding.rawValue, documentDate: document.date,
            insights: document.insights.map(PreparedInsight.init), links: links, format: document.format.rawValue)
        return .ready(ingest)
    }

    private func record(_ path: String, _ state: SourceState, _ reason: String, _ info: stat) {
        logger.notice(state == .failed ? "file failed" : "file skipped", metadata: ["path": "\(path)", "reason": "\(reason)"])
        let failure = storeWrite { () throws(StoreError) in
            try database.recordProblem(path: path, state: state, reason: reason, size: Int64(info.st_size), mtime: info.modificationTime)
        }
        if let failure {
            logger.error("cannot record the file's state", metadata: ["path": "\(path)", "error": "\(failure)"])
        }
    }
}
