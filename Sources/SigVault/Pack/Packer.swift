import ArchiveIO
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct PackOptions: Sendable {
    public var inputs: [String]
    public var output: String
    public var certificates: [String] = []
    public var revocationLists: [String] = []
    public var ocspResponses: [String] = []
    /// Trust anchor files or folders; empty means the system store.
    public var trust: [String] = []
    public var at: Date = Date()
    public var compressionLevel: Int32 = 3

    public init(inputs: [String], output: String) {
        self.inputs = inputs
        self.output = output
    }
}

public struct PackSummary: Sendable {
    public var members = 0
    public var documents = 0
    public var signedDocuments = 0
    public var passed = 0
    public var notPassed = 0
    public var bytesIn: UInt64 = 0
    public var bytesOut: UInt64 = 0
    public var fingerprint = ""
    public var warnings: [String] = []
    public var exitCode: ExitCode = .ok
    public var documentLines: [String] = []
}

/// `sigvault pack`: archives every file under the inputs with the evidence that proves its signatures.
public struct Packer {
    let options: PackOptions
    let logger: Logger

    public init(options: PackOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> PackSummary {
        var summary = PackSummary()
        var walker = InputWalker()
        let files = try walker.walk(options.inputs)
        summary.warnings += walker.warnings
        if walker.unreadable { summary.exitCode = summary.exitCode.combined(with: .partlyUnreadable) }

        let pool = EvidencePool()
        try MaterialLoader.load(options.certificates, kind: "certificate", missingIsError: true) { bytes, name in
            pool.add(try Certificate.parseAll(bytes))
        }
        try MaterialLoader.load(options.revocationLists, kind: "CRL", missingIsError: true) { bytes, name in
            for crl in try RevocationList.parseAll(bytes) { pool.add(crl) }
        }
        try MaterialLoader.load(options.ocspResponses, kind: "OCSP response", missingIsError: true) { bytes, name in
            pool.add(try OCSPResponse(der: bytes))
        }
        let anchors = try MaterialLoader.anchors(options.trust)
        let policy = ValidationPolicy(anchors: anchors, now: options.at)
        let validator = SignatureValidator(pool: pool, policy: policy)

        let regular = files.filter { if case .regular = $0.kind { return true } else { return false } }
        let byName = Dictionary(uniqueKeysWithValues: regular.map { ($0.relativePath, $0) })
        let source = FilesystemSource(files: byName)
        let groups = DocumentAnalyzer.group(regular.map(\.relativePath)) { name in
            guard let bytes = try? source.bytes(of: name) else { return nil }
            return try? SignedData(bytes: bytes)
        }
        // Signature files' embedded certificates join the pool before validation.
        for group in groups {
            for file in group.signatureFiles {
                if let bytes = try? source.bytes(of: file), let signed = try? SignedData(bytes: bytes) {
                    pool.add(signed.certificates)
                    signed.revocationLists.forEach { pool.add($0) }
                }
            }
        }
        let analyzer = DocumentAnalyzer(validator: validator, source: source)
        var roles: [ArchivePath: (MemberRole, ArchivePath?)] = [:]
        var records: [ArchivePath: DocumentRecord] = [:]
        var evidence = EvidenceSet()
        for group in groups {
            let result = analyzer.analyze(group)
            let record = EvidenceSet.record(for: result, collecting: &evidence, validator: validator)
            records[group.document] = record
            roles[group.document] = (.document, nil)
            for file in group.signatureFiles where file != group.document { roles[file] = (.signature, group.document) }
            for (token, covered) in group.tokenFiles { roles[token] = (.timeStamp, covered) }
            summary.documents += 1
            if result.signed {
                summary.signedDocuments += 1
                if result.verdict?.indication == .totalPassed { summary.passed += 1 } else {
                    summary.notPassed += 1
                    summary.exitCode = summary.exitCode.combined(with: .findings)
                }
            }
            summary.documentLines.append(ReportText.packLine(result))
        }

        // Write: VERIFY.md, data members, evidence members, manifest.
        let output = try AtomicOutputFile(destination: options.output, overwrite: false)
        let scratch = (options.output as NSString).deletingLastPathComponent
        let writer = try ArchiveWriter(output: output, scratchDirectory: scratch.isEmpty ? "." : scratch,
                                       compressionLevel: options.compressionLevel)
        let manifest = try SpillFile(directory: scratch.isEmpty ? "." : scratch, name: "sigvault-manifest")
        let manifestHasher = Hasher(.sha256)
        let lineEncoder = JSONEncoder()
        lineEncoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func appendLine(_ line: ManifestLine) throws -> (UInt64, UInt64, [UInt8]) {
            let bytes = try line.encoded(with: lineEncoder)
            let offset = manifest.size
            try manifest.append(bytes + [0x0A])
            manifestHasher.update(bytes + [0x0A])
            return (offset, UInt64(bytes.count), Hasher.digest(bytes))
        }
        _ = try appendLine(.header(ManifestHeader(createdAt: ISOTime.format(Date()), generator: "sigvault \(SigVaultVersion.current)",
                                                  trustAnchors: MaterialLoader.anchorDigests(anchors))))
        let now = Int64(Date().timeIntervalSince1970)

        func store(path: ArchivePath, role: MemberRole, kind: TarEntryKind, mode: UInt32, mtime: Int64,
                   fill: (ArchiveWriter, Hasher) throws -> Int64, decorate: (inout ManifestMember) -> Void) throws {
            try writer.beginMember(path: path, kind: kind, mode: mode, modificationTime: mtime)
            let hasher = Hasher(.sha256)
            let size = try fill(writer, hasher)
            let digest = hasher.finalize()
            var member = ManifestMember(path: path, role: role, size: size, sha256: Hex.encode(digest))
            decorate(&member)
            let (lineOffset, lineLength, lineHash) = try appendLine(.member(member))
            try writer.endMember { placement in
                try writer.record(MemberRecord(
                    pathSHA256: Hasher.digest(path.bytes), firstFrame: placement.firstFrame, frameCount: placement.frameCount,
                    streamOffset: placement.streamOffset, dataOffset: placement.dataOffset, contentSize: UInt64(size),
                    contentSHA256: digest, compressedSHA256: placement.compressedSHA256,
                    manifestLineOffset: lineOffset, manifestLineLength: lineLength, manifestLineSHA256: lineHash))
            }
            summary.members += 1
        }
        func storeBytes(_ path: ArchivePath, _ role: MemberRole, _ bytes: [UInt8], decorate: (inout ManifestMember) -> Void = { _ in }) throws {
            try store(path: path, role: role, kind: .regularFile(size: Int64(bytes.count)), mode: 0o644, mtime: now, fill: { writer, hasher in
                try bytes.withUnsafeBytes { buffer in
                    hasher.update(buffer)
                    try writer.writeMemberData(buffer)
                }
                return Int64(bytes.count)
            }, decorate: decorate)
        }

        try storeBytes(ArchivePath("VERIFY.md"), .verifyGuide, Array(VerifyGuide.text.utf8))
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for file in files {
            let path = ArchivePath("data/").appending("").joined(file.relativePath)
            switch file.kind {
            case .symbolicLink(let target):
                try store(path: path, role: .symbolicLink, kind: .symbolicLink(target: target), mode: file.mode, mtime: file.modificationTime,
                          fill: { _, _ in 0 }, decorate: { $0.symlinkTarget = ArchivePath.escaped(target) })
            case .regular(let expectedSize):
                let fd = POSIX.withPath(file.filesystemPath) { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
                guard fd >= 0 else {
                    summary.warnings.append("\(ArchivePath.escaped(file.filesystemPath)): cannot open: \(POSIX.errorText); not archived")
                    summary.exitCode = summary.exitCode.combined(with: .partlyUnreadable)
                    continue
                }
                defer { close(fd) }
                let (role, covered) = roles[file.relativePath] ?? (.document, nil)
                try store(path: path, role: role, kind: .regularFile(size: expectedSize), mode: file.mode, mtime: file.modificationTime, fill: { writer, hasher in
                    var total: Int64 = 0
                    while total < expectedSize {
                        let want = Int(min(Int64(buffer.count), expectedSize - total))
                        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, want) }
                        if got < 0 {
                            if errno == EINTR { continue }
                            throw SigVaultError(.ioError, "\(ArchivePath.escaped(file.filesystemPath)): read failed: \(POSIX.errorText)")
                        }
                        if got == 0 {
                            throw SigVaultError(.ioError, "\(ArchivePath.escaped(file.filesystemPath)): file shrank while being archived")
                        }
                        try buffer.withUnsafeBytes { all in
                            let chunk = UnsafeRawBufferPointer(rebasing: all[0..<got])
                            hasher.update(chunk)
                            try writer.writeMemberData(chunk)
                        }
                        total += Int64(got)
                    }
                    return total
                }, decorate: { member in
                    member.mode = file.mode
                    member.modificationTime = file.modificationTime
                    if let covered { member.covers = ArchivePath.escaped(ArchivePath("data/").joined(covered).bytes) }
                    if role == .document { member.document = records[file.relativePath] }
                })
                summary.bytesIn += UInt64(expectedSize)
            }
        }
        for certificate in evidence.certificates.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try storeBytes(EvidenceSet.path(certificateSHA256: certificate.sha256Hex), .certificate, certificate.der)
        }
        for crl in evidence.revocationLists.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try storeBytes(EvidenceSet.path(crlSHA256: crl.sha256Hex), .crl, crl.der)
        }
        for response in evidence.ocspResponses.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try storeBytes(EvidenceSet.path(ocspSHA256: response.sha256Hex), .ocsp, response.der)
        }
        _ = try appendLine(.end(ManifestEnd(members: summary.members, documents: summary.documents, signedDocuments: summary.signedDocuments)))

        // The manifest member: its own index record has no manifest line.
        let manifestPath = ArchivePath(ArchiveLayout.manifestName)
        let manifestSize = Int64(manifest.size)
        try writer.beginMember(path: manifestPath, kind: .regularFile(size: manifestSize), mode: 0o644, modificationTime: now)
        try manifest.readAll { chunk in try chunk.withUnsafeBytes { try writer.writeMemberData($0) } }
        let placement = try writer.endMemberAndWait()
        let manifestDigest = manifestHasher.finalize()
        try writer.record(MemberRecord(
            pathSHA256: Hasher.digest(manifestPath.bytes), firstFrame: placement.firstFrame, frameCount: placement.frameCount,
            streamOffset: placement.streamOffset, dataOffset: placement.dataOffset, contentSize: UInt64(manifestSize),
            contentSHA256: manifestDigest, compressedSHA256: placement.compressedSHA256,
            manifestLineOffset: 0, manifestLineLength: 0, manifestLineSHA256: [UInt8](repeating: 0, count: 32)))
        try writer.finish(manifest: placement, manifestSHA256: manifestDigest)
        summary.bytesOut = output.bytesWritten
        try output.commit(overwrite: false)
        summary.fingerprint = Hex.encode(manifestDigest)
        return summary
    }
}

public enum SigVaultVersion {
    public static let current = "0.1.0"
}

enum ArchiveLayout {
    static let manifestName = "manifest.jsonl"
    static let dataPrefix = "data/"
    static let verifyGuideName = "VERIFY.md"
}

extension ArchivePath {
    func joined(_ other: ArchivePath) -> ArchivePath { ArchivePath(bytes: bytes + other.bytes) }
}

/// Reads small files from disk for the analyzer; documents are streamed by path.
struct FilesystemSource: MemberSource {
    let files: [ArchivePath: InputFile]

    func bytes(of path: ArchivePath) throws -> [UInt8] {
        guard let file = files[path] else { throw SigVaultError(.inputMissing, "\(path): not among the inputs") }
        if case .regular(let size) = file.kind, size > 64 << 20 {
            throw SigVaultError(.invalidInput, "\(path): too large for a signature or token file")
        }
        guard let data = POSIX.withPath(file.filesystemPath, { FileManager.default.contents(atPath: String(cString: $0)) }) else {
            throw SigVaultError(.ioError, "\(path): cannot read")
        }
        return [UInt8](data)
    }

    func content(of path: ArchivePath) throws -> SignedContent {
        guard let file = files[path] else { throw SigVaultError(.inputMissing, "\(path): not among the inputs") }
        return .file(POSIX.withPath(file.filesystemPath) { String(cString: $0) })
    }
}
