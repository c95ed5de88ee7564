import EvidenceRecords
import ArchiveIO
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Random access to an archive through its trailer and index (docs/FORMAT.md §5–6).
final class ArchiveReader: @unchecked Sendable {
    /// Frames hold at most 1 MiB of the tar stream (docs/FORMAT.md §2); larger ones are refused.
    static let maximumFrameContent = 1 << 20

    let path: String
    let fd: Int32
    let size: UInt64
    private(set) var trailer: Trailer?
    /// The index tables, read from the file on demand (a million members cost no memory).
    private(set) var frames = IndexTable<FrameRecord>.empty
    private(set) var members = IndexTable<MemberRecord>.empty
    /// Why the trailer or index could not be used, if they could not.
    private(set) var layoutProblem: String?
    /// Resolves reference members (FORMAT.md §4.3): set when the command was given `--repo`.
    var resolver: ReferenceResolver?
    /// The manifest lines of the reference members, by member index, once the manifest was read.
    private var referenceLines: [Int: ManifestMember]?
    private let referenceLock = NSLock()

    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SigVaultError(.inputMissing, "\(path): no such archive")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SigVaultError(.archiveInvalid, "\(path): not a regular file") }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SigVaultError(.inputMissing, "\(path): cannot open: \(POSIX.errorText)") }
        size = UInt64(info.st_size)
        loadLayout()
    }

    deinit { close(fd) }

    func read(at offset: UInt64, count: Int) throws -> [UInt8] { try POSIX.readAt(fd, offset: offset, count: count, path: path, code: .archiveRead) }

    /// The evidence section (docs/FORMAT.md §10), decoded and its own SHA-256 checked, or nil for
    /// a version 1 archive: the one way every command reads it. Throws `.integrity` when the frame is
    /// not where the trailer places it or the section does not decode; a read error stays what it is.
    ///
    /// Given the repository (`resolver`), the archive's newest renewed evidence there (FORMAT.md
    /// §11) is used instead of its own section; `ownEvidence()` reads the archive's own.
    func evidence() throws -> ArchiveEvidence? {
        if let resolver, let trailer, let renewed = try resolver.renewedEvidence(of: path, fingerprint: trailer.manifestSHA256) {
            do {
                return try ArchiveEvidence.decode(renewed.payload) { Hasher.digest($0, .sha256) }
            } catch {
                throw SigVaultError(.integrity, "\(renewed.object): the renewed evidence section cannot be used: \(error)")
            }
        }
        return try ownEvidence()
    }

    /// The newest renewed evidence object of this archive in the repository, if any.
    func renewedEvidenceObject() throws -> String? {
        guard let resolver, let trailer else { return nil }
        return try resolver.renewedEvidence(of: path, fingerprint: trailer.manifestSHA256)?.object
    }

    /// The archive's own evidence section.
    func ownEvidence() throws -> ArchiveEvidence? {
        guard let payload = try evidencePayload() else { return nil }
        do {
            return try ArchiveEvidence.decode(payload) { Hasher.digest($0, .sha256) }
        } catch {
            throw SigVaultError(.integrity, "\(path): the evidence section cannot be used: \(error)")
        }
    }

    /// The evidence section's payload, or nil for a version 1 archive. Throws when its frame is not
    /// where the trailer says or is not an evidence frame.
    private func evidencePayload() throws -> [UInt8]? {
        guard let trailer, trailer.version == UInt32(FormatVersion.withEvidence) else { return nil }
        // The frame header first: its u32 length bounds the section, before anything large is read.
        let head = try read(at: trailer.evidenceOffset, count: 8)
        let expected = ZstdFrames.skippableFrame(variant: Trailer.evidenceSkippableVariant, payload: [])
        guard head.count == 8, Array(head[0..<4]) == Array(expected[0..<4]),
              UInt64(littleEndian: head, at: 4, width: 4) + 8 == trailer.evidenceLength else {
            throw SigVaultError(.integrity, "\(path): the evidence section's frame is not where the trailer places it")
        }
        let payload = try read(at: trailer.evidenceOffset + 8, count: Int(trailer.evidenceLength - 8))
        guard payload.count == Int(trailer.evidenceLength - 8) else {
            throw SigVaultError(.integrity, "\(path): the evidence section is truncated")
        }
        return payload
    }

    private func loadLayout() {
        do {
            guard size >= UInt64(Trailer.frameSize) else { throw FormatError(.malformed, "too short to hold a trailer") }
            let frame = try read(at: size - UInt64(Trailer.frameSize), count: Trailer.frameSize)
            let head = Array(frame[0..<8])
            let expected = ZstdFrames.skippableFrame(variant: Trailer.skippableVariant, payload: [UInt8](repeating: 0, count: Trailer.payloadSize))
            guard head == Array(expected[0..<8]) else { throw FormatError(.malformed, "the file does not end with a SigVault trailer frame") }
            let trailer = try Trailer.decode(Array(frame[8...]), sha256: { Hasher.digest($0) })
            guard trailer.flags == 0 else {
                throw FormatError(.unsupportedVersion, "the trailer announces features (flags \(trailer.flags)) this version does not know")
            }
            // Version 1: index, trailer. Version 2: index, evidence section, trailer.
            let hasEvidence = trailer.version == UInt32(FormatVersion.withEvidence)
            guard hasEvidence ? trailer.evidenceLength >= 8 : (trailer.evidenceOffset == 0 && trailer.evidenceLength == 0) else {
                throw FormatError(.malformed, "the trailer's evidence fields do not fit its version \(trailer.version)")
            }
            self.trailer = trailer
            let indexEnd = hasEvidence ? trailer.evidenceOffset : size - UInt64(Trailer.frameSize)
            guard trailer.indexLength >= 8, trailer.indexLength < (1 << 34), trailer.indexOffset < size,
                  trailer.indexOffset + trailer.indexLength == indexEnd,
                  !hasEvidence || (trailer.evidenceLength < (1 << 36) && trailer.evidenceOffset + trailer.evidenceLength == size - UInt64(Trailer.frameSize))
            else {
                throw FormatError(.malformed, "the trailer places the index or the evidence section outside the file")
            }
            // Hash the index as it streams past; only its header is kept.
            let indexStart = try read(at: trailer.indexOffset, count: 8 + ArchiveIndexLayout.headerSize)
            guard indexStart.count == 8 + ArchiveIndexLayout.headerSize else { throw FormatError(.malformed, "the index frame is truncated") }
            let indexHead = ZstdFrames.skippableFrame(variant: ArchiveIndexLayout.skippableVariant, payload: [])
            guard Array(indexStart[0..<4]) == Array(indexHead[0..<4]) else { throw FormatError(.malformed, "the index frame has the wrong magic number") }
            let declared = UInt64(littleEndian: indexStart, at: 4, width: 4)
            guard declared + 8 == trailer.indexLength else { throw FormatError(.malformed, "the index frame's length field disagrees with the trailer") }
            guard Array(indexStart[8..<16]) == ArchiveIndexLayout.magic else { throw FormatError(.malformed, "index frame does not start with SVINDEX1") }
            let memberCount = UInt64(littleEndian: indexStart, at: 16, width: 8)
            let frameCount = UInt64(littleEndian: indexStart, at: 24, width: 8)
            // Counts are untrusted until they agree with the length (which the trailer bounds).
            guard frameCount < (1 << 32), memberCount < (1 << 32) else {
                throw FormatError(.malformed, "the index claims \(frameCount) frames and \(memberCount) members")
            }
            let indexLength = UInt64(8 + ArchiveIndexLayout.headerSize) + frameCount * UInt64(FrameRecord.encodedSize)
                + memberCount * UInt64(MemberRecord.encodedSize)
            guard indexLength == trailer.indexLength else {
                throw FormatError(.malformed, "index frame length \(trailer.indexLength) does not match its counts (\(indexLength))")
            }
            let hasher = Hasher(.sha256)
            var offset: UInt64 = 0
            while offset < trailer.indexLength {
                let chunk = try read(at: trailer.indexOffset + offset, count: Int(min(UInt64(1 << 20), trailer.indexLength - offset)))
                guard !chunk.isEmpty else { throw FormatError(.malformed, "the index frame is truncated") }
                hasher.update(chunk)
                offset += UInt64(chunk.count)
            }
            guard hasher.finalize() == trailer.indexSHA256 else { throw FormatError(.malformed, "the index does not match its SHA-256 in the trailer") }
            let framesBase = trailer.indexOffset + 8 + UInt64(ArchiveIndexLayout.headerSize)
            frames = IndexTable(fd: fd, base: framesBase, count: Int(frameCount), recordSize: FrameRecord.encodedSize,
                                decode: ArchiveIndexLayout.decodeFrame)
            members = IndexTable(fd: fd, base: framesBase + frameCount * UInt64(FrameRecord.encodedSize), count: Int(memberCount),
                                 recordSize: MemberRecord.encodedSize, decode: MemberRecord.decode)
        } catch let error as FormatError {
            layoutProblem = error.message
        } catch {
            layoutProblem = "\(error)"
        }
    }

    /// Records the reference members' lines (by member index) of a manifest read in full elsewhere.
    func noteReferences(_ lines: [Int: ManifestMember]) {
        referenceLock.lock()
        defer { referenceLock.unlock() }
        if referenceLines == nil { referenceLines = lines }
    }

    /// The manifest line of member `index` if it is a reference member, else nil; the first call
    /// reads the manifest once (checked) unless it was read already.
    func referenceLine(ofMember index: Int) throws -> ManifestMember? {
        referenceLock.lock()
        let known = referenceLines
        referenceLock.unlock()
        if let known { return known[index] }
        try forEachManifestMember()
        referenceLock.lock()
        defer { referenceLock.unlock() }
        return referenceLines?[index]
    }

    /// The manifest member's record (always the last member).
    var manifestRecord: MemberRecord? { members.last }

    /// The first member record whose name hashes to `name`'s SHA-256 (records start with it): a scan
    /// of the raw records, nothing decoded but the match.
    func record(for name: ArchivePath) -> MemberRecord? {
        members.firstIndex(whereRecordStartsWith: Hasher.digest(name.bytes)).map { members[$0] }
    }


    /// Reads one frame at `record`, checks its bytes against the frame's SHA-256 and returns them
    /// decompressed; `compressedHasher` receives the frame's digest (a member's digests hash to its
    /// record's `compressedSHA256`).
    func decompressFrame(_ record: FrameRecord, decompressor: ZstdFrameDecompressor, compressedHasher: Hasher?) throws -> [UInt8] {
        guard record.compressedLength <= UInt64(ZstdFrames.compressBound(ArchiveReader.maximumFrameContent)),
              record.compressedOffset <= size, record.compressedLength <= size - record.compressedOffset else {
            throw SigVaultError(.archiveInvalid, "\(path): index entry for a frame at \(record.compressedOffset) is out of bounds")
        }
        let bytes = try read(at: record.compressedOffset, count: Int(record.compressedLength))
        let digest = Hasher.digest(bytes)
        guard digest == record.compressedSHA256 else {
            throw SigVaultError(.integrity, "\(path): the frame at offset \(record.compressedOffset) does not match its SHA-256 in the index")
        }
        compressedHasher?.update(digest)
        var output: [UInt8] = []
        try bytes.withUnsafeBytes { raw in
            let kind = try ZstdFrames.inspect(raw)
            guard case .data(let length, let contentSize, let checksum) = kind, length == raw.count, checksum,
                  UInt64(contentSize) == record.uncompressedLength else {
                throw SigVaultError(.integrity, "\(path): the frame at offset \(record.compressedOffset) does not match the index")
            }
            do {
                try decompressor.decompress(frame: raw, contentSize: contentSize, into: &output)
            } catch let error as ArchiveIOError {
                throw SigVaultError(.integrity, "\(path): the frame at offset \(record.compressedOffset): \(error.message)")
            }
        }
        return output
    }

    struct ExtractedMember {
        let header: TarEntryHeader
        let size: Int64
        let contentSHA256: [UInt8]
        let compressedSHA256: [UInt8]
    }

    /// Streams one member through libarchive, checking its frames, its tar name and its size, and
    /// passing at most `record.contentSize` content bytes to `consumer`.
    func extract(_ record: MemberRecord, decompressor: ZstdFrameDecompressor? = nil,
                 consumer: (UnsafeRawBufferPointer) throws -> Void) throws -> ExtractedMember {
        guard record.firstFrame <= UInt64(frames.count), record.frameCount <= UInt64(frames.count) - record.firstFrame else {
            throw SigVaultError(.archiveInvalid, "\(path): index member points past the frame table")
        }
        let decompressor = decompressor ?? ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        let compressedHasher = Hasher(.sha256)
        var next = Int(record.firstFrame)
        let end = Int(record.firstFrame + record.frameCount)
        // The member's frames hold exactly one tar entry; end blocks are appended so libarchive
        // sees a complete stream.
        var sentEnd = false
        // The member's bytes must be exactly: its header(s), then the content at `dataOffset`, then
        // zero padding to a 512-byte block. The raw content range is hashed here, independently of
        // libarchive, so nothing can hide between, after or around the entry.
        let layout = MemberLayout(dataOffset: record.dataOffset, contentSize: record.contentSize)
        let reader = try TarReader {
            if next < end {
                let bytes = try self.decompressFrame(self.frames[next], decompressor: decompressor, compressedHasher: compressedHasher)
                next += 1
                layout.take(bytes)
                return bytes
            }
            if !sentEnd { sentEnd = true; return [UInt8](repeating: 0, count: 1024) }
            return []
        }
        guard let header = try reader.nextHeader() else {
            throw SigVaultError(.archiveInvalid, "\(path): member at frame \(record.firstFrame) holds no tar entry")
        }
        let contentHasher = Hasher(.sha256)
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = try buffer.withUnsafeMutableBytes { try reader.readData(into: $0) }
            if got == 0 { break }
            total += Int64(got)
            guard total <= Int64(record.contentSize) else {
                throw SigVaultError(.archiveInvalid, "\(path): member \(ArchivePath.escaped(header.path)) is larger than its recorded size \(record.contentSize)")
            }
            try buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<got])
                layout.match(chunk)
                contentHasher.update(chunk)
                try consumer(chunk)
            }
        }
        // A member's frames hold exactly one entry: anything after it is a crafted archive.
        if let second = try reader.nextHeader() {
            throw SigVaultError(.archiveInvalid, "\(path): member \(ArchivePath.escaped(header.path)) is followed by a hidden entry \(ArchivePath.escaped(second.path)) in the same frames")
        }
        while next < end {  // the frames libarchive did not need
            layout.take(try decompressFrame(frames[next], decompressor: decompressor, compressedHasher: compressedHasher))
            next += 1
        }
        let contentSHA256 = contentHasher.finalize()
        guard layout.isExact else {
            throw SigVaultError(.archiveInvalid, "\(path): member \(ArchivePath.escaped(header.path)) holds more than its header, content and padding")
        }
        return ExtractedMember(header: header, size: total, contentSHA256: contentSHA256, compressedSHA256: compressedHasher.finalize())
    }

    /// Reads a whole small member into memory, checking it against its record.
    func contents(of record: MemberRecord, limit: Int = 256 << 20) throws -> [UInt8] {
        guard record.contentSize <= UInt64(limit) else { throw SigVaultError(.archiveInvalid, "\(path): member too large to load") }
        var out: [UInt8] = []
        out.reserveCapacity(Int(record.contentSize))
        let extracted = try extract(record) { out.append(contentsOf: $0) }
        guard extracted.contentSHA256 == record.contentSHA256, extracted.compressedSHA256 == record.compressedSHA256,
              UInt64(extracted.size) == record.contentSize else {
            throw SigVaultError(.integrity, "\(path): member \(ArchivePath.escaped(extracted.header.path)) does not match its SHA-256")
        }
        return out
    }

    /// One manifest line, read from the manifest frames that hold it, checked against the index.
    func manifestLine(of record: MemberRecord) throws -> ManifestMember {
        guard let manifest = manifestRecord, record.manifestLineLength > 0, record.manifestLineLength <= UInt64(ManifestReader.maximumLineLength),
              record.manifestLineOffset < (1 << 48), manifest.dataOffset < (1 << 32),
              manifest.firstFrame <= UInt64(frames.count), manifest.frameCount <= UInt64(frames.count) - manifest.firstFrame else {
            throw SigVaultError(.archiveInvalid, "\(path): member has no usable manifest line")
        }
        let start = manifest.dataOffset + record.manifestLineOffset
        let stop = start + record.manifestLineLength
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        var position: UInt64 = 0
        var line: [UInt8] = []
        for frameIndex in Int(manifest.firstFrame)..<Int(manifest.firstFrame + manifest.frameCount) {
            let frame = frames[frameIndex]
            let frameStart = position
            position += frame.uncompressedLength
            guard position > start else { continue }
            guard frameStart < stop else { break }
            let bytes = try decompressFrame(frame, decompressor: decompressor, compressedHasher: nil)
            let from = Int(max(start, frameStart) - frameStart)
            let to = Int(min(stop, position) - frameStart)
            line += bytes[from..<to]
        }
        guard Hasher.digest(line) == record.manifestLineSHA256 else {
            throw SigVaultError(.integrity, "\(path): manifest line does not match its SHA-256 in the index")
        }
        // The line's number only matters for a message (finding it is a scan of the index).
        var (member, problems) = ManifestReader.member(line: line, number: 0)
        if member == nil || !problems.isEmpty {
            (member, problems) = ManifestReader.member(line: line, number: Int(members.firstIndex(of: record) ?? 0) + 2)
        }
        guard let member, problems.isEmpty else {
            throw SigVaultError(.archiveInvalid, "\(path): not an archive sigvault pack makes: \(problems.first ?? "not a member line")",
                                hint: "sigvault verify \(path) names every problem")
        }
        guard let name = member.archivePath, Hasher.digest(name.bytes) == record.pathSHA256, Hex.encode(record.contentSHA256) == member.indexedSHA256,
              Int64(clamping: record.contentSize) == member.indexedSize else {
            throw SigVaultError(.integrity, "\(path): the index and the manifest disagree about \(member.path); run sigvault verify")
        }
        return member
    }

    /// Reads the manifest once through the one ManifestReader (bounded lines, canonical form, what
    /// pack never writes), checks each member line against its index record (line SHA-256, name,
    /// size, content SHA-256) and the whole against the trailer, and hands each member line to
    /// `body` with its record. Throws at the end when anything does not hold: `integrity` for
    /// damage, `archiveInvalid` for an archive pack never makes. Returns the manifest's SHA-256.
    @discardableResult
    func forEachManifestMember(_ body: (Int, MemberRecord, ManifestMember) throws -> Void = { _, _, _ in }) throws -> [UInt8] {
        try withoutActuallyEscaping(body) { try forEachManifestMember(escaping: $0) }
    }

    private func forEachManifestMember(escaping body: @escaping (Int, MemberRecord, ManifestMember) throws -> Void) throws -> [UInt8] {
        guard let manifest = manifestRecord else { throw SigVaultError(.archiveInvalid, "\(path): \(layoutProblem ?? "no manifest")") }
        var damage: [String] = []
        var bodyError: Error?
        let recordCount = members.count - 1
        var references: [Int: ManifestMember] = [:]
        let reader = ManifestReader { index, line, member in
            guard bodyError == nil, index < recordCount else { return }
            let record = self.members[index]
            guard Hasher.digest(line) == record.manifestLineSHA256 else {
                damage.append("manifest line \(index + 2) does not match its SHA-256 in the index")
                return
            }
            if let name = member.archivePath, Hasher.digest(name.bytes) != record.pathSHA256 || Hex.encode(record.contentSHA256) != member.indexedSHA256
                || Int64(clamping: record.contentSize) != member.indexedSize {
                damage.append("the index and the manifest disagree about member \(index + 1) (\(name))")
                return
            }
            if member.reference != nil { references[index] = member }
            do { try body(index, record, member) } catch { bodyError = error }
        }
        let extracted = try extract(manifest) { chunk in reader.feed(chunk) }
        reader.finish()
        if let bodyError { throw bodyError }
        if let trailer, trailer.manifestSHA256 != extracted.contentSHA256 {
            throw SigVaultError(.integrity, "\(path): the manifest does not match its SHA-256 in the trailer; run sigvault verify")
        }
        // A line the reader could not take (too long, not JSON) is not counted: its own problem
        // says more than the count it throws off.
        if reader.memberLines != recordCount && reader.problems.isEmpty {
            damage.append("the index holds \(recordCount) members, the manifest lists \(reader.memberLines)")
        }
        if let first = damage.first {
            throw SigVaultError(.integrity, "\(path): \(first)\(damage.count > 1 ? " (and \(damage.count - 1) more)" : ""); run sigvault verify")
        }
        if let first = reader.problems.first {
            let more = reader.problems.count > 1 ? " (and \(reader.problems.count - 1) more)" : ""
            throw SigVaultError(.archiveInvalid, "\(path): not an archive sigvault pack makes: \(first)\(more)",
                                hint: "sigvault verify \(path) names every problem")
        }
        noteReferences(references)
        return extracted.contentSHA256
    }
}

extension UInt64 {
    /// Reads `width` little-endian bytes of `bytes` at `offset`.
    init(littleEndian bytes: [UInt8], at offset: Int, width: Int) {
        var value: UInt64 = 0
        for index in 0..<width { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        self = value
    }
}

/// Follows a member's raw tar bytes: keeps the content range to compare with what the tar parser
/// returns (a byte comparison, so the content is hashed once), and checks the padding and length.
final class MemberLayout {
    private let dataStart: UInt64
    private let dataEnd: UInt64
    private let expectedLength: UInt64
    private var position: UInt64 = 0
    private var paddingIsZero = true
    private var pending: [UInt8] = []
    private var consumed = 0
    private(set) var contentMatches = true

    init(dataOffset: UInt64, contentSize: UInt64) {
        dataStart = dataOffset
        dataEnd = dataOffset &+ contentSize
        expectedLength = dataEnd &+ (512 - contentSize % 512) % 512
    }

    /// Raw decompressed bytes of the member, in order.
    func take(_ bytes: [UInt8]) {
        let start = position
        let stop = position &+ UInt64(bytes.count)
        if stop > dataStart && start < dataEnd {
            let from = Int(Swift.max(dataStart, start) - start), to = Int(Swift.min(dataEnd, stop) - start)
            if consumed > 0 {  // drop what the parser already matched: at most a frame or two stays
                pending.removeFirst(consumed)
                consumed = 0
            }
            pending.append(contentsOf: bytes[from..<to])
        }
        if stop > dataEnd {
            let from = Int(Swift.max(dataEnd, start) - start)
            if bytes[from...].contains(where: { $0 != 0 }) { paddingIsZero = false }
        }
        position = stop
    }

    /// Content the tar parser returned, in order: it must be the raw content range's next bytes.
    func match(_ chunk: UnsafeRawBufferPointer) {
        guard contentMatches else { return }
        guard pending.count - consumed >= chunk.count else { contentMatches = false; return }
        let equal = pending.withUnsafeBytes { raw in
            memcmp(raw.baseAddress! + consumed, chunk.baseAddress!, chunk.count) == 0
        }
        if !equal { contentMatches = false }
        consumed += chunk.count
    }

    /// Header, content, zero padding and nothing else, and all of the content was returned.
    var isExact: Bool {
        paddingIsZero && position == expectedLength && dataEnd >= dataStart && contentMatches && consumed == pending.count
    }
}

/// A table of fixed-size index records read from the archive file on demand, a block at a time.
/// A record that cannot be read comes back zeroed, which every digest check then rejects.
final class IndexTable<Record>: RandomAccessCollection, @unchecked Sendable {
    private let fd: Int32
    private let base: UInt64
    let count: Int
    private let recordSize: Int
    private let decodeRecord: (ArraySlice<UInt8>) -> Record
    private let lock = NSLock()
    /// A few recently read blocks, so threads reading different parts do not evict each other.
    private var blocks: [(start: Int, bytes: [UInt8])] = []
    private static var cachedBlocks: Int { 8 }
    private let recordsPerBlock: Int

    init(fd: Int32, base: UInt64, count: Int, recordSize: Int, decode: @escaping (ArraySlice<UInt8>) -> Record) {
        self.fd = fd
        self.base = base
        self.count = count
        self.recordSize = recordSize
        self.decodeRecord = decode
        self.recordsPerBlock = Swift.max(1, (256 << 10) / recordSize)
    }

    static var empty: IndexTable<Record> {
        IndexTable(fd: -1, base: 0, count: 0, recordSize: 1) { _ in fatalError("empty index table") }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    /// The first record whose encoding starts with `prefix`, found by reading the table in large
    /// blocks (past the cache) and comparing bytes.
    func firstIndex(whereRecordStartsWith prefix: [UInt8]) -> Int? {
        guard count > 0, prefix.count <= recordSize else { return nil }
        let perRead = Swift.max(1, (1 << 20) / recordSize)
        var start = 0
        while start < count {
            let records = Swift.min(perRead, count - start)
            // A block that cannot be read is passed over (the index was hashed whole when opened).
            guard let block = try? POSIX.readAt(fd, offset: base + UInt64(start * recordSize), count: records * recordSize, path: "index", code: .archiveRead),
                  block.count == records * recordSize else {
                start += records
                continue
            }
            let found = block.withUnsafeBytes { raw in
                prefix.withUnsafeBytes { wanted in
                    (0..<records).first { memcmp(raw.baseAddress! + $0 * recordSize, wanted.baseAddress!, wanted.count) == 0 }
                }
            }
            if let found { return start + found }
            start += records
        }
        return nil
    }

    /// Each record's first 8 bytes (for member records: the start of the name's SHA-256) mapped to
    /// the first record that starts with them, read in one pass: for many lookups in one table.
    func prefixMap() -> [UInt64: Int] {
        var map: [UInt64: Int] = [:]
        map.reserveCapacity(count)
        let perRead = Swift.max(1, (1 << 20) / recordSize)
        var start = 0
        while start < count {
            let records = Swift.min(perRead, count - start)
            if let block = try? POSIX.readAt(fd, offset: base + UInt64(start * recordSize), count: records * recordSize, path: "index", code: .archiveRead),
               block.count == records * recordSize {
                for record in 0..<records {
                    let key = block[(record * recordSize)..<(record * recordSize + 8)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    if map[key] == nil { map[key] = start + record }
                }
            }
            start += records
        }
        return map
    }

    subscript(position: Int) -> Record {
        precondition(position >= 0 && position < count, "index record \(position) out of range")
        lock.lock()
        defer { lock.unlock() }
        let start = position - position % recordsPerBlock
        let offset = (position - start) * recordSize
        if let cached = blocks.firstIndex(where: { $0.start == start }) {
            return decodeRecord(blocks[cached].bytes[offset..<(offset + recordSize)])
        }
        let records = Swift.min(recordsPerBlock, count - start)
        var block = (try? POSIX.readAt(fd, offset: base + UInt64(start * recordSize), count: records * recordSize, path: "index", code: .archiveRead)) ?? []
        if block.count < records * recordSize { block += [UInt8](repeating: 0, count: records * recordSize - block.count) }
        if blocks.count >= Self.cachedBlocks { blocks.removeFirst() }
        blocks.append((start, block))
        return decodeRecord(block[offset..<(offset + recordSize)])
    }
}
