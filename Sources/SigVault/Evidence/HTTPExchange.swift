import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP request with a hard time limit, through Foundation's URLSession: what the TSA client
/// (POST of a TimeStampReq) and the revocation fetcher (POST of an OCSPRequest, GET of a CRL) send.
enum HTTPExchange {
    /// Why an exchange gave nothing usable, in words; `transient` failures (no connection, time-out,
    /// HTTP 5xx) may go away when tried again.
    struct Failure: Error, CustomStringConvertible {
        let reason: String
        let transient: Bool
        var description: String { reason }
    }

    /// The body of a 200 answer to a POST of `body` (GET without one). Bodies over `limit` bytes
    /// are refused.
    static func send(_ url: URL, body: [UInt8]? = nil, contentType: String? = nil, accept: String,
                     timeout: TimeInterval, limit: Int = 64 << 20) throws -> [UInt8] {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        if let body {
            request.httpMethod = "POST"
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body)
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let box = AnswerBox()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: request) { data, response, error in
            box.set(data: data, response: response, error: error)
            done.signal()
        }
        task.resume()
        // URLSession enforces the timeout; the extra second only guards against a lost callback.
        guard done.wait(timeout: .now() + timeout + 1) == .success else {
            task.cancel()
            throw Failure(reason: "no answer within \(Int(timeout)) s", transient: true)
        }
        let (data, response, error) = box.get()
        if let error { throw Failure(reason: describe(error, timeout: timeout), transient: true) }
        guard let http = response as? HTTPURLResponse else { throw Failure(reason: "not an HTTP answer", transient: false) }
        guard http.statusCode == 200 else { throw Failure(reason: "HTTP status \(http.statusCode)", transient: http.statusCode >= 500) }
        let bytes = [UInt8](data ?? Data())
        guard bytes.count <= limit else { throw Failure(reason: "the answer is larger than \(limit >> 20) MiB", transient: false) }
        return bytes
    }

    /// Network errors in words (Foundation on Linux describes them only by their code).
    static func describe(_ error: Error, timeout: TimeInterval) -> String {
        guard let code = (error as? URLError)?.code else { return "cannot reach it: \(error.localizedDescription)" }
        switch code {
        case .timedOut: return "no answer within \(Int(timeout)) s (timed out)"
        case .cannotConnectToHost: return "cannot reach it: connection refused"
        case .cannotFindHost, .dnsLookupFailed: return "cannot reach it: unknown host"
        case .networkConnectionLost: return "cannot reach it: the connection was lost"
        case .notConnectedToInternet: return "cannot reach it: no network"
        case .unsupportedURL: return "not a URL SigVault can fetch"
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
