import Foundation
import OpenSSLBridge
import SigVaultFormat

/// The cryptographic constraints of docs/ALGORITHMS.md (after ETSI TS 119 312 V2.1.1): for each
/// digest algorithm, key type and key size, the **sunset**, the date from which it no longer proves
/// anything on its own. A use of it counts only with a proof of existence from before that date
/// (ETSI EN 319 102-1 §5.2.8, §5.6.2.3). A test keeps the documented tables and these equal.
public enum AlgorithmSunsets {
    /// The hash algorithms SigVault computes itself (message imprints, hash trees).
    public static let table: [HashAlgorithm: Date?] = [
        .sha1: date("2012-08-01"),
        .sha224: date("2026-01-01"),
        .sha256: nil,
        .sha384: nil,
        .sha512: nil,
    ]

    /// Digest algorithms by OpenSSL's lower-case short name, as signatures, certificates and
    /// revocation data name them. A name not listed has no date.
    public static let digests: [String: Date?] = [
        "md5": date("2004-08-01"),
        "sha1": date("2012-08-01"),
        "ripemd160": date("2014-08-01"),
        "sha224": date("2026-01-01"),
        "sha256": nil, "sha384": nil, "sha512": nil,
        "sha3-256": nil, "sha3-384": nil, "sha3-512": nil,
    ]

    /// RSA (PKCS#1 v1.5 and PSS alike) and DSA key sizes: the sunset of keys of at least `bits`
    /// and fewer than the next row's.
    public static let rsaKeys: [(bits: Int, sunset: Date?)] = [
        (0, date("2010-08-01")), (1024, date("2019-10-01")), (1900, date("2027-01-01")), (3000, nil),
    ]
    public static let dsaKeys: [(bits: Int, sunset: Date?)] = [
        (0, date("2015-12-01")), (1900, date("2027-01-01")), (3000, nil),
    ]
    /// Elliptic-curve keys by field size; the named curves of TS 119 312 Table 3 (P-256, P-384,
    /// P-521, brainpoolP256r1/P384r1/P512r1, FRP256v1) are all at least 256 bits.
    public static let ecKeys: [(bits: Int, sunset: Date?)] = [
        (0, date("2012-08-01")), (224, date("2021-10-01")), (256, nil),
    ]

    private static func date(_ day: String) -> Date? { ISOTime.parse(day + "T00:00:00Z") }

    /// The sunset of `algorithm`, or nil when none is set.
    public static func sunset(of algorithm: HashAlgorithm) -> Date? { table[algorithm] ?? nil }

    /// The sunset of the digest named `name` (OpenSSL's short name), or nil when none is set.
    public static func sunset(ofDigestNamed name: String) -> Date? { digests[name.lowercased()] ?? nil }

    /// The sunset of a key, or nil when none is set (Ed25519 and Ed448 are recommended).
    public static func sunset(of key: PublicKeyFacts) -> Date? {
        func row(_ rows: [(bits: Int, sunset: Date?)]) -> Date? { rows.last { $0.bits <= key.bits }?.sunset ?? nil }
        switch key.kind {
        case .rsa, .rsaPSS: return row(rsaKeys)
        case .dsa: return row(dsaKeys)
        case .ec: return row(ecKeys)
        case .ed25519, .ed448, .other: return nil
        }
    }

    /// One algorithm of a signature that has a sunset: what it is, and the date.
    public struct Limit: Sendable {
        public let what: String
        public let sunset: Date
    }

    /// The earliest sunset among a signature's digest and its signing key, nil when neither has one.
    public static func limit(digest: String?, key: PublicKeyFacts?) -> Limit? {
        var limits: [Limit] = []
        if let digest, let sunset = sunset(ofDigestNamed: digest) { limits.append(Limit(what: "the \(digest.uppercased()) digest", sunset: sunset)) }
        if let key, let sunset = sunset(of: key) { limits.append(Limit(what: "the \(key) key", sunset: sunset)) }
        return limits.min { $0.sunset < $1.sunset }
    }

    /// The earliest sunset among the signatures of `chain` (leaf first): each certificate's own
    /// signature, by its issuer's key, for the certificates below the anchor (the first
    /// `checkedCount`).
    public static func limit(chain: [Certificate], checkedCount: Int) -> (Limit, Certificate)? {
        var found: (Limit, Certificate)?
        for index in 0..<max(0, min(checkedCount, chain.count - 1)) {
            let certificate = chain[index]
            guard let limit = limit(digest: certificate.signatureDigestName, key: chain[index + 1].publicKeyFacts) else { continue }
            if found == nil || limit.sunset < found!.0.sunset { found = (limit, certificate) }
        }
        return found
    }

    /// Until when a time-stamp protects what it covers: the earliest expiry among `tsaCertificates`
    /// (its TSA chain below the anchor), the sunset of its hash `algorithm`, and the sunsets of the
    /// TSA's key and of the chain's signatures; nil when none sets a date. verify's `renewBefore` and
    /// `renew --before` both count it so.
    public static func protectedUntil(tsaCertificates: [Certificate], algorithm: HashAlgorithm, anchor: Certificate? = nil) -> Date? {
        var dates = tsaCertificates.map(\.notAfter) + [sunset(of: algorithm)].compactMap { $0 }
        if let key = tsaCertificates.first?.publicKeyFacts, let sunset = sunset(of: key) { dates.append(sunset) }
        let chain = tsaCertificates + (anchor.map { [$0] } ?? [])
        if let (limit, _) = limit(chain: chain, checkedCount: tsaCertificates.count) { dates.append(limit.sunset) }
        return dates.min()
    }
}
