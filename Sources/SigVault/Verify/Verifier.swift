import EvidenceRecords
import ArchiveIO
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct VerifyOptions: Sendable {
    public var archive: String
    public var trust: [String] = []
    public var at: Date = Date()
    /// `--certs`, `--crls`, `--ocsp`: material from outside the archive, used and reported as such,
    /// never written into it.
    public var certificates: [String] = []
    public var revocationLists: [String] = []
    public var ocspResponses: [String] = []
    /// `--fetch-revocation` (nil: no network access).
    public var fetchRevocation: FetchSettings?
    /// `--max-revocation-age` (ETSI EN 319 102-1 §5.2.5; nil: nextUpdate − thisUpdate).
    public var maximumRevocationAge: TimeInterval?
    /// `--integrity-only`: the bytes only (members, manifest, index, trailer, the evidence section's
    /// hash trees and imprints); no signature, time-stamp signature or trust is evaluated.
    public var integrityOnly = false
    /// `--repo`: the repository whose archives hold the content of this archive's reference members.
    public var repository: (any ArchiveLocator)?
    /// `export`: the document (as listed, without `data/`) whose full result the report keeps.
    var keptDocument: ArchivePath?
    /// `verify --report`: keep every document's full result for the report.
    var keepsAllResults = false
    public init(archive: String) { self.archive = archive }
}

/// `sigvault verify`: integrity of every byte, then every signature at the time its evidence proves.
public struct Verifier {
    let options: VerifyOptions
    let logger: Logger

    public init(options: VerifyOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    struct ScannedEntry {
        let path: ArchivePath
        let size: Int64
        let sha256: Digest32
        let streamOffset: Int64
        let isRegular: Bool
        var symlinkTarget: [UInt8]? = nil
        var mode: UInt32? = nil
        var modificationTime: Int64? = nil
        var damaged = false
    }

    public func run() throws -> VerifyReport {
        let started = Date()
        let reader = try ArchiveReader(path: options.archive)
        if let locator = options.repository { reader.resolver = ReferenceResolver(locator: locator) }
        logger.info("verifying", metadata: ["archive": "\(options.archive)", "size": "\(reader.size)"])
        var problems: [VerifyReport.Problem] = []
        func problem(_ code: ProblemCode, _ member: String?, _ message: String) {
            problems.append(VerifyReport.Problem(code: code, member: member, message: message))
        }
        if let layout = reader.layoutProblem {
            problem(.layout, nil, layout)
        }

        // 1. Every member on its own through the index when the trailer vouches for it (damage stays
        //    local and is named); otherwise one pass over the raw stream.
        let scan = reader.layoutProblem == nil ? scanMembers(reader, problem: problem) : scanStream(reader, problem: problem)
        if scan.entries.isEmpty && reader.layoutProblem != nil {
            throw SigVaultError(.archiveInvalid, "\(options.archive): not a SigVault archive (\(reader.layoutProblem!))")
        }

        // 2. The manifest, and every member against it, in order.
        let manifestCheck = checkManifest(scan, reader: reader, problem: problem)
        let (fingerprint, listed, scanned) = (manifestCheck.fingerprint, manifestCheck.listed, manifestCheck.scanned)
        // Reference members: their content in the repository's earlier archives.
        let references = try checkReferences(reader: reader, scan: scan, listed: listed, problem: problem)
        /// Without its repository an archive with references is checked only in part: exit 10
        /// unless something worse was found.
        func withReferences(_ code: ExitCode) -> ExitCode {
            guard let references, !references.resolved, code == .ok || code == .findings else { return code }
            return .noRepository
        }

        // 3. The evidence section (version 2), then 4. the signatures.
        if options.integrityOnly {
            _ = try checkEvidence(reader: reader, scan: scan, manifest: manifestCheck, context: nil, problem: problem)
            var summary = VerifyReport.Summary()
            summary.members = scanned.count
            summary.documents = listed.filter { $0.role == .document }.count
            var report = VerifyReport(
                archive: options.archive, fingerprint: fingerprint, formatVersion: reader.trailer.map { Int($0.version) },
                validationTime: ISOTime.format(options.at), integrity: .init(ok: problems.isEmpty, problems: problems),
                proofOfTime: .init(archiveTimeStamp: nil, statement: "not evaluated: --integrity-only checks the bytes, not signatures, time-stamps or trust"),
                summary: summary, warnings: [], exitCode: withReferences(problems.isEmpty ? .ok : .integrityOrFailed).rawValue)
            report.checks = "integrity"
            report.references = references
            report.renewedEvidence = try? reader.renewedEvidenceObject()
            return report
        }

        // 4. Signatures.
        var analysed: [(path: ArchivePath, report: DocumentReport)] = []
        var plain: [ArchivePath] = []
        var summary = VerifyReport.Summary()
        summary.members = scanned.count
        let (anchors, trustWarnings, trustSource) = try MaterialLoader.anchorsDescribed(options.trust)
        let outside = EvidencePool()
        let materialWarnings = try MaterialLoader.loadMaterial(certificates: options.certificates, revocationLists: options.revocationLists,
                                                               ocspResponses: options.ocspResponses, into: outside, external: true).warnings
        // Given the repository, what its other nights stored about TSAs and signers (FORMAT.md
        // §11): a later night's status of this archive's TSA is what keeps it provable offline.
        for item in (try options.repository?.revocationMaterial()) ?? [] { _ = try? outside.add(item.der, as: item.kind, external: true) }
        let fetcher = options.fetchRevocation.map { RevocationFetcher(anchors: anchors, settings: $0) }
        let context = ValidationContext(anchors: anchors, outside: outside, fetcher: fetcher)
        // The archive time-stamp (version 2): its tree over the data groups, then its tokens.
        let archiveTimeStamp = try checkEvidence(reader: reader, scan: scan, manifest: manifestCheck, context: context, problem: problem)
        var archiveProof: Date?
        var keptResult: DocumentResult?
        var allResults: [DocumentResult] = []
        if reader.layoutProblem == nil, scan.indexUsable, fingerprint != nil {
            let results: [DocumentResult]
            // A valid archive time-stamp is a proof of existence for every document (each is in a
            // data group, or a problem was reported above).
            let proof = archiveTimeStamp.flatMap { $0.verdict.indication == .totalPassed ? $0.genTime : nil }
            archiveProof = proof
            (results, plain) = try validate(reader: reader, context: context, listed: listed, entries: scan.entries, archiveProof: proof,
                                            unresolved: references?.resolved == false)
            summary.documents += plain.count
            summary.unsigned += plain.count
            if options.keepsAllResults { allResults = results }
            for result in results {
                if result.group.document == options.keptDocument { keptResult = result }
                if !result.failedDocumentTimeStamps.isEmpty { summary.documentTimeStampProblems += 1 }
                var report = DocumentReport(result)
                if let proof, report.proofOfExistence.flatMap(ISOTime.parse).map({ $0 > proof }) ?? true {
                    report.proofOfExistence = ISOTime.format(proof)
                }
                analysed.append((result.group.document, report))
                summary.documents += 1
                if result.signed {
                    summary.signed += 1
                    switch result.verdict?.indication {
                    case .totalPassed?: summary.totalPassed += 1
                    case .totalFailed?: summary.totalFailed += 1
                    default: summary.indeterminate += 1
                    }
                } else {
                    summary.unsigned += 1
                }
            }
        }
        logger.info("verified", metadata: ["problems": "\(problems.count)", "documents": "\(summary.documents)",
                                           "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        var exit: ExitCode = .ok
        if !problems.isEmpty || summary.totalFailed > 0 { exit = .integrityOrFailed } else if summary.indeterminate > 0 { exit = .findings }
        if exit == .ok, let archiveTimeStamp, archiveTimeStamp.verdict.indication != .totalPassed { exit = .findings }
        if exit == .ok, summary.documentTimeStampProblems > 0 { exit = .findings }
        exit = withReferences(exit)
        var warnings = trustWarnings + materialWarnings
        // Without --trust, a signature without a chain most likely needs the anchor the user relies on.
        let chainFailures = analysed.reduce(0) { count, entry in
            count + entry.report.signatures.filter { $0.subIndication == SubIndication.noCertificateChainFound.rawValue }.count
        }
        if trustSource.source == "system-store" && chainFailures > 0 { warnings.append(TrustSource.hint(chainFailures: chainFailures)) }
        var report = VerifyReport(
            archive: options.archive, fingerprint: fingerprint, formatVersion: reader.trailer.map { Int($0.version) },
            validationTime: ISOTime.format(options.at),
            integrity: .init(ok: problems.isEmpty, problems: problems),
            proofOfTime: Self.proofOfTime(archiveTimeStamp, damaged: !problems.isEmpty),
            analysed: analysed, plain: plain, archiveProofOfExistence: archiveProof, summary: summary, warnings: warnings, exitCode: exit.rawValue)
        report.trust = trustSource
        report.references = references
        report.renewedEvidence = try? reader.renewedEvidenceObject()
        if options.keptDocument != nil || options.keepsAllResults {
            report.kept = KeptDocument(result: keptResult, archiveTimeStamp: archiveTimeStamp, anchors: anchors, outside: outside, all: allResults,
                                       listed: options.keepsAllResults ? listed : [])
        }
        return report
    }

    /// The analysed documents and, apart, the plain unsigned ones (nothing can concern them), each
    /// in name order.
    /// What every validation of one verify run shares: the anchors, the material from outside the
    /// archive, and the fetcher.
    struct ValidationContext {
        let anchors: TrustAnchors
        let outside: EvidencePool
        let fetcher: RevocationFetcher?
    }

    private func validate(reader: ArchiveReader, context: ValidationContext, listed: [ListedMember], entries: [ScannedEntry],
                          archiveProof: Date?, unresolved: Bool) throws -> ([DocumentResult], [ArchivePath]) {
        let pool = EvidencePool()
        pool.add(contentsOf: context.outside)
        var dataNames: [ArchivePath] = []
        var records: [ArchivePath: Int] = [:]
        // Members were checked against the manifest in order; only listed names are looked at.
        let bases = Set(listed.lazy.filter { $0.role != .certificate && $0.role != .crl && $0.role != .ocsp }
            .map { $0.path.droppingPrefix(ArchiveLayout.dataPrefix) }
            .filter(DocumentAnalyzer.mayTakePart).flatMap(DocumentAnalyzer.possibleBases))
        var plain: [ArchivePath] = []
        // Members are found by name (entry i is index record i, checked by the scan), never by their
        // position in the manifest: an extra or missing member must not shift the pairing.
        var position: [ArchivePath: Int] = [:]
        var damaged = Set<ArchivePath>()
        for (index, entry) in entries.enumerated() where index < reader.members.count - 1 {
            if entry.damaged { damaged.insert(entry.path); continue }
            position[entry.path] = position[entry.path] == nil ? index : -1
        }
        // Damaged files that a signature or token concerns still take part in the grouping (a
        // damaged signature file as the signature the manifest says it is), so that what depends on
        // them says it cannot be read; damaged documents are then never reported as intact.
        var damagedData = Set<ArchivePath>()
        var damagedSignatures = Set<ArchivePath>()
        for member in listed {
            guard let index = position[member.path], index >= 0 else {
                let name = member.path.droppingPrefix(ArchiveLayout.dataPrefix)
                if damaged.contains(member.path), member.role == .document || member.role == .signature || member.role == .timeStamp,
                   DocumentAnalyzer.mayTakePart(name) || bases.contains(name) {
                    dataNames.append(name)
                    damagedData.insert(name)
                    if member.role == .signature { damagedSignatures.insert(name) }
                }
                continue
            }
            let record = reader.members[index]
            if member.role == .document || member.role == .signature || member.role == .timeStamp {
                // A file that no signature or token can concern is an unsigned document: no analysis.
                let name = member.path.droppingPrefix(ArchiveLayout.dataPrefix)
                if !DocumentAnalyzer.mayTakePart(name) && !bases.contains(name) {
                    plain.append(name)
                    continue
                }
            }
            records[member.path] = index
            switch member.role {
            case .certificate, .crl, .ocsp:
                // Material that does not parse is left out: its member was checked above (a
                // reference without its repository too: the exit code says so).
                if let bytes = try? reader.location(of: record, line: member.referenceLine).contents() {
                    _ = try? pool.add(bytes, as: member.role.materialKind)
                }
            case .document, .signature, .timeStamp:
                dataNames.append(member.path.droppingPrefix(ArchiveLayout.dataPrefix))
            case .symbolicLink, .verifyGuide:
                continue
            }
        }
        let source = try ArchiveSource(reader: reader, records: records, damaged: damagedData)
        // Without the repository, what a document's proof needs from it is named on the document.
        let referenced = unresolved ? Dictionary(listed.compactMap { member in member.reference.map { (member.path.droppingPrefix(ArchiveLayout.dataPrefix), $0) } },
                                                 uniquingKeysWith: { first, _ in first }) : [:]
        let groups = try DocumentAnalyzer.group(dataNames, source: source, addingMaterialTo: pool, knownSignatures: damagedSignatures)
        let validator = SignatureValidator(pool: pool, policy: ValidationPolicy(anchors: context.anchors, now: options.at,
                                                                                archiveProofOfExistence: archiveProof,
                                                                                maximumRevocationAge: options.maximumRevocationAge),
                                           revocationSource: context.fetcher)
        let analyzer = DocumentAnalyzer(validator: validator, source: source)
        plain.sort()
        // A damaged document is named among the integrity problems; it is listed as a document only
        // when signed (its signatures then say it cannot be read), never as an intact unsigned one.
        let results = try groups.filter { !(damagedData.contains($0.document) && $0.kind == .unsigned) }.map { group in
            var result = try analyzer.analyze(group)
            if damagedData.contains(group.document) { result.group.notes.append("the document is damaged (see the integrity problems)") }
            for file in Set([group.document] + group.signatureFiles + group.tokenFiles.map(\.token)).sorted() {
                if let reference = referenced[file] {
                    result.group.notes.append("\(ArchivePath.escaped(file.bytes)) is stored in archive \(reference.archive) of repository \(reference.repository): not checked without --repo")
                }
            }
            return result
        }
        return (results.sorted { $0.group.document < $1.group.document }, plain)
    }
}

/// Serves archive members to the analyzer: small ones in memory, documents as private scratch files.
final class ArchiveSource: MemberSource {
    let reader: ArchiveReader
    let records: [ArchivePath: Int]
    let scratchDirectory: String
    private var extracted: [ArchivePath: String] = [:]

    /// Names (without `data/`) whose members are damaged: reading them fails with that reason.
    let damaged: Set<ArchivePath>

    init(reader: ArchiveReader, records: [ArchivePath: Int], damaged: Set<ArchivePath> = []) throws {
        self.reader = reader
        self.records = records
        self.damaged = damaged
        let folder = LocalPath(NSTemporaryDirectory())
        scratchDirectory = try TemporaryFiles.shared.creatingFolder {
            var buffer = Array(folder.appending("sigvault-verify-XXXXXX").string.utf8CString)
            guard let made = mkdtemp(&buffer) else {
                throw SigVaultError(.scratch, "\(folder): cannot create a scratch folder (TMPDIR): \(POSIX.errorText)", cause: SystemError())
            }
            return LocalPath(String(cString: made))
        }.string
    }

    deinit {
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        TemporaryFiles.shared.forgetFolder(LocalPath(scratchDirectory))
    }

    /// Where the member's content is (for a reference member, in its repository).
    private func location(_ path: ArchivePath) throws -> ContentLocation {
        guard let index = records[ArchivePath(ArchiveLayout.dataPrefix).joined(path)] else {
            if damaged.contains(path) { throw SigVaultError(.integrity, "\(path): damaged (see the integrity problems)") }
            throw SigVaultError(.archiveInvalid, "\(path): not in the archive")
        }
        return try reader.location(ofMember: index)
    }

    func bytes(of path: ArchivePath) throws -> [UInt8] { try location(path).contents(limit: 64 << 20) }

    func content(of path: ArchivePath) throws -> SignedContent {
        if let done = extracted[path] { return .file(done) }
        let location = try location(path)
        let record = location.record
        if record.contentSize <= 16 << 20 { return .bytes(try location.contents()) }
        let target = scratchDirectory + "/\(extracted.count)"
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SigVaultError(.scratch, "\(target): cannot create a scratch file (TMPDIR): \(POSIX.errorText)", cause: SystemError()) }
        defer { close(fd) }
        _ = try location.extract { try POSIX.writeAll(fd, $0, path: target, code: .scratch) }
        extracted[path] = target
        return .file(target)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// A SHA-256 held inline (no heap allocation per member).
struct Digest32: Hashable, Sendable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { words = (0, 0, 0, 0); return }
        func word(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(8), word(16), word(24))
    }

    init?(hex: String) {
        guard let bytes = OpenSSLBridge.Hex.decode(hex), bytes.count == 32 else { return nil }
        self.init(bytes)
    }

    var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) } }
    }

    static func == (lhs: Digest32, rhs: Digest32) -> Bool { lhs.words == rhs.words }
    func hash(into hasher: inout Swift.Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

