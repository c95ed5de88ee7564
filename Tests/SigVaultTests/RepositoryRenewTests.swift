import Foundation
import Testing
@testable import SigVault
@testable import SigVaultRepository
import SigVaultFormat
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: `renew --repo` renews every due archive of a repository with one TSA request (RFC 4998
/// §5.2 with §4.3), storing each archive's renewed evidence as a new write-once object beside it
/// (FORMAT.md §11); readers given the repository judge it; a renewal killed at any moment loses
/// nothing.
@Suite(.serialized) struct RepositoryRenewTests {
    static func tsa() throws -> String { try #require(LocalServer.tsa, "the local TSA did not start").url("/tsa").absoluteString }

    /// Two nights with an archive time-stamp each, then the arguments for a renewal that has
    /// current revocation data for the TSA (made after both time-stamps).
    static func repository(_ directory: String) throws -> (repo: String, archives: [String], renew: [String]) {
        let (repo, first, second, _) = try ReferenceTests.twoNights(directory, ["--tsa", try tsa()])
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try RenewTests.freshTSAResponses(in: directory).flatMap { ["--ocsp", $0] }
        Thread.sleep(forTimeInterval: 1.1)
        return (repo, [first, second], ["renew", "--repo", repo, "--tsa", try tsa()] + ocsp)
    }

    static func sha256(_ path: String) throws -> String {
        try Harness.run("/usr/bin/sha256sum", [path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }

    @Test func oneRequestRenewsEveryArchiveAndEachRecordStillVerifiesAlone() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, archives, renew) = try Self.repository(directory)
        let before = try archives.map(Self.sha256)

        let result = try Harness.sigvault(renew + ["--json"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let summary = try Harness.json(result.stdout)
        let renewed = summary["renewed"] as? [[String: Any]] ?? []
        #expect(summary["archives"] as? Int == 2 && renewed.count == 2 && summary["requests"] as? Int == 1, "\(summary)")
        let names = archives.map { ($0 as NSString).lastPathComponent }
        #expect(renewed.map { $0["object"] as? String } == names.map { "\($0).evidence-1" }, "\(renewed)")
        #expect(Set(renewed.map { $0["genTime"] as? String }).count == 1, "one token for both")
        // Write-once: the archives are not touched; the renewed evidence is beside them.
        #expect(try archives.map(Self.sha256) == before)
        for name in names { #expect(FileManager.default.fileExists(atPath: repo + "/archives/\(name).evidence-1")) }

        // verify --repo judges the renewed evidence; the archive alone still has its own.
        for archive in archives {
            let together = try Harness.sigvault(["verify", archive, "--repo", repo, "--trust", Harness.fixtures + "/pki/root.pem", "--json"])
            let report = try Harness.json(together.stdout)
            #expect((report["integrity"] as? [String: Any])?["ok"] as? Bool == true, "\(together.stdout)")
            #expect(report["renewedEvidence"] as? String == "\((archive as NSString).lastPathComponent).evidence-1", "\(report["renewedEvidence"] ?? "nil")")
            let alone = try Harness.sigvault(["verify", archive, "--integrity-only", "--json"], environment: ["SIGVAULT_REPOSITORY": ""])
            #expect(try Harness.json(alone.stdout)["renewedEvidence"] is NSNull, "\(alone.stdout)")
        }

        // Each archive's documents' records, restored with the repository, verify on their own:
        // the new time-stamp covers each archive's token through its own reduced hash tree.
        for (index, archive) in archives.enumerated() {
            let target = directory + "/restored-\(index)"
            let restore = try Harness.sigvault(["restore", archive, "--to", target], environment: ["SIGVAULT_REPOSITORY": repo])
            #expect(restore.exitCode == 0, "\(restore.stderr)")
            let (record, stamps) = try ReferenceTests.letterRecord(restoredIn: target)
            #expect(stamps.count == 2 && stamps.allSatisfy { $0["coverage"] as? String == "covered" }, "\(archive): \(record.stdout)")
            #expect((stamps.last?["forms"] as? [String])?.contains("time-stamp renewal") == true, "\(stamps)")
        }

        // The catalog has the dates that matter; check and a rebuilt catalog agree.
        let check = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(check.exitCode == 0, "\(check.stdout)")
        let catalog = try Catalog(repository: try Repository(opening: repo))
        let dates = try catalog.read { db in try Row.fetchAll(db, sql: "SELECT name, archiveTimeStamp, renewBefore FROM archive ORDER BY seq") }
        #expect(dates.count == 2 && dates.allSatisfy { ($0["archiveTimeStamp"] as String?) == renewed.first?["genTime"] as? String && ($0["renewBefore"] as String?) != nil },
                "\(dates)")
        // log shows them per version: the signer's certificate's expiry (openssl's reading of the
        // fixture's signer certificate), the time-stamp's, the sunset, the archive's renewal.
        let log = try Harness.sigvault(["log", "src/valid-pem-sig/letter.txt", "--repo", repo, "--json"])
        let entries = try Harness.json(log.stdout)["entries"] as? [[String: Any]] ?? []
        let signerCertificate = try #require(try Self.signerCertificate(directory + "/src/valid-pem-sig/letter.txt.sig", in: directory))
        let endDate = try Harness.openssl(["x509", "-in", signerCertificate, "-noout", "-enddate", "-dateopt", "iso_8601"]).stdout
        let expected = endDate.replacingOccurrences(of: "notAfter=", with: "").trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: " ", with: "T")
        #expect(entries.count == 2 && entries.allSatisfy { $0["signerNotAfter"] as? String == expected }, "\(expected) \(entries)")
        #expect(entries.allSatisfy { $0["archiveTimeStamp"] as? String == renewed.first?["genTime"] as? String && $0["renewBefore"] is String }, "\(entries)")
        #expect(try Harness.sigvault(["repo", "rebuild-catalog", "--repo", repo]).exitCode == 0)
        let rebuilt = try Catalog(repository: try Repository(opening: repo))
        let objects = try rebuilt.read { db in try String.fetchAll(db, sql: "SELECT object FROM renewal ORDER BY object") }
        #expect(objects == names.map { "\($0).evidence-1" }.sorted(), "\(objects)")
        let again = try rebuilt.read { db in try String.fetchAll(db, sql: "SELECT archiveTimeStamp FROM archive ORDER BY seq") }
        #expect(again == dates.compactMap { $0["archiveTimeStamp"] as String? }, "\(again)")

        // Not due within the window: nothing is written. A second renewal adds the next object.
        let notDue = try Harness.sigvault(renew + ["--before", "30d"])
        #expect(notDue.exitCode == 0 && notDue.stdout.contains("0 of 2 archives renewed") && notDue.stdout.contains("2 not due"), "\(notDue.stdout)")
        Thread.sleep(forTimeInterval: 1.1)
        let second = try Harness.sigvault(renew)
        #expect(second.exitCode == 0 || second.exitCode == 2, "\(second.stderr)")
        for name in names { #expect(FileManager.default.fileExists(atPath: repo + "/archives/\(name).evidence-2")) }
        let verify = try Harness.sigvault(["verify", archives[0], "--repo", repo, "--integrity-only", "--json"])
        #expect(try Harness.json(verify.stdout)["renewedEvidence"] as? String == "\(names[0]).evidence-2" && verify.exitCode == 0, "\(verify.stdout)")

        // A repository's archive is never rewritten by `renew <archive>`.
        let rewrite = try Harness.sigvault(["renew", archives[0], "--tsa", try Self.tsa()])
        #expect(rewrite.exitCode == 64 && rewrite.stderr.contains("never rewritten") && rewrite.stderr.contains("renew --repo"), "\(rewrite.stderr)")
        #expect(try Self.sha256(archives[0]) == before[0])
    }

    /// The signer certificate of a detached CMS signature file, as PEM (openssl's own reading).
    static func signerCertificate(_ signature: String, in directory: String) throws -> String? {
        let out = directory + "/signer.pem"
        let inform = (try String(contentsOfFile: signature, encoding: .utf8)).contains("-----BEGIN") ? "PEM" : "DER"
        let signer = try Harness.openssl(["cms", "-verify", "-in", signature, "-inform", inform, "-noverify", "-signer", out,
                                          "-content", (signature as NSString).deletingPathExtension, "-binary", "-out", "/dev/null"])
        return signer.exitCode == 0 ? out : nil
    }

    /// A damaged renewed evidence object is named by verify and check; it is never silently
    /// replaced by the archive's older own evidence.
    @Test func aDamagedRenewedEvidenceObjectIsNamed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, archives, renew) = try Self.repository(directory)
        #expect(try Harness.sigvault(renew).exitCode == 0)
        let name = (archives[0] as NSString).lastPathComponent
        let object = repo + "/archives/\(name).evidence-1"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: object)[.size] as? Int)
        try Harness.flipByte(object, at: size / 2)
        let verify = try Harness.sigvault(["verify", archives[0], "--repo", repo, "--integrity-only", "--json"])
        let problems = (try Harness.json(verify.stdout)["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(verify.exitCode == 1 && problems.contains { $0["code"] as? String == "evidence" && ($0["message"] as? String)?.contains("\(name).evidence-1") == true },
                "\(verify.stdout)")
        let check = try Harness.sigvault(["check", "--repo", repo, "--read-data"])
        #expect(check.exitCode == 1 && check.stdout.contains("\(name).evidence-1"), "\(check.stdout)")

        // A renewal is not blocked for good by it: it renews from the archive's own section (the
        // newest whole evidence), says so, and the new object is what readers judge from then on.
        Thread.sleep(forTimeInterval: 1.1)
        let renewal = try Harness.sigvault(renew + ["--json"])
        let summary = try Harness.json(renewal.stdout)
        #expect((summary["renewed"] as? [[String: Any]] ?? []).contains { $0["object"] as? String == "\(name).evidence-2" }, "\(renewal.stdout)")
        #expect(renewal.stderr.contains("\(name).evidence-1: damaged") && renewal.stderr.contains("renewed from"), "\(renewal.stderr)")
        let after = try Harness.sigvault(["verify", archives[0], "--repo", repo, "--integrity-only", "--json"])
        let afterReport = try Harness.json(after.stdout)
        #expect(after.exitCode == 0 && afterReport["renewedEvidence"] as? String == "\(name).evidence-2", "\(after.stdout)")
        // check still names the superseded damaged object: damage in the store.
        let stillNamed = try Harness.sigvault(["check", "--repo", repo])
        #expect(stillNamed.exitCode == 1 && stillNamed.stdout.contains("\(name).evidence-1"), "\(stillNamed.stdout)")
    }

    /// An archive of another repository with the same name is never judged by this repository's
    /// renewed evidence objects.
    @Test func renewedEvidenceBelongsToItsOwnArchiveOnly() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, archives, renew) = try Self.repository(directory)
        #expect(try Harness.sigvault(renew).exitCode == 0)
        // A standalone archive under the same name as the repository's first one.
        let name = (archives[0] as NSString).lastPathComponent
        let elsewhere = directory + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let packed = try Harness.sigvault(["pack", "Fixtures/cases/unsigned"] + Harness.packArguments(extra: "-")
                                          + ["--tsa", try Self.tsa(), "--at", Harness.verifyTime, "-o", elsewhere + "/" + name])
        #expect(packed.exitCode == 0 || packed.exitCode == 2, "\(packed.stderr)")
        let verify = try Harness.sigvault(["verify", elsewhere + "/" + name, "--repo", repo, "--integrity-only", "--json"])
        let report = try Harness.json(verify.stdout)
        // It has an archive time-stamp of its own (version 2), so renewed evidence would be used.
        #expect(report["formatVersion"] as? Int == 2, "\(verify.stdout)")
        #expect(verify.exitCode == 0 && report["renewedEvidence"] is NSNull, "\(verify.stdout)")

        // A folder under the next renewal's name is a damaged object, not a name to pass over:
        // readers say so, and the next renewal takes the number after it.
        let blocker = repo + "/archives/\(name).evidence-2"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        let blocked = try Harness.sigvault(["verify", archives[0], "--repo", repo, "--integrity-only"])
        #expect(blocked.exitCode == 1 && blocked.stdout.contains("\(name).evidence-2"), "\(blocked.stdout)")
        Thread.sleep(forTimeInterval: 1.1)
        let next = try Harness.sigvault(renew + ["--json"])
        #expect((try Harness.json(next.stdout)["renewed"] as? [[String: Any]] ?? []).contains { $0["object"] as? String == "\(name).evidence-3" },
                "\(next.stdout)\(next.stderr)")
    }
}

/// `renew --repo` killed at each of its crash points and at 50 seeded moments: each time, `check
/// --read-data` passes, every document restores byte-identical, and the next renewal completes.
@Suite(.serialized) struct RepositoryRenewCrashTests {
    static func documentsRestore(_ repo: String, in directory: String) throws {
        let target = directory + "/check-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let names = ["src/unsigned/readme.txt", "src/unsigned/data.bin", "src/valid-pem-sig/letter.txt", "src/expired-timestamped/contract.pdf"]
        let restore = try Harness.sigvault(["restore", "--repo", repo] + names + ["--to", target])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        for name in names {
            #expect(FileManager.default.contentsEqual(atPath: directory + "/" + name, andPath: target + "/" + name), "\(name)")
        }
    }

    static func checkPasses(_ repo: String, _ what: String) throws {
        let check = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(check.exitCode == 0, "\(what): \(check.stdout)\(check.stderr)")
    }

    @Test(arguments: CrashPoints.renew) func aRenewalKilledAtACrashPointLosesNothing(_ point: String) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _, renew) = try RepositoryRenewTests.repository(directory)
        // The second archive's object is the one cut short (`#2`) where the point is passed per archive.
        let perArchive = ["output.synced", "output.linked", "renew.written", "store.linked", "renew.stored", "renew.catalog"].contains(point)
        let killed = try Harness.run(Harness.binary, renew, cwd: directory,
                                     environment: ["SIGVAULT_CRASH_AT": perArchive ? point + "#2" : point])
        #expect(killed.exitCode == 9, "\(point): the run was not killed there (exit \(killed.exitCode)): \(killed.stderr)")
        try Self.checkPasses(repo, point)
        try Self.documentsRestore(repo, in: directory)
        // The next renewal completes: each archive has its renewed evidence, tmp/ is empty.
        Thread.sleep(forTimeInterval: 1.1)
        let next = try Harness.sigvault(renew)
        #expect(next.exitCode == 0 || next.exitCode == 2, "\(point): \(next.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo + "/tmp").isEmpty, "\(point)")
        let stored = try FileManager.default.contentsOfDirectory(atPath: repo + "/archives")
        for archive in stored where archive.hasSuffix(".svz") {
            #expect(stored.contains { $0.hasPrefix(archive + ".evidence-") }, "\(point): \(archive) has no renewed evidence: \(stored)")
        }
        try Self.checkPasses(repo, point + " then renewed")
        try Self.documentsRestore(repo, in: directory)
    }

    @Test func renewalsKilledAtRandomMomentsLoseNothing() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _, renew) = try RepositoryRenewTests.repository(directory)
        let started = Date()
        #expect(try Harness.sigvault(renew).exitCode == 0)
        let duration = max(0.05, Date().timeIntervalSince(started))
        var generator = SeededGenerator(seed: 11)
        var killedCount = 0
        for round in 0..<50 {
            let (process, _) = try HardeningTests.start(renew, cwd: directory)
            usleep(UInt32(Double(generator.next() % 1000) / 1000 * duration * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if !(process.terminationReason == .exit && (process.terminationStatus == 0 || process.terminationStatus == 2)) { killedCount += 1 }
            try Self.checkPasses(repo, "round \(round)")
            if round % 10 == 9 { try Self.documentsRestore(repo, in: directory) }
        }
        try Self.documentsRestore(repo, in: directory)
        #expect(killedCount >= 10, "rounds must be cut short to test anything (\(killedCount) of 50)")
    }
}
