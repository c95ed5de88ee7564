import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// How `--fetch-revocation` talks to OCSP responders and CRL distribution points.
public struct FetchSettings: Sendable {
    /// The time limit of one HTTP exchange.
    public var timeout: TimeInterval = 10
    /// Attempts per URL when an exchange fails in a way that may pass (no connection, time-out,
    /// HTTP 5xx); a URL that still fails is not asked again within the run.
    public var attempts = 2
    /// The pause before the second attempt (doubled before each further one).
    public var retryPause: TimeInterval = 0.5

    public init() {}
}

/// Fetches revocation data for certificates the pool cannot decide (RFC 5280, RFC 6960): OCSP by
/// POST to each authorityInfoAccess responder URL, else the CRL from each cRLDistributionPoints
/// URL by GET. What comes back is kept only if it verifies: the OCSP response speaks about the
/// certificate, echoes the nonce when it carries one, is signed by the issuer or a responder the
/// issuer authorised (id-kp-OCSPSigning), its thisUpdate is not in the future and its nextUpdate has
/// not passed, and its status is not "unknown"; the CRL is the issuer's, signed by it, without
/// critical extensions SigVault does not process, and current. Results are cached by certificate,
/// CRLs by URL, and a URL that cannot be reached is not tried again within the run. Each
/// certificate left without data gets one warning naming it and the URLs tried.
public final class RevocationFetcher: RevocationSource, @unchecked Sendable {
    let anchors: TrustAnchors
    let settings: FetchSettings
    /// The local clock, for freshness (a parameter, so tests can stand elsewhere in time).
    let clock: @Sendable () -> Date
    private let lock = NSLock()
    private var byCertificate: [String: [RevocationEvidence]] = [:]
    private var crlsByURL: [String: Result<[RevocationList], Refused>] = [:]
    private var unreachable: [String: String] = [:]
    private var collectedWarnings: [String] = []
    private var counts = (requests: 0, fetched: 0)

    /// Freshness tolerance for the responder's and the CA's clocks.
    static let clockTolerance: TimeInterval = 300
    /// The oldest an OCSP answer without the nonce and without nextUpdate may be.
    static let maximumAge: TimeInterval = 86_400

    public init(anchors: TrustAnchors, settings: FetchSettings = FetchSettings(), clock: @escaping @Sendable () -> Date = { Date() }) {
        self.anchors = anchors
        self.settings = settings
        self.clock = clock
    }

    /// A fetcher without this one's cached answers (for data that must be issued after a moment
    /// that just passed, such as a new archive time-stamp's genTime), which still skips the URLs
    /// this one could not reach.
    public func afresh() -> RevocationFetcher {
        let next = RevocationFetcher(anchors: anchors, settings: settings, clock: clock)
        lock.lock()
        next.unreachable = unreachable
        lock.unlock()
        return next
    }

    /// Warnings so far (each certificate without data, each OCSP answer refused before a CRL served).
    public var warnings: [String] {
        lock.lock()
        defer { lock.unlock() }
        return collectedWarnings
    }

    /// HTTP requests sent and pieces of data kept, for the log.
    public var statistics: (requests: Int, fetched: Int) {
        lock.lock()
        defer { lock.unlock() }
        return counts
    }

    /// URLs tried per certificate, of each kind: a certificate listing more does not multiply the
    /// time a run can take.
    static let urlsPerKind = 3

    public func revocationData(for certificate: Certificate, issuer: Certificate, untrusted: [Certificate], at time: Date,
                               decides: ([RevocationEvidence]) -> Bool) -> [RevocationEvidence] {
        lock.lock()
        defer { lock.unlock() }
        let key = certificate.sha256Hex + issuer.sha256Hex
        if let known = byCertificate[key] { return known }
        let found = fetch(for: certificate, issuer: issuer, untrusted: untrusted, at: time, decides: decides)
        byCertificate[key] = found
        counts.fetched += found.count
        return found
    }

    /// The revocation data of `chain`'s certificates below its last (the anchor) at `time`: what
    /// `pool` holds that decides each status, and what is fetched where it does not; the fetched
    /// data joins `pool`. A chain that could not be built is a warning.
    public func revocationData(forChain chain: [Certificate], at time: Date, pool: EvidencePool, anchors: TrustAnchors,
                               what: String) -> [RevocationEvidence] {
        guard chain.count > 1 else {
            guard chain.isEmpty else { return [] }  // an anchor alone: nothing to fetch
            lock.lock()
            collectedWarnings.append("\(what): its TSA chain could not be built to the trust anchors, so no revocation data was fetched for it")
            lock.unlock()
            return []
        }
        let validator = SignatureValidator(pool: pool, policy: ValidationPolicy(anchors: anchors, now: clock()), revocationSource: self)
        return (0..<(chain.count - 1)).flatMap { validator.revocationStatus(of: chain[$0], issuer: chain[$0 + 1], at: time).evidence }
    }

    private func fetch(for certificate: Certificate, issuer: Certificate, untrusted: [Certificate], at time: Date,
                       decides: ([RevocationEvidence]) -> Bool) -> [RevocationEvidence] {
        var problems: [String] = []
        var skipped: [String] = []
        var kept: [RevocationEvidence] = []
        // Only http(s) URLs are fetched, at most `urlsPerKind` of each kind; the others are named
        // only if nothing settles the status.
        func fetchable(_ urls: [String], _ kind: String) -> [String] {
            let usable = urls.filter { URL(string: $0).map { ($0.scheme == "http" || $0.scheme == "https") && $0.host != nil } ?? false }
            for url in urls where !usable.contains(url) { skipped.append("\(kind) \(url): only http and https URLs are fetched") }
            return Array(usable.prefix(Self.urlsPerKind))
        }
        let ocspURLs = fetchable(certificate.ocspURLs, "OCSP"), crlURLs = fetchable(certificate.crlDistributionURLs, "CRL")
        func settle(_ item: RevocationEvidence, from source: String) -> Bool {
            kept.append(item)
            if decides(kept) {
                if !problems.isEmpty { warn(certificate, "used \(source) after: " + problems.joined(separator: "; ")) }
                return true
            }
            problems.append("\(source): its answer does not settle the status at \(ISOTime.format(time))")
            return false
        }
        for url in ocspURLs {
            do {
                if settle(.ocsp(try ocsp(url, certificate: certificate, issuer: issuer, untrusted: untrusted)), from: "the OCSP response from \(url)") { return kept }
            } catch {
                problems.append("OCSP \(url): \(error)")
            }
        }
        for url in crlURLs {
            do {
                if settle(.crl(try crl(url, certificate: certificate, issuer: issuer)), from: "the CRL from \(url)") { return kept }
            } catch {
                problems.append("CRL \(url): \(error)")
            }
        }
        if certificate.ocspURLs.isEmpty && certificate.crlDistributionURLs.isEmpty {
            problems.append("it names no OCSP responder and no CRL distribution point")
        }
        warn(certificate, "no revocation data fetched that decides its status at \(ISOTime.format(time)): " + (problems + skipped).joined(separator: "; "))
        return kept
    }

    private func warn(_ certificate: Certificate, _ text: String) {
        collectedWarnings.append("\(certificate.subject) (serial \(certificate.serialHex)): \(text)")
    }

    struct Refused: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private func ocsp(_ url: String, certificate: Certificate, issuer: Certificate, untrusted: [Certificate]) throws -> OCSPResponse {
        let request = try OCSPRequest(certificate: certificate, issuer: issuer)
        let bytes = try exchange(url, body: request.der, contentType: "application/ocsp-request", accept: "application/ocsp-response",
                                 limit: 1 << 20)
        let response: OCSPResponse
        do {
            response = try OCSPResponse(der: bytes)
        } catch let error as CryptoError {
            throw Refused("not a usable OCSP response: \(error.message)")
        }
        guard let single = response.status(of: certificate, issuer: issuer) else {
            throw Refused("the response does not speak about the certificate")
        }
        let nonce = response.nonce(answering: request)
        if nonce == .mismatch { throw Refused("the response's nonce is not the one sent") }
        let verified = response.verifySignature(issuer: issuer, untrusted: untrusted + [issuer], anchors: anchors)
        guard verified.ok else {
            // RFC 6960 §4.2.2.2: the issuer itself, or a certificate it issued with id-kp-OCSPSigning.
            if let signer = response.signerCertificate(extra: untrusted + [issuer]), signer != issuer,
               !(issuer.issued(signer) && signer.signatureVerifies(with: issuer) && signer.hasOCSPSigningUsage) {
                throw Refused("its signer \(signer.subject) is not authorised to answer for \(issuer.subject) "
                    + "(neither the issuer nor a responder certificate the issuer gave id-kp-OCSPSigning)")
            }
            throw Refused("its signature or its signer's chain does not verify: \(verified.detail)")
        }
        try checkFreshness(thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate)
        // Without the nonce and without nextUpdate nothing bounds how old a replayed answer is.
        if nonce != .matches, single.nextUpdate == nil, single.thisUpdate < clock().addingTimeInterval(-Self.maximumAge) {
            throw Refused("its thisUpdate \(ISOTime.format(single.thisUpdate)) is over a day old, and it has neither the nonce nor a nextUpdate")
        }
        guard single.status != .unknown else { throw Refused("the responder does not know the certificate (status unknown)") }
        return response
    }

    private func crl(_ url: String, certificate: Certificate, issuer: Certificate) throws -> RevocationList {
        let lists: [RevocationList]
        switch crlsByURL[url] {
        case .success(let cached)?:
            lists = cached
        case .failure(let failure)?:
            throw failure
        case nil:
            do {
                let bytes = try exchange(url, body: nil, contentType: nil, accept: "application/pkix-crl", limit: 64 << 20)
                do {
                    lists = try RevocationList.parseAll(bytes)
                } catch let error as CryptoError {
                    throw Refused("not a CRL: \(error.message)")
                }
                crlsByURL[url] = .success(lists)
            } catch let refused as Refused {
                crlsByURL[url] = .failure(refused)
                throw refused
            }
        }
        guard let crl = lists.first(where: { $0.isIssued(by: issuer) && $0.signatureVerifies(with: issuer) }) else {
            throw Refused("the CRL is not issued and signed by the certificate's issuer \(issuer.subject)")
        }
        guard issuer.mayIssueCRLs else { throw Refused("the issuer \(issuer.subject) may not sign CRLs (its keyUsage lacks cRLSign)") }
        guard !crl.hasUnhandledCriticalExtension else { throw Refused("the CRL carries a critical extension SigVault does not process") }
        try checkFreshness(thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate)
        return crl
    }

    private func checkFreshness(thisUpdate: Date, nextUpdate: Date?) throws {
        let now = clock()
        if thisUpdate > now.addingTimeInterval(Self.clockTolerance) {
            throw Refused("its thisUpdate \(ISOTime.format(thisUpdate)) is in the future")
        }
        if let nextUpdate, nextUpdate < now.addingTimeInterval(-Self.clockTolerance) {
            throw Refused("stale: its nextUpdate \(ISOTime.format(nextUpdate)) has passed")
        }
    }

    /// One exchange, tried again after transient failures (a time-out, a refused or lost
    /// connection, HTTP 5xx); a URL that cannot be reached is remembered for the rest of the run.
    private func exchange(_ url: String, body: [UInt8]?, contentType: String?, accept: String, limit: Int) throws -> [UInt8] {
        if let reason = unreachable[url] { throw Refused("\(reason) (not tried again in this run)") }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw Refused("only http and https URLs are fetched")
        }
        var pause = settings.retryPause
        var attempt = 1
        while true {
            counts.requests += 1
            do {
                return try HTTPExchange.send(parsed, body: body, contentType: contentType, accept: accept, timeout: settings.timeout, limit: limit)
            } catch let failure as HTTPExchange.Failure {
                if failure.transient && attempt < settings.attempts {
                    Thread.sleep(forTimeInterval: pause)
                    pause *= 2
                    attempt += 1
                    continue
                }
                let reason = attempt > 1 ? "\(failure.reason), \(attempt) attempts" : failure.reason
                if failure.transient || failure.reason.hasPrefix("cannot reach it") { unreachable[url] = reason }
                throw Refused(reason)
            }
        }
    }
}

extension RevocationFetcher {
    /// What the evidence section keeps for a new archive time-stamp (FORMAT.md §10): its
    /// certificates; with a fetcher (`--fetch-revocation`) also its TSA chain and the chain's
    /// revocation data, fetched now by a fresh copy of the fetcher (answers it cached earlier
    /// predate genTime), with that copy's warnings. The next renewal moves the revocation data
    /// into the token before time-stamping it.
    static func material(forNewToken token: TimeStampToken, fetcher: RevocationFetcher?, anchors: TrustAnchors,
                         untrusted: [Certificate]) -> ([ArchiveEvidence.Material], [String]) {
        guard let fresh = fetcher?.afresh() else {
            return (token.certificates.map { ArchiveEvidence.Material(kind: .certificate, der: $0.der) }, [])
        }
        return (fresh.material(forNewToken: token, anchors: anchors, untrusted: untrusted), fresh.warnings)
    }

    func material(forNewToken token: TimeStampToken, anchors: TrustAnchors, untrusted: [Certificate]) -> [ArchiveEvidence.Material] {
        var material = token.certificates.map { ArchiveEvidence.Material(kind: .certificate, der: $0.der) }
        let what = "the archive time-stamp of \(ISOTime.format(token.genTime))"
        var chain: [Certificate] = []
        if let tsa = token.signerCertificate(extra: []) {
            let built = ChainBuilder.build(leaf: tsa, untrusted: token.certificates + untrusted, anchors: anchors,
                                           purpose: .timeStamping, at: nil, allowPartialChain: false)
            if built.ok { chain = built.chain }
        }
        for certificate in chain where !material.contains(where: { $0.der == certificate.der }) {
            material.append(ArchiveEvidence.Material(kind: .certificate, der: certificate.der))
        }
        // A pool of certificates only: everything about the chain is fetched, after genTime.
        let pool = EvidencePool()
        pool.add(token.certificates + untrusted)
        for item in revocationData(forChain: chain, at: token.genTime, pool: pool, anchors: anchors, what: what) {
            let entry: ArchiveEvidence.Material
            switch item {
            case .crl(let crl): entry = ArchiveEvidence.Material(kind: .crl, der: crl.der)
            case .ocsp(let response): entry = ArchiveEvidence.Material(kind: .ocsp, der: response.der)
            }
            if !material.contains(entry) { material.append(entry) }
        }
        return material
    }
}
