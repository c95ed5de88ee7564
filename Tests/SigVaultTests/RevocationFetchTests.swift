import Foundation
import GRDB
@testable import SigVaultRepository
import OpenSSLBridge
@testable import SigVault
import SigVaultFormat
import EvidenceRecords
import Testing

/// One case of Fixtures/netpki: a document signed (and time-stamped by the Net TSA) with a
/// certificate whose OCSP and CRL URLs lead to Tests/Servers/revocation-server.py.
struct NetworkCase: CustomTestStringConvertible, Sendable {
    let name: String
    let indication: String
    let subIndication: String?
    /// Each must appear in pack's warnings (none expected when empty).
    let warnings: [String]
    /// What the archive keeps: "ocsp" (the signer's OCSP response) or "crl".
    let stored: String?
    var testDescription: String { name }

    static let all: [NetworkCase] = [
        NetworkCase(name: "good", indication: "TOTAL_PASSED", subIndication: nil, warnings: [], stored: "ocsp"),
        NetworkCase(name: "revoked", indication: "INDETERMINATE", subIndication: "REVOKED_NO_POE", warnings: [], stored: "ocsp"),
        NetworkCase(name: "unknown", indication: "TOTAL_PASSED", subIndication: nil,
                    warnings: ["CN=Uma Unknown", "the responder does not know the certificate (status unknown)", "used the CRL from http://127.0.0.1:18780/crl/ca.crl"],
                    stored: "crl"),
        NetworkCase(name: "unauthorised", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Una Unauthorised", "OCSP http://127.0.0.1:18782/", "its signer CN=SigVault Net Not A Responder,O=SigVault Net Test is not authorised to answer for CN=SigVault Net CA"], stored: nil),
        NetworkCase(name: "stale", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Stan Stale", "CRL http://127.0.0.1:18780/crl/stale.crl", "stale: its nextUpdate 2025-01-08T00:00:00Z has passed"], stored: nil),
        NetworkCase(name: "slow", indication: "TOTAL_PASSED", subIndication: nil,
                    warnings: ["CN=Sid Slow", "OCSP http://127.0.0.1:18780/slow-ocsp: no answer within 1 s (timed out), 2 attempts", "used the CRL"],
                    stored: "crl"),
        NetworkCase(name: "down", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Dora Down", "OCSP http://127.0.0.1:18789/: cannot reach it: connection refused",
                               "CRL http://127.0.0.1:18789/ca.crl: cannot reach it: connection refused"], stored: nil),
        NetworkCase(name: "garbage", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Gary Garbage", "OCSP http://127.0.0.1:18780/garbage-ocsp: not a usable OCSP response",
                               "CRL http://127.0.0.1:18780/garbage-crl: not a CRL"], stored: nil),
        NetworkCase(name: "replayed", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Rex Replayed", "OCSP http://127.0.0.1:18780/replayed-ocsp: the response's nonce is not the one sent"], stored: nil),
        NetworkCase(name: "misdirected", indication: "INDETERMINATE", subIndication: "TRY_LATER",
                    warnings: ["CN=Mia Misdirected", "OCSP http://127.0.0.1:18780/misdirected-ocsp: the response does not speak about the certificate"],
                    stored: nil),
    ]
}

/// `--fetch-revocation` and `--require-complete` against real servers: OpenSSL's OCSP responder
/// and an HTTP server for CRLs on the ports the network PKI's certificates name.
@Suite(.serialized) struct RevocationFetchTests {
    static let trust = ["--trust", "Fixtures/netpki/root.pem"]

    func servers() throws {
        let server = try LocalServer.revocation.get()  // its error says why it did not start (a port in use)
        #expect(server.port == 18780)
    }

    func pack(_ name: String, _ arguments: [String], in directory: String) throws -> (String, Harness.Result) {
        let archive = directory + "/\(name).svz"
        let result = try Harness.sigvault(["pack", "Fixtures/netpki/cases/\(name)"] + Self.trust + arguments + ["--json", "-o", archive])
        return (archive, result)
    }

    @Test func certificatesNameTheirResponderAndDistributionPoint() throws {
        let good = try #require(try Certificate.parseAll([UInt8](Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/netpki/certs/good.pem")))).first)
        #expect(good.ocspURLs == ["http://127.0.0.1:18781/"])
        #expect(good.crlDistributionURLs == ["http://127.0.0.1:18780/crl/ca.crl"])
        let stale = try #require(try Certificate.parseAll([UInt8](Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/netpki/certs/stale.pem")))).first)
        #expect(stale.ocspURLs.isEmpty)
        #expect(stale.crlDistributionURLs == ["http://127.0.0.1:18780/crl/stale.crl"])
    }

    /// Each case packed on its own with --fetch-revocation: the verdict the fetched data gives, the
    /// warnings naming the certificate and URL, and the data kept in the archive so that verify,
    /// offline, comes to the same verdict.
    @Test(arguments: NetworkCase.all) func fetchedDataDecidesTheVerdict(_ item: NetworkCase) throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try self.pack(item.name, ["--fetch-revocation", "--fetch-timeout", "1"], in: directory)
        #expect(pack.exitCode == (item.indication == "TOTAL_PASSED" ? 0 : 2), "\(pack.stderr)")
        for expected in item.warnings {
            #expect(pack.stderr.contains(expected), "missing \"\(expected)\" in: \(pack.stderr)")
        }
        if item.warnings.isEmpty { #expect(!pack.stderr.contains("warning"), "\(pack.stderr)") }

        let verify = try Harness.sigvault(["verify", archive, "--json"] + Self.trust)
        let report = try Harness.json(verify.stdout)
        let document = try #require((report["documents"] as? [[String: Any]])?.first)
        #expect(document["indication"] as? String == item.indication, "\(document)")
        #expect(document["subIndication"] as? String == item.subIndication, "\(document)")

        // The TSA's and the Net CA's data come by OCSP in every case (the CA's from a responder that
        // leaves the nonce out); the signer's by OCSP or CRL, or not at all.
        let members = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive]).stdout.split(separator: "\n")
        #expect(members.filter { $0.hasPrefix("evidence/ocsp/") }.count == (item.stored == "ocsp" ? 3 : 2), "\(members)")
        #expect(members.filter { $0.hasPrefix("evidence/crls/") }.count == (item.stored == "crl" ? 1 : 0), "\(members)")
    }

    /// verify --fetch-revocation: what the archive lacks is fetched with pack's fetcher, used, reported
    /// as from outside, and never written into the archive (issue 8, material at verification time).
    @Test func verifyFetchesWhatTheArchiveLacksAndLeavesItUnchanged() throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try self.pack("good", [], in: directory)
        #expect(pack.exitCode == 2, "without any revocation data the signature waits: \(pack.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: archive))
        let offline = try Harness.json(try Harness.sigvault(["verify", archive, "--json"] + Self.trust).stdout)
        #expect((offline["documents"] as? [[String: Any]])?.first?["subIndication"] as? String == "TRY_LATER")

        let fetched = try Harness.sigvault(["verify", archive, "--json", "--fetch-revocation", "--fetch-timeout", "2"] + Self.trust)
        #expect(fetched.exitCode == 0, "\(fetched.stdout)\(fetched.stderr)")
        let report = try Harness.json(fetched.stdout)
        let signature = try #require(((report["documents"] as? [[String: Any]])?.first?["signatures"] as? [[String: Any]])?.first)
        #expect(signature["indication"] as? String == "TOTAL_PASSED", "\(signature["reason"] ?? "")")
        let sources = (signature["revocation"] as? [[String: Any]] ?? []).compactMap { ($0["decidedBy"] as? [String: Any])?["source"] as? String }
        #expect(!sources.isEmpty && sources.allSatisfy { $0 == "outside" }, "\(signature["revocation"] ?? "")")
        #expect(try Data(contentsOf: URL(fileURLWithPath: archive)) == before, "verify never changes the archive")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["good.svz"])
    }

    /// A certificate whose status the material already decides is not fetched for: packed after
    /// "slow" (whose OCSP responder times out, so the Net CA's CRL is fetched), "stale" is decided
    /// by that CRL, and its own stale distribution point is never asked.
    @Test func whatTheMaterialDecidesIsNotFetched() throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/both.svz"
        let pack = try Harness.sigvault(["pack", "Fixtures/netpki/cases/slow", "Fixtures/netpki/cases/stale"] + Self.trust
                                        + ["--fetch-revocation", "--fetch-timeout", "1", "-o", archive])
        #expect(pack.exitCode == 0, "\(pack.stdout)\(pack.stderr)")
        #expect(pack.stderr.contains("CN=Sid Slow"), "\(pack.stderr)")
        #expect(!pack.stderr.contains("Stan Stale") && !pack.stderr.contains("stale.crl"), "\(pack.stderr)")
    }

    /// The HTTP exchange under the fetcher: an answer over its limit is refused as it arrives,
    /// whether or not the server announces its length; a 4xx says what the server said.
    @Test func oversizedAndRefusedAnswers() throws {
        try servers()
        for path in ["/big", "/big-unsized"] {
            #expect(throws: HTTPExchange.Failure.self) {
                _ = try HTTPExchange.send(URL(string: "http://127.0.0.1:18780\(path)")!, accept: "*/*", timeout: 5, limit: 1 << 20)
            }
            do {
                _ = try HTTPExchange.send(URL(string: "http://127.0.0.1:18780\(path)")!, accept: "*/*", timeout: 5, limit: 1 << 20)
            } catch let failure as HTTPExchange.Failure {
                #expect(failure.reason == "the answer is larger than 1024 KiB" && !failure.transient, "\(path): \(failure.reason)")
            }
        }
        let whole = try HTTPExchange.send(URL(string: "http://127.0.0.1:18780/big")!, accept: "*/*", timeout: 5, limit: 4 << 20)
        #expect(whole.count == 2 << 20)
        do {
            _ = try HTTPExchange.send(URL(string: "http://127.0.0.1:18780/crl/none.crl")!, accept: "*/*", timeout: 5, limit: 1 << 20)
            Issue.record("a 404 was taken as an answer")
        } catch let failure as HTTPExchange.Failure {
            #expect(failure.reason == "HTTP status 404: not found" && !failure.transient, "\(failure.reason)")
        }
    }

    @Test func fetchLimitsAreCheckedAsUsage() throws {
        for arguments in [["--fetch-timeout", "5"], ["--fetch-revocation", "--fetch-timeout", "0"],
                          ["--fetch-revocation", "--fetch-attempts", "11"]] {
            let result = try Harness.sigvault(["pack", "Fixtures/netpki/cases/good", "-o", "/nonexistent/x.svz"] + arguments)
            #expect(result.exitCode == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("sigvault: error: --fetch-"), "\(result.stderr)")
        }
    }

    /// Without --fetch-revocation nothing is fetched: the Net CA's chain has no data at all.
    @Test func requireCompleteRefusesAndWritesNothing() throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, refused) = try pack("good", ["--require-complete"], in: directory)
        #expect(refused.exitCode == 4, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: archive))
        let error = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("sigvault: error:") }
        #expect(error.count == 1, "one line: \(refused.stderr)")
        #expect(refused.stderr.contains("\(archive): not written: --require-complete"), "\(refused.stderr)")
        #expect(refused.stderr.contains("time-stamp of 2024-03-01T10:05:00Z by CN=SigVault Net TSA"), "the TSA's chain is listed: \(refused.stderr)")
        #expect(refused.stderr.contains("signature by CN=Gina Good"), "the signer's chain is listed: \(refused.stderr)")
        #expect(refused.stderr.contains("--fetch-revocation"), "the hint says how: \(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "no temporary file left")

        let (_, complete) = try pack("good", ["--require-complete", "--fetch-revocation"], in: directory)
        #expect(complete.exitCode == 0, "\(complete.stderr)")

        let (downArchive, down) = try pack("down", ["--require-complete", "--fetch-revocation", "--fetch-attempts", "1"], in: directory)
        #expect(down.exitCode == 4, "\(down.stderr)")
        #expect(down.stderr.contains("signature by CN=Dora Down") && down.stderr.contains("for CN=Dora Down,O=SigVault Net Test"), "\(down.stderr)")
        #expect(down.stderr.contains("sigvault: warning: CN=Dora Down,O=SigVault Net Test (serial 3007): no revocation data fetched that decides its status at 2024-03-01T10:05:00Z: OCSP http://127.0.0.1:18789/"),
                "the warnings say why, before the error: \(down.stderr)")
        #expect(!FileManager.default.fileExists(atPath: downArchive))
    }

    /// The archive time-stamp's own TSA chain gets revocation data fetched right after its genTime
    /// (kept in the evidence section), so it is TOTAL_PASSED at once; renew moves that data into
    /// the token before covering it, and fetches the new token's.
    /// Issue 10, evidence that completes itself: night 1's archive time-stamp waits for its TSA's
    /// status (INDETERMINATE); night 2 with --fetch-revocation (one new file) fetches it and stores
    /// it in its own archive; `verify --repo` of night 1 then finds it, offline.
    @Test func aLaterNightStoresTheStatusOfEarlierArchiveTimeStamps() throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa, "the local TSA did not start").url("/net-tsa").absoluteString
        try FileManager.default.copyItem(atPath: Harness.fixtures + "/netpki/cases/good", toPath: directory + "/src")
        let repo = directory + "/repo"
        #expect(try Harness.sigvault(["init", repo, "--trust", Harness.fixtures + "/netpki/root.pem", "--tsa", tsa]).exitCode == 0)
        let first = try Harness.sigvault(["backup", "src", "--repo", repo, "--json"], cwd: directory)
        let night1 = try Harness.json(first.stdout)
        let archive1 = repo + "/archives/" + (try #require(night1["archive"] as? String))
        func proof(_ extra: [String]) throws -> String? {
            let verify = try Harness.sigvault(["verify", archive1, "--json", "--at", ISOTime.format(Date().addingTimeInterval(5))] + Self.trust + extra,
                                              environment: ["SIGVAULT_REPOSITORY": ""])
            return (try Harness.json(verify.stdout)["proofOfTime"] as? [String: Any])?["indication"] as? String
        }
        #expect(try proof([]) == "INDETERMINATE", "no data about its TSA issued after its genTime yet")
        Thread.sleep(forTimeInterval: 1.1)
        try "a new note\n".write(toFile: directory + "/src/note.txt", atomically: false, encoding: .utf8)
        let second = try Harness.sigvault(["backup", "src", "--repo", repo, "--fetch-revocation", "--json"], cwd: directory)
        let night2 = try Harness.json(second.stdout)
        #expect((night2["timeStampStatusStored"] as? Int ?? 0) >= 1 && night2["archive"] is String && night2["new"] as? Int == 1,
                "\(second.stdout)\(second.stderr)")
        #expect(try proof(["--repo", repo]) == "TOTAL_PASSED")
        // The catalog marks both settled (night 1's by night 2's archive, night 2's by its own
        // section): later nights do not look at them again.
        let catalog = try Catalog(repository: try Repository(opening: repo))
        let settled = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM archive WHERE statusSettled = 1") }
        #expect(settled == 1, "night 1 settled (night 2's own is looked at on the next night with a change)")
        #expect(try proof([]) == "INDETERMINATE", "the archive itself is unchanged")
        // A night without change writes no archive, and fetches nothing for it.
        let third = try Harness.sigvault(["backup", "src", "--repo", repo, "--fetch-revocation", "--json"], cwd: directory)
        let night3 = try Harness.json(third.stdout)
        #expect(night3["archive"] is NSNull && night3["timeStampStatusStored"] as? Int == 0, "\(third.stdout)")
        // The next night with a change fetches nothing: night 1's time-stamp is settled by night 2's
        // archive, night 2's by its own evidence section (pack --tsa --fetch-revocation fetched its
        // TSA's status right after its genTime).
        Thread.sleep(forTimeInterval: 1.1)
        try "another note\n".write(toFile: directory + "/src/note2.txt", atomically: false, encoding: .utf8)
        let fourth = try Harness.json(try Harness.sigvault(["backup", "src", "--repo", repo, "--fetch-revocation", "--json"], cwd: directory).stdout)
        #expect(fourth["archive"] is String && fourth["timeStampStatusStored"] as? Int == 0, "\(fourth)")
        let settledNow = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM archive WHERE statusSettled = 1") }
        #expect(settledNow == 2, "nights 1 and 2 settled; night 4's own waits for a later night")
    }

    @Test func archiveTimeStampsCarryTheirTSAsRevocationData() throws {
        try servers()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa, "the local TSA did not start").url("/net-tsa").absoluteString
        let (archive, pack) = try self.pack("good", ["--tsa", tsa, "--fetch-revocation", "--require-complete"], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        func proof() throws -> [String: Any] {
            let verify = try Harness.sigvault(["verify", archive, "--json", "--at", ISOTime.format(Date().addingTimeInterval(5))] + Self.trust)
            return try #require(try Harness.json(verify.stdout)["proofOfTime"] as? [String: Any])
        }
        let packed = try proof()
        #expect(packed["indication"] as? String == "TOTAL_PASSED", "\(packed)")
        func evidence() throws -> ArchiveEvidence {
            try #require(try ArchiveReader(path: archive).evidence())
        }
        // The TSA's OCSP response (by the delegated responder) and the Net CA's (by the root).
        #expect(try evidence().material.filter { $0.kind == .ocsp }.count == 2)

        // The restored document's own record carries that data in its token: complete on its own.
        let restored = directory + "/restored"
        let restore = try Harness.sigvault(["restore", archive, "--to", restored])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        let document = "Fixtures/netpki/cases/good/statement.txt"
        let evidenceFolder = restored + "/.sigvault-evidence/" + document
        let material = try FileManager.default.subpathsOfDirectory(atPath: evidenceFolder).filter { $0.hasSuffix(".der") || $0.hasSuffix(".crl") }
        let ers = try Harness.sigvault(["ers", "verify", evidenceFolder + "/evidence-record.ers", "--data", restored + "/" + document,
                                        "--data", restored + "/" + document + ".p7s"] + material.flatMap { ["--data", evidenceFolder + "/" + $0] } + Self.trust)
        #expect(ers.exitCode == 0, "\(ers.stdout)\(ers.stderr)")
        #expect(ers.stdout.contains("TOTAL_PASSED"), "\(ers.stdout)")

        Thread.sleep(forTimeInterval: 1.1)  // a later genTime for the new time-stamp
        let renew = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--fetch-revocation"] + Self.trust)
        #expect(renew.exitCode == 0, "\(renew.stderr)")
        #expect(!renew.stderr.contains("no revocation data"), "\(renew.stderr)")
        let renewed = try evidence()
        let first = renewed.template.archiveTimeStampSequence[0].archiveTimeStamps[0].timeStamp
        #expect(EmbeddedRevocationInfo.ocspResponses(inContentInfo: first).count == 2, "the first token now carries its chain's responses")
        #expect(renewed.material.filter { $0.kind == .ocsp }.count == 2, "the new token's, fetched after its genTime")
        let proven = try proof()
        #expect(proven["indication"] as? String == "TOTAL_PASSED", "\(proven)")

        // A renewal whose TSA cannot be reached changes nothing, material included, although the
        // material was fetched and moved before the TSA was asked.
        let before = try Data(contentsOf: URL(fileURLWithPath: archive))
        let failed = try Harness.sigvault(["renew", archive, "--tsa", "http://127.0.0.1:\(LocalServer.closedPort())/", "--fetch-revocation",
                                           "--fetch-attempts", "1"] + Self.trust)
        #expect(failed.exitCode == 2, "\(failed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: archive)) == before, "the archive is unchanged")
    }
}
