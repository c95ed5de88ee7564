internal import COpenSSL
import Foundation

/// An owned OpenSSL memory or file BIO.
final class BIORef {
    let ref: OpaquePointer

    init(takingOwnership ref: OpaquePointer) { self.ref = ref }

    /// A read-only memory BIO over a copy of `bytes`.
    convenience init(copying bytes: [UInt8]) throws {
        let bio = bytes.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let mem = BIO_new(BIO_s_mem()) else { return nil }
            if buffer.count > 0 && BIO_write(mem, buffer.baseAddress, Int32(buffer.count)) != Int32(buffer.count) {
                BIO_free(mem)
                return nil
            }
            return mem
        }
        guard let bio else { throw CryptoError.fromQueue(.internalFailure, "cannot create a memory BIO") }
        self.init(takingOwnership: bio)
    }

    static func emptyMemory() throws -> BIORef {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError.fromQueue(.internalFailure, "cannot create a memory BIO") }
        return BIORef(takingOwnership: bio)
    }

    static func readingFile(_ path: String) throws -> BIORef {
        guard let bio = BIO_new_file(path, "rb") else {
            OpenSSLErrorQueue.clear()
            throw CryptoError(.io, "\(path): cannot open for reading: \(String(cString: strerror(errno)))")
        }
        return BIORef(takingOwnership: bio)
    }

    /// Hands the BIO to OpenSSL; this object will no longer free it.
    func releaseOwnership() -> OpaquePointer {
        released = true
        return ref
    }

    private var released = false

    deinit { if !released { BIO_free(ref) } }

    var memoryContents: [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>?
        let length = sv_bio_get_mem_data(ref, &pointer)
        guard length > 0, let pointer else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}

/// Whether `bytes` look like PEM text rather than DER.
func looksLikePEM(_ bytes: [UInt8]) -> Bool {
    let marker = Array("-----BEGIN".utf8)
    guard bytes.count >= marker.count else { return false }
    let limit = min(bytes.count - marker.count, 4096)
    var index = 0
    while index <= limit {
        if bytes[index] == marker[0] && Array(bytes[index..<(index + marker.count)]) == marker { return true }
        index += 1
    }
    return false
}

/// Serialises an OpenSSL object with its i2d function.
func derEncode(_ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) -> [UInt8] {
    let length = encode(nil)
    guard length > 0 else { return [] }
    var out = [UInt8](repeating: 0, count: Int(length))
    out.withUnsafeMutableBufferPointer { buffer in
        var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
        _ = encode(&cursor)
    }
    return out
}

/// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to a Date.
/// Converts an ASN1_TIME (UTCTime or GeneralizedTime) to a Date.
func dateFromASN1Time(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
    guard let time else { return nil }
    var broken = tm()
    guard ASN1_TIME_to_tm(time, &broken) == 1 else { return nil }
    return Date(timeIntervalSince1970: TimeInterval(timegm(&broken)))
}

func bytesOf(_ string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
    guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
}

func objectText(_ object: OpaquePointer?, numeric: Bool = false) -> String {
    guard let object else { return "" }
    var buffer = [CChar](repeating: 0, count: 128)
    let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, numeric ? 1 : 0)
    guard length > 0 else { return "" }
    return String(decoding: buffer.prefix(Int(min(length, 127))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Decodes a DER GeneralizedTime (the value of an extension).
func generalizedTime(fromDER der: [UInt8]) -> Date? {
    der.withUnsafeBufferPointer { buffer -> Date? in
        var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
        guard let time = d2i_ASN1_GENERALIZEDTIME(nil, &cursor, buffer.count) else { OpenSSLErrorQueue.clear(); return nil }
        defer { ASN1_GENERALIZEDTIME_free(time) }
        return dateFromASN1Time(UnsafePointer(time))
    }
}
