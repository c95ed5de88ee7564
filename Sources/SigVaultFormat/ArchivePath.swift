import Foundation

/// A member name exactly as stored in the tar header: raw bytes, which need not be UTF-8.
public struct ArchivePath: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    public var isUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    /// The name for people: exact when UTF-8, otherwise with each undecodable byte as `\xHH`.
    public var description: String { ArchivePath.escaped(bytes) }

    // Hashes the bytes in one call (the synthesised conformance combines them one by one).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func == (lhs: ArchivePath, rhs: ArchivePath) -> Bool { lhs.bytes == rhs.bytes }

    /// Byte order (memcmp, then length), as `sort` and tar listings of ASCII names use.
    public static func < (lhs: ArchivePath, rhs: ArchivePath) -> Bool {
        lhs.bytes.withUnsafeBufferPointer { left in
            rhs.bytes.withUnsafeBufferPointer { right in
                let common = min(left.count, right.count)
                let order = common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common)
                return order != 0 ? order < 0 : left.count < right.count
            }
        }
    }

    public func appending(_ suffix: String) -> ArchivePath { ArchivePath(bytes: bytes + Array(suffix.utf8)) }

    public func hasPrefix(_ prefix: String) -> Bool { bytes.starts(with: Array(prefix.utf8)) }

    public func droppingPrefix(_ prefix: String) -> ArchivePath {
        hasPrefix(prefix) ? ArchivePath(bytes: Array(bytes.dropFirst(prefix.utf8.count))) : self
    }

    public func hasSuffix(_ suffix: String) -> Bool {
        let count = suffix.utf8.count
        return bytes.count > count && bytes[(bytes.count - count)...].elementsEqual(suffix.utf8)
    }

    public func droppingSuffix(_ suffix: String) -> ArchivePath {
        hasSuffix(suffix) ? ArchivePath(bytes: Array(bytes.dropLast(suffix.utf8.count))) : self
    }

    /// Path components split on `/`.
    public var components: [[UInt8]] { bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map(Array.init) }

    /// Whether the name is safe to create under a target folder: relative, no `..`, no empty or
    /// `.` component, no NUL.
    public var isSafeRelative: Bool {
        guard !bytes.isEmpty, bytes.first != UInt8(ascii: "/"), !bytes.contains(0) else { return false }
        for component in components {
            if component.isEmpty || component == [UInt8(ascii: ".")] || component == [UInt8(ascii: "."), UInt8(ascii: ".")] {
                return false
            }
        }
        return true
    }

    /// Escapes a name into a UTF-8 string that round-trips through `unescaped(_:)`: valid UTF-8
    /// passes unchanged except `\`, which becomes `\\`; every other byte becomes `\xHH`.
    public static func escaped(_ bytes: [UInt8]) -> String {
        if !bytes.contains(UInt8(ascii: "\\")), let text = String(validating: bytes, as: UTF8.self) { return text }
        var out = ""
        var index = 0
        while index < bytes.count {
            let length = utf8SequenceLength(bytes, index)
            if length > 0 {
                let scalarText = String(decoding: bytes[index..<(index + length)], as: UTF8.self)
                out += scalarText == "\\" ? "\\\\" : scalarText
                index += length
            } else {
                out += String(format: "\\x%02X", bytes[index])
                index += 1
            }
        }
        return out
    }

    public static func unescaped(_ text: String) -> ArchivePath? {
        var out: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\") {
                guard index + 1 < utf8.count else { return nil }
                if utf8[index + 1] == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")); index += 2; continue }
                guard utf8[index + 1] == UInt8(ascii: "x"), index + 3 < utf8.count,
                      let byte = UInt8(String(decoding: utf8[(index + 2)...(index + 3)], as: UTF8.self), radix: 16)
                else { return nil }
                out.append(byte)
                index += 4
            } else {
                out.append(utf8[index])
                index += 1
            }
        }
        return ArchivePath(bytes: out)
    }

    /// Length of the valid UTF-8 sequence starting at `index`, or 0.
    private static func utf8SequenceLength(_ bytes: [UInt8], _ index: Int) -> Int {
        let first = bytes[index]
        let length: Int
        switch first {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        return String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil ? length : 0
    }
}
