import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// The archive time-stamp's records, by document: the evidence section of a version 2 archive, and
/// for each data group's first member (its document) the group's number.
final class GroupRecords: @unchecked Sendable {
    let evidence: ArchiveEvidence
    private let groupOfDocument: [Digest32: Int]
    private let hashes: GroupHashes
    private let lock = NSLock()

    /// Nil for an archive without an evidence section.
    init?(reader: ArchiveReader) throws {
        guard let evidence = try reader.evidence() else { return nil }
        self.evidence = evidence
        var map: [Digest32: Int] = [:]
        let count = UInt64(reader.members.count)
        guard evidence.groups.allSatisfy({ $0.members.allSatisfy { $0 < count } }) else {
            throw SigVaultError(.integrity, "\(reader.path): the evidence section names members the archive does not have; run sigvault verify")
        }
        for (number, group) in evidence.groups.enumerated() {
            guard let first = group.members.first else { continue }
            map[Digest32(reader.members[Int(first)].pathSHA256)] = number
        }
        groupOfDocument = map
        hashes = GroupHashes(reader: reader)
        amendedNewestToken = Self.amendNewestToken(evidence)
    }

    /// The newest token with the section's material (its TSA chain, and the revocation data
    /// `--fetch-revocation` collected after its genTime), as the next renewal would add it: nothing
    /// covers that token yet, so the exported records stay intact and are complete without the
    /// archive. Only items that parse are added, only while they come to 256 KiB at most (each
    /// restored document's record carries a copy); nil leaves the token as it is.
    let amendedNewestToken: [UInt8]?

    static func amendNewestToken(_ evidence: ArchiveEvidence) -> [UInt8]? {
        let material = evidence.material
        guard material.contains(where: { $0.kind != .certificate }),
              material.reduce(0, { $0 + $1.der.count }) <= 256 << 10,
              let token = evidence.template.archiveTimeStampSequence.last?.archiveTimeStamps.last?.timeStamp else { return nil }
        let certificates = material.filter { $0.kind == .certificate && (try? Certificate(der: $0.der)) != nil }.map(\.der)
        let crls = material.filter { $0.kind == .crl && (try? RevocationList(der: $0.der)) != nil }.map(\.der)
        let responses = material.filter { $0.kind == .ocsp && (try? OCSPResponse(der: $0.der)) != nil }.map(\.der)
        guard !crls.isEmpty || !responses.isEmpty else { return nil }
        return try? TokenAmendment.adding(certificates: certificates, crls: crls, ocspResponses: responses, to: token)
    }

    /// The member numbers (positions among the index's records) of the data group whose document is
    /// `record`'s member, in group order; nil when no group starts with it.
    func groupMembers(forDocument record: MemberRecord) -> [Int]? {
        groupOfDocument[Digest32(record.pathSHA256)].map { evidence.groups[$0].members.map { Int($0) } }
    }

    /// The DER of the EvidenceRecord of the group whose document is `record`'s member.
    func record(forDocument record: MemberRecord) throws -> [UInt8]? {
        guard let number = groupOfDocument[Digest32(record.pathSHA256)] else { return nil }
        // The restoring threads share the member-hash cache.
        lock.lock()
        defer { lock.unlock() }
        var record = try hashes.record(evidence, group: number)
        if let token = amendedNewestToken, let chain = record.archiveTimeStampSequence.indices.last,
           let stamp = record.archiveTimeStampSequence[chain].archiveTimeStamps.indices.last {
            record.archiveTimeStampSequence[chain].archiveTimeStamps[stamp].timeStamp = token
        }
        return try record.der
    }
}
