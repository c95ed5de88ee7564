import Foundation

/// Where one zstd data frame sits in the file, and the SHA-256 of its bytes as stored.
/// See docs/FORMAT.md §5.
public struct FrameRecord: Sendable, Equatable {
    public var compressedOffset: UInt64
    public var compressedLength: UInt64
    public var uncompressedLength: UInt64
    public var compressedSHA256: [UInt8]
    public init(compressedOffset: UInt64, compressedLength: UInt64, uncompressedLength: UInt64, compressedSHA256: [UInt8]) {
        self.compressedOffset = compressedOffset
        self.compressedLength = compressedLength
        self.uncompressedLength = uncompressedLength
        self.compressedSHA256 = compressedSHA256
    }
    public static let encodedSize = 56
}

/// Where one tar member sits, and the digests that let it be checked alone.
public struct MemberRecord: Sendable, Equatable {
    /// SHA-256 of the raw tar name.
    public var pathSHA256: [UInt8]
    public var firstFrame: UInt64
    public var frameCount: UInt64
    /// Offset of the member's first header byte in the uncompressed tar stream.
    public var streamOffset: UInt64
    /// Offset of the content from the member's first header byte (the header's length).
    public var dataOffset: UInt64
    public var contentSize: UInt64
    public var contentSHA256: [UInt8]
    /// SHA-256 over the concatenated `compressedSHA256` of the member's frames, in order: binds the
    /// member's record to exactly those frames.
    public var compressedSHA256: [UInt8]
    /// The member's line in the manifest content (offset and length, without the newline).
    public var manifestLineOffset: UInt64
    public var manifestLineLength: UInt64
    /// SHA-256 of that manifest line.
    public var manifestLineSHA256: [UInt8]

    public init(pathSHA256: [UInt8], firstFrame: UInt64, frameCount: UInt64, streamOffset: UInt64, dataOffset: UInt64,
                contentSize: UInt64, contentSHA256: [UInt8], compressedSHA256: [UInt8],
                manifestLineOffset: UInt64, manifestLineLength: UInt64, manifestLineSHA256: [UInt8]) {
        self.pathSHA256 = pathSHA256
        self.firstFrame = firstFrame
        self.frameCount = frameCount
        self.streamOffset = streamOffset
        self.dataOffset = dataOffset
        self.contentSize = contentSize
        self.contentSHA256 = contentSHA256
        self.compressedSHA256 = compressedSHA256
        self.manifestLineOffset = manifestLineOffset
        self.manifestLineLength = manifestLineLength
        self.manifestLineSHA256 = manifestLineSHA256
    }

    public static let encodedSize = 32 + 8 * 5 + 32 + 32 + 8 * 2 + 32

    public func encode(into out: inout [UInt8]) {
        out.append(contentsOf: pathSHA256)
        for value in [firstFrame, frameCount, streamOffset, dataOffset, contentSize] { appendLE(&out, value) }
        out.append(contentsOf: contentSHA256)
        out.append(contentsOf: compressedSHA256)
        appendLE(&out, manifestLineOffset)
        appendLE(&out, manifestLineLength)
        out.append(contentsOf: manifestLineSHA256)
    }

    public static func decode(_ bytes: ArraySlice<UInt8>) -> MemberRecord {
        var reader = ByteReader(bytes)
        let path = reader.bytes(32)
        let first = reader.u64(), count = reader.u64(), stream = reader.u64(), data = reader.u64(), size = reader.u64()
        let content = reader.bytes(32), compressed = reader.bytes(32)
        let lineOffset = reader.u64(), lineLength = reader.u64()
        let lineHash = reader.bytes(32)
        return MemberRecord(pathSHA256: path, firstFrame: first, frameCount: count, streamOffset: stream, dataOffset: data,
                            contentSize: size, contentSHA256: content, compressedSHA256: compressed,
                            manifestLineOffset: lineOffset, manifestLineLength: lineLength, manifestLineSHA256: lineHash)
    }
}

/// The index: a zstd skippable frame (magic 0x184D2A5B) after the last data frame.
/// Payload: "SVINDEX1", memberCount u64, frameCount u64, then frameCount FrameRecords, then
/// memberCount MemberRecords in archive order. All integers little-endian.
public enum ArchiveIndexLayout {
    public static let magic = Array("SVINDEX1".utf8)
    public static let skippableVariant: UInt32 = 0xB
    public static let headerSize = 24

    public static func header(memberCount: UInt64, frameCount: UInt64) -> [UInt8] {
        var out = magic
        appendLE(&out, memberCount)
        appendLE(&out, frameCount)
        return out
    }

    public static func encode(_ frame: FrameRecord, into out: inout [UInt8]) {
        appendLE(&out, frame.compressedOffset)
        appendLE(&out, frame.compressedLength)
        appendLE(&out, frame.uncompressedLength)
        out.append(contentsOf: frame.compressedSHA256)
    }

    public static func decodeFrame(_ bytes: ArraySlice<UInt8>) -> FrameRecord {
        var reader = ByteReader(bytes)
        return FrameRecord(compressedOffset: reader.u64(), compressedLength: reader.u64(), uncompressedLength: reader.u64(),
                           compressedSHA256: reader.bytes(32))
    }

    /// Parses the index payload (without the 8-byte skippable frame header).
    public static func decode(_ payload: [UInt8]) throws -> (frames: [FrameRecord], members: [MemberRecord]) {
        guard payload.count >= headerSize, Array(payload[0..<8]) == magic else {
            throw FormatError(.malformed, "index frame does not start with SVINDEX1")
        }
        var reader = ByteReader(payload[8..<24])
        let memberCount = reader.u64(), frameCount = reader.u64()
        let expected = UInt64(headerSize) + frameCount * UInt64(FrameRecord.encodedSize) + memberCount * UInt64(MemberRecord.encodedSize)
        guard expected == UInt64(payload.count) else {
            throw FormatError(.malformed, "index frame length \(payload.count) does not match its counts (\(expected))")
        }
        var frames: [FrameRecord] = []
        frames.reserveCapacity(Int(frameCount))
        var offset = headerSize
        for _ in 0..<frameCount {
            frames.append(decodeFrame(payload[offset..<(offset + FrameRecord.encodedSize)]))
            offset += FrameRecord.encodedSize
        }
        var members: [MemberRecord] = []
        members.reserveCapacity(Int(memberCount))
        for _ in 0..<memberCount {
            members.append(MemberRecord.decode(payload[offset..<(offset + MemberRecord.encodedSize)]))
            offset += MemberRecord.encodedSize
        }
        return (frames, members)
    }
}

/// The trailer: the file's last 168 bytes, a zstd skippable frame (magic 0x184D2A5C, length 160).
public struct Trailer: Sendable, Equatable {
    public static let magic = Array("SIGVAULT".utf8)
    public static let skippableVariant: UInt32 = 0xC
    /// The evidence section's skippable frame (version 2, docs/FORMAT.md §10).
    public static let evidenceSkippableVariant: UInt32 = 0xD
    public static let payloadSize = 160
    public static let frameSize = payloadSize + 8

    public var version: UInt32
    public var flags: UInt32
    public var indexOffset: UInt64
    public var indexLength: UInt64
    public var indexSHA256: [UInt8]
    public var manifestOffset: UInt64
    public var manifestLength: UInt64
    public var manifestSHA256: [UInt8]
    /// Where the evidence section's frame is (version 2), or 0 (version 1: none).
    public var evidenceOffset: UInt64
    public var evidenceLength: UInt64

    public init(version: UInt32 = UInt32(FormatVersion.current), flags: UInt32 = 0, indexOffset: UInt64, indexLength: UInt64,
                indexSHA256: [UInt8], manifestOffset: UInt64, manifestLength: UInt64, manifestSHA256: [UInt8],
                evidenceOffset: UInt64 = 0, evidenceLength: UInt64 = 0) {
        self.version = version
        self.flags = flags
        self.indexOffset = indexOffset
        self.indexLength = indexLength
        self.indexSHA256 = indexSHA256
        self.manifestOffset = manifestOffset
        self.manifestLength = manifestLength
        self.manifestSHA256 = manifestSHA256
        self.evidenceOffset = evidenceOffset
        self.evidenceLength = evidenceLength
    }

    /// The payload's first 128 bytes; the last 32 are their SHA-256 (computed by the caller).
    public func encodedBody() -> [UInt8] {
        var out = Trailer.magic
        appendLE(&out, version)
        appendLE(&out, flags)
        appendLE(&out, indexOffset)
        appendLE(&out, indexLength)
        out.append(contentsOf: indexSHA256)
        appendLE(&out, manifestOffset)
        appendLE(&out, manifestLength)
        out.append(contentsOf: manifestSHA256)
        appendLE(&out, evidenceOffset)
        appendLE(&out, evidenceLength)
        return out
    }

    /// Parses the 160-byte payload; `sha256` hashes the body to check the self-checksum.
    public static func decode(_ payload: [UInt8], sha256: ([UInt8]) -> [UInt8]) throws -> Trailer {
        guard payload.count == payloadSize, Array(payload[0..<8]) == magic else {
            throw FormatError(.malformed, "the file does not end with a SigVault trailer")
        }
        guard sha256(Array(payload[0..<128])) == Array(payload[128..<160]) else {
            throw FormatError(.malformed, "the trailer's checksum does not match its content")
        }
        var reader = ByteReader(payload[8..<128])
        let version = reader.u32(), flags = reader.u32()
        guard version == UInt32(FormatVersion.current) || version == UInt32(FormatVersion.withEvidence) else {
            throw FormatError(.unsupportedVersion,
                              "archive format version \(version) is not supported (this reader knows \(FormatVersion.current) and \(FormatVersion.withEvidence))")
        }
        let indexOffset = reader.u64(), indexLength = reader.u64()
        let indexHash = reader.bytes(32)
        let manifestOffset = reader.u64(), manifestLength = reader.u64()
        let manifestHash = reader.bytes(32)
        let evidenceOffset = reader.u64(), evidenceLength = reader.u64()
        return Trailer(version: version, flags: flags, indexOffset: indexOffset, indexLength: indexLength, indexSHA256: indexHash,
                       manifestOffset: manifestOffset, manifestLength: manifestLength, manifestSHA256: manifestHash,
                       evidenceOffset: evidenceOffset, evidenceLength: evidenceLength)
    }
}

func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
    var little = value.littleEndian
    withUnsafeBytes(of: &little) { out.append(contentsOf: $0) }
}

struct ByteReader {
    var slice: ArraySlice<UInt8>
    init(_ slice: ArraySlice<UInt8>) { self.slice = slice }
    mutating func bytes(_ count: Int) -> [UInt8] {
        let out = Array(slice.prefix(count))
        slice = slice.dropFirst(count)
        return out
    }
    mutating func u64() -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in slice.prefix(8).enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        slice = slice.dropFirst(8)
        return value
    }
    mutating func u32() -> UInt32 {
        var value: UInt32 = 0
        for (shift, byte) in slice.prefix(4).enumerated() { value |= UInt32(byte) << (8 * UInt32(shift)) }
        slice = slice.dropFirst(4)
        return value
    }
}
