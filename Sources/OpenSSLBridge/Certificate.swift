internal import COpenSSL
import Foundation

/// An X.509 certificate owned by OpenSSL.
public final class Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let ref: OpaquePointer

    /// The DER encoding and its SHA-256 are computed once, here: a `lazy var` would race when
    /// two threads read a shared certificate for the first time.
    init(takingOwnership ref: OpaquePointer) {
        self.ref = ref
        der = derEncode { i2d_X509(ref, $0) }
        sha256Hex = Hex.encode(Hasher.digest(der))
    }

    convenience init(copying ref: OpaquePointer) {
        X509_up_ref(ref)
        self.init(takingOwnership: ref)
    }

    deinit { X509_free(ref) }

    /// Parses one DER certificate.
    public convenience init(der: [UInt8]) throws {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw CryptoError.fromQueue(.malformed, "not a DER X.509 certificate") }
        self.init(takingOwnership: parsed)
    }

    /// Parses a PEM bundle (any number of certificates) or one DER certificate.
    public static func parseAll(_ bytes: [UInt8]) throws -> [Certificate] {
        if looksLikePEM(bytes) {
            let bio = try BIORef(copying: bytes)
            var result: [Certificate] = []
            while let x509 = PEM_read_bio_X509(bio.ref, nil, nil, nil) {
                result.append(Certificate(takingOwnership: x509))
            }
            OpenSSLErrorQueue.clear()  // the loop ends on "no start line"
            if result.isEmpty { throw CryptoError(.malformed, "no certificate in PEM text") }
            return result
        }
        return [try Certificate(der: bytes)]
    }

    public let der: [UInt8]

    /// SHA-256 of the DER encoding, in hex: the certificate's identity in the archive.
    public let sha256Hex: String

    public var subject: String { Certificate.nameText(X509_get_subject_name(ref)) }
    public var issuer: String { Certificate.nameText(X509_get_issuer_name(ref)) }

    public var serialHex: String {
        guard let serial = X509_get0_serialNumber(ref) else { return "" }
        guard let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { sv_openssl_free(hex) }
        return String(cString: hex).lowercased()
    }

    public var notBefore: Date { dateFromASN1Time(X509_get0_notBefore(ref)) ?? .distantFuture }
    public var notAfter: Date { dateFromASN1Time(X509_get0_notAfter(ref)) ?? .distantPast }

    public func isValid(at date: Date) -> Bool { notBefore <= date && date <= notAfter }

    /// Whether `other` certifies the same subject name and public key (another certificate of the
    /// same CA, with other validity dates or serial).
    public func isSameEntity(as other: Certificate) -> Bool {
        guard X509_NAME_cmp(X509_get_subject_name(ref), X509_get_subject_name(other.ref)) == 0,
              let key = X509_get0_pubkey(ref), let otherKey = X509_get0_pubkey(other.ref) else { return false }
        defer { OpenSSLErrorQueue.clear() }
        return EVP_PKEY_eq(key, otherKey) == 1
    }

    public var isSelfIssued: Bool { X509_check_issued(ref, ref) == X509_V_OK }

    /// Whether `self` issued `subject` (names, key identifiers and key usage agree; the signature is
    /// checked separately by `signatureVerifies(with:)`).
    public func issued(_ subject: Certificate) -> Bool { X509_check_issued(ref, subject.ref) == X509_V_OK }

    /// Whether this certificate's signature verifies with `issuer`'s public key.
    public func signatureVerifies(with issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.ref) else { OpenSSLErrorQueue.clear(); return false }
        let result = X509_verify(ref, key) == 1
        OpenSSLErrorQueue.clear()
        return result
    }

    /// Whether the certificate carries extendedKeyUsage with only id-kp-timeStamping, marked critical
    /// (RFC 3161 §2.3).
    public var hasCriticalTimeStampingUsage: Bool {
        let index = X509_get_ext_by_NID(ref, NID_ext_key_usage, -1)
        guard index >= 0, let ext = X509_get_ext(ref, index) else { return false }
        guard X509_EXTENSION_get_critical(ext) == 1 else { return false }
        return X509_get_extended_key_usage(ref) == UInt32(XKU_TIMESTAMP)
    }

    public var hasOCSPSigningUsage: Bool {
        (X509_get_extension_flags(ref) & UInt32(EXFLAG_XKUSAGE)) != 0
            && (X509_get_extended_key_usage(ref) & UInt32(XKU_OCSP_SIGN)) != 0
    }

    /// Whether the certificate carries id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): an OCSP responder
    /// whose status need not be checked during its lifetime.
    public var hasOCSPNoCheck: Bool { X509_get_ext_by_NID(ref, NID_id_pkix_OCSP_noCheck, -1) >= 0 }

    /// The OCSP responder URLs of the authorityInfoAccess extension (RFC 5280 §4.2.2.1).
    public var ocspURLs: [String] { urls(0) }

    /// The full-name URIs of the cRLDistributionPoints extension (RFC 5280 §4.2.1.13).
    public var crlDistributionURLs: [String] { urls(1) }

    private func urls(_ which: Int32) -> [String] {
        guard let text = sv_x509_urls(ref, which) else { return [] }
        defer { sv_openssl_free(text) }
        return String(cString: text).split(separator: "\n").map(String.init)
    }

    /// Whether the key may sign CRLs: no keyUsage extension, or one with cRLSign (RFC 5280 §6.3.3 (f)).
    public var mayIssueCRLs: Bool {
        let usage = X509_get_key_usage(ref)
        return usage == UInt32.max || (usage & UInt32(KU_CRL_SIGN)) != 0
    }

    public var isCertificateAuthority: Bool { X509_check_ca(ref) != 0 }

    public var description: String { subject }

    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.der == rhs.der }
    public func hash(into hasher: inout Swift.Hasher) { hasher.combine(sha256Hex) }

    static func nameText(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, sv_xn_flag_rfc2253()) >= 0 else { return "" }
        var pointer: UnsafeMutablePointer<CChar>?
        let length = sv_bio_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

/// Owned STACK_OF(X509) built from Swift certificates (each up-referenced).
final class CertificateStack {
    let ref: OpaquePointer
    private var released = false

    init(_ certificates: [Certificate]) {
        guard let stack = sv_sk_X509_new_null() else { fatalError("sk_X509_new_null failed: out of memory") }
        for certificate in certificates {
            X509_up_ref(certificate.ref)
            _ = sv_sk_X509_push(stack, certificate.ref)
        }
        ref = stack
    }

    func releaseOwnership() -> OpaquePointer {
        released = true
        return ref
    }

    deinit { if !released { sv_sk_X509_pop_free(ref) } }

    /// Copies a borrowed STACK_OF(X509) into Swift certificates.
    static func certificates(in stack: OpaquePointer?) -> [Certificate] {
        guard let stack else { return [] }
        return (0..<sv_sk_X509_num(stack)).compactMap { index in
            sv_sk_X509_value(stack, index).map { Certificate(copying: $0) }
        }
    }
}

extension Certificate {
    /// The certificates of a PKCS#12 file (the key's certificate first, then the others), opened
    /// with `password`. A file protected with legacy ciphers (RC2, 3DES) needs OpenSSL's legacy
    /// provider, which is loaded for a second attempt when the first fails.
    public static func parsePKCS12(_ bytes: [UInt8], password: String) throws -> [Certificate] {
        func attempt() -> [Certificate]? {
            let parsed = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_PKCS12(nil, &cursor, buffer.count)
            }
            guard let p12 = parsed else { return nil }
            defer { PKCS12_free(p12) }
            var key: OpaquePointer?
            var certificate: OpaquePointer?
            var others: OpaquePointer?
            guard PKCS12_parse(p12, password, &key, &certificate, &others) == 1 else { return nil }
            if let key { EVP_PKEY_free(key) }
            var out: [Certificate] = []
            if let certificate { out.append(Certificate(takingOwnership: certificate)) }
            out += CertificateStack.certificates(in: others)
            if let others { sv_sk_X509_pop_free(others) }
            return out
        }
        OpenSSLErrorQueue.clear()
        if let certificates = attempt() { return certificates }
        // Legacy ciphers: load the legacy provider (with the default one, which loading another
        // would otherwise displace) and try again.
        _ = OSSL_PROVIDER_load(nil, "default")
        if OSSL_PROVIDER_load(nil, "legacy") != nil, let certificates = attempt() {
            OpenSSLErrorQueue.clear()
            return certificates
        }
        throw CryptoError.fromQueue(.malformed, "not a PKCS#12 file, or the password is wrong")
    }
}
