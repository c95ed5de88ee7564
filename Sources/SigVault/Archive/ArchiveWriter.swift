import ArchiveIO
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Writes the archive layout of docs/FORMAT.md: a pax tar stream cut into zstd frames at member
/// boundaries (and every `frameSize` bytes inside large members), then the index and trailer
/// skippable frames. Index records are spilled to scratch files so memory does not grow with the
/// number of members.
final class ArchiveWriter {
    static let frameSize = 1 << 20

    private let output: AtomicOutputFile
    private let compressor: ZstdFrameCompressor
    private var tar: TarWriter!
    private var pending: [UInt8] = []
    private var compressedOffset: UInt64 = 0
    private var streamOffset: UInt64 = 0
    private var frameCount: UInt64 = 0
    private let frameSpill: SpillFile
    private let memberSpill: SpillFile
    private(set) var memberCount: UInt64 = 0

    private var memberFirstFrame: UInt64 = 0
    private var memberStreamOffset: UInt64 = 0
    private var memberBytes: UInt64 = 0
    private var memberCompressedStart: UInt64 = 0
    private var memberCompressedHasher = Hasher(.sha256)

    init(output: AtomicOutputFile, scratchDirectory: String, compressionLevel: Int32) throws {
        self.output = output
        self.compressor = ZstdFrameCompressor(level: compressionLevel)
        self.frameSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-frames")
        self.memberSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-members")
        pending.reserveCapacity(ArchiveWriter.frameSize * 2)
        self.tar = try TarWriter { [unowned self] bytes in
            self.pending.append(contentsOf: bytes)
            self.memberBytes += UInt64(bytes.count)
            while self.pending.count >= ArchiveWriter.frameSize { try self.emitFrame(count: ArchiveWriter.frameSize) }
        }
    }

    private func emitFrame(count: Int) throws {
        guard count > 0 else { return }
        let frameLength = try pending.withUnsafeBytes { all in
            try compressor.compressFrame(UnsafeRawBufferPointer(rebasing: all[0..<count])) { frame -> Int in
                try output.write(frame)
                memberCompressedHasher.update(frame)
                return frame.count
            }
        }
        var record: [UInt8] = []
        ArchiveIndexLayout.encode(FrameRecord(compressedOffset: compressedOffset, compressedLength: UInt64(frameLength),
                                              uncompressedLength: UInt64(count)), into: &record)
        try frameSpill.append(record)
        compressedOffset += UInt64(frameLength)
        streamOffset += UInt64(count)
        frameCount += 1
        pending.removeFirst(count)
    }

    /// Where a finished member sits; the caller adds its manifest line before recording it.
    struct Placement {
        var firstFrame: UInt64
        var frameCount: UInt64
        var streamOffset: UInt64
        var dataOffset: UInt64
        var compressedOffset: UInt64
        var compressedLength: UInt64
        var compressedSHA256: [UInt8]
    }

    private var dataOffset: UInt64 = 0

    func beginMember(path: ArchivePath, kind: TarEntryKind, mode: UInt32, modificationTime: Int64) throws {
        precondition(pending.isEmpty, "a member must start on a frame boundary")
        memberFirstFrame = frameCount
        memberStreamOffset = streamOffset
        memberCompressedStart = compressedOffset
        memberBytes = 0
        memberCompressedHasher = Hasher(.sha256)
        try tar.writeHeader(path: path.bytes, kind: kind, mode: mode, modificationTime: modificationTime)
        dataOffset = memberBytes
    }

    func writeMemberData(_ buffer: UnsafeRawBufferPointer) throws { try tar.writeData(buffer) }

    func endMember() throws -> Placement {
        try tar.finishEntry()
        try emitFrame(count: pending.count)
        return Placement(firstFrame: memberFirstFrame, frameCount: frameCount - memberFirstFrame, streamOffset: memberStreamOffset,
                         dataOffset: dataOffset, compressedOffset: memberCompressedStart,
                         compressedLength: compressedOffset - memberCompressedStart,
                         compressedSHA256: memberCompressedHasher.finalize())
    }

    func record(_ member: MemberRecord) throws {
        var bytes: [UInt8] = []
        member.encode(into: &bytes)
        try memberSpill.append(bytes)
        memberCount += 1
    }

    /// Ends the tar stream (its end blocks get a frame of their own), then writes the index and the
    /// trailer.
    func finish(manifest: Placement, manifestSHA256: [UInt8]) throws {
        try tar.close()
        try emitFrame(count: pending.count)
        let indexOffset = compressedOffset
        let payloadLength = ArchiveIndexLayout.headerSize + Int(frameSpill.size) + Int(memberSpill.size)
        let indexHasher = Hasher(.sha256)
        var head: [UInt8] = []
        appendLittleEndian(&head, ZstdFrames.skippableMagicBase | ArchiveIndexLayout.skippableVariant)
        appendLittleEndian(&head, UInt32(payloadLength))
        head += ArchiveIndexLayout.header(memberCount: memberCount, frameCount: frameCount)
        indexHasher.update(head)
        try output.write(head)
        for spill in [frameSpill, memberSpill] {
            try spill.readAll { chunk in
                indexHasher.update(chunk)
                try output.write(chunk)
            }
        }
        let indexLength = UInt64(8 + payloadLength)
        let trailer = Trailer(indexOffset: indexOffset, indexLength: indexLength, indexSHA256: indexHasher.finalize(),
                              manifestOffset: manifest.compressedOffset, manifestLength: manifest.compressedLength,
                              manifestSHA256: manifestSHA256)
        let body = trailer.encodedBody()
        try output.write(ZstdFrames.skippableFrame(variant: Trailer.skippableVariant, payload: body + Hasher.digest(body)))
    }
}
