import ArchiveIO
import Dispatch
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Writes the archive layout of docs/FORMAT.md: a pax tar stream cut into zstd frames at member
/// boundaries (and every `frameSize` bytes inside large members), then the index and trailer
/// skippable frames.
///
/// Work is spread over threads in two ways. A member that fits in one frame is a job of its own:
/// a pool thread reads it, hashes it, frames it with its own tar writer and compresses it. A larger
/// member is read and hashed on the caller's thread, and its frames are compressed on the pool. One
/// serial writer takes the units in submission order, writes the frames, and hands each finished
/// member to its completion, in archive order. At most `maximumUnitsInFlight` units are held in
/// memory and index records are spilled to scratch files, so memory does not grow with the number
/// or size of members.
final class ArchiveWriter: @unchecked Sendable {
    static let frameSize = 1 << 20
    static let maximumUnitsInFlight = 8

    /// A member's name and metadata.
    struct MemberHeader: Sendable {
        var path: ArchivePath
        var mode: UInt32
        var modificationTime: Int64
    }

    /// Where a small member's content comes from.
    enum SmallSource: Sendable {
        case bytes([UInt8])
        case file(path: [UInt8], size: Int64)
        case symbolicLink(target: [UInt8])
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

    /// A finished member, handed to its completion on the writer thread.
    struct Outcome: Sendable {
        var placement: Placement
        var size: Int64
        var contentSHA256: [UInt8]
    }

    typealias Completion = @Sendable (Outcome) throws -> Void

    private let output: AtomicOutputFile
    private let compressionLevel: Int32
    private var tar: TarWriter!
    private var pending: [UInt8] = []
    private var memberBytes: UInt64 = 0
    private var headerLength: UInt64 = 0
    private var streaming: StreamingMember?
    private var batch: [SmallMember] = []
    private var batchBytes = 0

    // Touched only on `writerQueue`.
    private var compressedOffset: UInt64 = 0
    private var frameCount: UInt64 = 0
    private var streamOffset: UInt64 = 0
    private let frameSpill: SpillFile
    private let memberSpill: SpillFile
    private(set) var memberCount: UInt64 = 0

    private let pool = DispatchQueue(label: "sigvault.compress", attributes: .concurrent)
    private let writerQueue = DispatchQueue(label: "sigvault.write")
    private let slots = DispatchSemaphore(value: ArchiveWriter.maximumUnitsInFlight)
    private let compressors = CompressorPool()
    private let tarWriters = TarCapturePool()
    private let buffers = BufferPool(capacity: ZstdFrames.compressBound(ArchiveWriter.frameSize))
    private let errorLock = NSLock()
    private var writeError: Error?

    /// One compressed frame.
    private struct Frame {
        var bytes: [UInt8]
        var uncompressedLength: Int
        var digest: [UInt8]
    }

    /// A unit of work whose result the writer waits for.
    private final class Job: @unchecked Sendable {
        var frames: [Frame] = []
        /// Why the member's source could not be read (it is then left out, not an error).
        var unreadable: String?
        var size: Int64 = 0
        var contentSHA256: [UInt8] = []
        var headerLength: UInt64 = 0
        var error: Error?
        let done = DispatchSemaphore(value: 0)
    }

    /// A large member being streamed from the caller's thread (writer-side state).
    private final class StreamingMember: @unchecked Sendable {
        var firstFrame: UInt64 = 0
        var streamOffset: UInt64 = 0
        var compressedOffset: UInt64?
        var compressedLength: UInt64 = 0
        let digests = Hasher(.sha256)
        let contentHasher = Hasher(.sha256)
        var size: Int64 = 0
        var started = false
    }

    init(output: AtomicOutputFile, scratchDirectory: String, compressionLevel: Int32) throws {
        self.output = output
        self.compressionLevel = compressionLevel
        self.frameSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-frames")
        self.memberSpill = try SpillFile(directory: scratchDirectory, name: "sigvault-members")
        pending = buffers.take()
        self.tar = try ArchiveWriter.streamTarWriter(self)
    }

    /// The tar writer of streamed members. It fills the pending frame buffer; a full one goes to the
    /// pool as it is (no copy).
    private static func streamTarWriter(_ writer: ArchiveWriter) throws -> TarWriter {
        try TarWriter { [unowned writer] bytes in
            writer.memberBytes += UInt64(bytes.count)
            var offset = 0
            while offset < bytes.count {
                let count = min(ArchiveWriter.frameSize - writer.pending.count, bytes.count - offset)
                writer.pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
                offset += count
                if writer.pending.count == ArchiveWriter.frameSize { try writer.submitStreamingFrame() }
            }
        }
    }

    // MARK: Errors shared by the threads

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

    private func acquireSlot() throws {
        slots.wait()
        if let error = pendingError() {
            slots.signal()
            throw error
        }
    }

    /// Queues `body` on the writer after `job` is done; frees the slot after.
    private func enqueueWrite(waitingFor job: Job, _ body: @escaping @Sendable (Job) throws -> Void) {
        writerQueue.async { [self] in
            job.done.wait()
            defer { slots.signal() }
            guard pendingError() == nil else { return }
            do {
                if let error = job.error { throw error }
                try body(job)
            } catch {
                fail(error)
            }
        }
    }

    // MARK: Compression

    private static func compress(_ input: ArraySlice<UInt8>, compressor: ZstdFrameCompressor, buffers: BufferPool) throws -> Frame {
        // Full-size frames reuse pooled buffers; a small member's frame gets a buffer of its own size.
        var bytes = input.count >= ArchiveWriter.frameSize / 2 ? buffers.take() : []
        var digest: [UInt8] = []
        try input.withUnsafeBytes { raw in
            try compressor.compressFrame(raw) { compressed in
                bytes.append(contentsOf: compressed)
                digest = Hasher.digest(compressed)
            }
        }
        return Frame(bytes: bytes, uncompressedLength: input.count, digest: digest)
    }

    /// On the writer thread: writes one frame and its index record.
    private func writeFrame(_ frame: Frame) throws -> UInt64 {
        try output.write(frame.bytes)
        var record: [UInt8] = []
        ArchiveIndexLayout.encode(FrameRecord(compressedOffset: compressedOffset, compressedLength: UInt64(frame.bytes.count),
                                              uncompressedLength: UInt64(frame.uncompressedLength), compressedSHA256: frame.digest),
                                  into: &record)
        try frameSpill.append(record)
        let offset = compressedOffset
        compressedOffset += UInt64(frame.bytes.count)
        frameCount += 1
        streamOffset += UInt64(frame.uncompressedLength)
        buffers.give(frame.bytes)
        return offset
    }

    // MARK: Small members: one job each on the pool

    /// Archives a member that is read, hashed, framed and compressed on a pool thread. If its file
    /// cannot be read (gone, shrunk, unreadable), the member is left out and `skipped` is told why.
    /// Small members are gathered into batches (up to `batchMembers` members or `frameSize` bytes)
    /// so that thread hand-offs do not cost more than the work.
    func addSmall(_ header: MemberHeader, source: SmallSource, skipped: @escaping @Sendable (String) -> Void = { _ in },
                  completion: @escaping Completion) throws {
        precondition(streaming == nil, "finish the streaming member first")
        if let error = pendingError() { throw error }
        let size: Int
        switch source {
        case .bytes(let content): size = content.count
        case .file(_, let fileSize): size = Int(clamping: fileSize)
        case .symbolicLink: size = 0
        }
        batch.append(SmallMember(header: header, source: source, skipped: skipped, completion: completion))
        batchBytes += size + 1024
        if batch.count >= ArchiveWriter.batchMembers || batchBytes >= ArchiveWriter.frameSize { try flushBatch() }
    }

    static let batchMembers = 64

    private struct SmallMember: Sendable {
        var header: MemberHeader
        var source: SmallSource
        var skipped: @Sendable (String) -> Void
        var completion: Completion
    }

    /// Submits the gathered small members as one pool job and one writer step.
    private func flushBatch() throws {
        guard !batch.isEmpty else { return }
        let members = batch
        batch.removeAll(keepingCapacity: true)
        batchBytes = 0
        try acquireSlot()
        let jobs = members.map { _ in Job() }
        let batchDone = Job()
        let (level, compressors, tarWriters, buffers) = (compressionLevel, self.compressors, self.tarWriters, self.buffers)
        pool.async {
            let capture = tarWriters.take()
            let compressor = compressors.take(level: level)
            defer {
                tarWriters.give(capture)
                compressors.give(compressor)
            }
            for (member, job) in zip(members, jobs) {
                do {
                    do {
                        try ArchiveWriter.frameSmall(member.header, source: member.source, capture: capture, job: job)
                    } catch let error as SigVaultError where error.code == .sourceUnreadable {
                        job.unreadable = error.message
                        continue
                    }
                    var offset = 0
                    let bytes = capture.bytes
                    while offset < bytes.count {
                        let end = min(offset + ArchiveWriter.frameSize, bytes.count)
                        job.frames.append(try ArchiveWriter.compress(bytes[offset..<end], compressor: compressor, buffers: buffers))
                        offset = end
                    }
                } catch {
                    batchDone.error = error
                    break
                }
            }
            batchDone.done.signal()
        }
        enqueueWrite(waitingFor: batchDone) { [self] _ in
            for (member, job) in zip(members, jobs) {
                if let reason = job.unreadable {
                    member.skipped(reason)
                    continue
                }
                let first = frameCount
                let start = streamOffset
                var compressedStart: UInt64?
                var length: UInt64 = 0
                let digests = Hasher(.sha256)
                let frameTotal = job.frames.count
                // Frames are taken out of the job one by one, so the buffer writeFrame gives back
                // to the pool is not still referenced here.
                while !job.frames.isEmpty {
                    let frame = job.frames.removeFirst()
                    digests.update(frame.digest)
                    length += UInt64(frame.bytes.count)
                    let offset = try writeFrame(frame)
                    if compressedStart == nil { compressedStart = offset }
                }
                try member.completion(Outcome(
                    placement: Placement(firstFrame: first, frameCount: UInt64(frameTotal), streamOffset: start, dataOffset: job.headerLength,
                                         compressedOffset: compressedStart ?? compressedOffset, compressedLength: length,
                                         compressedSHA256: digests.finalize()),
                    size: job.size, contentSHA256: job.contentSHA256))
            }
        }
    }

    /// On a pool thread: the member's whole tar bytes into `capture`, its content hashed.
    private static func frameSmall(_ header: MemberHeader, source: SmallSource, capture: TarCapture, job: Job) throws {
        capture.bytes.removeAll(keepingCapacity: true)
        let hasher = Hasher(.sha256)
        switch source {
        case .symbolicLink(let target):
            try capture.writer.writeHeader(path: header.path.bytes, kind: .symbolicLink(target: target), mode: header.mode,
                                           modificationTime: header.modificationTime)
            job.headerLength = UInt64(capture.bytes.count)
        case .bytes(let content):
            try capture.writer.writeHeader(path: header.path.bytes, kind: .regularFile(size: Int64(content.count)), mode: header.mode,
                                           modificationTime: header.modificationTime)
            job.headerLength = UInt64(capture.bytes.count)
            try content.withUnsafeBytes { raw in
                hasher.update(raw)
                try capture.writer.writeData(raw)
            }
            job.size = Int64(content.count)
        case .file(let path, let size):
            let content = try readWholeFile(path, expectedSize: size)
            try capture.writer.writeHeader(path: header.path.bytes, kind: .regularFile(size: size), mode: header.mode,
                                           modificationTime: header.modificationTime)
            job.headerLength = UInt64(capture.bytes.count)
            try content.withUnsafeBytes { raw in
                hasher.update(raw)
                try capture.writer.writeData(raw)
            }
            job.size = size
        }
        try capture.writer.finishEntry()
        job.contentSHA256 = hasher.finalize()
    }

    /// Reads exactly `expectedSize` bytes of a file without following a symbolic link. A file that
    /// holds fewer or more bytes than its stat size (one that changes while read, or a /proc or /sys
    /// file, whose stat size says nothing) is unreadable: never archived short or silently empty.
    static func readWholeFile(_ path: [UInt8], expectedSize: Int64) throws -> [UInt8] {
        let display = ArchivePath.escaped(path)
        let fd = POSIX.withPath(path) { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { throw SigVaultError(.sourceUnreadable, "\(display): cannot open: \(POSIX.errorText)") }
        defer { close(fd) }
        let content = try POSIX.readAt(fd, offset: 0, count: Int(expectedSize) + 1, path: display, code: .sourceUnreadable)
        guard content.count <= Int(expectedSize) else { throw SigVaultError(.sourceUnreadable, sizeMismatch(display, expectedSize)) }
        guard content.count == Int(expectedSize) else { throw SigVaultError(.sourceUnreadable, "\(display): file shrank while being archived") }
        return content
    }

    /// The reason a file that reads longer than its stat size is left out.
    static func sizeMismatch(_ display: String, _ size: Int64) -> String {
        "\(display): holds more bytes than its size (\(size)) says: it grew while being archived, or it is a /proc or /sys file whose size stat cannot tell (copy it to a regular file to archive it)"
    }

    // MARK: Large members: streamed from the caller's thread

    /// Starts a member whose content the caller streams with `writeMemberData`.
    func beginMember(path: ArchivePath, kind: TarEntryKind, mode: UInt32, modificationTime: Int64) throws {
        precondition(pending.isEmpty && streaming == nil, "a member must start on a frame boundary")
        try flushBatch()
        let member = StreamingMember()
        streaming = member
        memberBytes = 0
        try tar.writeHeader(path: path.bytes, kind: kind, mode: mode, modificationTime: modificationTime)
        headerLength = memberBytes
    }

    /// Streams content: hashed here, framed, compressed on the pool.
    func writeMemberData(_ buffer: UnsafeRawBufferPointer) throws {
        streaming?.contentHasher.update(buffer)
        streaming?.size += Int64(buffer.count)
        try tar.writeData(buffer)
    }

    /// Hands the pending bytes (at most one frame) to the pool, and starts a new pending buffer.
    private func submitStreamingFrame() throws {
        guard !pending.isEmpty else { return }
        try acquireSlot()
        // The pending buffer moves into the box (no other reference stays), so that the pool can
        // reuse it once compressed.
        let input = BufferBox(pending)
        pending = buffers.take()
        let job = Job()
        let (level, compressors, buffers) = (compressionLevel, self.compressors, self.buffers)
        pool.async {
            let compressor = compressors.take(level: level)
            defer { compressors.give(compressor) }
            do {
                job.frames = [try ArchiveWriter.compress(input.bytes[...], compressor: compressor, buffers: buffers)]
            } catch {
                job.error = error
            }
            buffers.give(input.take())
            job.done.signal()
        }
        let member = streaming
        enqueueWrite(waitingFor: job) { [self] job in
            while !job.frames.isEmpty {
                let frame = job.frames.removeFirst()
                if let member, !member.started {
                    member.started = true
                    member.firstFrame = frameCount
                    member.streamOffset = streamOffset
                }
                let offset = try writeFrame(frame)
                if let member {
                    if member.compressedOffset == nil { member.compressedOffset = offset }
                    member.compressedLength += UInt64(frame.bytes.count)
                    member.digests.update(frame.digest)
                }
            }
        }
    }

    /// Ends the streamed member; `completion` runs on the writer thread, in archive order.
    func endMember(completion: @escaping Completion) throws {
        try tar.finishEntry()
        try submitStreamingFrame()
        guard let member = streaming else { return }
        streaming = nil
        let dataOffset = headerLength
        let size = member.size
        let contentSHA256 = member.contentHasher.finalize()
        writerQueue.async { [self] in
            guard pendingError() == nil else { return }
            do {
                let frames = frameCount - member.firstFrame
                try completion(Outcome(
                    placement: Placement(firstFrame: member.firstFrame, frameCount: frames, streamOffset: member.streamOffset,
                                         dataOffset: dataOffset, compressedOffset: member.compressedOffset ?? compressedOffset,
                                         compressedLength: member.compressedLength, compressedSHA256: member.digests.finalize()),
                    size: size, contentSHA256: contentSHA256))
            } catch {
                fail(error)
            }
        }
    }

    /// Abandons the streamed member (its source could not be read to the end): waits for its
    /// queued frames, then removes them from the output and the index, as if it had never begun.
    func abandonMember() throws {
        guard let member = streaming else { return }
        streaming = nil
        pending.removeAll(keepingCapacity: true)
        try drain()
        if member.started {
            try output.truncate(to: member.compressedOffset ?? compressedOffset)
            compressedOffset = member.compressedOffset ?? compressedOffset
            try frameSpill.truncate(to: member.firstFrame * UInt64(FrameRecord.encodedSize))
            frameCount = member.firstFrame
            streamOffset = member.streamOffset
        }
        // The tar writer is in the middle of the entry: the next members get a fresh one.
        tar = try ArchiveWriter.streamTarWriter(self)
    }

    /// Ends the streamed member and waits until everything queued is written.
    func endMemberAndWait() throws -> Outcome {
        let box = OutcomeBox()
        try endMember { box.value = $0 }
        try drain()
        guard let outcome = box.value else { throw SigVaultError(.internalInvariant, "internal error: member frames not written") }
        return outcome
    }

    /// Waits until every queued unit is written and every completion has run.
    func drain() throws {
        try flushBatch()
        writerQueue.sync {}
        if let error = pendingError() { throw error }
    }

    /// Appends a member's index record; call it from a completion (writer thread) or after `drain`.
    func record(_ member: MemberRecord) throws {
        var bytes: [UInt8] = []
        member.encode(into: &bytes)
        try memberSpill.append(bytes)
        memberCount += 1
    }

    /// Ends the tar stream (its end blocks get a frame of their own), then writes the index and the
    /// trailer.
    func finish(manifest: Placement, manifestSHA256: [UInt8], evidence: [UInt8]? = nil) throws {
        try flushBatch()
        try tar.close()
        try submitStreamingFrame()
        try drain()
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
        try output.write(ArchiveWriter.tail(trailer, evidence: evidence))
    }

    /// What follows the index: with an evidence section (version 2), its frame, then the trailer
    /// frame, `trailer`'s version and evidence fields set to match (the section starts right after
    /// the index). Renewal writes a new tail after the copied data and index.
    static func tail(_ trailer: Trailer, evidence: [UInt8]?) -> [UInt8] {
        var trailer = trailer
        var out: [UInt8] = []
        if let evidence {
            out = ZstdFrames.skippableFrame(variant: Trailer.evidenceSkippableVariant, payload: evidence)
            trailer.version = UInt32(FormatVersion.withEvidence)
            trailer.evidenceOffset = trailer.indexOffset + trailer.indexLength
            trailer.evidenceLength = UInt64(out.count)
        }
        let body = trailer.encodedBody()
        return out + ZstdFrames.skippableFrame(variant: Trailer.skippableVariant, payload: body + Hasher.digest(body))
    }
}

extension ArchiveWriter.Outcome {
    /// The member's index record. `line` is its manifest line; the manifest itself has none.
    func indexRecord(path: ArchivePath, line: (offset: UInt64, length: UInt64, sha256: [UInt8])?) -> MemberRecord {
        MemberRecord(pathSHA256: Hasher.digest(path.bytes), firstFrame: placement.firstFrame, frameCount: placement.frameCount,
                     streamOffset: placement.streamOffset, dataOffset: placement.dataOffset, contentSize: UInt64(size),
                     contentSHA256: contentSHA256, compressedSHA256: placement.compressedSHA256,
                     manifestLineOffset: line?.offset ?? 0, manifestLineLength: line?.length ?? 0,
                     manifestLineSHA256: line?.sha256 ?? [UInt8](repeating: 0, count: 32))
    }
}

/// A buffer handed to a pool thread, which takes it out again to give it back to the pool.
private final class BufferBox: @unchecked Sendable {
    private(set) var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func take() -> [UInt8] {
        defer { bytes = [] }
        return bytes
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var value: ArchiveWriter.Outcome?
}

/// A tar writer whose output is captured in memory (one per pool thread at a time).
final class TarCapture: @unchecked Sendable {
    var bytes: [UInt8] = []
    private(set) var writer: TarWriter!

    init() throws {
        bytes.reserveCapacity(ArchiveWriter.frameSize)
        writer = try TarWriter { [unowned self] chunk in self.bytes.append(contentsOf: chunk) }
    }
}

final class TarCapturePool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [TarCapture] = []

    func take() -> TarCapture {
        lock.lock()
        let capture = idle.popLast()
        lock.unlock()
        // libarchive setup cannot fail short of memory exhaustion.
        return capture ?? (try! TarCapture())
    }

    func give(_ capture: TarCapture) {
        lock.lock()
        idle.append(capture)
        lock.unlock()
    }
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
        if idle.count < 2 * ArchiveWriter.maximumUnitsInFlight { idle.append(buffer) }
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
