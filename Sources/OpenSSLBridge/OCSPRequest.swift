internal import COpenSSL
import Foundation

/// An RFC 6960 OCSPRequest for one certificate (CertID with SHA-1, which every responder
/// understands, §4.1.1) with a random 16-byte nonce (§4.4.1).
public final class OCSPRequest: @unchecked Sendable {
    let ref: OpaquePointer
    public let der: [UInt8]

    public init(certificate: Certificate, issuer: Certificate) throws {
        guard let request = OCSP_REQUEST_new() else { throw CryptoError(.internalFailure, "OCSP_REQUEST_new failed") }
        guard let id = OCSP_cert_to_id(EVP_sha1(), certificate.ref, issuer.ref) else {
            OCSP_REQUEST_free(request)
            throw CryptoError.fromQueue(.internalFailure, "cannot make an OCSP CertID for \(certificate.subject)")
        }
        guard OCSP_request_add0_id(request, id) != nil else {
            OCSP_CERTID_free(id)
            OCSP_REQUEST_free(request)
            throw CryptoError.fromQueue(.internalFailure, "cannot build an OCSP request")
        }
        guard OCSP_request_add1_nonce(request, nil, -1) == 1 else {
            OCSP_REQUEST_free(request)
            throw CryptoError.fromQueue(.internalFailure, "cannot add a nonce to an OCSP request")
        }
        ref = request
        der = derEncode { i2d_OCSP_REQUEST(request, $0) }
    }

    deinit { OCSP_REQUEST_free(ref) }
}

extension OCSPResponse {
    /// The certificate that signed the response, found among its own certificates or `extra`.
    public func signerCertificate(extra: [Certificate]) -> Certificate? {
        let stack = CertificateStack(extra)
        return withExtendedLifetime(stack) {
            var signer: OpaquePointer?
            let found = OCSP_resp_get0_signer(basic, &signer, stack.ref) == 1
            OpenSSLErrorQueue.clear()
            guard found, let signer else { return nil }
            return Certificate(copying: signer)
        }
    }

    public enum NonceCheck: Sendable { case matches, absentFromResponse, mismatch }

    /// Whether the response echoes `request`'s nonce (RFC 6960 §4.4.1; a responder may leave it out).
    public func nonce(answering request: OCSPRequest) -> NonceCheck {
        let result = OCSP_check_nonce(request.ref, basic)
        OpenSSLErrorQueue.clear()
        // 1: both present and equal; -1: only in the request (the responder left it out, as RFC
        // 5019 responders serving pre-produced responses do); 2: in neither; 3: only in the
        // response; 0: both present and different. Only 1 binds the answer to this request.
        switch result {
        case 1: return .matches
        case 0: return .mismatch
        default: return .absentFromResponse
        }
    }
}
