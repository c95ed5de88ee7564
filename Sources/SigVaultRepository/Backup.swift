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

    /// A stat-cache entry, read in name order.
    struct CachedStat {
        let name: [UInt8], path: String
        let device: Int64, inode: Int64, size: Int64, modificationNanoseconds: Int64, changeNanoseconds: Int64
        func matches(_ file: InputFile) -> Bool {
            device == Int64(bitPattern: file.identity.0) && inode == Int64(bitPattern: file.identity.1) && size == file.size
                && modificationNanoseconds == file.modificationNanoseconds && changeNanoseconds == file.changeNanoseconds
        }
    }

    /// What the night found for each file of the walk (one byte each, by position in the walk).
    struct FileStatus: OptionSet {
        let rawValue: UInt8
        static let new = FileStatus(rawValue: 1)
        static let changed = FileStatus(rawValue: 2)
        /// The stat cache says so.
        static let unchanged = FileStatus(rawValue: 4)
        /// Not in the stat cache, but its content is the latest version's (a rebuilt catalog):
        /// cached tonight.
        static let unchangedKnown = FileStatus(rawValue: 8)
        /// A document still TRY_LATER, archived again with --fetch-revocation.
        static let retried = FileStatus(rawValue: 16)
        var isChanged: Bool { !isDisjoint(with: [.new, .changed]) }
    }

    /// Walks a sorted cursor one row ahead.
    struct Peeking<Element> {
        private let fetch: () throws -> Element?
        private(set) var head: Element?
        init(_ fetch: @escaping () throws -> Element?) throws {
            self.fetch = fetch
            head = try fetch()
        }
        mutating func advance() throws { head = try fetch() }
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
        // The walk goes to a scratch file, in name order; so does the stat cache come out of the
        // catalog (by the raw bytes of the name): one merge of the two tells what is new, changed,
        // unchanged and gone, and memory does not grow with the number of files.
        let walk = try InputWalk(options.sources, scratchDirectory: repository.temporaryFolder)
        let prefixes = try options.sources.map { try InputWalker.relativeName(of: $0) }
        func underSources(_ bytes: [UInt8]) -> Bool {
            prefixes.contains { $0.isEmpty || bytes == $0 || bytes.starts(with: $0 + [UInt8(ascii: "/")]) }
        }
        // With --fetch-revocation, every document whose latest version is still TRY_LATER is
        // archived again tonight, with the data fetched or given now (evidence that completes itself).
        let waiting: Set<ArchivePath> = options.pack.fetchRevocation == nil ? [] : try catalog.read { db in
            Set(try String.fetchAll(db, sql: """
                SELECT f.path FROM file f JOIN archive a ON a.name = f.archive
                WHERE f.role = 'document' AND f.subIndication = 'TRY_LATER'
                  AND a.seq = (SELECT MAX(a2.seq) FROM file f2 JOIN archive a2 ON a2.name = f2.archive WHERE f2.path = f.path)
                """).compactMap(ArchivePath.unescaped))
        }
        var status = [FileStatus](repeating: [], count: walk.files.count)
        // Names that may be signature or time-stamp files, and the names they could cover: the
        // only ones a document groups (DocumentFiles), so the only ones the closure needs.
        var bases = Set<ArchivePath>()
        var goneInvolved: [ArchivePath] = []
        var retried = Set<String>()
        let recordDeletions = !walk.unreadable
        let cacheIsEmpty = try catalog.write { db -> Bool in
            try db.execute(sql: """
                CREATE TEMP TABLE IF NOT EXISTS backupGone (path TEXT NOT NULL PRIMARY KEY) WITHOUT ROWID;
                CREATE TEMP TABLE IF NOT EXISTS backupLatest (name BLOB NOT NULL PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                                                              archive TEXT NOT NULL) WITHOUT ROWID;
                DELETE FROM backupGone;
                DELETE FROM backupLatest;
                """)
            try db.execute(sql: Catalog.collectedTable)
            // Each path's latest version, for files the stat cache does not know (a rebuilt
            // catalog), unless a deletion was recorded after it (a file deleted and made again is new).
            let versions = try Row.fetchCursor(db, sql: """
                SELECT f.path, f.sha256, f.size, f.archive, a.seq FROM file f JOIN archive a ON a.name = f.archive
                WHERE f.path NOT IN (SELECT path FROM statCache) ORDER BY a.seq
                """)
            let keep = try db.makeStatement(sql: "INSERT OR REPLACE INTO backupLatest (name, sha256, size, archive) VALUES (?, ?, ?, ?)")
            let drop = try db.makeStatement(sql: "DELETE FROM backupLatest WHERE name = ?")
            let deletedSince = try db.makeStatement(sql: "SELECT COUNT(*) > 0 FROM deletion WHERE path = ? AND seq >= ?")
            while let row = try versions.next() {
                let path: String = row["path"]
                guard let name = ArchivePath.unescaped(path) else { continue }
                let sequence: Int = row["seq"]
                if try Bool.fetchOne(deletedSince, arguments: [path, sequence]) == true {
                    try drop.execute(arguments: [Data(name.bytes)])
                } else {
                    try keep.execute(arguments: [Data(name.bytes), row["sha256"] as String, row["size"] as Int64, row["archive"] as String])
                }
            }

            let cacheRows = try Row.fetchCursor(db, sql: """
                SELECT name, path, device, inode, size, modificationNanoseconds, changeNanoseconds FROM statCache ORDER BY name
                """)
            var cache = try Peeking<CachedStat> {
                guard let row = try cacheRows.next() else { return nil }
                return CachedStat(name: [UInt8](row["name"] as Data), path: row["path"], device: row["device"], inode: row["inode"],
                                  size: row["size"], modificationNanoseconds: row["modificationNanoseconds"], changeNanoseconds: row["changeNanoseconds"])
            }
            let cacheIsEmpty = cache.head == nil
            let latestRows = try Row.fetchCursor(db, sql: "SELECT name, sha256, size FROM backupLatest ORDER BY name")
            var latest = try Peeking<(name: [UInt8], sha256: String, size: Int64)> {
                guard let row = try latestRows.next() else { return nil }
                return ([UInt8](row["name"] as Data), row["sha256"], row["size"])
            }
            // A file the catalog knows under one of tonight's sources that the walk did not find is
            // gone. Not when part of the sources could not be read: an unreadable folder is not a deletion.
            let gone = try db.makeStatement(sql: "INSERT OR IGNORE INTO backupGone (path) VALUES (?)")
            func isGone(_ name: [UInt8], path: String) throws {
                guard recordDeletions, underSources(name) else { return }
                try gone.execute(arguments: [path])
                summary.deleted += 1
                let archivePath = ArchivePath(bytes: name)
                if DocumentFiles.mayTakePart(archivePath) {
                    goneInvolved.append(archivePath)
                    bases.formUnion(DocumentFiles.possibleBases(archivePath))
                }
            }
            var index = 0
            try walk.files.forEach { file in
                defer { index += 1 }
                summary.filesSeen += 1
                let name = file.relativePath
                while let entry = cache.head, ArchivePath(bytes: entry.name) < name {
                    try isGone(entry.name, path: entry.path)
                    try cache.advance()
                }
                while let entry = latest.head, ArchivePath(bytes: entry.name) < name {
                    try isGone(entry.name, path: ArchivePath.escaped(entry.name))
                    try latest.advance()
                }
                let cached = cache.head?.name == name.bytes ? cache.head : nil
                if cached != nil { try cache.advance() }
                let stored = latest.head?.name == name.bytes ? latest.head : nil
                if stored != nil { try latest.advance() }
                if let cached {
                    if cached.matches(file) { status[index] = .unchanged } else { status[index] = .changed }
                } else if let stored, case .regular = file.kind, stored.size == file.size, Self.sha256(of: file) == stored.sha256 {
                    // Known to the catalog without a stat entry (a rebuilt catalog): read and hashed
                    // once, and cached if it is the latest version's content.
                    status[index] = .unchangedKnown
                } else {
                    status[index] = stored != nil ? .changed : .new
                }
                if DocumentFiles.mayTakePart(name) { bases.formUnion(DocumentFiles.possibleBases(name)) }
                if waiting.contains(name) && !status[index].isChanged {
                    status[index].insert(.retried)
                    retried.insert(ArchivePath.escaped(name.bytes))
                }
                switch status[index].subtracting(.retried) {
                case .new: summary.new += 1
                case .changed: summary.changed += 1
                default: summary.unchanged += 1
                }
            }
            while let entry = cache.head {
                try isGone(entry.name, path: entry.path)
                try cache.advance()
            }
            while let entry = latest.head {
                try isGone(entry.name, path: ArchivePath.escaped(entry.name))
                try latest.advance()
            }
            // A gone file that a present signature or token file covers changes that document too.
            let isGoneName = try db.makeStatement(sql: "SELECT COUNT(*) > 0 FROM backupGone WHERE path = ?")
            for base in bases where !DocumentFiles.mayTakePart(base) {
                if try Bool.fetchOne(isGoneName, arguments: [ArchivePath.escaped(base.bytes)]) == true { goneInvolved.append(base) }
            }
            return cacheIsEmpty
        }
        summary.retriedTryLater = retried.count
        if walk.unreadable && !cacheIsEmpty {
            summary.warnings.append("deletions are not recorded tonight: part of the sources could not be read, and a file there is not gone")
        }
        var walked = BackupEvent("walked")
        (walked.filesSeen, walked.new, walked.changed, walked.unchanged, walked.deleted)
            = (summary.filesSeen, summary.new, summary.changed, summary.unchanged, summary.deleted)
        options.events?(walked)
        var exitCode: ExitCode = walk.unreadable ? .partlyUnreadable : .ok
        let night = ISOTime.format(started)

        // What is archived tonight: the new and changed files, the retried documents, and the
        // other files of their documents (and of the documents a gone file belonged to). Only the
        // files that may belong to a document with others take part in that closure.
        // (A night where nothing changed, is retried or is gone needs neither pass over the walk.)
        let anything = summary.new + summary.changed > 0 || !retried.isEmpty || !goneInvolved.isEmpty
        var involved: [ArchivePath] = []
        var seeds = Set<ArchivePath>()
        var index = 0
        if anything { try walk.files.forEach { file in
            defer { index += 1 }
            let name = file.relativePath
            guard DocumentFiles.mayTakePart(name) || bases.contains(name) else { return }
            involved.append(name)
            if status[index].isChanged || status[index].contains(.retried) { seeds.insert(name) }
        } }
        let gone = Set(goneInvolved)
        if !gone.isEmpty { seeds.formUnion(DocumentFiles.closure(of: gone, among: involved + Array(gone)).subtracting(gone)) }
        let together = seeds.isEmpty ? [] : DocumentFiles.closure(of: seeds, among: involved)
        let selection = try FileList(directory: repository.temporaryFolder)
        // Unchanged files archived again with a changed document become references to where
        // they are stored (FORMAT.md §4.3): the archive the stat cache names, or the latest version.
        var unchanged: [ArchivePath: (archive: String?, sha256: String?)] = [:]
        index = 0
        if anything { try catalog.read { db in
            let cachedArchive = try db.makeStatement(sql: "SELECT archive FROM statCache WHERE name = ?")
            let latestVersion = try db.makeStatement(sql: "SELECT archive, sha256 FROM backupLatest WHERE name = ?")
            try walk.files.forEach { file in
                defer { index += 1 }
                guard status[index].isChanged || status[index].contains(.retried) || together.contains(file.relativePath) else { return }
                try selection.append(file)
                let name = Data(file.relativePath.bytes)
                if status[index].contains(.unchanged) {
                    unchanged[file.relativePath] = (try String.fetchOne(cachedArchive, arguments: [name]), nil)
                } else if status[index].contains(.unchangedKnown), let row = try Row.fetchOne(latestVersion, arguments: [name]) {
                    unchanged[file.relativePath] = (row["archive"], row["sha256"])
                }
            }
        } }

        // With --fetch-revocation, on a night that writes an archive, the newest archive
        // time-stamps' TSAs' current status (fetched now, after their genTimes) where the repository
        // does not settle it yet, kept in tonight's archive: it is what shows those time-stamps
        // sound later, offline (verify --repo). A night without change writes no archive for it
        // (with --fetch-revocation, pack completes each night's own time-stamp right after it).
        // Archives the catalog marks settled are not looked at again (a renewal resets the mark).
        var statusMaterial: [(kind: EvidencePool.MaterialKind, der: [UInt8])] = []
        var settledArchives: [String] = []
        if let settings = options.pack.fetchRevocation, selection.count > 0 {
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
        var skipped = Set<ArchivePath>()
        if selection.count > 0 {
            let name = try nextArchiveName(started)
            let temporary = repository.temporaryFolder + "/" + name
            var pack = options.pack
            pack.inputs = options.sources
            pack.output = temporary
            pack.walked = InputWalk(files: selection, warnings: walk.warnings, unreadable: walk.unreadable)
            pack.material = statusMaterial
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
            // The catalog indexes the archive from what pack wrote, not by reading its manifest back.
            let rows = CollectedRows(catalog: catalog)
            pack.onMember = { rows.add($0) }
            let packed = try Packer(options: pack, logger: logger).run()
            try rows.finish()
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
            skipped = Set(packed.skippedFiles)
            exitCode = exitCode.combined(with: packed.exitCode)
        } else {
            summary.warnings += walk.warnings
        }

        // The catalog, in one transaction, after the archive is stored.
        try catalog.write { db in
            let latestVersion = try db.makeStatement(sql: "SELECT archive FROM backupLatest WHERE name = ?")
            index = 0
            if status.contains(where: { $0.contains(.unchangedKnown) }) { try walk.files.forEach { file in
                defer { index += 1 }
                guard status[index].contains(.unchangedKnown),
                      let archive = try String.fetchOne(latestVersion, arguments: [Data(file.relativePath.bytes)]) else { return }
                try Self.cache(db, file: file, archive: archive)
            } }
            if let archiveName {
                let object = try repository.store.localFile(archiveName)
                let size = (try? FileManager.default.attributesOfItem(atPath: object)[.size] as? UInt64) ?? 0
                try Catalog.index(db, name: archiveName, night: night, path: object, size: size, protection: catalog.protection, repository: repository,
                                  collected: summary.fingerprint)
                for row in try Row.fetchAll(db, sql: """
                    SELECT COALESCE(indication, 'UNSIGNED') AS verdict, COUNT(*) AS count FROM file WHERE archive = ? AND role = 'document' GROUP BY verdict
                    """, arguments: [archiveName]) {
                    summary.documentsByVerdict[row["verdict"]] = row["count"]
                }
                for path in retried {
                    let subIndication = try Row.fetchOne(db, sql: "SELECT subIndication FROM file WHERE archive = ? AND path = ? AND role = 'document'",
                                                         arguments: [archiveName, path])
                    if let subIndication, subIndication["subIndication"] as String? != "TRY_LATER" { summary.resolvedTryLater += 1 }
                }
                // Only what the archive holds is cached: a file left out is read again next night.
                try selection.forEach { file in
                    guard !skipped.contains(file.relativePath) else { return }
                    summary.archived += 1
                    try Self.cache(db, file: file, archive: archiveName)
                }
            }
            // Settled by what tonight's archive stores (or by what the repository held already).
            if archiveName != nil {
                for name in settledArchives { try db.execute(sql: "UPDATE archive SET statusSettled = 1 WHERE name = ?", arguments: [name]) }
            }
            let sequence = try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM archive") ?? 0
            try db.execute(sql: "INSERT INTO deletion (path, night, seq, archive) SELECT path, ?, ?, ? FROM backupGone ORDER BY path",
                           arguments: [night, sequence, archiveName])
            try db.execute(sql: "DELETE FROM statCache WHERE path IN (SELECT path FROM backupGone)")
            CrashPoints.reach("catalog.written")
        }
        CrashPoints.reach("backup.done")
        summary.exitCode = exitCode.rawValue
        summary.seconds = Date().timeIntervalSince(started)
        logger.info("backup done", metadata: ["archive": "\(archiveName ?? "none")", "new": "\(summary.new)", "changed": "\(summary.changed)",
                                              "unchanged": "\(summary.unchanged)", "deleted": "\(summary.deleted)"])
        return summary
    }

    static func cache(_ db: Database, file: InputFile, archive: String) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO statCache (path, name, device, inode, size, modificationNanoseconds, changeNanoseconds, archive)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [ArchivePath.escaped(file.relativePath.bytes), Data(file.relativePath.bytes),
                                     Int64(bitPattern: file.identity.0), Int64(bitPattern: file.identity.1), file.size,
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

/// The members pack writes, into the catalog's `backupFiles` table in batches (from pack's writer
/// thread; the catalog serialises them with the backup's own queries).
final class CollectedRows: @unchecked Sendable {
    let catalog: Catalog
    private let lock = NSLock()
    private var pending: [ListedFile] = []
    private var failure: (any Error)?

    init(catalog: Catalog) { self.catalog = catalog }

    func add(_ file: ListedFile) {
        lock.lock()
        defer { lock.unlock() }
        pending.append(file)
        if pending.count >= 4096 { flush() }
    }

    /// The rest, and the first error a batch met.
    func finish() throws {
        lock.lock()
        defer { lock.unlock() }
        flush()
        if let failure { throw failure }
    }

    private func flush() {
        guard failure == nil, !pending.isEmpty else { pending.removeAll(); return }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        do { try catalog.write { db in try Catalog.collect(db, batch) } } catch { failure = error }
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

