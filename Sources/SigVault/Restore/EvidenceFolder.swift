import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// Restore's evidence folder: `<target>/.sigvault-evidence/<document>/` with the document's manifest
/// record, the certificates, CRLs and OCSP responses it names, and its evidence record.
extension Restorer {
    /// Writes `<target>/.sigvault-evidence/<document>/`: the manifest record and the DER files it names.
    func writeEvidence(reader: ArchiveReader, document: ArchivePath, member: ManifestMember, root: Int32,
                               known: [ArchivePath: StoredMember], evidenceRecord: [UInt8]?, progress: RestoreProgress) throws {
        // A document without signatures, time-stamps or an archive time-stamp has no evidence to write.
        let record = member.document ?? DocumentRecord.unsigned
        guard !record.signatures.isEmpty || !record.documentTimeStamps.isEmpty || evidenceRecord != nil else { return }
        let base = [Array(".sigvault-evidence".utf8)] + document.components
        let directory = try openDirectories(root: root, components: base)
        defer { close(directory) }
        let folder = base.reduce(LocalPath(options.target)) { $0.appending($1) }
        if let evidenceRecord {
            // The document's data group's own RFC 4998 record (FORMAT.md §10): `sigvault ers verify
            // evidence-record.ers --data <each file of the group>` checks it without the archive.
            try placeEvidence(directory: directory, folder: folder, name: Array("evidence-record.ers".utf8), bytes: evidenceRecord)
        }
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
            guard let stored = try known[path] ?? (options.documents.isEmpty ? nil : StoredMember(reader: reader, path: path)) else {
                progress.failed(SigVaultError(.integrity, "\(options.archive): the record of \(document) names evidence member \(path), which the archive does not have; run sigvault verify"))
                continue
            }
            let bytes: [UInt8]
            do {
                bytes = try stored.location(reader).contents()
            } catch let error as SigVaultError where error.code == .noRepository && reader.resolver == nil {
                // An archive restored without its repository: the rest is restored, and one line
                // (Restorer.run) says what is missing.
                continue
            } catch let error as SigVaultError where !error.stopsTheRun {
                // A reference that does not resolve: named, and the rest restored.
                progress.failed(error.appending(" (evidence of \(document), not restored)"))
                continue
            }
            let sub = try openDirectories(root: directory, components: [Array(kind.utf8)])
            defer { close(sub) }
            let name = Array(path.components.last!)
            try placeEvidence(directory: sub, folder: folder.appending(kind), name: name, bytes: bytes)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try placeEvidence(directory: directory, folder: folder, name: Array("manifest-record.json".utf8), bytes: Array(try encoder.encode(member)))
    }

    /// Writes an evidence file unless the same bytes are already there; different bytes are replaced
    /// only with --force.
    func placeEvidence(directory: Int32, folder: LocalPath, name: [UInt8], bytes: [UInt8]) throws {
        var info = stat()
        let present = POSIX.withPath(name) { fstatat(directory, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0
        if present && (info.st_mode & S_IFMT) != S_IFREG {
            guard options.force, (info.st_mode & S_IFMT) != S_IFDIR else {
                throw SigVaultError(.outputExists, "\(options.target): evidence name \(ArchivePath.escaped(name)) is taken by something that is not a regular file")
            }
        }
        let existing = present && (info.st_mode & S_IFMT) == S_IFREG
            ? POSIX.withPath(name) { openat(directory, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) } : -1
        if present && (info.st_mode & S_IFMT) == S_IFREG && existing < 0 && !options.force {
            throw SigVaultError(.outputExists, "\(options.target): evidence file \(ArchivePath.escaped(name)) exists and cannot be read (use --force to overwrite)")
        }
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
                throw SigVaultError(.outputExists, "\(options.target): evidence file \(ArchivePath.escaped(name)) already exists with other content (use --force to overwrite)")
            }
        }
        try replaceFile(directory: directory, folder: folder, name: name, bytes: bytes)
    }

    func replaceFile(directory: Int32, folder: LocalPath, name: [UInt8], bytes: [UInt8]) throws {
        let (fd, temporary, registered) = try createPart(in: directory, at: folder, shownAs: "\(folder.appending(name))")
        defer { TemporaryFiles.shared.forget(registered) }
        do {
            try bytes.withUnsafeBytes { try POSIX.writeAll(fd, $0, path: options.target, code: .outputWrite) }
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
            throw SigVaultError(.outputWrite, "\(options.target): cannot write evidence file \(ArchivePath.escaped(name)): \(reason)")
        }
        _ = fsync(directory)
    }
}
