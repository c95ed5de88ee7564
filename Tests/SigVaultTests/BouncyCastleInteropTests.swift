import Foundation
import Testing

/// RFC 4998 interoperability with Bouncy Castle's `org.bouncycastle.tsp.ers` (Debian's
/// libbcpkix-java), through Tests/Interop/ErsInterop.java, which `make test` compiles into
/// .build/interop: Bouncy Castle validates the records of an archive of several data groups, as
/// packed, after a time-stamp renewal and after a hash-tree renewal; the records Bouncy Castle makes
/// and renews verify with `sigvault ers verify`.
@Suite(.serialized) struct BouncyCastleInteropTests {
    static let classes = Harness.packageRoot + "/.build/interop"
    static let classpath = [classes, "/usr/share/java/bcprov.jar", "/usr/share/java/bcpkix.jar", "/usr/share/java/bcutil.jar"].joined(separator: ":")

    static func java(_ arguments: [String], cwd: String? = nil) throws -> Harness.Result {
        try #require(FileManager.default.fileExists(atPath: classes + "/ErsInterop.class"),
                     "Tests/Interop/ErsInterop.java is not compiled: run make test (it runs javac first)")
        return try Harness.run("/usr/bin/env", ["java", "-cp", classpath, "ErsInterop"] + arguments, cwd: cwd)
    }

    /// Every restored document's group, as Bouncy Castle sees it: its record and its files.
    static func bouncyCastleValidatesEveryGroup(_ archive: String, in directory: String, stage: String, repository: String? = nil,
                                                atLeast minimum: Int = 3) throws {
        let target = directory + "/restored-" + stage
        let restore = try Harness.sigvault(["restore", archive, "--to", target], environment: repository.map { ["SIGVAULT_REPOSITORY": $0] } ?? [:])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        let evidenceRoot = target + "/.sigvault-evidence/"
        let enumerator = FileManager.default.enumerator(atPath: evidenceRoot)
        var records: [String] = []
        while let item = enumerator?.nextObject() as? String { if item.hasSuffix("/evidence-record.ers") { records.append(item) } }
        #expect(records.count >= minimum, "\(records)")
        for record in records.sorted() {
            let document = String(record.dropLast("/evidence-record.ers".count))
            var files = [target + "/" + document]
            for suffix in [".p7s", ".sig", ".tst", ".tsr"] where FileManager.default.fileExists(atPath: target + "/" + document + suffix) {
                files.append(target + "/" + document + suffix)
            }
            for kind in ["certificates", "crls", "ocsp"] {
                let folder = evidenceRoot + document + "/" + kind
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] { files.append(folder + "/" + name) }
            }
            let result = try java(["validate", evidenceRoot + record] + files)
            #expect(result.exitCode == 0 && result.stdout.hasPrefix("OK"), "\(stage) \(document): \(result.stdout)\(result.stderr)")
        }
    }

    @Test func bouncyCastleValidatesArchiveRecordsAsPackedAndRenewed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tsa = try #require(LocalServer.tsa).url("/tsa").absoluteString
        let (archive, pack) = try ArchiveTimeStampTests().pack(
            ["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned", "Fixtures/cases/valid-pem-sig", "Fixtures/cases/demo"],
            ["--tsa", tsa], in: directory)
        #expect(pack.exitCode == 0 || pack.exitCode == 2, "\(pack.stderr)")
        try Self.bouncyCastleValidatesEveryGroup(archive, in: directory, stage: "packed")
        let trust = ["--tsa", tsa, "--trust", "Fixtures/pki/root.pem"]
        // The renewed token carries OCSP responses as RFC 5940 other revocation information.
        Thread.sleep(forTimeInterval: 1.1)
        let ocsp = try RenewTests.freshTSAResponses(in: directory).flatMap { ["--ocsp", $0] }
        Thread.sleep(forTimeInterval: 1.1)
        let renewal = try Harness.sigvault(["renew", archive] + trust + ocsp)
        #expect(renewal.exitCode == 0, "\(renewal.stderr)")
        try Self.bouncyCastleValidatesEveryGroup(archive, in: directory, stage: "time-stamp-renewed")
        // The token it seals has the responses the first renewal brought, issued before its genTime
        // and fresh then (ETSI EN 319 102-1 §5.2.5): no warning.
        let hashRenewal = try Harness.sigvault(["renew", archive, "--hash", "sha512"] + trust)
        #expect(hashRenewal.exitCode == 0, "\(hashRenewal.stderr)")
        #expect(!hashRenewal.stderr.contains("is sealed without revocation data"), "\(hashRenewal.stderr)")
        try Self.bouncyCastleValidatesEveryGroup(archive, in: directory, stage: "hash-tree-renewed")
    }

    /// `renew --repo`: one token over both archives' newest tokens, each archive's new archive
    /// time-stamp with its own reduced hash tree; Bouncy Castle validates every group's record of
    /// each archive on its own, with the repository's renewed evidence.
    @Test func bouncyCastleValidatesRecordsRenewedTogetherInARepository() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, archives, renew) = try RepositoryRenewTests.repository(directory)
        let result = try Harness.sigvault(renew + ["--json"])
        let summary = try Harness.json(result.stdout)
        #expect(result.exitCode == 0 && summary["requests"] as? Int == 1, "\(result.stdout)\(result.stderr)")
        for (index, archive) in archives.enumerated() {
            try Self.bouncyCastleValidatesEveryGroup(archive, in: directory, stage: "repository-\(index)", repository: repo, atLeast: 1)
        }
    }

    @Test func recordsBouncyCastleMakesAndRenewsVerify() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var files: [String] = []
        for (name, text) in [("a.txt", "first"), ("b.txt", "second"), ("c.txt", "third")] {
            try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            files.append(directory + "/" + name)
        }
        // The fixture TSA signs for Bouncy Castle; its chain goes into the tokens.
        let bundle = directory + "/tsa-chain.pem"
        let pem = try String(contentsOfFile: Harness.fixtures + "/pki/certs/tsa.pem", encoding: .utf8)
            + String(contentsOfFile: Harness.fixtures + "/pki/certs/intermediate.pem", encoding: .utf8)
        try pem.write(toFile: bundle, atomically: true, encoding: .utf8)
        let key = Harness.fixtures + "/pki/private/tsa.key"
        let steps: [(String, [String], [String])] = [
            ("made.ers", ["make", directory + "/made.ers", bundle, key] + files, ["initial"]),
            ("renewed.ers", ["renew-timestamp", directory + "/made.ers", directory + "/renewed.ers", bundle, key], ["initial", "time-stamp renewal"]),
            ("rehashed.ers", ["renew-hash", directory + "/renewed.ers", directory + "/rehashed.ers", bundle, key] + files,
             ["initial", "time-stamp renewal", "hash-tree renewal, unsorted concatenation"]),
        ]
        for (record, arguments, forms) in steps {
            let made = try Self.java(arguments)
            try #require(made.exitCode == 0, "\(arguments[0]): \(made.stdout)\(made.stderr)")
            #expect(try Self.java(["validate", directory + "/" + record] + files).stdout.hasPrefix("OK"))
            let (result, json) = try EvidenceRecordTests.ersVerify([directory + "/" + record, "--trust", "Fixtures/pki/root.pem"]
                                                                   + files.flatMap { ["--data", $0] })
            let stamps = json["archiveTimeStamps"] as? [[String: Any]] ?? []
            #expect(stamps.map { $0["coverage"] as? String } == forms.map { _ in "covered" }, "\(record): \(result.stdout)")
            #expect(stamps.compactMap { ($0["forms"] as? [String])?.first } == forms, "\(record): \(stamps)")
            // Every token verifies and chains to the root; none has revocation data for its TSA.
            #expect(json["indication"] as? String == "INDETERMINATE" && json["subIndication"] as? String == "TRY_LATER", "\(record): \(json)")
        }
    }
}
