// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "insightd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "insightd", targets: ["insightd"]),
        .executable(name: "insightctl", targets: ["insightctl"]),
        .executable(name: "insightbench", targets: ["insightbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // TLS to PostgreSQL (PostgresNIO's own dependency, used directly for libpq's sslmode checks).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // SHA-256 for fingerprints (PostgresNIO's own dependency).
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // File descriptors and errno values (swift-nio's own dependency).
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries: module maps plus tiny static-inline shims for variadic C calls.
        // libcurl's header at build time; the library itself is opened on the first fetch (see insight_curl.h).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // GitHub's CommonMark + GFM parser, for Markdown notes.
        .systemLibrary(name: "CCmarkGFM", providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]),
        // GNU libidn2: host names through the full UTS #46 mapping and IDNA2008 (libcurl links it too).
        .systemLibrary(name: "CIDN2", pkgConfig: "libidn2", providers: [.apt(["libidn2-dev"])]),
        // The vector index's C kernels, and cblas_sgemm for the sentence encoder's matrix products from Debian's
        // OpenBLAS (libopenblas0), loaded with dlopen when the first text is embedded.
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("dl")]),

        // Pure logic: parsing (Markdown through cmark-gfm), normalization, fingerprints (SHA-256 from swift-crypto), wire types, config grammar.
        .target(name: "InsightCore", dependencies: [
            "CCmarkGFM", "CIDN2",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // HTML to main text and metadata.
        .target(name: "InsightExtract", dependencies: ["InsightCore", "CLibXML2"]),
        // The store's interface, without a database: the role protocols (ingest, read model, link queue, embeddings,
        // and InsightStoring, all of them) and the plain values that cross them. Both stores and the daemon build on it.
        .target(name: "InsightStoreCore", dependencies: ["InsightCore"]),
        // The SQLite database: migrations, records, FTS5, the ingest transaction.
        .target(name: "InsightStore", dependencies: [
            "InsightCore", "InsightStoreCore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The shared PostgreSQL store: the same interface as the SQLite one, for many daemons feeding one database.
        .target(name: "InsightPostgres", dependencies: [
            "InsightCore", "InsightStoreCore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Sentence embeddings (all-MiniLM-L6-v2 in Swift) and the int8 nearest-neighbour index; nothing from the daemon.
        // Optimised in every build: unoptimised, its loops make the test suite's daemons embed a hundred times slower.
        .target(name: "InsightSemantic", dependencies: ["COpenBLAS"], swiftSettings: [.unsafeFlags(["-O"])]),
        // The socket client and the commands of insightctl.
        .target(name: "InsightClient", dependencies: ["InsightCore", .product(name: "SystemPackage", package: "swift-system")]),
        // Watcher, fetcher, socket server, systemd glue, config: the composition root.
        .target(name: "InsightDaemon", dependencies: [
            "InsightCore", "InsightExtract", "InsightStoreCore", "InsightStore", "InsightPostgres", "InsightSemantic", "CCurl", "CSystemd", "CLinux",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "SystemPackage", package: "swift-system"),
            // Counters, gauges and histograms, exposed in the Prometheus text format at /v1/metrics.
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "insightd", dependencies: [
            "InsightCore", "InsightDaemon", "InsightExtract",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "insightctl", dependencies: [
            "InsightCore", "InsightClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // PostgresTestSupport: the throwaway PostgreSQL server that serves the tests also serves `insightbench postgres`.
        .executableTarget(name: "insightbench", dependencies: [
            "InsightCore", "InsightExtract", "InsightStoreCore", "InsightStore", "InsightClient", "PostgresTestSupport",
            "InsightSemantic", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),

        .testTarget(name: "InsightCoreTests", dependencies: ["InsightCore"], exclude: ["Fixtures"]),
        .testTarget(name: "InsightExtractTests", dependencies: ["InsightExtract"]),
        // Parity with the Python reference (fixtures computed by Fixtures/reference.py); needs the fetched model.
        .testTarget(name: "InsightSemanticTests", dependencies: ["InsightSemantic", "COpenBLAS"], exclude: ["Fixtures"]),
        // Starts a real PostgreSQL server in a temporary folder for the tests that need one.
        .target(name: "PostgresTestSupport", dependencies: ["InsightStoreCore", "InsightStore"], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "InsightStoreTests", dependencies: ["InsightStoreCore", "InsightStore", "InsightPostgres", "PostgresTestSupport"]),
        // End-to-end: the real daemon and the real CLI, as built executables.
        .testTarget(name: "InsightDaemonTests", dependencies: [
            "InsightDaemon", "InsightClient", "InsightStoreCore", "InsightPostgres", "PostgresTestSupport", "insightd", "insightctl", "insightbench",
            // To reach into a running daemon's SQLite file where a test needs what no API does.
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], exclude: ["Fixtures", "Systemd/sigterm-loop.sh", "Systemd/user-manager.sh", "Systemd/system-manager.sh"]),
    ],
    swiftLanguageModes: [.v6]
)
