#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data. Only the header is parsed; tensor
/// data stays in the page cache and is shared by every process that maps the same file.
final class SafeTensorsFile: @unchecked Sendable {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let start: Int  // absolute offset in the file
        let end: Int
    }

    let path: String
    let entries: [String: Entry]
    private let base: UnsafeRawPointer
    private let length: Int

    init(path: String) throws(SemanticModelError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw SemanticModelError(.modelMissing, "\(path) does not exist; \(SemanticModelError.installHint)")
            }
            throw SemanticModelError(.unreadable, "cannot open \(path): \(String(cString: strerror(err)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw SemanticModelError(.unreadable, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        let size = Int(st.st_size)
        let reinstall = SemanticModelError.reinstallHint
        guard size >= 8 else {
            throw SemanticModelError(.corrupt, "\(path) is truncated (\(size) bytes); \(reinstall)")
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw SemanticModelError(.unreadable, "cannot map \(path): \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            entries = try Self.parseHeader(base: base, size: size, path: path, hint: reinstall)
        } catch {
            munmap(mapped, size)
            throw error
        }
        self.base = base
        self.length = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    private static func parseHeader(base: UnsafeRawPointer, size: Int, path: String,
                                    hint: String) throws(SemanticModelError) -> [String: Entry] {
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8), headerLength <= 100_000_000 else {
            throw SemanticModelError(.corrupt, "\(path) is truncated or corrupt (header of \(headerLength) bytes in a file of \(size)); \(hint)")
        }
        let dataStart = 8 + Int(headerLength)
        let json = Data(bytes: base + 8, count: Int(headerLength))
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw SemanticModelError(.corrupt, "\(path) has no valid JSON header; \(hint)")
        }
        var entries: [String: Entry] = [:]
        for (name, value) in root where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [NSNumber])?.map(\.intValue),
                  let offsets = (info["data_offsets"] as? [NSNumber])?.map(\.intValue), offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], shape.allSatisfy({ $0 >= 0 })
            else {
                throw SemanticModelError(.corrupt, "\(path): the header entry for \(name) is malformed; \(hint)")
            }
            guard offsets[1] <= size - dataStart else {
                throw SemanticModelError(.corrupt, "\(path) is truncated: \(name) ends at byte \(dataStart + offsets[1]) of \(size); \(hint)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, start: dataStart + offsets[0], end: dataStart + offsets[1])
        }
        return entries
    }

    /// The F32 tensor `name`, which must have exactly `shape`.
    func float32(_ name: String, shape: [Int]) throws(SemanticModelError) -> UnsafePointer<Float> {
        guard let entry = entries[name] else {
            throw SemanticModelError(.missingTensor, "\(path) has no tensor \(name); is it all-MiniLM-L6-v2? \(SemanticModelError.installHint)")
        }
        guard entry.dtype == "F32", entry.shape == shape else {
            throw SemanticModelError(.unexpectedTensor, "\(path): \(name) is \(entry.dtype) \(entry.shape), expected F32 \(shape); \(SemanticModelError.installHint)")
        }
        let count = shape.reduce(1, *)
        guard entry.end - entry.start == count * MemoryLayout<Float>.size else {
            throw SemanticModelError(.corrupt, "\(path): \(name) holds \(entry.end - entry.start) bytes for \(count) floats; \(SemanticModelError.installHint)")
        }
        // The format aligns tensors to 8 bytes; a file that does not cannot be read in place.
        guard entry.start % MemoryLayout<Float>.alignment == 0 else {
            throw SemanticModelError(.corrupt, "\(path): \(name) is not aligned for Float; \(SemanticModelError.installHint)")
        }
        return (base + entry.start).assumingMemoryBound(to: Float.self)
    }
}
