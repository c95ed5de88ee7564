import ArchiveIO
import Dispatch
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Writes the archive layout of docs/FORMAT.md: a pax tar stream cut into zstd frames at member
/// boundaries (and every `frameSize` bytes inside large members), then the index and trailer
/// skippable frames.
///
/// Frames are compressed on a pool of threads while the caller reads and hashes the next files;
/// they are written in order, and each member's index record is completed when its last frame is
/// written. Index records are spilled to scratch files, and at most `maximumFramesInFlight` frames
/// are held in memory, so memory does not grow with the number or size of members.
final class ArchiveWriter {
    static let frameSize = 1 << 20
    static let maximumFramesInFlight = 6

    private let output: AtomicOutputFile
    private let compressionLevel: Int32
    private var tar: TarWriter!
    private var pending: [UInt8] = []
    private var compressedOffset: UInt64 = 0
    private var streamOffset: UInt64 = 0
    private var frameCount: UInt64 = 0
    private let frameSpill: SpillFile
    private let memberSpill: SpillFile
    private(set) var memberCount: UInt64 = 0

    /// A frame being compressed on the pool.
    private final class FrameJob: @unchecked Sendable {
        let input: [UInt8]
        var frame: [UInt8] = []
        var error: Error?
        let done = DispatchSemaphore(value: 0)
        let member: OpenMember?
        init(input: [UInt8], member: OpenMember?) {
            self.input = input
            self.member = member
        }
    }

    /// A member whose frames are not all written yet.
    final class OpenMember {
        let firstFrame: UInt64
        let streamOffset: UInt64
        var dataOffset: UInt64 = 0
        var frameCount: UInt64 = 0
        var framesWritten: UInt64 = 0
        var ended = false
        var compressedOffset: UInt64?
        var compressedLength: UInt64 = 0
        let compressedHasher = Hasher(.sha256)
        /// Called once the last frame is written, with the finished placement.
        var completion: ((Placement) throws -> Void)?
        init(firstFrame: UInt64, streamOffset: UInt64) {
            self.firstFrame = firstFrame
            self.streamOffset = streamOffset
        }
    }

    private var inFlight: [FrameJob] = []
    private let pool = DispatchQueue(label: "sigvault.compress", attributes: .concurrent)
    private let compressors = CompressorPool()
    private var current: OpenMember?
    private var memberBytes: UInt64 = 0

    init(output: AtomicOutputFile, scratchDirectory: String, compressionLevel: Int32) throws {
        self.output = output
        self.compressionLevel = compressionLevel
        self.frameSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-frames")
        self.memberSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-members")
        pending.reserveCapacity(ArchiveWriter.frameSize * 2)
        self.tar = try TarWriter { [unowned self] bytes in
            self.pending.append(contentsOf: bytes)
            self.memberBytes += UInt64(bytes.count)
            while self.pending.count >= ArchiveWriter.frameSize { try self.submitFrame(count: ArchiveWriter.frameSize) }
        }
    }

    private func submitFrame(count: Int) throws {
        guard count > 0 else { return }
        let job = FrameJob(input: Array(pending[0..<count]), member: current)
        pending.removeFirst(count)
        current?.frameCount += 1
        frameCount += 1
        streamOffset += UInt64(count)
        let level = compressionLevel
        let compressors = self.compressors
        pool.async {
            let compressor = compressors.take(level: level)
            defer { compressors.give(compressor) }
            do {
                job.frame = try job.input.withUnsafeBytes { input in try compressor.compressFrame(input) { Array($0) } }
            } catch {
                job.error = error
            }
            job.done.signal()
        }
        inFlight.append(job)
        while inFlight.count > ArchiveWriter.maximumFramesInFlight { try writeOldestFrame() }
    }

    /// Waits for the oldest frame, writes it, records it, and completes its member if it was the last.
    private func writeOldestFrame() throws {
        let job = inFlight.removeFirst()
        job.done.wait()
        if let error = job.error { throw error }
        try output.write(job.frame)
        var record: [UInt8] = []
        ArchiveIndexLayout.encode(FrameRecord(compressedOffset: compressedOffset, compressedLength: UInt64(job.frame.count),
                                              uncompressedLength: UInt64(job.input.count)), into: &record)
        try frameSpill.append(record)
        if let member = job.member {
            if member.compressedOffset == nil { member.compressedOffset = compressedOffset }
            member.compressedLength += UInt64(job.frame.count)
            member.compressedHasher.update(job.frame)
            member.framesWritten += 1
            try completeIfDone(member)
        }
        compressedOffset += UInt64(job.frame.count)
    }

    private func completeIfDone(_ member: OpenMember) throws {
        guard member.ended, member.framesWritten == member.frameCount, let completion = member.completion else { return }
        member.completion = nil
        try completion(Placement(firstFrame: member.firstFrame, frameCount: member.frameCount, streamOffset: member.streamOffset,
                                 dataOffset: member.dataOffset, compressedOffset: member.compressedOffset ?? compressedOffset,
                                 compressedLength: member.compressedLength, compressedSHA256: member.compressedHasher.finalize()))
    }

    /// Where a finished member sits.
    struct Placement {
        var firstFrame: UInt64
        var frameCount: UInt64
        var streamOffset: UInt64
        var dataOffset: UInt64
        var compressedOffset: UInt64
        var compressedLength: UInt64
        var compressedSHA256: [UInt8]
    }

    func beginMember(path: ArchivePath, kind: TarEntryKind, mode: UInt32, modificationTime: Int64) throws {
        precondition(pending.isEmpty, "a member must start on a frame boundary")
        current = OpenMember(firstFrame: frameCount, streamOffset: streamOffset)
        memberBytes = 0
        try tar.writeHeader(path: path.bytes, kind: kind, mode: mode, modificationTime: modificationTime)
        current?.dataOffset = memberBytes
    }

    func writeMemberData(_ buffer: UnsafeRawBufferPointer) throws { try tar.writeData(buffer) }

    /// Ends the member; `completion` runs (on this thread) once all its frames are written,
    /// possibly during a later call.
    func endMember(completion: @escaping (Placement) throws -> Void) throws {
        try tar.finishEntry()
        try submitFrame(count: pending.count)
        guard let member = current else { return }
        current = nil
        member.ended = true
        member.completion = completion
        try completeIfDone(member)
    }

    /// Ends the member and waits for its frames (used for the manifest, whose placement the
    /// trailer needs).
    func endMemberAndWait() throws -> Placement {
        var placement: Placement?
        try endMember { placement = $0 }
        while placement == nil, !inFlight.isEmpty { try writeOldestFrame() }
        guard let placement else { throw SigVaultError(.ioError, "internal error: member frames not written") }
        return placement
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
        try submitFrame(count: pending.count)
        while !inFlight.isEmpty { try writeOldestFrame() }
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

/// Reusable zstd contexts shared by the compression threads.
final class CompressorPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [ZstdFrameCompressor] = []

    func take(level: Int32) -> ZstdFrameCompressor {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast() ?? ZstdFrameCompressor(level: level)
    }

    func give(_ compressor: ZstdFrameCompressor) {
        lock.lock()
        idle.append(compressor)
        lock.unlock()
    }
}
