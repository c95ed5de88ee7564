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

    /// The body of a 200 answer to a POST of `body` (GET without one). An answer over `limit`
    /// bytes is refused as it arrives (by its Content-Length, or once that many bytes came), so
    /// memory stays bounded.
    static func send(_ url: URL, body: [UInt8]? = nil, contentType: String? = nil, accept: String,
                     timeout: TimeInterval, limit: Int) throws -> [UInt8] {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue(accept, forHTTPHeaderField: "Accept")
        if let body {
            request.httpMethod = "POST"
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body)
        }
        // Linux Foundation counts the time limit in whole seconds.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let download = Download(limit: limit)
        let session = URLSession(configuration: configuration, delegate: download, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        task.resume()
        // URLSession enforces the timeout; the extra second only guards against a lost callback.
        let finished = download.done.wait(timeout: .now() + timeout + 1) == .success
        let (data, response, error, tooLarge) = download.result()
        if tooLarge { throw Failure(reason: "the answer is larger than \(limit >> 10) KiB", transient: false) }
        guard finished else {
            session.invalidateAndCancel()
            throw Failure(reason: "no answer within \(Int(timeout)) s", transient: true)
        }
        if let error { throw Failure(reason: describe(error, timeout: timeout), transient: isTransient(error)) }
        guard let http = response as? HTTPURLResponse else { throw Failure(reason: "not an HTTP answer", transient: false) }
        guard http.statusCode == 200 else {
            // A short plain-text explanation, if the server gave one, helps whoever reads the warning.
            var reason = "HTTP status \(http.statusCode)"
            if (http.value(forHTTPHeaderField: "Content-Type") ?? "").hasPrefix("text/plain"),
               let line = String(decoding: data.prefix(200), as: UTF8.self).split(whereSeparator: \.isNewline).first {
                let printable = line.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }
                if !printable.isEmpty { reason += ": " + String(String.UnicodeScalarView(printable.prefix(120))) }
            }
            throw Failure(reason: reason, transient: http.statusCode >= 500)
        }
        return [UInt8](data)
    }

    /// Failures worth a second attempt: a time-out, a refused or lost connection.
    static func isTransient(_ error: Error) -> Bool {
        guard let code = (error as? URLError)?.code else { return false }
        return [.timedOut, .cannotConnectToHost, .networkConnectionLost].contains(code)
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

/// Collects one answer, refusing it once it passes the limit.
private final class Download: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let limit: Int
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var data = Data()
    private var response: URLResponse?
    private var error: Error?
    private var tooLarge = false

    init(limit: Int) { self.limit = limit }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.lock()
        self.response = response
        let refuse = response.expectedContentLength > Int64(limit)
        if refuse { tooLarge = true }
        lock.unlock()
        completionHandler(refuse ? .cancel : .allow)
        // Linux Foundation does not act on .cancel: the task is cancelled here.
        if refuse { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        if !tooLarge { self.data.append(data) }
        if self.data.count > limit { tooLarge = true; self.data = Data() }
        let refuse = tooLarge
        lock.unlock()
        if refuse { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        self.error = error
        lock.unlock()
        done.signal()
    }

    func result() -> (Data, URLResponse?, Error?, Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (data, response, error, tooLarge)
    }
}
