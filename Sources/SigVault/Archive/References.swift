import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

extension ManifestMember {
    /// What the tar entry and the index record hold (FORMAT.md §4.3): the content itself, or for a
    /// reference member its stub.
    var indexedSize: Int64 { referenceStub.map { Int64($0.count) } ?? size }
    var indexedSHA256: String { referenceStub.map { Hex.encode(Hasher.digest($0)) } ?? sha256 }
}

/// The repository an archive belongs to, as the engine sees it: its id and where each of its
/// archives can be read. `SigVaultRepository.Repository` is the one implementation.
public protocol ArchiveLocator: Sendable {
    var repositoryID: String { get }
    /// A local file holding the archive with this object name, or nil when the repository has none.
    func localFile(forArchive name: String) throws -> String?
    /// The archive's newest renewed evidence section (FORMAT.md §11), checked against its
    /// fingerprint, and the object it came from; nil when it was never renewed in the repository.
    func renewedEvidence(forArchive name: String, fingerprint: [UInt8]) throws -> (payload: [UInt8], object: String)?
    /// As above; with `skippingDamaged`, the newest object that decodes (for a renewal).
    func renewedEvidence(forArchive name: String, fingerprint: [UInt8], skippingDamaged: Bool) throws -> (payload: [UInt8], object: String)?
    /// The name of the archive's newest renewed evidence object, whole or not.
    func newestRenewedEvidenceObject(ofArchive name: String) throws -> String?
    /// Every CRL and OCSP response the repository's archives store (DER), for verify: what a
    /// later night fetched about an earlier archive's TSAs and signers (FORMAT.md §11).
    func revocationMaterial() throws -> [(kind: EvidencePool.MaterialKind, der: [UInt8])]
}

/// Where a member's content is: in its own archive, or (a reference member) in a member stored
/// inline in an earlier archive of the same repository, found and checked by `ReferenceResolver`.
struct ContentLocation {
    let reader: ArchiveReader
    let record: MemberRecord
    /// For a reference: the referenced archive's object name.
    let referencedArchive: String?

    func contents(limit: Int = 256 << 20) throws -> [UInt8] { try reader.contents(of: record, limit: limit) }

    /// Streams the content, checking its SHA-256 and size against the record at the end.
    func extract(_ consumer: (UnsafeRawBufferPointer) throws -> Void) throws -> ArchiveReader.ExtractedMember {
        let extracted = try reader.extract(record, consumer: consumer)
        guard extracted.contentSHA256 == record.contentSHA256, extracted.compressedSHA256 == record.compressedSHA256,
              UInt64(extracted.size) == record.contentSize else {
            throw SigVaultError(.integrity, "\(reader.path): member \(ArchivePath.escaped(extracted.header.path)) does not match its SHA-256")
        }
        return extracted
    }
}

/// Resolves reference members (FORMAT.md §4.3) against their repository: the repository's id must
/// be the reference's, the archive must be there under its name with the fingerprint the reference
/// names, and the member must be stored inline there with the reference's size and SHA-256 (the
/// content is then checked against those while it is read). Archives are opened once.
public final class ReferenceResolver: @unchecked Sendable {
    let locator: any ArchiveLocator
    private let lock = NSLock()
    private var readers: [String: ArchiveReader] = [:]
    /// Per archive: how many members were looked up, and past a few, a map of its index (so that
    /// resolving many references into one archive is not a scan of its index each).
    private var lookups: [String: Int] = [:]
    private var maps: [String: [UInt64: Int]] = [:]

    /// The record of member `path` in the archive `name` opened as `reader`.
    private func record(in reader: ArchiveReader, name: String, path: ArchivePath) -> MemberRecord? {
        let digest = Hasher.digest(path.bytes)
        lock.lock()
        lookups[name, default: 0] += 1
        if maps[name] == nil, lookups[name]! > 8 { maps[name] = reader.members.prefixMap() }
        let map = maps[name]
        lock.unlock()
        if let map {
            let key = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if let index = map[key], reader.members[index].pathSHA256 == digest { return reader.members[index] }
            // Not there, or another name with the same first 8 bytes first: the full scan decides.
        }
        return reader.record(for: path)
    }

    /// For a renewal: the newest renewed evidence object that decodes, past damaged ones.
    let skipDamagedEvidence: Bool

    public init(locator: any ArchiveLocator, skipDamagedEvidence: Bool = false) {
        self.locator = locator
        self.skipDamagedEvidence = skipDamagedEvidence
    }

    public var repositoryID: String { locator.repositoryID }

    /// The newest renewed evidence of the archive at `path` (by its name in the repository).
    func renewedEvidence(of path: String, fingerprint: [UInt8]) throws -> (payload: [UInt8], object: String)? {
        try locator.renewedEvidence(forArchive: (path as NSString).lastPathComponent, fingerprint: fingerprint, skippingDamaged: skipDamagedEvidence)
    }

    private func reader(_ name: String) throws -> ArchiveReader? {
        lock.lock()
        defer { lock.unlock() }
        if let known = readers[name] { return known }
        guard let file = try locator.localFile(forArchive: name) else { return nil }
        // At most 64 archives open at once (a night can reference many): past that, start afresh.
        if readers.count >= 64 {
            readers.removeAll()
            maps.removeAll()
        }
        let reader = try ArchiveReader(path: file)
        readers[name] = reader
        return reader
    }

    /// The referenced member, checked; `owner` names the archive and member holding the reference.
    func resolve(_ reference: MemberReference, size: Int64, sha256: String, owner: String) throws -> ContentLocation {
        func broken(_ why: String) -> SigVaultError {
            SigVaultError(.integrity, "\(owner): its content is a reference to \(reference.path) in archive \(reference.archive), but \(why)")
        }
        // Another repository than the one given: as good as none (its content was not checked).
        guard reference.repository == locator.repositoryID else {
            throw SigVaultError(.noRepository, "\(owner): its content is in archive \(reference.archive) of repository \(reference.repository), and the repository given is \(locator.repositoryID)",
                                hint: "give --repo <that repository>")
        }
        guard reference.archiveNameIsPlain else { throw broken("that is not an archive name of a repository") }
        guard let reader = try reader(reference.archive) else { throw broken("the repository has no such archive") }
        if let problem = reader.layoutProblem { throw broken("that archive cannot be read: \(problem)") }
        guard let trailer = reader.trailer, Hex.encode(trailer.manifestSHA256) == reference.fingerprint else {
            throw broken("that archive's fingerprint is not \(reference.fingerprint): it is another archive")
        }
        guard let path = reference.archivePath, let record = record(in: reader, name: reference.archive, path: path) else {
            throw broken("that archive has no such member")
        }
        guard Hex.encode(record.contentSHA256) == sha256, Int64(clamping: record.contentSize) == size else {
            throw broken("that member's size or SHA-256 is not the content's")
        }
        let line = try reader.manifestLine(of: record)
        guard line.storage == "inline" else { throw broken("that member is itself a reference (references point at content stored inline)") }
        // Only file content is referenced: never a link (whose content is empty) or the guide.
        guard [.document, .signature, .timeStamp, .certificate, .crl, .ocsp].contains(line.role) else {
            throw broken("that member is a \(line.role.rawValue), not file content")
        }
        return ContentLocation(reader: reader, record: record, referencedArchive: reference.archive)
    }

    /// Whether `reference` resolves (through the index: archive, fingerprint, member, size, SHA-256,
    /// inline file content), for a backup about to write it.
    public func resolves(_ reference: MemberReference, size: Int64, sha256: String) -> Bool {
        (try? resolve(reference, size: size, sha256: sha256, owner: "backup")) != nil
    }

    /// The error for a reference read without its repository.
    static func missingRepository(_ reference: MemberReference, owner: String) -> SigVaultError {
        SigVaultError(.noRepository, "\(owner): its content is in archive \(reference.archive) of repository \(reference.repository) (a reference), not in this archive",
                      hint: "give --repo <that repository> (or set SIGVAULT_REPOSITORY)")
    }
}

extension ArchiveReader {
    /// Where member `index`'s content is: in this archive, or resolved through `resolver`.
    func location(ofMember index: Int) throws -> ContentLocation {
        let record = members[index]
        guard let line = try referenceLine(ofMember: index) else { return ContentLocation(reader: self, record: record, referencedArchive: nil) }
        return try location(of: record, line: line)
    }

    /// Where the content of the member named `name` is; nil when the archive has no such member.
    func location(forName name: ArchivePath) throws -> ContentLocation? {
        guard let index = members.firstIndex(whereRecordStartsWith: Hasher.digest(name.bytes)) else { return nil }
        return try location(ofMember: index)
    }

    /// Where the content of the member with `record` and manifest line `line` is.
    func location(of record: MemberRecord, line: ManifestMember) throws -> ContentLocation {
        guard let reference = line.reference else { return ContentLocation(reader: self, record: record, referencedArchive: nil) }
        let owner = "\(path): member \(line.path)"
        guard let resolver else { throw ReferenceResolver.missingRepository(reference, owner: owner) }
        return try resolver.resolve(reference, size: line.size, sha256: line.sha256, owner: owner)
    }

    /// The archive's reference members' lines (the manifest is read once for them if it was not).
    func allReferenceLines() throws -> [ManifestMember] {
        guard members.count > 0 else { return [] }
        _ = try referenceLine(ofMember: 0)
        return try (0..<members.count).compactMap { try referenceLine(ofMember: $0) }
    }

    /// The SHA-256 of member `index`'s content (for a reference member, the manifest's, not its stub's).
    func contentSHA256(ofMember index: Int) throws -> [UInt8] {
        if let line = try referenceLine(ofMember: index), let digest = Hex.decode(line.sha256) { return digest }
        return members[index].contentSHA256
    }
}
