import Foundation
import Testing

/// Every fixture case packs, verifies at 2026-06-01 and gets the ETSI verdict of Fixtures/cases.tsv,
/// with the exit code of docs/CLI.md.
@Suite struct VerdictTests {
    @Test(arguments: FixtureCase.all)
    func caseGetsItsVerdict(_ fixture: FixtureCase) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases/\(fixture.name)"], extra: fixture.extra, in: directory)
        let packExpected: Int32 = fixture.indication == "TOTAL_PASSED" || fixture.indication == "UNSIGNED" ? 0 : 2
        #expect(pack.exitCode == packExpected, "pack: \(pack.stderr)")

        let (verify, report) = try Harness.verifyJSON(archive)
        let integrity = try #require(report["integrity"] as? [String: Any])
        #expect(integrity["ok"] as? Bool == true)
        let documents = try #require(report["documents"] as? [[String: Any]])
        #expect(!documents.isEmpty)
        let signed = documents.filter { $0["signed"] as? Bool == true }
        if fixture.indication == "UNSIGNED" {
            #expect(signed.isEmpty)
            #expect(documents.allSatisfy { $0["indication"] == nil || $0["indication"] is NSNull })
            #expect(verify.exitCode == 0)
            return
        }
        #expect(!signed.isEmpty)
        let worst = signed.max { rank($0) < rank($1) }!
        #expect(worst["indication"] as? String == fixture.indication, "\(worst)")
        #expect((worst["subIndication"] as? String) == fixture.subIndication, "\(worst)")
        let verifyExpected: Int32 = fixture.indication == "TOTAL_PASSED" ? 0 : fixture.indication == "TOTAL_FAILED" ? 1 : 2
        #expect(verify.exitCode == verifyExpected)
        for document in documents {
            #expect(!((document["path"] as? String) ?? "data/").hasPrefix("data/"))
        }
    }

    private func rank(_ document: [String: Any]) -> Int {
        switch document["indication"] as? String {
        case "TOTAL_FAILED": return 2
        case "INDETERMINATE": return 1
        default: return 0
        }
    }

    @Test func signatureTimeStampsKeepAnExpiredSignerProvableIn2035WithCurrentTSAData() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/expired-no-timestamp"], in: directory)
        // The TSA must be shown sound in 2035 (ETSI EN 319 102-1 §5.4, §5.6.2.2): the archive's data
        // from 2024 and 2026 does not; data from 2034-12-31, given from outside the archive, does.
        let (_, stale) = try Harness.verifyJSON(archive, at: "2035-01-01T00:00:00Z")
        let staleDocument = try #require((stale["documents"] as? [[String: Any]])?.first { $0["path"] as? String == "Fixtures/cases/expired-timestamped/contract.pdf" })
        #expect(staleDocument["subIndication"] as? String == "TRY_LATER", "\(staleDocument)")
        #expect((staleDocument["reason"] as? String)?.contains("shown only until 2026-07-01T00:00:00Z") == true, "\(staleDocument["reason"] ?? "")")
        let later = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", "2035-01-01T00:00:00Z",
                                          "--crls", "Fixtures/pki/later/2035", "--ocsp", "Fixtures/pki/later/2035", "--json"])
        let report = try Harness.json(later.stdout)
        let documents = try #require(report["documents"] as? [[String: Any]])
        let byPath = Dictionary(uniqueKeysWithValues: documents.map { ($0["path"] as! String, $0) })
        let stamped = try #require(byPath["Fixtures/cases/expired-timestamped/contract.pdf"])
        #expect(stamped["indication"] as? String == "TOTAL_PASSED")
        #expect(stamped["proofOfExistence"] as? String == "2024-03-01T10:05:00Z")
        let signatures = try #require(stamped["signatures"] as? [[String: Any]])
        #expect(signatures.first?["signer"] as? String == "CN=Erin Expired,O=SigVault Test")
        let bare = try #require(byPath["Fixtures/cases/expired-no-timestamp/contract.pdf"])
        #expect(bare["subIndication"] as? String == "OUT_OF_BOUNDS_NO_POE")
        #expect(bare["proofOfExistence"] is NSNull)
    }

    @Test func oneBadSignerDoesNotHideAGoodOne() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/two-signers"], in: directory)
        let (_, report) = try Harness.verifyJSON(archive)
        let document = try #require((report["documents"] as? [[String: Any]])?.first)
        let signatures = try #require(document["signatures"] as? [[String: Any]])
        #expect(signatures.count == 2)
        let verdicts = Set(signatures.compactMap { $0["indication"] as? String })
        #expect(verdicts == ["TOTAL_PASSED", "INDETERMINATE"])
    }

    @Test func withoutTheRightTrustAnchorNothingPasses() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/expired-timestamped"], in: directory)
        let result = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/untrusted-root.pem", "--at", Harness.verifyTime, "--json"])
        let report = try Harness.json(result.stdout)
        let document = try #require((report["documents"] as? [[String: Any]])?.first)
        #expect(document["subIndication"] as? String == "NO_CERTIFICATE_CHAIN_FOUND")
        #expect(result.exitCode == 2)
    }
}
