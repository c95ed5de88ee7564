import Foundation
import SigVault
import SigVaultValidation
import GRDB
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// The repository's config file, `sigvault-repository.json` (docs/FORMAT.md, "Repository").
public struct RepositoryConfig: Codable, Sendable {
    /// Defaults for the repository commands; a flag given on the command line replaces the
    /// default of the same name. Relative paths are relative to the repository folder.
    public struct Defaults: Codable, Sendable {
        public var trust: [String]?
        public var certs: [String]?
        public var crls: [String]?
        public var ocsp: [String]?
        public var tsa: [String]?
        public var fetchRevocation: Bool?
        public init() {}
    }

    public var format = "sigvault-repository"
    public var version = 1
    public var id: String
    public var createdAt: String
    public var defaults = Defaults()

    public init(id: String, createdAt: String) {
        self.id = id
        self.createdAt = createdAt
    }
}

/// A repository in a local folder: the config, `archives/` (a write-once object store), the
/// catalog (`catalog.sqlite`, rebuilt from the archives when lost), `lock`, and `tmp/` for the
/// archive being written.
public final class Repository: @unchecked Sendable {
    public static let configName = "sigvault-repository.json"
    public static let environmentVariable = "SIGVAULT_REPOSITORY"

    public let root: String
    public let config: RepositoryConfig
    public let store: any ObjectStore
    /// Renewed evidence objects by archive, from one listing of the store (see `renewals`).
    private var renewalIndex: [String: [(number: Int, object: String)]]?
    private let renewalLock = NSLock()
    /// The repository's CRLs and OCSP responses, once read (see `revocationMaterial`).
    private var revocationCache: [(kind: EvidencePool.MaterialKind, der: [UInt8])]?

    var catalogPath: String { root + "/catalog.sqlite" }
    var temporaryFolder: String { root + "/tmp" }
    var lockPath: String { root + "/lock" }

    /// `sigvault init`: a new repository in `root` (created if missing, else empty).
    @discardableResult
    public static func create(at root: String, defaults: RepositoryConfig.Defaults = .init()) throws -> Repository {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw SigVaultError(.outputExists, "\(root): exists and is not a folder") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
            guard entries.isEmpty else {
                throw SigVaultError(.outputExists, "\(root): not empty\(entries.contains(configName) ? " (already a repository)" : "")",
                                    hint: "give a new or empty folder")
            }
        } else {
            do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
                throw SigVaultError(.outputCreate, "\(root): cannot create the folder: \(error.localizedDescription)")
            }
        }
        for folder in ["archives", "tmp"] {
            guard mkdir(root + "/" + folder, 0o755) == 0 else {
                throw SigVaultError(.outputCreate, "\(root)/\(folder): cannot create: \(String(cString: strerror(errno)))", cause: SystemError())
            }
        }
        var config = RepositoryConfig(id: UUID().uuidString.lowercased(), createdAt: ISOTime.format(Date()))
        config.defaults = defaults
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try DurableFile.write(Array(try encoder.encode(config)) + [0x0A], to: root + "/" + configName, overwrite: false)
        let repository = try Repository(opening: root)
        _ = try Catalog(repository: repository, create: true)
        DurableFile.syncFolder(root)
        return repository
    }

    /// Opens the repository at `root` (exit 10 when it is not one).
    public init(opening root: String) throws {
        let configPath = root + "/" + Self.configName
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw SigVaultError(.noRepository, "\(root): not a SigVault repository (no \(Self.configName))", hint: "create one with sigvault init \(root)")
        }
        let config: RepositoryConfig
        do { config = try JSONDecoder().decode(RepositoryConfig.self, from: data) } catch {
            throw SigVaultError(.noRepository, "\(configPath): not a repository config: \(error)")
        }
        guard config.format == "sigvault-repository", config.version == 1 else {
            throw SigVaultError(.noRepository, "\(configPath): \(config.format) version \(config.version), not sigvault-repository version 1")
        }
        // The folders are the repository's own: a symbolic link in their place could make a run
        // write, truncate or remove files elsewhere.
        for folder in ["archives", "tmp"] {
            var info = stat()
            guard lstat(root + "/" + folder, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw SigVaultError(.noRepository, "\(root)/\(folder): not a folder of the repository (missing, or a symbolic link)")
            }
        }
        self.root = root
        self.config = config
        store = FolderObjectStore(folder: root + "/archives")
    }

    /// A config path as the commands take it: relative to the repository folder.
    public func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : root + "/" + path }

    /// The one writer: `flock(2)` on `lock`, which records host, PID and start time. Held until the
    /// returned lock is released (or the process ends: the kernel drops it, so no unlock command is
    /// ever needed). Another holder: exit 11 at once, or after `wait`.
    public func lock(wait: TimeInterval? = nil, command: String) throws -> RepositoryLock {
        try RepositoryLock(path: lockPath, wait: wait, command: command)
    }

    /// What earlier runs that were stopped left in `tmp/` (an archive not yet stored, its
    /// temporary): removed. Only the lock holder writes there, so under the lock all of it is stale.
    func removeStaleTemporaries() -> [String] {
        var removed: [String] = []
        // Only what SigVault writes there: archives, renewed evidence objects and their
        // temporaries, never through a link (the folder was checked when the repository was
        // opened; unlink removes a link itself).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporaryFolder)) ?? []
        where name.hasSuffix(".svz") || RenewedEvidence.parse(objectName: name) != nil || name.contains(".sigvault-") {
            let path = temporaryFolder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFLNK else { continue }
            if unlink(path) == 0 { removed.append("removed \(path), left by a run that was stopped") }
        }
        if !removed.isEmpty { DurableFile.syncFolder(temporaryFolder) }
        return removed
    }
}

/// The repository lock (see `Repository.lock`).
public final class RepositoryLock: @unchecked Sendable {
    private var fd: Int32

    init(path: String, wait: TimeInterval?, command: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SigVaultError(.noRepository, "\(path): cannot open the lock file: \(String(cString: strerror(errno)))") }
        let deadline = Date().addingTimeInterval(wait ?? 0)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw SigVaultError(.noRepository, "\(path): cannot lock: \(String(cString: strerror(errno)))")
            }
            if Date() >= deadline {
                let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                throw SigVaultError(.locked, "\((path as NSString).deletingLastPathComponent): another sigvault run holds the repository\(holder.isEmpty ? "" : " (\(holder))")",
                                    hint: "wait for it, or give --lock-wait <duration>")
            }
            usleep(100_000)
        }
        let text = Array("host=\(TemporaryFiles.hostName) pid=\(getpid()) command=\(command) started=\(ISOTime.format(Date()))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = fsync(fd)
    }

    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// The engine reads reference members' content (FORMAT.md §4.3) through the repository's store.
extension Repository: ArchiveLocator {
    public var repositoryID: String { config.id }

    public func localFile(forArchive name: String) throws -> String? {
        guard FolderObjectStore.validName(name) else { return nil }
        let path = try store.localFile(name)
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return path
    }

    /// The renewals of archive `name` stored in the repository, by number (from one listing of the
    /// store per command, made again after this command stores an object: `put`).
    func renewals(ofArchive name: String) throws -> [(number: Int, object: String)] {
        renewalLock.lock()
        defer { renewalLock.unlock() }
        if renewalIndex == nil {
            var index: [String: [(number: Int, object: String)]] = [:]
            // Every name, not only regular files: a link or folder under a renewal's name is a
            // damaged object (never a silent fall-back), and the next number is past it.
            for name in try store.names() {
                guard let parsed = RenewedEvidence.parse(objectName: name) else { continue }
                index[parsed.archive, default: []].append((parsed.number, name))
            }
            renewalIndex = index.mapValues { $0.sorted { $0.number < $1.number } }
        }
        return renewalIndex?[name] ?? []
    }

    public func newestRenewedEvidenceObject(ofArchive name: String) throws -> String? { try renewals(ofArchive: name).last?.object }

    /// Every renewed evidence object of archive `name` that does not decode or is not bound to it,
    /// with the reason (superseded ones included: damage in the store is worth knowing about).
    func damagedRenewals(ofArchive name: String, fingerprint: [UInt8]) throws -> [String] {
        try renewals(ofArchive: name).compactMap { renewal in
            do {
                _ = try renewedPayload(renewal, fingerprint: fingerprint)
                return nil
            } catch let error as SigVaultError where error.code == .integrity {
                return error.message
            }
        }
    }

    /// One renewed evidence object read and checked (a regular file of bounded size, decoding and
    /// bound to the archive): its evidence payload, or `integrity` with the reason.
    private func renewedPayload(_ renewal: (number: Int, object: String), fingerprint: [UInt8]) throws -> [UInt8] {
        let path = try store.localFile(renewal.object)
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= RenewedEvidence.maximumSize else {
            throw SigVaultError(.integrity, "\(renewal.object): not a renewed evidence object (not a regular file of at most \(RenewedEvidence.maximumSize >> 20) MiB)")
        }
        guard let bytes = FileManager.default.contents(atPath: path) else { throw SigVaultError(.archiveRead, "\(path): cannot be read") }
        return try RenewedEvidence.decode(Array(bytes), fingerprint: fingerprint, number: renewal.number, name: renewal.object)
    }

    public func revocationMaterial() throws -> [(kind: EvidencePool.MaterialKind, der: [UInt8])] {
        // Read once per command (check --read-data verifies every archive with it).
        renewalLock.lock()
        if let known = revocationCache { renewalLock.unlock(); return known }
        renewalLock.unlock()
        let material = try readRevocationMaterial()
        renewalLock.lock()
        revocationCache = material
        renewalLock.unlock()
        return material
    }

    private func readRevocationMaterial() throws -> [(kind: EvidencePool.MaterialKind, der: [UInt8])] {
        guard FileManager.default.fileExists(atPath: catalogPath) else { return [] }
        let catalog = try Catalog(repository: self)
        let rows: [(String, String)] = try catalog.read { db in
            try Row.fetchAll(db, sql: "SELECT archive, path FROM content WHERE path LIKE 'evidence/crls/%' OR path LIKE 'evidence/ocsp/%' ORDER BY path")
                .map { ($0["archive"], $0["path"]) }
        }
        let bytes = readMembers(rows.map { (archive: $0.0, path: $0.1) })
        return zip(rows, bytes).compactMap { row, der in der.map { (row.1.hasPrefix("evidence/crls/") ? .crl : .ocsp, $0) } }
    }

    /// Stores an object (`ObjectStore.put`) and forgets the listing the renewals were read from.
    func put(_ name: String, from file: String) throws {
        defer {
            renewalLock.lock()
            renewalIndex = nil
            revocationCache = nil
            renewalLock.unlock()
        }
        try store.put(name, from: file)
    }

    public func renewedEvidence(forArchive name: String, fingerprint: [UInt8]) throws -> (payload: [UInt8], object: String)? {
        try renewedEvidence(forArchive: name, fingerprint: fingerprint, skippingDamaged: false)
    }

    /// With `skippingDamaged` (a renewal, which must not be blocked for good by one damaged
    /// write-once object), the newest object that decodes; else the newest, checked. Only for an
    /// archive that is this repository's own: one stored under that name with that fingerprint (an
    /// archive of another repository may have the same name).
    public func renewedEvidence(forArchive name: String, fingerprint: [UInt8], skippingDamaged: Bool) throws -> (payload: [UInt8], object: String)? {
        guard FolderObjectStore.validName(name), let local = try localFile(forArchive: name) else { return nil }
        let renewals = try renewals(ofArchive: name)
        guard !renewals.isEmpty else { return nil }
        let stored = try ArchiveFingerprint.of(local)
        guard stored == fingerprint else { return nil }
        var firstError: Error?
        for renewal in renewals.reversed() {
            do {
                return (try renewedPayload(renewal, fingerprint: fingerprint), renewal.object)
            } catch let error as SigVaultError where skippingDamaged && error.code == .integrity {
                firstError = firstError ?? error
                continue
            }
        }
        // Skipping damaged ones and none whole: the archive's own section is the newest whole evidence.
        if let firstError, !skippingDamaged { throw firstError }
        return nil
    }
}
