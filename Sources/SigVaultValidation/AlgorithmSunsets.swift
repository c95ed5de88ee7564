import Foundation
import OpenSSLBridge
import SigVaultFormat

/// The hash algorithms' sunset dates of docs/ALGORITHMS.md (ETSI TS 119 312 V2.1.1): the date from
/// which evidence hashed with an algorithm must have been renewed. A test keeps the two equal.
public enum AlgorithmSunsets {
    public static let table: [HashAlgorithm: Date?] = [
        .sha1: ISOTime.parse("2012-08-01T00:00:00Z"),
        .sha224: ISOTime.parse("2026-01-01T00:00:00Z"),
        .sha256: nil,
        .sha384: nil,
        .sha512: nil,
    ]

    /// The sunset of `algorithm`, or nil when none is set.
    public static func sunset(of algorithm: HashAlgorithm) -> Date? { table[algorithm] ?? nil }

    /// Until when a time-stamp protects what it covers: the earliest expiry among `tsaCertificates`
    /// (its TSA chain below the anchor) and the sunset of its hash `algorithm`; nil when neither
    /// sets a date. verify's `renewBefore` and `renew --before` both count it so.
    public static func protectedUntil(tsaCertificates: [Certificate], algorithm: HashAlgorithm) -> Date? {
        (tsaCertificates.map(\.notAfter) + [sunset(of: algorithm)].compactMap { $0 }).min()
    }
}
