import Foundation
import OpenSSLBridge
import SigVaultValidation

/// Where archive time-stamps come from: an effect behind a protocol, so that tests use real local
/// servers (docs/ARCHITECTURE.md).
public protocol TimeStampAuthority: Sendable {
    /// How the authority is named in messages (its URL).
    var name: String { get }
    /// The authority's raw answer to `request`.
    func answer(_ request: TimeStampRequest) throws -> [UInt8]
}

/// An RFC 3161 TSA over HTTP (RFC 3161 §3.4): POST of `application/timestamp-query`, the answer
/// read as `application/timestamp-reply`, one attempt bounded by `timeout`.
public struct HTTPTimeStampAuthority: TimeStampAuthority {
    public let url: URL
    public let timeout: TimeInterval

    public init(url: URL, timeout: TimeInterval = 30) {
        self.url = url
        self.timeout = timeout
    }

    public var name: String { url.absoluteString }

    public func answer(_ request: TimeStampRequest) throws -> [UInt8] {
        do {
            return try HTTPExchange.send(url, body: request.der, contentType: "application/timestamp-query",
                                         accept: "application/timestamp-reply", timeout: timeout, limit: 1 << 20)
        } catch let failure as HTTPExchange.Failure {
            throw TimeStampRefusal(failure.reason)
        }
    }
}

/// Asks the authorities in order for a time-stamp over one hash and keeps the first answer that
/// TimeStampAcceptance accepts; says why each one before it was refused.
public struct TimeStamper: Sendable {
    public let authorities: [any TimeStampAuthority]
    public let anchors: TrustAnchors
    /// The local clock (a parameter, so tests can stand elsewhere in time).
    public let clock: @Sendable () -> Date

    public init(authorities: [any TimeStampAuthority], anchors: TrustAnchors, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.authorities = authorities
        self.anchors = anchors
        self.clock = clock
    }

    public struct Outcome: Sendable {
        public let token: TimeStampToken?
        /// The authority that gave the token.
        public let authority: String?
        /// Each authority refused, in order, with the reason.
        public let refusals: [(authority: String, reason: String)]
    }

    public func timeStamp(imprint: [UInt8], algorithm: HashAlgorithm) -> Outcome {
        var refusals: [(String, String)] = []
        for authority in authorities {
            do {
                let request = try TimeStampRequest(imprint: imprint, algorithm: algorithm)
                let answer = try authority.answer(request)
                switch TimeStampAcceptance.check(response: answer, for: request, anchors: anchors, now: clock()) {
                case .success(let token): return Outcome(token: token, authority: authority.name, refusals: refusals)
                case .failure(let refusal): refusals.append((authority.name, refusal.reason))
                }
            } catch {
                refusals.append((authority.name, "\(error)"))
            }
        }
        return Outcome(token: nil, authority: nil, refusals: refusals)
    }
}
