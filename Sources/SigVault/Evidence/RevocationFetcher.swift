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
    private var crlsByURL: [String: Result<[RevocationList], HTTPExchange.Failure>] = [:]
    private var unreachable: [String: String] = [:]
    private var collectedWarnings: [String] = []
    private var counts = (requests: 0, fetched: 0)

    /// Freshness tolerance for the responder's and the CA's clocks.
    static let clockTolerance: TimeInterval = 300

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

    public func revocationData(for certificate: Certificate, issuer: Certificate, untrusted: [Certificate]) -> [RevocationEvidence] {
        lock.lock()
        defer { lock.unlock() }
        let key = certificate.sha256Hex + issuer.sha256Hex
        if let known = byCertificate[key] { return known }
        let found = fetch(for: certificate, issuer: issuer, untrusted: untrusted)
        byCertificate[key] = found
        counts.fetched += found.count
        return found
    }

    /// Data for every certificate of `chain` below its last (the anchor), each from its issuer.
    public func revocationData(forChain chain: [Certificate], untrusted: [Certificate]) -> [RevocationEvidence] {
        guard chain.count > 1 else { return [] }
        return (0..<(chain.count - 1)).flatMap { revocationData(for: chain[$0], issuer: chain[$0 + 1], untrusted: untrusted) }
    }

    private func fetch(for certificate: Certificate, issuer: Certificate, untrusted: [Certificate]) -> [RevocationEvidence] {
        var problems: [String] = []
        let ocspURLs = certificate.ocspURLs, crlURLs = certificate.crlDistributionURLs
        for url in ocspURLs {
            do {
                let response = try ocsp(url, certificate: certificate, issuer: issuer, untrusted: untrusted)
                if !problems.isEmpty { warn(certificate, "used the OCSP response from \(url) after: " + problems.joined(separator: "; ")) }
                return [.ocsp(response)]
            } catch {
                problems.append("OCSP \(url): \(error)")
            }
        }
        for url in crlURLs {
            do {
                let crl = try crl(url, certificate: certificate, issuer: issuer)
                if !problems.isEmpty { warn(certificate, "used the CRL from \(url) after: " + problems.joined(separator: "; ")) }
                return [.crl(crl)]
            } catch {
                problems.append("CRL \(url): \(error)")
            }
        }
        if ocspURLs.isEmpty && crlURLs.isEmpty { problems.append("it names no OCSP responder and no CRL distribution point") }
        warn(certificate, "no revocation data fetched: " + problems.joined(separator: "; "))
        return []
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
        let bytes = try exchange(url, body: request.der, contentType: "application/ocsp-request", accept: "application/ocsp-response")
        let response: OCSPResponse
        do {
            response = try OCSPResponse(der: bytes)
        } catch let error as CryptoError {
            throw Refused("not a usable OCSP response: \(error.message)")
        }
        guard let single = response.status(of: certificate, issuer: issuer) else {
            throw Refused("the response does not speak about the certificate")
        }
        if response.nonce(answering: request) == .mismatch { throw Refused("the response's nonce is not the one sent") }
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
                let bytes = try exchange(url, body: nil, contentType: nil, accept: "application/pkix-crl")
                do {
                    lists = try RevocationList.parseAll(bytes)
                } catch let error as CryptoError {
                    throw HTTPExchange.Failure(reason: "not a CRL: \(error.message)", transient: false)
                }
                crlsByURL[url] = .success(lists)
            } catch let failure as HTTPExchange.Failure {
                crlsByURL[url] = .failure(failure)
                throw failure
            }
        }
        guard let crl = lists.first(where: { $0.isIssued(by: issuer) && $0.signatureVerifies(with: issuer) }) else {
            throw Refused("the CRL is not issued and signed by the certificate's issuer \(issuer.subject)")
        }
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

    /// One exchange, tried again after transient failures; a URL that stays unreachable is
    /// remembered for the rest of the run.
    private func exchange(_ url: String, body: [UInt8]?, contentType: String?, accept: String) throws -> [UInt8] {
        if let reason = unreachable[url] { throw Refused("\(reason) (not tried again in this run)") }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https" else {
            throw Refused("only http and https URLs are fetched")
        }
        var pause = settings.retryPause
        for attempt in 1...max(1, settings.attempts) {
            counts.requests += 1
            do {
                return try HTTPExchange.send(parsed, body: body, contentType: contentType, accept: accept, timeout: settings.timeout)
            } catch let failure as HTTPExchange.Failure where failure.transient {
                if attempt >= settings.attempts {
                    let reason = settings.attempts > 1 ? "\(failure.reason), \(settings.attempts) attempts" : failure.reason
                    unreachable[url] = reason
                    throw Refused(reason)
                }
                Thread.sleep(forTimeInterval: pause)
                pause *= 2
            }
        }
        throw Refused("not reached")
    }
}

extension RevocationFetcher {
    /// What the evidence section keeps for a new archive time-stamp (FORMAT.md §10): its
    /// certificates and TSA chain, and the chain's revocation data fetched now, which the next
    /// renewal moves into the token before time-stamping it.
    func material(forNewToken token: TimeStampToken, anchors: TrustAnchors, untrusted: [Certificate]) -> [ArchiveEvidence.Material] {
        var material = token.certificates.map { ArchiveEvidence.Material(kind: .certificate, der: $0.der) }
        guard let tsa = token.signerCertificate(extra: []) else { return material }
        let built = ChainBuilder.build(leaf: tsa, untrusted: token.certificates + untrusted, anchors: anchors,
                                       purpose: .timeStamping, at: nil, allowPartialChain: false)
        guard built.ok else { return material }
        for certificate in built.chain where !material.contains(where: { $0.der == certificate.der }) {
            material.append(ArchiveEvidence.Material(kind: .certificate, der: certificate.der))
        }
        for item in revocationData(forChain: built.chain, untrusted: token.certificates + untrusted) {
            switch item {
            case .crl(let crl): material.append(ArchiveEvidence.Material(kind: .crl, der: crl.der))
            case .ocsp(let response): material.append(ArchiveEvidence.Material(kind: .ocsp, der: response.der))
            }
        }
        return material
    }
}
