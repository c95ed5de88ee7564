import Foundation
import Testing
@testable import SigVault
import SigVaultFormat
#if canImport(Glibc)
import Glibc
#endif

/// Issue 10: the repository the nightly job lives in, through the binary: init, incremental backup
/// with the stat cache, deletions, history, restore by time, the lock, recovery from a stopped run,
/// check and a rebuilt catalog.
@Suite struct RepositoryTests {
    /// A repository with the fixtures' material as its defaults, and a copy of some fixture cases
    /// as the source (so the test can change them).
    static func setUp(_ directory: String) throws -> (repo: String, source: String) {
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        for name in ["valid-pem-sig", "unsigned", "expired-timestamped"] {
            try FileManager.default.copyItem(atPath: Harness.fixtures + "/cases/" + name, toPath: source + "/" + name)
        }
        let pki = Harness.fixtures + "/pki"
        let made = try Harness.sigvault(["init", directory + "/repo", "--trust", pki + "/root.pem", "--certs", pki + "/certs",
                                         "--crls", pki + "/crl/current", "--ocsp", pki + "/ocsp"])
        #expect(made.exitCode == 0, "\(made.stderr)")
        return (directory + "/repo", source)
    }

    static func backup(_ repo: String, in directory: String, _ extra: [String] = []) throws -> (Harness.Result, [String: Any]) {
        let result = try Harness.sigvault(["backup", "src", "--repo", repo, "--at", Harness.verifyTime, "--json"] + extra, cwd: directory)
        return (result, (try? Harness.json(result.stdout)) ?? [:])
    }

    static func archives(_ repo: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: repo + "/archives").sorted()
    }

    @Test func initMakesARepositoryAndRefusesWhatIsNotOne() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: repo)) == ["archives", "catalog.sqlite", "sigvault-repository.json", "tmp"])
        let config = try Harness.json(try String(contentsOfFile: repo + "/sigvault-repository.json", encoding: .utf8))
        #expect(config["format"] as? String == "sigvault-repository" && config["version"] as? Int == 1)
        #expect(((config["defaults"] as? [String: Any])?["trust"] as? [String])?.first?.hasSuffix("root.pem") == true)
        let again = try Harness.sigvault(["init", repo])
        #expect(again.exitCode == 73 && HardeningTests.errorCode(again.stderr) == "output-exists", "\(again.stderr)")
        for arguments in [["backup", "src", "--repo", directory], ["log", "--repo", directory], ["check", "--repo", directory]] {
            let result = try Harness.sigvault(arguments, cwd: directory)
            #expect(result.exitCode == 10 && HardeningTests.errorCode(result.stderr) == "no-repository", "\(arguments): \(result.stderr)")
        }
        let unset = try Harness.sigvault(["log"], cwd: directory)
        #expect(unset.exitCode == 10, "\(unset.stderr)")
    }

    /// Night 1 archives everything; night 2 with no change writes nothing; night 3 after a change
    /// and a deletion archives only the changed document; history, restore by time and the deleted
    /// document follow.
    @Test func backupIsIncrementalAndRestoreFindsTheVersion() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try Self.setUp(directory)
        let (first, night1) = try Self.backup(repo, in: directory)
        #expect(first.exitCode == 0, "\(first.stderr)")
        #expect(night1["new"] as? Int == 6 && night1["changed"] as? Int == 0, "\(night1)")
        #expect((night1["documentsByVerdict"] as? [String: Int])?["TOTAL_PASSED"] == 2, "\(night1)")
        #expect(try Self.archives(repo).count == 1)

        let (second, night2) = try Self.backup(repo, in: directory)
        #expect(second.exitCode == 0, "\(second.stderr)")
        #expect(night2["archive"] is NSNull && night2["unchanged"] as? Int == 6, "\(night2)")
        #expect(try Self.archives(repo).count == 1, "a night without change writes no archive")

        // Night 3: the unsigned readme changes (a second later, so its mtime differs), data.bin goes.
        let original = try Data(contentsOf: URL(fileURLWithPath: source + "/unsigned/readme.txt"))
        let before = ISOTime.format(Date())
        sleep(1)
        try (original + Data("a change\n".utf8)).write(to: URL(fileURLWithPath: source + "/unsigned/readme.txt"))
        try FileManager.default.removeItem(atPath: source + "/unsigned/data.bin")
        let (third, night3) = try Self.backup(repo, in: directory)
        #expect(third.exitCode == 0, "\(third.stderr)")
        #expect(night3["changed"] as? Int == 1 && night3["deleted"] as? Int == 1 && night3["archived"] as? Int == 1, "\(night3)")
        let archives = try Self.archives(repo)
        #expect(archives.count == 2 && archives[1].hasSuffix("-2.svz"), "\(archives)")
        let listing = try Harness.sigvault(["list", repo + "/archives/" + archives[1]])
        #expect(listing.stdout.contains("src/unsigned/readme.txt") && !listing.stdout.contains("letter.txt"), "\(listing.stdout)")

        let log = try Harness.sigvault(["log", "--repo", repo, "src/unsigned/readme.txt"])
        #expect(log.stdout.split(separator: "\n").count == 2, "\(log.stdout)")
        let all = try Harness.sigvault(["log", "--repo", repo])
        #expect(all.stdout.contains("DELETED  src/unsigned/data.bin"), "\(all.stdout)")

        let latest = directory + "/latest"
        let restore = try Harness.sigvault(["restore", "--repo", repo, "src/unsigned/readme.txt", "src/valid-pem-sig/letter.txt", "--to", latest])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: latest + "/src/unsigned/readme.txt")) == original + Data("a change\n".utf8))
        #expect(FileManager.default.fileExists(atPath: latest + "/src/valid-pem-sig/letter.txt.sig"))
        let old = directory + "/old"
        let asOf = try Harness.sigvault(["restore", "--repo", repo, "--as-of", before, "src/unsigned/readme.txt", "src/unsigned/data.bin", "--to", old])
        #expect(asOf.exitCode == 0, "\(asOf.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: old + "/src/unsigned/readme.txt")) == original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: old + "/src/unsigned/data.bin"))
                == Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/cases/unsigned/data.bin")))
        let gone = try Harness.sigvault(["restore", "--repo", repo, "src/unsigned/data.bin", "--to", directory + "/gone"])
        #expect(gone.exitCode == 66 && HardeningTests.errorCode(gone.stderr) == "input-missing", "\(gone.stderr)")

        // A signature file changed alone: its document goes into the night's archive with it.
        sleep(1)
        try FileManager.default.copyItem(atPath: source + "/valid-pem-sig/letter.txt.sig", toPath: directory + "/sig")
        try FileManager.default.removeItem(atPath: source + "/valid-pem-sig/letter.txt.sig")
        try FileManager.default.copyItem(atPath: directory + "/sig", toPath: source + "/valid-pem-sig/letter.txt.sig")
        let (fourth, night4) = try Self.backup(repo, in: directory)
        #expect(fourth.exitCode == 0 && night4["archived"] as? Int == 2, "\(night4) \(fourth.stderr)")
    }

    /// One writer: a held lock is exit 11 at once, naming the holder; --lock-wait waits for it.
    @Test func oneWriterAtATime() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        let fd = open(repo + "/lock", O_RDWR | O_CREAT, 0o644)
        try #require(fd >= 0)
        #expect(flock(fd, LOCK_EX) == 0)
        _ = "host=elsewhere pid=1 command=backup started=2026-12-01T01:00:00Z\n".withCString { write(fd, $0, strlen($0)) }
        let (locked, _) = try Self.backup(repo, in: directory)
        #expect(locked.exitCode == 11 && HardeningTests.errorCode(locked.stderr) == "locked", "\(locked.stderr)")
        #expect(locked.stderr.contains("pid=1 command=backup"), "\(locked.stderr)")
        // Released while the second run waits: it goes on.
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) { flock(fd, LOCK_UN); close(fd) }
        let (waited, summary) = try Self.backup(repo, in: directory, ["--lock-wait", "30s"])
        #expect(waited.exitCode == 0 && summary["new"] as? Int == 6, "\(waited.stderr)")
    }

    /// A run stopped after storing its archive but before the catalog knew it, with its temporary
    /// files left in tmp/: the next run removes them and indexes the archive first, and finds
    /// nothing changed. A catalog rebuilt from the archives gives the same.
    @Test func aStoppedRunIsCompletedByTheNext() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        // The archive a stopped night would have stored: packed by hand straight into archives/.
        let stored = repo + "/archives/20261201T010000Z-1.svz"
        let pack = try Harness.sigvault(["pack", "src", "-o", stored, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime], cwd: directory)
        #expect(pack.exitCode <= 2, "\(pack.stderr)")
        try Data("half".utf8).write(to: URL(fileURLWithPath: repo + "/tmp/20261201T010000Z-2.svz"))
        let (run, summary) = try Self.backup(repo, in: directory)
        #expect(run.exitCode == 0, "\(run.stderr)")
        #expect(summary["indexedArchives"] as? [String] == ["20261201T010000Z-1.svz"], "\(summary)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo + "/tmp").isEmpty)
        #expect(summary["archive"] is NSNull && summary["unchanged"] as? Int == 6, "the indexed archive holds every file: \(summary)")

        let rebuilt = try Harness.sigvault(["repo", "rebuild-catalog", "--repo", repo])
        #expect(rebuilt.exitCode == 0 && rebuilt.stdout.contains("from 1 archive"), "\(rebuilt.stdout)\(rebuilt.stderr)")
        let (after, again) = try Self.backup(repo, in: directory)
        #expect(after.exitCode == 0 && again["archive"] is NSNull && again["unchanged"] as? Int == 6, "\(again)")
    }

    /// check: the catalog against the archives, each archive's structure, and with --read-data every
    /// byte; a damaged archive or one the catalog lacks is exit 1, named.
    @Test func checkFindsDamageAndStrays() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        _ = try Self.backup(repo, in: directory)
        let good = try Harness.sigvault(["check", "--repo", repo, "--read-data"])
        #expect(good.exitCode == 0 && good.stdout.contains("1 of them byte for byte: OK"), "\(good.stdout)")
        let name = try #require(try Self.archives(repo).first)
        try Harness.flipByte(repo + "/archives/" + name, at: 700)
        let quick = try Harness.sigvault(["check", "--repo", repo, "--json"])
        #expect(quick.exitCode == 0, "the structure (trailer, index, manifest) is intact: \(quick.stdout)")
        let damaged = try Harness.sigvault(["check", "--repo", repo, "--read-data"])
        #expect(damaged.exitCode == 1, "\(damaged.stdout)")
        #expect(damaged.stdout.contains("PROBLEM  \(name): "), "\(damaged.stdout)")
        let subset = try Harness.sigvault(["check", "--repo", repo, "--read-data-subset", "100"])
        #expect(subset.exitCode == 1)
        try FileManager.default.copyItem(atPath: repo + "/archives/" + name, toPath: repo + "/archives/20991231T000000Z-9.svz")
        let stray = try Harness.sigvault(["check", "--repo", repo])
        #expect(stray.exitCode == 1 && stray.stdout.contains("20991231T000000Z-9.svz: stored but not in the catalog"), "\(stray.stdout)")
    }
}
