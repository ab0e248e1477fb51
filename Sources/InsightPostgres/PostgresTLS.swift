import Foundation
import InsightStoreCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PostgresNIO

/// TLS to PostgreSQL the way libpq makes it: an SSLRequest, the handshake, the checks `sslmode` asks for, and only
/// then the encrypted channel goes to PostgresNIO for the startup message and the password.
///
/// The host name is checked here rather than by NIOSSL, because the two disagree: NIOSSL accepts a certificate whose
/// IP address entry matches the address connected to whatever name was asked for, and never reads the common name
/// of a certificate without a name of the host's kind; libpq does the opposite of both.
struct PostgresTLS: Sendable {
    let url: PostgresURL
    let context: NIOSSLContext
    /// Whether the certificate must chain to a CA of `sslrootcert`.
    let checksChain: Bool
    /// Whether the certificate must name the host (`verify-full`).
    let checksHostName: Bool

    init(url: PostgresURL) throws(StoreError) {
        self.url = url
        var configuration = TLSConfiguration.makeClientConfiguration()
        // libpq's default ssl_min_protocol_version.
        configuration.minimumTLSVersion = .tlsv12
        checksHostName = url.sslMode == .verifyFull
        // libpq: require with a root certificate checks the chain as verify-ca does.
        checksChain = url.sslMode != .require || url.sslRootCert != nil
        if !checksChain {
            configuration.certificateVerification = .none
        } else {
            configuration.certificateVerification = .noHostnameVerification
            if let root = url.sslRootCert, root != "system" {
                configuration.trustRoots = .certificates(try Self.loadRoots(root))
            } else {
                configuration.trustRoots = .default
            }
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw StoreError(.open, "cannot set up TLS for \(url)", underlying: error)
        }
    }

    /// The CA certificates of the PEM file at `path`.
    private static func loadRoots(_ path: String) throws(StoreError) -> [NIOSSLCertificate] {
        guard access(path, R_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.open, "cannot read sslrootcert=\(path) (\(reason)); give the path of a PEM file holding the CA that signed "
                             + "the server's certificate, readable by the user insightd runs as")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw StoreError(.open, "sslrootcert=\(path) is not a PEM file of certificates; it must hold the CA that signed the server's "
                             + "certificate, as -----BEGIN CERTIFICATE----- blocks", underlying: error)
        }
        guard !certificates.isEmpty else {
            throw StoreError(.open, "sslrootcert=\(path) holds no certificate; it must hold the CA that signed the server's certificate")
        }
        return certificates
    }

    /// Opens a connection: TCP, TLS with the checks of `sslmode`, then PostgreSQL's startup and authentication.
    func connect(on eventLoop: any EventLoop, id: Int, logger: Logger) -> EventLoopFuture<PostgresConnection> {
        let host = url.host ?? "localhost"
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        return bootstrap.connect(host: host, port: url.port).flatMap { channel in
            let secured = eventLoop.makePromise(of: Void.self)
            let handshake = PostgresTLSHandshake(tls: self, host: host, done: secured)
            do {
                try channel.pipeline.syncOperations.addHandler(handshake)
            } catch {
                secured.fail(error)
            }
            let timeout = eventLoop.scheduleTask(in: .seconds(10)) {
                secured.fail(PostgresTLSError("the server at \(host):\(self.url.port) did not complete the TLS handshake within 10 s; "
                                              + "check that the port is PostgreSQL's"))
            }
            return secured.futureResult.flatMap { () -> EventLoopFuture<PostgresConnection> in
                timeout.cancel()
                var configuration = PostgresConnection.Configuration(establishedChannel: channel, tls: .disable, username: self.url.user,
                                                                     password: self.url.password, database: self.url.database)
                configuration.options.additionalStartupParameters = [("application_name", "insightd")]
                return PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
            }.flatMapError { error in
                timeout.cancel()
                channel.close(promise: nil)
                return eventLoop.makeFailedFuture(error)
            }
        }
    }
}

/// Why a TLS connection to PostgreSQL could not be made, and what to do about it.
struct PostgresTLSError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Asks the server for TLS (PostgreSQL's SSLRequest), adds the TLS handler when it agrees, and checks the host name
/// when the handshake is done; then leaves the pipeline, or fails `done` and closes the channel.
private final class PostgresTLSHandshake: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let tls: PostgresTLS
    private let host: String
    private let done: EventLoopPromise<Void>
    private var sslHandler: NIOSSLClientHandler?
    private var finished = false

    init(tls: PostgresTLS, host: String, done: EventLoopPromise<Void>) {
        self.tls = tls
        self.host = host
        self.done = done
    }

    private var server: String { "\(host):\(tls.url.port)" }

    func handlerAdded(context: ChannelHandlerContext) {
        // Length 8, then the SSLRequest code 1234.5679.
        var request = context.channel.allocator.buffer(capacity: 8)
        request.writeInteger(Int32(8))
        request.writeInteger(Int32(80_877_103))
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard sslHandler == nil, !finished else {
            // Bytes after the handshake and before the startup message: the server never sends any.
            fail(context, PostgresTLSError("the server at \(server) sent data before the startup message; refusing the connection"))
            return
        }
        var answer = unwrapInboundIn(data)
        let byte = answer.readInteger(as: UInt8.self)
        switch byte {
        case UInt8(ascii: "S"):
            guard answer.readableBytes == 0 else {
                // What follows the answer must be TLS from the server; plain bytes here may come from a man in the middle.
                fail(context, PostgresTLSError("the server at \(server) sent unencrypted data right after agreeing to TLS; refusing the "
                                               + "connection, as libpq does"))
                return
            }
            do {
                let serverName = Self.isIPAddress(host) ? nil : host
                let handler = try NIOSSLClientHandler(context: tls.context, serverHostname: serverName)
                sslHandler = handler
                try context.pipeline.syncOperations.addHandler(handler, position: .before(self))
            } catch {
                fail(context, PostgresTLSError("cannot start TLS with \(server): \(error)"))
            }
        case UInt8(ascii: "N"):
            fail(context, PostgresTLSError("the server at \(server) does not accept TLS connections (ssl is off in its postgresql.conf): "
                                           + "turn ssl on there with a certificate, or use sslmode=disable on a trusted network"))
        default:
            fail(context, PostgresTLSError("the server at \(server) did not answer the TLS request as PostgreSQL does; check the host and port"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? TLSUserEvent, case .handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if tls.checksHostName {
            let names: CertificateNames
            do {
                guard let certificate = sslHandler?.peerCertificate else {
                    fail(context, PostgresTLSError("the server at \(server) presented no certificate; sslmode=verify-full needs one that names \(host)"))
                    return
                }
                names = try CertificateNames(der: certificate.toDERBytes())
            } catch {
                fail(context, PostgresTLSError("cannot read the names in the certificate of the server at \(server): \(error)"))
                return
            }
            guard names.match(host: host) else {
                let named = names.listed.isEmpty ? "no host name" : names.listed.joined(separator: ", ")
                fail(context, PostgresTLSError("the server's certificate names \(named), not \(host), the host store.url connects to "
                                               + "(sslmode=verify-full): connect with a name the certificate carries, have a certificate "
                                               + "issued for \(host), or use sslmode=verify-ca to check the CA only"))
                return
            }
        }
        // Out of the pipeline before PostgresNIO adds its handlers behind the TLS one.
        finished = true
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        done.succeed(())
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, explain(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context, PostgresTLSError("the server at \(server) closed the connection during the TLS handshake; its log says why"))
        context.fireChannelInactive()
    }

    /// A handshake failure in words a user can act on.
    private func explain(_ error: any Error) -> PostgresTLSError {
        let text = "\(error)"
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            let root = tls.url.sslRootCert ?? "system"
            let trusted = root == "system" ? "a CA this system trusts" : "a CA in sslrootcert=\(root)"
            return PostgresTLSError("the certificate of the server at \(server) does not chain to \(trusted) (signed by another CA, "
                                    + "expired or not yet valid): point sslrootcert at the CA that signed the server's certificate")
        }
        return PostgresTLSError("the TLS handshake with the server at \(server) failed: \(text)")
    }

    private func fail(_ context: ChannelHandlerContext, _ error: PostgresTLSError) {
        guard !finished else { return }
        finished = true
        done.fail(error)
        context.close(promise: nil)
    }

    /// Whether `host` is an address rather than a name, the way libpq decides it (inet_aton or IPv6).
    static func isIPAddress(_ host: String) -> Bool {
        CertificateNames.ipv4(host) != nil || CertificateNames.ipv6(host) != nil
    }
}
