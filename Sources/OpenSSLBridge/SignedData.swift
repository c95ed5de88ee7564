internal import COpenSSL
import Foundation

/// Where a signature's signed content comes from.
public enum SignedContent: Sendable {
    /// The content encapsulated in the CMS (enveloping signature).
    case embedded
    /// Detached content read from a file, streamed.
    case file(String)
    /// The same, for a file whose name is not UTF-8 (raw bytes, no NUL).
    case rawPath([UInt8])
    /// Detached content in memory.
    case bytes([UInt8])
}

/// A CMS SignedData (RFC 5652 §5) in a ContentInfo.
public final class SignedData: @unchecked Sendable {
    let ref: OpaquePointer

    init(takingOwnership ref: OpaquePointer) { self.ref = ref }
    deinit { CMS_ContentInfo_free(ref) }

    /// Parses DER or PEM (`-----BEGIN CMS-----` / `PKCS7`).
    public convenience init(bytes: [UInt8]) throws {
        var parsed: OpaquePointer?
        if looksLikePEM(bytes) {
            let bio = try BIORef(copying: bytes)
            parsed = PEM_read_bio_CMS(bio.ref, nil, nil, nil)
        } else {
            parsed = bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
                return d2i_CMS_ContentInfo(nil, &cursor, buffer.count)
            }
        }
        guard let parsed else { throw CryptoError.fromQueue(.malformed, "not a CMS ContentInfo") }
        guard OBJ_obj2nid(CMS_get0_type(parsed)) == NID_pkcs7_signed else {
            CMS_ContentInfo_free(parsed)
            throw CryptoError(.unsupported, "CMS content type is not id-signedData")
        }
        self.init(takingOwnership: parsed)
    }

    public var isDetached: Bool { CMS_is_detached(ref) == 1 }

    /// eContentType as a dotted OID.
    public var encapsulatedContentType: String { objectText(CMS_get0_eContentType(ref), numeric: true) }

    /// The encapsulated content, when the signature is enveloping.
    public var embeddedContent: [UInt8]? {
        guard !isDetached, let pointer = CMS_get0_content(ref), let octets = pointer.pointee else { return nil }
        return bytesOf(UnsafePointer(octets))
    }

    public var certificates: [Certificate] {
        guard let stack = CMS_get1_certs(ref) else { return [] }
        defer { sv_sk_X509_pop_free(stack) }
        return CertificateStack.certificates(in: stack)
    }

    public var revocationLists: [RevocationList] {
        guard let stack = CMS_get1_crls(ref) else { return [] }
        defer { sv_sk_X509_CRL_pop_free(stack) }
        return (0..<sv_sk_X509_CRL_num(stack)).compactMap { index in
            guard let crl = sv_sk_X509_CRL_value(stack, index) else { return nil }
            X509_CRL_up_ref(crl)
            return RevocationList(takingOwnership: crl)
        }
    }

    private var signerStack: OpaquePointer? { CMS_get0_SignerInfos(ref) }

    public var signerCount: Int { signerStack.map { Int(sv_sk_CMS_SignerInfo_num($0)) } ?? 0 }

    private func signerInfo(_ index: Int) -> OpaquePointer? {
        guard let stack = signerStack else { return nil }
        return sv_sk_CMS_SignerInfo_value(stack, Int32(index))
    }

    /// Facts about one SignerInfo that do not need verification.
    public struct SignerDescription: Sendable {
        public let index: Int
        public let digestAlgorithm: String
        public let signatureAlgorithm: String
        public let signatureValue: [UInt8]
        public let hasSignedAttributes: Bool
        public let claimedSigningTime: Date?
        /// DER ContentInfo of each id-aa-signatureTimeStampToken unsigned attribute value.
        public let signatureTimeStampTokens: [[UInt8]]
        /// How many id-countersignature (RFC 5652 §11.4) values the unsigned attributes hold.
        public let counterSignatureCount: Int
    }

    public func describeSigner(_ index: Int) -> SignerDescription? {
        guard let si = signerInfo(index) else { return nil }
        var digestAlgorithm: UnsafeMutablePointer<X509_ALGOR>?
        var signatureAlgorithm: UnsafeMutablePointer<X509_ALGOR>?
        CMS_SignerInfo_get0_algs(si, nil, nil, &digestAlgorithm, &signatureAlgorithm)
        let signature = CMS_SignerInfo_get0_signature(si).map { bytesOf(UnsafePointer($0)) } ?? []
        var tokens: [[UInt8]] = []
        var position: Int32 = -1
        while true {
            position = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, position)
            if position < 0 { break }
            guard let attribute = CMS_unsigned_get_attr(si, position) else { continue }
            for valueIndex in 0..<X509_ATTRIBUTE_count(attribute) {
                guard let value = X509_ATTRIBUTE_get0_type(attribute, valueIndex) else { continue }
                tokens.append(derEncode { i2d_ASN1_TYPE(value, $0) })
            }
        }
        var counterSignatures = 0
        position = -1
        while true {
            position = CMS_unsigned_get_attr_by_NID(si, NID_pkcs9_countersignature, position)
            if position < 0 { break }
            if let attribute = CMS_unsigned_get_attr(si, position) { counterSignatures += Int(X509_ATTRIBUTE_count(attribute)) }
        }
        OpenSSLErrorQueue.clear()
        return SignerDescription(
            index: index,
            digestAlgorithm: algorithmName(digestAlgorithm),
            signatureAlgorithm: algorithmName(signatureAlgorithm),
            signatureValue: signature,
            hasSignedAttributes: CMS_signed_get_attr_count(si) >= 0,
            claimedSigningTime: signingTime(si),
            signatureTimeStampTokens: tokens,
            counterSignatureCount: counterSignatures)
    }

    private func algorithmName(_ algorithm: UnsafeMutablePointer<X509_ALGOR>?) -> String {
        guard let algorithm else { return "" }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        return objectText(object)
    }

    private func signingTime(_ si: OpaquePointer) -> Date? {
        let index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)
        guard index >= 0, let attribute = CMS_signed_get_attr(si, index),
              let value = X509_ATTRIBUTE_get0_type(attribute, 0) else { return nil }
        let der = derEncode { i2d_ASN1_TYPE(value, $0) }
        return der.withUnsafeBufferPointer { buffer -> Date? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let time = d2i_ASN1_TIME(nil, &cursor, buffer.count) else { OpenSSLErrorQueue.clear(); return nil }
            defer { ASN1_TIME_free(time) }
            return dateFromASN1Time(UnsafePointer(time))
        }
    }

    /// The outcome of verifying one SignerInfo cryptographically.
    public enum SignerOutcome: Equatable, Sendable {
        case intact
        /// The message-digest attribute (or the digest under the signature) does not match the content.
        case digestMismatch(String)
        /// The signature value does not verify with the signer's key.
        case signatureInvalid(String)
        /// Signed attributes are malformed (RFC 5652 §5.3 and §11).
        case malformedAttributes(String)
        case signerCertificateNotFound
        /// Certificates match the SignerInfo's identifier, but none is the one its ESS
        /// signing-certificate attribute names by hash (and issuer and serial): ETSI EN 319 102-1
        /// §5.2.3, RFC 5035.
        case signingCertificateMismatch(String)
        case contentUnavailable(String)
        /// OpenSSL cannot use the signer's key or algorithm (e.g. DSA parameters inherited from the
        /// issuer): nothing was proven either way.
        case unsupportedKeyOrAlgorithm(String)
    }

    private static func unsupported(_ detail: String) -> Bool {
        detail.contains("unsupported algorithm") || detail.contains("decode error") || detail.contains("unknown algorithm")
            || detail.contains("unsupported public key")
    }

    /// What a SignerInfo's ESS signing-certificate (v1 or v2) attribute says of a certificate.
    public enum SigningCertificateCheck: Sendable, Equatable {
        /// Neither attribute is present.
        case absent
        /// Its first ESSCertID names the certificate (hash, and issuerSerial when present).
        case matches
        case mismatch
    }

    /// The check of `certificate` against SignerInfo #`index`'s signing-certificate attributes.
    public func signingCertificateCheck(signer index: Int, _ certificate: Certificate) -> SigningCertificateCheck {
        guard let si = signerInfo(index) else { return .absent }
        return signingCertificateCheck(si, certificate)
    }

    /// OpenSSL's own ESS check (OSSL_ESS_check_signing_certs, as TS_RESP_verify_token uses it), on
    /// the certificate alone: the first ESSCertID of each attribute present must name it. An
    /// attribute that does not decode names nothing.
    private func signingCertificateCheck(_ si: OpaquePointer, _ certificate: Certificate) -> SigningCertificateCheck {
        defer { OpenSSLErrorQueue.clear() }
        func attributeDER(_ nid: Int32) -> [UInt8]? {
            let position = CMS_signed_get_attr_by_NID(si, nid, -1)
            guard position >= 0, let attribute = CMS_signed_get_attr(si, position),
                  let value = X509_ATTRIBUTE_get0_type(attribute, 0), ASN1_TYPE_get(value) == V_ASN1_SEQUENCE,
                  let sequence = value.pointee.value.sequence else { return nil }
            return bytesOf(UnsafePointer(sequence))
        }
        let v1 = attributeDER(NID_id_smime_aa_signingCertificate)
        let v2 = attributeDER(NID_id_smime_aa_signingCertificateV2)
        if v1 == nil && v2 == nil { return .absent }
        let first = v1.flatMap { der in der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ESS_SIGNING_CERT(nil, &cursor, buffer.count)
        } }
        defer { if let first { ESS_SIGNING_CERT_free(first) } }
        let second = v2.flatMap { der in der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ESS_SIGNING_CERT_V2(nil, &cursor, buffer.count)
        } }
        defer { if let second { ESS_SIGNING_CERT_V2_free(second) } }
        if (v1 != nil && first == nil) || (v2 != nil && second == nil) { return .mismatch }
        let chain = CertificateStack([certificate])
        let result = withExtendedLifetime(chain) { OSSL_ESS_check_signing_certs(first, second, chain.ref, 0) }
        return result == 1 ? .matches : .mismatch
    }

    public struct SignerVerification: Sendable {
        public let index: Int
        public let signerCertificate: Certificate?
        public let outcome: SignerOutcome
    }

    /// Verifies every SignerInfo on its own, so one bad signer cannot hide a good one. The content
    /// is streamed once through all digest algorithms.
    public func verifySigners(content: SignedContent, extraCertificates: [Certificate]) -> [SignerVerification] {
        let count = signerCount
        guard count > 0 else { return [] }
        let candidates = certificates + extraCertificates
        var signers: [Certificate?] = []
        var outcomes: [SignerOutcome?] = Array(repeating: nil, count: count)
        for index in 0..<count {
            guard let si = signerInfo(index) else { signers.append(nil); continue }
            // Every certificate that matches the identifier (a key certified twice shares its
            // subjectKeyIdentifier): the one the ESS attribute names, if it names one.
            let matching = candidates.filter { CMS_SignerInfo_cert_cmp(si, $0.ref) == 0 }
            let match = matching.first { signingCertificateCheck(si, $0) != .mismatch }
            signers.append(match)
            guard let match else {
                outcomes[index] = matching.isEmpty ? .signerCertificateNotFound
                    : .signingCertificateMismatch("the ESS signing-certificate attribute names none of the \(matching.count) certificate(s) that match the signer identifier (\(matching.map { "\($0.subject) serial \($0.serialHex)" }.joined(separator: ", ")))")
                continue
            }
            CMS_SignerInfo_set1_signer_cert(si, match.ref)
            if CMS_signed_get_attr_count(si) >= 0 {
                OpenSSLErrorQueue.clear()
                if CMS_SignerInfo_verify(si) != 1 {
                    let detail = OpenSSLErrorQueue.drain()
                    outcomes[index] = SignedData.unsupported(detail) ? .unsupportedKeyOrAlgorithm(detail)
                        : detail.contains("attribute") || detail.contains("content type") ? .malformedAttributes(detail)
                        : .signatureInvalid(detail)
                }
            }
        }
        // One pass over the content computes every digest; then each signer is checked against it.
        var contentBIO: OpaquePointer?
        switch content {
        case .embedded:
            contentBIO = nil
        case .file, .rawPath:
            let path: [UInt8]
            if case .file(let text) = content { path = Array(text.utf8) } else if case .rawPath(let raw) = content { path = raw } else { path = [] }
            let bio = (path + [0]).withUnsafeBufferPointer { buffer in
                buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { BIO_new_file($0, "rb") }
            }
            guard let bio else {
                OpenSSLErrorQueue.clear()
                let reason = String(cString: strerror(errno))
                let name = String(decoding: path, as: UTF8.self)
                return (0..<count).map { SignerVerification(index: $0, signerCertificate: signers[$0], outcome: outcomes[$0] ?? .contentUnavailable("\(name): \(reason)")) }
            }
            contentBIO = bio
        case .bytes(let bytes):
            contentBIO = try? BIORef(copying: bytes).releaseOwnership()
        }
        OpenSSLErrorQueue.clear()
        guard let chain = CMS_dataInit(ref, contentBIO) else {
            if let contentBIO { BIO_free(contentBIO) }
            let detail = OpenSSLErrorQueue.drain()
            return (0..<count).map { SignerVerification(index: $0, signerCertificate: signers[$0], outcome: outcomes[$0] ?? .contentUnavailable(detail)) }
        }
        defer { BIO_free_all(chain) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var readFailed = false
        while true {
            let read = buffer.withUnsafeMutableBytes { BIO_read(chain, $0.baseAddress, Int32($0.count)) }
            if read > 0 { continue }
            if read < 0 && BIO_test_flags(chain, BIO_FLAGS_SHOULD_RETRY) == 0 { readFailed = true }
            break
        }
        for index in 0..<count where outcomes[index] == nil {
            if readFailed { outcomes[index] = .contentUnavailable("cannot read the signed content"); continue }
            guard let si = signerInfo(index) else { continue }
            OpenSSLErrorQueue.clear()
            let result = CMS_SignerInfo_verify_content(si, chain)
            if result == 1 { outcomes[index] = .intact; continue }
            let detail = OpenSSLErrorQueue.drain()
            if SignedData.unsupported(detail) {
                outcomes[index] = .unsupportedKeyOrAlgorithm(detail)
            } else if CMS_signed_get_attr_count(si) >= 0 {
                outcomes[index] = detail.contains("attribute") ? .malformedAttributes(detail) : .digestMismatch(detail)
            } else {
                outcomes[index] = .signatureInvalid(detail)
            }
        }
        return (0..<count).map {
            SignerVerification(index: $0, signerCertificate: signers[$0], outcome: outcomes[$0] ?? .contentUnavailable("not checked"))
        }
    }
}
