import Foundation
import Testing
@testable import SigVault
@testable import SigVaultRepository
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: content the repository stores already is not stored again. A night that archives a
/// document again (its signature file touched) writes the unchanged document and the evidence as
/// reference members (FORMAT.md §4.3); verify, restore and check resolve them with the repository,
/// say so without it, and name a reference that no longer resolves.
@Suite(.serialized) struct ReferenceTests {
    func tsa() throws -> String { try #require(LocalServer.tsa, "the local TSA did not start").url("/tsa").absoluteString }

    /// Two nights: everything, then `valid-pem-sig` again (its signature file touched a second later).
    static func twoNights(_ directory: String, _ extra: [String] = []) throws -> (repo: String, first: String, second: String, night2: [String: Any]) {
        let (repo, source) = try RepositoryTests.setUp(directory)
        let (first, _) = try RepositoryTests.backup(repo, in: directory, extra)
        #expect(first.exitCode == 0, "\(first.stderr)")
        sleep(1)
        let signature = source + "/valid-pem-sig/letter.txt.sig"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: signature))
        try bytes.write(to: URL(fileURLWithPath: signature))
        let (second, night2) = try RepositoryTests.backup(repo, in: directory, extra)
        #expect(second.exitCode == 0, "\(second.stderr)")
        let archives = try RepositoryTests.archives(repo)
        try #require(archives.count == 2, "\(archives)")
        return (repo, repo + "/archives/" + archives[0], repo + "/archives/" + archives[1], night2)
    }

    /// The file offset of the middle of a member's first frame (through the library's own reader).
    static func memberRecord(_ archive: String, _ name: String) throws -> Int? {
        let reader = try ArchiveReader(path: archive)
        guard let record = reader.record(for: ArchivePath(name)) else { return nil }
        let frame = reader.frames[Int(record.firstFrame)]
        return Int(frame.compressedOffset + frame.compressedLength / 2)
    }

    /// `ers verify` of the letter's restored evidence record with its group's restored files.
    static func letterRecord(restoredIn target: String) throws -> (Harness.Result, [[String: Any]]) {
        let evidence = target + "/.sigvault-evidence/src/valid-pem-sig/letter.txt"
        var data = [target + "/src/valid-pem-sig/letter.txt", target + "/src/valid-pem-sig/letter.txt.sig"]
        for kind in ["certificates", "crls", "ocsp"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: evidence + "/" + kind)) ?? [] { data.append(evidence + "/" + kind + "/" + name) }
        }
        let record = try Harness.sigvault(["ers", "verify", evidence + "/evidence-record.ers", "--trust", Harness.fixtures + "/pki/root.pem", "--json"]
                                          + data.flatMap { ["--data", $0] })
        return (record, try Harness.json(record.stdout)["archiveTimeStamps"] as? [[String: Any]] ?? [])
    }

    static func manifestLines(_ archive: String) throws -> [[String: Any]] {
        let listing = try Harness.run("/bin/sh", ["-c", "zstd -dc '\(archive)' | tar -xOf - manifest.jsonl"])
        return try listing.stdout.split(separator: "\n").map { try Harness.json(String($0)) }
    }

    @Test func aNightStoresUnchangedContentAsReferencesThatResolveWithTheRepository() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, first, second, night2) = try Self.twoNights(directory)
        let references = try #require(night2["references"] as? Int)
        #expect(references > 1 && (night2["referencedBytes"] as? Int ?? 0) > 0, "\(night2)")

        // The document and the evidence are references to night 1's archive; the touched signature is inline.
        let lines = try Self.manifestLines(second)
        func line(_ path: String) -> [String: Any]? { lines.first { $0["path"] as? String == path } }
        let document = try #require(line("data/src/valid-pem-sig/letter.txt"))
        let reference = try #require(document["reference"] as? [String: Any])
        let firstName = (first as NSString).lastPathComponent
        #expect(document["storage"] as? String == "reference" && reference["archive"] as? String == firstName, "\(document)")
        #expect(reference["path"] as? String == "data/src/valid-pem-sig/letter.txt")
        let config = try Harness.json(try String(contentsOfFile: repo + "/sigvault-repository.json", encoding: .utf8))
        #expect(reference["repository"] as? String == config["id"] as? String)
        let firstFingerprint = try Harness.verifyJSON(first).1["fingerprint"] as? String
        #expect(reference["fingerprint"] as? String == firstFingerprint)
        #expect(line("data/src/valid-pem-sig/letter.txt.sig")?["storage"] as? String == "inline")
        let evidence = lines.filter { ($0["path"] as? String)?.hasPrefix("evidence/") == true }
        #expect(!evidence.isEmpty && evidence.allSatisfy { $0["storage"] as? String == "reference" }, "every certificate, CRL and response is stored already")

        // By hand (FORMAT.md §4.3, §8.2): tar gives the stub, and the documented script accepts it.
        let unpacked = directory + "/x"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        #expect(try Harness.run("/bin/sh", ["-c", "zstd -dc '\(second)' | tar -xf - -C '\(unpacked)'"]).exitCode == 0)
        let stub = try String(contentsOfFile: unpacked + "/data/src/valid-pem-sig/letter.txt", encoding: .utf8)
        #expect(stub.hasPrefix("sigvault-reference 1\n") && stub.contains("archive: \(firstName)\n")
                && stub.hasSuffix("sha256: \(document["sha256"] as? String ?? "?")\n"), "\(stub)")
        let format = try String(contentsOfFile: Harness.packageRoot + "/docs/FORMAT.md", encoding: .utf8)
        let script = try #require(format.components(separatedBy: "```python\nimport hashlib, json, os, sys          # python3 members.py x\n").dropFirst().first?
            .components(separatedBy: "```").first)
        try ("import hashlib, json, os, sys\n" + script).write(toFile: directory + "/members.py", atomically: true, encoding: .utf8)
        let members = try Harness.run("/usr/bin/env", ["python3", directory + "/members.py", unpacked])
        #expect(members.exitCode == 0 && members.stdout.contains("members OK")
                && members.stdout.contains("REFERENCE data/src/valid-pem-sig/letter.txt -> \(firstName)"), "\(members.stdout)")

        // verify without the repository: its own bytes are intact, the references are said, exit 10.
        let alone = try Harness.sigvault(["verify", second, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime, "--json"],
                                         environment: ["SIGVAULT_REPOSITORY": ""])
        let aloneReport = try Harness.json(alone.stdout)
        #expect(alone.exitCode == 10, "\(alone.stdout)")
        #expect((aloneReport["integrity"] as? [String: Any])?["ok"] as? Bool == true)
        let aloneReferences = try #require(aloneReport["references"] as? [String: Any])
        #expect(aloneReferences["resolved"] as? Bool == false && aloneReferences["archives"] as? [String] == [firstName], "\(aloneReferences)")
        let text = try Harness.sigvault(["verify", second, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime],
                                        environment: ["SIGVAULT_REPOSITORY": ""])
        #expect(text.exitCode == 10 && text.stdout.contains("references   NOT CHECKED") && text.stdout.contains("not checked without --repo"), "\(text.stdout)")

        // With it: every reference read there, every signature validated.
        let together = try Harness.sigvault(["verify", second, "--repo", repo, "--trust", Harness.fixtures + "/pki/root.pem",
                                             "--at", Harness.verifyTime, "--json"])
        let report = try Harness.json(together.stdout)
        #expect(together.exitCode == 0, "\(together.stdout)")
        #expect((report["references"] as? [String: Any])?["resolved"] as? Bool == true)
        let documents = report["documents"] as? [[String: Any]] ?? []
        #expect(documents.first { $0["path"] as? String == "src/valid-pem-sig/letter.txt" }?["indication"] as? String == "TOTAL_PASSED", "\(documents)")
        let integrityOnly = try Harness.sigvault(["verify", second, "--repo", repo, "--integrity-only"])
        #expect(integrityOnly.exitCode == 0, "\(integrityOnly.stdout)")

        // restore --repo: the document byte-identical, with its own mode and time, and its evidence.
        let target = directory + "/restored"
        let restored = try Harness.sigvault(["restore", "--repo", repo, "src/valid-pem-sig/letter.txt", "--to", target])
        #expect(restored.exitCode == 0, "\(restored.stderr)")
        let original = directory + "/src/valid-pem-sig/letter.txt"
        #expect(FileManager.default.contentsEqual(atPath: original, andPath: target + "/src/valid-pem-sig/letter.txt"))
        var before = stat(), after = stat()
        #expect(stat(original, &before) == 0 && stat(target + "/src/valid-pem-sig/letter.txt", &after) == 0)
        #expect(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mode == after.st_mode)
        let certificates = (try? FileManager.default.contentsOfDirectory(atPath: target + "/.sigvault-evidence/src/valid-pem-sig/letter.txt/certificates")) ?? []
        #expect(!certificates.isEmpty, "the evidence comes from night 1's archive")

        // restore of the archive alone: what it holds itself, one line for the rest, exit 10.
        let lone = directory + "/alone"
        let partial = try Harness.sigvault(["restore", second, "--to", lone], environment: ["SIGVAULT_REPOSITORY": ""])
        #expect(partial.exitCode == 10, "\(partial.stderr)")
        #expect(partial.stderr.contains("member(s) are stored in archive(s) \(firstName)") && partial.stderr.contains("give --repo"), "\(partial.stderr)")
        #expect(FileManager.default.fileExists(atPath: lone + "/src/valid-pem-sig/letter.txt.sig"))
        #expect(!FileManager.default.fileExists(atPath: lone + "/src/valid-pem-sig/letter.txt"), "a stub is never restored as the document")
        // With SIGVAULT_REPOSITORY the same command restores it all.
        let whole = directory + "/whole"
        let environment = try Harness.sigvault(["restore", second, "--to", whole], environment: ["SIGVAULT_REPOSITORY": repo])
        #expect(environment.exitCode == 0 && FileManager.default.contentsEqual(atPath: original, andPath: whole + "/src/valid-pem-sig/letter.txt"),
                "\(environment.stderr)")

        let check = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(check.exitCode == 0, "\(check.stdout)\(check.stderr)")

        // A standalone pack of the same files never holds a reference.
        let packed = directory + "/p.svz"
        #expect(try Harness.sigvault(["pack", directory + "/src"] + Harness.packArguments(extra: "-") + ["--at", Harness.verifyTime, "-o", packed]).exitCode == 0)
        #expect(try Self.manifestLines(packed).allSatisfy { $0["reference"] == nil && ($0["storage"] == nil || $0["storage"] as? String == "inline") })
    }

    /// A reference that no longer resolves (its archive gone, another repository) is named by
    /// check and verify, and its document is not restored from anything else.
    @Test func aReferenceThatDoesNotResolveIsNamed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, first, second, _) = try Self.twoNights(directory)
        let firstName = (first as NSString).lastPathComponent

        // Another repository: its id is not the reference's, so it is as good as none (exit 10,
        // the one given named), not damage.
        let other = directory + "/other"
        #expect(try Harness.sigvault(["init", other]).exitCode == 0)
        let otherID = try Harness.json(try String(contentsOfFile: other + "/sigvault-repository.json", encoding: .utf8))["id"] as? String
        let wrong = try Harness.sigvault(["verify", second, "--repo", other, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime, "--json"])
        let wrongReport = try Harness.json(wrong.stdout)
        #expect(wrong.exitCode == 10 && (wrongReport["integrity"] as? [String: Any])?["ok"] as? Bool == true, "\(wrong.stdout)")
        let given = wrongReport["references"] as? [String: Any]
        #expect(given?["resolved"] as? Bool == false && given?["given"] as? String == otherID, "\(given ?? [:])")
        let wrongRestore = try Harness.sigvault(["restore", second, "--to", directory + "/wrong"], environment: ["SIGVAULT_REPOSITORY": other])
        #expect(wrongRestore.exitCode == 10 && wrongRestore.stderr.contains("the repository given is \(otherID ?? "?")"), "\(wrongRestore.stderr)")
        // Its evidence from night 1 is named as not restored, not dropped in silence.
        #expect(wrongRestore.stderr.contains("(evidence of src/valid-pem-sig/letter.txt, not restored)"), "\(wrongRestore.stderr)")

        // Damage without the repository is still damage (exit 1, not 10): a flipped byte in the
        // signature file, which the archive holds itself.
        let damaged = directory + "/damaged.svz"
        try FileManager.default.copyItem(atPath: second, toPath: damaged)
        let record = try #require(try Self.memberRecord(damaged, "data/src/valid-pem-sig/letter.txt.sig"))
        try Harness.flipByte(damaged, at: record)
        let damagedRestore = try Harness.sigvault(["restore", damaged, "--to", directory + "/damaged"], environment: ["SIGVAULT_REPOSITORY": ""])
        #expect(damagedRestore.exitCode == 1 && damagedRestore.stderr.contains("give --repo"), "\(damagedRestore.stderr)")

        // The referenced archive removed behind SigVault's back (archives are never deleted by it).
        #expect(unlink(first) == 0)
        let check = try Harness.sigvault(["check", "--repo", repo])
        #expect(check.exitCode == 1, "\(check.stdout)")
        let secondName = (second as NSString).lastPathComponent
        #expect(check.stdout.contains("PROBLEM  \(secondName): ") && check.stdout.contains("in archive \(firstName), but the repository has no such archive"), "\(check.stdout)")
        let verify = try Harness.sigvault(["verify", second, "--repo", repo, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime, "--json"])
        let report = try Harness.json(verify.stdout)
        let problems = (report["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(verify.exitCode == 1 && problems.contains { $0["code"] as? String == "reference" && $0["member"] as? String == "data/src/valid-pem-sig/letter.txt" },
                "\(problems)")
        let target = directory + "/restored"
        let restore = try Harness.sigvault(["restore", "--repo", repo, "src/valid-pem-sig/letter.txt", "--to", target])
        #expect(restore.exitCode == 1 && restore.stderr.contains("no such archive"), "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target + "/src/valid-pem-sig/letter.txt"))
    }

    /// With an archive time-stamp each night, night 2's evidence covers the referenced content
    /// itself: the document's own record, restored beside it, verifies with `ers verify`.
    @Test func theArchiveTimeStampCoversReferencedContent() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _, second, night2) = try Self.twoNights(directory, ["--tsa", try tsa()])
        #expect((night2["references"] as? Int ?? 0) > 0, "\(night2)")
        let verify = try Harness.sigvault(["verify", second, "--repo", repo, "--integrity-only"])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let target = directory + "/restored"
        #expect(try Harness.sigvault(["restore", "--repo", repo, "src/valid-pem-sig/letter.txt", "--to", target]).exitCode == 0)
        let (record, stamps) = try Self.letterRecord(restoredIn: target)
        // Covered; the token itself waits for its TSA's current revocation data (exit 2), never fails.
        #expect((record.exitCode == 0 || record.exitCode == 2) && !stamps.isEmpty && stamps.allSatisfy { $0["coverage"] as? String == "covered" },
                "\(record.exitCode): \(record.stdout)")
    }
}
