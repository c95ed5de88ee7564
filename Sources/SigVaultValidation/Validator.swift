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

    /// The maximum accepted revocation freshness (ETSI EN 319 102-1 §5.2.5, `--max-revocation-age`):
    /// data speaks for a status at time T when issued after T minus this. Nil: each item's own
    /// nextUpdate − thisUpdate.
    public var maximumRevocationAge: TimeInterval?

    public init(anchors: TrustAnchors, now: Date, allowPartialChain: Bool = false, archiveProofOfExistence: Date? = nil,
                maximumRevocationAge: TimeInterval? = nil) {
        self.anchors = anchors
        self.now = now
        self.allowPartialChain = allowPartialChain
        self.archiveProofOfExistence = archiveProofOfExistence
        self.maximumRevocationAge = maximumRevocationAge
    }

    /// Whether data issued at `issued`, with `nextUpdate`, is fresh for a status at `time`
    /// (§5.2.5): issued at or after `time`, or after `time` minus the maximum freshness, which is
    /// `maximumRevocationAge` when set, else nextUpdate − thisUpdate; with neither, not fresh.
    public func isFresh(issued: Date, nextUpdate: Date?, at time: Date) -> Bool {
        if issued >= time { return true }
        guard let age = maximumRevocationAge ?? nextUpdate.map({ $0.timeIntervalSince(issued) }) else { return false }
        return issued >= time.addingTimeInterval(-age)
    }
}

/// What a certificate's revocation status is at a time, and what decided it.
public struct RevocationStatus: Sendable {
    public enum State: Sendable, Equatable {
        /// Not revoked at the time, shown by data fresh at it (§5.2.5).
        case notRevoked
        /// Revoked on this date (at or before the time asked about).
        case revoked(Date)
        /// Suspended (certificateHold) since this date, at or before the time asked about, and the
        /// latest data still lists the hold: not a revocation (RFC 5280 §5.3.1), but not shown sound.
        case onHold(Date)
        /// No data fresh at the time: cannot tell yet.
        case unknown
    }
    public let state: State
    /// Every authentic item that speaks about the certificate.
    public let evidence: [RevocationEvidence]
    /// A revocation after the time asked about, if the data shows one.
    public let revokedLater: Date?
    /// The item that decided the state (the listing, the latest hold, or the newest fresh item);
    /// for `unknown`, the newest item that speaks about the certificate, if any.
    public let decidedBy: RevocationEvidence?
    /// Data set aside, with the reason (an OCSP responder not shown sound, a CRL out of scope).
    public let setAside: [String]
    /// Until when the data shows the certificate not revoked (the latest end of freshness of an item
    /// that does not list it: its nextUpdate, or thisUpdate plus the maximum age), and that item.
    public let shownUntil: Date?
    public let shownBy: RevocationEvidence?

    public init(state: State, evidence: [RevocationEvidence], revokedLater: Date?, decidedBy: RevocationEvidence? = nil,
                setAside: [String] = [], shownUntil: Date? = nil, shownBy: RevocationEvidence? = nil) {
        self.state = state
        self.evidence = evidence
        self.revokedLater = revokedLater
        self.decidedBy = decidedBy
        self.setAside = setAside
        self.shownUntil = shownUntil
        self.shownBy = shownBy
    }
}

/// One certificate's revocation status at one time, with the data that decided it and where that
/// data came from (the archive or the signature, or outside: `--certs/--crls/--ocsp`, fetched).
public struct CertificateStatus: Sendable {
    public let certificate: Certificate
    public let time: Date
    public let status: RevocationStatus
    /// Whether `status.decidedBy` came from outside the archive.
    public let decidedByExternalData: Bool
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
    /// The TSA chain's statuses at genTime, then at the time the token's protection must reach.
    public var statuses: [CertificateStatus] = []
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
    /// The chain's statuses at the best signature time.
    public var statuses: [CertificateStatus] = []
    /// The signing-time attribute: what the signer claims, not a proof of existence.
    public var claimedSigningTime: Date?
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
        var statuses: [CertificateStatus] = []
        func result(_ failure: SubIndication?, _ reason: String, tsa: Certificate? = nil, chain: [Certificate] = [],
                    evidence: [RevocationEvidence] = []) -> TimeStampValidation {
            var validation = TimeStampValidation(token: token, covered: candidate.covered, origin: candidate.origin, genTime: genTime,
                                                 valid: failure == nil, reason: reason, failure: failure, tsaSubject: tsa?.subject,
                                                 tsaChain: chain, revocationEvidence: evidence)
            validation.statuses = statuses
            return validation
        }
        let untrusted = pool.certificates + token.certificates
        let signature = token.verifySignature(untrusted: untrusted, anchors: policy.anchors, allowPartialChain: policy.allowPartialChain)
        if let failure = signature.failure {
            let subIndication: SubIndication = switch failure {
            case .malformed, .signingCertificateMissing: .formatFailure
            case .signerNotFound, .signingCertificateMismatch: .noSigningCertificateFound
            case .signature: .sigCryptoFailure
            case .keyUsage: .chainConstraintsFailure
            case .chain: .noCertificateChainFound
            }
            return result(subIndication, failure == .keyUsage ? signature.detail : "time-stamp token does not verify: \(signature.detail)",
                          tsa: signature.signer)
        }
        guard let tsa = signature.signer else { return result(.noSigningCertificateFound, "TSA certificate not found") }
        // §5.6.2.1: every candidate path of the TSA is judged; the first that holds wins.
        let paths = ChainBuilder.candidates(leaf: tsa, untrusted: untrusted, anchors: policy.anchors, purpose: .timeStamping,
                                            preferValidAt: genTime, allowPartialChain: policy.allowPartialChain)
        guard paths[0].ok else { return result(.noCertificateChainFound, "TSA chain: \(paths[0].errorText)", tsa: tsa, chain: paths[0].chain) }
        func judge(_ chain: [Certificate]) -> TimeStampValidation {
            let checked = belowAnchor(chain)
            for certificate in checked where !certificate.isValid(at: genTime) {
                return result(.outOfBoundsNoPOE, "TSA chain certificate \(certificate.subject) was not valid at genTime", tsa: tsa, chain: chain)
            }
            for certificate in checked where certificate.notAfter < deadline {
                return result(.outOfBoundsNoPOE,
                              "TSA certificate \(certificate.subject) expired on \(ISOTime.format(certificate.notAfter)) and no later proof of existence covers the token",
                              tsa: tsa, chain: chain)
            }
            // §5.2.8, §5.6.2.3: the imprint, the TSA's signature and its chain's signatures must be
            // before their sunsets at genTime, and stay so until something later proves the token.
            if let limit = Self.tokenLimit(token, tsa: tsa, chain: chain, checkedCount: checked.count) {
                if limit.sunset <= genTime {
                    return result(.cryptoConstraintsFailure,
                                  "\(limit.what) reached its sunset \(ISOTime.format(limit.sunset)) (docs/ALGORITHMS.md) before genTime: the token proves nothing",
                                  tsa: tsa, chain: chain)
                }
                if limit.sunset <= deadline {
                    return result(.cryptoConstraintsFailureNoPOE,
                                  "\(limit.what) reached its sunset \(ISOTime.format(limit.sunset)) (docs/ALGORITHMS.md), and no later proof of existence from before then covers the token",
                                  tsa: tsa, chain: chain)
                }
            }
            let revocation = revocationOfChain(chain, checkedCount: checked.count, at: genTime)
            statuses = self.statuses(revocation, at: genTime)
            let evidence = revocation.evidence
            switch revocation.problem {
            case (_, let certificate, .revoked(let date))?:
                return result(.revokedNoPOE, "TSA chain certificate \(certificate.subject) was revoked on \(ISOTime.format(date)), before genTime",
                              tsa: tsa, chain: chain, evidence: evidence)
            case (let index, let certificate, let state)?:
                let status = revocation.statuses[index].status
                return result(.tryLater, "TSA chain certificate \(certificate.subject): \(Self.unsettled(state, status, at: genTime, what: "genTime"))",
                              tsa: tsa, chain: chain, evidence: evidence)
            case nil:
                if let (certificate, date) = revocation.laterRevocations.first(where: { $0.1 <= deadline }) {
                    return result(.revokedNoPOE, "TSA chain certificate \(certificate.subject) was revoked on \(ISOTime.format(date)) and no later proof of existence covers the token",
                                  tsa: tsa, chain: chain, evidence: evidence)
                }
            }
            // §5.4, §5.6.2.2: the protection must reach the deadline (the later proof of existence that
            // covers the token, else the validation time): the TSA chain shown unrevoked then, by data
            // fresh then. A revocation at or before it voids the token (validation time sliding).
            let reach = revocationOfChain(chain, checkedCount: checked.count, at: deadline)
            statuses += self.statuses(reach, at: deadline)
            let reachEvidence = evidence + reach.evidence
            let what = existenceProvenAt == nil || existenceProvenAt == policy.now ? "the validation time" : "the later proof of existence"
            switch reach.problem {
            case (_, let certificate, .revoked(let date))?:
                return result(.revokedNoPOE,
                              "TSA chain certificate \(certificate.subject) was revoked on \(ISOTime.format(date)), at or before \(what) \(ISOTime.format(deadline)) the token's protection must reach: the token proves nothing",
                              tsa: tsa, chain: chain, evidence: reachEvidence)
            case (let index, let certificate, _)?:
                let status = reach.statuses[index].status
                var text = "TSA chain certificate \(certificate.subject) is not shown unrevoked at \(what) \(ISOTime.format(deadline))"
                if let until = status.shownUntil, let item = status.shownBy {
                    text += ": it is shown only until \(ISOTime.format(until)), by \(Self.describe(item))"
                }
                text += "; give current revocation data for it (--crls, --ocsp) or --fetch-revocation"
                return result(.tryLater, text, tsa: tsa, chain: chain, evidence: reachEvidence)
            case nil:
                break
            }
            return result(nil, "valid time-stamp by \(tsa.subject) at \(ISOTime.format(genTime))", tsa: tsa, chain: chain, evidence: reachEvidence)
        }
        var preferred: TimeStampValidation?
        for path in paths {
            statuses = []
            let judged = judge(path.chain)
            if judged.valid { return judged }
            preferred = preferred ?? judged
        }
        return preferred ?? judge(paths[0].chain)
    }

    /// The earliest sunset among a token's imprint algorithm, its SignerInfo's digest and TSA key,
    /// and its TSA chain's signatures.
    static func tokenLimit(_ token: TimeStampToken, tsa: Certificate, chain: [Certificate], checkedCount: Int) -> AlgorithmSunsets.Limit? {
        var limits: [AlgorithmSunsets.Limit] = []
        if let algorithm = token.imprintAlgorithm, let sunset = AlgorithmSunsets.sunset(of: algorithm) {
            limits.append(.init(what: "the token's \(algorithm.rawValue.uppercased()) message imprint", sunset: sunset))
        }
        if let limit = AlgorithmSunsets.limit(digest: token.signerDigestName, key: tsa.publicKeyFacts) {
            limits.append(.init(what: "\(limit.what) of the TSA's signature", sunset: limit.sunset))
        }
        if let (limit, certificate) = AlgorithmSunsets.limit(chain: chain, checkedCount: checkedCount) {
            limits.append(.init(what: "\(limit.what) of the signature on TSA chain certificate \(certificate.subject)", sunset: limit.sunset))
        }
        return limits.min { $0.sunset < $1.sunset }
    }

    // MARK: Signatures

    /// Validates one SignerInfo whose cryptographic check is `verification`.
    public func validate(signature verification: SignedData.SignerVerification, description: SignedData.SignerDescription?,
                         signedData: SignedData, extraTimeStamps: [TimeStampCandidate]) -> SignatureValidation {
        let signer = verification.signerCertificate
        var timeStamps: [TimeStampValidation] = []
        var chainStatuses: [CertificateStatus] = []
        func finish(_ verdict: Verdict, best: Date? = nil, chain: [Certificate] = [], evidence: [RevocationEvidence] = []) -> SignatureValidation {
            let proofs = timeStamps.filter(\.valid).sorted { $0.genTime < $1.genTime }
            var verdict = verdict
            // A token that waits for revocation data (TRY_LATER) may still prove the signature
            // existed: a verdict that such a proof would change is not final either.
            let changeable: Set<SubIndication> = [.outOfBoundsNoPOE, .revokedNoPOE, .revokedCANoPOE, .cryptoConstraintsFailureNoPOE]
            if proofs.isEmpty, verdict.indication == .indeterminate, let sub = verdict.subIndication, changeable.contains(sub),
               let pending = timeStamps.first(where: { $0.failure == .tryLater }) {
                verdict = Verdict(.indeterminate, .tryLater, "\(verdict.reason); the time-stamp of \(ISOTime.format(pending.genTime)) could prove an earlier existence once its TSA is shown sound: \(pending.reason)")
            }
            var validation = SignatureValidation(signerIndex: verification.index, verdict: verdict, signerCertificate: signer,
                                                 bestSignatureTime: best, proofs: proofs, timeStamps: timeStamps, chain: chain,
                                                 revocationEvidence: evidence, digestAlgorithm: description?.digestAlgorithm)
            validation.statuses = chainStatuses
            validation.claimedSigningTime = description?.claimedSigningTime
            return validation
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
        case .signingCertificateMismatch(let detail):
            return finish(Verdict(.indeterminate, .noSigningCertificateFound, "the signer's certificate is not available: \(detail)"))
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
        // §5.6.2.1: every candidate path is judged (a CA re-issued with the same name and key gives
        // several); the first that passes wins, else the preferred path's verdict stands.
        let paths = ChainBuilder.candidates(leaf: signer, untrusted: untrusted, anchors: policy.anchors, purpose: .any,
                                            preferValidAt: best, allowPartialChain: policy.allowPartialChain)
        let built = paths[0]
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
        func judge(_ chain: [Certificate]) -> SignatureValidation {
            chainStatuses = []
            let checked = belowAnchor(chain)
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
            chainStatuses = statuses(revocation, at: best)
            let evidence = revocation.evidence
            if let (index, certificate, state) = revocation.problem {
                let who = index == 0 ? "the signer's certificate" : "CA certificate \(certificate.subject)"
                if case .revoked(let date) = state {
                    return finish(Verdict(.indeterminate, index == 0 ? .revokedNoPOE : .revokedCANoPOE,
                                          "\(who) was revoked on \(ISOTime.format(date)), at or before the best signature time \(ISOTime.format(best))"),
                                  best: best, chain: chain, evidence: evidence)
                }
                let status = revocation.statuses[index].status
                return finish(Verdict(.indeterminate, .tryLater, "\(who): \(Self.unsettled(state, status, at: best, what: "the best signature time"))"),
                              best: best, chain: chain, evidence: evidence)
            }
            // §5.2.8, §5.6.2.3: the signature's digest and key, and the chain's signatures, count only
            // with a proof of existence from before their sunsets.
            var limits: [AlgorithmSunsets.Limit] = []
            if let limit = AlgorithmSunsets.limit(digest: description?.digestAlgorithm, key: signer.publicKeyFacts) {
                limits.append(.init(what: "\(limit.what) of the signature", sunset: limit.sunset))
            }
            if let (limit, certificate) = AlgorithmSunsets.limit(chain: chain, checkedCount: checked.count) {
                limits.append(.init(what: "\(limit.what) of the signature on \(certificate == signer ? "the signer's certificate" : "CA certificate \(certificate.subject)")",
                                    sunset: limit.sunset))
            }
            if let limit = limits.min(by: { $0.sunset < $1.sunset }), limit.sunset <= best {
                return finish(Verdict(.indeterminate, .cryptoConstraintsFailureNoPOE,
                                      "\(limit.what) reached its sunset \(ISOTime.format(limit.sunset)) (docs/ALGORITHMS.md), and \(proven == nil ? "nothing proves the signature existed before then" : "the earliest proof of existence, \(ISOTime.format(best)), is not before it")"),
                              best: best, chain: chain, evidence: evidence)
            }
            return finish(.passed("signature intact, chain valid and not revoked at \(ISOTime.format(best)); \(provenText)"),
                          best: best, chain: chain, evidence: evidence)
        }
        var preferred: SignatureValidation?
        for path in paths {
            let judged = judge(path.chain)
            if judged.verdict.indication == .totalPassed { return judged }
            preferred = preferred ?? judged
        }
        return preferred ?? judge(built.chain)
    }

    /// The chain's certificates that path validation checks: all but the trust anchor it ends at
    /// (RFC 5280 §6.1: an anchor is trusted, not validated). With `allowPartialChain` (corpora whose
    /// root is missing), every certificate.
    public func belowAnchor(_ chain: [Certificate]) -> [Certificate] {
        if policy.allowPartialChain { return chain }
        guard let last = chain.last, policy.anchors.contains(last) else { return chain }
        return Array(chain.dropLast())
    }

    /// Why a certificate's status at `time` is not settled, in words (TRY_LATER): on hold, or no
    /// data fresh at `time`, naming the newest data there is.
    static func unsettled(_ state: RevocationStatus.State, _ status: RevocationStatus, at time: Date, what: String) -> String {
        var text: String
        switch state {
        case .onHold(let date):
            text = "suspended (certificateHold) since \(ISOTime.format(date)), and the latest data still lists the hold"
            if let item = status.decidedBy { text += " (\(describe(item)))" }
            return text
        default:
            text = "no CRL or OCSP response fresh at \(what) \(ISOTime.format(time)) shows its status"
        }
        if let item = status.decidedBy { text += "; the newest is \(describe(item)), not fresh then" }
        if !status.setAside.isEmpty { text += "; " + status.setAside.joined(separator: "; ") }
        return text
    }

    /// One CRL or OCSP response in words: kind, SHA-256 prefix, issuer, thisUpdate and nextUpdate.
    public static func describe(_ item: RevocationEvidence) -> String {
        switch item {
        case .crl(let crl):
            return "CRL \(crl.sha256Hex.prefix(16)) by \(crl.issuer), thisUpdate \(ISOTime.format(crl.thisUpdate)), nextUpdate \(crl.nextUpdate.map(ISOTime.format) ?? "none")"
        case .ocsp(let response):
            return "OCSP response \(response.sha256Hex.prefix(16)) produced \(ISOTime.format(response.producedAt))"
        }
    }

    // MARK: Revocation

    /// The revocation of a chain's certificates below the anchor (the first `checkedCount`) at `time`.
    public struct ChainRevocation: Sendable {
        public var evidence: [RevocationEvidence] = []
        /// The first certificate revoked at `time`; without one, the first on hold or whose status is
        /// unknown then.
        public var problem: (index: Int, certificate: Certificate, state: RevocationStatus.State)?
        /// Certificates the data shows revoked after `time`.
        public var laterRevocations: [(Certificate, Date)] = []
        /// Each certificate looked at, with its status, leaf first.
        public var statuses: [(certificate: Certificate, status: RevocationStatus)] = []

        var problemIsRevocation: Bool {
            if case .revoked? = problem?.state { return true }
            return false
        }
    }

    /// `revocation`'s statuses at `time`, each marked with where its deciding data came from.
    func statuses(_ revocation: ChainRevocation, at time: Date) -> [CertificateStatus] {
        revocation.statuses.map {
            CertificateStatus(certificate: $0.certificate, time: time, status: $0.status,
                              decidedByExternalData: $0.status.decidedBy.map(pool.isExternal) ?? false)
        }
    }

    public func revocationOfChain(_ chain: [Certificate], checkedCount: Int, at time: Date) -> ChainRevocation {
        var result = ChainRevocation()
        for index in 0..<max(0, min(checkedCount, chain.count - 1)) {
            let certificate = chain[index]
            let status = revocationStatus(of: certificate, issuer: chain[index + 1], at: time)
            result.evidence += status.evidence
            result.statuses.append((certificate, status))
            if let later = status.revokedLater { result.laterRevocations.append((certificate, later)) }
            // A revocation anywhere in the chain decides (the path is void), so the whole chain is
            // looked at: an unknown status below a revoked CA is not the problem to report.
            if case .revoked = status.state {
                if !result.problemIsRevocation {
                    result.problem = (index, certificate, status.state)
                }
            } else if status.state != .notRevoked, result.problem == nil {
                result.problem = (index, certificate, status.state)
            }
        }
        return result
    }

    /// Decides `certificate`'s status at `time` from the pool (ETSI EN 319 102-1 §5.2.5 and §5.2.6,
    /// RFC 5280 §5.3.1, RFC 6960):
    /// - revoked if any authentic CRL or OCSP response says it was revoked, for a reason other than
    ///   certificateHold, at or before `time`;
    /// - on hold if the latest authentic data lists a certificateHold from at or before `time` (a
    ///   hold that newer data no longer lists was lifted);
    /// - not revoked if authentic data fresh at `time` (`ValidationPolicy.isFresh`) does not list it
    ///   at `time`;
    /// - unknown otherwise.
    ///
    /// Data issued after the certificate expired proves nothing by its silence (RFC 5280 §3.3 lets a
    /// CA drop expired certificates), unless a CRL's ExpiredCertsOnCRL or an OCSP response's
    /// archiveCutoff says it keeps them. An OCSP answer counts only when its responder is the CA,
    /// or a delegated responder valid at producedAt and either carrying id-pkix-ocsp-nocheck or shown
    /// unrevoked then (RFC 6960 §4.2.2.2). When the pool cannot tell, the revocation source (if
    /// any) is asked, and the status decided again.
    public func revocationStatus(of certificate: Certificate, issuer: Certificate, at time: Date) -> RevocationStatus {
        let status = statusFromPool(of: certificate, issuer: issuer, at: time)
        guard status.state == .unknown, let revocationSource else { return status }
        let fetched = revocationSource.revocationData(for: certificate, issuer: issuer, untrusted: pool.certificates, at: time) { candidates in
            statusFromPool(of: certificate, issuer: issuer, at: time, extra: candidates).state != .unknown
        }
        guard !fetched.isEmpty else { return status }
        fetched.forEach(pool.addExternal)
        return statusFromPool(of: certificate, issuer: issuer, at: time)
    }

    /// What one authentic CRL or OCSP answer says about a certificate.
    private struct Statement {
        let item: RevocationEvidence
        let issued: Date
        let nextUpdate: Date?
        /// The revocation it lists, if any.
        let listing: (date: Date, reason: RevocationReason?)?
        /// Whether its silence (or "good") speaks for the certificate (RFC 5280 §3.3).
        let speaks: Bool

        var isHold: Bool { listing?.reason == .certificateHold }
    }

    /// The status from the pool's data, and `extra` data not (yet) in it. `depth` counts the OCSP
    /// responder checks this call is part of.
    private func statusFromPool(of certificate: Certificate, issuer: Certificate, at time: Date, extra: [RevocationEvidence] = [],
                                depth: Int = 0) -> RevocationStatus {
        var statements: [Statement] = []
        var setAside: [String] = []
        // Data that shows the OCSP responders used sound: archived with the answers it supports.
        var supporting: [RevocationEvidence] = []
        var crls = pool.revocationLists, responses = pool.ocspResponses
        for item in extra {
            switch item {
            case .crl(let crl): crls.append(crl)
            case .ocsp(let response): responses.append(response)
            }
        }
        for crl in crls where crl.isIssued(by: issuer) {
            guard !crl.hasUnhandledCriticalExtension, issuer.mayIssueCRLs, crl.signatureVerifies(with: issuer) else { continue }
            if let limit = AlgorithmSunsets.limit(digest: crl.signatureDigestName, key: issuer.publicKeyFacts), limit.sunset <= crl.thisUpdate {
                setAside.append("\(Self.describe(.crl(crl))) set aside: signed with \(limit.what) after its sunset \(ISOTime.format(limit.sunset))")
                continue
            }
            let form = Self.crlForm(crl, for: certificate)
            if let outOfScope = form.outOfScope {
                setAside.append("\(Self.describe(.crl(crl))) set aside: \(outOfScope)")
                continue
            }
            if let partial = form.partial { setAside.append("\(Self.describe(.crl(crl))): \(partial)") }
            let entry = crl.entry(of: certificate)
            let keepsExpired = crl.expiredCertificatesOnCRL.map { $0 <= certificate.notAfter } ?? false
            statements.append(Statement(item: .crl(crl), issued: crl.thisUpdate, nextUpdate: crl.nextUpdate,
                                        listing: entry.map { ($0.date, $0.reason) },
                                        speaks: form.partial == nil && (crl.thisUpdate <= certificate.notAfter || keepsExpired)))
        }
        for response in responses {
            guard let single = response.status(of: certificate, issuer: issuer) else { continue }
            guard response.verifySignature(issuer: issuer, untrusted: pool.certificates, anchors: policy.anchors,
                                           allowPartialChain: policy.allowPartialChain).ok else { continue }
            let signer = response.signerCertificate(among: pool.certificates + [issuer])
            if let limit = AlgorithmSunsets.limit(digest: response.signatureDigestName, key: signer?.publicKeyFacts),
               limit.sunset <= response.producedAt {
                setAside.append("OCSP response \(response.sha256Hex.prefix(16)) set aside: signed with \(limit.what) after its sunset \(ISOTime.format(limit.sunset))")
                continue
            }
            let responder = responderCheck(response, issuer: issuer, depth: depth)
            if let problem = responder.problem {
                setAside.append("OCSP response \(response.sha256Hex.prefix(16)) set aside: \(problem)")
                continue
            }
            supporting += responder.evidence
            let keepsExpired = response.archiveCutoff.map { $0 <= certificate.notAfter } ?? false
            switch single.status {
            case .revoked:
                statements.append(Statement(item: .ocsp(response), issued: single.thisUpdate, nextUpdate: single.nextUpdate,
                                            listing: (single.revocationTime ?? single.thisUpdate, single.revocationReason), speaks: true))
            case .good:
                statements.append(Statement(item: .ocsp(response), issued: single.thisUpdate, nextUpdate: single.nextUpdate,
                                            listing: nil, speaks: single.thisUpdate <= certificate.notAfter || keepsExpired))
            case .unknown:
                continue
            }
        }
        let speaking = statements.filter { $0.speaks || $0.listing != nil }
        let evidence = speaking.map(\.item) + supporting
        let revocations = speaking.compactMap { statement in statement.isHold ? nil : statement.listing.map { ($0.date, statement) } }
        let revokedLater = revocations.map(\.0).filter { $0 > time }.min()
        if let (date, statement) = revocations.filter({ $0.0 <= time }).min(by: { $0.0 < $1.0 }) {
            return RevocationStatus(state: .revoked(date), evidence: evidence, revokedLater: revokedLater, decidedBy: statement.item,
                                    setAside: setAside)
        }
        // The latest data decides a hold; on a tie, the item that lists it.
        let latest = speaking.max { ($0.issued, $0.listing == nil ? 0 : 1) < ($1.issued, $1.listing == nil ? 0 : 1) }
        if let latest, latest.isHold, let listing = latest.listing, listing.date <= time {
            return RevocationStatus(state: .onHold(listing.date), evidence: evidence, revokedLater: revokedLater, decidedBy: latest.item,
                                    setAside: setAside)
        }
        let fresh = speaking.filter { statement in
            statement.speaks && (statement.listing.map { $0.date > time } ?? true)
                && policy.isFresh(issued: statement.issued, nextUpdate: statement.nextUpdate, at: time)
        }
        if let newest = fresh.max(by: { $0.issued < $1.issued }) {
            return RevocationStatus(state: .notRevoked, evidence: evidence, revokedLater: revokedLater, decidedBy: newest.item,
                                    setAside: setAside)
        }
        // Until when the data does show it: the latest end of freshness among the items that speak
        // for it and do not list it.
        let ends = speaking.filter { $0.speaks && $0.listing == nil }.compactMap { statement -> (Date, RevocationEvidence)? in
            guard let end = policy.maximumRevocationAge.map({ statement.issued.addingTimeInterval($0) }) ?? statement.nextUpdate else { return nil }
            return (end, statement.item)
        }
        let shown = ends.max { $0.0 < $1.0 }
        return RevocationStatus(state: .unknown, evidence: evidence, revokedLater: revokedLater, decidedBy: latest?.item, setAside: setAside,
                                shownUntil: shown?.0, shownBy: shown?.1)
    }

    /// Whether a CRL covers `certificate` (RFC 5280 §5.2.5, §6.3.3 (b)): out of scope (ignored) when
    /// its issuingDistributionPoint is for user certificates only and the certificate is a CA, for
    /// CA certificates only and it is not, for attribute certificates only, or names a distribution
    /// point that none of the certificate's cRLDistributionPoints URIs is; partial (its entries
    /// count as revocations, its silence proves nothing) when it is a delta CRL, an indirect CRL or
    /// covers only some reasons, forms SigVault does not combine into a complete status.
    static func crlForm(_ crl: RevocationList, for certificate: Certificate) -> (outOfScope: String?, partial: String?) {
        let scope: RevocationList.Scope?
        do { scope = try crl.scope() } catch { return ("its issuingDistributionPoint does not decode", nil) }
        if let scope {
            if scope.onlyUserCertificates && certificate.isCertificateAuthority { return ("it covers only end-entity certificates (onlyContainsUserCerts)", nil) }
            if scope.onlyCACertificates && !certificate.isCertificateAuthority { return ("it covers only CA certificates (onlyContainsCACerts)", nil) }
            if scope.onlyAttributeCertificates { return ("it covers only attribute certificates (onlyContainsAttributeCerts)", nil) }
            if scope.namesDistributionPoint {
                let points = Set(certificate.crlDistributionURLs)
                if points.isDisjoint(with: scope.distributionPointURIs) {
                    return ("it is for the distribution point \(scope.distributionPointURIs.first ?? "named by a relative name"), which the certificate does not name", nil)
                }
            }
        }
        if crl.isDelta { return (nil, "a delta CRL, not supported for showing a status (its revocations count)") }
        if scope?.indirect == true { return (nil, "an indirect CRL, not supported for showing a status (its revocations count)") }
        if scope?.onlySomeReasons == true { return (nil, "it covers only some reasons (onlySomeReasons), so its silence is not a status (its revocations count)") }
        return (nil, nil)
    }

    /// Why an OCSP response's answers about `issuer`'s certificates must not be used, or no problem
    /// when its signer may give them: the CA itself, or a delegated responder (id-kp-OCSPSigning,
    /// issued by the CA, valid at producedAt, which `OCSPResponse.verifySignature` checked) that
    /// carries id-pkix-ocsp-nocheck or is shown unrevoked at producedAt by other data (RFC 6960
    /// §4.2.2.2); with the data that showed it.
    private func responderCheck(_ response: OCSPResponse, issuer: Certificate, depth: Int) -> (problem: String?, evidence: [RevocationEvidence]) {
        guard let responder = response.signerCertificate(among: pool.certificates + [issuer]) else {
            return ("its signer's certificate is not available", [])
        }
        // The CA itself, in whichever of its certificates (same name and key) the responder ID matched.
        if responder.isSameEntity(as: issuer) || responder.hasOCSPNoCheck { return (nil, []) }
        let who = "its responder \(responder.subject) (serial \(responder.serialHex))"
        // One level: the responder's own status must come from its CA's CRL or its CA's own answers.
        guard depth == 0 else { return ("\(who) has no id-pkix-ocsp-nocheck, and its status cannot be checked at this depth", []) }
        let status = statusFromPool(of: responder, issuer: issuer, at: response.producedAt, depth: depth + 1)
        let producedAt = ISOTime.format(response.producedAt)
        switch status.state {
        case .notRevoked: return (nil, status.evidence)
        case .revoked(let date): return ("\(who) was revoked on \(ISOTime.format(date)), at or before the response's producedAt \(producedAt)", [])
        case .onHold(let date): return ("\(who) was on hold since \(ISOTime.format(date)) at the response's producedAt", [])
        case .unknown: return ("\(who) has no id-pkix-ocsp-nocheck and no data fresh at producedAt \(producedAt) shows it unrevoked", [])
        }
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

