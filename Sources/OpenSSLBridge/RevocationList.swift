internal import COpenSSL
import Foundation

/// An X.509 CRL (RFC 5280 §5).
public final class RevocationList: @unchecked Sendable {
    let ref: OpaquePointer

    /// DER and SHA-256 computed once, here (a `lazy var` would race on first use from two threads).
    init(takingOwnership ref: OpaquePointer) {
        self.ref = ref
        der = derEncode { i2d_X509_CRL(ref, $0) }
        sha256Hex = Hex.encode(Hasher.digest(der))
    }
    deinit { X509_CRL_free(ref) }

    public convenience init(der: [UInt8]) throws {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509_CRL(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw CryptoError.fromQueue(.malformed, "not a DER CRL") }
        self.init(takingOwnership: parsed)
    }

    /// Parses a PEM bundle of CRLs or one DER CRL.
    public static func parseAll(_ bytes: [UInt8]) throws -> [RevocationList] {
        if looksLikePEM(bytes) {
            let bio = try BIORef(copying: bytes)
            var result: [RevocationList] = []
            while let crl = PEM_read_bio_X509_CRL(bio.ref, nil, nil, nil) {
                result.append(RevocationList(takingOwnership: crl))
            }
            OpenSSLErrorQueue.clear()
            if result.isEmpty { throw CryptoError(.malformed, "no CRL in PEM text") }
            return result
        }
        return [try RevocationList(der: bytes)]
    }

    public let der: [UInt8]
    public let sha256Hex: String

    public var issuer: String { Certificate.nameText(X509_CRL_get_issuer(ref)) }
    public var thisUpdate: Date { dateFromASN1Time(sv_x509_crl_last_update(ref)) ?? .distantPast }
    public var nextUpdate: Date? { dateFromASN1Time(sv_x509_crl_next_update(ref)) }

    /// The date of the ExpiredCertsOnCRL extension (X.509 2.5.29.60): certificates that expired on or
    /// after it are still listed when revoked.
    public var expiredCertificatesOnCRL: Date? {
        guard let object = OBJ_txt2obj("2.5.29.60", 1) else { return nil }
        defer { ASN1_OBJECT_free(object) }
        let index = X509_CRL_get_ext_by_OBJ(ref, object, -1)
        guard index >= 0, let ext = X509_CRL_get_ext(ref, index), let data = X509_EXTENSION_get_data(ext) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        return generalizedTime(fromDER: bytesOf(UnsafePointer(data)))
    }

    /// The issuingDistributionPoint extension (RFC 5280 §5.2.5): which certificates and reasons the
    /// CRL covers.
    public struct Scope: Sendable {
        /// The full-name URIs of the distribution point it is for (empty: none, or a relative name).
        public let distributionPointURIs: [String]
        /// Whether it names a distribution point at all.
        public let namesDistributionPoint: Bool
        public let onlyUserCertificates: Bool
        public let onlyCACertificates: Bool
        public let onlyAttributeCertificates: Bool
        public let indirect: Bool
        /// onlySomeReasons: the CRL lists only some reasons, so its silence is not complete.
        public let onlySomeReasons: Bool
    }

    /// The CRL's scope; nil without an issuingDistributionPoint. Throws when the extension does not
    /// decode.
    public func scope() throws -> Scope? {
        var hasName: Int32 = 0, onlyUser: Int32 = 0, onlyCA: Int32 = 0, onlyAttr: Int32 = 0, indirect: Int32 = 0, someReasons: Int32 = 0
        var uris: UnsafeMutablePointer<CChar>?
        let found = sv_crl_idp(ref, &hasName, &uris, &onlyUser, &onlyCA, &onlyAttr, &indirect, &someReasons)
        defer { if let uris { sv_openssl_free(uris) } }
        if found == 0 { return nil }
        if found < 0 { throw CryptoError(.malformed, "the CRL's issuingDistributionPoint does not decode") }
        let list = uris.map { String(cString: $0).split(separator: "\n").map(String.init) } ?? []
        return Scope(distributionPointURIs: list, namesDistributionPoint: hasName != 0, onlyUserCertificates: onlyUser != 0,
                     onlyCACertificates: onlyCA != 0, onlyAttributeCertificates: onlyAttr != 0, indirect: indirect != 0,
                     onlySomeReasons: someReasons != 0)
    }

    /// Whether this is a delta CRL (deltaCRLIndicator, RFC 5280 §5.2.4).
    public var isDelta: Bool { sv_crl_is_delta(ref) != 0 }

    /// Whether `certificate`'s subject name is this CRL's issuer.
    public func isIssued(by certificate: Certificate) -> Bool {
        X509_NAME_cmp(X509_CRL_get_issuer(ref), X509_get_subject_name(certificate.ref)) == 0
    }

    public func signatureVerifies(with issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.ref) else { OpenSSLErrorQueue.clear(); return false }
        let result = X509_CRL_verify(ref, key) == 1
        OpenSSLErrorQueue.clear()
        return result
    }

    /// Whether the CRL carries a critical extension this verifier does not process
    /// (RFC 5280 §5.2: such a CRL must not be used to decide status).
    public var hasUnhandledCriticalExtension: Bool {
        let count = X509_CRL_get_ext_count(ref)
        // The issuing distribution point and the delta indicator are processed by the validator
        // (`scope`, `isDelta`).
        let handled: Set<Int32> = [NID_authority_key_identifier, NID_crl_number, NID_issuer_alt_name,
                                   NID_issuing_distribution_point, NID_delta_crl]
        for index in 0..<count {
            guard let ext = X509_CRL_get_ext(ref, index), X509_EXTENSION_get_critical(ext) == 1 else { continue }
            let nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext))
            if !handled.contains(nid) { return true }
        }
        return false
    }

    /// The revocation date of `certificate` if this CRL lists it.
    public func revocationDate(of certificate: Certificate) -> Date? { entry(of: certificate)?.date }

    /// A CRL entry (RFC 5280 §5.3): when the certificate was revoked, and why.
    public struct Entry: Sendable {
        public let date: Date
        /// The reasonCode entry extension (RFC 5280 §5.3.1), nil when absent.
        public let reason: RevocationReason?
    }

    /// The entry for `certificate` if this CRL lists it (its serial number, and on an indirect CRL
    /// its issuer, as the entries' certificateIssuer extensions say).
    public func entry(of certificate: Certificate) -> Entry? {
        var entry: OpaquePointer?
        guard X509_CRL_get0_by_cert(ref, &entry, certificate.ref) == 1, let entry else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let date = dateFromASN1Time(X509_REVOKED_get0_revocationDate(entry)) ?? .distantPast
        var critical: Int32 = 0
        var reason: RevocationReason?
        if let code = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nil) {
            let enumerated = code.assumingMemoryBound(to: ASN1_ENUMERATED.self)
            let value = ASN1_ENUMERATED_get(enumerated)
            ASN1_ENUMERATED_free(enumerated)
            reason = RevocationReason(rawValue: Int(value))
        }
        OpenSSLErrorQueue.clear()
        return Entry(date: date, reason: reason)
    }
}

/// CRLReason (RFC 5280 §5.3.1), shared by CRL entries and OCSP answers (RFC 6960 §4.2.1).
public enum RevocationReason: Int, Sendable {
    case unspecified = 0, keyCompromise = 1, cACompromise = 2, affiliationChanged = 3, superseded = 4,
         cessationOfOperation = 5, certificateHold = 6, removeFromCRL = 8, privilegeWithdrawn = 9, aACompromise = 10

    public var name: String {
        switch self {
        case .unspecified: return "unspecified"
        case .keyCompromise: return "keyCompromise"
        case .cACompromise: return "cACompromise"
        case .affiliationChanged: return "affiliationChanged"
        case .superseded: return "superseded"
        case .cessationOfOperation: return "cessationOfOperation"
        case .certificateHold: return "certificateHold"
        case .removeFromCRL: return "removeFromCRL"
        case .privilegeWithdrawn: return "privilegeWithdrawn"
        case .aACompromise: return "aACompromise"
        }
    }
}
