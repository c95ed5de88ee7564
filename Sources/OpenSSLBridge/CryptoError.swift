internal import COpenSSL

/// An error raised by the OpenSSL bridge, carrying OpenSSL's own error text.
public struct CryptoError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case malformed, unsupported, internalFailure, io
    }
    public let code: Code
    public let message: String
    public var description: String { message }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Builds an error from `what` and whatever OpenSSL has queued.
    static func fromQueue(_ code: Code, _ what: String) -> CryptoError {
        CryptoError(code, what + ": " + OpenSSLErrorQueue.drain())
    }
}

enum OpenSSLErrorQueue {
    /// Empties OpenSSL's thread-local error queue into one line.
    static func drain() -> String {
        var parts: [String] = []
        while true {
            var file: UnsafePointer<CChar>?
            var line: Int32 = 0
            var function: UnsafePointer<CChar>?
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(&file, &line, &function, &data, &flags)
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            var text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let data, (flags & ERR_TXT_STRING) != 0, data.pointee != 0 {
                text += " (" + String(cString: data) + ")"
            }
            parts.append(text)
        }
        return parts.isEmpty ? "no detail from OpenSSL" : parts.joined(separator: "; ")
    }

    static func clear() { ERR_clear_error() }
}

/// The OpenSSL library in use, as `sigvault --version` prints it.
public enum OpenSSLLibrary {
    public static var version: String { String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))) }
}
