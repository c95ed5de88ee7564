import Foundation
import GRDB
import SigVault
import SigVaultFormat

/// The repository's catalog (`catalog.sqlite`, SQLite through GRDB): what each archive holds,
/// every version of every file with the verdict pack recorded, deletions, and the stat cache that
/// lets a backup skip unchanged files. The archives are the truth: `rebuild(from:)` makes the
/// catalog again from them, and a backup indexes an archive the catalog lacks before anything else.
final class Catalog: @unchecked Sendable {
    let database: DatabaseQueue
    let repository: Repository
    /// The archives' protection (newest archive time-stamp, renew-before date), with the
    /// repository's trust anchors: loaded when an archive is first indexed.
    lazy var protection: ProtectionReader? = try? ProtectionReader(trust: (repository.config.defaults.trust ?? []).map(repository.resolve),
                                                                   locator: repository)

    /// Opens the catalog. Only `init`, `backup` and `repo rebuild-catalog` may create it
    /// (`create`): for the others a missing catalog is an error with the rebuild hint, never an
    /// empty catalog that would make every archive look unknown.
    init(repository: Repository, create: Bool = false) throws {
        if !create && !FileManager.default.fileExists(atPath: repository.catalogPath) {
            throw SigVaultError(.catalog, "\(repository.catalogPath): the catalog is missing",
                                hint: "sigvault repo rebuild-catalog --repo \(repository.root) makes it again from the archives")
        }
        self.repository = repository
        do {
            database = try DatabaseQueue(path: repository.catalogPath)
            try Self.migrator.migrate(database)
        } catch {
            throw SigVaultError(.catalog, "\(repository.catalogPath): the catalog cannot be opened: \(error)",
                                hint: "sigvault repo rebuild-catalog --repo \(repository.root) makes it again from the archives")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "archive") { t in
                t.primaryKey("name", .text)
                t.column("seq", .integer).notNull()          // the <seq> of its name: the order of the nights
                t.column("night", .text).notNull()          // ISO 8601 UTC: when the backup ran
                t.column("fingerprint", .text).notNull()
                t.column("formatVersion", .integer).notNull()
                t.column("size", .integer).notNull()
            }
            try db.create(table: "file") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("archive", .text).notNull().indexed().references("archive", onDelete: .cascade)
                t.column("path", .text).notNull().indexed()  // escaped, without data/, as list prints it
                t.column("role", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("sha256", .text).notNull()
                t.column("signers", .text)                   // JSON array, documents only
                t.column("provenTime", .text)
                t.column("indication", .text)
                t.column("subIndication", .text)
            }
            try db.create(table: "deletion") { t in
                t.column("path", .text).notNull().indexed()
                t.column("night", .text).notNull()
                t.column("seq", .integer).notNull()          // the newest archive's seq when it was seen gone
                t.column("archive", .text)                   // the night's archive, if it wrote one
            }
            try db.create(table: "statCache") { t in
                t.primaryKey("path", .text)
                t.column("device", .integer).notNull()
                t.column("inode", .integer).notNull()
                t.column("size", .integer).notNull()
                t.column("modificationNanoseconds", .integer).notNull()
                t.column("changeNanoseconds", .integer).notNull()
                t.column("archive", .text).notNull()
            }
        }
        // Where each content is stored inline (FORMAT.md §4.3: a backup writes later copies as
        // reference members to it): the first archive and member that holds it.
        migrator.registerMigration("v2") { db in
            try db.create(table: "content") { t in
                t.column("sha256", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("archive", .text).notNull().indexed().references("archive", onDelete: .cascade)
                t.column("path", .text).notNull()           // the tar name, escaped
                t.primaryKey(["sha256", "size"])
            }
            try db.alter(table: "file") { t in t.add(column: "storage", .text).notNull().defaults(to: "inline") }
        }
        // The dates that matter for an archive: its newest archive time-stamp (its own, or from its
        // newest renewed evidence object, FORMAT.md §11) and the date to renew it before; and the
        // renewed evidence objects.
        migrator.registerMigration("v3") { db in
            try db.alter(table: "archive") { t in
                t.add(column: "archiveTimeStamp", .text)     // ISO 8601 UTC genTime; NULL without one
                t.add(column: "renewBefore", .text)          // ISO 8601 UTC; NULL without one
            }
            // Per document version: its signers' certificates' earliest expiry, its time-stamps'
            // TSA certificates' earliest expiry, its signatures' earliest algorithm sunset.
            try db.alter(table: "file") { t in
                t.add(column: "signerNotAfter", .text)
                t.add(column: "timeStampNotAfter", .text)
                t.add(column: "algorithmSunset", .text)
            }
            try db.create(table: "renewal") { t in
                t.primaryKey("object", .text)                 // <archive>.evidence-<n>
                t.column("archive", .text).notNull().indexed().references("archive", onDelete: .cascade)
                t.column("number", .integer).notNull()
                t.column("genTime", .text)
            }
        }
        // Archives whose newest archive time-stamp's TSA status the repository settles: a backup
        // with --fetch-revocation fetches for the others only (a renewal resets it).
        migrator.registerMigration("v4") { db in
            try db.alter(table: "archive") { t in t.add(column: "statusSettled", .boolean).notNull().defaults(to: false) }
        }
        // The stat cache by the raw bytes of each name too, which SQLite orders as the walk does
        // (memcmp, then length): a backup merges the two instead of holding either in memory.
        migrator.registerMigration("v5") { db in
            try db.alter(table: "statCache") { t in t.add(column: "name", .blob) }
            var last: Int64 = 0
            let update = try db.makeStatement(sql: "UPDATE statCache SET name = ? WHERE rowid = ?")
            while true {
                let rows = try Row.fetchAll(db, sql: "SELECT rowid, path FROM statCache WHERE rowid > ? ORDER BY rowid LIMIT 10000", arguments: [last])
                guard let end = rows.last?["rowid"] as Int64? else { break }
                for row in rows {
                    guard let name = ArchivePath.unescaped(row["path"]) else { continue }
                    try update.execute(arguments: [Data(name.bytes), row["rowid"] as Int64])
                }
                last = end
            }
            // A name that cannot be read back is read again next night, like any file the cache lacks.
            try db.execute(sql: "DELETE FROM statCache WHERE name IS NULL")
            try db.create(index: "statCacheName", on: "statCache", columns: ["name"], unique: true)
        }
        return migrator
    }

    /// Where content with this SHA-256 and size is stored inline, as a reference to it.
    func reference(sha256: String, size: Int64, repository: String) throws -> MemberReference? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT c.archive, c.path, a.fingerprint FROM content c JOIN archive a ON a.name = c.archive WHERE c.sha256 = ? AND c.size = ?
                """, arguments: [sha256, size]), let path = ArchivePath.unescaped(row["path"] as String) else { return nil }
            return MemberReference(repository: repository, archive: row["archive"], fingerprint: row["fingerprint"], path: path)
        }
    }

    func archiveNames() throws -> Set<String> {
        try read { db in Set(try String.fetchAll(db, sql: "SELECT name FROM archive")) }
    }

    /// The temporary table a backup fills with the members pack writes (`Packer`'s `onMember`),
    /// for `index(…collected:)`: the `file` columns, the tar name, and whether it is under `data/`.
    static let collectedTable = """
        CREATE TEMP TABLE IF NOT EXISTS backupFiles (seq INTEGER PRIMARY KEY, archivePath TEXT NOT NULL, isData INTEGER NOT NULL,
            path TEXT NOT NULL, role TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, signers TEXT, provenTime TEXT,
            indication TEXT, subIndication TEXT, storage TEXT NOT NULL, signerNotAfter TEXT, timeStampNotAfter TEXT, algorithmSunset TEXT);
        DELETE FROM backupFiles;
        """

    /// Adds members to the `backupFiles` table, in archive order.
    static func collect(_ db: Database, _ files: [ListedFile]) throws {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO backupFiles (archivePath, isData, path, role, size, sha256, signers, provenTime, indication, subIndication, storage,
                                     signerNotAfter, timeStampNotAfter, algorithmSunset)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let encoder = JSONEncoder()
        for file in files {
            let columns = try fileColumns(file, encoder: encoder)
            let lead: [(any DatabaseValueConvertible)?] = [file.archivePath, file.archivePath.hasPrefix("data/")]
            try insert.execute(arguments: StatementArguments(lead + columns))
        }
    }

    /// A `file` row's columns after `archive`, for a listed file.
    static func fileColumns(_ file: ListedFile, encoder: JSONEncoder) throws -> [(any DatabaseValueConvertible)?] {
        let document = file.document
        let signers = try document.map { $0.signers.isEmpty ? "[]" : String(decoding: try encoder.encode($0.signers), as: UTF8.self) }
        return [file.path, file.role, file.size, file.sha256, signers, document?.provenTime, document?.packIndication, document?.packSubIndication,
                file.storage, file.dates?.signerNotAfter.map(ISOTime.format), file.dates?.timeStampNotAfter.map(ISOTime.format),
                file.dates?.algorithmSunset.map(ISOTime.format)]
    }

    /// Records what archive `name` holds (in the caller's transaction): from its manifest, or with
    /// `collected` from the `backupFiles` table that pack filled as it wrote the archive, whose
    /// fingerprint must then be `collected`.
    static func index(_ db: Database, name: String, night: String, path: String, size: UInt64, protection: ProtectionReader?, repository: Repository,
                      collected: String? = nil) throws {
        // One pass: the manifest is checked as it is read, and an error undoes the transaction.
        let lister = try Lister(archive: path, checkFirst: false)
        // Protection that cannot be read (a damaged section) is left NULL: check names the damage.
        let protected = lister.formatVersion == 2 ? (try? protection?.protection(ofArchive: path)) ?? nil : nil
        try db.execute(sql: """
            INSERT INTO archive (name, seq, night, fingerprint, formatVersion, size, archiveTimeStamp, renewBefore) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [name, Self.sequence(ofArchive: name) ?? 0, night, lister.fingerprint, lister.formatVersion, Int64(size),
                             protected.map { ISOTime.format($0.genTime) }, protected?.renewBefore.map(ISOTime.format)])
        if let collected {
            guard lister.fingerprint == collected else {
                throw SigVaultError(.internalInvariant, "internal error: \(name) is not the archive pack wrote")
            }
            try db.execute(sql: """
                INSERT INTO file (archive, path, role, size, sha256, signers, provenTime, indication, subIndication, storage,
                                  signerNotAfter, timeStampNotAfter, algorithmSunset)
                SELECT ?, path, role, size, sha256, signers, provenTime, indication, subIndication, storage,
                       signerNotAfter, timeStampNotAfter, algorithmSunset FROM backupFiles WHERE isData = 1 ORDER BY seq
                """, arguments: [name])
            try db.execute(sql: """
                INSERT OR IGNORE INTO content (sha256, size, archive, path)
                SELECT sha256, size, ?, archivePath FROM backupFiles WHERE storage = 'inline' AND role != 'symlink' ORDER BY seq
                """, arguments: [name])
            return
        }
        let encoder = JSONEncoder()
        let insert = try db.cachedStatement(sql: """
            INSERT INTO file (archive, path, role, size, sha256, signers, provenTime, indication, subIndication, storage,
                              signerNotAfter, timeStampNotAfter, algorithmSunset)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let content = try db.cachedStatement(sql: "INSERT OR IGNORE INTO content (sha256, size, archive, path) VALUES (?, ?, ?, ?)")
        // One pass over the manifest (after Lister's check of the whole).
        try lister.forEachFile(includingEvidence: true, withDates: true, repository: repository) { file in
            // File content only (a symbolic link's "content" is empty and is no file to point at).
            if file.storage == "inline" && file.role != "symlink" { try content.execute(arguments: [file.sha256, file.size, name, file.archivePath]) }
            guard file.archivePath.hasPrefix("data/") else { return }
            let columns = try fileColumns(file, encoder: encoder)
            try insert.execute(arguments: StatementArguments([name] + columns))
        }
    }

    /// Records a renewed evidence object, and its archive's new protection dates.
    static func recordRenewal(_ db: Database, object: String, archive: String, number: Int, genTime: Date?, renewBefore: Date?) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO renewal (object, archive, number, genTime) VALUES (?, ?, ?, ?)",
                       arguments: [object, archive, number, genTime.map(ISOTime.format)])
        if let genTime {
            try db.execute(sql: "UPDATE archive SET archiveTimeStamp = ?, renewBefore = ?, statusSettled = 0 WHERE name = ?",
                           arguments: [ISOTime.format(genTime), renewBefore.map(ISOTime.format), archive])
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.read(body) } catch let error as SigVaultError { throw error } catch {
            throw SigVaultError(.catalog, "the catalog cannot be read: \(error)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try database.write(body) } catch let error as SigVaultError { throw error } catch {
            throw SigVaultError(.catalog, "the catalog cannot be written: \(error)")
        }
    }

    /// The `<seq>` of an archive's name (`YYYYMMDDTHHMMSSZ-<seq>.svz`).
    static func sequence(ofArchive name: String) -> Int? {
        guard name.hasSuffix(".svz"), let dash = name.firstIndex(of: "-") else { return nil }
        return Int(name[name.index(after: dash)..<name.index(name.endIndex, offsetBy: -4)])
    }

    /// The night an archive was written, from its name (`YYYYMMDDTHHMMSSZ-<seq>.svz`).
    static func night(ofArchive name: String) -> String? {
        let stamp = name.prefix(16)
        guard stamp.count == 16 else { return nil }
        return stampFormatter().date(from: String(stamp)).map(ISOTime.format)
    }

    /// `YYYYMMDDTHHMMSSZ` (UTC), the time part of an archive's name (a new formatter each time:
    /// formatters are not thread-safe).
    static func stampFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter
    }

    /// Indexes every stored archive the catalog lacks (a backup stopped after storing its archive,
    /// or a lost catalog); returns their names, and a warning for each one that cannot be read
    /// (it stays unindexed, `check` names it; the others are indexed all the same).
    func indexMissing(_ repository: Repository) throws -> (indexed: [String], warnings: [String]) {
        let known = try archiveNames()
        var indexed: [String] = []
        var warnings: [String] = []
        for object in try repository.store.list() where !known.contains(object.name) && object.name.hasSuffix(".svz") {
            let night = Self.night(ofArchive: object.name) ?? ISOTime.format(Date())
            let path = try repository.store.localFile(object.name)
            do {
                try write { db in try Self.index(db, name: object.name, night: night, path: path, size: object.size, protection: protection, repository: repository) }
                indexed.append(object.name)
            } catch let error as SigVaultError where error.code != .catalog {
                warnings.append("\(object.name): cannot be indexed: \(error.message); run sigvault check --repo \(repository.root)")
            }
        }
        // Renewed evidence objects of indexed archives (a renewal stopped before recording its
        // object, or a rebuilt catalog): recorded, with the archive's protection read again.
        let renewals: Set<String> = try read { db in Set(try String.fetchAll(db, sql: "SELECT object FROM renewal")) }
        let archives = try archiveNames()
        for object in try repository.store.list() where !renewals.contains(object.name) {
            guard let (archive, number) = RenewedEvidence.parse(objectName: object.name), archives.contains(archive) else { continue }
            let protected = (try? protection?.protection(ofArchive: try repository.store.localFile(archive))) ?? nil
            try write { db in
                try Self.recordRenewal(db, object: object.name, archive: archive, number: number,
                                       genTime: protected?.object == object.name ? protected?.genTime : nil, renewBefore: protected?.renewBefore)
            }
        }
        return (indexed, warnings)
    }

    /// `sigvault repo rebuild-catalog`: a new catalog from the archives alone. The stat cache and
    /// the deletions are not in the archives: the next backup reads every file once (and finds
    /// nothing changed where the content is the same), and deletions are recorded again from then.
    static func rebuild(_ repository: Repository) throws -> (indexed: [String], warnings: [String]) {
        let path = repository.catalogPath
        // The journal first: one left behind must never be applied to the new database.
        for suffix in ["-journal", "-wal", "-shm", ""] { _ = unlink(path + suffix) }
        let catalog = try Catalog(repository: repository, create: true)
        return try catalog.indexMissing(repository)
    }
}
