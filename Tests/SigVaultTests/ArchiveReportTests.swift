import Foundation
@testable import SigVault
import SigVaultFormat
import Testing

/// `verify --report`: the export's report for a whole archive, in three forms, agreeing with what
/// verify prints, naming archive members, reproducible, and written whole or not at all.
@Suite(.serialized) struct ArchiveReportTests {
    static let root = Harness.fixtures + "/pki/root.pem"

    static func verify(_ archive: String, _ extra: [String]) throws -> Harness.Result {
        try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime, "--json"] + extra)
    }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// Every member name of the archive, as the manifest lists them.
    static func members(_ archive: String) throws -> Set<String> {
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-xOf", archive, "manifest.jsonl"])
        return Set(try listing.stdout.split(separator: "\n").compactMap { try Harness.json(String($0))["path"] as? String })
    }

    @Test func everyFixtureDocumentIsReportedAsVerifySaysWithItsMembersAndIdenticallyTwice() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases"], in: directory)
        #expect(pack.exitCode != 64, "\(pack.stderr)")
        let plain = try Self.verify(archive, [])
        let reports = ["r.json", "r.txt", "r.html"].map { directory + "/" + $0 }
        let run = try Self.verify(archive, reports.flatMap { ["--report", $0] })
        // The report changes nothing of verify's own output or exit code.
        #expect(run.exitCode == plain.exitCode && run.stdout == plain.stdout, "\(run.stderr)")
        let verdicts = try Harness.json(plain.stdout)
        let report = try Harness.json(try Self.read(reports[0]))
        #expect(report["kind"] as? String == "archive" && report["schemaVersion"] as? Int == 1)
        #expect(report["exitCode"] as? Int == Int(plain.exitCode))
        #expect((report["summary"] as? NSDictionary) == (verdicts["summary"] as? NSDictionary), "\(report["summary"] ?? "nil")")
        #expect((report["archive"] as? [String: Any])?["name"] as? String == "a.svz")
        #expect((report["validationTime"] as? [String: Any])?["utc"] as? String == Harness.verifyTime)
        let anchors = try #require(report["trustAnchors"] as? [[String: Any]])
        let rootFingerprint = try Harness.run("/usr/bin/openssl", ["x509", "-in", Self.root, "-noout", "-fingerprint", "-sha256"]).stdout
            .split(separator: "=").last.map { $0.replacingOccurrences(of: ":", with: "").lowercased().trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(anchors.map { $0["sha256"] as? String } == [rootFingerprint], "\(anchors)")

        let expected = try #require(verdicts["documents"] as? [[String: Any]])
        let sections = try #require(report["documents"] as? [[String: Any]])
        #expect(sections.count == expected.count && sections.count > 20)
        let members = try Self.members(archive)
        let text = try Self.read(reports[1]), html = try Self.read(reports[2])
        for (section, verdict) in zip(sections, expected) {
            let document = try #require(section["document"] as? [String: Any])
            let path = try #require(verdict["path"] as? String)
            #expect(document["name"] as? String == path)
            #expect(document["indication"] as? String == (verdict["indication"] as? String ?? "UNSIGNED"), "\(path)")
            #expect(document["subIndication"] as? String == verdict["subIndication"] as? String, "\(path)")
            #expect(((document["proofOfExistence"] as? [String: Any])?["utc"] as? String) == verdict["proofOfExistence"] as? String, "\(path)")
            let sha256 = try #require(document["sha256"] as? String)
            #expect(sha256.count == 64 && text.contains(sha256) && html.contains(sha256), "\(path)")
            // Every file a statement cites is a member of the archive, or names a token inside one.
            for statement in section["timeline"] as? [[String: Any]] ?? [] {
                for file in statement["files"] as? [String] ?? [] {
                    let member = file.components(separatedBy: " (inside SignerInfo").first ?? file
                    #expect(members.contains(member), "\(path): \(file)")
                }
                #expect(["TOTAL_PASSED", "TOTAL_FAILED", "INDETERMINATE", "UNSIGNED"].contains {
                    (statement["indication"] as? String)?.hasPrefix($0) == true
                }, "\(statement)")
            }
            for signer in section["signers"] as? [[String: Any]] ?? [] {
                let certificate = signer["certificate"] as? [String: Any]
                if let fingerprint = certificate?["sha256"] as? String { #expect(text.contains(fingerprint) && html.contains(fingerprint)) }
            }
        }
        // Names as in the certificates, in the text and the HTML.
        #expect(text.contains("CN=张伟") && html.contains("CN=张伟") && text.contains("合同.txt"))
        #expect(html.contains("Content-Security-Policy") && html.contains("script-src 'none'") && !html.lowercased().contains("<script"))
        #expect(text.contains("Conclusion: On 2026-06-01 00:00:00 UTC: \(expected.count) document(s)"), "\(text.suffix(400))")

        // The same inputs give the same bytes; another zone another text.
        Thread.sleep(forTimeInterval: 1.1)
        let again = reports.map { $0.replacingOccurrences(of: "/r.", with: "/again.") }
        let zoned = directory + "/zoned.txt"
        #expect(try Self.verify(archive, again.flatMap { ["--report", $0] }).exitCode == plain.exitCode)
        #expect(try Self.verify(archive, ["--report", zoned, "--tz", "Asia/Shanghai"]).exitCode == plain.exitCode)
        for (first, second) in zip(reports, again) {
            #expect(FileManager.default.contentsEqual(atPath: first, andPath: second), "\(second)")
        }
        let shanghai = try Self.read(zoned)
        #expect(shanghai.contains("2026-06-01 00:00:00 UTC (2026-06-01 08:00:00+08:00)") && shanghai != text)
    }

    @Test func aRenewedArchiveReportsItsArchiveTimeStampsAndEachDocumentsDataGroup() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa, "the local TSA did not start").url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"],
                                                               ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try RenewTests.freshTSAResponses(in: directory).flatMap { ["--ocsp", $0] }
        Thread.sleep(forTimeInterval: 1.1)
        let renewal = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem"] + ocsp)
        #expect(renewal.exitCode == 0, "\(renewal.stderr)")

        let path = directory + "/report.json", text = directory + "/report.txt"
        let run = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--report", path, "--report", text] + ocsp)
        #expect(run.exitCode == 0, "\(run.stdout)\(run.stderr)")
        let report = try Harness.json(try Self.read(path))
        let evidence = try #require(report["evidence"] as? [String: Any])
        #expect(evidence["indication"] as? String == "TOTAL_PASSED", "\(evidence)")
        #expect(evidence["file"] as? String == "a.svz, evidence section")
        let stamps = try #require(evidence["archiveTimeStamps"] as? [[String: Any]])
        #expect(stamps.count == 2 && stamps.allSatisfy { $0["valid"] as? Bool == true }, "\(stamps)")
        #expect(stamps.map { $0["file"] as? String } == ["a.svz, evidence section, archive time-stamp 1", "a.svz, evidence section, archive time-stamp 2"])
        // The given OCSP responses are named by the file they came from.
        let given = Set(stamps.flatMap { $0["revocation"] as? [[String: Any]] ?? [] }.compactMap { $0["decidedBy"] as? String })
        #expect(given.contains { $0.hasPrefix("given ") }, "\(given)")
        let first = try #require((stamps.first?["genTime"] as? [String: Any])?["utc"] as? String)

        let sections = try #require(report["documents"] as? [[String: Any]])
        #expect(sections.count == 3)
        for section in sections {
            let document = try #require(section["document"] as? [String: Any])
            let name = try #require(document["file"] as? String)
            let group = try #require(section["dataGroup"] as? [String: Any], "\(name)")
            let covers = (group["covers"] as? [[String: Any]] ?? []).compactMap { $0["file"] as? String }
            #expect(covers.first == name, "\(covers)")
            // The unsigned documents are proven by the archive time-stamp, in plain words.
            if document["indication"] as? String == "UNSIGNED" {
                #expect((document["proofOfExistence"] as? [String: Any])?["utc"] as? String == first)
                let statements = (section["timeline"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
                #expect(statements.contains { $0.contains("existed on") && $0.contains("archive time-stamp 1") }, "\(statements)")
                #expect(statements.contains { $0.hasPrefix("The archive's evidence (a.svz, evidence section) covers the document's data group") })
                #expect(statements.contains { $0.hasPrefix("The evidence was renewed on") })
            }
        }
        let plainText = try Self.read(text)
        #expect(plainText.contains("Archive evidence a.svz, evidence section: TOTAL_PASSED"))
    }

    @Test func aDamagedArchiveIsReportedAsDamaged() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/valid-ocsp"], in: directory)
        // A byte in the middle of the members' frames.
        let index = try #require(try ArchiveReader(path: archive).trailer).indexOffset
        try Harness.flipByte(archive, at: Int(index / 2))
        let path = directory + "/r.txt", json = directory + "/r.json"
        let run = try Self.verify(archive, ["--report", path, "--report", json])
        #expect(run.exitCode == 1)
        let text = try Self.read(path)
        #expect(text.contains("Integrity:         DAMAGED") && text.contains("  problem: "), "\(text.prefix(1200))")
        let report = try Harness.json(try Self.read(json))
        #expect((report["archive"] as? [String: Any])?["integrityOK"] as? Bool == false)
        #expect((report["archive"] as? [String: Any])?["problems"] as? [String] != [])
    }

    @Test func badReportPathsAreRefusedBeforeVerifyingAndNothingIsHalfWritten() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/valid-ocsp"], in: directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: archive))
        let form = try Self.verify(archive, ["--report", directory + "/r.pdf"])
        #expect(form.exitCode == 64 && form.stderr.contains("r.pdf: the name must end in .html, .txt or .json"), "\(form.stderr)")
        let itself = try Self.verify(archive, ["--report", archive.replacingOccurrences(of: ".svz", with: ".json")])
        #expect(itself.exitCode == 0)
        let same = directory + "/same.json"
        try FileManager.default.linkItem(atPath: archive, toPath: same)
        let linked = try Self.verify(archive, ["--report", same])
        #expect(linked.exitCode == 64 && linked.stderr.contains("is the archive itself"), "\(linked.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: archive)) == before)
        let missing = try Self.verify(archive, ["--report", directory + "/no/such/folder/r.json"])
        #expect(missing.exitCode == 73 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let integrity = try Harness.sigvault(["verify", archive, "--integrity-only", "--report", directory + "/i.txt"])
        #expect(integrity.exitCode == 64, "\(integrity.stderr)")
        let zone = try Self.verify(archive, ["--tz", "Europe/Berlin"])
        #expect(zone.exitCode == 64 && zone.stderr.contains("--tz applies to --report only"), "\(zone.stderr)")
        let badZone = try Self.verify(archive, ["--report", directory + "/z.txt", "--tz", "Mars/Olympus"])
        #expect(badZone.exitCode == 64 && !FileManager.default.fileExists(atPath: directory + "/z.txt"))

        // An existing report is replaced whole, and no temporary file stays behind.
        let existing = directory + "/old.txt"
        try "an old report\n".write(toFile: existing, atomically: true, encoding: .utf8)
        #expect(try Self.verify(archive, ["--report", existing]).exitCode == 0)
        #expect(try Self.read(existing).hasPrefix("SigVault archive report\n"))
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains("sigvault-tmp") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func theHTMLRendersEveryDocumentInChromium() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/cjk-signer", "Fixtures/cases/revoked-before", "Fixtures/cases/unsigned"], in: directory)
        let html = directory + "/r.html", json = directory + "/r.json"
        _ = try Self.verify(archive, ["--report", html, "--report", json])
        let report = try Harness.json(try Self.read(json))
        let sections = try #require(report["documents"] as? [[String: Any]])
        let dom = try ExportHTMLTests().chromium(["--dump-dom", "file://" + html])
        try #require(dom.exitCode == 0, "\(dom.stderr)")
        for section in sections {
            let document = try #require(section["document"] as? [String: Any])
            #expect(dom.stdout.contains(document["sha256"] as? String ?? "?"))
            #expect(dom.stdout.contains(document["indication"] as? String ?? "?"))
        }
        #expect(dom.stdout.contains("TOTAL_FAILED") && dom.stdout.contains("CN=张伟"))
        let shot = directory + "/r.png"
        let result = try ExportHTMLTests().chromium(["--hide-scrollbars", "--window-size=1240,1754", "--screenshot=" + shot, "file://" + html])
        try #require(result.exitCode == 0, "\(result.stderr)")
        #expect(try ExportHTMLTests().pngSize(shot) == (1240, 1754))
        #expect(try Harness.fileSize(shot) > 50_000)
    }
}

