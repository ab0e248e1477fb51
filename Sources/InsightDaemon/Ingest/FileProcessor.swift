import Foundation
import InsightCore
import InsightExtract
import InsightStoreCore
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Turns one settled inbox file into stored insights, or into a recorded reason why not.
struct FileProcessor {
    /// Files split into insights (and searched for links); the format is chosen by content too.
    static let ingestedExtensions: Set<String> = ["txt", "md", "markdown", "csv"]
    /// Saved pages: an article gives insights, a bookmarks export or link page gives links.
    static let htmlExtensions: Set<String> = ["html", "htm", "xhtml"]
    /// Files read only for the links they hold: internet shortcuts.
    static let linkOnlyExtensions: Set<String> = ["url", "webloc"]

    let settings: Settings
    let logger: Logger

    /// What became of a file.
    enum Verdict {
        case stored(IngestOutcome)
        case skipped(String)
        case failed(String)
        case unchanged
        /// Read and parsed; to be stored (possibly together with other files).
        case ready(FileIngest)
    }

    /// Whether the file looks as it did when it was last handled (stored, or refused with a reason): same size and
    /// mtime. A short read of the store.
    static func isUnchanged(_ path: String, _ linkInfo: stat, in database: any IngestStoring) -> Bool {
        guard let source = try? database.source(path: path), [.ingested, .skipped, .failed].contains(source.state) else { return false }
        return source.size == Int64(linkInfo.st_size) && source.mtime == linkInfo.modificationTime
    }

    /// Logs what became of a file whose verdict is final (skips and failures are recorded by the writer).
    func log(relativePath path: String, verdict: Verdict) {
        switch verdict {
        case .ready:
            logger.error("a file was finished before it was stored", metadata: ["path": "\(path)"])
        case .stored(.stored(let new, let occurrences, let variants, let conflicts)):
            logger.info("stored", metadata: ["path": "\(path)", "insights": "\(occurrences)", "new": "\(new)", "variants": "\(variants)",
                                             "conflicts": "\(conflicts)"])
        case .stored(.unchanged), .unchanged:
            logger.debug("unchanged", metadata: ["path": "\(path)"])
        case .skipped(let reason):
            logger.notice("file skipped", metadata: ["path": "\(path)", "reason": "\(reason)"])
        case .failed(let reason):
            logger.notice("file failed", metadata: ["path": "\(path)", "reason": "\(reason)"])
        }
    }

    /// Reads and parses a file, or decides why it is not stored. Touches neither the store nor shared state, so
    /// several run at once.
    func prepare(relativePath path: String, info linkInfo: stat) -> Verdict {
        let absolutePath = settings.inbox + "/" + path
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
            return .skipped(ext.isEmpty ? "no file extension; insightd ingests .txt, .md and .html files, Readwise CSV exports (and links from .url files)"
                                        : "a .\(ext) file; insightd ingests .txt, .md and .html files, Readwise CSV exports (and links from .url files)")
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
        if DocumentReader.csvExtensions.contains(ext), !ReadwiseCSV.looksLikeExport(decoded.text) {
            return .skipped("a .csv file that is not a Readwise export (its first line is not Readwise's header: Highlight,Book Title,…); "
                            + "insightd reads CSV only as Readwise exports")
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
            path: path, size: contents.size, mtime: contents.mtime, sha256: Hashing.sha256Hex(contents.bytes),
            encoding: decoded.encoding.rawValue, documentDate: document.date,
            insights: document.insights.map { PreparedInsight($0, sign: settings.nearDuplicatesEnabled) }, links: links,
            format: document.format.rawValue)
        return .ready(ingest)
    }
}
