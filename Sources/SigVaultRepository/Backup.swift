import Foundation
import GRDB
import Logging
import OpenSSLBridge
import SigVault
import SigVaultValidation
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

public struct BackupOptions: Sendable {
    public var sources: [String]
    /// pack's options for the night's archive (inputs and output are the backup's own).
    public var pack: PackOptions
    /// `--lock-wait`: how long to wait for another run's lock (nil: exit 11 at once).
    public var lockWait: TimeInterval?
    /// What the run does, as it happens (`--json-lines`, the progress line).
    public var events: (@Sendable (BackupEvent) -> Void)?

    public init(sources: [String], pack: PackOptions) {
        self.sources = sources
        self.pack = pack
    }
}

/// One event of a backup as it happens (docs/CLI.md, "backup", `--json-lines`).
public struct BackupEvent: Codable, Sendable {
    /// `started`, `walked`, `progress`, `stored` or `warning` (the summary is the last line). Keys
    /// that do not apply to the event are left out.
    public var event: String
    public var time: String
    public var filesSeen: Int?
    public var new: Int?
    public var changed: Int?
    public var unchanged: Int?
    public var deleted: Int?
    public var filesDone: Int?
    public var filesTotal: Int?
    public var bytesDone: UInt64?
    public var bytesTotal: UInt64?
    public var archive: String?
    public var message: String?

    public init(_ event: String) {
        self.event = event
        time = ISOTime.format(Date())
    }
}

/// What a night's backup did (docs/CLI.md, "backup"): its JSON summary.
public struct BackupSummary: Codable, Sendable {
    public var schemaVersion = 1
    /// `summary`: so that the last line of `--json-lines` says what it is.
    public var event = "summary"
    /// The night's archive, or nil when nothing changed.
    @NullEncoded public var archive: String?
    @NullEncoded public var fingerprint: String?
    public var filesSeen = 0
    public var new = 0
    public var changed = 0
    public var unchanged = 0
    public var deleted = 0
    /// Files archived tonight: the new and changed ones and the other files of their documents.
    public var archived = 0
    public var bytesRead: UInt64 = 0
    public var bytesStored: UInt64 = 0
    /// Members written as references to content the repository stores already (FORMAT.md §4.3),
    /// and that content's bytes, not stored again.
    public var references = 0
    public var referencedBytes: UInt64 = 0
    /// The night's documents by the verdict pack recorded (`UNSIGNED` for unsigned ones).
    public var documentsByVerdict: [String: Int] = [:]
    /// With --fetch-revocation: documents still TRY_LATER archived again tonight, and how many of
    /// them moved from TRY_LATER to a verdict.
    public var retriedTryLater = 0
    public var resolvedTryLater = 0
    /// With --fetch-revocation: CRLs and OCSP responses about the TSAs of the repository's newest
    /// archive time-stamps, fetched tonight and stored in tonight's archive (new to the repository).
    public var timeStampStatusStored = 0
    /// Archives found in the repository but not in the catalog, indexed first.
    public var indexedArchives: [String] = []
    public var warnings: [String] = []
    public var exitCode: Int32 = 0
    public var seconds = 0.0
    /// The report lines of the night's signed documents (text output).
    public var documentLines: [String] = []
}

/// `sigvault backup`: what is new or changed since the last run, as one new archive of the
/// repository. Unchanged files cost a stat (the stat cache: device, inode, size, mtime and ctime in
/// nanoseconds); a night with no change writes no archive; deletions are recorded. The archive is
/// stored before the catalog records it, so a run stopped at any moment leaves the repository as
/// it was or as it would be after it (the next run indexes a stored archive the catalog lacks, and
/// removes what is left in `tmp/`).
public struct Backup {
    let repository: Repository
    let options: BackupOptions
    let logger: Logger

    public init(repository: Repository, options: BackupOptions, logger: Logger) {
        self.repository = repository
        self.options = options
        self.logger = logger
    }

    struct CachedStat {
        let device: Int64, inode: Int64, size: Int64, modificationNanoseconds: Int64, changeNanoseconds: Int64
        /// The archive it was last archived in.
        let archive: String
        func matches(_ file: InputFile) -> Bool {
            device == Int64(bitPattern: file.identity.0) && inode == Int64(bitPattern: file.identity.1) && size == file.size
                && modificationNanoseconds == file.modificationNanoseconds && changeNanoseconds == file.changeNanoseconds
        }
    }

    public func run() throws -> BackupSummary {
        let started = Date()
        let lock = try repository.lock(wait: options.lockWait, command: "backup")
        defer { lock.release() }
        var summary = BackupSummary()
        summary.warnings += repository.removeStaleTemporaries()
        let catalog = try Catalog(repository: repository, create: true)
        let missing = try catalog.indexMissing(repository)
        summary.indexedArchives = missing.indexed
        summary.warnings += missing.warnings
        for name in summary.indexedArchives { summary.warnings.append("\(name): stored but not in the catalog (a run stopped before recording it): indexed") }

        // The repository knows a file by the name pack stores (relative to the working folder): a
        // source whose name is empty (`.`, `/`) would stand for every name.
        for source in options.sources where try InputWalker.relativeName(of: source).isEmpty {
            throw SigVaultError(.usage, "\(source): back up folders by name, not . or /",
                                hint: "run the backup from the folder above, or give the folder's absolute path")
        }
        options.events?(BackupEvent("started"))
        let walk = try InputWalk(options.sources)
        let cache: [String: CachedStat] = try catalog.read { db in
            var out: [String: CachedStat] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM statCache") {
                out[row["path"]] = CachedStat(device: row["device"], inode: row["inode"], size: row["size"],
                                              modificationNanoseconds: row["modificationNanoseconds"], changeNanoseconds: row["changeNanoseconds"],
                                              archive: row["archive"])
            }
            return out
        }
        // Each path's latest version, for files the stat cache does not know (a rebuilt catalog),
        // unless a deletion was recorded after it (a file deleted and made again is new).
        let latest: [String: (sha256: String, size: Int64, archive: String)] = try catalog.read { db in
            var out: [String: (sha256: String, size: Int64, archive: String)] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT f.path, f.sha256, f.size, f.archive, a.seq FROM file f JOIN archive a ON a.name = f.archive
                WHERE f.path NOT IN (SELECT path FROM statCache) ORDER BY a.seq
                """) {
                out[row["path"]] = (row["sha256"], row["size"], row["archive"])
                let sequence: Int = row["seq"]
                if try Bool.fetchOne(db, sql: "SELECT COUNT(*) > 0 FROM deletion WHERE path = ? AND seq >= ?",
                                     arguments: [row["path"] as String, sequence]) == true {
                    out[row["path"]] = nil
                }
            }
            return out
        }
        var recache: [(String, InputFile, String)] = []
        var changed = Set<ArchivePath>()
        var seen = Set<String>()
        for file in walk.files {
            summary.filesSeen += 1
            let key = ArchivePath.escaped(file.relativePath.bytes)
            seen.insert(key)
            if let cached = cache[key] {
                if cached.matches(file) { summary.unchanged += 1; continue }
                summary.changed += 1
            } else if let stored = latest[key], case .regular = file.kind, stored.size == file.size,
                      Self.sha256(of: file) == stored.sha256 {
                // Known to the catalog without a stat entry (a rebuilt catalog): read and hashed
                // once, and cached if it is the latest version's content.
                summary.unchanged += 1
                recache.append((key, file, stored.archive))
                continue
            } else {
                if latest[key] != nil { summary.changed += 1 } else { summary.new += 1 }
            }
            changed.insert(file.relativePath)
        }
        // A file the cache knows under one of tonight's sources that the walk did not find is gone.
        // Not when part of the sources could not be read: an unreadable folder is not a deletion.
        let prefixes = try options.sources.map { try InputWalker.relativeName(of: $0) }
        // Candidates: what the stat cache knows, and (after a rebuilt catalog, which has no stat
        // cache) every path whose latest version is not followed by a deletion.
        let known = Set(cache.keys).union(latest.keys)
        let deleted = walk.unreadable ? [] : known.filter { key in
            guard !seen.contains(key), let path = ArchivePath.unescaped(key) else { return false }
            return prefixes.contains { $0.isEmpty || path.bytes == $0 || path.bytes.starts(with: $0 + [UInt8(ascii: "/")]) }
        }.sorted()
        if walk.unreadable && !cache.isEmpty {
            summary.warnings.append("deletions are not recorded tonight: part of the sources could not be read, and a file there is not gone")
        }
        summary.deleted = deleted.count
        var walked = BackupEvent("walked")
        (walked.filesSeen, walked.new, walked.changed, walked.unchanged, walked.deleted)
            = (summary.filesSeen, summary.new, summary.changed, summary.unchanged, summary.deleted)
        options.events?(walked)
        var exitCode: ExitCode = walk.unreadable ? .partlyUnreadable : .ok
        let night = ISOTime.format(started)

        // Evidence that completes itself: with --fetch-revocation, every document whose latest
        // version is still TRY_LATER is archived again tonight, with the data fetched or given now.
        var retried = Set<String>()
        if options.pack.fetchRevocation != nil {
            let waiting: [String] = try catalog.read { db in
                try String.fetchAll(db, sql: """
                    SELECT f.path FROM file f JOIN archive a ON a.name = f.archive
                    WHERE f.role = 'document' AND f.subIndication = 'TRY_LATER'
                      AND a.seq = (SELECT MAX(a2.seq) FROM file f2 JOIN archive a2 ON a2.name = f2.archive WHERE f2.path = f.path)
                    """)
            }
            for path in waiting {
                guard let name = ArchivePath.unescaped(path), seen.contains(path), !changed.contains(name) else { continue }
                changed.insert(name)
                retried.insert(path)
            }
            summary.retriedTryLater = retried.count
        }

        // A deleted signature or token file changes its document: archived again without it.
        let present = walk.files.map(\.relativePath)
        let gone = Set(deleted.compactMap(ArchivePath.unescaped))
        if !gone.isEmpty {
            let affected = DocumentFiles.closure(of: gone, among: present + Array(gone)).subtracting(gone)
            changed.formUnion(affected)
        }

        // With --fetch-revocation, on a night that writes an archive, the newest archive
        // time-stamps' TSAs' current status (fetched now, after their genTimes) where the repository
        // does not settle it yet, kept in tonight's archive: it is what shows those time-stamps
        // sound later, offline (verify --repo). A night without change writes no archive for it
        // (with --fetch-revocation, pack completes each night's own time-stamp right after it).
        // Archives the catalog marks settled are not looked at again (a renewal resets the mark).
        var statusMaterial: [(kind: EvidencePool.MaterialKind, der: [UInt8])] = []
        var settledArchives: [String] = []
        if let settings = options.pack.fetchRevocation, !changed.isEmpty {
            let stamped: [String] = try catalog.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM archive WHERE formatVersion = 2 AND statusSettled = 0 ORDER BY seq")
            }
            let paths = try stamped.map { try repository.store.localFile($0) }
            let fetched = try TimeStampStatus.fetch(archives: paths, locator: repository, trust: options.pack.trust, settings: settings)
            summary.warnings += fetched.warnings
            let byPath = Dictionary(uniqueKeysWithValues: zip(paths, stamped))
            settledArchives = fetched.settled.compactMap { byPath[$0] }
            statusMaterial = try fetched.material.filter { item in
                try catalog.reference(sha256: Hex.encode(Hasher.digest(item.der)), size: Int64(item.der.count), repository: repository.config.id) == nil
            }
            summary.timeStampStatusStored = statusMaterial.count
        }

        var archiveName: String?
        if !changed.isEmpty {
            let selection = DocumentFiles.closure(of: changed, among: present)
            let name = try nextArchiveName(started)
            let temporary = repository.temporaryFolder + "/" + name
            var pack = options.pack
            pack.inputs = options.sources
            pack.output = temporary
            pack.selection = selection
            pack.walked = walk
            pack.material = statusMaterial
            // Unchanged files of changed documents, and evidence the repository holds already,
            // become references to where they are stored (FORMAT.md §4.3).
            var unchanged: [ArchivePath: (archive: String?, sha256: String?)] = [:]
            // (A document archived again for its deleted signature or a TRY_LATER retry is unchanged.)
            for file in walk.files where selection.contains(file.relativePath) {
                if let cached = cache[ArchivePath.escaped(file.relativePath.bytes)], cached.matches(file) {
                    unchanged[file.relativePath] = (cached.archive, nil)
                }
            }
            for (key, _, archive) in recache { if let path = ArchivePath.unescaped(key), selection.contains(path) { unchanged[path] = (archive, latest[key]?.sha256) } }
            pack.storedContent = RepositoryContent(catalog: catalog, repository: repository, unchanged: unchanged)
            if let events = options.events {
                let throttle = ProgressThrottle()
                pack.progress = { progress in
                    // At most ten a second, and the last: pack reports every file.
                    guard throttle.due() || progress.filesDone == progress.filesTotal else { return }
                    var event = BackupEvent("progress")
                    (event.filesDone, event.filesTotal, event.bytesDone, event.bytesTotal)
                        = (progress.filesDone, progress.filesTotal, progress.bytesDone, progress.bytesTotal)
                    events(event)
                }
            }
            let packed = try Packer(options: pack, logger: logger).run()
            CrashPoints.reach("backup.packed")
            try repository.put(name, from: temporary)
            CrashPoints.reach("backup.stored")
            var stored = BackupEvent("stored")
            stored.archive = name
            options.events?(stored)
            archiveName = name
            summary.archive = name
            summary.fingerprint = packed.fingerprint
            summary.bytesRead = packed.bytesIn
            summary.bytesStored = packed.bytesOut
            (summary.references, summary.referencedBytes) = (packed.references, packed.referencedBytes)
            summary.warnings += packed.warnings
            summary.documentLines = packed.documentLines
            exitCode = exitCode.combined(with: packed.exitCode)
        } else {
            summary.warnings += walk.warnings
        }

        // The catalog, in one transaction, after the archive is stored.
        let byPath = Dictionary(walk.files.map { (ArchivePath.escaped($0.relativePath.bytes), $0) }, uniquingKeysWith: { first, _ in first })
        try catalog.write { db in
            for (path, file, archive) in recache { try Self.cache(db, path: path, file: file, archive: archive) }
            if let archiveName {
                let object = try repository.store.localFile(archiveName)
                let size = (try? FileManager.default.attributesOfItem(atPath: object)[.size] as? UInt64) ?? 0
                try Catalog.index(db, name: archiveName, night: night, path: object, size: size, protection: catalog.protection, repository: repository)
                // Only what the archive holds is cached: a file left out is read again next night.
                for row in try Row.fetchAll(db, sql: "SELECT path, role, indication, subIndication FROM file WHERE archive = ?", arguments: [archiveName]) {
                    let path: String = row["path"]
                    if row["role"] as String == "document" {
                        let verdict: String = row["indication"] ?? "UNSIGNED"
                        summary.documentsByVerdict[verdict, default: 0] += 1
                        if retried.contains(path), row["subIndication"] as String? != "TRY_LATER" { summary.resolvedTryLater += 1 }
                    }
                    guard let file = byPath[path] else { continue }
                    summary.archived += 1
                    try Self.cache(db, path: path, file: file, archive: archiveName)
                }
            }
            // Settled by what tonight's archive stores (or by what the repository held already).
            if archiveName != nil {
                for name in settledArchives { try db.execute(sql: "UPDATE archive SET statusSettled = 1 WHERE name = ?", arguments: [name]) }
            }
            let sequence = try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM archive") ?? 0
            for path in deleted {
                try db.execute(sql: "INSERT INTO deletion (path, night, seq, archive) VALUES (?, ?, ?, ?)", arguments: [path, night, sequence, archiveName])
                try db.execute(sql: "DELETE FROM statCache WHERE path = ?", arguments: [path])
            }
            CrashPoints.reach("catalog.written")
        }
        CrashPoints.reach("backup.done")
        summary.exitCode = exitCode.rawValue
        summary.seconds = Date().timeIntervalSince(started)
        logger.info("backup done", metadata: ["archive": "\(archiveName ?? "none")", "new": "\(summary.new)", "changed": "\(summary.changed)",
                                              "unchanged": "\(summary.unchanged)", "deleted": "\(summary.deleted)"])
        return summary
    }

    static func cache(_ db: Database, path: String, file: InputFile, archive: String) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO statCache (path, device, inode, size, modificationNanoseconds, changeNanoseconds, archive)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [path, Int64(bitPattern: file.identity.0), Int64(bitPattern: file.identity.1), file.size,
                                     file.modificationNanoseconds, file.changeNanoseconds, archive])
    }

    /// The SHA-256 of a file's content in hex, streamed (nil if it cannot be read).
    static func sha256(of file: InputFile) -> String? {
        // The raw name (not necessarily UTF-8), without following a link.
        let fd = (file.filesystemPath + [0]).withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let hasher = Hasher(.sha256)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { return nil }
            if got == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
        }
        return Hex.encode(hasher.finalize())
    }

    /// `YYYYMMDDTHHMMSSZ-<seq>.svz` (UTC), `seq` counting the repository's archives from 1.
    func nextArchiveName(_ date: Date) throws -> String {
        // One more than the highest seq in the store (never a count: a missing object must not make
        // a number come back).
        let highest = try repository.store.list().compactMap { Catalog.sequence(ofArchive: $0.name) }.max() ?? 0
        return "\(Catalog.stampFormatter().string(from: date))-\(highest + 1).svz"
    }
}

/// What the repository stores already, for the night's reference members: content by SHA-256 and
/// size (the catalog's content table), and the digest of each unchanged file the night archives
/// again with its changed document (its version in the archive the stat cache names).
final class RepositoryContent: StoredContentIndex, @unchecked Sendable {
    let catalog: Catalog
    let repository: String
    let unchanged: [ArchivePath: (archive: String?, sha256: String?)]

    let resolver: ReferenceResolver

    init(catalog: Catalog, repository: Repository, unchanged: [ArchivePath: (archive: String?, sha256: String?)]) {
        self.catalog = catalog
        self.repository = repository.config.id
        self.unchanged = unchanged
        resolver = ReferenceResolver(locator: repository)
    }

    func reference(sha256: String, size: Int64) -> MemberReference? {
        // Never for empty content; a reference is written only when it resolves now (the archive it
        // names stored, the member inline file content in its index), so damage found there does not
        // spread to later nights.
        guard size > 0, let reference = try? catalog.reference(sha256: sha256, size: size, repository: repository) else { return nil }
        return resolver.resolves(reference, size: size, sha256: sha256) ? reference : nil
    }

    func knownDigest(ofFile relativePath: ArchivePath, size: Int64) -> String? {
        guard let known = unchanged[relativePath] else { return nil }
        if let digest = known.sha256 { return digest }
        guard let archive = known.archive else { return nil }
        return try? catalog.read { db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM file WHERE archive = ? AND path = ? AND size = ?",
                                arguments: [archive, ArchivePath.escaped(relativePath.bytes), size])
        }
    }
}

/// Lets a progress event through at most every tenth of a second.
final class ProgressThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var last = DispatchTime(uptimeNanoseconds: 0)

    func due() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now()
        guard now.uptimeNanoseconds &- last.uptimeNanoseconds >= 100_000_000 else { return false }
        last = now
        return true
    }
}

