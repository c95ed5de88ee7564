/// ETSI EN 319 102-1 main indications.
public enum Indication: String, Codable, Sendable, Comparable {
    case totalPassed = "TOTAL_PASSED"
    case indeterminate = "INDETERMINATE"
    case totalFailed = "TOTAL_FAILED"

    var severity: Int {
        switch self {
        case .totalPassed: return 0
        case .indeterminate: return 1
        case .totalFailed: return 2
        }
    }

    public static func < (lhs: Indication, rhs: Indication) -> Bool { lhs.severity < rhs.severity }
}

/// ETSI EN 319 102-1 sub-indications this validator produces.
public enum SubIndication: String, Codable, Sendable {
    case formatFailure = "FORMAT_FAILURE"
    case hashFailure = "HASH_FAILURE"
    case sigCryptoFailure = "SIG_CRYPTO_FAILURE"
    case notYetValid = "NOT_YET_VALID"
    case noSigningCertificateFound = "NO_SIGNING_CERTIFICATE_FOUND"
    case noCertificateChainFound = "NO_CERTIFICATE_CHAIN_FOUND"
    case chainConstraintsFailure = "CHAIN_CONSTRAINTS_FAILURE"
    case certificateChainGeneralFailure = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    case revokedNoPOE = "REVOKED_NO_POE"
    case revokedCANoPOE = "REVOKED_CA_NO_POE"
    case outOfBoundsNoPOE = "OUT_OF_BOUNDS_NO_POE"
    case noPOE = "NO_POE"
    case tryLater = "TRY_LATER"
    case signedDataNotFound = "SIGNED_DATA_NOT_FOUND"
    case cryptoConstraintsFailure = "CRYPTO_CONSTRAINTS_FAILURE"
    case cryptoConstraintsFailureNoPOE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
}

/// An indication with its sub-indication and the reason in words.
public struct Verdict: Sendable, Equatable {
    public let indication: Indication
    public let subIndication: SubIndication?
    public let reason: String

    public init(_ indication: Indication, _ subIndication: SubIndication?, _ reason: String) {
        self.indication = indication
        self.subIndication = subIndication
        self.reason = reason
    }

    public static func passed(_ reason: String) -> Verdict { Verdict(.totalPassed, nil, reason) }

    /// The worse of two verdicts (TOTAL_FAILED > INDETERMINATE > TOTAL_PASSED; first wins a tie).
    public func worse(_ other: Verdict) -> Verdict { other.indication > indication ? other : self }
}
