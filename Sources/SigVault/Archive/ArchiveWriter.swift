import ArchiveIO
import Dispatch
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Writes the archive layout of docs/FORMAT.md: a pax tar stream cut into zstd frames at member
/// boundaries (and every `frameSize` bytes inside large members), then the index and trailer
/// skippable frames.
///
/// Three kinds of thread share the work: the caller reads, hashes and frames files; a pool
/// compresses frames; one serial writer waits for frames in order, writes them, hashes the
/// compressed bytes and completes each member's index record when its last frame is out. At most
/// `maximumFramesInFlight` frames are held in memory and index records are spilled to scratch
/// files, so memory does not grow with the number or size of members.
final class ArchiveWriter: @unchecked Sendable {
    static let frameSize = 1 << 20
    static let maximumFramesInFlight = 8

    private let output: AtomicOutputFile
    private let compressionLevel: Int32
    private var tar: TarWriter!
    private var pending: [UInt8] = []
    private var streamOffset: UInt64 = 0
    private var frameCount: UInt64 = 0

    // Touched only on `writerQueue`.
    private var compressedOffset: UInt64 = 0
    private let frameSpill: SpillFile
    private let memberSpill: SpillFile
    private(set) var memberCount: UInt64 = 0

    private let pool = DispatchQueue(label: "sigvault.compress", attributes: .concurrent)
    private let writerQueue = DispatchQueue(label: "sigvault.write")
    private let slots = DispatchSemaphore(value: ArchiveWriter.maximumFramesInFlight)
    private let compressors = CompressorPool()
    private let buffers = BufferPool(capacity: ZstdFrames.compressBound(ArchiveWriter.frameSize))
    private let errorLock = NSLock()
    private var writeError: Error?
    private var current: OpenMember?
    private var memberBytes: UInt64 = 0

    /// A frame being compressed (and its compressed bytes hashed) on the pool.
    private final class FrameJob: @unchecked Sendable {
        var input: [UInt8]
        var frame: [UInt8] = []
        var digest: [UInt8] = []
        var error: Error?
        let done = DispatchSemaphore(value: 0)
        init(input: [UInt8]) { self.input = input }
    }

    /// A member whose frames are not all written yet (state owned by the writer queue).
    final class OpenMember: @unchecked Sendable {
        let firstFrame: UInt64
        let streamOffset: UInt64
        var compressedOffset: UInt64?
        var compressedLength: UInt64 = 0
        var framesWritten: UInt64 = 0
        let compressedHasher = Hasher(.sha256)
        init(firstFrame: UInt64, streamOffset: UInt64) {
            self.firstFrame = firstFrame
            self.streamOffset = streamOffset
        }
    }

    init(output: AtomicOutputFile, scratchDirectory: String, compressionLevel: Int32) throws {
        self.output = output
        self.compressionLevel = compressionLevel
        self.frameSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-frames")
        self.memberSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-members")
        pending.reserveCapacity(ArchiveWriter.frameSize)
        self.tar = try TarWriter { [unowned self] bytes in
            self.pending.append(contentsOf: bytes)
            self.memberBytes += UInt64(bytes.count)
            while self.pending.count >= ArchiveWriter.frameSize { try self.submitFrame(count: ArchiveWriter.frameSize) }
        }
    }

    private func pendingError() -> Error? {
        errorLock.lock()
        defer { errorLock.unlock() }
        return writeError
    }

    private func fail(_ error: Error) {
        errorLock.lock()
        if writeError == nil { writeError = error }
        errorLock.unlock()
    }

    private func submitFrame(count: Int) throws {
        guard count > 0 else { return }
        slots.wait()
        if let error = pendingError() {
            slots.signal()
            throw error
        }
        var input = buffers.take()
        input.append(contentsOf: pending[0..<count])
        let job = FrameJob(input: input)
        if count == pending.count {
            pending.removeAll(keepingCapacity: true)
        } else {
            pending.removeFirst(count)
        }
        frameCount += 1
        streamOffset += UInt64(count)
        let level = compressionLevel
        let compressors = self.compressors
        let buffers = self.buffers
        pool.async {
            let compressor = compressors.take(level: level)
            defer { compressors.give(compressor) }
            do {
                var frame = buffers.take()
                try job.input.withUnsafeBytes { input in
                    try compressor.compressFrame(input) { compressed in
                        frame.append(contentsOf: compressed)
                        job.digest = Hasher.digest(compressed)
                    }
                }
                job.frame = frame
            } catch {
                job.error = error
            }
            job.done.signal()
        }
        let member = current
        writerQueue.async { [self] in
            job.done.wait()
            defer { slots.signal() }
            guard pendingError() == nil else { return }
            do {
                if let error = job.error { throw error }
                try write(job, member: member)
            } catch {
                fail(error)
            }
            buffers.give(job.input)
            buffers.give(job.frame)
        }
    }

    /// On the writer queue: writes a compressed frame and records it.
    private func write(_ job: FrameJob, member: OpenMember?) throws {
        try output.write(job.frame)
        var record: [UInt8] = []
        ArchiveIndexLayout.encode(FrameRecord(compressedOffset: compressedOffset, compressedLength: UInt64(job.frame.count),
                                              uncompressedLength: UInt64(job.input.count), compressedSHA256: job.digest), into: &record)
        try frameSpill.append(record)
        if let member {
            if member.compressedOffset == nil { member.compressedOffset = compressedOffset }
            member.compressedLength += UInt64(job.frame.count)
            member.compressedHasher.update(job.digest)
            member.framesWritten += 1
        }
        compressedOffset += UInt64(job.frame.count)
    }

    /// Where a finished member sits.
    struct Placement: Sendable {
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
        headerLength = memberBytes
    }

    func writeMemberData(_ buffer: UnsafeRawBufferPointer) throws { try tar.writeData(buffer) }

    /// Ends the member. `completion` runs on the writer thread once all its frames are written,
    /// in archive order; it may call `record(_:)`.
    func endMember(completion: @escaping @Sendable (Placement) throws -> Void) throws {
        let dataOffset = headerLength
        try tar.finishEntry()
        try submitFrame(count: pending.count)
        guard let member = current else { return }
        current = nil
        let frames = frameCount - member.firstFrame
        writerQueue.async { [self] in
            guard pendingError() == nil else { return }
            do {
                try completion(Placement(firstFrame: member.firstFrame, frameCount: frames, streamOffset: member.streamOffset,
                                         dataOffset: dataOffset, compressedOffset: member.compressedOffset ?? compressedOffset,
                                         compressedLength: member.compressedLength, compressedSHA256: member.compressedHasher.finalize()))
            } catch {
                fail(error)
            }
        }
    }

    /// The current member's tar header length (its bytes before the content).
    private var headerLength: UInt64 = 0

    /// Ends the member and waits until it is written (the trailer needs the manifest's placement).
    func endMemberAndWait() throws -> Placement {
        let box = PlacementBox()
        try endMember { box.value = $0 }
        writerQueue.sync {}
        if let error = pendingError() { throw error }
        guard let placement = box.value else { throw SigVaultError(.ioError, "internal error: member frames not written") }
        return placement
    }

    /// Appends a member's index record; call it from an `endMember` completion (writer thread).
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
        current = nil
        try submitFrame(count: pending.count)
        writerQueue.sync {}
        if let error = pendingError() { throw error }
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

private final class PlacementBox: @unchecked Sendable {
    var value: ArchiveWriter.Placement?
}

/// Reusable byte buffers, so frames do not allocate (and page-fault) fresh memory each time.
final class BufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [[UInt8]] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// An empty buffer with at least `capacity` reserved.
    func take() -> [UInt8] {
        lock.lock()
        let buffer = idle.popLast()
        lock.unlock()
        if var buffer {
            buffer.removeAll(keepingCapacity: true)
            return buffer
        }
        var fresh: [UInt8] = []
        fresh.reserveCapacity(capacity)
        return fresh
    }

    func give(_ buffer: [UInt8]) {
        guard buffer.capacity >= capacity else { return }
        lock.lock()
        if idle.count < 32 { idle.append(buffer) }
        lock.unlock()
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
