import Foundation
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// The files of a walk, in the order they were appended (the walk's: by the raw bytes of their
/// names), kept in a scratch file rather than in memory: a source of a million files is read back
/// as often as needed for the cost of a sequential read, and memory does not grow with it.
public final class FileList: @unchecked Sendable {
    private let spill: SpillFile
    /// Files appended, and the sum of the regular files' sizes.
    public private(set) var count = 0
    public private(set) var totalBytes: UInt64 = 0
    private var encoded: [UInt8] = []

    /// A new, empty list whose scratch file (unlinked at once: nothing is left behind) is in `directory`.
    public init(directory: String) throws {
        spill = try SpillFile(directory: directory, name: "sigvault-walk")
    }

    public func append(_ file: InputFile) throws {
        encoded.removeAll(keepingCapacity: true)
        Self.encode(file, into: &encoded)
        try spill.append(encoded)
        count += 1
        totalBytes += UInt64(max(0, file.size))
    }

    /// Calls `body` with each file, in order.
    public func forEach(_ body: (InputFile) throws -> Void) throws {
        var pending: [UInt8] = []
        var start = 0
        try spill.readAll { chunk in
            if start > 0 {
                pending.removeFirst(start)
                start = 0
            }
            pending.append(contentsOf: chunk)
            while let (file, end) = try Self.decode(pending, at: start) {
                try body(file)
                start = end
            }
        }
        guard start == pending.count else {
            throw SigVaultError(.scratch, "\(spill.path): the walk's scratch file is truncated")
        }
    }

    /// Every file's name, in order (for tests and small lists).
    public func names() throws -> [ArchivePath] {
        var out: [ArchivePath] = []
        try forEach { out.append($0.relativePath) }
        return out
    }

    // A record: its length (UInt32), then the names and fields, little-endian.
    private static func encode(_ file: InputFile, into out: inout [UInt8]) {
        func integer<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        func bytes(_ value: [UInt8]) {
            integer(UInt32(value.count))
            out.append(contentsOf: value)
        }
        integer(UInt32(0))
        bytes(file.relativePath.bytes)
        bytes(file.filesystemPath)
        switch file.kind {
        case .regular(let size):
            out.append(0)
            integer(size)
        case .symbolicLink(let target):
            out.append(1)
            bytes(target)
        }
        integer(file.mode)
        integer(file.modificationTime)
        integer(file.identity.0)
        integer(file.identity.1)
        integer(file.modificationNanoseconds)
        integer(file.changeNanoseconds)
        let length = UInt32(out.count).littleEndian
        withUnsafeBytes(of: length) { raw in for index in 0..<4 { out[index] = raw[index] } }
    }

    /// The record at `offset` and the offset after it, or nil when it is not all there yet.
    private static func decode(_ buffer: [UInt8], at offset: Int) throws -> (InputFile, Int)? {
        guard buffer.count - offset >= 4 else { return nil }
        var position = offset
        func integer<T: FixedWidthInteger>(_: T.Type) -> T {
            var value = T.zero
            withUnsafeMutableBytes(of: &value) { raw in
                for index in 0..<MemoryLayout<T>.size { raw[index] = buffer[position + index] }
            }
            position += MemoryLayout<T>.size
            return T(littleEndian: value)
        }
        func bytes() -> [UInt8] {
            let length = Int(integer(UInt32.self))
            defer { position += length }
            return Array(buffer[position..<(position + length)])
        }
        let length = Int(integer(UInt32.self))
        guard length >= 4 else { throw SigVaultError(.scratch, "the walk's scratch file is damaged") }
        guard buffer.count - offset >= length else { return nil }
        let relative = bytes()
        let filesystemPath = bytes()
        let tag = buffer[position]
        position += 1
        let kind: InputFile.Kind
        if tag == 0 { kind = .regular(size: integer(Int64.self)) } else { kind = .symbolicLink(target: bytes()) }
        let mode = integer(UInt32.self)
        let modificationTime = integer(Int64.self)
        var file = InputFile(relativePath: ArchivePath(bytes: relative), filesystemPath: filesystemPath, kind: kind,
                             mode: mode, modificationTime: modificationTime)
        file.identity = (integer(UInt64.self), integer(UInt64.self))
        file.modificationNanoseconds = integer(Int64.self)
        file.changeNanoseconds = integer(Int64.self)
        guard position - offset == length else { throw SigVaultError(.scratch, "the walk's scratch file is damaged") }
        return (file, position)
    }
}
