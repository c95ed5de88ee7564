import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation
#if canImport(Glibc)
import Glibc
#endif

/// Writes an export folder: every file created new (O_EXCL), fsynced, named once; certificates,
/// CRLs, OCSP responses and tokens under plain numbered names, each written once whatever its uses.
final class BundleWriter {
    enum Role: String { case signer, ca, tsa, other }
    struct Written { let path: String; let sha256: String; let size: Int64 }

    let root: LocalPath
    private(set) var files: [Written] = []
    private var folders: [String] = []
    private var certificates: [String: (pem: String, der: String)] = [:]
    private var revocations: [String: String] = [:]
    private var tokens: [String: String] = [:]
    private var anchors: [String: String] = [:]
    private var data: [ArchivePath: String] = [:]
    private var certificateCount = 0, crlCount = 0, ocspCount = 0, tokenCount = 0

    init(root: LocalPath) { self.root = root }

    var count: Int { files.count }

    /// Writes `bytes` to `relative` (folders made as needed).
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        try create(relative) { emit in try bytes.withUnsafeBytes { try emit($0) } }
        return relative
    }

    /// A document, signature or token file under `files/`, streamed from the archive.
    func writeData(name: ArchivePath, location: ContentLocation) throws {
        let relative = dataPath(name)
        guard data[name] == nil else { return }
        guard name.components.allSatisfy({ !$0.isEmpty && $0 != Array(".".utf8) && $0 != Array("..".utf8) }) else {
            throw SigVaultError(.unsafeName, "\(name): not a safe relative name; not exported")
        }
        try create(relative) { emit in _ = try location.extract { try emit($0) } }
        data[name] = relative
    }

    func hasData(_ name: ArchivePath) -> Bool { data[name] != nil }
    func dataPath(_ name: ArchivePath) -> String { "files/" + ArchivePath.escaped(name.bytes) }

    /// A certificate as `certificates/NN-role.pem` and `.der`, once; the role of its first use.
    func certificate(_ certificate: Certificate, role: Role) throws -> (pem: String, der: String) {
        if let done = certificates[certificate.sha256Hex] { return done }
        certificateCount += 1
        let base = String(format: "certificates/%02d-%@", certificateCount, role.rawValue)
        let paths = (pem: base + ".pem", der: base + ".der")
        try write(paths.der, certificate.der)
        try write(paths.pem, Array(PEM.text(certificate.der, label: "CERTIFICATE").utf8))
        certificates[certificate.sha256Hex] = paths
        return paths
    }

    func certificatePath(_ certificate: Certificate) -> String? { certificates[certificate.sha256Hex]?.pem ?? anchors[certificate.sha256Hex] }

    /// A trust anchor as `anchors/NN.pem`, once.
    func anchor(_ certificate: Certificate) throws -> String {
        if let done = anchors[certificate.sha256Hex] { return done }
        let path = String(format: "anchors/%02d.pem", anchors.count + 1)
        try write(path, Array(PEM.text(certificate.der, label: "CERTIFICATE").utf8))
        anchors[certificate.sha256Hex] = path
        return path
    }

    /// A CRL as `crls/NN.crl` (DER) and `.pem`, or an OCSP response as `ocsp/NN.der`, once: the DER path.
    @discardableResult
    func revocation(_ item: RevocationEvidence) throws -> String {
        if let done = revocations[item.sha256Hex] { return done }
        let path: String
        switch item {
        case .crl(let crl):
            crlCount += 1
            path = String(format: "crls/%02d.crl", crlCount)
            try write(path, crl.der)
            try write(String(format: "crls/%02d.pem", crlCount), Array(PEM.text(crl.der, label: "X509 CRL").utf8))
        case .ocsp(let response):
            ocspCount += 1
            path = String(format: "ocsp/%02d.der", ocspCount)
            try write(path, response.der)
        }
        revocations[item.sha256Hex] = path
        return path
    }

    func revocationPath(_ item: RevocationEvidence) -> String? { revocations[item.sha256Hex] }

    /// A token taken out of a signature or an evidence record, as `tokens/NN-what.tst`, once.
    func token(_ der: [UInt8], what: String) throws -> String {
        let digest = Hex.encode(OpenSSLBridge.Hasher.digest(der, .sha256))
        if let done = tokens[digest] { return done }
        tokenCount += 1
        let path = String(format: "tokens/%02d-%@.tst", tokenCount, what)
        try write(path, der)
        tokens[digest] = path
        return path
    }

    func tokenPath(_ der: [UInt8]) -> String? { tokens[Hex.encode(OpenSSLBridge.Hasher.digest(der, .sha256))] }

    /// A covered member that is none of the above (kept under `other/`).
    func writeOther(name: String, bytes: [UInt8]) throws -> String {
        let digest = Hex.encode(OpenSSLBridge.Hasher.digest(bytes, .sha256))
        return try write("other/\(digest)", bytes)
    }

    /// fsync of every folder made, deepest first, then the root.
    func syncFolders() throws {
        for folder in folders.sorted(by: { $0.count > $1.count }) { DurableFile.syncFolder(root.appending(folder).string) }
        DurableFile.syncFolder(root.string)
    }

    private func create(_ relative: String, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        var folder = ""
        for component in relative.split(separator: "/").dropLast() {
            folder += (folder.isEmpty ? "" : "/") + component
            if !folders.contains(folder) {
                guard mkdir(root.appending(folder).string, 0o755) == 0 || errno == EEXIST else {
                    throw SigVaultError(.outputCreate, "\(root.appending(folder)): \(POSIX.errorText)", cause: SystemError())
                }
                folders.append(folder)
            }
        }
        let path = root.appending(relative).string
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SigVaultError(.outputCreate, "\(path): \(POSIX.errorText)", cause: SystemError()) }
        defer { close(fd) }
        let hasher = OpenSSLBridge.Hasher(.sha256)
        var size: Int64 = 0
        try body { buffer in
            hasher.update(buffer)
            size += Int64(buffer.count)
            try POSIX.writeAll(fd, buffer, path: path, code: .outputWrite)
        }
        guard fsync(fd) == 0 else { throw SigVaultError(.outputWrite, "\(path): fsync: \(POSIX.errorText)", cause: SystemError()) }
        files.append(Written(path: relative, sha256: Hex.encode(hasher.finalize()), size: size))
    }
}

/// PEM armour (RFC 7468) around DER, lines of 64.
enum PEM {
    static func text(_ der: [UInt8], label: String) -> String {
        let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(body)\n-----END \(label)-----\n"
    }
}

/// What the proof of one document used, written into the bundle: for each signature its
/// signer, chain, revocation data and tokens; the archive time-stamps' tokens and TSA chains.
struct ExportMaterial {
    struct Record { let file: String; let covered: [String] }

    /// Anchors that end a chain of the proof, in order of first use.
    var anchors: [Certificate] = []

    static func collect(_ kept: KeptDocument, bundle: BundleWriter) throws -> ExportMaterial {
        var material = ExportMaterial()
        let anchorDigests: Set<String> = if case .certificates(let list) = kept.anchors { Set(list.map(\.sha256Hex)) } else { [] }
        func chain(_ certificates: [Certificate], leaf: BundleWriter.Role) throws {
            for (position, certificate) in certificates.enumerated() {
                if anchorDigests.contains(certificate.sha256Hex) {
                    if !material.anchors.contains(certificate) { material.anchors.append(certificate) }
                    _ = try bundle.anchor(certificate)
                } else {
                    _ = try bundle.certificate(certificate, role: position == 0 ? leaf : .ca)
                }
            }
        }
        func statuses(_ list: [CertificateStatus]) throws {
            for status in list {
                for item in status.status.evidence { try bundle.revocation(item) }
                if let item = status.status.decidedBy { try bundle.revocation(item) }
            }
        }
        func stamp(_ validation: TimeStampValidation, what: String) throws {
            if validation.origin == nil || what == "archive-timestamp" { _ = try bundle.token(validation.token.der, what: what) }
            try chain(validation.tsaChain, leaf: .tsa)
            if validation.tsaChain.isEmpty, let signer = validation.token.signerCertificate(extra: []) { _ = try bundle.certificate(signer, role: .tsa) }
            try statuses(validation.statuses)
        }
        for signature in kept.result?.signatures ?? [] {
            guard let validation = signature.validation else { continue }
            if validation.chain.isEmpty, let signer = validation.signerCertificate {
                _ = try bundle.certificate(signer, role: .signer)
            }
            try chain(validation.chain, leaf: .signer)
            try statuses(validation.statuses)
            for token in validation.timeStamps { try stamp(token, what: "signature-timestamp") }
        }
        for token in kept.result?.documentTimeStamps ?? [] { try stamp(token, what: "document-timestamp") }
        for case let validation? in kept.archiveTimeStamp?.validations ?? [] { try stamp(validation, what: "archive-timestamp") }
        return material
    }
}
