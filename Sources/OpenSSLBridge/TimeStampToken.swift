internal import COpenSSL
import Foundation

/// An RFC 3161 TimeStampToken (a CMS SignedData over a TSTInfo).
public final class TimeStampToken: @unchecked Sendable {
    let token: UnsafeMutablePointer<PKCS7>
    let info: OpaquePointer   // TS_TST_INFO

    deinit {
        TS_TST_INFO_free(info)
        PKCS7_free(token)
    }

    /// DER of the token's ContentInfo.
    public let der: [UInt8]
    /// Whether the bytes parsed were a whole TimeStampResp rather than a bare token.
    public let wasResponse: Bool

    /// Parses a bare token (ContentInfo) or a TimeStampResp whose status is granted.
    public init(responseOrToken bytes: [UInt8]) throws {
        var tokenDER = bytes
        var wasResponse = false
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
            wasResponse = true
        }
        OpenSSLErrorQueue.clear()
        let parsed = tokenDER.withUnsafeBufferPointer { buffer -> UnsafeMutablePointer<PKCS7>? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_PKCS7(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw CryptoError.fromQueue(.malformed, "not an RFC 3161 time-stamp token or response") }
        guard let info = PKCS7_to_TS_TST_INFO(parsed) else {
            PKCS7_free(parsed)
            throw CryptoError.fromQueue(.malformed, "time-stamp token has no TSTInfo")
        }
        self.token = parsed
        self.info = info
        self.der = tokenDER
        self.wasResponse = wasResponse
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
        if TS_RESP_verify_token(context, token) == 1 { return (true, "ok") }
        return (false, OpenSSLErrorQueue.drain())
    }
}
