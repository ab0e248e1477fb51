import Foundation

/// A throwaway certificate authority made with `openssl`, in a temporary folder: a P-256 CA certificate and the
/// server certificates it issues, for PostgreSQL servers that speak TLS in tests.
public final class TestCertificateAuthority: @unchecked Sendable {
    public let folder: String
    /// The CA certificate (PEM), what `sslrootcert` names.
    public let certificate: String
    private let key: String
    private var issued = 0
    private let lock = NSLock()

    public init(name: String = "insightd test CA") throws {
        folder = NSTemporaryDirectory() + "insightd-ca-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        certificate = folder + "/ca.crt"
        key = folder + "/ca.key"
        Self.removeAtExit(folder)
        let config = folder + "/ca.cnf"
        try """
            [req]
            distinguished_name = subject
            x509_extensions = authority
            prompt = no
            [subject]
            CN = \(name)
            [authority]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: config, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-x509", "-config", config, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", key, "-out", certificate, "-days", "7"])
    }

    /// A server certificate signed by this CA, naming `names`: each an IP address entry when it reads as one, else a DNS
    /// name entry; the first is also the subject's common name. No names at all gives a certificate with only
    /// `commonName`.
    public func issue(names: [String], commonName: String? = nil) throws -> TestServerCertificate {
        let number = lock.withLock { () -> Int in
            issued += 1
            return issued
        }
        let base = folder + "/server\(number)"
        let alternatives = names.map { name in
            (name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." } ? "IP:" : "DNS:") + name
        }
        let config = base + ".cnf"
        var text = """
            [req]
            distinguished_name = subject
            prompt = no
            [subject]
            CN = \(commonName ?? names.first ?? "insightd test server")
            [server]
            basicConstraints = CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth

            """
        if !alternatives.isEmpty { text += "subjectAltName = \(alternatives.joined(separator: ", "))\n" }
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-new", "-config", config, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", base + ".key", "-out", base + ".csr"])
        try Self.openssl(["x509", "-req", "-in", base + ".csr", "-CA", certificate, "-CAkey", key, "-set_serial", String(1000 + number),
                          "-days", "7", "-extfile", config, "-extensions", "server", "-out", base + ".crt"])
        return TestServerCertificate(certificate: base + ".crt", key: base + ".key", names: names)
    }

    /// The DER bytes of the PEM certificate at `path`.
    public static func der(ofPEM path: String) throws -> [UInt8] {
        let output = NSTemporaryDirectory() + "insightd-der-\(UUID().uuidString)"
        defer { unlink(output) }
        try openssl(["x509", "-in", path, "-outform", "DER", "-out", output])
        return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    static func openssl(_ arguments: [String]) throws {
        try PostgresTestServer.run("/usr/bin/openssl", arguments)
    }

    /// Folders of authorities still held when the test process exits (shared ones live in statics).
    nonisolated(unsafe) private static var folders: [String] = []
    private static let foldersLock = NSLock()

    private static func removeAtExit(_ folder: String) {
        foldersLock.lock()
        defer { foldersLock.unlock() }
        if folders.isEmpty {
            atexit {
                TestCertificateAuthority.foldersLock.lock()
                let all = TestCertificateAuthority.folders
                TestCertificateAuthority.foldersLock.unlock()
                for folder in all { try? FileManager.default.removeItem(atPath: folder) }
            }
        }
        folders.append(folder)
    }
}

/// A server certificate and its private key, as PEM files.
public struct TestServerCertificate: Sendable {
    public let certificate: String
    public let key: String
    public let names: [String]
}
