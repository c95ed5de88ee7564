internal import CZstd
import Foundation

/// Compresses independent zstd frames (content size and content checksum always on).
public final class ZstdFrameCompressor: @unchecked Sendable {
    private let context: OpaquePointer
    private var output: [UInt8] = []

    public init(level: Int32) {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx failed: out of memory") }
        self.context = context
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` as one whole frame and hands the frame bytes to `body`.
    public func compressFrame<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let bound = ZSTD_compressBound(input.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress, out.count, input.baseAddress, input.count)
        }
        if ZSTD_isError(written) != 0 {
            throw ArchiveIOError(.library, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        }
        return try output.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
    }
}

/// Facts read from the start of a frame without decompressing it.
public enum ZstdFrameKind: Equatable, Sendable {
    /// A compressed frame: its compressed length and its declared content size.
    case data(compressedLength: Int, contentSize: Int, hasChecksum: Bool)
    /// A skippable frame: its magic number's low nibble and its payload length.
    case skippable(variant: UInt32, payloadLength: Int)
}

public enum ZstdFrames {
    public static let dataMagic: UInt32 = 0xFD2F_B528
    public static let skippableMagicBase: UInt32 = 0x184D_2A50

    /// Inspects the frame starting at `bytes` (which must hold the whole frame for data frames).
    public static func inspect(_ bytes: UnsafeRawBufferPointer) throws -> ZstdFrameKind {
        guard bytes.count >= 8 else { throw ArchiveIOError(.malformed, "truncated zstd frame") }
        let magic = bytes.loadUnaligned(as: UInt32.self).littleEndian
        if magic & 0xFFFF_FFF0 == skippableMagicBase {
            let length = Int(bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian)
            return .skippable(variant: magic & 0xF, payloadLength: length)
        }
        guard magic == dataMagic else { throw ArchiveIOError(.malformed, String(format: "not a zstd frame (magic 0x%08x)", magic)) }
        var header = ZSTD_frameHeader()
        let status = ZSTD_getFrameHeader(&header, bytes.baseAddress, bytes.count)
        guard status == 0 else { throw ArchiveIOError(.malformed, "truncated or invalid zstd frame header") }
        guard header.frameContentSize != ZSTD_CONTENTSIZE_UNKNOWN, header.frameContentSize != ZSTD_CONTENTSIZE_ERROR else {
            throw ArchiveIOError(.malformed, "zstd frame without a declared content size")
        }
        let compressed = ZSTD_findFrameCompressedSize(bytes.baseAddress, bytes.count)
        guard ZSTD_isError(compressed) == 0 else {
            throw ArchiveIOError(.malformed, "truncated zstd frame: \(String(cString: ZSTD_getErrorName(compressed)))")
        }
        guard let contentSize = Int(exactly: header.frameContentSize) else {
            throw ArchiveIOError(.malformed, "zstd frame declares an impossible content size \(header.frameContentSize)")
        }
        return .data(compressedLength: compressed, contentSize: contentSize, hasChecksum: header.checksumFlag != 0)
    }

    /// The most bytes a data frame holding `contentSize` bytes can take.
    public static func compressBound(_ contentSize: Int) -> Int { ZSTD_compressBound(contentSize) }

    /// Encodes a skippable frame.
    public static func skippableFrame(variant: UInt32, payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        appendLittleEndian(&out, skippableMagicBase | (variant & 0xF))
        appendLittleEndian(&out, UInt32(payload.count))
        out.append(contentsOf: payload)
        return out
    }
}

/// Decompresses whole frames, refusing any that declare more than `maximumContentSize` bytes.
public final class ZstdFrameDecompressor: @unchecked Sendable {
    private let context: OpaquePointer
    public let maximumContentSize: Int

    public init(maximumContentSize: Int) {
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx failed: out of memory") }
        self.context = context
        self.maximumContentSize = maximumContentSize
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses one complete data frame into `output` (resized to the content size).
    public func decompress(frame: UnsafeRawBufferPointer, contentSize: Int, into output: inout [UInt8]) throws {
        guard contentSize <= maximumContentSize else {
            throw ArchiveIOError(.malformed, "zstd frame declares \(contentSize) bytes, more than the format's \(maximumContentSize)")
        }
        var produced = 0
        // Decompress straight into uninitialised storage: no zero-fill pass.
        output = [UInt8](unsafeUninitializedCapacity: contentSize) { buffer, initialized in
            produced = ZSTD_decompressDCtx(context, buffer.baseAddress, contentSize, frame.baseAddress, frame.count)
            initialized = ZSTD_isError(produced) == 0 ? min(produced, contentSize) : 0
        }
        guard ZSTD_isError(produced) == 0 else {
            throw ArchiveIOError(.malformed, "zstd frame does not decompress: \(String(cString: ZSTD_getErrorName(produced)))")
        }
        guard produced == contentSize else {
            throw ArchiveIOError(.malformed, "zstd frame decompressed to \(produced) bytes, declared \(contentSize)")
        }
    }
}

public func appendLittleEndian<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
    var little = value.littleEndian
    withUnsafeBytes(of: &little) { out.append(contentsOf: $0) }
}
