import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Whether a time-stamp authority's answer to a request can be kept as an archive time-stamp
/// (issue 3): granted, its TSA chain valid to the trust anchors with the critical timeStamping
/// EKU, the imprint and the nonce those of the request, and its genTime within five minutes of the
/// local clock. Revocation of the TSA chain is not asked for here: it is collected later (with
/// `--fetch-revocation`, or at the next renewal).
public enum TimeStampAcceptance {
    public static let clockTolerance: TimeInterval = 5 * 60

    /// The token, or why the answer is refused (one line, for a warning naming the TSA).
    public static func check(response: [UInt8], for request: TimeStampRequest, anchors: TrustAnchors, now: Date)
        -> Result<TimeStampToken, TimeStampRefusal> {
        let token: TimeStampToken
        do {
            token = try TimeStampToken(responseOrToken: response)
        } catch {
            return .failure(TimeStampRefusal("not a granted RFC 3161 response: \(error)"))
        }
        let untrusted = token.certificates
        let signature = token.verifySignature(untrusted: untrusted, anchors: anchors)
        if signature.failure == .keyUsage, let tsa = signature.signer {
            return .failure(TimeStampRefusal("its certificate \(tsa.subject) lacks the critical timeStamping extended key usage"))
        }
        guard signature.ok else { return .failure(TimeStampRefusal("the token does not verify: \(signature.detail)")) }
        guard token.imprintAlgorithm == request.algorithm, token.imprint == request.imprint else {
            return .failure(TimeStampRefusal("the token's message imprint is not the one requested"))
        }
        guard let nonce = token.nonce else { return .failure(TimeStampRefusal("the token carries no nonce")) }
        guard nonce == request.nonce else { return .failure(TimeStampRefusal("the token's nonce is not the one requested")) }
        let skew = token.genTime.timeIntervalSince(now)
        guard abs(skew) <= clockTolerance else {
            return .failure(TimeStampRefusal("its genTime \(ISOTime.format(token.genTime)) is \(Int(abs(skew))) s away from the local clock (at most \(Int(clockTolerance)) s)"))
        }
        return .success(token)
    }
}

/// Why a time-stamp answer was refused.
public struct TimeStampRefusal: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
