import EvidenceRecords
import Foundation
import OpenSSLBridge
import SwiftASN1
import Testing

/// RFC 4998 records made by others (the BSI ERS test tool's data, as Bouncy Castle uses it): they
/// parse, re-encode byte for byte, and every archive time-stamp covers what it must.
@Suite struct EvidenceRecordTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let record: String
        let data: String
        let chains: [Int]
        /// The form each stamp matched, chain by chain.
        let forms: [[[String]]]
        var testDescription: String { record }
    }

    static let bsi = "bc-test-data/ers-bsi-testtool/"
    static let cases = [
        Case(record: bsi + "1Chain1ATS/BIN_ER.ers", data: bsi + "1Chain1ATS/BIN.bin", chains: [1], forms: [[["initial"]]]),
        Case(record: bsi + "1Chain2ATS/BIN_ER.ers", data: bsi + "1Chain2ATS/BIN.bin", chains: [2],
             forms: [[["initial"], ["time-stamp renewal"]]]),
        // Bouncy Castle's hash-tree renewal carries single-value lists up unhashed.
        Case(record: bsi + "1Chain2ATS/testRenewal.ers", data: bsi + "1Chain2ATS/BIN.bin", chains: [2, 1],
             forms: [[["initial"], ["time-stamp renewal"]], [["hash-tree renewal, unsorted concatenation", "single-value lists carried up"]]]),
        Case(record: bsi + "2Chains3ATS/BIN_ER.ers", data: bsi + "2Chains3ATS/BIN.bin", chains: [2, 1],
             forms: [[["initial"], ["time-stamp renewal"]], [["hash-tree renewal, unsorted concatenation"]]]),
    ]

    static func digest(_ algorithm: DigestAlgorithmIdentifier, _ bytes: [UInt8]) -> [UInt8]? {
        guard let known = HashAlgorithm(openSSLName: algorithm.oid) else { return nil }
        let hasher = Hasher(known)
        hasher.update(bytes)
        return hasher.finalize()
    }

    static func facts(_ record: EvidenceRecord) -> (Int, Int) -> RecordCoverage.StampFacts? {
        { chain, stamp in
            let archiveTimeStamp = record.archiveTimeStampSequence[chain].archiveTimeStamps[stamp]
            guard let token = try? TimeStampToken(responseOrToken: archiveTimeStamp.timeStamp) else { return nil }
            let algorithm = archiveTimeStamp.digestAlgorithm
                ?? DigestAlgorithmIdentifier(algorithm: (try? ASN1ObjectIdentifier(dotRepresentation: token.imprintAlgorithmName)) ?? .init(arrayLiteral: 0))
            return RecordCoverage.StampFacts(algorithm: algorithm, imprint: token.imprint)
        }
    }

    @Test(.enabled(if: ExternalCorpus.isPresent), arguments: cases)
    func bsiRecordsParseRoundTripAndCoverTheirData(_ testCase: Case) throws {
        let der = try ExternalCorpus.read(testCase.record)
        let record = try EvidenceRecord(der: der)
        #expect(try record.der == der, "DER round trip")
        #expect(record.archiveTimeStampSequence.map(\.archiveTimeStamps.count) == testCase.chains)
        let data = try ExternalCorpus.read(testCase.data)
        let outcomes = RecordCoverage.check(record, facts: Self.facts(record),
                                            dataHashes: { algorithm in Self.digest(algorithm, data).map { [$0] } },
                                            hash: Self.digest)
        #expect(outcomes == testCase.forms.map { $0.map { RecordCoverage.Outcome.covered(forms: $0) } })
        // Other data is not covered by the first time-stamp.
        let other = RecordCoverage.check(record, facts: Self.facts(record),
                                         dataHashes: { algorithm in Self.digest(algorithm, data + [0]).map { [$0] } },
                                         hash: Self.digest)
        #expect(other.first?.first == .notCovered(reason: "the hash of the data is not in its reduced hash tree"))
        // Only a digest in another algorithm: nothing can be said about the data.
        let unavailable = RecordCoverage.check(record, facts: Self.facts(record), dataHashes: { _ in nil }, hash: Self.digest)
        if case .digestUnavailable? = unavailable.first?.first {} else { Issue.record("expected digestUnavailable: \(String(describing: unavailable.first?.first))") }
    }

    /// Trees we build reduce back to their root from every leaf, under the conventions we verify.
    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 33])
    func builtTreesReduceToTheirRoot(_ count: Int) {
        let hash: ([UInt8]) -> [UInt8] = { bytes in
            let hasher = Hasher(.sha256)
            hasher.update(bytes)
            return hasher.finalize()
        }
        let leaves = (0..<count).map { hash([UInt8($0)]) }
        let (root, reduced) = HashTree.build(leaves: leaves, hash: hash)
        for (index, leaf) in leaves.enumerated() {
            let covering = HashTree.coveringRoot(of: [leaf], reducedHashtree: reduced[index], singleValueLists: .hashed, hash: hash)
            #expect(covering?.root == root, "leaf \(index) of \(count)")
            #expect(reduced[index].allSatisfy { !$0.isEmpty } && (reduced[index].first.map { $0.count > 1 } ?? true), "no single-value list")
        }
        #expect(HashTree.coveringRoot(of: [hash([0xFF])], reducedHashtree: reduced[0], singleValueLists: .hashed, hash: hash) == nil || count == 1)
    }
}
