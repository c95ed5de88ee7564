import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct RenewOptions: Sendable {
    public var archive: String
    public var timeStampAuthorities: [any TimeStampAuthority] = []
    public var trust: [String] = []
    /// Revocation data for the archive time-stamps' TSA chains (files or folders).
    public var revocationLists: [String] = []
    public var ocspResponses: [String] = []
    /// `--fetch-revocation`: fetch the newest archive time-stamp's TSA chain's revocation data from
    /// the certificates' OCSP responders and CRL distribution points.
    public var fetchRevocation: FetchSettings?
    /// Renew only if the newest archive time-stamp stops protecting the archive within this window.
    public var before: TimeInterval?
    /// `--max-revocation-age` (ETSI EN 319 102-1 §5.2.5; nil: nextUpdate − thisUpdate).
    public var maximumRevocationAge: TimeInterval?
    /// A hash algorithm other than the newest chain's: hash-tree renewal (a new chain over the data).
    public var hash: HashAlgorithm?
    /// The time the due check (`--before`) and the check of the existing evidence count from.
    /// Answers (the TSA's genTime, fetched data's freshness) are judged by the live clock: the
    /// fetching before them can take minutes.
    public var now: Date = Date()

    public init(archive: String) { self.archive = archive }
}

public struct RenewSummary: Sendable {
    /// Whether a new archive time-stamp was added.
    public var renewed = false
    /// Whether it started a new chain with a new hash algorithm.
    public var hashTreeRenewal = false
    /// Why it was not due, when `--before` left the archive as it was.
    public var notDue: String?
    public var genTime: Date?
    public var authority: String?
    /// When the newest archive time-stamp now stops protecting the archive.
    public var renewBefore: Date?
    public var warnings: [String] = []
    public var exitCode: ExitCode = .ok
}

/// `sigvault renew`: time-stamp renewal (RFC 4998 §5.2) of a version 2 archive. The newest archive
/// time-stamp's token first receives the validation material of its TSA chain (certificates, and the
/// CRLs and OCSP responses given), then a new archive time-stamp is made over the hash of that
/// token and appended to the last chain. The data frames and the index are copied unchanged into a
/// temporary file with the new evidence section and trailer, which is fsynced and renamed over the
/// archive: after a crash either the old or the new archive is there, whole.
public struct Renewer {
    let options: RenewOptions
    let logger: Logger

    public init(options: RenewOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> RenewSummary {
        let reader = try ArchiveReader(path: options.archive)
        if let problem = reader.layoutProblem { throw SigVaultError(.archiveInvalid, "\(options.archive): \(problem)") }
        // One renewal at a time: a second one would rename its archive over the first's.
        guard flock(reader.fd, LOCK_EX | LOCK_NB) == 0 else {
            throw SigVaultError(.locked, "\(options.archive): another sigvault renew is working on it")
        }
        guard let trailer = reader.trailer else { throw SigVaultError(.archiveInvalid, "\(options.archive): no trailer") }
        var prepared: Prepared
        switch try prepare(reader) {
        case .notDue(let summary): return summary
        case .due(let due): prepared = due
        }
        let outcome = TimeStamper(authorities: options.timeStampAuthorities, anchors: prepared.anchors)
            .timeStamp(imprint: prepared.imprint, algorithm: prepared.newAlgorithm)
        for refusal in outcome.refusals { prepared.summary.warnings.append("\(refusal.authority): no archive time-stamp: \(refusal.reason)") }
        guard let token = outcome.token else {
            prepared.summary.warnings.append("\(options.archive): not renewed: no time-stamp authority gave a usable answer; the archive is unchanged")
            prepared.summary.exitCode = .findings
            return prepared.summary
        }
        let (newPayload, summary) = try seal(prepared, token: token, authority: outcome.authority, reducedHashtree: nil)
        try rewrite(reader: reader, trailer: trailer, evidencePayload: newPayload)
        var done = summary
        done.warnings += TemporaryFiles.shared.takeStaleRemoved()
        logger.info("renewed", metadata: ["archive": "\(options.archive)", "genTime": "\(ISOTime.format(token.genTime))"])
        return done
    }

    /// One archive's renewal up to the new time-stamp: its evidence with the newest token amended,
    /// what the new time-stamp must cover, and what the summary says so far.
    struct Prepared {
        var evidence: ArchiveEvidence
        var summary: RenewSummary
        let chainIndex: Int
        let imprint: [UInt8]
        let newAlgorithm: HashAlgorithm
        let newIdentifier: DigestAlgorithmIdentifier
        let newTree: HashTree.Levels?
        let hashTreeRenewal: Bool
        let anchors: TrustAnchors
        let fetcher: RevocationFetcher?
        let pool: EvidencePool
    }

    enum Preparation {
        case notDue(RenewSummary)
        case due(Prepared)
    }

    /// Everything before the TSA is asked: the due check, the existing evidence checked, the newest
    /// token amended with its TSA chain's validation material, and the new time-stamp's imprint.
    func prepare(_ reader: ArchiveReader) throws -> Preparation {
        var summary = RenewSummary()
        guard var evidence = try reader.evidence() else {
            throw SigVaultError(.archiveInvalid, "\(options.archive): the archive has no archive time-stamp to renew",
                                hint: "pack it with --tsa to give it one")
        }
        let chainIndex = evidence.template.archiveTimeStampSequence.count - 1
        let chain = evidence.template.archiveTimeStampSequence[chainIndex]
        let last = chain.archiveTimeStamps[chain.archiveTimeStamps.count - 1]
        guard let lastToken = try? TimeStampToken(responseOrToken: last.timeStamp) else {
            throw SigVaultError(.integrity, "\(options.archive): the newest archive time-stamp is not a readable token; run sigvault verify")
        }
        guard let identifier = chain.archiveTimeStamps[0].digestAlgorithm ?? lastToken.imprintAlgorithm.map({ DigestAlgorithmIdentifier(algorithm: try! .init(dotRepresentation: RecordVerifier.oid($0))) }),
              let algorithm = HashAlgorithm(openSSLName: identifier.oid) else {
            throw SigVaultError(.archiveInvalid, "\(options.archive): the newest chain's hash algorithm is not one SigVault knows")
        }

        // Due? The newest token's TSA chain expiry (its earliest certificate below the anchor, as
        // verify counts it) and the chain's algorithm sunset.
        let tsaCertificate = lastToken.signerCertificate(extra: [])
        let (anchors, trustWarnings) = try MaterialLoader.anchors(options.trust)
        let protectsUntil = Self.protectedUntil(lastToken, algorithm: algorithm, anchors: anchors)
        if let window = options.before, options.hash == nil || options.hash == algorithm, let protectsUntil,
           protectsUntil > options.now.addingTimeInterval(window) {
            summary.notDue = "the newest archive time-stamp protects the archive until \(ISOTime.format(protectsUntil)), later than the window"
            summary.renewBefore = protectsUntil
            return .notDue(summary)
        }
        guard !options.timeStampAuthorities.isEmpty else { throw SigVaultError(.usage, "renew needs --tsa") }

        // The newest token receives its TSA chain and the revocation data given, kept in the
        // section since pack (fetched after that token was made), or fetched now.
        let pool = EvidencePool()
        var crls: [[UInt8]] = []
        var responses: [[UInt8]] = []
        /// Revocation data for the token, once per content (also added to the pool).
        func take(_ item: RevocationEvidence) {
            switch item {
            case .crl(let crl) where !crls.contains(crl.der): crls.append(crl.der)
            case .ocsp(let response) where !responses.contains(response.der): responses.append(response.der)
            default: return
            }
            pool.add(item)
        }
        let given = try MaterialLoader.loadMaterial(certificates: [], revocationLists: options.revocationLists,
                                                    ocspResponses: options.ocspResponses, into: pool, external: false)
        given.revocation.forEach(take)
        summary.warnings += given.warnings
        summary.warnings += trustWarnings
        // CRLs and OCSP responses leave the section for the token; one that does not parse stays.
        var moved: [ArchiveEvidence.Material] = []
        for item in evidence.material {
            guard let parsed = try? pool.add(item.der, as: item.kind.materialKind) else { continue }
            parsed.revocation.forEach(take)
            if item.kind != .certificate { moved.append(item) }
        }
        evidence.material.removeAll { moved.contains($0) }
        let fetcher = options.fetchRevocation.map { RevocationFetcher(anchors: anchors, settings: $0) }
        var chainCertificates = lastToken.certificates
        var builtChain: [Certificate] = []
        if let tsaCertificate {
            let built = ChainBuilder.build(leaf: tsaCertificate, untrusted: lastToken.certificates + pool.certificates, anchors: anchors,
                                           purpose: .timeStamping, at: nil, allowPartialChain: false)
            if built.ok { chainCertificates = built.chain; builtChain = built.chain }
        }
        // The evidence must hold before anything is fetched for it or added to it.
        try checkExisting(evidence, reader: reader, pool: pool, anchors: anchors)
        // What the pool cannot decide at genTime is fetched (the validator asks the fetcher).
        if let fetcher {
            let what = "the archive time-stamp of \(ISOTime.format(lastToken.genTime))"
            fetcher.revocationData(forChain: builtChain, at: lastToken.genTime, pool: pool, anchors: anchors, what: what).forEach(take)
            summary.warnings += fetcher.warnings
        }
        // Once the new time-stamp covers the token, nothing can be added to it: say which of its
        // chain's certificates it seals without data that settles their status at genTime (exit 2).
        let open = Self.unsettled(builtChain, at: lastToken.genTime, pool: pool, anchors: anchors)
        if builtChain.isEmpty || !open.isEmpty {
            let how = fetcher == nil ? "give --crls or --ocsp, or --fetch-revocation" : "nothing that settles it could be fetched; give --crls or --ocsp"
            let who = builtChain.isEmpty ? "its TSA chain could not be built" : open.map(\.subject).joined(separator: ", ")
            summary.warnings.append("the archive time-stamp of \(ISOTime.format(lastToken.genTime)) is sealed without revocation data fresh at its genTime for \(who): it will stay without proof of not being revoked (\(how))")
            summary.exitCode = summary.exitCode.combined(with: .findings)
        }
        let amended = try TokenAmendment.adding(certificates: chainCertificates.map(\.der), crls: crls, ocspResponses: responses, to: last.timeStamp)

        evidence.template.archiveTimeStampSequence[chainIndex].archiveTimeStamps[chain.archiveTimeStamps.count - 1].timeStamp = amended
        let hashTreeRenewal = options.hash.map { $0 != algorithm } ?? false
        let newAlgorithm = options.hash ?? algorithm
        let newIdentifier = DigestAlgorithmIdentifier(algorithm: try .init(dotRepresentation: RecordVerifier.oid(newAlgorithm)))

        // The new archive time-stamp (RFC 4998 §5.2): over the hash of the amended token
        // (time-stamp renewal), or over a new tree whose leaves are each group's data hashed anew
        // together with the hash of the group's chains so far (hash-tree renewal).
        let imprint: [UInt8]
        var newTree: HashTree.Levels?
        if hashTreeRenewal {
            let hashes = GroupHashes(reader: reader)
            let newChain = evidence.template.archiveTimeStampSequence.count
            let leaves = try evidence.groups.indices.map { try hashes.leaf(evidence, group: $0, chain: newChain, algorithm: newAlgorithm) }
            let tree = HashTree.Levels(leaves: leaves) { Hasher.digest($0, newAlgorithm) }
            newTree = tree
            imprint = tree.root
        } else {
            imprint = Hasher.digest(amended, algorithm)
        }
        return .due(Prepared(evidence: evidence, summary: summary, chainIndex: chainIndex, imprint: imprint, newAlgorithm: newAlgorithm,
                             newIdentifier: newIdentifier, newTree: newTree, hashTreeRenewal: hashTreeRenewal, anchors: anchors,
                             fetcher: fetcher, pool: pool))
    }

    /// The new archive time-stamp `token` added to the prepared evidence: appended to the last chain
    /// (time-stamp renewal; with `reducedHashtree` when one token renews several archives, RFC 4998
    /// §5.2 with §4.3), or as a new chain with its tree (hash-tree renewal). Returns the new payload.
    func seal(_ prepared: Prepared, token: TimeStampToken, authority: String?, reducedHashtree: [[[UInt8]]]?) throws -> ([UInt8], RenewSummary) {
        var (evidence, summary) = (prepared.evidence, prepared.summary)
        let stamp = ArchiveTimeStamp(digestAlgorithm: prepared.newIdentifier, reducedHashtree: reducedHashtree, timeStamp: token.der)
        if let newTree = prepared.newTree {
            if !evidence.template.digestAlgorithms.contains(where: { $0.algorithm == prepared.newIdentifier.algorithm }) {
                evidence.template.digestAlgorithms.append(prepared.newIdentifier)
            }
            evidence.template.archiveTimeStampSequence.append(ArchiveTimeStampChain([stamp]))
            evidence.trees.append(newTree)
        } else {
            evidence.template.archiveTimeStampSequence[prepared.chainIndex].archiveTimeStamps.append(stamp)
        }
        // The new token's TSA chain, and with --fetch-revocation its revocation data fetched now
        // (afresh: what was fetched before predates the new genTime), for the next renewal.
        let (newMaterial, materialWarnings) = RevocationFetcher.material(forNewToken: token, fetcher: prepared.fetcher, anchors: prepared.anchors,
                                                                         untrusted: prepared.pool.certificates)
        summary.warnings += materialWarnings
        for item in newMaterial where !evidence.material.contains(item) { evidence.material.append(item) }
        let newPayload = try evidence.encoded { Hasher.digest($0, .sha256) }
        summary.renewed = true
        summary.genTime = token.genTime
        summary.authority = authority
        summary.renewBefore = Self.protectedUntil(token, algorithm: prepared.newAlgorithm, anchors: prepared.anchors)
        summary.hashTreeRenewal = prepared.hashTreeRenewal
        return (newPayload, summary)
    }

    /// The evidence must hold before it is extended: a renewal over a broken record would only
    /// time-stamp the break. The first tree must match the members' digests in the index, and the
    /// first data group's record must not fail (INDETERMINATE is fine: the newest token usually
    /// waits for its revocation data, which this renewal brings).
    private func checkExisting(_ evidence: ArchiveEvidence, reader: ArchiveReader, pool: EvidencePool, anchors: TrustAnchors) throws {
        let hashes = GroupHashes(reader: reader)
        let sha256: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        let leaves = try evidence.groups.map { group in HashTree.groupHash(try group.members.map { try hashes.memberHash($0, .sha256) }, hash: sha256) }
        guard let tree = evidence.trees.first, HashTree.Levels(leaves: leaves, hash: sha256) == tree else {
            throw SigVaultError(.integrity, "\(options.archive): not renewed: the archive time-stamp's hash tree does not match the archive's members; run sigvault verify")
        }
        let record = try hashes.record(evidence, group: 0)
        let policy = ValidationPolicy(anchors: anchors, now: options.now, maximumRevocationAge: options.maximumRevocationAge)
        let evaluation = try RecordVerifier.evaluate(record, pool: pool, policy: policy, revocationSource: nil) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            return try evidence.groups[0].members.map { try hashes.memberHash($0, algorithm) }
        }
        if evaluation.verdict.indication == .totalFailed {
            throw SigVaultError(.integrity, "\(options.archive): not renewed: its archive time-stamps do not hold: \(evaluation.verdict.reason); run sigvault verify")
        }
    }

    /// The certificates of `chain` below its anchor whose status at `time` the pool cannot settle.
    static func unsettled(_ chain: [Certificate], at time: Date, pool: EvidencePool, anchors: TrustAnchors) -> [Certificate] {
        guard chain.count > 1 else { return [] }
        let validator = SignatureValidator(pool: pool, policy: ValidationPolicy(anchors: anchors, now: time))
        return (0..<(chain.count - 1)).filter { index in
            switch validator.revocationStatus(of: chain[index], issuer: chain[index + 1], at: time).state {
            case .unknown, .onHold: return true
            case .notRevoked, .revoked: return false
            }
        }.map { chain[$0] }
    }

    /// Until when `token` protects the archive: its TSA chain (as built to the anchors, else its
    /// certificate alone) and its hash algorithm, counted as verify counts them.
    static func protectedUntil(_ token: TimeStampToken, algorithm: HashAlgorithm, anchors: TrustAnchors) -> Date? {
        guard let tsa = token.signerCertificate(extra: []) else { return AlgorithmSunsets.protectedUntil(tsaCertificates: [], algorithm: algorithm) }
        let built = ChainBuilder.build(leaf: tsa, untrusted: token.certificates, anchors: anchors, purpose: .timeStamping,
                                       at: nil, allowPartialChain: false)
        return AlgorithmSunsets.protectedUntil(tsaCertificates: built.ok ? Array(built.chain.dropLast()) : [tsa], algorithm: algorithm)
    }

    /// Copies everything before the evidence section unchanged, then writes the new section and
    /// trailer, into a temporary file renamed over the archive once fsynced.
    private func rewrite(reader: ArchiveReader, trailer: Trailer, evidencePayload: [UInt8]) throws {
        let output = try AtomicOutputFile(destination: options.archive, overwrite: true)
        // The renewed archive keeps the old one's permission bits.
        var info = stat()
        if fstat(reader.fd, &info) == 0 { _ = fchmod(output.fd, info.st_mode & 0o7777) }
        var offset: UInt64 = 0
        while offset < trailer.evidenceOffset {
            let chunk = try reader.read(at: offset, count: Int(min(UInt64(1 << 20), trailer.evidenceOffset - offset)))
            guard !chunk.isEmpty else { throw SigVaultError(.archiveRead, "\(options.archive): the archive ended while being copied") }
            try output.write(chunk)
            offset += UInt64(chunk.count)
        }
        try output.write(ArchiveWriter.tail(trailer, evidence: evidencePayload))
        try output.commit(overwrite: true)
    }
}

extension RenewSummary {
    /// The text report.
    public func lines(archive: String) -> [String] {
        if let notDue { return ["not due: \(notDue); \(archive) left as it is"] }
        guard renewed, let genTime else { return [] }
        var line = "renewed \(archive) (\(hashTreeRenewal ? "hash-tree renewal" : "time-stamp renewal")): archive time-stamp \(ISOTime.format(genTime))"
        if let authority { line += " by \(authority)" }
        var lines = [line]
        if let renewBefore { lines.append("renew before \(ISOTime.format(renewBefore))") }
        return lines
    }
}
