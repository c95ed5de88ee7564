import Foundation
import GRDB
import Logging
import SigVault
import SigVaultFormat

/// What `sigvault renew --repo` did (docs/CLI.md, "renew --repo"): its JSON summary.
public struct RepositoryRenewSummary: Codable, Sendable {
    public var schemaVersion = 1
    /// Archives with an archive time-stamp that were looked at.
    public var archives = 0
    /// Per archive renewed: the new evidence object, genTime and the date to renew before next.
    public struct Renewed: Codable, Sendable {
        public var archive: String
        public var object: String
        public var genTime: String
        @NullEncoded public var renewBefore: String?
        public var hashTreeRenewal: Bool
    }
    public var renewed: [Renewed] = []
    /// Archives not due (with the date their protection lasts until).
    public var notDue: [String] = []
    /// Archives that could not be renewed, each with the reason.
    public var failed: [String] = []
    /// Time-stamp requests made (one for all archives renewed with the same hash algorithm).
    public var requests = 0
    public var warnings: [String] = []
    public var exitCode: Int32 = 0
}

/// `sigvault renew --repo`: every archive of the repository whose archive time-stamp is due,
/// renewed with one TSA request (`RenewalBatch`), each archive's renewed evidence stored as a new
/// write-once object `<archive>.evidence-<n>` beside it (docs/FORMAT.md §11), then the catalog
/// updated. Under the repository's lock; killed at any moment, the repository keeps each archive's
/// evidence as it was or as renewed (a stored object is whole: written in tmp/, fsynced, linked).
public struct RepositoryRenewal {
    let repository: Repository
    let options: RenewOptions
    let lockWait: TimeInterval?
    let logger: Logger

    public init(repository: Repository, options: RenewOptions, lockWait: TimeInterval?, logger: Logger) {
        self.repository = repository
        self.options = options
        self.lockWait = lockWait
        self.logger = logger
    }

    public func run() throws -> RepositoryRenewSummary {
        let lock = try repository.lock(wait: lockWait, command: "renew")
        defer { lock.release() }
        var summary = RepositoryRenewSummary()
        summary.warnings += repository.removeStaleTemporaries()
        let catalog = try Catalog(repository: repository)
        let missing = try catalog.indexMissing(repository)
        summary.warnings += missing.warnings
        // Archives with an archive time-stamp (format version 2), oldest first.
        let names: [String] = try catalog.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM archive WHERE formatVersion = 2 ORDER BY seq")
        }
        summary.archives = names.count
        let paths = try names.map { try repository.store.localFile($0) }
        let items = try RenewalBatch(options: options, locator: repository, logger: logger).run(archives: paths)
        var exit: ExitCode = .ok
        var requests = Set<Int>()
        for (name, item) in zip(names, items) {
            summary.warnings += item.summary.warnings
            exit = exit.combined(with: item.summary.exitCode)
            if let error = item.error {
                summary.failed.append("\(name): \(error.message)")
                continue
            }
            if let notDue = item.summary.notDue { summary.notDue.append("\(name): \(notDue)"); continue }
            guard let payload = item.payload, let genTime = item.summary.genTime else { continue }
            if let request = item.request { requests.insert(request) }
            let number = (try repository.renewals(ofArchive: name).last?.number ?? 0) + 1
            let object = RenewedEvidence.objectName(archive: name, number: number)
            let temporary = repository.temporaryFolder + "/" + object
            try DurableFile.write(RenewedEvidence.encode(payload: payload, fingerprint: item.fingerprint, number: number),
                                  to: temporary, overwrite: false)
            CrashPoints.reach("renew.written")
            try repository.put(object, from: temporary)
            CrashPoints.reach("renew.stored")
            try catalog.write { db in
                try Catalog.recordRenewal(db, object: object, archive: name, number: number, genTime: genTime, renewBefore: item.summary.renewBefore)
            }
            CrashPoints.reach("renew.catalog")
            summary.renewed.append(.init(archive: name, object: object, genTime: ISOTime.format(genTime),
                                         renewBefore: item.summary.renewBefore.map(ISOTime.format), hashTreeRenewal: item.summary.hashTreeRenewal))
            logger.info("renewed", metadata: ["archive": "\(name)", "object": "\(object)"])
        }
        summary.requests = requests.count
        summary.exitCode = exit.rawValue
        return summary
    }
}
