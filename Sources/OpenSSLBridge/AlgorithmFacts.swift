internal import COpenSSL
import Foundation

/// What a public key is, as the cryptographic-constraints table (docs/ALGORITHMS.md) asks it.
public struct PublicKeyFacts: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case rsa = "RSA", rsaPSS = "RSA-PSS", dsa = "DSA", ec = "EC", ed25519 = "Ed25519", ed448 = "Ed448", other
    }
    public let kind: Kind
    /// The key size in bits (an RSA modulus, a DSA p, an EC field).
    public let bits: Int
    /// The named curve of an EC key (OpenSSL's name: `prime256v1`, `secp384r1`, `brainpoolP256r1`…).
    public let curve: String?

    public var description: String {
        switch kind {
        case .ec: return "EC \(curve ?? "unnamed curve")"
        case .ed25519, .ed448: return kind.rawValue
        default: return "\(kind.rawValue) \(bits) bits"
        }
    }

    init?(_ key: OpaquePointer?) {
        guard let key else { return nil }
        let id = EVP_PKEY_get_base_id(key)
        switch id {
        case EVP_PKEY_RSA: kind = .rsa
        case EVP_PKEY_RSA_PSS: kind = .rsaPSS
        case EVP_PKEY_DSA: kind = .dsa
        case EVP_PKEY_EC: kind = .ec
        case EVP_PKEY_ED25519: kind = .ed25519
        case EVP_PKEY_ED448: kind = .ed448
        default: kind = .other
        }
        bits = Int(EVP_PKEY_get_bits(key))
        if kind == .ec {
            var name = [CChar](repeating: 0, count: 80)
            var length = 0
            curve = EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        } else {
            curve = nil
        }
        OpenSSLErrorQueue.clear()
    }
}

/// The digest algorithm of a signature algorithm NID, as OpenSSL's lower-case short name
/// (`sha256`, `sha1`, `md5`); nil when the algorithm has none of its own (Ed25519) or is unknown.
func digestName(ofSignatureNID nid: Int32) -> String? {
    var digest: Int32 = 0
    var key: Int32 = 0
    guard nid != NID_undef, OBJ_find_sigid_algs(nid, &digest, &key) == 1, digest != NID_undef,
          let name = OBJ_nid2sn(digest) else { return nil }
    return String(cString: name).lowercased()
}

extension Certificate {
    /// The certificate's public key.
    public var publicKeyFacts: PublicKeyFacts? { PublicKeyFacts(X509_get0_pubkey(ref)) }

    /// The digest of the issuer's signature over this certificate (OpenSSL's lower-case short
    /// name; RSASSA-PSS parameters decoded), nil when none or unknown.
    public var signatureDigestName: String? {
        var digest: Int32 = NID_undef
        var key: Int32 = 0
        var securityBits: Int32 = 0
        var flags: UInt32 = 0
        defer { OpenSSLErrorQueue.clear() }
        guard X509_get_signature_info(ref, &digest, &key, &securityBits, &flags) == 1, digest != NID_undef,
              let name = OBJ_nid2sn(digest) else { return nil }
        return String(cString: name).lowercased()
    }
}

extension RevocationList {
    /// The digest of the CRL issuer's signature, nil when none or unknown.
    public var signatureDigestName: String? { digestName(ofSignatureNID: X509_CRL_get_signature_nid(ref)) }
}

extension OCSPResponse {
    /// The digest of the responder's signature, nil when none or unknown.
    public var signatureDigestName: String? {
        guard let algorithm = OCSP_resp_get0_tbs_sigalg(basic) else { return nil }
        var object: OpaquePointer?
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        return digestName(ofSignatureNID: OBJ_obj2nid(object))
    }
}
