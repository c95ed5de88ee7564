import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// The data groups' leaves in a chain of an archive's evidence section (FORMAT.md §10): for the
/// first chain (SHA-256), the hash of each group's members' content SHA-256s; for a later chain
/// (hash-tree renewal, RFC 4998 §5.2), with that chain's algorithm H, each member's content hashed
/// with H, combined with the hash `ha` of the group's record's chains before it as `H(h ‖ ha)`,
/// then grouped. Member contents are read from the archive, or for a reference member from its
/// repository (each at most once per algorithm), and checked against their records while read.
final class GroupHashes {
    let reader: ArchiveReader
    private var cache: [HashAlgorithm: [UInt64: [UInt8]]] = [:]

    init(reader: ArchiveReader) { self.reader = reader }

    /// The hash of member `index`'s content with `algorithm`.
    func memberHash(_ index: UInt64, _ algorithm: HashAlgorithm) throws -> [UInt8] {
        guard index < UInt64(reader.members.count) else {
            throw SigVaultError(.integrity, "\(reader.path): the evidence section names member \(index + 1), which the archive does not have")
        }
        // A reference member's leaf is its content's, read from the repository (FORMAT.md §4.3).
        if algorithm == .sha256 { return try reader.contentSHA256(ofMember: Int(index)) }
        if let known = cache[algorithm]?[index] { return known }
        let hasher = Hasher(algorithm)
        _ = try reader.location(ofMember: Int(index)).extract { hasher.update($0) }
        let value = hasher.finalize()
        cache[algorithm, default: [:]][index] = value
        return value
    }

    /// The hash algorithm of chain `chain` of the section.
    static func algorithm(_ evidence: ArchiveEvidence, chain: Int) throws -> HashAlgorithm {
        guard chain < evidence.template.archiveTimeStampSequence.count,
              let identifier = evidence.template.archiveTimeStampSequence[chain].archiveTimeStamps.first?.digestAlgorithm,
              let algorithm = HashAlgorithm(openSSLName: identifier.oid) else {
            throw SigVaultError(.integrity, "chain \(chain + 1) of the archive time-stamp names no hash algorithm SigVault knows")
        }
        return algorithm
    }

    /// The object hashes of group `number` as chain `chain` covers them, `record` holding the
    /// group's record with its earlier chains complete (for chain > 0 each hash is combined with
    /// the hash of those chains).
    func objectHashes(_ evidence: ArchiveEvidence, group number: Int, chain: Int, record: EvidenceRecord, algorithm: HashAlgorithm) throws -> [[UInt8]] {
        let hashes = try evidence.groups[number].members.map { try memberHash($0, algorithm) }
        guard chain > 0 else { return hashes }
        let digest: ([UInt8]) -> [UInt8] = { Hasher.digest($0, algorithm) }
        let chainsHash = digest(try record.sequenceDER(chains: chain))
        return hashes.map { HashTree.renewedLeaf($0, previousChains: chainsHash, form: .unsorted, hash: digest) }
    }

    /// Group `number`'s own EvidenceRecord.
    func record(_ evidence: ArchiveEvidence, group number: Int) throws -> EvidenceRecord {
        try evidence.record(forGroup: number) { chain, record in
            try objectHashes(evidence, group: number, chain: chain, record: record, algorithm: try Self.algorithm(evidence, chain: chain))
        }
    }

    /// Group `number`'s leaf in chain `chain` (which may be one about to be added: its algorithm
    /// is then `algorithm`, and the group's record is built from the chains before it).
    func leaf(_ evidence: ArchiveEvidence, group number: Int, chain: Int, algorithm: HashAlgorithm) throws -> [UInt8] {
        let record = chain == 0 ? evidence.template : try self.record(evidence, group: number)
        let objects = try objectHashes(evidence, group: number, chain: chain, record: record, algorithm: algorithm)
        return HashTree.groupHash(objects) { Hasher.digest($0, algorithm) }
    }
}
