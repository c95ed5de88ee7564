// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "SigVault",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SigVault", targets: ["SigVault"]),
        .executable(name: "sigvault", targets: ["SigVaultCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // C at the bottom: system libraries with module maps.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Two Linux calls glibc declares only under _GNU_SOURCE (syncfs, sync_file_range).
        .target(name: "CSystem"),

        // Thin owning bridges: the modules that import the C libraries (SigVault imports CSystem only).
        .target(name: "OpenSSLBridge", dependencies: ["COpenSSL"]),
        .target(name: "ArchiveIO", dependencies: ["CArchive", "CZstd"]),

        // Pure-Swift on-disk format types.
        .target(name: "SigVaultFormat"),
        // RFC 4998 Evidence Record DER types and hash-tree arithmetic (digests are passed in).
        .target(name: "EvidenceRecords", dependencies: [.product(name: "SwiftASN1", package: "swift-asn1")]),

        // Trust and validation (ETSI EN 319 102-1).
        .target(name: "SigVaultValidation", dependencies: ["OpenSSLBridge", "SigVaultFormat"]),

        // The archive engine: pack, verify, restore, list.
        .target(name: "SigVault", dependencies: [
            "ArchiveIO", "OpenSSLBridge", "SigVaultFormat", "SigVaultValidation", "EvidenceRecords", "CSystem",
            .product(name: "Logging", package: "swift-log"), .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),

        // The repository the nightly job lives in: write-once object storage, the catalog (SQLite
        // through GRDB), backup, check, log, expiry.
        .target(name: "SigVaultRepository", dependencies: [
            "SigVault", "SigVaultFormat", "SigVaultValidation", "OpenSSLBridge",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The command line.
        .executableTarget(name: "SigVaultCLI", dependencies: [
            "SigVault", "SigVaultRepository", "OpenSSLBridge",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .testTarget(name: "SigVaultTests", dependencies: [
            "SigVault", "SigVaultRepository", "SigVaultFormat", "SigVaultValidation", "OpenSSLBridge", "ArchiveIO", "EvidenceRecords",
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
