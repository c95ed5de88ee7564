import EvidenceRecords
import ArchiveIO
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

// Verify's third phase, for version 2 archives: the evidence section against the archive (trees,
// groups, imprints) and its archive time-stamp.

/// What the archive time-stamp of a version 2 archive proves.
struct ArchiveTimeStampResult {
    let verdict: Verdict
    let genTime: Date?
    let tsa: String?
    var renewBefore: Date? = nil
    /// Each archive time-stamp's validation, chain by chain in order (export names their TSA chains).
    var validations: [TimeStampValidation?] = []
}

extension Verifier {
    /// The evidence phase: nothing for a version 1 archive, or one whose members could not be
    /// found through the index or whose manifest is not intact (those problems are reported
    /// already). With `context` nil (--integrity-only) the section's bytes, trees and imprints only;
    /// with it, also the archive time-stamp's verdict. A section that cannot be used is a problem,
    /// a read or scratch error stops the run.
    func checkEvidence(reader: ArchiveReader, scan: Scan, manifest: ManifestCheck, context: ValidationContext?,
                       problem: Problems.Sink) throws -> ArchiveTimeStampResult? {
        guard reader.layoutProblem == nil, scan.indexUsable, manifest.fingerprint != nil else { return nil }
        do {
            // Given the repository, the archive's newest renewed evidence (FORMAT.md §11) is the
            // one judged; the archive's own section must still be whole.
            if try reader.renewedEvidenceObject() != nil {
                do { _ = try reader.ownEvidence() } catch let error as SigVaultError where !error.stopsTheRun {
                    problem(.evidence, nil, "the archive's own evidence section cannot be used: \(error.message)")
                }
            }
            guard let evidence = try reader.evidence() else { return nil }
            guard let context else {
                try checkEvidenceBytes(evidence, reader: reader, entries: scan.entries, listed: manifest.listed, problem: problem)
                return nil
            }
            return try evaluate(evidence, reader: reader, entries: scan.entries, listed: manifest.listed, context: context, problem: problem)
        } catch let error as SigVaultError where error.stopsTheRun {
            throw error
        } catch {
            problem(.evidence, nil, "the evidence section cannot be used: \((error as? SigVaultError)?.message ?? "\(error)")")
            return nil
        }
    }

    /// Checks the evidence section against the archive: every group's leaf from its members'
    /// verified contents, the tree from those leaves, every document in some group; then evaluates
    /// the archive time-stamp with the first group's record (RFC 4998 §5.3; its tokens as
    /// time-stamps, valid until the next one, the last until the validation time).
    /// --integrity-only: the evidence section's trees against the archive, and each archive
    /// time-stamp's imprint against what it must cover.
    func checkEvidenceBytes(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                            problem: Problems.Sink) throws {
        let trees = try checkTrees(evidence, reader: reader, entries: entries, listed: listed, problem: problem)
        guard let trees, trees.consistent else { return }
        let record = try trees.hashes.record(evidence, group: 0)
        let coverage = try RecordVerifier.coverage(record) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            return algorithm == .sha256 ? trees.firstGroupHashes : try evidence.groups[0].members.map { try trees.hashes.memberHash($0, algorithm) }
        }
        for (chain, outcomes) in coverage.enumerated() {
            for (stamp, outcome) in outcomes.enumerated() {
                switch outcome {
                case .covered: break
                case .digestUnavailable(let algorithm):
                    problem(.evidence, nil, "chain \(chain + 1), time-stamp \(stamp + 1): its hash algorithm \(algorithm) is not one SigVault can compute")
                case .notCovered(let reason):
                    problem(.evidence, nil, "chain \(chain + 1), time-stamp \(stamp + 1): \(reason)")
                }
            }
        }
    }

    struct TreeCheck {
        var consistent: Bool
        var firstGroupHashes: [[UInt8]]
        var hashes: GroupHashes
    }

    /// The hash trees of the evidence section against the archive's members (nil: the section
    /// names members the archive does not have, reported).
    func checkTrees(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                    problem: Problems.Sink) throws -> TreeCheck? {
        let sha256: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        let memberCount = UInt64(reader.members.count)
        var covered = Set<UInt64>()
        var leaves: [[UInt8]] = []
        var firstGroupHashes: [[UInt8]] = []
        var consistent = true
        for (number, group) in evidence.groups.enumerated() {
            guard group.members.allSatisfy({ $0 < memberCount }) else {
                problem(.evidence, nil, "data group \(number + 1) names a member the archive does not have")
                return nil
            }
            let hashes = try group.members.map { try reader.contentSHA256(ofMember: Int($0)) }
            if number == 0 { firstGroupHashes = hashes }
            let leaf = HashTree.groupHash(hashes, hash: sha256)
            leaves.append(leaf)
            covered.formUnion(group.members)
            if evidence.trees.first?.levels.first?[number] != leaf {
                consistent = false
                let name = entries[safe: Int(group.members[0])].map { ArchivePath.escaped($0.path.bytes) }
                problem(.evidence, name, "the archive time-stamp's hash tree does not hold the data group of \(name ?? "group \(number + 1)") as it is archived")
            }
        }
        if consistent, let tree = evidence.trees.first, HashTree.Levels(leaves: leaves, hash: sha256) != tree {
            consistent = false
            problem(.evidence, nil, "the archive time-stamp's hash tree does not lead from its leaves to its root")
        }
        // The manifest must be a data group of its own: it lists every member's digest, so it is
        // what extends the archive time-stamp's proof to every member.
        let manifestIndex = memberCount - 1
        if !evidence.groups.contains(where: { $0.members == [manifestIndex] }) {
            consistent = false
            problem(.evidence, ArchiveLayout.manifestName, "the manifest is not a data group of the archive time-stamp")
        }
        let documents = Set(listed.lazy.filter { $0.role == .document }.map(\.path))
        for (index, entry) in entries.enumerated() where documents.contains(entry.path) && !covered.contains(UInt64(index)) {
            problem(.evidence, entry.path.description, "document \(entry.path) is in no data group of the archive time-stamp")
        }
        // Later chains (hash-tree renewals): every group's leaf recomputed with the chain's algorithm
        // from the members' content (read again) and the group's earlier chains.
        let hashes = GroupHashes(reader: reader)
        for chain in evidence.trees.indices.dropFirst() where consistent {
            guard let identifier = evidence.template.archiveTimeStampSequence[chain].archiveTimeStamps.first?.digestAlgorithm,
                  let algorithm = HashAlgorithm(openSSLName: identifier.oid) else {
                problem(.evidence, nil, "chain \(chain + 1) of the archive time-stamp names no hash algorithm SigVault knows")
                consistent = false
                break
            }
            let chainLeaves = try evidence.groups.indices.map { try hashes.leaf(evidence, group: $0, chain: chain, algorithm: algorithm) }
            if HashTree.Levels(leaves: chainLeaves, hash: { Hasher.digest($0, algorithm) }) != evidence.trees[chain] {
                consistent = false
                problem(.evidence, nil, "the hash tree of chain \(chain + 1) (\(algorithm.rawValue)) does not match the archive's data")
            }
        }
        return TreeCheck(consistent: consistent, firstGroupHashes: firstGroupHashes, hashes: hashes)
    }

    func evaluate(_ evidence: ArchiveEvidence, reader: ArchiveReader, entries: [ScannedEntry], listed: [ListedMember],
                  context: ValidationContext, problem: Problems.Sink) throws -> ArchiveTimeStampResult {
        guard let trees = try checkTrees(evidence, reader: reader, entries: entries, listed: listed, problem: problem) else {
            return ArchiveTimeStampResult(verdict: Verdict(.totalFailed, .formatFailure, "the evidence section names members the archive does not have"),
                                          genTime: nil, tsa: nil)
        }
        let (consistent, firstGroupHashes, hashes) = (trees.consistent, trees.firstGroupHashes, trees.hashes)
        let pool = EvidencePool()
        pool.add(contentsOf: context.outside)
        for item in evidence.material { _ = try? pool.add(item.der, as: item.kind.materialKind) }
        let record = try hashes.record(evidence, group: 0)
        let policy = ValidationPolicy(anchors: context.anchors, now: options.at, maximumRevocationAge: options.maximumRevocationAge)
        let evaluation = try RecordVerifier.evaluate(record, pool: pool, policy: policy, revocationSource: context.fetcher) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            return algorithm == .sha256 ? firstGroupHashes : try evidence.groups[0].members.map { try hashes.memberHash($0, algorithm) }
        }
        var verdict = evaluation.verdict
        if !consistent { verdict = verdict.worse(Verdict(.totalFailed, .hashFailure, "the hash tree does not match the archive")) }
        if verdict.indication == .totalFailed, consistent {
            problem(.evidence, nil, "the archive time-stamp does not hold: \(verdict.reason)")
        }
        return ArchiveTimeStampResult(verdict: verdict, genTime: evaluation.firstGenTime, tsa: evaluation.tsa, renewBefore: evaluation.renewBefore,
                                      validations: evaluation.validations)
    }

    /// The report's statement about the archive's time.
    static func proofOfTime(_ result: ArchiveTimeStampResult?, damaged: Bool) -> VerifyReport.ProofOfTime {
        guard let result, let genTime = result.genTime else {
            return .init(archiveTimeStamp: nil, statement: damaged
                ? "the archive is damaged, and it carries no archive time-stamp: nothing in it proves when it was made"
                : "the archive is self-consistent but carries no archive time-stamp: nothing in it proves when it was made")
        }
        let time = ISOTime.format(genTime)
        let by = result.tsa.map { " by \($0)" } ?? ""
        var proof = VerifyReport.ProofOfTime(archiveTimeStamp: time, statement: "")
        proof.indication = result.verdict.indication.rawValue
        proof.subIndication = result.verdict.subIndication?.rawValue
        proof.renewBefore = result.renewBefore.map(ISOTime.format)
        switch result.verdict.indication {
        case .totalPassed:
            proof.statement = "the archive's content existed at \(time): proven by its archive time-stamp\(by)"
                + (result.renewBefore.map { ", which holds until \(ISOTime.format($0)) unless renewed before" } ?? "")
        case .indeterminate:
            proof.statement = "the archive carries an archive time-stamp at \(time)\(by), which proves nothing yet: \(result.verdict.reason)"
        case .totalFailed:
            proof.statement = "the archive's time-stamp at \(time)\(by) does not hold: \(result.verdict.reason)"
        }
        return proof
    }
}
