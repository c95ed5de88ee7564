import EvidenceRecords
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
    /// Time-stamp authorities for the archive time-stamp, tried in order (none: no archive time-stamp).
    public var timeStampAuthorities: [any TimeStampAuthority] = []
    public var at: Date = Date()
    public var compressionLevel: Int32 = 3
    /// `--fetch-revocation`: fetch what the stored material lacks from the certificates' OCSP
    /// responders and CRL distribution points (nil: no network access for revocation data).
    public var fetchRevocation: FetchSettings?
    /// `--require-complete`: refuse (exit 4, nothing written) unless every chain has revocation
    /// data fresh at its best signature time.
    public var requireComplete = false
    /// `--max-revocation-age` (ETSI EN 319 102-1 §5.2.5; nil: nextUpdate − thisUpdate).
    public var maximumRevocationAge: TimeInterval?
    /// `--grace` (with `--require-complete`): the data that shows a chain certificate not revoked
    /// must be issued at least this long after the time it speaks for (the CAdES grace period).
    public var grace: TimeInterval?
    /// The files to archive, already walked (the repository's backup: the files that changed
    /// tonight and the other files of their documents): used instead of walking the inputs.
    public var walked: InputWalk?
    /// Called after each file is handed to the writer (from the caller's thread), for progress.
    public var progress: (@Sendable (PackProgress) -> Void)?
    /// The repository's backup: content already stored inline in its earlier archives, written as
    /// reference members (FORMAT.md §4.3). `pack` never sets it: a standalone archive holds
    /// everything itself.
    public var storedContent: (any StoredContentIndex)?
    /// Called on the writer thread with each member as its manifest line is written: what
    /// `Lister.forEachFile(includingEvidence: true, withDates: true)` reads back from the archive
    /// (the repository's backup indexes the night's archive from it, not from the manifest again).
    public var onMember: (@Sendable (ListedFile) -> Void)?
    /// Material handed over in memory (the repository's backup: its archive time-stamps' TSAs'
    /// current status, fetched tonight): kept like `--certs`, `--crls` and `--ocsp`.
    public var material: [(kind: EvidencePool.MaterialKind, der: [UInt8])] = []

    public init(inputs: [String], output: String) {
        self.inputs = inputs
        self.output = output
    }
}

/// Content already stored in a repository, for the backup's reference members (FORMAT.md §4.3).
public protocol StoredContentIndex: Sendable {
    /// Where content with this SHA-256 (hex) and size is stored inline, if it is.
    func reference(sha256: String, size: Int64) -> MemberReference?
    /// The SHA-256 (hex) of a data file (its name relative to the inputs) that the caller knows is
    /// unchanged since it was archived, or nil: only such files become references, without a read.
    func knownDigest(ofFile relativePath: ArchivePath, size: Int64) -> String?
}

/// How far `pack` is: files and bytes handed to the writer, of those it will archive.
public struct PackProgress: Sendable {
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
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
    /// The archive time-stamp's genTime and authority, when one was obtained.
    public var archiveTimeStamp: Date?
    public var timeStampAuthority: String?
    /// Reference members written (backup only) and the bytes they did not store again.
    public var references = 0
    public var referencedBytes: UInt64 = 0
    /// Files of the walk left out because they could not be read when their turn came (names
    /// relative to the inputs).
    public var skippedFiles: [ArchivePath] = []
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
        // Refuse at once, not after reading every input (the final link refuses again, atomically).
        var existing = stat()
        if lstat(options.output, &existing) == 0 {
            throw SigVaultError(.outputExists, "\(options.output): already exists", hint: "choose another name or remove it first")
        }
        let started = Date()
        let plan = try makePlan()
        try gate(plan)
        return try write(plan, started: started)
    }

    /// What pack decided before writing a byte: the files (walk), the material and trust
    /// (material), every document's record, the roles of signature and token files and the
    /// evidence to store (analysis), and what `--require-complete` found missing (for the gate).
    struct Plan {
        var summary = PackSummary()
        var files: FileList
        let pool: EvidencePool
        let anchors: TrustAnchors
        let fetcher: RevocationFetcher?
        var roles: [ArchivePath: (MemberRole, ArchivePath?)] = [:]
        var records: [ArchivePath: DocumentRecord] = [:]
        var evidence = EvidenceSet()
        /// Signed documents' verdicts, counted once the files are written (a file that cannot be
        /// read then is left out, and so is its verdict).
        var verdicts: [(document: ArchivePath, passed: Bool)] = []
        var lines: [(document: ArchivePath, line: String)] = []
        var missing: [String] = []
    }

    /// Walk, material and analysis.
    func makePlan() throws -> Plan {
        var summary = PackSummary()
        let walk = try options.walked ?? InputWalk(options.inputs, scratchDirectory: LocalPath(options.output).parent.string)
        let files = walk.files
        logger.info("inputs walked", metadata: ["files": "\(files.count)", "warnings": "\(walk.warnings.count)"])
        summary.warnings += walk.warnings
        if walk.unreadable { summary.exitCode = summary.exitCode.combined(with: .partlyUnreadable) }

        let pool = EvidencePool()
        let handedOver = try MaterialLoader.loadMaterial(certificates: options.certificates, revocationLists: options.revocationLists,
                                                         ocspResponses: options.ocspResponses, into: pool, external: false)
        summary.warnings += handedOver.warnings
        var inMemory = MaterialLoader.Loaded()
        for item in options.material {
            // Fetched and validated by the caller; what does not parse is left out.
            guard let parsed = try? pool.add(item.der, as: item.kind, external: false) else { continue }
            inMemory.certificates += parsed.certificates
            inMemory.revocation += parsed.revocation
        }
        let (anchors, trustWarnings, trustSource) = try MaterialLoader.anchorsDescribed(options.trust)
        summary.warnings += trustWarnings
        if trustSource.source == "system-store" { summary.warnings.append("validating against \(trustSource.text)") }
        let policy = ValidationPolicy(anchors: anchors, now: options.at, maximumRevocationAge: options.maximumRevocationAge)
        let fetcher = options.fetchRevocation.map { RevocationFetcher(anchors: anchors, settings: $0) }
        let validator = SignatureValidator(pool: pool, policy: policy, revocationSource: fetcher)

        // Only names that can be signatures, tokens or signed documents are analysed (and kept):
        // one pass over the walk finds the names they could cover, a second the files.
        var bases = Set<ArchivePath>()
        var regularCount = 0
        try files.forEach { file in
            guard case .regular = file.kind else { return }
            regularCount += 1
            if DocumentAnalyzer.mayTakePart(file.relativePath) { bases.formUnion(DocumentAnalyzer.possibleBases(file.relativePath)) }
        }
        var involved: [InputFile] = []
        try files.forEach { file in
            guard case .regular = file.kind, DocumentAnalyzer.mayTakePart(file.relativePath) || bases.contains(file.relativePath) else { return }
            involved.append(file)
        }
        let byName = Dictionary(uniqueKeysWithValues: involved.map { ($0.relativePath, $0) })
        let source = FilesystemSource(files: byName)
        let groups = try DocumentAnalyzer.group(involved.map(\.relativePath), source: source, addingMaterialTo: pool)
            .filter { $0.kind != .unsigned || !$0.tokenFiles.isEmpty || !$0.notes.isEmpty }
        summary.documents = regularCount
        let analyzer = DocumentAnalyzer(validator: validator, source: source)
        var plan = Plan(files: files, pool: pool, anchors: anchors, fetcher: fetcher)
        var withoutChain = 0
        for group in groups {
            let result = try analyzer.analyze(group)
            withoutChain += result.signatures.filter { $0.validation?.verdict.subIndication == .noCertificateChainFound }.count
            for stamp in result.failedDocumentTimeStamps {
                summary.warnings.append("\(ArchivePath.escaped(group.document.bytes)): the time-stamp\(stamp.origin.map { " in \($0)" } ?? "") over the document proves nothing: \(stamp.reason)")
                summary.exitCode = summary.exitCode.combined(with: .findings)
            }
            if options.requireComplete { plan.missing += Self.missingRevocationData(result, validator: validator, grace: options.grace) }
            let record = EvidenceSet.record(for: result, collecting: &plan.evidence, validator: validator)
            plan.records[group.document] = record
            for file in group.signatureFiles where file != group.document { plan.roles[file] = (.signature, group.document) }
            for (token, covered) in group.tokenFiles { plan.roles[token] = (.timeStamp, covered) }
            summary.documents -= group.signatureFiles.filter { $0 != group.document }.count + group.tokenFiles.count
            if result.signed { plan.verdicts.append((group.document, result.verdict?.indication == .totalPassed)) }
            if result.signed || !result.group.notes.isEmpty { plan.lines.append((group.document, ReportText.packLine(result))) }
        }

        if trustSource.source == "system-store" && withoutChain > 0 { summary.warnings.append(TrustSource.hint(chainFailures: withoutChain)) }
        // Everything handed over with --certs, --crls and --ocsp is kept, used or not (once per
        // content): a later verifier, or a later version, may need what this one did not use.
        _ = plan.evidence.add(handedOver.certificates + inMemory.certificates)
        _ = plan.evidence.add(handedOver.revocation + inMemory.revocation)

        logger.info("signatures analysed", metadata: ["documents": "\(summary.documents)", "signed": "\(plan.verdicts.count)",
                                                      "notPassing": "\(plan.verdicts.filter { !$0.passed }.count)"])
        if let fetcher {
            summary.warnings += fetcher.warnings
            logger.info("revocation data fetched", metadata: ["requests": "\(fetcher.statistics.requests)", "kept": "\(fetcher.statistics.fetched)"])
        }
        plan.summary = summary
        return plan
    }

    /// `--require-complete`: nothing is written while a chain lacks what it needs (exit 4).
    func gate(_ plan: Plan) throws {
        let (missing, summary) = (plan.missing, plan.summary)
        if !missing.isEmpty {
            let shown = missing.prefix(20).joined(separator: "; ") + (missing.count > 20 ? "; and \(missing.count - 20) more" : "")
            throw SigVaultError(.refusedByGate, "\(options.output): not written: --require-complete, and \(missing.count) chain(s) lack certificates or revocation data fresh at the best signature time: \(shown)",
                                hint: "give the missing certificates with --certs or --trust, and CRLs or OCSP responses with --crls or --ocsp"
                                    + (options.fetchRevocation == nil ? ", or add --fetch-revocation" : ""),
                                warnings: summary.warnings)
        }
    }

    /// The writer: VERIFY.md, data members, evidence members, manifest, then (with `--tsa`) the
    /// archive time-stamp, the index and the trailer, into a temporary file renamed into place.
    func write(_ plan: Plan, started: Date) throws -> PackSummary {
        var summary = plan.summary
        let (files, roles, records, evidence, verdicts, lines) = (plan.files, plan.roles, plan.records, plan.evidence, plan.verdicts, plan.lines)
        let (anchors, fetcher, pool) = (plan.anchors, plan.fetcher, plan.pool)
        let output = try AtomicOutputFile(destination: options.output, overwrite: false)
        summary.warnings += TemporaryFiles.shared.takeStaleRemoved()
        let scratchDirectory = LocalPath(options.output).parent.string
        let writer = try ArchiveWriter(output: output, scratchDirectory: scratchDirectory, compressionLevel: options.compressionLevel)
        let manifest = try ManifestBuilder(directory: scratchDirectory)
        _ = try manifest.append(.header(ManifestHeader(createdAt: ISOTime.format(Date()), generator: "sigvault \(SigVaultVersion.current)",
                                                       trustAnchors: MaterialLoader.anchorDigests(anchors))))
        let now = Int64(Date().timeIntervalSince1970)
        let skips = SkipLog()

        /// Runs on the writer thread when the member is written: its manifest line, then its index record.
        // With an archive time-stamp to make: where each member is, and each document's group.
        let dataGroups: GroupCollector? = options.timeStampAuthorities.isEmpty ? nil : GroupCollector()
        let onMember = options.onMember
        let certificates = evidence.certificates
        func completion(_ path: ArchivePath, _ role: MemberRole, describe: @escaping @Sendable (inout ManifestMember) -> Void) -> ArchiveWriter.Completion {
            return { outcome in
                var member = ManifestMember(path: path, role: role, size: outcome.size, sha256: Hex.encode(outcome.contentSHA256))
                describe(&member)
                // A reference member's line names its content (the tar entry holds the stub).
                let content = member.reference == nil ? outcome.contentSHA256 : (Hex.decode(member.sha256) ?? [])
                guard member.indexedSHA256 == Hex.encode(outcome.contentSHA256) else {
                    throw SigVaultError(.internalInvariant, "internal error: the reference stub of \(path) changed while written")
                }
                let line = try manifest.append(.member(member))
                if let onMember, let listed = Lister.listedFile(member, includingEvidence: true, certificate: { certificates[$0] }) { onMember(listed) }
                dataGroups?.member(path, index: writer.memberCount, sha256: content,
                               group: role == .document ? DataGroups.members(ofDocument: path, record: member.document) : nil)
                try writer.record(outcome.indexRecord(path: path, line: line))
            }
        }
        func addBytes(_ path: ArchivePath, _ role: MemberRole, _ bytes: [UInt8], sha256: String? = nil) throws {
            // Evidence the repository already holds is a reference.
            if let sha256, let reference = options.storedContent?.reference(sha256: sha256, size: Int64(bytes.count)) {
                try addReference(ArchiveWriter.MemberHeader(path: path, mode: 0o644, modificationTime: now), role, reference,
                                 size: Int64(bytes.count), sha256: sha256) { _ in }
                summary.members += 1
                return
            }
            try writer.addSmall(.init(path: path, mode: 0o644, modificationTime: now), source: .bytes(bytes),
                                completion: completion(path, role) { member in
                                    member.mode = 0o644
                                    member.modificationTime = now
                                })
            summary.members += 1
        }
        /// A reference member (FORMAT.md §4.3): the stub as its tar entry, the content's size and
        /// SHA-256 and where it is in its manifest line.
        func addReference(_ header: ArchiveWriter.MemberHeader, _ role: MemberRole, _ reference: MemberReference, size: Int64, sha256: String,
                          describe: @escaping @Sendable (inout ManifestMember) -> Void) throws {
            let stub = ReferenceStub.content(of: reference, size: size, sha256: sha256)
            let (mode, mtime) = (header.mode, header.modificationTime)
            try writer.addSmall(header, source: .bytes(stub), completion: completion(header.path, role) { member in
                describe(&member)
                member.mode = mode
                member.modificationTime = mtime
                member.storage = "reference"
                member.reference = reference
                member.size = size
                member.sha256 = sha256
            })
            summary.references += 1
            summary.referencedBytes += UInt64(max(0, size))
        }

        try addBytes(ArchivePath(ArchiveLayout.verifyGuideName), .verifyGuide, Array(VerifyGuide.text(archiveTimeStampRequested: !options.timeStampAuthorities.isEmpty).utf8))
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let smallLimit = Int64(ArchiveWriter.frameSize - 8192)
        var progress = PackProgress(filesDone: 0, filesTotal: files.count, bytesDone: 0, bytesTotal: files.totalBytes)
        try files.forEach { file in
            defer {
                progress.filesDone += 1
                progress.bytesDone += UInt64(max(0, file.size))
                options.progress?(progress)
            }
            let path = ArchivePath(ArchiveLayout.dataPrefix).joined(file.relativePath)
            let header = ArchiveWriter.MemberHeader(path: path, mode: file.mode, modificationTime: file.modificationTime)
            switch file.kind {
            case .symbolicLink(let target):
                let escapedTarget = ArchivePath.escaped(target)
                let (mode, mtime) = (file.mode, file.modificationTime)
                try writer.addSmall(header, source: .symbolicLink(target: target),
                                    completion: completion(path, .symbolicLink) { member in
                                        member.symlinkTarget = escapedTarget
                                        member.mode = mode
                                        member.modificationTime = mtime
                                    })
            case .regular(let expectedSize):
                let (role, covered) = roles[file.relativePath] ?? (.document, nil)
                // Plain files were left out of the analysis: their record is the unsigned one.
                let document = role == .document ? (records[file.relativePath] ?? DocumentRecord.unsigned) : nil
                let coveredName = covered.map { ArchivePath.escaped(ArchivePath(ArchiveLayout.dataPrefix).joined($0).bytes) }
                let (mode, mtime) = (file.mode, file.modificationTime)
                let describe: @Sendable (inout ManifestMember) -> Void = { member in
                    member.mode = mode
                    member.modificationTime = mtime
                    member.covers = coveredName
                    member.document = document
                }
                if let stored = options.storedContent, let digest = stored.knownDigest(ofFile: file.relativePath, size: expectedSize),
                   let reference = stored.reference(sha256: digest, size: expectedSize) {
                    // Unchanged content the repository holds: not read, not stored again.
                    try addReference(header, role, reference, size: expectedSize, sha256: digest, describe: describe)
                    summary.members += 1
                    return
                } else if expectedSize <= smallLimit {
                    try writer.addSmall(header, source: .file(path: file.filesystemPath, size: expectedSize),
                                        skipped: { skips.add($0 + "; not archived", size: expectedSize, path: file.relativePath) },
                                        completion: completion(path, role, describe: describe))
                } else if let failure = try streamLargeFile(file, size: expectedSize, header: header, writer: writer, buffer: &buffer,
                                                            completion: completion(path, role, describe: describe)) {
                    skips.add(failure + "; not archived", size: expectedSize, path: file.relativePath)
                }
                summary.bytesIn += UInt64(expectedSize)
            }
            summary.members += 1
        }
        for certificate in evidence.certificates.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try addBytes(EvidenceSet.path(certificateSHA256: certificate.sha256Hex), .certificate, certificate.der, sha256: certificate.sha256Hex)
        }
        for crl in evidence.revocationLists.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try addBytes(EvidenceSet.path(crlSHA256: crl.sha256Hex), .crl, crl.der, sha256: crl.sha256Hex)
        }
        for response in evidence.ocspResponses.values.sorted(by: { $0.sha256Hex < $1.sha256Hex }) {
            try addBytes(EvidenceSet.path(ocspSHA256: response.sha256Hex), .ocsp, response.der, sha256: response.sha256Hex)
        }
        try writer.drain()
        // Files that could not be read when their turn came were left out: the rest is archived. A
        // document left out takes its verdict with it; a signature or token file left out is named
        // with the document it belongs to.
        let skipped = skips.entries
        summary.skippedFiles = skipped.map(\.path)
        summary.members -= skipped.count
        summary.bytesIn -= skips.bytes
        var skippedDocuments = Set<ArchivePath>()
        for entry in skipped {
            if let (_, document) = roles[entry.path], let document {
                summary.warnings.append(entry.message + " (it belongs to \(ArchivePath.escaped(document.bytes)), archived without it)")
            } else {
                summary.warnings.append(entry.message)
                skippedDocuments.insert(entry.path)
            }
        }
        summary.documents -= skippedDocuments.count
        if !skipped.isEmpty { summary.exitCode = summary.exitCode.combined(with: .partlyUnreadable) }
        for verdict in verdicts where !skippedDocuments.contains(verdict.document) {
            summary.signedDocuments += 1
            if verdict.passed { summary.passed += 1 } else { summary.notPassed += 1 }
        }
        if summary.notPassed > 0 { summary.exitCode = summary.exitCode.combined(with: .findings) }
        summary.documentLines = lines.filter { !skippedDocuments.contains($0.document) }.map(\.line)
        _ = try manifest.append(.end(ManifestEnd(members: summary.members, documents: summary.documents, signedDocuments: summary.signedDocuments)))

        // The manifest member: its own index record has no manifest line.
        let manifestPath = ArchivePath(ArchiveLayout.manifestName)
        try writer.beginMember(path: manifestPath, kind: .regularFile(size: Int64(manifest.size)), mode: 0o644, modificationTime: now)
        try manifest.readAll { chunk in try chunk.withUnsafeBytes { try writer.writeMemberData($0) } }
        let written = try writer.endMemberAndWait()
        let manifestDigest = manifest.sha256
        guard written.contentSHA256 == manifestDigest else { throw SigVaultError(.internalInvariant, "internal error: manifest changed while written") }
        let manifestIndex = writer.memberCount
        try writer.record(written.indexRecord(path: manifestPath, line: nil))
        var evidenceSection: [UInt8]?
        if let dataGroups {
            dataGroups.member(manifestPath, index: manifestIndex, sha256: manifestDigest, group: [manifestPath])
            evidenceSection = try archiveTimeStamp(dataGroups, fetcher: fetcher, pool: pool, summary: &summary)
        }
        try writer.finish(manifest: written.placement, manifestSHA256: manifestDigest, evidence: evidenceSection)
        summary.bytesOut = output.bytesWritten
        try output.commit(overwrite: false)
        summary.fingerprint = Hex.encode(manifestDigest)
        logger.info("archive written", metadata: ["archive": "\(options.output)", "members": "\(summary.members)",
                                                  "bytesIn": "\(summary.bytesIn)", "bytesOut": "\(summary.bytesOut)",
                                                  "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        return summary
    }

    /// The evidence section (docs/FORMAT.md §10): a hash tree over the data groups, one time-stamp
    /// over its root from the first authority whose answer is accepted. Without one, nil: the
    /// archive is written without an archive time-stamp, each authority's refusal is a warning, and
    /// the exit code says so (2).
    private func archiveTimeStamp(_ groups: GroupCollector, fetcher: RevocationFetcher?, pool: EvidencePool,
                                  summary: inout PackSummary) throws -> [UInt8]? {
        let (members, leaves) = try groups.resolve()
        let hash: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        let tree = HashTree.Levels(leaves: leaves, hash: hash)
        let (anchors, _) = try MaterialLoader.anchors(options.trust)
        let outcome = TimeStamper(authorities: options.timeStampAuthorities, anchors: anchors).timeStamp(imprint: tree.root, algorithm: .sha256)
        for refusal in outcome.refusals {
            summary.warnings.append("\(refusal.authority): no archive time-stamp: \(refusal.reason)")
        }
        guard let token = outcome.token else {
            summary.warnings.append("the archive was written without an archive time-stamp: nothing in it proves when it was made")
            summary.exitCode = summary.exitCode.combined(with: .findings)
            return nil
        }
        logger.info("archive time-stamp", metadata: ["tsa": "\(outcome.authority ?? "")", "genTime": "\(ISOTime.format(token.genTime))",
                                                     "groups": "\(leaves.count)"])
        summary.archiveTimeStamp = token.genTime
        summary.timeStampAuthority = outcome.authority
        let sha256 = DigestAlgorithmIdentifier(algorithm: [2, 16, 840, 1, 101, 3, 4, 2, 1])
        let template = EvidenceRecord(digestAlgorithms: [sha256], archiveTimeStampSequence: [
            ArchiveTimeStampChain([ArchiveTimeStamp(digestAlgorithm: sha256, reducedHashtree: nil, timeStamp: token.der)])])
        // The TSA's certificates, and with --fetch-revocation its chain's revocation data fetched
        // now (a fresh fetcher: answers cached during the analysis predate genTime), for the next
        // renewal to put into the token and cover.
        let (material, materialWarnings) = RevocationFetcher.material(forNewToken: token, fetcher: fetcher, anchors: anchors,
                                                                      untrusted: pool.certificates)
        summary.warnings += materialWarnings
        let evidence = ArchiveEvidence(template: template, trees: [tree], groups: members.map { ArchiveEvidence.Group(members: $0) },
                                       material: material)
        return try evidence.encoded(sha256: hash)
    }

    /// `--require-complete`: each chain of `result` (signers' at their best signature time, TSAs' at
    /// genTime) whose certificates below the anchor lack revocation data fresh at that time (ETSI EN
    /// 319 102-1 §5.2.5), or that could not be built at all; one line each.
    static func missingRevocationData(_ result: DocumentResult, validator: SignatureValidator, grace: TimeInterval? = nil) -> [String] {
        let document = ArchivePath.escaped(result.group.document.bytes)
        let partial = validator.policy.allowPartialChain
        func gap(_ chain: [Certificate], at time: Date) -> String? {
            let revocation = validator.revocationOfChain(chain, checkedCount: partial ? chain.count : chain.count - 1, at: time)
            if case (_, let certificate, .unknown)? = revocation.problem {
                return "no revocation data fresh at \(ISOTime.format(time)) for \(certificate.subject)"
            }
            guard let grace else { return nil }
            let until = time.addingTimeInterval(grace)
            for (certificate, status) in revocation.statuses where status.state == .notRevoked {
                let newest = status.evidence.filter { $0.issued >= until }
                if newest.isEmpty {
                    return "no revocation data for \(certificate.subject) issued at or after \(ISOTime.format(until)) (--grace after \(ISOTime.format(time)))"
                }
            }
            return nil
        }
        var missing: [String] = []
        // Without --grace, a valid token or a passing signature had its chain's revocation settled
        // while it was validated: only the others are asked again.
        func tokens(_ list: [TimeStampValidation]) {
            for stamp in list where stamp.failure == .tryLater || (grace != nil && stamp.valid) {
                if let text = gap(stamp.tsaChain, at: stamp.genTime) {
                    missing.append("\(document): time-stamp of \(ISOTime.format(stamp.genTime)) by \(stamp.tsaSubject ?? "an unknown TSA"): \(text)")
                }
            }
        }
        for outcome in result.signatures {
            guard let validation = outcome.validation else { continue }
            tokens(validation.timeStamps)
            let signer = "signature by \(validation.signerCertificate?.subject ?? "signer \(outcome.signerIndex)")"
            if validation.verdict.subIndication == .noCertificateChainFound {
                missing.append("\(document): \(signer): no certificate chain to a trust anchor")
            } else if validation.verdict.indication != .totalPassed || grace != nil, validation.chain.count > 1,
                      let best = validation.bestSignatureTime, let text = gap(validation.chain, at: best) {
                missing.append("\(document): \(signer): \(text)")
            }
        }
        tokens(result.documentTimeStamps)
        return missing
    }

    /// Streams a file too large for one frame: read and hashed here, compressed on the pool. If the
    /// file cannot be read to the end (gone, shrunk, a read error), the member is abandoned and the
    /// reason returned: like a small one, it is left out and the rest archived.
    private func streamLargeFile(_ file: InputFile, size expectedSize: Int64, header: ArchiveWriter.MemberHeader, writer: ArchiveWriter,
                                 buffer: inout [UInt8], completion: @escaping ArchiveWriter.Completion) throws -> String? {
        let display = ArchivePath.escaped(file.filesystemPath)
        let fd = POSIX.withPath(file.filesystemPath) { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { return "\(display): cannot open: \(POSIX.errorText)" }
        defer { close(fd) }
        try writer.beginMember(path: header.path, kind: .regularFile(size: expectedSize), mode: header.mode, modificationTime: header.modificationTime)
        var total: Int64 = 0
        while total < expectedSize {
            let want = Int(min(Int64(buffer.count), expectedSize - total))
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, want) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 {
                let reason = got < 0 ? "\(display): read failed: \(POSIX.errorText)" : "\(display): file shrank while being archived"
                try writer.abandonMember()
                return reason
            }
            try buffer.withUnsafeBytes { try writer.writeMemberData(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            total += Int64(got)
        }
        // One byte more means the file is longer than its stat size said: archiving a prefix of
        // it would be a silent truncation.
        var more = 0
        repeat { more = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 1) } } while more < 0 && errno == EINTR
        if more != 0 {
            try writer.abandonMember()
            return more < 0 ? "\(display): read failed: \(POSIX.errorText)" : ArchiveWriter.sizeMismatch(display, expectedSize)
        }
        try writer.endMember(completion: completion)
        return nil
    }
}

/// Files left out while writing, collected from the writer thread.
final class SkipLog: @unchecked Sendable {
    struct Entry {
        let message: String
        /// The file's name (without `data/`).
        let path: ArchivePath
    }
    private let lock = NSLock()
    private var list: [Entry] = []
    private var total: UInt64 = 0

    func add(_ message: String, size: Int64, path: ArchivePath) {
        lock.lock()
        list.append(Entry(message: message, path: path))
        total += UInt64(max(0, size))
        lock.unlock()
    }

    var entries: [Entry] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }

    var bytes: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return total
    }
}

/// The manifest being written: lines spilled to a scratch file and hashed as they come. Lines are
/// appended from the writer thread only (after the header).
final class ManifestBuilder: @unchecked Sendable {
    private let spill: SpillFile
    private let hasher = Hasher(.sha256)
    private let encoder = JSONEncoder()
    private var digest: [UInt8]?

    init(directory: String) throws {
        spill = try SpillFile(directory: directory, name: "sigvault-manifest")
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    var size: UInt64 { spill.size }

    /// Appends one line; returns where it is and its SHA-256 (without the newline).
    func append(_ line: ManifestLine) throws -> (offset: UInt64, length: UInt64, sha256: [UInt8]) {
        let bytes = try line.encoded(with: encoder)
        let offset = spill.size
        try spill.append(bytes + [0x0A])
        hasher.update(bytes + [0x0A])
        return (offset, UInt64(bytes.count), Hasher.digest(bytes))
    }

    func readAll(_ body: ([UInt8]) throws -> Void) throws { try spill.readAll(body) }

    /// The SHA-256 of everything appended: the archive's fingerprint.
    var sha256: [UInt8] {
        if let digest { return digest }
        let value = hasher.finalize()
        digest = value
        return value
    }
}

extension PackSummary {
    /// `archive time-stamp <genTime> by <url>`, when one was obtained.
    public var archiveTimeStampLine: String? {
        guard let time = archiveTimeStamp, let authority = timeStampAuthority else { return nil }
        return "archive time-stamp \(ISOTime.format(time)) by \(authority)"
    }

    /// The JSON summary `pack --json` prints (docs/CLI.md).
    public func jsonText(archive: String) -> String {
        struct Output: Encodable {
            let archive: String
            let fingerprint: String
            let members: Int
            let documents: Int
            let signedDocuments: Int
            let passed: Int
            let notPassed: Int
            let bytesIn: UInt64
            let bytesOut: UInt64
            let warnings: [String]
            let exitCode: Int32
            var schemaVersion = JSONOutput.schemaVersion
            @NullEncoded var archiveTimeStamp: String?
            @NullEncoded var timeStampAuthority: String?
        }
        return JSONOutput.encode(Output(archive: archive, fingerprint: fingerprint, members: members, documents: documents,
                                        signedDocuments: signedDocuments, passed: passed, notPassed: notPassed, bytesIn: bytesIn,
                                        bytesOut: bytesOut, warnings: warnings, exitCode: exitCode.rawValue,
                                        archiveTimeStamp: archiveTimeStamp.map(ISOTime.format), timeStampAuthority: timeStampAuthority))
    }
}

public enum SigVaultVersion {
    public static let current = "0.1.0"

    /// `sigvault --version`: SigVault's version, then the libraries it runs with.
    public static var withLibraries: String {
        ["sigvault \(current)", OpenSSLLibrary.version, ArchiveLibraries.libarchive, ArchiveLibraries.libzstd].joined(separator: "\n")
    }
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
            throw SigVaultError(.inputInvalid, "\(path): too large for a signature or token file")
        }
        guard case .regular(let size) = file.kind else { throw SigVaultError(.inputInvalid, "\(path): not a regular file") }
        return try ArchiveWriter.readWholeFile(file.filesystemPath, expectedSize: size)
    }

    func content(of path: ArchivePath) throws -> SignedContent {
        guard let file = files[path] else { throw SigVaultError(.inputMissing, "\(path): not among the inputs") }
        return .rawPath(file.filesystemPath)
    }
}

/// What the archive time-stamp needs of each member, collected on the writer thread: its index and
/// content SHA-256, and for documents the paths of their data group.
final class GroupCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var members: [ArchivePath: (index: UInt64, sha256: [UInt8])] = [:]
    private var groups: [[ArchivePath]] = []

    func member(_ path: ArchivePath, index: UInt64, sha256: [UInt8], group: [ArchivePath]?) {
        lock.lock()
        members[path] = (index, sha256)
        if let group { groups.append(group) }
        lock.unlock()
    }

    /// Each group's member indices and its leaf: the SHA-256 of its one object, or of the sorted
    /// concatenation of its objects' SHA-256s (RFC 4998 §4.2). A name the group lists but the
    /// archive lacks (a file left out) is left out of the group.
    func resolve() throws -> (members: [[UInt64]], leaves: [[UInt8]]) {
        lock.lock()
        defer { lock.unlock() }
        var indices: [[UInt64]] = []
        var leaves: [[UInt8]] = []
        for group in groups {
            let found = group.compactMap { members[$0] }
            guard !found.isEmpty else { continue }
            indices.append(found.map(\.index))
            leaves.append(HashTree.groupHash(found.map(\.sha256)) { Hasher.digest($0, .sha256) })
        }
        guard !leaves.isEmpty else { throw SigVaultError(.internalInvariant, "internal error: no data group to time-stamp") }
        return (indices, leaves)
    }
}
