import EvidenceRecords
import ArchiveIO
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// Verify's first phase: every member read and hashed, through the index when the trailer vouches
/// for it (several threads, damage stays local and is named), else by one pass over the raw stream.
extension Verifier {
    struct Scan {
        var entries: [ScannedEntry] = []
        var manifest: ManifestReader?
        /// Whether the index lined up with the frames, so members can be found through it.
        var indexUsable = true
    }

    /// Hands out 0, 1, 2, … to several threads.
    final class WorkCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value - 1
        }
    }

    /// One scanned entry per member, filled from several threads (in place: the entries are the
    /// scan's, never copied); a member whose check throws keeps a placeholder and its error.
    final class EntrySlots: @unchecked Sendable {
        private let lock = NSLock()
        var entries: [ScannedEntry]
        private(set) var failures: [Int: Error] = [:]

        init(count: Int) {
            var placeholder = ScannedEntry(path: ArchivePath(bytes: []), size: -1, sha256: Digest32([]), streamOffset: 0, isRegular: true)
            placeholder.damaged = true
            entries = Array(repeating: placeholder, count: count)
        }

        func set(_ index: Int, _ make: () throws -> ScannedEntry) {
            let result = Result(catching: make)
            lock.lock()
            defer { lock.unlock() }
            switch result {
            case .success(let entry): entries[index] = entry
            case .failure(let error): failures[index] = error
            }
        }

        /// Hands the entries over (the slots keep none).
        func takeEntries() -> [ScannedEntry] {
            defer { entries = [] }
            return entries
        }
    }

    /// Checks that frames tile the file up to the index and members tile the frames, then reads every
    /// member through the index on its own (in parallel): its compressed bytes, frames, tar header
    /// and content against the index record. The tar end blocks must be the only other frame.
    func scanMembers(_ reader: ArchiveReader, problem: Problems.Sink) -> Scan {
        var scan = Scan()
        let trailer = reader.trailer!
        var expectedOffset: UInt64 = 0
        var streamOffsets: [UInt64] = []
        var stream: UInt64 = 0
        for (number, frame) in reader.frames.enumerated() {
            if frame.compressedOffset != expectedOffset {
                problem(.frames, nil, "frame \(number) starts at offset \(frame.compressedOffset), expected \(expectedOffset): bytes were added, removed or moved")
            }
            expectedOffset = frame.compressedOffset &+ frame.compressedLength
            streamOffsets.append(stream)
            stream = stream &+ frame.uncompressedLength
        }
        if expectedOffset != trailer.indexOffset {
            problem(.frames, nil, "the data frames end at offset \(expectedOffset) but the index starts at \(trailer.indexOffset)")
        }
        var nextFrame: UInt64 = 0
        for (number, record) in reader.members.enumerated() {
            if record.firstFrame != nextFrame || record.frameCount == 0 || record.frameCount > UInt64(reader.frames.count) - record.firstFrame
                || streamOffsets[safe: Int(record.firstFrame)] != record.streamOffset {
                problem(.index, nil, "index entry \(number + 1) does not follow the previous member's frames")
                var fallback = scanStream(reader, problem: problem)
                fallback.indexUsable = false
                return fallback
            }
            nextFrame = record.firstFrame + record.frameCount
        }
        // The trailer's manifest placement must be the last member's frames.
        if let manifest = reader.manifestRecord, manifest.frameCount > 0 {
            let first = reader.frames[Int(manifest.firstFrame)]
            let last = reader.frames[Int(manifest.firstFrame + manifest.frameCount - 1)]
            if trailer.manifestOffset != first.compressedOffset
                || trailer.manifestLength != last.compressedOffset + last.compressedLength - first.compressedOffset {
                problem(.layout, ArchiveLayout.manifestName, "the trailer places the manifest elsewhere than the index does")
            }
        }
        // The frames after the last member hold the tar end-of-archive blocks and nothing else.
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        let endFrames = reader.frames.count - Int(nextFrame)
        if endFrames != 1 {
            problem(.frames, nil, "the tar stream ends with \(endFrames) frames after the last member, not one end-of-archive frame")
        } else {
            let frame = reader.frames[Int(nextFrame)]
            if frame.uncompressedLength != 1024 {
                problem(.frames, nil, "the end-of-archive frame holds \(frame.uncompressedLength) bytes, not the two 512-byte zero blocks")
            } else if let bytes = try? reader.decompressFrame(frame, decompressor: decompressor, compressedHasher: nil) {
                if bytes.contains(where: { $0 != 0 }) { problem(.frames, nil, "the end-of-archive blocks are not all zero") }
            } else {
                problem(.frames, nil, "the end-of-archive frame at offset \(frame.compressedOffset) is damaged")
            }
        }

        let results = EntrySlots(count: reader.members.count)
        let manifestIndex = reader.members.count - 1
        let collector = ManifestReader(keepListed: true)
        // Members are handed out one at a time, so a thread that drew a large member does not
        // leave the other idle.
        let next = WorkCounter()
        DispatchQueue.concurrentPerform(iterations: min(ProcessInfo.processInfo.activeProcessorCount, max(1, reader.members.count))) { _ in
            let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
            while true {
                // The manifest first: decoding its lines then overlaps the other members' checks.
                let turn = next.take()
                guard turn < reader.members.count else { break }
                let index = turn == 0 ? manifestIndex : turn - 1
                let record = reader.members[index]
                let isManifest = index == manifestIndex
                results.set(index) {
                    let extracted = try reader.extract(record, decompressor: decompressor) { chunk in
                        if isManifest { collector.feed(chunk) }
                    }
                    if isManifest { collector.finish() }
                    let entry = ScannedEntry(path: ArchivePath(bytes: extracted.header.path), size: extracted.size,
                                             sha256: Digest32(extracted.contentSHA256), streamOffset: Int64(record.streamOffset),
                                             isRegular: extracted.header.isRegularFile,
                                             symlinkTarget: extracted.header.isSymbolicLink ? (extracted.header.symlinkTarget ?? []) : nil,
                                             mode: extracted.header.mode, modificationTime: extracted.header.modificationTime)
                    if extracted.compressedSHA256 != record.compressedSHA256 {
                        throw SigVaultError(.integrity, "its compressed bytes do not match their SHA-256 in the index")
                    }
                    if record.pathSHA256 != Hasher.digest(extracted.header.path) || record.contentSHA256 != extracted.contentSHA256
                        || record.contentSize != UInt64(extracted.size) {
                        throw SigVaultError(.integrity, "the index entry does not match the member \(ArchivePath.escaped(extracted.header.path))")
                    }
                    return entry
                }
            }
        }
        // Damaged members get a placeholder under the name the manifest gives them.
        for (index, error) in results.failures.sorted(by: { $0.key < $1.key }) {
            let record = reader.members[index]
            let name = index == manifestIndex ? ArchiveLayout.manifestName
                : (try? reader.manifestLine(of: record)).map(\.path) ?? "member \(index + 1)"
            let reason = (error as? SigVaultError)?.message ?? "\(error)"
            problem(.damaged, name, "\(name) is damaged: \(reason)")
            var placeholder = ScannedEntry(path: ArchivePath.unescaped(name) ?? ArchivePath(name), size: -1, sha256: Digest32([]),
                                           streamOffset: Int64(record.streamOffset), isRegular: true)
            placeholder.damaged = true
            results.entries[index] = placeholder
        }
        if results.failures[manifestIndex] == nil && !results.entries.isEmpty { scan.manifest = collector }
        scan.entries = results.takeEntries()
        return scan
    }

    /// Reads the file front to back without trusting the index: every zstd frame, every tar entry.
    func scanStream(_ reader: ArchiveReader, problem: Problems.Sink) -> Scan {
        var scan = Scan()
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        var position: UInt64 = 0
        var frameNumber = 0
        let dataEnd = reader.layoutProblem == nil ? reader.trailer!.indexOffset : reader.size
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
                        if Hasher.digest(frameBytes) != reader.frames[frameNumber].compressedSHA256 {
                            throw ArchiveIOError(.malformed, "frame \(frameNumber) at offset \(position) does not match its SHA-256 in the index")
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
                let collector = ManifestReader(keepListed: true)
                while true {
                    let got = try buffer.withUnsafeMutableBytes { try tar.readData(into: $0) }
                    if got == 0 { break }
                    size += Int64(got)
                    buffer.withUnsafeBytes { raw in
                        let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<got])
                        hasher.update(chunk)
                        if isManifest { collector.feed(chunk) }
                    }
                }
                if isManifest {
                    collector.finish()
                    scan.manifest = collector
                }
                scan.entries.append(ScannedEntry(path: ArchivePath(bytes: header.path), size: size, sha256: Digest32(hasher.finalize()),
                                                 streamOffset: header.streamOffset, isRegular: header.isRegularFile,
                                                 symlinkTarget: header.isSymbolicLink ? (header.symlinkTarget ?? []) : nil,
                                                 mode: header.mode, modificationTime: header.modificationTime))
            }
        } catch {
            streamError = "\(error)"
        }
        if let streamError {
            let last = scan.entries.last.map { " after member \(ArchivePath.escaped($0.path.bytes))" } ?? ""
            problem(.truncated, nil, "the archive is truncated or damaged at offset \(position)\(last): \(streamError)")
        }
        if reader.layoutProblem == nil {
            if streamError == nil && frameNumber != reader.frames.count {
                problem(.frames, nil, "the file holds \(frameNumber) data frames, the index lists \(reader.frames.count)")
            }
        }
        return scan
    }
}
