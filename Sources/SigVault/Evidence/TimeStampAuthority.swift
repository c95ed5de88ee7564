import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
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
        var post = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        post.httpMethod = "POST"
        post.setValue("application/timestamp-query", forHTTPHeaderField: "Content-Type")
        post.setValue("application/timestamp-reply", forHTTPHeaderField: "Accept")
        post.httpBody = Data(request.der)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let box = AnswerBox()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: post) { data, response, error in
            box.set(data: data, response: response, error: error)
            done.signal()
        }.resume()
        // URLSession enforces the timeout; the extra second only guards against a lost callback.
        guard done.wait(timeout: .now() + timeout + 1) == .success else { throw TimeStampRefusal("no answer within \(Int(timeout)) s") }
        let (data, response, error) = box.get()
        if let error { throw TimeStampRefusal(Self.describe(error, timeout: timeout)) }
        guard let http = response as? HTTPURLResponse else { throw TimeStampRefusal("not an HTTP answer") }
        guard http.statusCode == 200 else { throw TimeStampRefusal("HTTP status \(http.statusCode)") }
        return [UInt8](data ?? Data())
    }
}

extension HTTPTimeStampAuthority {
    /// Network errors in words (Foundation on Linux describes them only by their code).
    static func describe(_ error: Error, timeout: TimeInterval) -> String {
        guard let code = (error as? URLError)?.code else { return "cannot reach it: \(error.localizedDescription)" }
        switch code {
        case .timedOut: return "no answer within \(Int(timeout)) s (timed out)"
        case .cannotConnectToHost: return "cannot reach it: connection refused"
        case .cannotFindHost, .dnsLookupFailed: return "cannot reach it: unknown host"
        case .networkConnectionLost: return "cannot reach it: the connection was lost"
        case .notConnectedToInternet: return "cannot reach it: no network"
        default: return "cannot reach it: URL error \(code.rawValue)"
        }
    }
}

private final class AnswerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Data?, URLResponse?, Error?) = (nil, nil, nil)
    func set(data: Data?, response: URLResponse?, error: Error?) {
        lock.lock()
        value = (data, response, error)
        lock.unlock()
    }
    func get() -> (Data?, URLResponse?, Error?) {
        lock.lock()
        defer { lock.unlock() }
        return value
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
