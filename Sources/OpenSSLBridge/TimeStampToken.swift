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

    /// Certificates carried in the token.
    public var certificates: [Certificate] { (try? SignedData(bytes: der))?.certificates ?? [] }

    /// The TSA certificate that signed the token, found among the token's and `extra` certificates.
    public func signerCertificate(extra: [Certificate]) -> Certificate? {
        guard let signed = try? SignedData(bytes: der) else { return nil }
        let verification = signed.verifySigners(content: .embedded, extraCertificates: extra)
        return verification.first?.signerCertificate
    }

    /// Checks the token's signature, its ESS signing-certificate binding and that the TSA
    /// certificate chains to `anchors` with a critical id-kp-timeStamping EKU. Validity periods are
    /// not checked here: the caller decides them at the time the evidence proves.
    public func verifySignature(untrusted: [Certificate], anchors: TrustAnchors,
                                allowPartialChain: Bool = false) -> (ok: Bool, detail: String) {
        guard let context = TS_VERIFY_CTX_new() else { return (false, "out of memory") }
        defer { TS_VERIFY_CTX_free(context) }
        guard let store = X509_STORE_new() else { return (false, "out of memory") }
        switch anchors {
        case .certificates(let list): for anchor in list { _ = X509_STORE_add_cert(store, anchor.ref) }
        case .system: _ = X509_STORE_set_default_paths(store)
        }
        var flags = UInt(X509_V_FLAG_NO_CHECK_TIME)
        if allowPartialChain { flags |= UInt(X509_V_FLAG_PARTIAL_CHAIN) }
        _ = X509_STORE_set_flags(store, flags)
        _ = TS_VERIFY_CTX_set_store(context, store)
        _ = TS_VERIFY_CTX_set_certs(context, CertificateStack(untrusted).releaseOwnership())
        _ = TS_VERIFY_CTX_set_flags(context, Int32(TS_VFY_SIGNATURE | TS_VFY_VERSION))
        OpenSSLErrorQueue.clear()
        guard let token else { return verifyThroughCMS(untrusted: untrusted, anchors: anchors, allowPartialChain: allowPartialChain) }
        if TS_RESP_verify_token(context, token) == 1 { return (true, "ok") }
        let detail = OpenSSLErrorQueue.drain()
        if detail.contains("unsupported") || detail.contains("pss") || detail.contains("PSS") {
            // The PKCS7 layer mishandles RSASSA-PSS; the CMS layer does not.
            return verifyThroughCMS(untrusted: untrusted, anchors: anchors, allowPartialChain: allowPartialChain)
        }
        return (false, detail)
    }

    /// Verification through the CMS layer: the SignerInfo's signature over the TSTInfo, and the TSA
    /// chain with OpenSSL's time-stamping purpose (critical id-kp-timeStamping). The ESS
    /// signing-certificate attribute is not checked on this path, and the result says so.
    private func verifyThroughCMS(untrusted: [Certificate], anchors: TrustAnchors, allowPartialChain: Bool) -> (ok: Bool, detail: String) {
        guard let signed = try? SignedData(bytes: der) else { return (false, "the token is not a CMS SignedData") }
        let results = signed.verifySigners(content: .embedded, extraCertificates: untrusted)
        guard results.count == 1, let signer = results[0].signerCertificate else {
            return (false, "a time-stamp token must have exactly one signer with its certificate")
        }
        guard results[0].outcome == .intact else { return (false, "the token's signature does not verify: \(results[0].outcome)") }
        let chain = ChainBuilder.build(leaf: signer, untrusted: untrusted + signed.certificates, anchors: anchors, purpose: .timeStamping,
                                       at: nil, allowPartialChain: allowPartialChain)
        guard chain.ok else { return (false, "TSA chain: \(chain.errorText)") }
        return (true, "ok (verified through CMS; ESS signing-certificate not checked)")
    }
}
