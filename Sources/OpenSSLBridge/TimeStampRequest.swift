internal import COpenSSL
import Foundation

/// An RFC 3161 TimeStampReq (§2.4.1) over a hash, with a random 64-bit nonce and certReq set, as
/// `pack --tsa` and `renew` send it.
public struct TimeStampRequest: Sendable {
    public let der: [UInt8]
    /// The nonce, big-endian, without leading zero bytes.
    public let nonce: [UInt8]
    public let imprint: [UInt8]
    public let algorithm: HashAlgorithm

    public init(imprint: [UInt8], algorithm: HashAlgorithm, nonce: [UInt8]? = nil) throws {
        guard imprint.count == Hasher.digest([], algorithm).count else {
            throw CryptoError(.malformed, "a \(algorithm.rawValue) imprint has \(Hasher.digest([], algorithm).count) bytes, not \(imprint.count)")
        }
        var random = nonce ?? (0..<8).map { _ in UInt8.random(in: 0...255) }
        while random.first == 0 { random.removeFirst() }
        if random.isEmpty { random = [1] }
        self.nonce = random
        self.imprint = imprint
        self.algorithm = algorithm

        guard let request = TS_REQ_new() else { throw CryptoError(.internalFailure, "TS_REQ_new failed") }
        defer { TS_REQ_free(request) }
        guard let messageImprint = TS_MSG_IMPRINT_new() else { throw CryptoError(.internalFailure, "TS_MSG_IMPRINT_new failed") }
        defer { TS_MSG_IMPRINT_free(messageImprint) }
        guard let algorithmIdentifier = X509_ALGOR_new() else { throw CryptoError(.internalFailure, "X509_ALGOR_new failed") }
        defer { X509_ALGOR_free(algorithmIdentifier) }
        X509_ALGOR_set_md(algorithmIdentifier, algorithm.evp)
        var digest = imprint
        guard TS_REQ_set_version(request, 1) == 1,
              TS_MSG_IMPRINT_set_algo(messageImprint, algorithmIdentifier) == 1,
              TS_MSG_IMPRINT_set_msg(messageImprint, &digest, Int32(digest.count)) == 1,
              TS_REQ_set_msg_imprint(request, messageImprint) == 1,
              TS_REQ_set_cert_req(request, 1) == 1
        else { throw CryptoError.fromQueue(.internalFailure, "cannot build a time-stamp request") }
        guard let number = random.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else {
            throw CryptoError(.internalFailure, "BN_bin2bn failed")
        }
        defer { BN_free(number) }
        guard let integer = BN_to_ASN1_INTEGER(number, nil) else { throw CryptoError(.internalFailure, "BN_to_ASN1_INTEGER failed") }
        defer { ASN1_INTEGER_free(integer) }
        guard TS_REQ_set_nonce(request, integer) == 1 else { throw CryptoError.fromQueue(.internalFailure, "cannot set the nonce") }
        der = derEncode { i2d_TS_REQ(request, $0) }
    }
}

extension TimeStampToken {
    /// The TSTInfo's nonce, big-endian without leading zeros, or nil when it has none.
    public var nonce: [UInt8]? {
        guard let integer = TS_TST_INFO_get_nonce(info), let number = ASN1_INTEGER_to_BN(integer, nil) else { return nil }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        _ = BN_bn2bin(number, &bytes)
        while bytes.first == 0 { bytes.removeFirst() }
        return bytes
    }
}
