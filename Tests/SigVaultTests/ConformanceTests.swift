import Foundation
import OpenSSLBridge
import Testing

/// One row of Fixtures/conformance.tsv: an ETSI EN 319 102-1 rule's case (issue 8), packed and
/// verified through the binary with its own arguments.
struct ConformanceCase: CustomTestStringConvertible, Sendable {
    let name: String
    let folder: String
    let rule: String
    let indication: String
    let subIndication: String?
    let packArguments: [String]
    let verifyArguments: [String]
    var testDescription: String { "\(name) (rule \(rule))" }

    static let directory = "Fixtures/conformance"

    static let all: [ConformanceCase] = {
        guard let text = try? String(contentsOfFile: Harness.packageRoot + "/Fixtures/conformance.tsv", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 7 else { return nil }
            func words(_ field: String) -> [String] {
                field == "-" ? [] : field.split(separator: " ").map { $0.replacingOccurrences(of: "$C", with: directory) }
            }
            return ConformanceCase(name: fields[0], folder: fields[1], rule: fields[2], indication: fields[3],
                                   subIndication: fields[4] == "-" ? nil : fields[4],
                                   packArguments: words(fields[5]), verifyArguments: words(fields[6]))
        }
    }()

    /// The arguments every case starts from: `defaults` (option, value) pairs, then the row's own.
    /// A row's `--trust` or `--certs` replaces the default one (rule 7 sets the certificates'
    /// order); `--ocsp NONE` drops the default `--ocsp` (whose responses carry the CA's certificate).
    static func withDefaults(_ own: [String], _ defaults: [(String, String)]) -> [String] {
        var own = own
        var dropped: Set<String> = []
        while let index = own.firstIndex(of: "NONE"), index > 0 {
            dropped.insert(own[index - 1])
            own.removeSubrange((index - 1)...index)
        }
        let replaced: Set<String> = Set(["--trust", "--certs"].filter(own.contains)).union(dropped)
        return ([("--trust", "\(directory)/pki/root.pem")] + defaults).filter { !replaced.contains($0.0) }
            .flatMap { [$0.0, $0.1] } + own
    }

    var pack: [String] {
        Self.withDefaults(packArguments, [("--certs", "\(Self.directory)/pki/ca.pem"), ("--crls", "\(Self.directory)/crl/root"),
                                          ("--ocsp", "\(Self.directory)/ocsp/tsa"), ("--crls", "\(Self.directory)/current"),
                                          ("--ocsp", "\(Self.directory)/current"), ("--at", Harness.verifyTime)])
    }

    /// Verification at 2026-06-01 with data fresh then for the TSA and the CA (Fixtures/conformance/current).
    var verify: [String] {
        Self.withDefaults(verifyArguments, [("--crls", "\(Self.directory)/current"), ("--ocsp", "\(Self.directory)/current"),
                                            ("--at", Harness.verifyTime)]) + ["--json"]
    }
}

@Suite struct ConformanceTests {
    @Test func theTableHasEveryRuleWithAPassingCaseAndAFailingTwin() {
        let rules = Dictionary(grouping: ConformanceCase.all, by: \.rule)
        #expect(rules.count >= 4, "\(rules.keys.sorted())")
        for (rule, cases) in rules {
            #expect(cases.contains { $0.indication == "TOTAL_PASSED" }, "rule \(rule) has no passing case")
            #expect(cases.contains { $0.indication != "TOTAL_PASSED" }, "rule \(rule) has no failing twin")
        }
    }

    @Test(arguments: ConformanceCase.all)
    func caseGetsItsVerdict(_ fixture: ConformanceCase) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "\(ConformanceCase.directory)/cases/\(fixture.folder)", "-o", archive] + fixture.pack)
        #expect(pack.exitCode == (fixture.indication == "TOTAL_PASSED" ? 0 : 2), "pack: \(pack.stdout)\(pack.stderr)")

        let verify = try Harness.sigvault(["verify", archive] + fixture.verify)
        let report = try Harness.json(verify.stdout)
        #expect((report["integrity"] as? [String: Any])?["ok"] as? Bool == true)
        let document = try #require((report["documents"] as? [[String: Any]])?.first { $0["signed"] as? Bool == true })
        #expect(document["indication"] as? String == fixture.indication, "\(document["reason"] ?? "")")
        #expect(document["subIndication"] as? String == fixture.subIndication, "\(document["reason"] ?? "")")
        let exit: Int32 = fixture.indication == "TOTAL_PASSED" ? 0 : fixture.indication == "TOTAL_FAILED" ? 1 : 2
        #expect(verify.exitCode == exit, "\(verify.stderr)")
    }
}

/// Rule 11 of issue 8: reports say only what the proofs cover, and name the data behind every status.
@Suite struct HonestReportTests {
    static let c = ConformanceCase.directory

    static func packAndVerify(_ folder: String, pack: [String] = [], verify: [String] = [], in directory: String) throws
        -> (pack: Harness.Result, verify: Harness.Result, report: [String: Any]) {
        let archive = directory + "/\(UUID().uuidString).svz"
        let packed = try Harness.sigvault(["pack", folder, "-o", archive, "--trust", "\(c)/pki/root.pem", "--certs", "\(c)/pki/ca.pem",
                                           "--crls", "\(c)/crl/root", "--ocsp", "\(c)/ocsp/tsa", "--at", Harness.verifyTime] + pack)
        let verified = try Harness.sigvault(["verify", archive, "--trust", "\(c)/pki/root.pem", "--at", Harness.verifyTime, "--json"] + verify)
        return (packed, verified, try Harness.json(verified.stdout))
    }

    static func document(_ report: [String: Any]) throws -> [String: Any] {
        try #require((report["documents"] as? [[String: Any]])?.first)
    }

    @Test func aDocumentTimeStampThatDoesNotMatchIsAFinding() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let current = ["--crls", "\(Self.c)/current", "--ocsp", "\(Self.c)/current"]
        let good = try Self.packAndVerify("\(Self.c)/cases/document-token", pack: current, in: directory)
        #expect(good.pack.exitCode == 0, "\(good.pack.stderr)")
        #expect(good.verify.exitCode == 0, "\(good.verify.stdout)")
        #expect(try Self.document(good.report)["proofOfExistence"] as? String == "2025-03-01T10:05:00Z")

        let bad = try Self.packAndVerify("\(Self.c)/cases/document-token-mismatch", pack: current, in: directory)
        #expect(bad.pack.exitCode == 2, "\(bad.pack.stderr)")
        #expect(bad.pack.stderr.contains("register.txt: the time-stamp in") && bad.pack.stderr.contains("proves nothing: message imprint does not match"),
                "\(bad.pack.stderr)")
        #expect(bad.verify.exitCode == 2, "a document time-stamp that does not match is a finding: \(bad.verify.stdout)")
        let document = try Self.document(bad.report)
        #expect(document["proofOfExistence"] is NSNull)
        let stamp = try #require((document["documentTimeStamps"] as? [[String: Any]])?.first)
        #expect(stamp["subIndication"] as? String == "HASH_FAILURE")
        #expect((bad.report["summary"] as? [String: Any])?["documentTimeStampProblems"] as? Int == 1)
    }

    @Test func aTimeStampOverABrokenSignatureProvesNoExistence() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // tampered-document: the signature's time-stamp is valid, but the signature does not match
        // the document, so nothing proves the document's bytes existed then.
        let (archive, _) = try Harness.pack(["Fixtures/cases/tampered-document"], in: directory)
        let (_, report) = try Harness.verifyJSON(archive)
        let document = try Self.document(report)
        #expect(document["subIndication"] as? String == "HASH_FAILURE")
        #expect(document["proofOfExistence"] is NSNull, "\(document["proofOfExistence"] ?? "")")
        let text = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime])
        #expect(!text.stdout.contains("proven to exist"), "\(text.stdout)")
    }

    @Test func everyStatusNamesItsDataAndWhereItCameFrom() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Packed without data about the TSA at the validation time; verify brings it from outside.
        let (_, verify, report) = try Self.packAndVerify("\(Self.c)/cases/statement", pack: ["--crls", "\(Self.c)/crl/same-day"],
                                                         verify: ["--ocsp", "\(Self.c)/current", "--crls", "\(Self.c)/current"], in: directory)
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let signature = try #require((try Self.document(report)["signatures"] as? [[String: Any]])?.first)
        let statuses = try #require(signature["revocation"] as? [[String: Any]])
        let sameDay = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Harness.packageRoot + "/\(Self.c)/crl/same-day/ca-2025-03-01.crl")))
        let signer = try #require(statuses.first)
        #expect(signer["certificate"] as? String == "CN=Sam Signer,O=SigVault Conformance")
        #expect(signer["status"] as? String == "notRevoked")
        #expect(signer["at"] as? String == "2025-03-01T10:05:00Z")
        let decided = try #require(signer["decidedBy"] as? [String: Any])
        #expect(decided["kind"] as? String == "crl")
        #expect(decided["sha256"] as? String == Hex.encode(OpenSSLBridge.Hasher.digest(sameDay)))
        #expect(decided["issued"] as? String == "2025-03-01T00:00:00Z")
        #expect(decided["source"] as? String == "archive")
        // The TSA at the validation time: by the CA's OCSP answer of 2026-05-31, from outside.
        let stamp = try #require((signature["timeStamps"] as? [[String: Any]])?.first)
        let tsaNow = try #require((stamp["revocation"] as? [[String: Any]])?.first { $0["at"] as? String == Harness.verifyTime
            && ($0["certificate"] as? String)?.hasPrefix("CN=SigVault Conformance TSA") == true })
        let tsaData = try #require(tsaNow["decidedBy"] as? [String: Any])
        #expect(tsaData["kind"] as? String == "ocsp")
        #expect(tsaData["source"] as? String == "outside")
        #expect(tsaData["issued"] as? String == "2026-05-31T00:00:00Z")
        let text = try Harness.sigvault(["verify", try #require(report["archive"] as? String), "--trust", "\(Self.c)/pki/root.pem",
                                         "--at", Harness.verifyTime, "--ocsp", "\(Self.c)/current", "--crls", "\(Self.c)/current"])
        #expect(text.stdout.contains("status of CN=Sam Signer,O=SigVault Conformance (serial 3001) at 2025-03-01T10:05:00Z: notRevoked, by CRL"), "\(text.stdout)")
        #expect(text.stdout.contains("(outside)"), "\(text.stdout)")
    }
}

/// `pack --require-complete` refuses data that is not fresh at the best signature time (rule 1), and
/// with `--grace` data issued less than that long after it (the CAdES grace period).
@Suite struct RequireCompleteTests {
    @Test func graceDemandsDataIssuedThatLongAfterTheBestSignatureTime() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let c = ConformanceCase.directory
        let base = ["pack", "\(c)/cases/statement", "--trust", "\(c)/pki/root.pem", "--certs", "\(c)/pki/ca.pem", "--crls", "\(c)/crl/root",
                    "--crls", "\(c)/crl/same-day", "--ocsp", "\(c)/ocsp/tsa", "--crls", "\(c)/current", "--ocsp", "\(c)/current",
                    "--at", Harness.verifyTime, "--require-complete"]
        // The same-day CRL (00:00) is fresh at the 10:05 time-stamp: complete.
        let plain = try Harness.sigvault(base + ["-o", directory + "/a.svz"])
        #expect(plain.exitCode == 0, "\(plain.stderr)")
        // With a grace period of an hour, the signer's data must be issued at 11:05 or later.
        let strict = try Harness.sigvault(base + ["--grace", "1h", "-o", directory + "/b.svz"])
        #expect(strict.exitCode == 4, "\(strict.stderr)")
        #expect(strict.stderr.contains("no revocation data for CN=Sam Signer,O=SigVault Conformance issued at or after 2025-03-01T11:05:00Z (--grace after 2025-03-01T10:05:00Z)"),
                "\(strict.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/b.svz"))
        let usage = try Harness.sigvault(["pack", "\(c)/cases/statement", "--grace", "1h", "-o", directory + "/c.svz"])
        #expect(usage.exitCode == 64, "\(usage.stderr)")
    }
}
