internal import COpenSSL
import Foundation

/// An X.509 CRL (RFC 5280 §5).
public final class RevocationList: @unchecked Sendable {
    let ref: OpaquePointer

    init(takingOwnership ref: OpaquePointer) { self.ref = ref }
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

    public lazy var der: [UInt8] = derEncode { i2d_X509_CRL(ref, $0) }
    public lazy var sha256Hex: String = Hex.encode(Hasher.digest(der))

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
        let handled: Set<Int32> = [NID_authority_key_identifier, NID_crl_number, NID_issuer_alt_name]
        for index in 0..<count {
            guard let ext = X509_CRL_get_ext(ref, index), X509_EXTENSION_get_critical(ext) == 1 else { continue }
            let nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext))
            if !handled.contains(nid) { return true }
        }
        return false
    }

    /// The revocation date of `certificate` if this CRL lists its serial number.
    public func revocationDate(of certificate: Certificate) -> Date? {
        var entry: OpaquePointer?
        guard X509_CRL_get0_by_serial(ref, &entry, X509_get0_serialNumber(certificate.ref)) == 1, let entry else {
            return nil
        }
        return dateFromASN1Time(X509_REVOKED_get0_revocationDate(entry)) ?? .distantPast
    }
}
