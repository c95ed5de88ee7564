import Foundation
@testable import SigVault
import SigVaultFormat
import Testing

/// docs/FORMAT.md §10 "By hand": the documented shell blocks, taken from the file itself, run on
/// version 2 archives as written by pack --tsa, renew and renew --hash, on a repository's renewed
/// evidence object (one token for several archives: a renewal with its own reduced tree), and on
/// damaged copies and a wrong trust anchor, which they must catch.
@Suite(.serialized) struct FormatRecipeTests {
    /// The §10 "By hand" sh blocks, in order, as one script.
    static func recipe() throws -> String {
        let format = try String(contentsOfFile: Harness.packageRoot + "/docs/FORMAT.md", encoding: .utf8)
        let section = try #require(format.components(separatedBy: "## 10. The evidence section").dropFirst().first?
            .components(separatedBy: "### By hand\n").dropFirst().first?
            .components(separatedBy: "\n## 11.").first)
        let blocks = section.components(separatedBy: "```sh\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
        try #require(blocks.count == 5, "FORMAT.md §10 By hand has \(blocks.count) sh blocks")
        return blocks.joined(separator: "\n")
    }

    /// Runs the recipe on `archive` (copied into a fresh folder as a.svz) with `anchor` as ROOT.pem.
    static func run(_ archive: String, anchor: String = Harness.fixtures + "/pki/root.pem", object: String? = nil,
                    in directory: String) throws -> Harness.Result {
        let folder = directory + "/recipe-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: archive, toPath: folder + "/a.svz")
        try FileManager.default.copyItem(atPath: anchor, toPath: folder + "/ROOT.pem")
        var script = try recipe()
        if let object {
            let line = "# E=that-object; EO=0;"
            try #require(script.contains(line), "the recipe no longer documents the renewed-object variant")
            script = script.replacingOccurrences(of: line, with: "E='\(object)'; EO=0;")
        }
        try script.write(toFile: folder + "/recipe.sh", atomically: true, encoding: .utf8)
        return try Harness.run("/bin/sh", ["recipe.sh"], cwd: folder)
    }

    static func passes(_ result: Harness.Result, _ what: String) {
        #expect(result.exitCode == 0 && result.stdout.hasSuffix("\n0 mismatch(es)\n") && !result.stdout.contains("MISMATCH"),
                "\(what): \(result.stdout)\(result.stderr)")
    }

    @Test func theDocumentedCommandsCheckPackedRenewedAndHashRenewedArchivesAndCatchDamage() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa, "the local TSA did not start").url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"],
                                                               ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let packed = directory + "/packed.svz", renewed = directory + "/renewed.svz"
        try FileManager.default.copyItem(atPath: archive, toPath: packed)
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try RenewTests.freshTSAResponses(in: directory).flatMap { ["--ocsp", $0] }
        Thread.sleep(forTimeInterval: 1.1)
        let renewal = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem"] + ocsp)
        #expect(renewal.exitCode == 0, "\(renewal.stderr)")
        try FileManager.default.copyItem(atPath: archive, toPath: renewed)
        Thread.sleep(forTimeInterval: 1.1)
        let hashRenewal = try Harness.sigvault(["renew", archive, "--tsa", tsa, "--trust", "Fixtures/pki/root.pem", "--hash", "sha512"] + ocsp)
        #expect(hashRenewal.exitCode == 0, "\(hashRenewal.stderr)")

        let first = try Self.run(packed, in: directory)
        Self.passes(first, "packed")
        #expect(first.stdout.contains("ok    chain 1, leaf of group 1") && first.stdout.contains("ok    chain 1, level 1 from level 0")
                && first.stdout.contains("ok    chain 1, time-stamp 1 (openssl exit status): signed by O=SigVault Test, CN=SigVault Test TSA"),
                "\(first.stdout)")
        let second = try Self.run(renewed, in: directory)
        Self.passes(second, "renewed")
        #expect(second.stdout.contains("ok    chain 1, time-stamp 2: messageImprint"), "\(second.stdout)")
        let third = try Self.run(archive, in: directory)
        Self.passes(third, "hash-tree renewed")
        #expect(third.stdout.contains("2 chain(s)") && third.stdout.contains("ok    chain 2 (sha512), leaf of group 1 (ha ")
                && third.stdout.contains("ok    chain 2, time-stamp 1: messageImprint"), "\(third.stdout)")

        // An anchor that did not issue the TSA: every token fails its signature check.
        let stranger = try Self.run(archive, anchor: Harness.fixtures + "/pki/untrusted-root.pem", in: directory)
        #expect(stranger.stdout.contains("MISMATCH chain 1, time-stamp 1 (openssl exit status)")
                && stranger.stdout.contains("MISMATCH chain 2, time-stamp 1 (openssl exit status)")
                && stranger.stdout.hasSuffix("\n3 mismatch(es)\n"), "\(stranger.stdout)")

        // A member's contentSHA256 changed in the index: its content and its group's leaf disagree.
        let reader = try ArchiveReader(path: archive)
        let index = try #require(reader.trailer).indexOffset
        let record = Int(index) + 32 + 56 * reader.frames.count + 184 * 3 + 72
        let damaged = directory + "/damaged.svz"
        try FileManager.default.copyItem(atPath: archive, toPath: damaged)
        try Harness.flipByte(damaged, at: record)
        let leaf = try Self.run(damaged, in: directory)
        #expect(leaf.stdout.contains("MISMATCH member 3: its content hashes to its contentSHA256")
                && leaf.stdout.contains("MISMATCH chain 1, leaf of group"), "\(leaf.stdout)")

        // A byte of the evidence payload changed: its SHA-256 no longer matches.
        let evidence = try #require(reader.trailer).evidenceOffset
        let payload = directory + "/payload.svz"
        try FileManager.default.copyItem(atPath: archive, toPath: payload)
        try Harness.flipByte(payload, at: Int(evidence) + 8 + 40)
        #expect(try Self.run(payload, in: directory).stdout.contains("MISMATCH payload SHA-256"))
    }

    @Test func aRepositoryRenewalOfSeveralArchivesIsCheckedThroughItsReducedTree() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, archives, renew) = try RepositoryRenewTests.repository(directory)
        let result = try Harness.sigvault(renew)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let object = repo + "/archives/" + (archives[0] as NSString).lastPathComponent + ".evidence-1"
        #expect(FileManager.default.fileExists(atPath: object))
        let recipe = try Self.run(archives[0], object: object, in: directory)
        Self.passes(recipe, "renewed object")
        #expect(recipe.stdout.contains("chain 1, time-stamp 2 renewed several archives: its reduced tree leads to its root")
                && recipe.stdout.contains("ok    chain 1, time-stamp 2: messageImprint"), "\(recipe.stdout)")
        // The archive's own section, without the object, still checks (the object adds, never replaces).
        Self.passes(try Self.run(archives[0], in: directory), "the first night's own section")
    }
}
