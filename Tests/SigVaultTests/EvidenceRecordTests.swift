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
        // Every token of the BSI tool carries its TSA's OCSP response as other revocation
        // information (Bouncy Castle's 2018 renewal token carries none).
        let stamps = record.archiveTimeStampSequence.flatMap(\.archiveTimeStamps)
        for (index, stamp) in stamps.enumerated() {
            let responses = EmbeddedRevocationInfo.ocspResponses(inContentInfo: stamp.timeStamp)
            let madeByBouncyCastle = testCase.record.hasSuffix("testRenewal.ers") && index == stamps.count - 1
            #expect(responses.count == (madeByBouncyCastle ? 0 : 1), "time-stamp \(index + 1)")
            #expect(responses.allSatisfy { (try? OCSPResponse(der: $0)) != nil })
        }
        // Other data is not covered by the first time-stamp.
        let other = RecordCoverage.check(record, facts: Self.facts(record),
                                         dataHashes: { algorithm in Self.digest(algorithm, data + [0]).map { [$0] } },
                                         hash: Self.digest)
        #expect(other.first?.first == .notCovered(reason: "the hash of the data is not in its reduced hash tree"))
        // Only a digest in another algorithm: nothing can be said about the data.
        let unavailable = RecordCoverage.check(record, facts: Self.facts(record), dataHashes: { _ in nil }, hash: Self.digest)
        if case .digestUnavailable? = unavailable.first?.first {} else { Issue.record("expected digestUnavailable: \(String(describing: unavailable.first?.first))") }
    }

    /// Equal leaves (empty or copied files) give equal siblings at every level: the value computed
    /// from below is still added to each list, and the root comes out right.
    @Test func equalLeavesReduceToTheirRoot() {
        let hash: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        for count in [2, 4, 5, 8] {
            let leaves = Array(repeating: hash([]), count: count)
            let tree = HashTree.Levels(leaves: leaves, hash: hash)
            for index in leaves.indices {
                let covering = HashTree.coveringRoot(of: [leaves[index]], reducedHashtree: tree.reduced(forLeaf: index), singleValueLists: .hashed, hash: hash)
                #expect(covering?.root == tree.root, "leaf \(index) of \(count)")
            }
        }
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
        // No single-value list: both conventions agree; the levels read back only if they form a tree.
        let tree = HashTree.Levels(leaves: leaves, hash: hash)
        for index in leaves.indices {
            #expect(HashTree.coveringRoot(of: [leaves[index]], reducedHashtree: tree.reduced(forLeaf: index), singleValueLists: .carriedUp, hash: hash)?.root == root)
        }
        #expect(HashTree.Levels(stored: tree.levels) == tree)
        if count > 2 { #expect(HashTree.Levels(stored: [leaves, [root]]) == nil) }
    }

    // MARK: sigvault ers verify

    /// The BSI records' TSA root, taken from the tokens (self-signed), as a trust anchor file.
    static func bsiAnchor(in directory: String) throws -> String {
        let record = try EvidenceRecord(der: ExternalCorpus.read(bsi + "1Chain1ATS/BIN_ER.ers"))
        let token = try TimeStampToken(responseOrToken: record.archiveTimeStampSequence[0].archiveTimeStamps[0].timeStamp)
        let root = try #require(token.certificates.first { $0.subject == $0.issuer })
        let path = directory + "/bsi-root.der"
        try Data(root.der).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func ersVerify(_ arguments: [String]) throws -> (Harness.Result, [String: Any]) {
        let result = try Harness.sigvault(["ers", "verify"] + arguments + ["--json"])
        return (result, (try? Harness.json(result.stdout)) ?? [:])
    }

    @Test(.enabled(if: ExternalCorpus.isPresent), arguments: cases)
    func ersVerifyChecksCoverageAndTokens(_ testCase: Case) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let anchor = try Self.bsiAnchor(in: directory)
        let record = ExternalCorpus.path(testCase.record)
        let data = ExternalCorpus.path(testCase.data)
        // While the TSA certificate was valid (it expired in 2021): the tokens verify and chain to the
        // anchor; the OCSP responses the tokens carry decide. They have no nextUpdate, so by ETSI EN
        // 319 102-1 §5.2.5 they are fresh only for times at or before their own thisUpdate: on
        // 2017-03-16 nothing shows the TSA sound (TRY_LATER), unless a maximum age is given
        // (--max-revocation-age 60d), which makes each response speak for the next 60 days.
        let madeLater = testCase.record.hasSuffix("testRenewal.ers")
        let (strict, strictJSON) = try Self.ersVerify([record, "--data", data, "--trust", anchor, "--at", "2017-03-16T00:00:00Z"])
        let strictVerdict = [strictJSON["indication"] as? String, strictJSON["subIndication"] as? String].compactMap { $0 }.joined(separator: "/")
        #expect(strictVerdict == (madeLater ? "INDETERMINATE/NOT_YET_VALID" : "INDETERMINATE/TRY_LATER"), "\(strictJSON)")
        #expect(strict.exitCode == 2)
        let (result, json) = try Self.ersVerify([record, "--data", data, "--trust", anchor, "--at", "2017-03-16T00:00:00Z",
                                                  "--max-revocation-age", "60d"])
        let stamps = json["archiveTimeStamps"] as? [[String: Any]] ?? []
        #expect(stamps.count == testCase.chains.reduce(0, +), "\(result.stdout)\(result.stderr)")
        #expect(stamps.allSatisfy { $0["coverage"] as? String == "covered" }, "\(stamps)")
        #expect(stamps.first?["tokenValid"] as? Bool == true, "\(stamps)")
        // Bouncy Castle's renewal of 2018 is later than the validation time: it proves nothing then.
        let verdict = [json["indication"] as? String, json["subIndication"] as? String].compactMap { $0 }.joined(separator: "/")
        #expect(verdict == (madeLater ? "INDETERMINATE/NOT_YET_VALID" : "TOTAL_PASSED"), "\(json)")
        #expect(result.exitCode == (madeLater ? 2 : 0))
        if !madeLater { #expect(json["proofOfExistence"] as? String == "2017-02-10T14:07:52Z") }
        // Today, with no later archive time-stamp, the expired TSA certificate leaves no proof.
        let (today, todayJSON) = try Self.ersVerify([record, "--data", data, "--trust", anchor, "--at", "2026-06-01T00:00:00Z"])
        #expect(today.exitCode == 2)
        #expect(todayJSON["subIndication"] as? String == "OUT_OF_BOUNDS_NO_POE", "\(todayJSON)")
        // Without the anchor: no chain.
        let (_, untrusted) = try Self.ersVerify([record, "--data", data, "--trust", Harness.fixtures + "/pki/root.pem", "--at", "2017-03-16T00:00:00Z"])
        #expect(untrusted["subIndication"] as? String == (madeLater ? "NOT_YET_VALID" : "NO_CERTIFICATE_CHAIN_FOUND"), "\(untrusted)")
    }

    enum Alteration: String, CaseIterable, CustomTestStringConvertible {
        case data, tree, token, chain, digestInOtherAlgorithm
        var testDescription: String { rawValue }
    }

    /// Altered copies of the hash-tree-renewed record fail, with the reason named.
    @Test(.enabled(if: ExternalCorpus.isPresent), arguments: Alteration.allCases)
    func alteredRecordsFail(_ alteration: Alteration) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let anchor = try Self.bsiAnchor(in: directory)
        var record = try EvidenceRecord(der: ExternalCorpus.read(Self.bsi + "2Chains3ATS/BIN_ER.ers"))
        var data = try ExternalCorpus.read(Self.bsi + "2Chains3ATS/BIN.bin")
        var extra: [String] = []
        switch alteration {
        case .data:
            data[0] ^= 1
        case .tree:
            var stamp = record.archiveTimeStampSequence[0].archiveTimeStamps[0]
            stamp.reducedHashtree![1][0][5] ^= 1
            record.archiveTimeStampSequence[0].archiveTimeStamps[0] = stamp
        case .token:
            // A byte of the token's signature value (the last bytes of the SignerInfo).
            var stamp = record.archiveTimeStampSequence[0].archiveTimeStamps[1]
            stamp.timeStamp[stamp.timeStamp.count - 10] ^= 1
            record.archiveTimeStampSequence[0].archiveTimeStamps[1] = stamp
        case .chain:
            // The first chain without its initial time-stamp: the renewal then stands first.
            record.archiveTimeStampSequence[0].archiveTimeStamps.removeFirst()
        case .digestInOtherAlgorithm:
            extra = ["--digest", "sha256:" + Hex.encode(Hasher.digest(data, .sha256))]
        }
        let recordPath = directory + "/altered.ers"
        try Data(try record.der).write(to: URL(fileURLWithPath: recordPath))
        let dataPath = directory + "/BIN.bin"
        try Data(data).write(to: URL(fileURLWithPath: dataPath))
        let dataArguments = alteration == .digestInOtherAlgorithm ? extra : ["--data", dataPath]
        let (result, json) = try Self.ersVerify([recordPath] + dataArguments + ["--trust", anchor, "--at", "2017-03-16T00:00:00Z"])
        let reason = json["reason"] as? String ?? ""
        switch alteration {
        case .data:
            #expect(result.exitCode == 1 && json["subIndication"] as? String == "HASH_FAILURE", "\(json)")
            #expect(reason.contains("chain 1, time-stamp 1: the hash of the data is not in its reduced hash tree"), "\(reason)")
        case .tree:
            #expect(result.exitCode == 1 && json["subIndication"] as? String == "HASH_FAILURE", "\(json)")
            #expect(reason.contains("chain 1, time-stamp 1"), "\(reason)")
        case .token:
            #expect(result.exitCode == 1, "\(json)")
            #expect(reason.contains("chain 1, time-stamp 2") || reason.contains("chain 2, time-stamp 1"), "\(reason)")
        case .chain:
            #expect(result.exitCode == 1 && json["subIndication"] as? String == "HASH_FAILURE", "\(json)")
            #expect(reason.contains("chain 1, time-stamp 1: the hash of the data is not in its reduced hash tree"), "\(reason)")
        case .digestInOtherAlgorithm:
            // The sha512 chain cannot be checked against a sha256 digest alone.
            #expect(result.exitCode == 2 && json["subIndication"] as? String == "SIGNED_DATA_NOT_FOUND", "\(json)")
            #expect(reason.contains("chain 2, time-stamp 1: no digest of the data with its hash algorithm sha512"), "\(reason)")
        }
    }

    @Test func ersVerifyRefusesBadInput() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let junk = directory + "/junk.ers"
        try Data("not a record".utf8).write(to: URL(fileURLWithPath: junk))
        for (arguments, exitCode, code) in [(["--digest", "sha256:" + String(repeating: "00", count: 32)], 65, "input-invalid"),
                                             (["--digest", "sha256:abc"], 64, "usage"), ([], 64, "usage")] as [([String], Int32, String)] {
            let result = try Harness.sigvault(["ers", "verify", junk] + arguments)
            #expect(result.exitCode == exitCode && HardeningTests.errorCode(result.stderr) == code, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains(".swift:"), "no source location in an error line: \(result.stderr)")
        }
        let missing = try Harness.sigvault(["ers", "verify", directory + "/missing.ers", "--data", junk])
        #expect(missing.exitCode == 66 && HardeningTests.errorCode(missing.stderr) == "input-missing", "\(missing.stderr)")
    }

    /// A record of our own making, over one file, with one archive time-stamp by the fixture TSA.
    static func makeRecord(over data: [UInt8], algorithm: HashAlgorithm, oid: ASN1ObjectIdentifier, in directory: String) throws -> String {
        let request = try TimeStampRequest(imprint: Hasher.digest(data, algorithm), algorithm: algorithm)
        let response = try TimeStampAcceptanceTests.reply(to: request, in: directory)
        let token = try TimeStampToken(responseOrToken: response)
        let identifier = DigestAlgorithmIdentifier(algorithm: oid)
        let record = EvidenceRecord(digestAlgorithms: [identifier], archiveTimeStampSequence: [
            ArchiveTimeStampChain([ArchiveTimeStamp(digestAlgorithm: identifier, reducedHashtree: nil, timeStamp: token.der)])])
        let path = directory + "/record.ers"
        try Data(try record.der).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// docs/ALGORITHMS.md: a time-stamp made with SHA-1 today (its sunset was 2012-08-01) proves nothing.
    @Test func aHashPastItsSunsetLeavesTheRecordIndeterminate() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = Array("evidence".utf8)
        let dataPath = directory + "/data.txt"
        try Data(data).write(to: URL(fileURLWithPath: dataPath))
        let sha1 = try Self.makeRecord(over: data, algorithm: .sha1, oid: [1, 3, 14, 3, 2, 26], in: directory)
        let (result, json) = try Self.ersVerify([sha1, "--data", dataPath, "--trust", Harness.fixtures + "/pki/root.pem"])
        #expect(result.exitCode == 2)
        #expect(json["subIndication"] as? String == "CRYPTO_CONSTRAINTS_FAILURE", "\(json)")
        #expect((json["reason"] as? String)?.contains("made with sha1 after its sunset on 2012-08-01") == true, "\(json)")
        let stamps = json["archiveTimeStamps"] as? [[String: Any]] ?? []
        #expect(stamps.first?["coverage"] as? String == "covered" && stamps.first?["forms"] as? [String] == ["initial"])
        // The same with SHA-256 (no sunset): only the missing revocation data of the fresh token remains.
        let sha256 = try Self.makeRecord(over: data, algorithm: .sha256, oid: [2, 16, 840, 1, 101, 3, 4, 2, 1], in: directory)
        let (_, current) = try Self.ersVerify([sha256, "--data", dataPath, "--trust", Harness.fixtures + "/pki/root.pem"])
        #expect(current["subIndication"] as? String == "TRY_LATER", "\(current)")
    }

    /// The evidence section: one tree and one token for all groups; each group's record, rebuilt
    /// from it, covers that group's objects (and no other group's); it round-trips and refuses damage.
    @Test func archiveEvidenceRoundTripsAndGivesEachGroupItsRecord() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sha256: ([UInt8]) -> [UInt8] = { Hasher.digest($0, .sha256) }
        // Five groups of one to three objects.
        let objects: [[[UInt8]]] = (0..<5).map { group in (0...(group % 3)).map { sha256([UInt8(group), UInt8($0)]) } }
        let leaves = objects.map { HashTree.groupHash($0, hash: sha256) }
        let tree = HashTree.Levels(leaves: leaves, hash: sha256)
        let request = try TimeStampRequest(imprint: tree.root, algorithm: .sha256)
        let token = try TimeStampToken(responseOrToken: TimeStampAcceptanceTests.reply(to: request, in: directory))
        let algorithm = DigestAlgorithmIdentifier(algorithm: [2, 16, 840, 1, 101, 3, 4, 2, 1])
        let template = EvidenceRecord(digestAlgorithms: [algorithm], archiveTimeStampSequence: [
            ArchiveTimeStampChain([ArchiveTimeStamp(digestAlgorithm: algorithm, reducedHashtree: nil, timeStamp: token.der)])])
        let evidence = ArchiveEvidence(template: template, trees: [tree],
                                       groups: (0..<5).map { ArchiveEvidence.Group(members: [UInt64($0), 99]) },
                                       material: [.init(kind: .certificate, der: [1, 2, 3])])
        let payload = try evidence.encoded(sha256: sha256)
        #expect(try ArchiveEvidence.decode(payload, sha256: sha256) == evidence)
        for (index, group) in objects.enumerated() {
            let record = evidence.record(forGroup: index) { _, _ in group }
            let outcomes = RecordCoverage.check(record, facts: Self.facts(record), dataHashes: { _ in group }, hash: Self.digest)
            if case .covered? = outcomes.first?.first {} else { Issue.record("group \(index): \(outcomes)") }
            // A reduced tree's first list holds the leaf's siblings too (RFC 4998 §4.2), so a record
            // also proves its sibling groups; a group outside that list is not covered.
            let other = objects[index < 2 ? 3 : 0]
            let wrong = RecordCoverage.check(record, facts: Self.facts(record), dataHashes: { _ in other }, hash: Self.digest)
            if case .covered? = wrong.first?.first { Issue.record("group \(index) covers a group outside its first list") }
        }
        var damaged = payload
        damaged[40] ^= 1
        #expect(throws: ArchiveEvidence.DecodingError.self) { try ArchiveEvidence.decode(damaged, sha256: sha256) }
        #expect(throws: ArchiveEvidence.DecodingError.self) { try ArchiveEvidence.decode(Array(payload.dropLast(33)) + Array(payload.suffix(32)), sha256: sha256) }
    }
}

