import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat

/// The data groups' leaves in a chain of an archive's evidence section (FORMAT.md §10): for the
/// first chain (SHA-256), the hash of each group's members' content SHA-256s; for a later chain
/// (hash-tree renewal, RFC 4998 §5.2), with that chain's algorithm H, each member's content hashed
/// with H, combined with the hash `ha` of the group's record's chains before it as `H(h ‖ ha)`,
/// then grouped. Member contents are read from the archive (each at most once per algorithm) and
/// checked against their index records while read.
final class GroupHashes {
    let reader: ArchiveReader
    private var cache: [HashAlgorithm: [UInt64: [UInt8]]] = [:]

    init(reader: ArchiveReader) { self.reader = reader }

    /// The hash of member `index`'s content with `algorithm`.
    func memberHash(_ index: UInt64, _ algorithm: HashAlgorithm) throws -> [UInt8] {
        let record = reader.members[Int(index)]
        if algorithm == .sha256 { return record.contentSHA256 }
        if let known = cache[algorithm]?[index] { return known }
        let hasher = Hasher(algorithm)
        let extracted = try reader.extract(record) { hasher.update($0) }
        guard extracted.contentSHA256 == record.contentSHA256, UInt64(extracted.size) == record.contentSize else {
            throw SigVaultError(.integrityOrFailed, "\(reader.path): member \(index + 1) does not match its index record")
        }
        let value = hasher.finalize()
        cache[algorithm, default: [:]][index] = value
        return value
    }

    /// The objects' hashes of group `number` as chain `chain` covers them (renewed for chain > 0).
    func objectHashes(_ evidence: ArchiveEvidence, group number: Int, chain: Int, algorithm: HashAlgorithm) throws -> [[UInt8]] {
        let hashes = try evidence.groups[number].members.map { try memberHash($0, algorithm) }
        guard chain > 0 else { return hashes }
        let previous = try evidence.record(forGroup: number).sequenceDER(chains: chain)
        let digest: ([UInt8]) -> [UInt8] = { Hasher.digest($0, algorithm) }
        let chainsHash = digest(previous)
        return hashes.map { HashTree.renewedLeaf($0, previousChains: chainsHash, form: .unsorted, hash: digest) }
    }

    /// Group `number`'s leaf in chain `chain`.
    func leaf(_ evidence: ArchiveEvidence, group number: Int, chain: Int, algorithm: HashAlgorithm) throws -> [UInt8] {
        HashTree.groupHash(try objectHashes(evidence, group: number, chain: chain, algorithm: algorithm)) { Hasher.digest($0, algorithm) }
    }
}
