#if canImport(Glibc)
import Glibc
#endif
import InsightCore
import SystemPackage

/// Why a file could not be read whole.
struct FileReadProblem: Error, Sendable {
    enum Code: Sendable { case notRegular, tooLarge, unreadable, vanished, changedWhileReading }
    var code: Code
    var message: String
}

/// What was read from a file.
struct FileContents: Sendable {
    var bytes: [UInt8]
    var size: Int64
    var mtime: Double
}

/// Reads inbox files safely: never blocks on FIFOs or devices, never reads past a size cap.
enum FileReader {
    /// Reads the whole regular file at `path`, up to `maxBytes`.
    static func read(_ path: String, maxBytes: Int64) throws(FileReadProblem) -> FileContents {
        let fd: FileDescriptor
        do {
            // The path as given (a FilePath would be normalized). Non-blocking: opening a FIFO without a writer must
            // not hang the pipeline.
            fd = try path.withCString { path in
                try FileDescriptor.open(path, .readOnly, options: [.nonBlocking, .closeOnExec, .init(rawValue: O_NOCTTY)])
            }
        } catch {
            let errno = error as? Errno
            if errno == .noSuchFileOrDirectory { throw FileReadProblem(code: .vanished, message: "the file disappeared before it could be read") }
            if errno == .permissionDenied {
                throw FileReadProblem(code: .unreadable, message: "permission denied: insightd cannot read this file; make it readable (chmod a+r) and run `insightctl retry`")
            }
            throw FileReadProblem(code: .unreadable, message: "cannot open the file: \(error)")
        }
        defer { try? fd.close() }
        let info: stat
        do { info = try fd.stat().rawValue } catch { throw FileReadProblem(code: .unreadable, message: "cannot stat the file: \(error)") }
        guard info.isRegularFile else {
            throw FileReadProblem(code: .notRegular, message: "\(info.kindName) is not a file insightd can read; only regular text files are ingested")
        }
        let size = Int64(info.st_size)
        guard size <= maxBytes else {
            throw FileReadProblem(code: .tooLarge, message: "the file is \(size) bytes, over max_file_bytes (\(maxBytes)); split it or raise max_file_bytes")
        }
        var bytes = [UInt8](repeating: 0, count: Int(size) + 1)
        var filled = 0
        do {
            while true {
                if filled == bytes.count {
                    // Grew while reading: past the cap it is refused, otherwise settle will bring it back.
                    if Int64(filled) > maxBytes { throw FileReadProblem(code: .tooLarge, message: "the file grew past max_file_bytes (\(maxBytes)) while being read") }
                    bytes.append(contentsOf: repeatElement(0, count: max(4096, filled / 2)))
                }
                let count = try bytes.withUnsafeMutableBytes { buffer throws(SystemCallError) in
                    do {
                        return try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    } catch {
                        throw SystemCallError(call: "read", errno: error as? Errno ?? .ioError)
                    }
                }
                if count == 0 { break }
                filled += count
            }
        } catch let problem as FileReadProblem {
            throw problem
        } catch {
            throw FileReadProblem(code: .unreadable, message: "cannot read the file: \(error)")
        }
        bytes.removeSubrange(filled...)
        if Int64(filled) > maxBytes {
            throw FileReadProblem(code: .tooLarge, message: "the file is \(filled) bytes, over max_file_bytes (\(maxBytes)); split it or raise max_file_bytes")
        }
        return FileContents(bytes: bytes, size: Int64(filled), mtime: info.modificationTime)
    }
}
