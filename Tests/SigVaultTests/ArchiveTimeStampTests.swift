import Foundation
import OpenSSLBridge
@testable import SigVault
import SigVaultFormat
import SigVaultValidation
import EvidenceRecords
import Testing

/// `pack --tsa`: an archive time-stamp over every data group, from a real local TSA, stored in the
/// evidence section of a version 2 archive, checked by verify; without a usable TSA the archive is
/// still written, without one, and pack says so.
@Suite(.serialized) struct ArchiveTimeStampTests {
    func tsa(_ path: String) throws -> String { try #require(LocalServer.tsa, "the local TSA did not start").url(path).absoluteString }

    /// pack with the fixtures' default material and `arguments` (repeated options kept).
    func pack(_ inputs: [String], _ arguments: [String], in directory: String) throws -> (String, Harness.Result) {
        let archive = directory + "/a.svz"
        let result = try Harness.sigvault(["pack"] + inputs + Harness.packArguments(extra: "-") + arguments
                                          + ["--at", Harness.verifyTime, "-o", archive])
        return (archive, result)
    }

    @Test func packWithATimeStampAuthorityWritesAVersion2ArchiveThatVerifies() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try self.pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"],
                                            ["--json", "--tsa", try tsa("/garbage"), "--tsa", try tsa("/tsa")], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let summary = try Harness.json(pack.stdout)
        let genTime = try #require(summary["archiveTimeStamp"] as? String)
        #expect((summary["timeStampAuthority"] as? String)?.hasSuffix("/tsa") == true)
        #expect(pack.stderr.contains("/garbage: no archive time-stamp: not a granted RFC 3161 response"), "\(pack.stderr)")

        let reader = try ArchiveReader(path: archive)
        #expect(reader.trailer?.version == 2 && reader.layoutProblem == nil)
        #expect(try reader.evidence() != nil)
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive])
        #expect(listing.exitCode == 0 && listing.stdout.contains("manifest.jsonl"))
        // VERIFY.md is true for version 2: it says how to read the version and points to §10; the
        // trailer command it gives prints 2.
        let guide = try Harness.run("/usr/bin/tar", ["--zstd", "-xOf", archive, "VERIFY.md"])
        #expect(guide.stdout.contains("7. The archive time-stamp") && guide.stdout.contains("FORMAT.md §10"), "\(guide.stdout)")
        #expect(!guide.stdout.contains("format version 1,"))
        let version = try Harness.run("/bin/sh", ["-c", "tail -c 160 '\(archive)' | od -An -tu4 -j8 -N4"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "2", "\(version.stdout)")

        let (verify, json) = try Harness.verifyJSON(archive, at: Harness.verifyTime)
        let integrity = json["integrity"] as? [String: Any]
        #expect(integrity?["ok"] as? Bool == true, "\(verify.stdout)")
        let proof = try #require(json["proofOfTime"] as? [String: Any])
        #expect(proof["archiveTimeStamp"] as? String == genTime)
        // Verified before the time-stamp was made (the fixtures' time), it proves nothing then; and
        // a fresh archive time-stamp has no revocation data for its TSA yet (the next renewal brings it).
        #expect(proof["indication"] as? String == "INDETERMINATE", "\(proof)")
        #expect(verify.exitCode == 2)
        let (_, now) = try Harness.verifyJSON(archive, at: ISOTime.format(Date()))
        let nowProof = try #require(now["proofOfTime"] as? [String: Any])
        #expect(nowProof["subIndication"] as? String == "TRY_LATER", "\(nowProof)")
        // expiry: the archive time-stamp is due when verify's renewBefore falls in the window.
        let renewBefore = try #require(nowProof["renewBefore"] as? String)
        let expiry = try Harness.sigvault(["expiry", archive, "--trust", "Fixtures/pki/root.pem", "--json"])
        let expiryItems = (try Harness.json(expiry.stdout)["items"] as? [[String: Any]]) ?? []
        #expect(expiryItems.map { $0["kind"] as? String } == ["archive-time-stamp"] && expiryItems.first?["date"] as? String == renewBefore, "\(expiryItems)")
        let dueSoon = try Harness.sigvault(["expiry", archive, "--trust", "Fixtures/pki/root.pem", "--at",
                                            ISOTime.format(try #require(ISOTime.parse(renewBefore)).addingTimeInterval(-86_400))])
        #expect(dueSoon.exitCode == 2 && dueSoon.stdout.contains("sigvault renew \(archive) --tsa <url>"), "\(dueSoon.stdout)")

        // restore puts each document's own RFC 4998 record in its evidence folder; with the restored
        // files of its data group it verifies without the archive.
        let target = directory + "/restored"
        #expect(try Harness.sigvault(["restore", archive, "--to", target]).exitCode == 0)
        for (document, files) in [("Fixtures/cases/expired-timestamped/contract.pdf", ["contract.pdf", "contract.pdf.p7s"]),
                                  ("Fixtures/cases/unsigned/data.bin", ["data.bin"])] {
            let evidence = target + "/.sigvault-evidence/" + document
            let record = evidence + "/evidence-record.ers"
            #expect(FileManager.default.fileExists(atPath: record), "\(document)")
            let folder = (target + "/" + document as NSString).deletingLastPathComponent
            var data = files.map { folder + "/" + $0 }
            for kind in ["certificates", "crls", "ocsp"] {
                let sub = evidence + "/" + kind
                for name in (try? FileManager.default.contentsOfDirectory(atPath: sub)) ?? [] { data.append(sub + "/" + name) }
            }
            let result = try Harness.sigvault(["ers", "verify", record, "--trust", "Fixtures/pki/root.pem", "--json"] + data.flatMap { ["--data", $0] })
            let json = try Harness.json(result.stdout)
            #expect(json["schemaVersion"] as? Int == 1)
            let stamps = json["archiveTimeStamps"] as? [[String: Any]] ?? []
            #expect(stamps.first?["coverage"] as? String == "covered", "\(document): \(result.stdout)")
            #expect(stamps.first?["genTime"] as? String == genTime)
            if data.count > 1 { #expect((stamps.first?["forms"] as? [String])?.contains("data objects in the first list") == true, "\(stamps)") }
        }
    }

    @Test func withoutAUsableAuthorityTheArchiveIsWrittenWithoutATimeStamp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let down = "http://127.0.0.1:\(LocalServer.closedPort())/tsa"
        let (archive, pack) = try self.pack(["Fixtures/cases/unsigned"], ["--tsa", try tsa("/wrong-nonce"), "--tsa", down], in: directory)
        #expect(pack.exitCode == 2)
        #expect(pack.stderr.contains("/wrong-nonce: no archive time-stamp: the token's nonce is not the one requested"), "\(pack.stderr)")
        #expect(pack.stderr.contains("\(down): no archive time-stamp: cannot reach it"), "\(pack.stderr)")
        #expect(pack.stderr.contains("written without an archive time-stamp"))
        let reader = try ArchiveReader(path: archive)
        #expect(reader.trailer?.version == 1)
        // Its VERIFY.md (written before the authority was asked) says what version 1 means then.
        let guide = try Harness.run("/usr/bin/tar", ["--zstd", "-xOf", archive, "VERIFY.md"])
        #expect(guide.stdout.contains("If it is 1, no time-stamp authority answered"), "\(guide.stdout)")
        let version = try Harness.run("/bin/sh", ["-c", "tail -c 160 '\(archive)' | od -An -tu4 -j8 -N4"])
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(version.stdout)")
        let (verify, json) = try Harness.verifyJSON(archive)
        #expect(verify.exitCode == 0)
        #expect((json["proofOfTime"] as? [String: Any])?["archiveTimeStamp"] is NSNull)
    }

    /// An evidence section rewritten by someone (its own SHA-256 recomputed) that names a member the
    /// archive does not have: verify names it, restore still restores the documents but names the damage
    /// and exits 1 (an integrity problem), nothing crashes.
    @Test func aCraftedEvidenceSectionIsReportedNotTrusted() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try pack(["Fixtures/cases/unsigned", "Fixtures/cases/valid-pem-sig"], ["--tsa", try tsa("/tsa")], in: directory)
        let reader = try ArchiveReader(path: archive)
        let trailer = try #require(reader.trailer)
        var evidence = try #require(try reader.evidence())
        evidence.groups[0].members.append(1 << 40)
        let bytes = try reader.read(at: 0, count: Int(trailer.evidenceOffset))
            + ArchiveWriter.tail(trailer, evidence: try evidence.encoded { Hasher.digest($0, .sha256) })
        let crafted = directory + "/crafted.svz"
        try Data(bytes).write(to: URL(fileURLWithPath: crafted))
        let (verify, json) = try Harness.verifyJSON(crafted)
        #expect(verify.exitCode == 1)
        let problems = (json["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { ($0["message"] as? String)?.contains("names a member the archive does not have") == true }, "\(problems)")
        let integrityOnly = try Harness.sigvault(["verify", crafted, "--integrity-only"])
        #expect(integrityOnly.exitCode == 1, "\(integrityOnly.stdout)")
        let restore = try Harness.sigvault(["restore", crafted, "--to", directory + "/out"])
        #expect(restore.exitCode == 1, "\(restore.stderr)")
        #expect(restore.stderr.contains("without evidence-record.ers"), "\(restore.stderr)")
        #expect(restore.stderr.contains("[integrity]"), "\(restore.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/out/Fixtures/cases/valid-pem-sig/letter.txt"))
        let renew = try Harness.sigvault(["renew", crafted, "--tsa", try tsa("/tsa"), "--trust", "Fixtures/pki/root.pem", "--hash", "sha512"])
        #expect(renew.exitCode == 1, "\(renew.stderr)")
    }

    @Test func aDamagedEvidenceSectionIsFound() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try self.pack(["Fixtures/cases/unsigned"], ["--tsa", try tsa("/tsa")], in: directory)
        let trailer = try #require(try ArchiveReader(path: archive).trailer)
        // The operator's integrity check covers the evidence section and its trees, no anchors needed.
        let intact = try Harness.sigvault(["verify", archive, "--integrity-only"])
        #expect(intact.exitCode == 0, "\(intact.stdout)\(intact.stderr)")
        try Harness.flipByte(archive, at: Int(trailer.evidenceOffset + trailer.evidenceLength / 2))
        let (verify, json) = try Harness.verifyJSON(archive)
        #expect(verify.exitCode == 1)
        let integrityOnly = try Harness.sigvault(["verify", archive, "--integrity-only"])
        #expect(integrityOnly.exitCode == 1, "\(integrityOnly.stdout)")
        let problems = (json["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["code"] as? String == "evidence" }, "\(problems)")
    }
}

/// A valid archive time-stamp is a proof of existence (ETSI EN 319 102-1 §5.6): a signature with no
/// token of its own is judged at the archive time-stamp's time, not at the validation time.
@Suite struct ArchiveProofOfExistenceTests {
    static func verdict(archiveProof: Date?) throws -> Verdict {
        let folder = Harness.fixtures + "/cases/expired-no-timestamp"
        let signed = try SignedData(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/contract.pdf.p7s"))))
        let pool = EvidencePool()
        for name in try FileManager.default.contentsOfDirectory(atPath: Harness.fixtures + "/pki/certs") {
            pool.add(try Certificate.parseAll([UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/certs/" + name)))))
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: Harness.fixtures + "/pki/crl/current") {
            for crl in try RevocationList.parseAll([UInt8](try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/pki/crl/current/" + name)))) {
                pool.add(crl)
            }
        }
        let policy = ValidationPolicy(anchors: TimeStampAcceptanceTests.anchors, now: try #require(ISOTime.parse(Harness.verifyTime)),
                                      archiveProofOfExistence: archiveProof)
        let validator = SignatureValidator(pool: pool, policy: policy)
        let verification = try #require(signed.verifySigners(content: .file(folder + "/contract.pdf"), extraCertificates: pool.certificates).first)
        return validator.validate(signature: verification, description: signed.describeSigner(0), signedData: signed, extraTimeStamps: []).verdict
    }

    @Test func theArchiveTimeStampIsTheBestSignatureTimeOfASignatureWithoutToken() throws {
        let without = try Self.verdict(archiveProof: nil)
        #expect(without.subIndication == .outOfBoundsNoPOE, "\(without)")
        // The signer's certificate expired on 2024-06-30; an archive time-stamp of 2024-04-01, with
        // the CRLs of 2024-06-15, proves the signature while it was valid and not revoked.
        let with = try Self.verdict(archiveProof: ISOTime.parse("2024-04-01T00:00:00Z"))
        #expect(with.indication == .totalPassed, "\(with)")
        #expect(with.reason.contains("proven by the archive time-stamp at 2024-04-01T00:00:00Z"), "\(with.reason)")
        // One made after the certificate expired proves nothing for it.
        let late = try Self.verdict(archiveProof: ISOTime.parse("2025-01-01T00:00:00Z"))
        #expect(late.subIndication == .outOfBoundsNoPOE, "\(late)")
    }
}

/// `renew`: time-stamp renewal of a version 2 archive against the local TSA, with revocation data
/// made fresh by the fixture OCSP responder (`openssl ocsp -index`).
@Suite(.serialized) struct RenewTests {
    /// Fresh "good" OCSP responses, produced now, for the fixture TSA chain: the TSA certificate
    /// (by the intermediate's OCSP responder) and the intermediate (by the root itself).
    static func freshTSAResponses(in directory: String) throws -> [String] {
        let pki = Harness.fixtures + "/pki"
        func response(cert: String, issuer: String, signer: String, key: String) throws -> String {
            let serial = try Harness.openssl(["x509", "-in", cert, "-noout", "-serial"])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
            let index = directory + "/index-\(serial).txt"
            try "V\t991231235959Z\t\t\(serial)\tunknown\t/CN=unused\n".write(toFile: index, atomically: true, encoding: .utf8)
            let request = directory + "/ocsp-\(serial).req"
            let out = directory + "/fresh-\(serial)-\(UUID().uuidString).der"
            #expect(try Harness.openssl(["ocsp", "-issuer", issuer, "-cert", cert, "-no_nonce", "-reqout", request]).exitCode == 0)
            let result = try Harness.openssl(["ocsp", "-index", index, "-CA", issuer, "-rsigner", signer, "-rkey", key,
                                              "-reqin", request, "-respout", out, "-ndays", "1"])
            try #require(result.exitCode == 0, "\(result.stderr)")
            return out
        }
        return [
            try response(cert: pki + "/certs/tsa.pem", issuer: pki + "/certs/intermediate.pem",
                         signer: pki + "/certs/ocsp-responder.pem", key: pki + "/private/ocsp-responder.key"),
            try response(cert: pki + "/certs/intermediate.pem", issuer: pki + "/root.pem", signer: pki + "/root.pem", key: pki + "/private/root-ca.key"),
        ]
    }

    static func proof(_ archive: String) throws -> [String: Any] {
        let (_, json) = try Harness.verifyJSON(archive, at: ISOTime.format(Date().addingTimeInterval(5)))
        return try #require(json["proofOfTime"] as? [String: Any])
    }

    @Test func renewalAddsATimeStampOverTheAmendedNewestOne() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa).url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/expired-timestamped"], ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let before = try ArchiveReader(path: archive)
        let dataBefore = try before.read(at: 0, count: Int(try #require(before.trailer).evidenceOffset))
        #expect((try Self.proof(archive))["reason"] == nil)

        // Not due: the TSA certificate is valid until 2099 and SHA-256 has no sunset.
        let notDue = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem", "--before", "90d"])
        #expect(notDue.exitCode == 0 && notDue.stdout.hasPrefix("not due:"), "\(notDue.stdout)\(notDue.stderr)")
        #expect(try ArchiveReader(path: archive).read(at: 0, count: Int(try ArchiveReader(path: archive).size)) == (try before.read(at: 0, count: Int(before.size))))

        Thread.sleep(forTimeInterval: 1.1)  // the fresh OCSP response must be later than the first genTime
        let ocsp = try Self.freshTSAResponses(in: directory)
        Thread.sleep(forTimeInterval: 1.1)  // and the new archive time-stamp later than the responses
        let renew = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem"] + ocsp.flatMap { ["--ocsp", $0] })
        #expect(renew.exitCode == 0, "\(renew.stderr)")
        #expect(renew.stdout.hasPrefix("renewed \(archive) (time-stamp renewal): archive time-stamp "), "\(renew.stdout)")
        let after = try ArchiveReader(path: archive)
        #expect(after.trailer?.evidenceOffset == before.trailer?.evidenceOffset)
        #expect(try after.read(at: 0, count: dataBefore.count) == dataBefore, "data frames and index copied unchanged")
        #expect(try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive]).exitCode == 0)

        // The first archive time-stamp is now proven (its OCSP response is inside it, and the second
        // one proves it existed); the newest has the same responses, issued a second before its
        // genTime and fresh then (ETSI EN 319 102-1 §5.2.5: until their nextUpdate).
        let proof = try Self.proof(archive)
        #expect(proof["indication"] as? String == "TOTAL_PASSED", "\(proof)")
        let evidence = try #require(try after.evidence())
        #expect(evidence.template.archiveTimeStampSequence.map(\.archiveTimeStamps.count) == [2])
        #expect(EmbeddedRevocationInfo.ocspResponses(inContentInfo: evidence.template.archiveTimeStampSequence[0].archiveTimeStamps[0].timeStamp).count == 2)
    }

    /// Hash-tree renewal: a new chain with SHA-512 over every group's data and earlier chains.
    @Test func hashTreeRenewalStartsANewChainThatVerifyAndErsVerifyCheck() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa).url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"],
                                                               ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try Self.freshTSAResponses(in: directory)
        Thread.sleep(forTimeInterval: 1.1)
        let renew = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem", "--hash", "sha512"]
                                         + ocsp.flatMap { ["--ocsp", $0] })
        #expect(renew.exitCode == 0, "\(renew.stderr)")
        #expect(renew.stdout.contains("(hash-tree renewal)"), "\(renew.stdout)")
        let evidence = try #require(try ArchiveReader(path: archive).evidence())
        #expect(evidence.template.archiveTimeStampSequence.map(\.archiveTimeStamps.count) == [1, 1])
        #expect(evidence.trees.map { $0.root.count } == [32, 64])

        let (verify, json) = try Harness.verifyJSON(archive, at: ISOTime.format(Date().addingTimeInterval(5)))
        #expect((json["integrity"] as? [String: Any])?["ok"] as? Bool == true, "\(verify.stdout)")
        let proof = try #require(json["proofOfTime"] as? [String: Any])
        #expect(proof["indication"] as? String == "TOTAL_PASSED", "\(proof)")

        // The restored group's record covers its files through both chains.
        let target = directory + "/restored"
        #expect(try Harness.sigvault(["restore", archive, "--to", target]).exitCode == 0)
        let record = target + "/.sigvault-evidence/Fixtures/cases/unsigned/data.bin/evidence-record.ers"
        let (_, ers) = try EvidenceRecordTests.ersVerify([record, "--data", target + "/Fixtures/cases/unsigned/data.bin", "--trust", "Fixtures/pki/root.pem"])
        let stamps = ers["archiveTimeStamps"] as? [[String: Any]] ?? []
        #expect(stamps.map { $0["coverage"] as? String } == ["covered", "covered"], "\(ers)")
        #expect((stamps.last?["forms"] as? [String])?.first == "hash-tree renewal, unsorted concatenation", "\(stamps)")
        #expect(stamps.first?["tokenValid"] as? Bool == true, "\(stamps)")

        // A tampered tree of the second chain is found.
        var tampered = evidence
        var levels = tampered.trees[1].levels
        levels[0][0][0] ^= 1
        tampered.trees[1] = try #require(HashTree.Levels(stored: levels))
        let reader = try ArchiveReader(path: archive)
        let trailer = try #require(reader.trailer)
        let copy = try reader.read(at: 0, count: Int(trailer.evidenceOffset))
            + ArchiveWriter.tail(trailer, evidence: try tampered.encoded { Hasher.digest($0, .sha256) })
        let bad = directory + "/bad.svz"
        try Data(copy).write(to: URL(fileURLWithPath: bad))
        let (badVerify, badJSON) = try Harness.verifyJSON(bad)
        #expect(badVerify.exitCode == 1)
        let problems = (badJSON["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { ($0["message"] as? String)?.contains("chain 2 (sha512) does not match") == true }, "\(problems)")
    }

    /// A record that does not hold is not extended: here the archive time-stamp is swapped for one
    /// of another archive (a valid token over another root).
    @Test func renewRefusesToExtendEvidenceThatDoesNotHold() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa).url("/tsa").absoluteString
        let (archive, _) = try ArchiveTimeStampTests().pack(["Fixtures/cases/unsigned"], ["--tsa", tsa], in: directory)
        let other = directory + "/other"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        let (otherArchive, _) = try ArchiveTimeStampTests().pack(["Fixtures/cases/valid-pem-sig"], ["--tsa", tsa], in: other)
        let foreign = try #require(try ArchiveReader(path: otherArchive).evidence())
        let reader = try ArchiveReader(path: archive)
        let trailer = try #require(reader.trailer)
        var evidence = try #require(try reader.evidence())
        evidence.template.archiveTimeStampSequence[0].archiveTimeStamps[0].timeStamp = foreign.template.archiveTimeStampSequence[0].archiveTimeStamps[0].timeStamp
        let crafted = directory + "/crafted.svz"
        let bytes = try reader.read(at: 0, count: Int(trailer.evidenceOffset))
            + ArchiveWriter.tail(trailer, evidence: try evidence.encoded { Hasher.digest($0, .sha256) })
        try Data(bytes).write(to: URL(fileURLWithPath: crafted))
        let renew = try Harness.sigvault(["renew", crafted, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem"])
        #expect(renew.exitCode == 1, "\(renew.stderr)")
        #expect(renew.stderr.contains("\(crafted): not renewed: its archive time-stamps do not hold"), "\(renew.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: crafted)) == Data(bytes), "the archive is unchanged")
    }

    /// ers verify and verify take revocation data from outside: right after a pack without
    /// --fetch-revocation nothing shows the archive time-stamp's TSA sound; OCSP responses made now
    /// and given with --ocsp do, in the restored record and in the archive (which stays unchanged).
    @Test func currentDataFromOutsideShowsTheNewestTokenSound() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa).url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/unsigned"], ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        Thread.sleep(forTimeInterval: 1.1)  // the responses must be later than the genTime
        let ocsp = try Self.freshTSAResponses(in: directory).flatMap { ["--ocsp", $0] }
        let target = directory + "/restored"
        #expect(try Harness.sigvault(["restore", archive, "--to", target]).exitCode == 0)
        let record = target + "/.sigvault-evidence/Fixtures/cases/unsigned/data.bin/evidence-record.ers"
        let ers = [record, "--data", target + "/Fixtures/cases/unsigned/data.bin", "--trust", "Fixtures/pki/root.pem"]
        let (bare, bareJSON) = try EvidenceRecordTests.ersVerify(ers)
        #expect(bare.exitCode == 2 && bareJSON["subIndication"] as? String == "TRY_LATER", "\(bareJSON)")
        let (given, givenJSON) = try EvidenceRecordTests.ersVerify(ers + ocsp)
        #expect(given.exitCode == 0 && givenJSON["indication"] as? String == "TOTAL_PASSED", "\(givenJSON)")

        let before = try Data(contentsOf: URL(fileURLWithPath: archive))
        let now = ISOTime.format(Date().addingTimeInterval(5))
        let verify = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", now, "--json"] + ocsp)
        let proof = try #require(try Harness.json(verify.stdout)["proofOfTime"] as? [String: Any])
        #expect(proof["indication"] as? String == "TOTAL_PASSED", "\(proof)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: archive)) == before)
        #expect(try Self.proof(archive)["subIndication"] as? String == "TRY_LATER", "nothing from outside was written into the archive")
    }

    @Test func renewRefusesAnArchiveWithoutArchiveTimeStamp() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/unsigned"], in: directory)
        let result = try Harness.sigvault(["renew", archive, "--tsa", "http://127.0.0.1:1/tsa"])
        #expect(result.exitCode == 65 && result.stderr.contains("no archive time-stamp to renew"), "\(result.stderr)")
        #expect(try Harness.sigvault(["renew", archive, "--before", "soon"]).exitCode == 64)
    }
}
