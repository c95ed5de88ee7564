import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct ListedDocument: Codable, Sendable {
    public var path: String
    public var signed: Bool
    public var size: Int64
    public var sha256: String
    public var signers: [String]
    /// Earliest genTime of the time-stamps pack recorded over its signatures (not re-validated).
    @NullEncoded public var provenTime: String?
    @NullEncoded public var packIndication: String?
    @NullEncoded public var packSubIndication: String?

}

/// `sigvault list`: what the manifest says, without extracting anything. Documents are streamed
/// one at a time, nothing is kept.
/// One `data/` member as `list` knows it from the manifest (the repository's catalog records them).
public struct ListedFile: Sendable {
    /// The name without `data/`, escaped as `list` prints it.
    public var path: String
    public var role: String
    public var size: Int64
    public var sha256: String
    /// For a document: what `list` shows of it (signers, proven time, pack's verdict).
    public var document: ListedDocument?
    /// The tar name, escaped (with `data/` or `evidence/`).
    public var archivePath: String
    /// `inline`, or `reference` for content stored in an earlier archive of the repository.
    public var storage: String
    /// For a signed document, with `forEachFile(withDates: true)`: the dates its proof depends on.
    public var dates: DocumentDates?
}

/// The dates a document's proof depends on, from its record and the certificates it names (the
/// catalog keeps them): the earliest expiry of its signers' certificates and of its time-stamps'
/// TSA certificates, and the earliest sunset (docs/ALGORITHMS.md) of its signatures' digests and
/// signing keys. Nil where nothing applies or a certificate is not in the archive.
public struct DocumentDates: Sendable {
    public var signerNotAfter: Date?
    public var timeStampNotAfter: Date?
    public var algorithmSunset: Date?
}

public struct Lister {
    let archive: String
    let reader: ArchiveReader
    /// The manifest's SHA-256, checked against the trailer before anything is shown.
    public let fingerprint: String
    /// The trailer's format version (1, or 2 with an evidence section).
    public var formatVersion: Int { reader.trailer.map { Int($0.version) } ?? 0 }
    private let digest: [UInt8]

    /// With `checkFirst` (what `list` shows), the whole manifest is read and checked before anything
    /// is handed out. Without it (a caller that undoes what it did on an error, as the catalog's
    /// transaction), the one pass of `forEach…` checks it all the same and throws at its end.
    public init(archive: String, checkFirst: Bool = true) throws {
        self.archive = archive
        reader = try ArchiveReader(path: archive)
        if let problem = reader.layoutProblem { throw SigVaultError(.archiveInvalid, "\(archive): \(problem)") }
        if checkFirst {
            digest = try reader.forEachManifestMember()
        } else {
            guard let trailer = reader.trailer else { throw SigVaultError(.archiveInvalid, "\(archive): no trailer") }
            digest = trailer.manifestSHA256
        }
        fingerprint = digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Hands each document to `emit`, in manifest order.
    /// Every `data/` member (documents, signature and time-stamp files, links), in archive order.
    /// Every file under `data/` (with `includingEvidence`, also every certificate, CRL and OCSP
    /// response; their `path` is then the tar name), in archive order. With `withDates`, signed
    /// documents carry their `DocumentDates` (certificates read from the archive, or for reference
    /// members from `repository`).
    public func forEachFile(includingEvidence: Bool = false, withDates: Bool = false, repository: (any ArchiveLocator)? = nil,
                            _ emit: (ListedFile) throws -> Void) throws {
        if let repository, reader.resolver == nil { reader.resolver = ReferenceResolver(locator: repository) }
        var certificates: [String: Certificate?] = [:]
        func certificate(_ hex: String) -> Certificate? {
            if let known = certificates[hex] { return known }
            let found = (try? reader.location(forName: EvidenceSet.path(certificateSHA256: hex)))
                .flatMap { try? $0?.contents() }.flatMap { try? Certificate(der: $0) }
            certificates[hex] = found
            return found
        }
        let again = try reader.forEachManifestMember { _, _, member in
            guard let file = Self.listedFile(member, includingEvidence: includingEvidence, certificate: withDates ? certificate : nil) else { return }
            try emit(file)
        }
        guard again == digest else { throw SigVaultError(.archiveRead, "\(archive): the manifest changed while being read") }
    }

    /// Every reference member (FORMAT.md §4.3) found in `repository`: the archive it names there
    /// with that fingerprint, the member inline with the size and SHA-256 the reference gives (through
    /// the index; `verify --repo` reads the content too). Returns how many there are and what does
    /// not hold, one line each.
    public func referenceProblems(in repository: any ArchiveLocator) throws -> (references: Int, problems: [String]) {
        let resolver = ReferenceResolver(locator: repository)
        var count = 0
        var problems: [String] = []
        let again = try reader.forEachManifestMember { _, _, member in
            guard let reference = member.reference else { return }
            count += 1
            do {
                _ = try resolver.resolve(reference, size: member.size, sha256: member.sha256, owner: "member \(member.path)")
            } catch let error as SigVaultError where !error.stopsTheRun {
                problems.append(error.message)
            }
        }
        guard again == digest else { throw SigVaultError(.archiveRead, "\(archive): the manifest changed while being read") }
        return (count, problems)
    }

    /// What `forEachFile` gives for one member line (nil for members it leaves out); with
    /// `certificate` (a certificate by its SHA-256 in hex), a signed document's dates. Pack gives
    /// the repository's backup the same for each member it writes.
    static func listedFile(_ member: ManifestMember, includingEvidence: Bool, certificate: ((String) -> Certificate?)?) -> ListedFile? {
        guard let path = member.archivePath else { return nil }
        let isData = path.hasPrefix(ArchiveLayout.dataPrefix)
        guard isData || (includingEvidence && [.certificate, .crl, .ocsp].contains(member.role)) else { return nil }
        var file = ListedFile(path: ArchivePath.escaped((isData ? path.droppingPrefix(ArchiveLayout.dataPrefix) : path).bytes), role: member.role.rawValue,
                              size: member.size, sha256: member.sha256, document: member.role == .document ? Self.listed(member, path: path) : nil,
                              archivePath: member.path, storage: member.storage)
        if let certificate, let record = member.document, !record.signatures.isEmpty || !record.documentTimeStamps.isEmpty {
            file.dates = Self.dates(record, certificate: certificate)
        }
        return file
    }

    static func dates(_ record: DocumentRecord, certificate: (String) -> Certificate?) -> DocumentDates {
        var dates = DocumentDates()
        func earliest(_ current: Date?, _ new: Date?) -> Date? { [current, new].compactMap { $0 }.min() }
        let stamps = record.signatures.flatMap(\.timeStamps) + record.documentTimeStamps
        for stamp in stamps where stamp.valid != false {
            dates.timeStampNotAfter = earliest(dates.timeStampNotAfter, stamp.tsaChain.first.flatMap(certificate)?.notAfter)
        }
        for signature in record.signatures {
            let signer = signature.chain.first.flatMap(certificate)
            dates.signerNotAfter = earliest(dates.signerNotAfter, signer?.notAfter)
            dates.algorithmSunset = earliest(dates.algorithmSunset, AlgorithmSunsets.limit(digest: signature.digestAlgorithm, key: signer?.publicKeyFacts)?.sunset)
        }
        return dates
    }

    static func listed(_ member: ManifestMember, path: ArchivePath) -> ListedDocument {
        let record = member.document
        let times = (record?.signatures ?? []).flatMap { $0.timeStamps }.filter { $0.valid != false }.compactMap { $0.genTime }.sorted()
        return ListedDocument(
            path: ArchivePath.escaped(path.droppingPrefix(ArchiveLayout.dataPrefix).bytes), signed: (record?.kind ?? "unsigned") != "unsigned",
            size: member.size, sha256: member.sha256, signers: (record?.signatures ?? []).compactMap(\.signer),
            provenTime: times.first, packIndication: record?.packIndication, packSubIndication: record?.packSubIndication)
    }

    public func forEachDocument(_ emit: (ListedDocument) throws -> Void) throws {
        let again = try reader.forEachManifestMember { _, _, member in
            guard member.role == .document, let path = member.archivePath else { return }
            try emit(Self.listed(member, path: path))
        }
        guard again == digest else { throw SigVaultError(.archiveRead, "\(archive): the manifest changed while being read") }
    }

    /// Writes the JSON document of docs/CLI.md ("list JSON"), streamed.
    public func writeJSON(_ out: @escaping (String) -> Void) throws {
        var object = JSONObjectWriter(out)
        object.value("archive", archive)
        var failure: Error?
        object.array("documents") { (element: (ListedDocument) -> Void) in
            do { try forEachDocument { element($0) } } catch { failure = error }
        }
        if let failure { throw failure }
        object.value("fingerprint", fingerprint)
        object.value("schemaVersion", JSONOutput.schemaVersion)
        object.end()
    }
}
