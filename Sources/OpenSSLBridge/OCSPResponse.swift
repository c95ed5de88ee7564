internal import COpenSSL
import Foundation

/// An OCSP response (RFC 6960) with a BasicOCSPResponse.
public final class OCSPResponse: @unchecked Sendable {
    let response: OpaquePointer
    let basic: OpaquePointer

    deinit {
        OCSP_BASICRESP_free(basic)
        OCSP_RESPONSE_free(response)
    }

    public let der: [UInt8]
    /// Computed in init: a `lazy var` would race on first use from two threads.
    public let sha256Hex: String

    public init(der: [UInt8]) throws {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw CryptoError.fromQueue(.malformed, "not a DER OCSP response") }
        let status = OCSP_response_status(parsed)
        guard status == OCSP_RESPONSE_STATUS_SUCCESSFUL else {
            OCSP_RESPONSE_free(parsed)
            throw CryptoError(.malformed, "OCSP response status is \(String(cString: OCSP_response_status_str(Int(status))))")
        }
        guard let basic = OCSP_response_get1_basic(parsed) else {
            OCSP_RESPONSE_free(parsed)
            throw CryptoError.fromQueue(.malformed, "OCSP response has no BasicOCSPResponse")
        }
        self.response = parsed
        self.basic = basic
        self.der = der
        self.sha256Hex = Hex.encode(Hasher.digest(der))
    }

    public var producedAt: Date { dateFromASN1Time(OCSP_resp_get0_produced_at(basic)) ?? .distantPast }

    /// The archiveCutoff extension (RFC 6960 §4.4.4): the responder keeps revocation information of
    /// certificates that expired on or after this date.
    public var archiveCutoff: Date? {
        let index = OCSP_BASICRESP_get_ext_by_NID(basic, NID_id_pkix_OCSP_archiveCutoff, -1)
        guard index >= 0, let ext = OCSP_BASICRESP_get_ext(basic, index), let data = X509_EXTENSION_get_data(ext) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        return generalizedTime(fromDER: bytesOf(UnsafePointer(data)))
    }

    /// Certificates carried in the response (a delegated responder's certificate and its chain).
    public var certificates: [Certificate] { CertificateStack.certificates(in: OCSP_resp_get0_certs(basic)) }

    public enum Status: String, Sendable { case good, revoked, unknown }

    public struct SingleStatus: Sendable {
        public let status: Status
        public let revocationTime: Date?
        /// The revocationReason of a revoked answer, nil when absent.
        public let revocationReason: RevocationReason?
        public let thisUpdate: Date
        public let nextUpdate: Date?
    }

    /// The status this response gives for `certificate` issued by `issuer`, if it covers it.
    public func status(of certificate: Certificate, issuer: Certificate) -> SingleStatus? {
        for digest in [EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()] {
            guard let id = OCSP_cert_to_id(digest, certificate.ref, issuer.ref) else { continue }
            defer { OCSP_CERTID_free(id) }
            var status: Int32 = -1
            var reason: Int32 = -1
            var revoked: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
            if OCSP_resp_find_status(basic, id, &status, &reason, &revoked, &thisUpdate, &nextUpdate) == 1 {
                OpenSSLErrorQueue.clear()
                let mapped: Status = status == V_OCSP_CERTSTATUS_GOOD ? .good
                    : status == V_OCSP_CERTSTATUS_REVOKED ? .revoked : .unknown
                return SingleStatus(
                    status: mapped,
                    revocationTime: revoked.flatMap { dateFromASN1Time(UnsafePointer($0)) },
                    revocationReason: reason >= 0 ? RevocationReason(rawValue: Int(reason)) : nil,
                    thisUpdate: thisUpdate.flatMap { dateFromASN1Time(UnsafePointer($0)) } ?? producedAt,
                    nextUpdate: nextUpdate.flatMap { dateFromASN1Time(UnsafePointer($0)) })
            }
        }
        OpenSSLErrorQueue.clear()
        return nil
    }

    /// The certificate that signed the response, found by its ResponderID among the response's
    /// own certificates and `candidates`.
    public func signerCertificate(among candidates: [Certificate]) -> Certificate? {
        let stack = CertificateStack(candidates)
        var signer: OpaquePointer?
        let found = withExtendedLifetime(stack) { OCSP_resp_get0_signer(basic, &signer, stack.ref) == 1 }
        OpenSSLErrorQueue.clear()
        guard found, let signer else { return nil }
        return Certificate(copying: signer)
    }

    /// Checks the response's signature and that its signer is authorised for `issuer`'s certificates
    /// (the CA itself, or a delegated responder with id-kp-OCSPSigning issued by it — RFC 6960 §4.2.2.2).
    /// The responder's chain is checked at `producedAt`.
    public func verifySignature(issuer: Certificate, untrusted: [Certificate], anchors: TrustAnchors,
                                allowPartialChain: Bool = false) -> (ok: Bool, detail: String) {
        guard let store = X509_STORE_new() else { return (false, "out of memory") }
        defer { X509_STORE_free(store) }
        switch anchors {
        case .certificates(let list): for anchor in list { _ = X509_STORE_add_cert(store, anchor.ref) }
        case .system: _ = X509_STORE_set_default_paths(store)
        }
        if allowPartialChain { _ = X509_STORE_add_cert(store, issuer.ref) }
        let parameters = X509_STORE_get0_param(store)
        X509_VERIFY_PARAM_set_time(parameters, time_t(producedAt.timeIntervalSince1970))
        _ = X509_VERIFY_PARAM_set_flags(parameters, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        OpenSSLErrorQueue.clear()
        let stack = CertificateStack([issuer] + untrusted)
        let result = OCSP_basic_verify(basic, stack.ref, store, 0)
        if result == 1 { return (true, "ok") }
        return (false, OpenSSLErrorQueue.drain())
    }
}
