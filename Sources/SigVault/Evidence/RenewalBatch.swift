import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat

/// `renew --repo`: many archives renewed with one TSA request (RFC 4998 §5.2 with §4.3). Each due
/// archive is prepared as `renew` prepares one (its evidence checked, the newest token amended with
/// its TSA chain's validation material); the hashes of those amended tokens are the leaves of one
/// hash tree, whose root one authority time-stamps; each archive's new archive time-stamp carries
/// that token with its own reduced hash tree (the path from its leaf to the root), so each renewed
/// record still verifies one archive at a time. With `--hash` (hash-tree renewal) each archive's new
/// chain is over its own tree and gets its own request. Nothing is written here: the caller stores
/// each new evidence section (`payload`).
public struct RenewalBatch {
    public struct Item: Sendable {
        /// The archive's path.
        public let archive: String
        public var summary = RenewSummary()
        /// The renewed evidence section (FORMAT.md §10 payload), when a new time-stamp was added.
        public var payload: [UInt8]?
        /// The archive's fingerprint (the renewed evidence is bound to it).
        public var fingerprint: [UInt8] = []
        /// Why the archive was not renewed, when it could not be (damaged evidence, no archive
        /// time-stamp): the others are renewed all the same.
        public var error: SigVaultError?
        /// Which of the run's time-stamp requests sealed it (0, 1, …).
        public var request: Int?
    }

    let options: RenewOptions
    let locator: any ArchiveLocator
    let logger: Logger

    /// `options` as for `renew` (its `archive` is not used).
    public init(options: RenewOptions, locator: any ArchiveLocator, logger: Logger) {
        self.options = options
        self.locator = locator
        self.logger = logger
    }

    public func run(archives: [String]) throws -> [Item] {
        var items: [Item] = []
        var due: [(item: Int, renewer: Renewer, prepared: Renewer.Prepared)] = []
        for path in archives {
            // One resolver per archive: the archives it opens are closed with it.
            let resolver = ReferenceResolver(locator: locator, skipDamagedEvidence: true)
            var item = Item(archive: path)
            var archiveOptions = options
            archiveOptions.archive = path
            let renewer = Renewer(options: archiveOptions, logger: logger)
            do {
                let reader = try ArchiveReader(path: path)
                if let problem = reader.layoutProblem { throw SigVaultError(.archiveInvalid, "\(path): \(problem)") }
                reader.resolver = resolver
                item.fingerprint = reader.trailer?.manifestSHA256 ?? []
                // A damaged newest renewed evidence object is renewed past, from the newest whole one.
                let used = try reader.renewedEvidenceObject()
                if let newest = try locator.newestRenewedEvidenceObject(ofArchive: (path as NSString).lastPathComponent), used != newest {
                    item.summary.warnings.append("\(newest): damaged (sigvault check names it); renewed from \(used ?? "the archive's own evidence section"), the newest whole evidence")
                }
                switch try renewer.prepare(reader) {
                case .notDue(let summary): item.summary.notDue = summary.notDue; item.summary.renewBefore = summary.renewBefore
                case .due(var prepared):
                    prepared.summary.warnings = item.summary.warnings + prepared.summary.warnings
                    due.append((items.count, renewer, prepared))
                }
            } catch let error as SigVaultError where !error.stopsTheRun && error.code != .usage {
                item.error = error
                item.summary.exitCode = error.exitCode
            }
            items.append(item)
        }
        guard !due.isEmpty else { return items }
        guard !options.timeStampAuthorities.isEmpty else { throw SigVaultError(.usage, "renew needs --tsa") }

        // One request per hash algorithm for the time-stamp renewals; one per archive for hash-tree
        // renewals (each starts a chain over its own tree).
        var batches: [(members: [Int], algorithm: HashAlgorithm)] = []
        for (position, entry) in due.enumerated() {
            if !entry.prepared.hashTreeRenewal, let batch = batches.firstIndex(where: { batch in
                batch.algorithm == entry.prepared.newAlgorithm && !due[batch.members[0]].prepared.hashTreeRenewal
            }) {
                batches[batch].members.append(position)
            } else {
                batches.append(([position], entry.prepared.newAlgorithm))
            }
        }
        for (request, batch) in batches.enumerated() {
            let algorithm = batch.algorithm
            let leaves = batch.members.map { due[$0].prepared.imprint }
            // A single archive is time-stamped over its own hash, without a tree (as `renew` does).
            let tree = leaves.count > 1 ? HashTree.Levels(leaves: leaves) { Hasher.digest($0, algorithm) } : nil
            let anchors = due[batch.members[0]].prepared.anchors
            let outcome = TimeStamper(authorities: options.timeStampAuthorities, anchors: anchors)
                .timeStamp(imprint: tree?.root ?? leaves[0], algorithm: algorithm)
            CrashPoints.reach("renew.stamped")
            for (leaf, position) in batch.members.enumerated() {
                let (index, renewer, prepared) = due[position]
                var summary = prepared.summary
                for refusal in outcome.refusals { summary.warnings.append("\(refusal.authority): no archive time-stamp: \(refusal.reason)") }
                guard let token = outcome.token else {
                    summary.warnings.append("\(items[index].archive): not renewed: no time-stamp authority gave a usable answer; its evidence is unchanged")
                    summary.exitCode = summary.exitCode.combined(with: .findings)
                    items[index].summary = summary
                    continue
                }
                var sealed = prepared
                sealed.summary = summary
                let reduced = tree.map { $0.reduced(forLeaf: leaf, objects: [leaves[leaf]]) }
                let (payload, done) = try renewer.seal(sealed, token: token, authority: outcome.authority, reducedHashtree: reduced)
                items[index].payload = payload
                items[index].summary = done
                items[index].request = request
            }
        }
        return items
    }
}
