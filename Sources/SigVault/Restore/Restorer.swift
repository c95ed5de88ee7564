import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

public struct RestoreOptions: Sendable {
    public var archive: String
    public var target: String
    /// Document paths as stored, without `data/`; empty means all.
    public var documents: [String] = []
    public var force = false
    /// The repository whose archives hold the content of reference members (FORMAT.md §4.3).
    public var repository: (any ArchiveLocator)?
    public init(archive: String, target: String) {
        self.archive = archive
        self.target = target
    }
}

/// What the restoring threads found, under a lock.
final class RestoreProgress: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var restored: [String] = []
    private(set) var failures: [String] = []
    private(set) var warnings: [String] = []
    private(set) var exitCode: ExitCode = .ok
    private(set) var fatal: Error?

    /// Something worth saying about a file that is still restored.
    func warn(_ message: String) {
        lock.lock()
        warnings.append(message)
        lock.unlock()
    }

    var stopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return fatal != nil
    }

    func restored(_ name: String) {
        lock.lock()
        restored.append(name)
        lock.unlock()
    }

    /// A file not restored; the others go on. The line printed ends with the error's code. Content
    /// in a repository that was not given (exit 10) does not hide damage (exit 1).
    func failed(_ error: SigVaultError) {
        lock.lock()
        failures.append("\(error.message) [\(error.code.rawValue)]")
        exitCode = exitCode.combinedKeepingDamage(with: error.exitCode)
        lock.unlock()
    }

    /// An error that stops the command.
    func stop(_ error: Error) {
        lock.lock()
        if fatal == nil { fatal = error }
        lock.unlock()
    }
}

public struct RestoreSummary: Sendable {
    public var restored: [String] = []
    public var skipped: [String] = []
    public var failures: [String] = []
    /// Files restored with their content intact but without their recorded mode or time.
    public var warnings: [String] = []
    public var exitCode: ExitCode = .ok
}

/// A member to restore: its index record and, for a reference member (FORMAT.md §4.3), its
/// manifest line (which says where its content is; inline members keep none).
struct StoredMember {
    let record: MemberRecord
    let line: ManifestMember?

    init(record: MemberRecord, line: ManifestMember?) {
        self.record = record
        self.line = line?.reference == nil ? nil : line
    }

    /// The member named `path`, through the index and its own manifest line; nil when absent.
    init?(reader: ArchiveReader, path: ArchivePath) throws {
        guard let record = reader.record(for: path) else { return nil }
        self.init(record: record, line: try reader.manifestLine(of: record))
    }

    func location(_ reader: ArchiveReader) throws -> ContentLocation {
        guard let line else { return ContentLocation(reader: reader, record: record, referencedArchive: nil) }
        return try reader.location(of: record, line: line)
    }
}

/// `sigvault restore`: documents byte-identical, with their signature and time-stamp files and
/// their evidence, never outside the target folder, never half-written.
public struct Restorer: Sendable {
    let options: RestoreOptions
    let logger: Logger

    public init(options: RestoreOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> RestoreSummary {
        let reader = try ArchiveReader(path: options.archive)
        if let problem = reader.layoutProblem { throw SigVaultError(.archiveInvalid, "\(options.archive): \(problem)") }
        if let locator = options.repository { reader.resolver = ReferenceResolver(locator: locator) }
        var summary = RestoreSummary()
        // Which documents: named ones through the index alone, or all through the manifest (whose
        // signature and time-stamp members are kept by name, so related files are found at once).
        var selected: [(ArchivePath, MemberRecord, ManifestMember)] = []
        var related: [ArchivePath: StoredMember] = [:]
        if options.documents.isEmpty {
            try reader.forEachManifestMember { _, record, member in
                guard let path = member.archivePath else { return }
                switch member.role {
                case .document: selected.append((path, record, member))
                case .signature, .timeStamp, .certificate, .crl, .ocsp: related[path] = StoredMember(record: record, line: member)
                default: break
                }
            }
        } else {
            for name in options.documents {
                let path = ArchivePath(ArchiveLayout.dataPrefix).joined(ArchivePath.unescaped(name) ?? ArchivePath(name))
                guard let record = reader.record(for: path) else {
                    throw SigVaultError(.inputMissing, "\(options.archive): no document named \(name)")
                }
                let member = try reader.manifestLine(of: record)
                guard member.role == .document else { throw SigVaultError(.usage, "\(name): is a \(member.role.rawValue), not a document") }
                selected.append((path, record, member))
                for file in member.document?.files ?? [] {
                    if let filePath = ArchivePath.unescaped(file), let stored = try StoredMember(reader: reader, path: filePath) { related[filePath] = stored }
                }
            }
        }

        // Without its repository, reference members (FORMAT.md §4.3) cannot be restored: said once,
        // each document left out named, everything else restored, exit 10.
        let progress = RestoreProgress()
        if reader.resolver == nil {
            let references = try reader.allReferenceLines()
            if let first = references.first?.reference {
                let archives = Set(references.compactMap { $0.reference?.archive }).sorted().joined(separator: ", ")
                progress.failed(SigVaultError(.noRepository, "\(options.archive): \(references.count) member(s) are stored in archive(s) \(archives) of repository \(first.repository), not in this archive: restored without them; give --repo <that repository>"))
            }
        }

        // Every file this restore would write, checked before anything is written: without --force
        // existing ones are refused up front, all named, and nothing is written.
        let target = LocalPath(options.target)
        if !options.force {
            var conflicts: [String] = []
            for (path, _, member) in selected {
                let names = [path] + (member.document?.files ?? []).compactMap(ArchivePath.unescaped).filter { related[$0] != nil }
                for name in names {
                    let relative = name.droppingPrefix(ArchiveLayout.dataPrefix)
                    var info = stat()
                    if relative.isSafeRelative, POSIX.withPath(target.appending(relative.bytes).bytes, { lstat($0, &info) }) == 0 {
                        conflicts.append(relative.description)
                    }
                }
            }
            if !conflicts.isEmpty {
                let shown = conflicts.prefix(20).joined(separator: ", ") + (conflicts.count > 20 ? ", and \(conflicts.count - 20) more" : "")
                throw SigVaultError(.outputExists, "\(options.target): \(conflicts.count) file(s) already exist, nothing was restored: \(shown)",
                                    hint: "restore into another folder, or add --force to overwrite them")
            }
        }

        // The target and the folders above it that are missing; each one created is made durable
        // in its parent.
        for folder in target.prefixes {
            var info = stat()
            if POSIX.withPath(folder.bytes, { stat($0, &info) }) == 0 { continue }
            guard errno == ENOENT, POSIX.withPath(folder.bytes, { mkdir($0, 0o755) }) == 0 || errno == EEXIST else {
                throw SigVaultError(.outputCreate, "\(options.target): cannot create the folder \(folder): \(POSIX.errorText)", cause: SystemError())
            }
            let parent = POSIX.withPath(folder.parent.bytes) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            if parent >= 0 { _ = fsync(parent); close(parent) }
        }
        let root = POSIX.withPath(target.bytes) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard root >= 0 else { throw SigVaultError(.outputCreate, "\(options.target): cannot open: \(POSIX.errorText)", cause: SystemError()) }
        defer { close(root) }
        // What a killed restore of ours left in the target goes first.
        removeStaleParts(folder: root, path: target, depth: 0)
        summary.warnings += TemporaryFiles.shared.takeStaleRemoved()

        // Documents are restored by several threads: each file is fsynced before it is put in place,
        // and waiting for the disk one file at a time would dominate.
        // The archive time-stamp's records are evidence: a damaged section is an integrity problem
        // (exit 1, named), but never a reason not to restore the documents.
        let groupRecords: GroupRecords?
        do {
            groupRecords = try GroupRecords(reader: reader)
        } catch let error as SigVaultError where error.stopsTheRun {
            throw error
        } catch {
            groupRecords = nil
            progress.failed(SigVaultError(.integrity, "\((error as? SigVaultError)?.message ?? "\(error)"); the documents are restored, without evidence-record.ers"))
        }
        let relatedRecords = related
        let chosen = selected
        let next = Verifier.WorkCounter()
        let workers = min(8, max(1, chosen.count))
        let group = DispatchGroup()
        let batch = PlacementBatch(root: root, force: options.force, target: options.target, progress: progress) { [self] components in
            try openDirectories(root: root, components: components)
        }
        for _ in 0..<workers {
            group.enter()
            Thread.detachNewThread { [self] in
                defer { group.leave() }
                while !progress.stopped {
                    let index = next.take()
                    guard index < chosen.count else { break }
                    let (path, record, member) = chosen[index]
                    do {
                        try restoreDocument(path: path, record: record, member: member, related: relatedRecords,
                                            reader: reader, root: root, progress: progress, batch: batch, groupRecords: groupRecords)
                    } catch {
                        progress.stop(error)
                    }
                }
            }
        }
        group.wait()
        // Files already written and checked are put in place even when an error stopped the command.
        do { try batch.commit() } catch { progress.stop(error) }
        summary.restored = progress.restored.sorted()
        summary.failures = progress.failures
        summary.warnings += progress.warnings
        summary.exitCode = progress.exitCode
        if let error = progress.fatal {
            let restored = summary.restored
            let done = restored.isEmpty ? "" : " (\(restored.count) files were restored before this: \(restored.prefix(5).joined(separator: ", "))\(restored.count > 5 ? ", …" : ""))"
            if let error = error as? SigVaultError { throw error.appending(done) }
            throw error
        }
        return summary
    }

    /// Restores one document, its related files and its evidence.
    private func restoreDocument(path: ArchivePath, record: MemberRecord, member: ManifestMember, related: [ArchivePath: StoredMember],
                                 reader: ArchiveReader, root: Int32, progress: RestoreProgress, batch: PlacementBatch,
                                 groupRecords: GroupRecords?) throws {
        let relative = path.droppingPrefix(ArchiveLayout.dataPrefix)
        var files: [(ArchivePath, StoredMember)] = [(relative, StoredMember(record: record, line: member))]
        for file in member.document?.files ?? [] {
            guard let filePath = ArchivePath.unescaped(file), let stored = related[filePath] else { continue }
            files.append((filePath.droppingPrefix(ArchiveLayout.dataPrefix), stored))
        }
        guard Hex.encode(record.contentSHA256) == member.indexedSHA256, UInt64(member.indexedSize) == record.contentSize else {
            throw SigVaultError(.integrity, "\(options.archive): the index and the manifest disagree about \(path); run sigvault verify")
        }
        for (name, stored) in files {
            do {
                try write(reader: reader, stored: stored, expectedName: ArchivePath(ArchiveLayout.dataPrefix).joined(name),
                          root: root, relative: name, progress: progress, batch: batch)
            } catch let error as SigVaultError {
                if [.archiveInvalid, .unsafeName, .outputExists, .outputCreate].contains(error.code) { throw error }
                progress.failed(error)
            }
        }
        var evidenceRecord: [UInt8]?
        do {
            evidenceRecord = try groupRecords?.record(forDocument: record)
        } catch {
            progress.warn("\(relative): its evidence record cannot be built: \((error as? SigVaultError)?.message ?? "\(error)")")
        }
        try writeEvidence(reader: reader, document: relative, member: member, root: root, known: related, evidenceRecord: evidenceRecord, progress: progress)
        logger.debug("restored", metadata: ["document": "\(relative)", "files": "\(files.count)"])
    }

    /// Writes one member under `root` as a temporary file: opens each folder with O_NOFOLLOW, checks
    /// the name, size and hashes, sets mode and time. `batch` later makes it durable and puts it in
    /// place (fsync before link or rename).
    private func write(reader: ArchiveReader, stored: StoredMember, expectedName: ArchivePath, root: Int32, relative: ArchivePath,
                       progress: RestoreProgress, batch: PlacementBatch) throws {
        // A reference member's content is read from its repository; its mode and time are its own.
        let location = try stored.location(reader)
        let record = location.record
        let reference = location.referencedArchive != nil
        guard relative.isSafeRelative else {
            throw SigVaultError(.unsafeName, "\(options.archive): entry \(expectedName) would land outside \(options.target); refused")
        }
        guard relative.components.first != Array(".sigvault-evidence".utf8) else {
            // Not fatal: an archive packed from a restored folder holds the old evidence as documents.
            throw SigVaultError(.integrity, "\(options.target)/\(relative): not restored, the name .sigvault-evidence is reserved for the evidence folder")
        }
        var components = relative.components
        let leaf = components.removeLast()
        let directory = try openDirectories(root: root, components: components)
        defer { if directory != root { close(directory) } }
        var existing = stat()
        let exists = POSIX.withPath(leaf) { fstatat(directory, $0, &existing, AT_SYMLINK_NOFOLLOW) } == 0
        if exists && !options.force {
            throw SigVaultError(.outputExists, "\(options.target)/\(relative): already exists (use --force to overwrite)")
        }
        let folderPath = components.reduce(LocalPath(options.target)) { $0.appending($1) }
        let (fd, temporary, registered) = try createPart(in: directory, at: folderPath, shownAs: "\(options.target)/\(relative)")
        var keep = false
        defer {
            if !keep {
                _ = POSIX.withPath(temporary) { unlinkat(directory, $0, 0) }
                TemporaryFiles.shared.forget(registered)
            }
        }
        let extracted: ArchiveReader.ExtractedMember
        do {
            extracted = try location.reader.extract(record) { chunk in try POSIX.writeAll(fd, chunk, path: "\(options.target)/\(relative)", code: .outputWrite) }
        } catch let error as SigVaultError where error.code == .outputWrite || error.code == .archiveRead {
            close(fd)
            throw error  // the target refused a write (full disk, file size limit) or the archive could not be read: not a damaged member
        } catch {
            close(fd)
            throw SigVaultError(.integrity, "\(options.archive): \(expectedName): cannot be read back: \(error); not restored")
        }
        guard extracted.header.isRegularFile else {
            close(fd)
            let kind = extracted.header.isHardLink ? "hard link" : extracted.header.isSymbolicLink ? "symbolic link" : "special file (FIFO or device)"
            throw SigVaultError(.archiveInvalid, "\(options.archive): \(expectedName) is a \(kind) in the tar stream where the manifest lists a file; refused (pack never writes this)")
        }
        guard reference || extracted.header.path == expectedName.bytes else {
            close(fd)
            throw SigVaultError(.archiveInvalid, "\(options.archive): tar name \(ArchivePath.escaped(extracted.header.path)) differs from the manifest's \(expectedName)")
        }
        guard extracted.contentSHA256 == record.contentSHA256, extracted.compressedSHA256 == record.compressedSHA256,
              UInt64(extracted.size) == record.contentSize else {
            close(fd)
            throw SigVaultError(.integrity, "\(options.archive): \(expectedName) does not match its SHA-256; not restored")
        }
        // The recorded permission bits (never set-id bits) and modification time.
        let mode = reference ? (stored.line?.mode ?? 0o644) : extracted.header.mode
        let modificationTime = reference ? (stored.line?.modificationTime ?? 0) : extracted.header.modificationTime
        if fchmod(fd, mode_t(mode & 0o777)) != 0 {
            progress.warn("\(options.target)/\(relative): restored, but its mode \(String(mode & 0o777, radix: 8)) could not be set: \(POSIX.errorText)")
        }
        var times = [timespec(tv_sec: time_t(modificationTime), tv_nsec: 0),
                     timespec(tv_sec: time_t(modificationTime), tv_nsec: 0)]
        if futimens(fd, &times) != 0 {
            progress.warn("\(options.target)/\(relative): restored, but its modification time could not be set: \(POSIX.errorText)")
        }
        close(fd)
        keep = true
        try batch.add(PlacementBatch.Pending(folder: components, temporary: temporary, registered: registered, leaf: leaf, name: relative.description))
    }

    /// `.sigvault-part-<pid>-<random>-<host>`: a restored file before it is put in place.
    static let partMarker = ".sigvault-part-"

    /// Creates a part file in `directory` (the folder `folder`), registered for removal on an interruption.
    func createPart(in directory: Int32, at folder: LocalPath, shownAs: String) throws -> (fd: Int32, name: [UInt8], path: LocalPath) {
        let name = Array("\(Restorer.partMarker)\(TemporaryFiles.tag())".utf8)
        let path = folder.appending(name)
        let fd = try TemporaryFiles.shared.creatingFile(path) {
            let fd = POSIX.withPath(name) { openat(directory, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
            guard fd >= 0 else { throw SigVaultError(.outputCreate, "\(shownAs): cannot create: \(POSIX.errorText)", cause: SystemError()) }
            return fd
        }
        return (fd, name, path)
    }

    /// Removes the part files of restores that were killed, in `folder` and every folder below it
    /// (never following a link).
    private func removeStaleParts(folder: Int32, path: LocalPath, depth: Int) {
        TemporaryFiles.shared.removeStale(in: folder, folderName: path, prefix: Array(Restorer.partMarker.utf8), marker: Restorer.partMarker)
        guard depth < 512, let listing = fdopendir(dup(folder)) else { return }
        rewinddir(listing)
        var folders: [[UInt8]] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            guard name != [46], name != [46, 46] else { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) || entry.pointee.d_type == UInt8(DT_UNKNOWN) { folders.append(name) }
        }
        closedir(listing)
        for name in folders {
            let child = POSIX.withPath(name) { openat(folder, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { continue }
            removeStaleParts(folder: child, path: path.appending(name), depth: depth + 1)
            close(child)
        }
    }

    /// Opens (creating) each folder under `root` without following symbolic links.
    func openDirectories(root: Int32, components: [[UInt8]]) throws -> Int32 {
        var current = root
        for component in components {
            let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            var next = POSIX.withPath(component) { openat(current, $0, flags) }
            if next < 0 && errno == ENOENT {
                // A new folder's name is made durable in its parent at once: files placed in it
                // later are fsynced with their own folder only.
                if POSIX.withPath(component, { mkdirat(current, $0, 0o755) }) == 0 { _ = fsync(current) }
                next = POSIX.withPath(component) { openat(current, $0, flags) }
            }
            if current != root { close(current) }
            guard next >= 0 else {
                throw SigVaultError(.unsafeName, "\(options.target): folder \(ArchivePath.escaped(component)) cannot be opened without following a link: \(POSIX.errorText)")
            }
            current = next
        }
        return current
    }

}
