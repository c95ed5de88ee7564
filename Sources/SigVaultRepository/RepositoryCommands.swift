import Foundation
import GRDB
import Logging
import SigVault
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// One entry of a file's history (`sigvault log`).
public struct HistoryEntry: Codable, Sendable {
    public var night: String
    public var path: String
    /// `archived` (a version), or `deleted`.
    public var event: String
    @NullEncoded public var archive: String?
    @NullEncoded public var role: String?
    @NullEncoded public var sha256: String?
    @NullEncoded public var size: Int64?
    @NullEncoded public var signers: [String]?
    @NullEncoded public var provenTime: String?
    @NullEncoded public var indication: String?
    @NullEncoded public var subIndication: String?
    /// The dates the version's proof depends on (FORMAT.md §11, catalog): its signers'
    /// certificates' earliest expiry, its time-stamps' TSA certificates' earliest expiry, its
    /// signatures' earliest algorithm sunset; and its archive's newest archive time-stamp and the
    /// date to renew it before.
    @NullEncoded public var signerNotAfter: String? = nil
    @NullEncoded public var timeStampNotAfter: String? = nil
    @NullEncoded public var algorithmSunset: String? = nil
    @NullEncoded public var archiveTimeStamp: String? = nil
    @NullEncoded public var renewBefore: String? = nil
}

/// The read side of a repository: history, where a document's version is, integrity.
public struct RepositoryQueries {
    let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    /// `sigvault log [<path>]`: every version and deletion, by night then name (one path: its own).
    /// Documents only unless `path` names another file.
    public func history(of path: String?) throws -> [HistoryEntry] {
        let catalog = try Catalog(repository: repository)
        return try catalog.read { db in
            let filter = path == nil ? "f.role = 'document'" : "f.path = ?"
            let arguments: StatementArguments = path.map { [$0] } ?? []
            var entries: [HistoryEntry] = try Row.fetchAll(db, sql: """
                SELECT a.night, f.path, f.archive, f.role, f.sha256, f.size, f.signers, f.provenTime, f.indication, f.subIndication,
                       f.signerNotAfter, f.timeStampNotAfter, f.algorithmSunset, a.archiveTimeStamp, a.renewBefore
                FROM file f JOIN archive a ON a.name = f.archive WHERE \(filter)
                """, arguments: arguments).map { row in
                let signers: String? = row["signers"]
                var entry = HistoryEntry(night: row["night"], path: row["path"], event: "archived", archive: row["archive"], role: row["role"],
                                         sha256: row["sha256"], size: row["size"],
                                         signers: signers.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) },
                                         provenTime: row["provenTime"], indication: row["indication"], subIndication: row["subIndication"])
                (entry.signerNotAfter, entry.timeStampNotAfter, entry.algorithmSunset) = (row["signerNotAfter"], row["timeStampNotAfter"], row["algorithmSunset"])
                (entry.archiveTimeStamp, entry.renewBefore) = (row["archiveTimeStamp"], row["renewBefore"])
                return entry
            }
            // Without a path, the deletions of documents only (as the versions listed).
            let deletions = try Row.fetchAll(db, sql: "SELECT night, path, archive FROM deletion d" + (path == nil
                ? " WHERE EXISTS (SELECT 1 FROM file f WHERE f.path = d.path AND f.role = 'document')" : " WHERE path = ?"),
                                             arguments: arguments)
            entries += deletions.map { HistoryEntry(night: $0["night"], path: $0["path"], event: "deleted", archive: $0["archive"]) }
            return entries.sorted { ($0.night, $0.path, $0.event) < ($1.night, $1.path, $1.event) }
        }
    }

    /// Which archive holds each document's version as of `time` (the latest version at or before it,
    /// unless a later deletion at or before it removed the document). Unknown or deleted names are
    /// returned apart.
    public func locate(_ documents: [String], asOf time: Date?) throws -> (found: [String: [String]], missing: [String]) {
        let limit = ISOTime.format(time ?? Date.distantFuture.addingTimeInterval(-1))
        let catalog = try Catalog(repository: repository)
        return try catalog.read { db in
            var found: [String: [String]] = [:]
            var missing: [String] = []
            for document in documents {
                let version = try Row.fetchOne(db, sql: """
                    SELECT f.archive, a.seq FROM file f JOIN archive a ON a.name = f.archive
                    WHERE f.path = ? AND f.role = 'document' AND a.night <= ? ORDER BY a.seq DESC, a.name DESC LIMIT 1
                    """, arguments: [document, limit])
                guard let version else { missing.append(document); continue }
                let sequence: Int = version["seq"]
                // Seen gone in a run after the one that archived this version (at or after its seq).
                let deletedAfter = try Bool.fetchOne(db, sql: "SELECT COUNT(*) > 0 FROM deletion WHERE path = ? AND seq >= ? AND night <= ?",
                                                     arguments: [document, sequence, limit]) ?? false
                if deletedAfter { missing.append(document); continue }
                found[version["archive"], default: []].append(document)
            }
            return (found, missing)
        }
    }

    /// The local file of a stored archive.
    public func archivePath(_ name: String) throws -> String { try repository.store.localFile(name) }

    /// `sigvault check`: the catalog against the store (every stored archive indexed, every indexed
    /// one stored, the fingerprints equal), each archive's structure (trailer, index, manifest),
    /// and with `readData` every byte of every archive (`verify --integrity-only`), or of a seeded
    /// `subsetPercent` of them. A mismatch is read again once before it is reported.
    public func check(readData: Bool, subsetPercent: Double?, at: Date = Date(), logger: Logger) throws -> CheckSummary {
        let catalog = try Catalog(repository: repository)
        var summary = CheckSummary()
        let stored = try repository.store.list().filter { $0.name.hasSuffix(".svz") }
        let indexed: [String: String] = try catalog.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT name, fingerprint FROM archive").map { ($0["name"], $0["fingerprint"]) })
        }
        summary.archives = stored.count
        for name in indexed.keys.sorted() where !stored.contains(where: { $0.name == name }) {
            summary.problems.append("\(name): in the catalog but not in the repository's archives")
        }
        var chosen = Set(stored.map(\.name))
        if let subsetPercent, subsetPercent < 100 {
            var generator = SeededGenerator(seed: UInt64(Date().timeIntervalSince1970) / 86_400)
            let count = max(1, Int((Double(stored.count) * subsetPercent / 100).rounded(.up)))
            chosen = Set(stored.map(\.name).shuffled(using: &generator).prefix(count))
        }
        for object in stored {
            let path = try repository.store.localFile(object.name)
            // Stored but not yet in the catalog: what a backup stopped between storing its archive
            // and recording it leaves (the next backup indexes it). Said, and checked like the rest.
            let fingerprint = indexed[object.name]
            if fingerprint == nil { summary.notes.append("\(object.name): stored but not in the catalog yet (the next backup indexes it)") }
            func structure() -> String? {
                do {
                    // One checked pass over the manifest: the reference check's (it throws on any
                    // manifest problem, and when the manifest is not the trailer's).
                    let lister = try Lister(archive: path, checkFirst: false)
                    if let fingerprint, lister.fingerprint != fingerprint { return "its fingerprint \(lister.fingerprint) is not the catalog's \(fingerprint)" }
                    // Every renewed evidence object, bound to it and whole (FORMAT.md §11), the
                    // newest damaged one named: a damaged one is damage in the store even when superseded.
                    if let digest = Hex.decode(lister.fingerprint),
                       let damaged = try repository.damagedRenewals(ofArchive: object.name, fingerprint: digest).last { return damaged }
                    // Its reference members: the content they name is in the repository.
                    let references = try lister.referenceProblems(in: repository)
                    guard let first = references.problems.first else { return nil }
                    return first + (references.problems.count > 1 ? " (and \(references.problems.count - 1) more)" : "")
                } catch let error as SigVaultError { return error.message } catch { return "\(error)" }
            }
            // Read again once before a mismatch is reported (a transient read error is not damage).
            if let problem = structure(), let again = structure() {
                summary.problems.append("\(object.name): \(again == problem ? problem : again)")
                continue
            }
            guard readData, chosen.contains(object.name) else { continue }
            summary.dataChecked += 1
            // Every byte, every evidence record and every signature, with the repository's material,
            // at `at`: integrity problems, and verdicts worse than the catalog recorded at backup.
            func verify() throws -> VerifyReport {
                var options = VerifyOptions(archive: path)
                let defaults = repository.config.defaults
                options.trust = (defaults.trust ?? []).map(repository.resolve)
                options.certificates = (defaults.certs ?? []).map(repository.resolve)
                options.revocationLists = (defaults.crls ?? []).map(repository.resolve)
                options.ocspResponses = (defaults.ocsp ?? []).map(repository.resolve)
                options.at = at
                options.repository = repository
                return try Verifier(options: options, logger: logger).run()
            }
            var report = try verify()
            if !report.integrity.problems.isEmpty { report = try verify() }  // read again once before reporting
            for problem in report.integrity.problems {
                summary.problems.append("\(object.name): \(problem.member.map { "\($0): " } ?? "")\(problem.message) [\(problem.code.rawValue)]")
            }
            let recorded: [String: String] = try catalog.read { db in
                var out: [String: String] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT path, indication FROM file WHERE archive = ? AND role = 'document' AND indication IS NOT NULL",
                                            arguments: [object.name]) { out[row["path"]] = row["indication"] }
                return out
            }
            report.forEachDocument { document in
                guard document.signed, let now = document.indication.flatMap(Indication.init(rawValue:)) else { return }
                let then = recorded[document.path].flatMap(Indication.init(rawValue:))
                let verdict = [document.indication, document.subIndication].compactMap { $0 }.joined(separator: "/")
                if let then, now > then {
                    summary.problems.append("\(object.name): \(document.path): \(then.rawValue) at backup, \(verdict) now: \(document.reason ?? "")")
                } else if now != .totalPassed {
                    summary.notes.append("\(object.name): \(document.path): \(verdict), as already at backup")
                }
            }
        }
        summary.exitCode = summary.problems.isEmpty ? 0 : ExitCode.integrityOrFailed.rawValue
        return summary
    }

    /// `sigvault repo rebuild-catalog`: the catalog made again from the archives.
    public func rebuildCatalog() throws -> (indexed: [String], warnings: [String]) {
        let lock = try repository.lock(command: "repo rebuild-catalog")
        defer { lock.release() }
        return try Catalog.rebuild(repository)
    }
}

public struct CheckSummary: Codable, Sendable {
    public var schemaVersion = 1
    public var archives = 0
    /// Archives whose every byte was read (`--read-data`, `--read-data-subset`).
    public var dataChecked = 0
    public var problems: [String] = []
    /// What is not a problem but worth knowing (an archive the next backup will index).
    public var notes: [String] = []
    public var exitCode: Int32 = 0
}

/// A small deterministic generator (splitmix64) for `--read-data-subset`'s choice of the day.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
