import Foundation
import InsightCore
import InsightStore
import InsightStoreCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Bad input gets a clear reason and loses nothing", .serialized)
struct BadInputTests {
    @Test func everyKindOfBadInputIsRecordedAndTheGoodFilesAreStored() throws {
        // Run as an unprivileged user so that an unreadable file really is unreadable.
        try #require(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                     "needs root and setpriv to run the daemon as another user")
        let daemon = try DaemonHarness(environment: ["INSIGHTD_MAX_FILE_BYTES": "4000"])
        daemon.runAsUID = 65534
        try daemon.start()
        let inbox = daemon.inbox
        func write(_ name: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: inbox + "/" + name)) }

        try daemon.write("a.txt", fixture("a.txt"))
        try daemon.write("d.txt", fixture("d.txt"))
        try write("binary.txt", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x00, 0x00, 0x00, 0x3E, 0x00])
        try write("latin1.txt", Array("The caf".utf8) + [0xE9] + Array(" on the corner sells more coffee when it rains all week.\n".utf8))
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "Sixteen-bit text files with a byte order mark are read as well.\n".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        try write("utf16.txt", utf16)
        try daemon.write("big.txt", String(repeating: "A line that is long enough to count as one insight here.\n", count: 100))
        try write("empty.txt", [])
        try daemon.write("unreadable.txt", "Nobody but root can read this paragraph, so it must fail.\n")
        chown(inbox + "/unreadable.txt", 0, 0)
        chmod(inbox + "/unreadable.txt", 0o000)
        #expect(mkfifo(inbox + "/fifo.txt", 0o644) == 0)
        #expect(mknod(inbox + "/device.txt", S_IFCHR | 0o644, dev_t((1 << 8) | 3)) == 0)
        #expect(symlink("a.txt", inbox + "/inside-link.txt") == 0)
        #expect(symlink("/etc/hostname", inbox + "/outside-link.txt") == 0)
        #expect(symlink("loop2.txt", inbox + "/loop1.txt") == 0)
        #expect(symlink("loop1.txt", inbox + "/loop2.txt") == 0)
        #expect(symlink("nowhere.txt", inbox + "/dangling.txt") == 0)
        try daemon.write("new\nline.txt", "A file name with a line break in it is still an ordinary file here.\n")
        // A name whose bytes are not UTF-8.
        let rawName = Array((inbox + "/bad-").utf8) + [0xFF, 0xFE] + Array(".txt".utf8) + [0]
        let named = rawName.withUnsafeBufferPointer { buffer -> Int32 in
            open(UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        #expect(named >= 0)
        _ = "An insight in a file whose name is not valid text at all.\n".withCString { Glibc.write(named, $0, strlen($0)) }
        close(named)

        let report = try daemon.waitForStatus(timeout: 60, "every file is accounted for") {
            $0.files.ingested >= 6 && $0.files.skipped + $0.files.failed >= 10
        }
        #expect(try daemon.status().state == "running")
        try daemon.stop()

        let database = try InsightDatabase(path: daemon.state + "/insights.sqlite")
        func reason(_ path: String) throws -> (SourceState?, String?) {
            let source = try database.source(path: path)
            return (source?.state, source?.error)
        }
        let expectations: [(String, SourceState, String)] = [
            ("binary.txt", .skipped, "binary"),
            ("big.txt", .skipped, "max_file_bytes"),
            ("empty.txt", .skipped, "empty"),
            ("unreadable.txt", .failed, "permission denied"),
            ("fifo.txt", .skipped, "FIFO"),
            ("device.txt", .skipped, "device"),
            ("outside-link.txt", .skipped, "outside the inbox"),
            ("loop1.txt", .failed, "loop"),
            ("dangling.txt", .failed, "broken symbolic link"),
        ]
        for (path, state, words) in expectations {
            let (actual, message) = try reason(path)
            #expect(actual == state, "\(path)")
            #expect(message?.contains(words) == true, "\(path): \(message ?? "no reason")")
        }
        for path in ["a.txt", "d.txt", "latin1.txt", "utf16.txt", "inside-link.txt", "new\nline.txt"] {
            #expect(try database.source(path: path)?.state == .ingested, "\(path)")
        }
        #expect(try database.source(path: "latin1.txt")?.encoding == "windows-1252")
        #expect(try database.source(path: "utf16.txt")?.encoding == "utf-16le")
        let invalidName = try database.activeSourcePaths().first { $0.hasPrefix("bad-") }
        let invalid = try invalidName.flatMap { try database.source(path: $0) }
        #expect(invalid?.state == .skipped)
        #expect(invalid?.error?.contains("not valid UTF-8") == true)
        let texts = try database.exportPage(afterID: 0, limit: 100).map(\.text)
        #expect(texts.contains("The café on the corner sells more coffee when it rains all week."))
        #expect(report.insights.unique == 5 + 2 + 1 + 1 + 1)
        chmod(daemon.inbox + "/unreadable.txt", 0o644)
    }
}
