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
    public init(archive: String, target: String) {
        self.archive = archive
        self.target = target
    }
}

public struct RestoreSummary: Sendable {
    public var restored: [String] = []
    public var skipped: [String] = []
    public var failures: [String] = []
    public var exitCode: ExitCode = .ok
}

/// `sigvault restore`: documents byte-identical, with their signature and time-stamp files and
/// their evidence, never outside the target folder, never half-written.
public struct Restorer {
    let options: RestoreOptions
    let logger: Logger

    public init(options: RestoreOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> RestoreSummary {
        let reader = try ArchiveReader(path: options.archive)
        if let problem = reader.layoutProblem { throw SigVaultError(.invalidInput, "\(options.archive): \(problem)") }
        var summary = RestoreSummary()
        do {
            try FileManager.default.createDirectory(atPath: options.target, withIntermediateDirectories: true)
        } catch {
            throw SigVaultError(.cannotCreateOutput, "\(options.target): cannot create the folder: \(error.localizedDescription)")
        }
        let root = open(options.target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw SigVaultError(.cannotCreateOutput, "\(options.target): cannot open: \(POSIX.errorText)") }
        defer { close(root) }

        // Which documents: named ones through the index alone, or all through the manifest.
        var selected: [(ArchivePath, MemberRecord, ManifestMember)] = []
        if options.documents.isEmpty {
            try reader.forEachManifestMember { _, record, member in
                if member.role == .document, let path = member.archivePath { selected.append((path, record, member)) }
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
            }
        }
        for (path, record, member) in selected {
            let relative = path.droppingPrefix(ArchiveLayout.dataPrefix)
            var files: [(ArchivePath, MemberRecord)] = [(relative, record)]
            for related in member.document?.files ?? [] {
                guard let relatedPath = ArchivePath.unescaped(related), let relatedRecord = reader.record(for: relatedPath) else { continue }
                files.append((relatedPath.droppingPrefix(ArchiveLayout.dataPrefix), relatedRecord))
            }
            guard Hex.encode(record.contentSHA256) == member.sha256, UInt64(member.size) == record.contentSize else {
                throw SigVaultError(.integrityOrFailed, "\(options.archive): the index and the manifest disagree about \(path); run sigvault verify")
            }
            for (name, fileRecord) in files {
                do {
                    try write(reader: reader, record: fileRecord, expectedName: ArchivePath(ArchiveLayout.dataPrefix).joined(name),
                              root: root, relative: name)
                    summary.restored.append(name.description)
                } catch let error as SigVaultError {
                    summary.failures.append(error.message)
                    summary.exitCode = summary.exitCode.combined(with: error.exitCode == .integrityOrFailed ? .integrityOrFailed : error.exitCode)
                    if error.exitCode == .invalidInput || error.exitCode == .cannotCreateOutput {
                        let done = summary.restored.isEmpty ? "" : " (\(summary.restored.count) files were restored before this: \(summary.restored.prefix(5).joined(separator: ", "))\(summary.restored.count > 5 ? ", …" : ""))"
                        throw SigVaultError(error.exitCode, error.message + done, hint: error.hint)
                    }
                }
            }
            try writeEvidence(reader: reader, document: relative, member: member, root: root)
            logger.debug("restored", metadata: ["document": "\(relative)", "files": "\(files.count)"])
        }
        return summary
    }

    /// Writes one member under `root`: opens each folder with O_NOFOLLOW, writes a temporary file,
    /// checks the hash, fsyncs, then links (or with --force renames) it into place.
    private func write(reader: ArchiveReader, record: MemberRecord, expectedName: ArchivePath, root: Int32, relative: ArchivePath) throws {
        guard relative.isSafeRelative, !relative.hasPrefix(".sigvault-evidence") else {
            throw SigVaultError(.invalidInput, "\(options.archive): entry \(expectedName) would land outside \(options.target); refused")
        }
        var components = relative.components
        let leaf = components.removeLast()
        let directory = try openDirectories(root: root, components: components)
        defer { if directory != root { close(directory) } }
        var existing = stat()
        let exists = POSIX.withPath(leaf) { fstatat(directory, $0, &existing, AT_SYMLINK_NOFOLLOW) } == 0
        if exists && !options.force {
            throw SigVaultError(.cannotCreateOutput, "\(options.target)/\(relative): already exists (use --force to overwrite)")
        }
        let temporary = Array(".\(UInt32.random(in: 0...UInt32.max)).sigvault-part".utf8)
        let fd = POSIX.withPath(temporary) { openat(directory, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw SigVaultError(.cannotCreateOutput, "\(options.target)/\(relative): cannot create: \(POSIX.errorText)") }
        var keep = false
        defer {
            if !keep { _ = POSIX.withPath(temporary) { unlinkat(directory, $0, 0) } }
        }
        let extracted: ArchiveReader.ExtractedMember
        do {
            extracted = try reader.extract(record) { chunk in try POSIX.writeAll(fd, chunk, path: "\(options.target)/\(relative)") }
        } catch {
            close(fd)
            throw SigVaultError(.integrityOrFailed, "\(options.archive): \(expectedName): cannot be read back: \(error); not restored")
        }
        guard extracted.header.path == expectedName.bytes else {
            close(fd)
            throw SigVaultError(.invalidInput, "\(options.archive): tar name \(ArchivePath.escaped(extracted.header.path)) differs from the manifest's \(expectedName)")
        }
        guard extracted.contentSHA256 == record.contentSHA256, extracted.compressedSHA256 == record.compressedSHA256,
              UInt64(extracted.size) == record.contentSize else {
            close(fd)
            throw SigVaultError(.integrityOrFailed, "\(options.archive): \(expectedName) does not match its SHA-256; not restored")
        }
        // The recorded permission bits (never set-id bits) and modification time.
        _ = fchmod(fd, mode_t(extracted.header.mode & 0o777))
        var times = [timespec(tv_sec: time_t(extracted.header.modificationTime), tv_nsec: 0),
                     timespec(tv_sec: time_t(extracted.header.modificationTime), tv_nsec: 0)]
        _ = futimens(fd, &times)
        guard fsync(fd) == 0 else {
            close(fd)
            throw SigVaultError(.ioError, "\(options.target)/\(relative): fsync failed: \(POSIX.errorText)")
        }
        close(fd)
        let placed: Int32
        if options.force {
            placed = POSIX.withPath(temporary) { from in POSIX.withPath(leaf) { to in renameat(directory, from, directory, to) } }
        } else {
            placed = POSIX.withPath(temporary) { from in POSIX.withPath(leaf) { to in linkat(directory, from, directory, to, 0) } }
        }
        guard placed == 0 else {
            throw SigVaultError(.cannotCreateOutput, "\(options.target)/\(relative): cannot put in place: \(POSIX.errorText)")
        }
        keep = options.force
        _ = fsync(directory)
    }

    /// Opens (creating) each folder under `root` without following symbolic links.
    private func openDirectories(root: Int32, components: [[UInt8]]) throws -> Int32 {
        var current = root
        for component in components {
            _ = POSIX.withPath(component) { mkdirat(current, $0, 0o755) }
            let next = POSIX.withPath(component) { openat(current, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if current != root { close(current) }
            guard next >= 0 else {
                throw SigVaultError(.invalidInput, "\(options.target): folder \(ArchivePath.escaped(component)) cannot be opened without following a link: \(POSIX.errorText)")
            }
            current = next
        }
        return current
    }

    /// Writes `<target>/.sigvault-evidence/<document>/`: the manifest record and the DER files it names.
    private func writeEvidence(reader: ArchiveReader, document: ArchivePath, member: ManifestMember, root: Int32) throws {
        guard let record = member.document else { return }
        let base = [Array(".sigvault-evidence".utf8)] + document.components
        let directory = try openDirectories(root: root, components: base)
        defer { close(directory) }
        var digests: [(String, String)] = []
        for signature in record.signatures {
            digests += signature.chain.map { ("certificates", $0) } + signature.crls.map { ("crls", $0) } + signature.ocsp.map { ("ocsp", $0) }
            for stamp in signature.timeStamps {
                digests += stamp.tsaChain.map { ("certificates", $0) } + stamp.crls.map { ("crls", $0) } + stamp.ocsp.map { ("ocsp", $0) }
            }
        }
        for stamp in record.documentTimeStamps {
            digests += stamp.tsaChain.map { ("certificates", $0) } + stamp.crls.map { ("crls", $0) } + stamp.ocsp.map { ("ocsp", $0) }
        }
        var written: Set<String> = []
        for (kind, digest) in digests where written.insert(kind + digest).inserted {
            let path: ArchivePath
            switch kind {
            case "certificates": path = EvidenceSet.path(certificateSHA256: digest)
            case "crls": path = EvidenceSet.path(crlSHA256: digest)
            default: path = EvidenceSet.path(ocspSHA256: digest)
            }
            guard let evidenceRecord = reader.record(for: path) else { continue }
            let bytes = try reader.contents(of: evidenceRecord)
            let sub = try openDirectories(root: directory, components: [Array(kind.utf8)])
            defer { close(sub) }
            let name = Array(path.components.last!)
            try placeEvidence(directory: sub, name: name, bytes: bytes)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try placeEvidence(directory: directory, name: Array("manifest-record.json".utf8), bytes: Array(try encoder.encode(member)))
    }

    /// Writes an evidence file unless the same bytes are already there; different bytes are replaced
    /// only with --force.
    private func placeEvidence(directory: Int32, name: [UInt8], bytes: [UInt8]) throws {
        let existing = POSIX.withPath(name) { openat(directory, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        if existing >= 0 {
            var current: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let got = chunk.withUnsafeMutableBytes { read(existing, $0.baseAddress!, $0.count) }
                if got <= 0 { break }
                current += chunk[0..<got]
                if current.count > bytes.count { break }
            }
            close(existing)
            if current == bytes { return }
            guard options.force else {
                throw SigVaultError(.cannotCreateOutput, "\(options.target): evidence file \(ArchivePath.escaped(name)) already exists with other content (use --force to overwrite)")
            }
        }
        try replaceFile(directory: directory, name: name, bytes: bytes)
    }

    private func replaceFile(directory: Int32, name: [UInt8], bytes: [UInt8]) throws {
        let temporary = Array(".\(UInt32.random(in: 0...UInt32.max)).sigvault-part".utf8)
        let fd = POSIX.withPath(temporary) { openat(directory, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw SigVaultError(.cannotCreateOutput, "\(options.target): cannot write evidence: \(POSIX.errorText)") }
        do {
            try bytes.withUnsafeBytes { try POSIX.writeAll(fd, $0, path: options.target) }
        } catch {
            close(fd)
            _ = POSIX.withPath(temporary) { unlinkat(directory, $0, 0) }
            throw error
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, POSIX.withPath(temporary, { from in POSIX.withPath(name) { to in renameat(directory, from, directory, to) } }) == 0 else {
            let reason = POSIX.errorText
            _ = POSIX.withPath(temporary) { unlinkat(directory, $0, 0) }
            throw SigVaultError(.ioError, "\(options.target): cannot write evidence file \(ArchivePath.escaped(name)): \(reason)")
        }
    }
}
