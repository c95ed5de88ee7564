internal import COpenSSL
import Foundation

/// An RFC 3161 TimeStampToken (a CMS SignedData over a TSTInfo).
public final class TimeStampToken: @unchecked Sendable {
    /// OpenSSL's PKCS7 view, when its (stricter) parser accepts the token; nil when only the CMS
    /// parser does (tokens with OCSP responses or attribute certificates in unsigned parts).
    let token: UnsafeMutablePointer<PKCS7>?
    let info: OpaquePointer   // TS_TST_INFO

    deinit {
        TS_TST_INFO_free(info)
        if let token { PKCS7_free(token) }
    }

    /// DER of the token's ContentInfo.
    public let der: [UInt8]

    /// Parses a bare token (ContentInfo) or a TimeStampResp whose status is granted.
    public init(responseOrToken bytes: [UInt8]) throws {
        var tokenDER = bytes
        let response = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_TS_RESP(nil, &cursor, buffer.count)
        }
        if let response {
            defer { TS_RESP_free(response) }
            let status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(response)))
            guard status == 0 || status == 1 else {
                throw CryptoError(.malformed, "time-stamp response status is \(status), not granted")
            }
            guard let inner = TS_RESP_get_token(response) else {
                throw CryptoError(.malformed, "time-stamp response carries no token")
            }
            tokenDER = derEncode { i2d_PKCS7(inner, $0) }
        } else if let (status, inner) = TimeStampToken.splitResponse(bytes) {
            // A TimeStampResp whose token OpenSSL's PKCS7 parser refuses.
            guard status == 0 || status == 1 else {
                throw CryptoError(.malformed, "time-stamp response status is \(status), not granted")
            }
            tokenDER = inner
        }
        OpenSSLErrorQueue.clear()
        let parsed = tokenDER.withUnsafeBufferPointer { buffer -> UnsafeMutablePointer<PKCS7>? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PKCS7(nil, &cursor, buffer.count)
        }
        if let parsed, let info = PKCS7_to_TS_TST_INFO(parsed) {
            self.token = parsed
            self.info = info
        } else {
            if let parsed { PKCS7_free(parsed) }
            OpenSSLErrorQueue.clear()
            // The CMS parser copes with what the PKCS7 layer rejects.
            guard let signed = try? SignedData(bytes: tokenDER) else {
                throw CryptoError.fromQueue(.malformed, "not an RFC 3161 time-stamp token or response")
            }
            guard signed.encapsulatedContentType == "1.2.840.113549.1.9.16.1.4", let content = signed.embeddedContent else {
                throw CryptoError(.malformed, "the CMS does not encapsulate a TSTInfo")
            }
            let info = content.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_TS_TST_INFO(nil, &cursor, buffer.count)
            }
            guard let info else { throw CryptoError.fromQueue(.malformed, "time-stamp token has no valid TSTInfo") }
            self.token = nil
            self.info = info
        }
        self.der = tokenDER
    }

    /// Splits a TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo } with
    /// OpenSSL's generic DER parser; returns the status and the token's DER.
    private static func splitResponse(_ bytes: [UInt8]) -> (Int, [UInt8])? {
        /// The elements of a DER SEQUENCE (owned stack; free with sv_sk_ASN1_TYPE_pop_free).
        func sequence(_ der: [UInt8]) -> OpaquePointer? {
            der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_ASN1_SEQUENCE_ANY(nil, &cursor, buffer.count)
            }
        }
        defer { OpenSSLErrorQueue.clear() }
        guard let outer = sequence(bytes) else { return nil }
        defer { sv_sk_ASN1_TYPE_pop_free(outer) }
        guard sv_sk_ASN1_TYPE_num(outer) == 2, let statusInfo = sv_sk_ASN1_TYPE_value(outer, 0),
              let token = sv_sk_ASN1_TYPE_value(outer, 1),
              ASN1_TYPE_get(statusInfo) == V_ASN1_SEQUENCE, ASN1_TYPE_get(token) == V_ASN1_SEQUENCE else { return nil }
        let statusDER = derEncode { i2d_ASN1_TYPE(statusInfo, $0) }
        guard let inner = sequence(statusDER) else { return nil }
        defer { sv_sk_ASN1_TYPE_pop_free(inner) }
        guard sv_sk_ASN1_TYPE_num(inner) >= 1, let first = sv_sk_ASN1_TYPE_value(inner, 0), ASN1_TYPE_get(first) == V_ASN1_INTEGER else {
            return nil
        }
        let integerDER = derEncode { i2d_ASN1_TYPE(first, $0) }
        let status = integerDER.withUnsafeBufferPointer { buffer -> Int in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let integer = d2i_ASN1_INTEGER(nil, &cursor, buffer.count) else { return -1 }
            defer { ASN1_INTEGER_free(integer) }
            return Int(ASN1_INTEGER_get(integer))
        }
        return (status, derEncode { i2d_ASN1_TYPE(token, $0) })
    }

    public var genTime: Date { dateFromASN1Time(TS_TST_INFO_get_time(info)) ?? .distantFuture }

    public var serialHex: String {
        guard let serial = TS_TST_INFO_get_serial(info), let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { sv_openssl_free(hex) }
        return String(cString: hex).lowercased()
    }

    public var policy: String { objectText(TS_TST_INFO_get_policy_id(info), numeric: true) }

    /// The hash algorithm of the message imprint, as OpenSSL names it.
    public var imprintAlgorithmName: String {
        guard let imprint = TS_TST_INFO_get_msg_imprint(info), let algorithm = TS_MSG_IMPRINT_get_algo(imprint) else { return "" }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        return objectText(object)
    }

    public var imprintAlgorithm: HashAlgorithm? { HashAlgorithm(openSSLName: imprintAlgorithmName) }

    public var imprint: [UInt8] {
        guard let imprint = TS_TST_INFO_get_msg_imprint(info), let octets = TS_MSG_IMPRINT_get_msg(imprint) else { return [] }
        return bytesOf(UnsafePointer(octets))
    }

    /// The digest algorithm of the token's SignerInfo (OpenSSL's short name, lower case).
    public var signerDigestName: String? {
        (try? SignedData(bytes: der))?.describeSigner(0).map { $0.digestAlgorithm.lowercased() }
    }

    /// Certificates carried in the token.
    public var certificates: [Certificate] { (try? SignedData(bytes: der))?.certificates ?? [] }

    /// The TSA certificate that signed the token, found among the token's and `extra` certificates.
    public func signerCertificate(extra: [Certificate]) -> Certificate? {
        guard let signed = try? SignedData(bytes: der) else { return nil }
        let verification = signed.verifySigners(content: .embedded, extraCertificates: extra)
        return verification.first?.signerCertificate
    }

    /// Why a token's signature does not stand, decided from its structure (never from OpenSSL's
    /// message text).
    public enum SignatureFailure: Sendable, Equatable {
        /// Not one SignerInfo over an id-ct-TSTInfo, or a TSTInfo version other than 1.
        case malformed
        /// No certificate for the SignerInfo among the token's and the given ones.
        case signerNotFound
        /// Certificates match the SignerInfo, but its ESS signing-certificate attribute names none.
        case signingCertificateMismatch
        /// No ESS signing-certificate attribute (RFC 3161 §2.4.2 requires one).
        case signingCertificateMissing
        /// The signature value does not verify, or the signer's key cannot be used.
        case signature
        /// The TSA certificate has no critical id-kp-timeStamping as its only extended key usage.
        case keyUsage
        /// No path to an anchor for the TSA certificate.
        case chain
    }

    public struct SignatureCheck: Sendable {
        public let failure: SignatureFailure?
        public let detail: String
        /// The TSA certificate the SignerInfo resolved to (the one its ESS attribute names).
        public let signer: Certificate?
        public var ok: Bool { failure == nil }
    }

    /// Checks the token through OpenSSL's CMS layer, whatever its signature algorithm (PKCS#1 v1.5,
    /// RSASSA-PSS, ECDSA) or unsigned parts: exactly one SignerInfo over an id-ct-TSTInfo of
    /// version 1, its certificate among the token's and `untrusted` (the one its ESS
    /// signing-certificate attribute names, which must be present), its signature, the TSA
    /// certificate's critical id-kp-timeStamping, and a path to `anchors` (validity periods are
    /// not checked here: the caller decides them at the time the evidence proves).
    public func verifySignature(untrusted: [Certificate], anchors: TrustAnchors,
                                allowPartialChain: Bool = false) -> SignatureCheck {
        func failed(_ failure: SignatureFailure, _ detail: String, _ signer: Certificate? = nil) -> SignatureCheck {
            SignatureCheck(failure: failure, detail: detail, signer: signer)
        }
        guard let signed = try? SignedData(bytes: der), signed.encapsulatedContentType == "1.2.840.113549.1.9.16.1.4" else {
            return failed(.malformed, "the token is not a CMS SignedData over an id-ct-TSTInfo")
        }
        guard TS_TST_INFO_get_version(info) == 1 else { return failed(.malformed, "the TSTInfo version is not 1") }
        let results = signed.verifySigners(content: .embedded, extraCertificates: untrusted)
        guard results.count == 1 else { return failed(.malformed, "a time-stamp token must have exactly one SignerInfo, this one has \(results.count)") }
        let result = results[0]
        switch result.outcome {
        case .intact: break
        case .signerCertificateNotFound:
            return failed(.signerNotFound, "the TSA certificate is neither in the token nor among the certificates given")
        case .signingCertificateMismatch(let detail):
            return failed(.signingCertificateMismatch, detail)
        default:
            return failed(.signature, "the token's signature does not verify: \(result.outcome)", result.signerCertificate)
        }
        guard let tsa = result.signerCertificate else { return failed(.signerNotFound, "the TSA certificate is not available") }
        guard signed.signingCertificateCheck(signer: 0, tsa) == .matches else {
            return failed(.signingCertificateMissing, "the token has no ESS signing-certificate attribute (RFC 3161 §2.4.2)", tsa)
        }
        guard tsa.hasCriticalTimeStampingUsage else {
            return failed(.keyUsage, "TSA certificate lacks a critical timeStamping extended key usage", tsa)
        }
        let chain = ChainBuilder.build(leaf: tsa, untrusted: untrusted + signed.certificates, anchors: anchors, purpose: .timeStamping,
                                       at: nil, allowPartialChain: allowPartialChain)
        guard chain.ok else { return failed(.chain, "TSA chain: \(chain.errorText)", tsa) }
        return SignatureCheck(failure: nil, detail: "ok", signer: tsa)
    }
}
