import EvidenceRecords
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
    /// `--certs`, `--crls`, `--ocsp`: material from outside the archive, used and reported as such,
    /// never written into it.
    public var certificates: [String] = []
    public var revocationLists: [String] = []
    public var ocspResponses: [String] = []
    /// `--fetch-revocation` (nil: no network access).
    public var fetchRevocation: FetchSettings?
    /// `--max-revocation-age` (ETSI EN 319 102-1 §5.2.5; nil: nextUpdate − thisUpdate).
    public var maximumRevocationAge: TimeInterval?
    /// `--integrity-only`: the bytes only (members, manifest, index, trailer, the evidence section's
    /// hash trees and imprints); no signature, time-stamp signature or trust is evaluated.
    public var integrityOnly = false
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
        let sha256: Digest32
        let streamOffset: Int64
        let isRegular: Bool
        var symlinkTarget: [UInt8]? = nil
        var mode: UInt32? = nil
        var modificationTime: Int64? = nil
        var damaged = false
    }

    public func run() throws -> VerifyReport {
        let started = Date()
        let reader = try ArchiveReader(path: options.archive)
        logger.info("verifying", metadata: ["archive": "\(options.archive)", "size": "\(reader.size)"])
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
            throw SigVaultError(.archiveInvalid, "\(options.archive): not a SigVault archive (\(reader.layoutProblem!))")
        }

        // 2. The manifest: the last entry, hashed against the trailer.
        var fingerprint: String?
        let listed = scan.manifest?.listed ?? []
        if let manifestEntry = scan.entries.last, manifestEntry.path == ArchivePath(ArchiveLayout.manifestName), !manifestEntry.damaged,
           let manifest = scan.manifest {
            fingerprint = Hex.encode(manifestEntry.sha256.bytes)
            if let trailer = reader.trailer, Digest32(trailer.manifestSHA256) != manifestEntry.sha256 {
                problem("manifest", ArchiveLayout.manifestName, "the manifest's SHA-256 does not match the trailer")
            }
            for message in manifest.problems { problem("manifest", ArchiveLayout.manifestName, message) }
        } else {
            problem("manifest", ArchiveLayout.manifestName, "the manifest cannot be read: the archive does not end with an intact manifest member")
        }

        // 3. Members against the manifest, in order.
        // Only the last entry is the manifest; another entry of that name is an extra member.
        // A slice: the entries are not copied.
        var scanned = scan.entries[...]
        if scanned.last?.path == ArchivePath(ArchiveLayout.manifestName) { scanned = scanned.dropLast() }
        if fingerprint != nil { compare(manifest: listed, scanned: scanned, problem: problem) }

        if options.integrityOnly {
            if reader.layoutProblem == nil, scan.indexUsable, fingerprint != nil {
                do {
                    if let evidence = try reader.evidence() {
                        try checkEvidenceBytes(evidence, reader: reader, entries: scan.entries, listed: listed, problem: problem)
                    }
                } catch let error as SigVaultError where error.stopsTheRun {
                    throw error
                } catch {
                    problem("evidence", nil, "the evidence section cannot be used: \((error as? SigVaultError)?.message ?? "\(error)")")
                }
            }
            var summary = VerifyReport.Summary()
            summary.members = scanned.count
            summary.documents = listed.filter { $0.role == .document }.count
            var report = VerifyReport(
                archive: options.archive, fingerprint: fingerprint, formatVersion: reader.trailer.map { Int($0.version) },
                validationTime: ISOTime.format(options.at), integrity: .init(ok: problems.isEmpty, problems: problems),
                proofOfTime: .init(archiveTimeStamp: nil, statement: "not evaluated: --integrity-only checks the bytes, not signatures, time-stamps or trust"),
                summary: summary, warnings: [], exitCode: problems.isEmpty ? 0 : ExitCode.integrityOrFailed.rawValue)
            report.checks = "integrity"
            return report
        }

        // 5. Signatures.
        var analysed: [(path: ArchivePath, report: DocumentReport)] = []
        var plain: [ArchivePath] = []
        var summary = VerifyReport.Summary()
        summary.members = scanned.count
        let (anchors, trustWarnings, trustSource) = try MaterialLoader.anchorsDescribed(options.trust)
        let outside = EvidencePool()
        let materialWarnings = try MaterialLoader.loadMaterial(certificates: options.certificates, revocationLists: options.revocationLists,
                                                               ocspResponses: options.ocspResponses, into: outside, external: true).warnings
        let fetcher = options.fetchRevocation.map { RevocationFetcher(anchors: anchors, settings: $0) }
        let context = ValidationContext(anchors: anchors, outside: outside, fetcher: fetcher)
        // The archive time-stamp (version 2): its tree over the data groups, then its tokens.
        var archiveTimeStamp: ArchiveTimeStampResult?
        if reader.layoutProblem == nil, scan.indexUsable, fingerprint != nil {
            do {
                if let evidence = try reader.evidence() {
                    archiveTimeStamp = try evaluate(evidence, reader: reader, entries: scan.entries, listed: listed, context: context,
                                                    problem: problem)
                }
            } catch let error as SigVaultError where error.stopsTheRun {
                throw error
            } catch {
                problem("evidence", nil, "the evidence section cannot be used: \((error as? SigVaultError)?.message ?? "\(error)")")
            }
        }
        var archiveProof: Date?
        if reader.layoutProblem == nil, scan.indexUsable, fingerprint != nil {
            let results: [DocumentResult]
            // A valid archive time-stamp is a proof of existence for every document (each is in a
            // data group, or a problem was reported above).
            let proof = archiveTimeStamp.flatMap { $0.verdict.indication == .totalPassed ? $0.genTime : nil }
            archiveProof = proof
            (results, plain) = try validate(reader: reader, context: context, listed: listed, entries: scan.entries, archiveProof: proof)
            summary.documents += plain.count
            summary.unsigned += plain.count
            for result in results {
                if !result.failedDocumentTimeStamps.isEmpty { summary.documentTimeStampProblems += 1 }
                var report = DocumentReport(result)
                if let proof, report.proofOfExistence.flatMap(ISOTime.parse).map({ $0 > proof }) ?? true {
                    report.proofOfExistence = ISOTime.format(proof)
                }
                analysed.append((result.group.document, report))
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
        logger.info("verified", metadata: ["problems": "\(problems.count)", "documents": "\(summary.documents)",
                                           "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
        var exit: ExitCode = .ok
        if !problems.isEmpty || summary.totalFailed > 0 { exit = .integrityOrFailed } else if summary.indeterminate > 0 { exit = .findings }
        if exit == .ok, let archiveTimeStamp, archiveTimeStamp.verdict.indication != .totalPassed { exit = .findings }
        if exit == .ok, summary.documentTimeStampProblems > 0 { exit = .findings }
        var warnings = trustWarnings + materialWarnings
        // Without --trust, a signature without a chain most likely needs the anchor the user relies on.
        let chainFailures = analysed.reduce(0) { count, entry in
            count + entry.report.signatures.filter { $0.subIndication == SubIndication.noCertificateChainFound.rawValue }.count
        }
        if trustSource.source == "system-store" && chainFailures > 0 { warnings.append(TrustSource.hint(chainFailures: chainFailures)) }
        var report = VerifyReport(
            archive: options.archive, fingerprint: fingerprint, formatVersion: reader.trailer.map { Int($0.version) },
            validationTime: ISOTime.format(options.at),
            integrity: .init(ok: problems.isEmpty, problems: problems),
            proofOfTime: Self.proofOfTime(archiveTimeStamp, damaged: !problems.isEmpty),
            analysed: analysed, plain: plain, archiveProofOfExistence: archiveProof, summary: summary, warnings: warnings, exitCode: exit.rawValue)
        report.trust = trustSource
        return report
    }

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
            expectedOffset = frame.compressedOffset &+ frame.compressedLength
            streamOffsets.append(stream)
            stream = stream &+ frame.uncompressedLength
        }
        if expectedOffset != trailer.indexOffset {
            problem("frames", nil, "the data frames end at offset \(expectedOffset) but the index starts at \(trailer.indexOffset)")
        }
        var nextFrame: UInt64 = 0
        for (number, record) in reader.members.enumerated() {
            if record.firstFrame != nextFrame || record.frameCount == 0 || record.frameCount > UInt64(reader.frames.count) - record.firstFrame
                || streamOffsets[safe: Int(record.firstFrame)] != record.streamOffset {
                problem("index", nil, "index entry \(number + 1) does not follow the previous member's frames")
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
                problem("layout", ArchiveLayout.manifestName, "the trailer places the manifest elsewhere than the index does")
            }
        }
        // The frames after the last member hold the tar end-of-archive blocks and nothing else.
        let decompressor = ZstdFrameDecompressor(maximumContentSize: ArchiveReader.maximumFrameContent)
        let endFrames = reader.frames.count - Int(nextFrame)
        if endFrames != 1 {
            problem("frames", nil, "the tar stream ends with \(endFrames) frames after the last member, not one end-of-archive frame")
        } else {
            let frame = reader.frames[Int(nextFrame)]
            if frame.uncompressedLength != 1024 {
                problem("frames", nil, "the end-of-archive frame holds \(frame.uncompressedLength) bytes, not the two 512-byte zero blocks")
            } else if let bytes = try? reader.decompressFrame(frame, decompressor: decompressor, compressedHasher: nil) {
                if bytes.contains(where: { $0 != 0 }) { problem("frames", nil, "the end-of-archive blocks are not all zero") }
            } else {
                problem("frames", nil, "the end-of-archive frame at offset \(frame.compressedOffset) is damaged")
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
            problem("damaged", name, "\(name) is damaged: \(reason)")
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
    private func scanStream(_ reader: ArchiveReader, problem: (String, String?, String) -> Void) -> Scan {
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
            problem("truncated", nil, "the archive is truncated or damaged at offset \(position)\(last): \(streamError)")
        }
        if reader.layoutProblem == nil {
            if streamError == nil && frameNumber != reader.frames.count {
                problem("frames", nil, "the file holds \(frameNumber) data frames, the index lists \(reader.frames.count)")
            }
        }
        return scan
    }

    private func compare(manifest: [ListedMember], scanned: ArraySlice<ScannedEntry>, problem: (String, String?, String) -> Void) {
        // The usual case, everything in order, equal and unique, needs no more tables.
        var names = Set<ArchivePath>()
        names.reserveCapacity(scanned.count)
        let unique = scanned.allSatisfy { names.insert($0.path).inserted }
        if unique, manifest.count == scanned.count,
           zip(manifest, scanned).allSatisfy({ $0.path == $1.path && $0.size == $1.size && $0.sha256 == $1.sha256 && !$1.damaged
                                              && $0.symlinkTarget == $1.symlinkTarget && ($1.isRegular || $1.symlinkTarget != nil)
                                              && $0.metadataMatches($1) }) {
            for entry in scanned where !entry.path.isSafeRelative {
                problem("unsafe", entry.path.description, "member name \(entry.path) is not a safe relative path")
            }
            return
        }
        var listed: [ArchivePath: ListedMember] = [:]
        var order: [ArchivePath] = []
        for member in manifest {
            let path = member.path
            if listed[path] != nil { problem("duplicated", path.description, "the manifest lists \(path) twice") }
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
            if member.size != entry.size || member.sha256 != entry.sha256 {
                problem("content", entry.path.description, "member \(entry.path) does not match its size and SHA-256 in the manifest")
            }
            if !member.metadataMatches(entry) {
                problem("content", entry.path.description, "member \(entry.path): its mode or modification time in the tar header differs from the manifest")
            }
            if member.symlinkTarget != entry.symlinkTarget {
                problem("content", entry.path.description, "member \(entry.path): its link target (or its being a link) differs from the manifest")
            }
            if !entry.isRegular && entry.symlinkTarget == nil {
                problem("unsafe", entry.path.description, "member \(entry.path) is neither a regular file nor a symbolic link")
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

    /// The analysed documents and, apart, the plain unsigned ones (nothing can concern them), each
    /// in name order.
    /// What every validation of one verify run shares: the anchors, the material from outside the
    /// archive, and the fetcher.
    struct ValidationContext {
        let anchors: TrustAnchors
        let outside: EvidencePool
        let fetcher: RevocationFetcher?
    }

    private func validate(reader: ArchiveReader, context: ValidationContext, listed: [ListedMember], entries: [ScannedEntry],
                          archiveProof: Date?) throws -> ([DocumentResult], [ArchivePath]) {
        let pool = EvidencePool()
        pool.add(contentsOf: context.outside)
        var dataNames: [ArchivePath] = []
        var records: [ArchivePath: Int] = [:]
        // Members were checked against the manifest in order; only listed names are looked at.
        let bases = Set(listed.lazy.filter { $0.role != .certificate && $0.role != .crl && $0.role != .ocsp }
            .map { $0.path.droppingPrefix(ArchiveLayout.dataPrefix) }
            .filter(DocumentAnalyzer.mayTakePart).flatMap(DocumentAnalyzer.possibleBases))
        var plain: [ArchivePath] = []
        // Members are found by name (entry i is index record i, checked by the scan), never by their
        // position in the manifest: an extra or missing member must not shift the pairing.
        var position: [ArchivePath: Int] = [:]
        var damaged = Set<ArchivePath>()
        for (index, entry) in entries.enumerated() where index < reader.members.count - 1 {
            if entry.damaged { damaged.insert(entry.path); continue }
            position[entry.path] = position[entry.path] == nil ? index : -1
        }
        // Damaged files that a signature or token concerns still take part in the grouping (a
        // damaged signature file as the signature the manifest says it is), so that what depends on
        // them says it cannot be read; damaged documents are then never reported as intact.
        var damagedData = Set<ArchivePath>()
        var damagedSignatures = Set<ArchivePath>()
        for member in listed {
            guard let index = position[member.path], index >= 0 else {
                let name = member.path.droppingPrefix(ArchiveLayout.dataPrefix)
                if damaged.contains(member.path), member.role == .document || member.role == .signature || member.role == .timeStamp,
                   DocumentAnalyzer.mayTakePart(name) || bases.contains(name) {
                    dataNames.append(name)
                    damagedData.insert(name)
                    if member.role == .signature { damagedSignatures.insert(name) }
                }
                continue
            }
            let record = reader.members[index]
            if member.role == .document || member.role == .signature || member.role == .timeStamp {
                // A file that no signature or token can concern is an unsigned document: no analysis.
                let name = member.path.droppingPrefix(ArchiveLayout.dataPrefix)
                if !DocumentAnalyzer.mayTakePart(name) && !bases.contains(name) {
                    plain.append(name)
                    continue
                }
            }
            records[member.path] = index
            switch member.role {
            case .certificate, .crl, .ocsp:
                // Material that does not parse is left out: its member was checked above.
                if let bytes = try? reader.contents(of: record) { _ = try? pool.add(bytes, as: member.role.materialKind) }
            case .document, .signature, .timeStamp:
                dataNames.append(member.path.droppingPrefix(ArchiveLayout.dataPrefix))
            case .symbolicLink, .verifyGuide:
                continue
            }
        }
        let source = try ArchiveSource(reader: reader, records: records, damaged: damagedData)
        let groups = try DocumentAnalyzer.group(dataNames, source: source, addingMaterialTo: pool, knownSignatures: damagedSignatures)
        let validator = SignatureValidator(pool: pool, policy: ValidationPolicy(anchors: context.anchors, now: options.at,
                                                                                archiveProofOfExistence: archiveProof,
                                                                                maximumRevocationAge: options.maximumRevocationAge),
                                           revocationSource: context.fetcher)
        let analyzer = DocumentAnalyzer(validator: validator, source: source)
        plain.sort()
        // A damaged document is named among the integrity problems; it is listed as a document only
        // when signed (its signatures then say it cannot be read), never as an intact unsigned one.
        let results = try groups.filter { !(damagedData.contains($0.document) && $0.kind == .unsigned) }.map { group in
            var result = try analyzer.analyze(group)
            if damagedData.contains(group.document) { result.group.notes.append("the document is damaged (see the integrity problems)") }
            return result
        }
        return (results.sorted { $0.group.document < $1.group.document }, plain)
    }
}

/// What the archive time-stamp of a version 2 archive proves.
struct ArchiveTimeStampResult {
    let verdict: Verdict
    let genTime: Date?
    let tsa: String?
    var renewBefore: Date? = nil
}

extension Verifier {
    /// Checks the evidence section against the archive: every group's leaf from its members'
    /// verified contents, the tree from those leaves, every document in some group; then evaluates
    /// the archive time-stamp with the first group's record (RFC 4998 §5.3; its tokens as
    /// time-stamps, valid until the next one, the last until the validation time).
    /// --integrity-only: the evidence section's trees against the archive, and each archive
    /// time-stamp's imprint against what it must cover.
    func checkEvidenceBytes(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                            problem: (String, String?, String) -> Void) throws {
        let trees = try checkTrees(evidence, reader: reader, entries: entries, listed: listed, problem: problem)
        guard let trees, trees.consistent else { return }
        let record = try trees.hashes.record(evidence, group: 0)
        let coverage = try RecordVerifier.coverage(record) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            return algorithm == .sha256 ? trees.firstGroupHashes : try evidence.groups[0].members.map { try trees.hashes.memberHash($0, algorithm) }
        }
        for (chain, outcomes) in coverage.enumerated() {
            for (stamp, outcome) in outcomes.enumerated() {
                switch outcome {
                case .covered: break
                case .digestUnavailable(let algorithm):
                    problem("evidence", nil, "chain \(chain + 1), time-stamp \(stamp + 1): its hash algorithm \(algorithm) is not one SigVault can compute")
                case .notCovered(let reason):
                    problem("evidence", nil, "chain \(chain + 1), time-stamp \(stamp + 1): \(reason)")
                }
            }
        }
    }

    struct TreeCheck {
        var consistent: Bool
        var firstGroupHashes: [[UInt8]]
        var hashes: GroupHashes
    }

    /// The hash trees of the evidence section against the archive's members (nil: the section
    /// names members the archive does not have, reported).
    func checkTrees(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                    problem: (String, String?, String) -> Void) throws -> TreeCheck? {
        let sha256: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        let memberCount = UInt64(reader.members.count)
        var covered = Set<UInt64>()
        var leaves: [[UInt8]] = []
        var firstGroupHashes: [[UInt8]] = []
        var consistent = true
        for (number, group) in evidence.groups.enumerated() {
            guard group.members.allSatisfy({ $0 < memberCount }) else {
                problem("evidence", nil, "data group \(number + 1) names a member the archive does not have")
                return nil
            }
            let hashes = group.members.map { reader.members[Int($0)].contentSHA256 }
            if number == 0 { firstGroupHashes = hashes }
            let leaf = HashTree.groupHash(hashes, hash: sha256)
            leaves.append(leaf)
            covered.formUnion(group.members)
            if evidence.trees.first?.levels.first?[number] != leaf {
                consistent = false
                let name = entries[safe: Int(group.members[0])].map { ArchivePath.escaped($0.path.bytes) }
                problem("evidence", name, "the archive time-stamp's hash tree does not hold the data group of \(name ?? "group \(number + 1)") as it is archived")
            }
        }
        if consistent, let tree = evidence.trees.first, HashTree.Levels(leaves: leaves, hash: sha256) != tree {
            consistent = false
            problem("evidence", nil, "the archive time-stamp's hash tree does not lead from its leaves to its root")
        }
        // The manifest must be a data group of its own: it lists every member's digest, so it is
        // what extends the archive time-stamp's proof to every member.
        let manifestIndex = memberCount - 1
        if !evidence.groups.contains(where: { $0.members == [manifestIndex] }) {
            consistent = false
            problem("evidence", ArchiveLayout.manifestName, "the manifest is not a data group of the archive time-stamp")
        }
        let documents = Set(listed.lazy.filter { $0.role == .document }.map(\.path))
        for (index, entry) in entries.enumerated() where documents.contains(entry.path) && !covered.contains(UInt64(index)) {
            problem("evidence", entry.path.description, "document \(entry.path) is in no data group of the archive time-stamp")
        }
        // Later chains (hash-tree renewals): every group's leaf recomputed with the chain's algorithm
        // from the members' content (read again) and the group's earlier chains.
        let hashes = GroupHashes(reader: reader)
        for chain in evidence.trees.indices.dropFirst() where consistent {
            guard let identifier = evidence.template.archiveTimeStampSequence[chain].archiveTimeStamps.first?.digestAlgorithm,
                  let algorithm = HashAlgorithm(openSSLName: identifier.oid) else {
                problem("evidence", nil, "chain \(chain + 1) of the archive time-stamp names no hash algorithm SigVault knows")
                consistent = false
                break
            }
            let chainLeaves = try evidence.groups.indices.map { try hashes.leaf(evidence, group: $0, chain: chain, algorithm: algorithm) }
            if HashTree.Levels(leaves: chainLeaves, hash: { Hasher.digest($0, algorithm) }) != evidence.trees[chain] {
                consistent = false
                problem("evidence", nil, "the hash tree of chain \(chain + 1) (\(algorithm.rawValue)) does not match the archive's data")
            }
        }
        return TreeCheck(consistent: consistent, firstGroupHashes: firstGroupHashes, hashes: hashes)
    }

    func evaluate(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                  context: ValidationContext, problem: (String, String?, String) -> Void) throws -> ArchiveTimeStampResult {
        guard let trees = try checkTrees(evidence, reader: reader, entries: entries, listed: listed, problem: problem) else {
            return ArchiveTimeStampResult(verdict: Verdict(.totalFailed, .formatFailure, "the evidence section names members the archive does not have"),
                                          genTime: nil, tsa: nil)
        }
        let (consistent, firstGroupHashes, hashes) = (trees.consistent, trees.firstGroupHashes, trees.hashes)
        let pool = EvidencePool()
        pool.add(contentsOf: context.outside)
        for item in evidence.material { _ = try? pool.add(item.der, as: item.kind.materialKind) }
        let record = try hashes.record(evidence, group: 0)
        let policy = ValidationPolicy(anchors: context.anchors, now: options.at, maximumRevocationAge: options.maximumRevocationAge)
        let evaluation = try RecordVerifier.evaluate(record, pool: pool, policy: policy, revocationSource: context.fetcher) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            return algorithm == .sha256 ? firstGroupHashes : try evidence.groups[0].members.map { try hashes.memberHash($0, algorithm) }
        }
        var verdict = evaluation.verdict
        if !consistent { verdict = verdict.worse(Verdict(.totalFailed, .hashFailure, "the hash tree does not match the archive")) }
        if verdict.indication == .totalFailed, consistent {
            problem("evidence", nil, "the archive time-stamp does not hold: \(verdict.reason)")
        }
        return ArchiveTimeStampResult(verdict: verdict, genTime: evaluation.firstGenTime, tsa: evaluation.tsa, renewBefore: evaluation.renewBefore)
    }

    /// The report's statement about the archive's time.
    static func proofOfTime(_ result: ArchiveTimeStampResult?, damaged: Bool) -> VerifyReport.ProofOfTime {
        guard let result, let genTime = result.genTime else {
            return .init(archiveTimeStamp: nil, statement: damaged
                ? "the archive is damaged, and it carries no archive time-stamp: nothing in it proves when it was made"
                : "the archive is self-consistent but carries no archive time-stamp: nothing in it proves when it was made")
        }
        let time = ISOTime.format(genTime)
        let by = result.tsa.map { " by \($0)" } ?? ""
        var proof = VerifyReport.ProofOfTime(archiveTimeStamp: time, statement: "")
        proof.indication = result.verdict.indication.rawValue
        proof.subIndication = result.verdict.subIndication?.rawValue
        proof.renewBefore = result.renewBefore.map(ISOTime.format)
        switch result.verdict.indication {
        case .totalPassed:
            proof.statement = "the archive's content existed at \(time): proven by its archive time-stamp\(by)"
                + (result.renewBefore.map { ", which holds until \(ISOTime.format($0)) unless renewed before" } ?? "")
        case .indeterminate:
            proof.statement = "the archive carries an archive time-stamp at \(time)\(by), which proves nothing yet: \(result.verdict.reason)"
        case .totalFailed:
            proof.statement = "the archive's time-stamp at \(time)\(by) does not hold: \(result.verdict.reason)"
        }
        return proof
    }
}

/// Serves archive members to the analyzer: small ones in memory, documents as private scratch files.
final class ArchiveSource: MemberSource {
    let reader: ArchiveReader
    let records: [ArchivePath: Int]
    let scratchDirectory: String
    private var extracted: [ArchivePath: String] = [:]

    /// Names (without `data/`) whose members are damaged: reading them fails with that reason.
    let damaged: Set<ArchivePath>

    init(reader: ArchiveReader, records: [ArchivePath: Int], damaged: Set<ArchivePath> = []) throws {
        self.reader = reader
        self.records = records
        self.damaged = damaged
        let folder = LocalPath(NSTemporaryDirectory())
        scratchDirectory = try TemporaryFiles.shared.creatingFolder {
            var buffer = Array(folder.appending("sigvault-verify-XXXXXX").string.utf8CString)
            guard let made = mkdtemp(&buffer) else {
                throw SigVaultError(.scratch, "\(folder): cannot create a scratch folder (TMPDIR): \(POSIX.errorText)", cause: SystemError())
            }
            return LocalPath(String(cString: made))
        }.string
    }

    deinit {
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        TemporaryFiles.shared.forgetFolder(LocalPath(scratchDirectory))
    }

    private func record(_ path: ArchivePath) throws -> MemberRecord {
        guard let index = records[ArchivePath(ArchiveLayout.dataPrefix).joined(path)] else {
            if damaged.contains(path) { throw SigVaultError(.integrity, "\(path): damaged (see the integrity problems)") }
            throw SigVaultError(.archiveInvalid, "\(path): not in the archive")
        }
        return reader.members[index]
    }

    func bytes(of path: ArchivePath) throws -> [UInt8] { try reader.contents(of: record(path), limit: 64 << 20) }

    func content(of path: ArchivePath) throws -> SignedContent {
        if let done = extracted[path] { return .file(done) }
        let record = try record(path)
        if record.contentSize <= 16 << 20 { return .bytes(try reader.contents(of: record)) }
        let target = scratchDirectory + "/\(extracted.count)"
        let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SigVaultError(.scratch, "\(target): cannot create a scratch file (TMPDIR): \(POSIX.errorText)", cause: SystemError()) }
        defer { close(fd) }
        let result = try reader.extract(record) { try POSIX.writeAll(fd, $0, path: target, code: .scratch) }
        guard result.contentSHA256 == record.contentSHA256 else { throw SigVaultError(.integrity, "\(path): does not match its SHA-256") }
        extracted[path] = target
        return .file(target)
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// A SHA-256 held inline (no heap allocation per member).
struct Digest32: Hashable, Sendable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: [UInt8]) {
        guard bytes.count == 32 else { words = (0, 0, 0, 0); return }
        func word(_ at: Int) -> UInt64 { bytes[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(8), word(16), word(24))
    }

    init?(hex: String) {
        guard let bytes = OpenSSLBridge.Hex.decode(hex), bytes.count == 32 else { return nil }
        self.init(bytes)
    }

    var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in (0..<8).reversed().map { UInt8(truncatingIfNeeded: word >> (8 * UInt64($0))) } }
    }

    static func == (lhs: Digest32, rhs: Digest32) -> Bool { lhs.words == rhs.words }
    func hash(into hasher: inout Swift.Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

