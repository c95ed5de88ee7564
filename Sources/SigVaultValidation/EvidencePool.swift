import Foundation
import OpenSSLBridge

/// All validation material at hand: certificates, CRLs and OCSP responses, each kept once.
public final class EvidencePool: @unchecked Sendable {
    public private(set) var certificates: [Certificate] = []
    public private(set) var revocationLists: [RevocationList] = []
    public private(set) var ocspResponses: [OCSPResponse] = []
    private var seen: Set<String> = []
    /// SHA-256s of the items that came from outside the archive being verified (`--certs`,
    /// `--crls`, `--ocsp`, fetched).
    public private(set) var external: Set<String> = []

    public init() {}

    /// Adds a CRL or OCSP response from outside the archive.
    public func addExternal(_ item: RevocationEvidence) {
        external.insert(item.sha256Hex)
        add(item)
    }

    /// Adds everything `other` holds, keeping what came from outside marked so.
    public func add(contentsOf other: EvidencePool) {
        add(other.certificates)
        other.revocationLists.forEach { add($0) }
        other.ocspResponses.forEach { add($0) }
        external.formUnion(other.external)
    }

    public func isExternal(_ item: RevocationEvidence) -> Bool { external.contains(item.sha256Hex) }

    public func add(_ certificate: Certificate) {
        if seen.insert("c" + certificate.sha256Hex).inserted { certificates.append(certificate) }
    }

    public func add(_ list: [Certificate]) { list.forEach { add($0) } }

    public func add(_ crl: RevocationList) {
        if seen.insert("r" + crl.sha256Hex).inserted { revocationLists.append(crl) }
    }

    public func add(_ response: OCSPResponse) {
        if seen.insert("o" + response.sha256Hex).inserted {
            ocspResponses.append(response)
            add(response.certificates)
        }
    }

    public func add(_ item: RevocationEvidence) {
        switch item {
        case .crl(let crl): add(crl)
        case .ocsp(let response): add(response)
        }
    }

    public func certificate(sha256 hex: String) -> Certificate? { certificates.first { $0.sha256Hex == hex } }

    /// What a piece of validation material in bytes is.
    public enum MaterialKind: Sendable { case certificate, crl, ocsp }

    /// What `add(_:as:external:)` parsed.
    public struct Parsed: Sendable {
        public var certificates: [Certificate] = []
        public var revocation: [RevocationEvidence] = []
    }

    /// The one way material in bytes enters the pool (archive members, the evidence section,
    /// `--certs`/`--crls`/`--ocsp` files, tokens' OCSP responses): certificates and CRLs as a PEM
    /// bundle or one DER item, an OCSP response as DER; each item kept once (an OCSP response's
    /// certificates too). `external` marks the revocation data as from outside the archive.
    /// Throws the parser's `CryptoError` when the bytes are not that kind of material.
    @discardableResult
    public func add(_ bytes: [UInt8], as kind: MaterialKind, external: Bool = false) throws -> Parsed {
        var parsed = Parsed()
        switch kind {
        case .certificate: parsed.certificates = try Certificate.parseAll(bytes)
        case .crl: parsed.revocation = try RevocationList.parseAll(bytes).map { .crl($0) }
        case .ocsp: parsed.revocation = [.ocsp(try OCSPResponse(der: bytes))]
        }
        add(parsed.certificates)
        for item in parsed.revocation { if external { addExternal(item) } else { add(item) } }
        return parsed
    }
}

/// A piece of revocation data that was used to decide a certificate's status.
public enum RevocationEvidence: Sendable {
    case crl(RevocationList)
    case ocsp(OCSPResponse)

    public var sha256Hex: String {
        switch self {
        case .crl(let crl): return crl.sha256Hex
        case .ocsp(let response): return response.sha256Hex
        }
    }

    /// When the item was issued: a CRL's thisUpdate, an OCSP response's producedAt.
    public var issued: Date {
        switch self {
        case .crl(let crl): return crl.thisUpdate
        case .ocsp(let response): return response.producedAt
        }
    }

    public var isCRL: Bool { if case .crl = self { return true } else { return false } }
}
