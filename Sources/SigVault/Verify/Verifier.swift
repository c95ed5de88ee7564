import ArchiveIO
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct VerifyOptions: Sendable {
    public var archive: String
    public var trust: [String] = []
    public var at: Date = Date()
    public init(archive: String) { self.archive = archive }
}

/// `sigvault verify`: integrity of every byte, then every signature at the time its evidence proves.
public struct Verifier {
    let options: VerifyOptions
    let logger: Logger

    public init(options: VerifyOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    struct ScannedEntry {
        let path: ArchivePath
        let size: Int64
        let sha256: [UInt8]
        let streamOffset: Int64
        let isRegular: Bool
        var damaged = false
    }

    public func run() throws -> VerifyReport {
        let reader = try ArchiveReader(path: options.archive)
        var problems: [VerifyReport.Problem] = []
        func problem(_ code: String, _ member: String?, _ message: String) {
            problems.append(VerifyReport.Problem(code: code, member: member, message: message))
        }
        if let layout = reader.layoutProblem {
            problem("layout", nil, layout)
        }

        // 1. Every member on its own through the index when the trailer vouches for it (damage stays
        //    local and is named); otherwise one pass over the raw stream.
        let scan = reader.layoutProblem == nil ? scanMembers(reader, problem: problem) : scanStream(reader, problem: problem)
        if scan.entries.isEmpty && reader.layoutProblem != nil {
            throw SigVaultError(.invalidInput, "\(options.archive): not a SigVault archive (\(reader.layoutProblem!))")
        }

        // 2. The manifest: the last entry, hashed against the trailer.
        var manifestMembers: [ManifestMember] = []
        var fingerprint: String?
        if let manifestEntry = scan.entries.last, manifestEntry.path == ArchivePath(ArchiveLayout.manifestName), !manifestEntry.damaged {
            fingerprint = Hex.encode(manifestEntry.sha256)
            if let trailer = reader.trailer, trailer.manifestSHA256 != manifestEntry.sha256 {
                problem("manifest", ArchiveLayout.manifestName, "the manifest's SHA-256 does not match the trailer")
            }
            for (number, line) in scan.manifestLines.enumerated() {
                guard let parsed = try? ManifestLine.decode(line) else {
                    problem("manifest", ArchiveLayout.manifestName, "manifest line \(number + 1) is not valid JSON of the format")
                    continue
                }
                if case .member(let member) = parsed { manifestMembers.append(member) }
            }
        } else {
            problem("manifest", ArchiveLayout.manifestName, "the manifest cannot be read: the archive does not end with an intact manifest member")
        }

        // 3. Members against the manifest, in order.
        let scanned = scan.entries.filter { $0.path != ArchivePath(ArchiveLayout.manifestName) }
        if fingerprint != nil { compare(manifest: manifestMembers, scanned: scanned, problem: problem) }

        // 5. Signatures.
        var documents: [DocumentReport] = []
        var summary = VerifyReport.Summary()
        summary.members = scan.entries.count
        let anchors = try MaterialLoader.anchors(options.trust)
        if reader.layoutProblem == nil, fingerprint != nil {
            let results = (try? validate(reader: reader, anchors: anchors)) ?? []
            for result in results {
                documents.append(DocumentReport(result))
                summary.documents += 1
                if result.signed {
                    summary.signed += 1
                    switch result.verdict?.indication {
                    case .totalPassed?: summary.totalPassed += 1
                    case .totalFailed?: summary.totalFailed += 1
                    default: summary.indeterminate += 1
                    }
                } else {
                    summary.unsigned += 1
                }
            }
        }
        var exit: ExitCode = .ok
        if !problems.isEmpty || summary.totalFailed > 0 { exit = .integrityOrFailed } else if summary.indeterminate > 0 { exit = .findings }
        return VerifyReport(
            archive: options.archive, fingerprint: fingerprint, formatVersion: reader.trailer.map { Int($0.version) },
            validationTime: ISOTime.format(options.at),
            integrity: .init(ok: problems.isEmpty, problems: problems),
            proofOfTime: .init(archiveTimeStamp: nil,
                               statement: "the archive is self-consistent but carries no archive time-stamp: nothing in it proves when it was made"),
            documents: documents, summary: summary, exitCode: exit.rawValue)
    }

    struct Scan {
        var entries: [ScannedEntry] = []
        var manifestLines: [[UInt8]] = []
        var memberCompressedDigests: [[UInt8]] = []
    }

    /// Per-index result slots filled from several threads.
    final class ResultSlots<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Value?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Value) {
            lock.lock()
            values[index] = value
            lock.unlock()
        }
    }

    /// Checks that frames tile the file up to the index and members tile the frames, then reads every
    /// member through the index on its own (in parallel): its compressed bytes, frames, tar header
    /// and content against the index record. The tar end blocks must be the only other frame.
    private func scanMembers(_ reader: ArchiveReader, problem: (String, String?, String) -> Void) -> Scan {
        var scan = Scan()
        let trailer = reader.trailer!
        var expectedOffset: UInt64 = 0
        var streamOffsets: [UInt64] = []
        var stream: UInt64 = 0
        for (number, frame) in reader.frames.enumerated() {
            if frame.compressedOffset != expectedOffset {
                problem("frames", nil, "frame \(number) starts at offset \(frame.compressedOffset), expected \(expectedOffset): bytes were added, removed or moved")
            }
            expectedOffset = frame.compressedOffset + frame.compressedLength
            streamOffsets.append(stream)
            stream += frame.uncompressedLength
        }
        if expectedOffset != trailer.indexOffset {
            problem("frames", nil, "the data frames end at offset \(expectedOffset) but the index starts at \(trailer.indexOffset)")
        }
        var nextFrame: UInt64 = 0
        for (number, record) in reader.members.enumerated() {
            if record.firstFrame != nextFrame || record.frameCount == 0 || record.firstFrame + record.frameCount > UInt64(reader.frames.count)
                || streamOffsets[safe: Int(record.firstFrame)] != record.streamOffset {
                problem("index", nil, "index entry \(number + 1) does not follow the previous member's frames")
                return scanStream(reader, problem: problem)
            }
            nextFrame = record.firstFrame + record.frameCount
        }
        // The frames after the last member hold the tar end-of-archive blocks and nothing else.
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        var endBytes: [UInt8] = []
        for frame in reader.frames.dropFirst(Int(nextFrame)) {
            if let bytes = try? reader.decompressFrame(frame, decompressor: decompressor, compressedHasher: nil) {
                endBytes += bytes
            } else {
                problem("frames", nil, "the end-of-archive frame at offset \(frame.compressedOffset) is damaged")
            }
        }
        if endBytes.count < 1024 || endBytes.contains(where: { $0 != 0 }) {
            problem("frames", nil, "the tar stream does not end with its end-of-archive blocks only")
        }

        let results = ResultSlots<Result<(ScannedEntry, [[UInt8]]), Error>>(count: reader.members.count)
        let manifestIndex = reader.members.count - 1
        DispatchQueue.concurrentPerform(iterations: min(2, max(1, reader.members.count))) { worker in
            var index = worker
            while index < reader.members.count {
                let record = reader.members[index]
                var lines: [[UInt8]] = []
                var partial: [UInt8] = []
                let isManifest = index == manifestIndex
                results.set(index, Result {
                    let extracted = try reader.extract(record) { chunk in
                        guard isManifest else { return }
                        partial.append(contentsOf: chunk)
                        while let newline = partial.firstIndex(of: 0x0A) {
                            lines.append(Array(partial[..<newline]))
                            partial.removeSubrange(...newline)
                        }
                    }
                    if !partial.isEmpty { lines.append(partial) }
                    let entry = ScannedEntry(path: ArchivePath(bytes: extracted.header.path), size: extracted.size,
                                             sha256: extracted.contentSHA256, streamOffset: Int64(record.streamOffset),
                                             isRegular: extracted.header.isRegularFile)
                    if extracted.compressedSHA256 != record.compressedSHA256 {
                        throw SigVaultError(.integrityOrFailed, "its compressed bytes do not match their SHA-256 in the index")
                    }
                    if record.pathSHA256 != Hasher.digest(extracted.header.path) || record.contentSHA256 != extracted.contentSHA256
                        || record.contentSize != UInt64(extracted.size) {
                        throw SigVaultError(.integrityOrFailed, "the index entry does not match the member \(ArchivePath.escaped(extracted.header.path))")
                    }
                    return (entry, lines)
                })
                index += 2
            }
        }
        for (index, slot) in results.values.enumerated() {
            switch slot {
            case .success(let (entry, lines))?:
                scan.entries.append(entry)
                if index == manifestIndex { scan.manifestLines = lines }
            case .failure(let error)?:
                let record = reader.members[index]
                let name = index == manifestIndex ? ArchiveLayout.manifestName
                    : (try? reader.manifestLine(of: record)).map(\.path) ?? "member \(index + 1)"
                let reason = (error as? SigVaultError)?.message ?? "\(error)"
                problem("damaged", name, "\(name) is damaged: \(reason)")
                var placeholder = ScannedEntry(path: ArchivePath.unescaped(name) ?? ArchivePath(name), size: -1, sha256: [],
                                               streamOffset: Int64(record.streamOffset), isRegular: true)
                placeholder.damaged = true
                scan.entries.append(placeholder)
            case nil:
                break
            }
        }
        return scan
    }

    /// Reads the file front to back without trusting the index: every zstd frame, every tar entry.
    private func scanStream(_ reader: ArchiveReader, problem: (String, String?, String) -> Void) -> Scan {
        var scan = Scan()
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        var position: UInt64 = 0
        var frameNumber = 0
        let dataEnd = reader.layoutProblem == nil ? reader.trailer!.indexOffset : reader.size
        // Which member each frame belongs to, from the index (when usable).
        var memberOfFrame: [Int] = []
        if reader.layoutProblem == nil {
            memberOfFrame = Array(repeating: -1, count: reader.frames.count)
            for (memberIndex, record) in reader.members.enumerated() {
                for frame in Int(record.firstFrame)..<min(Int(record.firstFrame + record.frameCount), reader.frames.count) {
                    memberOfFrame[frame] = memberIndex
                }
            }
            scan.memberCompressedDigests = []
        }
        var hashers: [Int: Hasher] = [:]
        var streamError: String?
        let source: () throws -> [UInt8] = {
            while position < dataEnd {
                let want = Int(min(UInt64(ZstdFrames.compressBound(ArchiveReader.maximumFrameContent) + 64), dataEnd - position))
                let bytes = try reader.read(at: position, count: want)
                let kind = try bytes.withUnsafeBytes { try ZstdFrames.inspect($0) }
                switch kind {
                case .skippable(_, let length):
                    position += UInt64(8 + length)
                    continue
                case .data(let length, let contentSize, let checksum):
                    guard checksum else { throw ArchiveIOError(.malformed, "frame at offset \(position) has no content checksum") }
                    let frameBytes = Array(bytes[0..<length])
                    if reader.layoutProblem == nil {
                        if frameNumber >= reader.frames.count || reader.frames[frameNumber].compressedOffset != position
                            || reader.frames[frameNumber].compressedLength != UInt64(length) {
                            throw ArchiveIOError(.malformed, "frame \(frameNumber) at offset \(position) is not where the index places it")
                        }
                        let member = memberOfFrame[frameNumber]
                        if member >= 0 {
                            let hasher = hashers[member] ?? Hasher(.sha256)
                            hashers[member] = hasher
                            hasher.update(frameBytes)
                        }
                    }
                    var output: [UInt8] = []
                    try frameBytes.withUnsafeBytes { try decompressor.decompress(frame: $0, contentSize: contentSize, into: &output) }
                    position += UInt64(length)
                    frameNumber += 1
                    if output.isEmpty { continue }
                    return output
                }
            }
            return []
        }
        do {
            let tar = try TarReader(source: source)
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while let header = try tar.nextHeader() {
                let hasher = Hasher(.sha256)
                var size: Int64 = 0
                let isManifest = header.path == Array(ArchiveLayout.manifestName.utf8)
                var partial: [UInt8] = []
                while true {
                    let got = try buffer.withUnsafeMutableBytes { try tar.readData(into: $0) }
                    if got == 0 { break }
                    size += Int64(got)
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                    if isManifest {
                        partial.append(contentsOf: buffer[0..<got])
                        while let newline = partial.firstIndex(of: 0x0A) {
                            scan.manifestLines.append(Array(partial[..<newline]))
                            partial.removeSubrange(...newline)
                        }
                    }
                }
                if isManifest && !partial.isEmpty { scan.manifestLines.append(partial) }
                scan.entries.append(ScannedEntry(path: ArchivePath(bytes: header.path), size: size, sha256: hasher.finalize(),
                                                 streamOffset: header.streamOffset, isRegular: header.isRegularFile))
            }
        } catch {
            streamError = "\(error)"
        }
        if let streamError {
            let last = scan.entries.last.map { " after member \(ArchivePath.escaped($0.path.bytes))" } ?? ""
            problem("truncated", nil, "the archive is truncated or damaged at offset \(position)\(last): \(streamError)")
        }
        if reader.layoutProblem == nil {
            if streamError == nil && frameNumber != reader.frames.count {
                problem("frames", nil, "the file holds \(frameNumber) data frames, the index lists \(reader.frames.count)")
            }
            scan.memberCompressedDigests = (0..<reader.members.count).map { hashers[$0]?.finalize() ?? [] }
        }
        return scan
    }

    private func compare(manifest: [ManifestMember], scanned: [ScannedEntry], problem: (String, String?, String) -> Void) {
        var listed: [ArchivePath: ManifestMember] = [:]
        var order: [ArchivePath] = []
        for member in manifest {
            guard let path = member.archivePath else {
                problem("manifest", member.path, "manifest path \(member.path) is not a valid escaped name")
                continue
            }
            if listed[path] != nil { problem("duplicated", member.path, "the manifest lists \(member.path) twice") }
            listed[path] = member
            order.append(path)
        }
        var seen: [ArchivePath: Int] = [:]
        for entry in scanned { seen[entry.path, default: 0] += 1 }
        for (path, count) in seen.sorted(by: { $0.key < $1.key }) where count > 1 {
            problem("duplicated", path.description, "member \(path) appears \(count) times in the archive")
        }
        for entry in scanned where listed[entry.path] == nil {
            problem("extra", entry.path.description, "member \(entry.path) is in the archive but not in the manifest")
        }
        for path in order where seen[path] == nil {
            problem("missing", path.description, "member \(path) is in the manifest but not in the archive")
        }
        var reported: Set<ArchivePath> = []
        for entry in scanned {
            guard let member = listed[entry.path], !reported.contains(entry.path), !entry.damaged else { continue }
            reported.insert(entry.path)
            if member.size != entry.size || member.sha256 != Hex.encode(entry.sha256) {
                problem("content", entry.path.description, "member \(entry.path) does not match its size and SHA-256 in the manifest")
            }
            if !entry.path.isSafeRelative || entry.path.hasPrefix("/") {
                problem("unsafe", entry.path.description, "member name \(entry.path) is not a safe relative path")
            }
        }
        let scannedOrder = scanned.map(\.path).filter { listed[$0] != nil }
        let manifestOrder = order.filter { seen[$0] != nil }
        if Set(scannedOrder).count == scannedOrder.count, scannedOrder != manifestOrder {
            for (a, b) in zip(scannedOrder, manifestOrder) where a != b {
                problem("reordered", a.description, "member \(a) is out of order (the manifest expects \(b) here)")
                break
            }
        }
    }

    private func validate(reader: ArchiveReader, anchors: TrustAnchors) throws -> [DocumentResult] {
        let pool = EvidencePool()
        var dataNames: [ArchivePath] = []
        var records: [ArchivePath: MemberRecord] = [:]
        // Evidence members go into the pool; data members are grouped as pack grouped them.
        try reader.forEachManifestMember { _, record, member in
            guard let path = member.archivePath else { return }
            records[path] = record
            switch member.role {
            case .certificate:
                if let bytes = try? reader.contents(of: record), let list = try? Certificate.parseAll(bytes) { pool.add(list) }
            case .crl:
                if let bytes = try? reader.contents(of: record), let list = try? RevocationList.parseAll(bytes) { list.forEach { pool.add($0) } }
            case .ocsp:
                if let bytes = try? reader.contents(of: record), let response = try? OCSPResponse(der: bytes) { pool.add(response) }
            case .document, .signature, .timeStamp:
                dataNames.append(path.droppingPrefix(ArchiveLayout.dataPrefix))
            case .symbolicLink, .verifyGuide:
                return
            }
        }
        let source = try ArchiveSource(reader: reader, records: records)
        let groups = DocumentAnalyzer.group(dataNames) { name in
            guard let bytes = try? source.bytes(of: name) else { return nil }
            return try? SignedData(bytes: bytes)
        }
        for group in groups {
            for file in group.signatureFiles {
                if let bytes = try? source.bytes(of: file), let signed = try? SignedData(bytes: bytes) { pool.add(signed.certificates) }
            }
        }
        let validator = SignatureValidator(pool: pool, policy: ValidationPolicy(anchors: anchors, now: options.at))
        let analyzer = DocumentAnalyzer(validator: validator, source: source)
        return groups.map { analyzer.analyze($0) }
    }
}

/// Serves archive members to the analyzer: small ones in memory, documents as private scratch files.
final class ArchiveSource: MemberSource {
    let reader: ArchiveReader
    let records: [ArchivePath: MemberRecord]
    let scratchDirectory: String
    private var extracted: [ArchivePath: String] = [:]

    init(reader: ArchiveReader, records: [ArchivePath: MemberRecord]) throws {
        self.reader = reader
        self.records = records
        let template = NSTemporaryDirectory() + "/sigvault-verify-XXXXXX"
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else { throw SigVaultError(.ioError, "cannot create a scratch folder: \(POSIX.errorText)") }
        scratchDirectory = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: scratchDirectory) }

    private func record(_ path: ArchivePath) throws -> MemberRecord {
        guard let record = records[ArchivePath(ArchiveLayout.dataPrefix).joined(path)] else {
            throw SigVaultError(.invalidInput, "\(path): not in the archive")
        }
        return record
    }

    func bytes(of path: ArchivePath) throws -> [UInt8] { try reader.contents(of: record(path), limit: 64 << 20) }

    func content(of path: ArchivePath) throws -> SignedContent {
        if let done = extracted[path] { return .file(done) }
        let record = try record(path)
        if record.contentSize <= 16 << 20 { return .bytes(try reader.contents(of: record)) }
        let target = scratchDirectory + "/\(extracted.count)"
        guard let handle = FileManager.default.createFile(atPath: target, contents: nil) ? FileHandle(forWritingAtPath: target) : nil else {
            throw SigVaultError(.ioError, "\(target): cannot create scratch file")
        }
        defer { try? handle.close() }
        let result = try reader.extract(record) { handle.write(Data($0)) }
        guard result.contentSHA256 == record.contentSHA256 else { throw SigVaultError(.integrityOrFailed, "\(path): does not match its SHA-256") }
        extracted[path] = target
        return .file(target)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
