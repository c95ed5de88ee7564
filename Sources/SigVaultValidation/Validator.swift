import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Validation settings: who is trusted and what "now" is.
public struct ValidationPolicy: Sendable {
    public var anchors: TrustAnchors
    /// The verifier's "now" (`--at`).
    public var now: Date
    /// Accept a chain that ends at a trusted intermediate (for corpora whose root is missing).
    public var allowPartialChain: Bool
    /// When a valid archive time-stamp (RFC 4998) covers what is validated: the time it proves
    /// everything under it existed. It is the best signature time of a signature without a valid
    /// token of its own, and tokens need to have stayed valid only until then (ETSI EN 319 102-1 §5.6).
    public var archiveProofOfExistence: Date?

    public init(anchors: TrustAnchors, now: Date, allowPartialChain: Bool = false, archiveProofOfExistence: Date? = nil) {
        self.anchors = anchors
        self.now = now
        self.allowPartialChain = allowPartialChain
        self.archiveProofOfExistence = archiveProofOfExistence
    }
}

/// What a certificate's revocation status is at a time, and what decided it.
public struct RevocationStatus: Sendable {
    public enum State: Sendable, Equatable {
        /// Not revoked at the time, proven by data issued at or after it.
        case notRevoked
        /// Revoked on this date (at or before the time asked about).
        case revoked(Date)
        /// No data issued at or after the time: cannot tell yet.
        case unknown
    }
    public let state: State
    public let evidence: [RevocationEvidence]
    /// A revocation after the time asked about, if the data shows one.
    public let revokedLater: Date?
}

/// The validation of one RFC 3161 token.
public struct TimeStampValidation: Sendable {
    public let token: TimeStampToken
    public let covered: TimeStampCandidate.Covered
    /// A file name, or nil for a token embedded as a CAdES signature time-stamp.
    public let origin: String?
    public let genTime: Date
    public let valid: Bool
    public let reason: String
    /// Why the token gives no proof, as an ETSI sub-indication (nil when valid).
    public let failure: SubIndication?
    public let tsaSubject: String?
    public let tsaChain: [Certificate]
    public let revocationEvidence: [RevocationEvidence]
}

/// The validation of one SignerInfo.
public struct SignatureValidation: Sendable {
    public let signerIndex: Int
    public let verdict: Verdict
    public let signerCertificate: Certificate?
    public let bestSignatureTime: Date?
    /// Valid tokens over the signature that set `bestSignatureTime` (earliest first).
    public let proofs: [TimeStampValidation]
    /// Every token looked at, valid or not.
    public let timeStamps: [TimeStampValidation]
    public let chain: [Certificate]
    public let revocationEvidence: [RevocationEvidence]
    public let digestAlgorithm: String?
}

/// A token together with what its imprint must cover.
public struct TimeStampCandidate: Sendable {
    public enum Covered: String, Sendable {
        case signatureValue = "signature-value", signatureFile = "signature-file", document
        /// The root of an RFC 4998 hash tree (an archive time-stamp; the tree is checked elsewhere).
        case hashTreeRoot = "hash-tree-root"
    }
    public let token: TimeStampToken
    public let covered: Covered
    /// The bytes or file the imprint must match.
    public let data: SignedContent
    /// Where the token came from, for reports: a file name, or nil for a CAdES attribute.
    public let origin: String?

    public init(token: TimeStampToken, covered: Covered, data: SignedContent, origin: String? = nil) {
        self.token = token
        self.covered = covered
        self.data = data
        self.origin = origin
    }
}

/// Where revocation data the pool lacks can be fetched from (`--fetch-revocation`): the OCSP
/// responders and CRL distribution points a certificate names. Implementations validate what they
/// fetch (signature, responder authorisation, freshness) and cache it within a run.
public protocol RevocationSource: Sendable {
    /// Data about `certificate` (issued by `issuer`) fetched now, for its status at `time`; the
    /// source goes on to its next URL while `decides` says what it has cannot decide that status.
    /// Empty when nothing could be had. `decides` may run while the source holds its own lock: it
    /// must not call back into the source.
    func revocationData(for certificate: Certificate, issuer: Certificate, untrusted: [Certificate], at time: Date,
                        decides: ([RevocationEvidence]) -> Bool) -> [RevocationEvidence]
}

/// ETSI EN 319 102-1 validation with past certificate validation: signatures are judged at the best
/// signature time that valid time-stamps prove, revocation decided from stored CRLs and OCSP responses.
public struct SignatureValidator: Sendable {
    public let pool: EvidencePool
    public let policy: ValidationPolicy
    /// Asked for data when the pool has none that decides a certificate's status; what it returns
    /// joins the pool.
    public let revocationSource: (any RevocationSource)?

    public init(pool: EvidencePool, policy: ValidationPolicy, revocationSource: (any RevocationSource)? = nil) {
        self.pool = pool
        self.policy = policy
        self.revocationSource = revocationSource
    }

    // MARK: Time-stamps

    /// Validates a token over `candidate.data`. The token must be valid at genTime and still at
    /// `existenceProvenAt` (default: the policy's now): a TSA certificate that expired, or was
    /// revoked, before then makes the token give no proof, unless something (a later archive
    /// time-stamp) proves that the token existed at an earlier `existenceProvenAt`.
    public func validate(_ candidate: TimeStampCandidate, existenceProvenAt: Date? = nil) -> TimeStampValidation {
        let token = candidate.token
        guard let algorithm = token.imprintAlgorithm else {
            return failed(candidate, .cryptoConstraintsFailure, "unsupported message-imprint algorithm \(token.imprintAlgorithmName)")
        }
        guard let digest = try? Self.digest(candidate.data, algorithm) else {
            return failed(candidate, .signedDataNotFound, "the time-stamped data cannot be read")
        }
        guard digest == token.imprint else {
            return failed(candidate, .hashFailure, "message imprint does not match the \(candidate.covered.rawValue)")
        }
        return validateSignatureAndChain(candidate, existenceProvenAt: existenceProvenAt)
    }

    /// Validates an archive time-stamp's token whose imprint was already matched against the root
    /// of its hash tree (EvidenceRecords.RecordCoverage).
    public func validate(archiveTimeStamp token: TimeStampToken, origin: String?, existenceProvenAt: Date?) -> TimeStampValidation {
        validateSignatureAndChain(TimeStampCandidate(token: token, covered: .hashTreeRoot, data: .bytes([]), origin: origin),
                                  existenceProvenAt: existenceProvenAt)
    }

    private func failed(_ candidate: TimeStampCandidate, _ failure: SubIndication, _ reason: String) -> TimeStampValidation {
        TimeStampValidation(token: candidate.token, covered: candidate.covered, origin: candidate.origin, genTime: candidate.token.genTime,
                            valid: false, reason: reason, failure: failure, tsaSubject: nil, tsaChain: [], revocationEvidence: [])
    }

    private func validateSignatureAndChain(_ candidate: TimeStampCandidate, existenceProvenAt: Date?) -> TimeStampValidation {
        let token = candidate.token
        let genTime = token.genTime
        let deadline = existenceProvenAt ?? policy.now
        func result(_ failure: SubIndication?, _ reason: String, tsa: Certificate? = nil, chain: [Certificate] = [],
                    evidence: [RevocationEvidence] = []) -> TimeStampValidation {
            TimeStampValidation(token: token, covered: candidate.covered, origin: candidate.origin, genTime: genTime, valid: failure == nil,
                                reason: reason, failure: failure, tsaSubject: tsa?.subject, tsaChain: chain, revocationEvidence: evidence)
        }
        let untrusted = pool.certificates + token.certificates
        let tsa = token.signerCertificate(extra: pool.certificates)
        let signature = token.verifySignature(untrusted: untrusted, anchors: policy.anchors, allowPartialChain: policy.allowPartialChain)
        guard signature.ok else {
            if let tsa, !tsa.hasCriticalTimeStampingUsage {
                return result(.chainConstraintsFailure, "TSA certificate lacks a critical timeStamping extended key usage", tsa: tsa)
            }
            // OpenSSL checks the signature and the chain in one call: tell the two apart by its words.
            let chainProblem = ["certificate verify error", "unable to get", "TSA chain", "self-signed certificate", "certificate chain"]
                .contains { signature.detail.contains($0) }
            return result(chainProblem ? .noCertificateChainFound : .sigCryptoFailure, "time-stamp token does not verify: \(signature.detail)", tsa: tsa)
        }
        guard let tsa else { return result(.noSigningCertificateFound, "TSA certificate not found") }
        let built = ChainBuilder.build(leaf: tsa, untrusted: untrusted, anchors: policy.anchors, purpose: .timeStamping,
                                       at: nil, allowPartialChain: policy.allowPartialChain)
        guard built.ok else { return result(.noCertificateChainFound, "TSA chain: \(built.errorText)", tsa: tsa, chain: built.chain) }
        let chain = built.chain
        let checked = policy.allowPartialChain ? chain : Array(chain.dropLast())
        for certificate in checked where !certificate.isValid(at: genTime) {
            return result(.outOfBoundsNoPOE, "TSA chain certificate \(certificate.subject) was not valid at genTime", tsa: tsa, chain: chain)
        }
        for certificate in checked where certificate.notAfter < deadline {
            return result(.outOfBoundsNoPOE,
                          "TSA certificate \(certificate.subject) expired on \(ISOTime.format(certificate.notAfter)) and no later proof of existence covers the token",
                          tsa: tsa, chain: chain)
        }
        let revocation = revocationOfChain(chain, checkedCount: checked.count, at: genTime)
        let evidence = revocation.evidence
        switch revocation.problem {
        case (_, let certificate, .revoked(let date))?:
            return result(.revokedNoPOE, "TSA chain certificate \(certificate.subject) was revoked on \(ISOTime.format(date)), before genTime",
                          tsa: tsa, chain: chain, evidence: evidence)
        case (_, let certificate, _)?:
            return result(.tryLater, "no revocation data for TSA chain certificate \(certificate.subject) issued at or after genTime",
                          tsa: tsa, chain: chain, evidence: evidence)
        case nil:
            if let (certificate, date) = revocation.laterRevocations.first(where: { $0.1 <= deadline }) {
                return result(.revokedNoPOE, "TSA chain certificate \(certificate.subject) was revoked on \(ISOTime.format(date)) and no later proof of existence covers the token",
                              tsa: tsa, chain: chain, evidence: evidence)
            }
        }
        return result(nil, "valid time-stamp by \(tsa.subject) at \(ISOTime.format(genTime))", tsa: tsa, chain: chain, evidence: evidence)
    }

    // MARK: Signatures

    /// Validates one SignerInfo whose cryptographic check is `verification`.
    public func validate(signature verification: SignedData.SignerVerification, description: SignedData.SignerDescription?,
                         signedData: SignedData, extraTimeStamps: [TimeStampCandidate]) -> SignatureValidation {
        let signer = verification.signerCertificate
        var timeStamps: [TimeStampValidation] = []
        func finish(_ verdict: Verdict, best: Date? = nil, chain: [Certificate] = [], evidence: [RevocationEvidence] = []) -> SignatureValidation {
            let proofs = timeStamps.filter(\.valid).sorted { $0.genTime < $1.genTime }
            return SignatureValidation(signerIndex: verification.index, verdict: verdict, signerCertificate: signer,
                                       bestSignatureTime: best, proofs: proofs, timeStamps: timeStamps, chain: chain,
                                       revocationEvidence: evidence, digestAlgorithm: description?.digestAlgorithm)
        }
        // Tokens are looked at even when the signature fails, so the report can list them.
        var candidates = extraTimeStamps
        if let description {
            for der in description.signatureTimeStampTokens {
                if let token = try? TimeStampToken(responseOrToken: der) {
                    candidates.append(TimeStampCandidate(token: token, covered: .signatureValue, data: .bytes(description.signatureValue)))
                }
            }
        }
        timeStamps = candidates.map { validate($0, existenceProvenAt: policy.archiveProofOfExistence) }

        switch verification.outcome {
        case .intact: break
        case .digestMismatch(let detail):
            return finish(Verdict(.totalFailed, .hashFailure, "the signed content does not match the message digest (\(detail))"))
        case .signatureInvalid(let detail):
            return finish(Verdict(.totalFailed, .sigCryptoFailure, "the signature value does not verify (\(detail))"))
        case .malformedAttributes(let detail):
            return finish(Verdict(.totalFailed, .formatFailure, "malformed signed attributes (\(detail))"))
        case .signerCertificateNotFound:
            return finish(Verdict(.indeterminate, .noSigningCertificateFound, "the signer's certificate is not in the signature or the evidence"))
        case .contentUnavailable(let detail):
            return finish(Verdict(.indeterminate, .signedDataNotFound, "the signed content is not available (\(detail))"))
        case .unsupportedKeyOrAlgorithm(let detail):
            return finish(Verdict(.indeterminate, .cryptoConstraintsFailure,
                                  "the signer's key or signature algorithm cannot be processed, so the signature was not checked (\(detail))"))
        }
        guard let signer else {
            return finish(Verdict(.indeterminate, .noSigningCertificateFound, "the signer's certificate is not available"))
        }

        let proven = timeStamps.filter(\.valid).map(\.genTime).min() ?? policy.archiveProofOfExistence
        let best = proven ?? policy.now
        let byArchive = proven != nil && proven == policy.archiveProofOfExistence && !timeStamps.contains { $0.valid && $0.genTime == proven }
        let untrusted = pool.certificates + signedData.certificates
        let built = ChainBuilder.build(leaf: signer, untrusted: untrusted, anchors: policy.anchors, purpose: .any, at: nil,
                                       allowPartialChain: policy.allowPartialChain)
        guard built.ok else {
            switch built.failure {
            case .noTrustedPath?:
                return finish(Verdict(.indeterminate, .noCertificateChainFound, "no chain to a trust anchor: \(built.errorText)"), best: best, chain: built.chain)
            case .signatureFailure?:
                return finish(Verdict(.indeterminate, .certificateChainGeneralFailure, "a certificate signature in the chain does not verify: \(built.errorText)"), best: best, chain: built.chain)
            default:
                return finish(Verdict(.indeterminate, .chainConstraintsFailure, "the chain fails a constraint: \(built.errorText)"), best: best, chain: built.chain)
            }
        }
        let chain = built.chain
        let checked = policy.allowPartialChain ? chain : Array(chain.dropLast())
        let provenText = proven.map { byArchive ? "proven by the archive time-stamp at \(ISOTime.format($0))" : "proven by time-stamp at \(ISOTime.format($0))" }
            ?? "no valid time-stamp proves when the signature existed, so it is judged at \(ISOTime.format(best))"
        if best < signer.notBefore {
            return finish(Verdict(.totalFailed, .notYetValid, "the signer's certificate was not yet valid at \(ISOTime.format(best))"), best: best, chain: chain)
        }
        for certificate in checked where !certificate.isValid(at: best) {
            let who = certificate == signer ? "the signer's certificate" : "CA certificate \(certificate.subject)"
            return finish(Verdict(.indeterminate, .outOfBoundsNoPOE,
                                  "\(who) is valid \(ISOTime.format(certificate.notBefore)) to \(ISOTime.format(certificate.notAfter)), and \(provenText)"),
                          best: best, chain: chain)
        }
        let revocation = revocationOfChain(chain, checkedCount: checked.count, at: best)
        let evidence = revocation.evidence
        if let (index, certificate, state) = revocation.problem {
            let who = index == 0 ? "the signer's certificate" : "CA certificate \(certificate.subject)"
            if case .revoked(let date) = state {
                return finish(Verdict(.indeterminate, index == 0 ? .revokedNoPOE : .revokedCANoPOE,
                                      "\(who) was revoked on \(ISOTime.format(date)), at or before the best signature time \(ISOTime.format(best))"),
                              best: best, chain: chain, evidence: evidence)
            }
            return finish(Verdict(.indeterminate, .tryLater, "no CRL or OCSP response for \(who) issued at or after \(ISOTime.format(best))"),
                          best: best, chain: chain, evidence: evidence)
        }
        return finish(.passed("signature intact, chain valid and not revoked at \(ISOTime.format(best)); \(provenText)"),
                      best: best, chain: chain, evidence: evidence)
    }

    // MARK: Revocation

    /// The revocation of a chain's certificates below the anchor (the first `checkedCount`) at `time`.
    public struct ChainRevocation: Sendable {
        public var evidence: [RevocationEvidence] = []
        /// The first certificate revoked at `time` or whose status is unknown.
        public var problem: (index: Int, certificate: Certificate, state: RevocationStatus.State)?
        /// Certificates the data shows revoked after `time`.
        public var laterRevocations: [(Certificate, Date)] = []
    }

    public func revocationOfChain(_ chain: [Certificate], checkedCount: Int, at time: Date) -> ChainRevocation {
        var result = ChainRevocation()
        for index in 0..<min(checkedCount, chain.count - 1) {
            let certificate = chain[index]
            let status = revocationStatus(of: certificate, issuer: chain[index + 1], at: time)
            result.evidence += status.evidence
            if let later = status.revokedLater { result.laterRevocations.append((certificate, later)) }
            if status.state != .notRevoked {
                result.problem = (index, certificate, status.state)
                break
            }
        }
        return result
    }

    /// Decides `certificate`'s status at `time` from the pool: revoked if any authentic CRL or OCSP
    /// response says it was revoked at or before `time`; not revoked if authentic data issued at or
    /// after `time`, and no later than the certificate's expiry, does not list it (or lists a later
    /// revocation); unknown otherwise. Data issued after the certificate expired proves nothing by
    /// its silence (RFC 5280 §3.3 lets a CA drop expired certificates), unless a CRL's
    /// ExpiredCertsOnCRL or an OCSP response's archiveCutoff says it keeps them. When the pool
    /// cannot tell, the revocation source (if any) is asked, and the status decided again.
    public func revocationStatus(of certificate: Certificate, issuer: Certificate, at time: Date) -> RevocationStatus {
        let status = statusFromPool(of: certificate, issuer: issuer, at: time)
        guard status.state == .unknown, let revocationSource else { return status }
        let fetched = revocationSource.revocationData(for: certificate, issuer: issuer, untrusted: pool.certificates, at: time) { candidates in
            statusFromPool(of: certificate, issuer: issuer, at: time, extra: candidates).state != .unknown
        }
        guard !fetched.isEmpty else { return status }
        fetched.forEach(pool.add)
        return statusFromPool(of: certificate, issuer: issuer, at: time)
    }

    /// The status from the pool's data, and `extra` data not (yet) in it.
    private func statusFromPool(of certificate: Certificate, issuer: Certificate, at time: Date, extra: [RevocationEvidence] = []) -> RevocationStatus {
        var revokedAt: Date?
        var revokedLater: Date?
        var fresh = false
        var evidence: [RevocationEvidence] = []
        var crls = pool.revocationLists, responses = pool.ocspResponses
        for item in extra {
            switch item {
            case .crl(let crl): crls.append(crl)
            case .ocsp(let response): responses.append(response)
            }
        }
        for crl in crls where crl.isIssued(by: issuer) {
            guard !crl.hasUnhandledCriticalExtension, issuer.mayIssueCRLs, crl.signatureVerifies(with: issuer) else { continue }
            var used = false
            if let date = crl.revocationDate(of: certificate) {
                if date <= time { revokedAt = min(revokedAt ?? date, date) } else { revokedLater = min(revokedLater ?? date, date) }
                used = true
            }
            let keepsExpired = crl.expiredCertificatesOnCRL.map { $0 <= certificate.notAfter } ?? false
            if crl.thisUpdate >= time && (crl.thisUpdate <= certificate.notAfter || keepsExpired) { fresh = true; used = true }
            if used { evidence.append(.crl(crl)) }
        }
        for response in responses {
            guard let single = response.status(of: certificate, issuer: issuer) else { continue }
            guard response.verifySignature(issuer: issuer, untrusted: pool.certificates, anchors: policy.anchors,
                                           allowPartialChain: policy.allowPartialChain).ok else { continue }
            switch single.status {
            case .revoked:
                let date = single.revocationTime ?? single.thisUpdate
                if date <= time { revokedAt = min(revokedAt ?? date, date) } else { revokedLater = min(revokedLater ?? date, date) }
                // Revoked only after `time`, by an answer issued at or after it: not revoked at
                // `time`, as a CRL listing a later revocation says.
                if date > time && single.thisUpdate >= time { fresh = true }
                evidence.append(.ocsp(response))
            case .good:
                let keepsExpired = response.archiveCutoff.map { $0 <= certificate.notAfter } ?? false
                if single.thisUpdate >= time && (single.thisUpdate <= certificate.notAfter || keepsExpired) {
                    fresh = true
                    evidence.append(.ocsp(response))
                }
            case .unknown:
                continue
            }
        }
        if let revokedAt { return RevocationStatus(state: .revoked(revokedAt), evidence: evidence, revokedLater: revokedLater) }
        return RevocationStatus(state: fresh ? .notRevoked : .unknown, evidence: evidence, revokedLater: revokedLater)
    }

    public static func digest(_ data: SignedContent, _ algorithm: HashAlgorithm) throws -> [UInt8] {
        switch data {
        case .bytes(let bytes): return Hasher.digest(bytes, algorithm)
        case .embedded: throw CryptoError(.unsupported, "no data")
        case .file, .rawPath:
            let path: [UInt8]
            if case .file(let text) = data { path = Array(text.utf8) } else if case .rawPath(let raw) = data { path = raw } else { path = [] }
            let fd = (path + [0]).withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { open($0, O_RDONLY | O_CLOEXEC) }
            }
            guard fd >= 0 else { throw CryptoError(.io, "\(String(decoding: path, as: UTF8.self)): cannot open") }
            defer { close(fd) }
            let hasher = Hasher(algorithm)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if got < 0 && errno == EINTR { continue }
                guard got >= 0 else { throw CryptoError(.io, "\(String(decoding: path, as: UTF8.self)): read failed") }
                if got == 0 { break }
                buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            }
            return hasher.finalize()
        }
    }
}

