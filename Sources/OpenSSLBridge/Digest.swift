internal import COpenSSL
import Foundation

/// Hash algorithms the archive and the validators use.
public enum HashAlgorithm: String, Sendable, CaseIterable, Codable {
    case sha1, sha224, sha256, sha384, sha512

    var evp: OpaquePointer? {
        switch self {
        case .sha1: return EVP_sha1()
        case .sha224: return EVP_sha224()
        case .sha256: return EVP_sha256()
        case .sha384: return EVP_sha384()
        case .sha512: return EVP_sha512()
        }
    }

    /// Maps an OpenSSL short name or dotted OID to an algorithm.
    public init?(openSSLName name: String) {
        switch name.lowercased() {
        case "sha1", "1.3.14.3.2.26": self = .sha1
        case "sha224", "2.16.840.1.101.3.4.2.4": self = .sha224
        case "sha256", "2.16.840.1.101.3.4.2.1": self = .sha256
        case "sha384", "2.16.840.1.101.3.4.2.2": self = .sha384
        case "sha512", "2.16.840.1.101.3.4.2.3": self = .sha512
        default: return nil
        }
    }
}

/// A streaming hash over OpenSSL's EVP interface (SHA-NI where the CPU has it).
public final class Hasher: @unchecked Sendable {
    private let context: OpaquePointer
    public let algorithm: HashAlgorithm

    public init(_ algorithm: HashAlgorithm = .sha256) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed: out of memory") }
        self.context = context
        precondition(EVP_DigestInit_ex(context, algorithm.evp, nil) == 1, "EVP_DigestInit_ex failed")
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ buffer: UnsafeRawBufferPointer) {
        guard buffer.count > 0 else { return }
        precondition(EVP_DigestUpdate(context, buffer.baseAddress, buffer.count) == 1, "EVP_DigestUpdate failed")
    }

    public func update<Bytes: ContiguousBytes>(_ bytes: Bytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the digest; the hasher must not be used afterwards.
    public func finalize() -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context, &output, &length) == 1, "EVP_DigestFinal_ex failed")
        return Array(output.prefix(Int(length)))
    }

    public static func digest<Bytes: ContiguousBytes>(_ bytes: Bytes, _ algorithm: HashAlgorithm = .sha256) -> [UInt8] {
        let hasher = Hasher(algorithm)
        hasher.update(bytes)
        return hasher.finalize()
    }
}

public enum Hex {
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits: [Character] = Array("0123456789abcdef")
        var out = ""
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return out
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var index = 0
        while index < chars.count {
            guard let high = value(chars[index]), let low = value(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }
}
