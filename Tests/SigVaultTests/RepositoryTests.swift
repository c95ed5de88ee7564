import Foundation
import GRDB
import Testing
@testable import SigVault
@testable import SigVaultRepository
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

    /// The backup indexes its archive from the members pack wrote, not from the manifest read
    /// back: the same rows as a catalog rebuilt from the archives (signers, verdicts, dates,
    /// references and where each content is stored), over two nights.
    @Test func theCatalogFromPackEqualsTheCatalogRebuiltFromTheArchives() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try Self.setUp(directory)
        #expect(try Self.backup(repo, in: directory).0.exitCode == 0)
        try Data("again\n".utf8).write(to: URL(fileURLWithPath: source + "/unsigned/readme.txt"))
        try FileManager.default.removeItem(atPath: source + "/valid-pem-sig/letter.txt.sig")
        let (second, night2) = try Self.backup(repo, in: directory)
        #expect(second.exitCode == 0 && night2["archive"] is String, "\(night2)")
        func rows() throws -> [String] {
            let database = try DatabaseQueue(path: repo + "/catalog.sqlite")
            defer { try? database.close() }
            return try database.read { db in
                let files = try Row.fetchAll(db, sql: """
                    SELECT archive, path, role, size, sha256, signers, provenTime, indication, subIndication, storage,
                           signerNotAfter, timeStampNotAfter, algorithmSunset FROM file ORDER BY id
                    """).map(\.description)
                let content = try Row.fetchAll(db, sql: "SELECT * FROM content ORDER BY sha256, size").map(\.description)
                return files + content
            }
        }
        let fromPack = try rows()
        #expect(fromPack.contains { $0.contains("TOTAL_PASSED") && $0.contains("signerNotAfter:\"20") }, "\(fromPack)")
        let rebuilt = try Harness.sigvault(["repo", "rebuild-catalog", "--repo", repo])
        #expect(rebuilt.exitCode == 0, "\(rebuilt.stderr)")
        #expect(try rows() == fromPack)
    }

    /// A catalog from before the stat cache was keyed by raw names too (migration v5): the upgrade
    /// keys it, so the next night still costs a stat per file; a name that is not UTF-8 included.
    @Test func anUpgradedCatalogKeepsItsStatCache() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try Self.setUp(directory)
        var raw = Array((source + "/unsigned/caf").utf8) + [0xE9, 0]
        let fd = raw.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { open($0, O_WRONLY | O_CREAT, 0o644) }
        }
        #expect(fd >= 0 && write(fd, "x", 1) == 1)
        close(fd)
        let (first, night1) = try Self.backup(repo, in: directory)
        #expect(first.exitCode == 0, "\(first.stderr)")
        let files = try #require(night1["filesSeen"] as? Int)
        // Back to version 4: no name column, no index, v5 not applied.
        let database = try DatabaseQueue(path: repo + "/catalog.sqlite")
        try database.write { db in
            try db.execute(sql: "DROP INDEX statCacheName; ALTER TABLE statCache DROP COLUMN name; DELETE FROM grdb_migrations WHERE identifier = 'v5'")
        }
        try database.close()
        // Opening it migrates: every row keyed by its raw name.
        let catalog = try Catalog(repository: try Repository(opening: repo))
        let names = try catalog.read { db in try Row.fetchAll(db, sql: "SELECT path, name FROM statCache") }
        #expect(names.count == files)
        for row in names {
            #expect(ArchivePath(bytes: [UInt8](row["name"] as Data)) == ArchivePath.unescaped(row["path"] as String), "\(row)")
        }
        #expect(names.contains { [UInt8]($0["name"] as Data).last == 0xE9 })
        let (second, night2) = try Self.backup(repo, in: directory)
        #expect(second.exitCode == 0 && night2["archive"] is NSNull && night2["unchanged"] as? Int == files && night2["deleted"] as? Int == 0, "\(night2)")
        let (third, night3) = try Self.backup(repo, in: directory)
        #expect(third.exitCode == 0 && night3["archive"] is NSNull && night3["unchanged"] as? Int == files, "\(night3)")
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

    /// Evidence that completes itself: a document TRY_LATER one night (no revocation data) is archived
    /// again on a night with --fetch-revocation, with the data there is then (given here, so the test
    /// needs no network), and the catalog's verdict moves on.
    @Test func tryLaterDocumentsAreRetriedWithFetchRevocation() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Harness.fixtures + "/cases/valid-pem-sig", toPath: source + "/valid-pem-sig")
        let pki = Harness.fixtures + "/pki"
        #expect(try Harness.sigvault(["init", directory + "/repo", "--trust", pki + "/root.pem", "--certs", pki + "/certs"]).exitCode == 0)
        let repo = directory + "/repo"
        let (first, night1) = try Self.backup(repo, in: directory)
        #expect(first.exitCode == 2 && (night1["documentsByVerdict"] as? [String: Int])?["INDETERMINATE"] == 1, "\(night1)")
        // Without --fetch-revocation nothing is retried.
        let (_, plain) = try Self.backup(repo, in: directory, ["--crls", pki + "/crl/current", "--ocsp", pki + "/ocsp"])
        #expect(plain["archive"] is NSNull && plain["retriedTryLater"] as? Int == 0, "\(plain)")
        let (second, night2) = try Self.backup(repo, in: directory, ["--fetch-revocation", "--fetch-timeout", "1", "--crls", pki + "/crl/current", "--ocsp", pki + "/ocsp"])
        #expect(second.exitCode == 0, "\(second.stderr)")
        #expect(night2["retriedTryLater"] as? Int == 1 && night2["resolvedTryLater"] as? Int == 1, "\(night2)")
        let log = try Harness.sigvault(["log", "--repo", repo, "src/valid-pem-sig/letter.txt"])
        let lines = log.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("INDETERMINATE/TRY_LATER") && lines[1].contains("TOTAL_PASSED"), "\(log.stdout)")
        let (third, night3) = try Self.backup(repo, in: directory, ["--fetch-revocation", "--fetch-timeout", "1"])
        #expect(third.exitCode == 0 && night3["archive"] is NSNull && night3["retriedTryLater"] as? Int == 0, "\(night3)")
    }

    /// From a review: a deleted signature file re-archives its document; `.` is refused as a source;
    /// an archive that cannot be read does not stop a rebuild; a missing catalog is an error with
    /// the rebuild hint, not an empty catalog; a symbolic link in place of tmp/ is refused; a missing
    /// object never makes an archive number come back.
    @Test func reviewFindings() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try Self.setUp(directory)
        #expect(try Self.backup(repo, in: directory).0.exitCode == 0)
        try FileManager.default.removeItem(atPath: source + "/valid-pem-sig/letter.txt.sig")
        let (night2, summary2) = try Self.backup(repo, in: directory)
        #expect(night2.exitCode == 0 && summary2["deleted"] as? Int == 1 && summary2["archived"] as? Int == 1, "\(summary2)")
        let restored = directory + "/r"
        #expect(try Harness.sigvault(["restore", "--repo", repo, "src/valid-pem-sig/letter.txt", "--to", restored]).exitCode == 0)
        #expect(!FileManager.default.fileExists(atPath: restored + "/src/valid-pem-sig/letter.txt.sig"), "the deleted signature came back")

        let dot = try Harness.sigvault(["backup", ".", "--repo", repo], cwd: source)
        #expect(dot.exitCode == 64 && HardeningTests.errorCode(dot.stderr) == "usage", "\(dot.stderr)")

        // A later archive is lost from the store: the next number is still higher than any there.
        let archives = try Self.archives(repo)
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: source + "/unsigned/new.txt"))
        try FileManager.default.moveItem(atPath: repo + "/archives/" + archives[0], toPath: directory + "/lost.svz")
        let (night3, summary3) = try Self.backup(repo, in: directory)
        #expect(night3.exitCode == 0 && (summary3["archive"] as? String)?.hasSuffix("-3.svz") == true, "\(summary3)")
        try FileManager.default.moveItem(atPath: directory + "/lost.svz", toPath: repo + "/archives/" + archives[0])

        // A junk object and a lost catalog: the rebuild indexes what it can and names the rest.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: repo + "/archives/20261201T000000Z-9.svz"))
        try FileManager.default.removeItem(atPath: repo + "/catalog.sqlite")
        for arguments in [["log", "--repo", repo], ["check", "--repo", repo], ["restore", "--repo", repo, "src/unsigned/readme.txt", "--to", directory + "/x"]] {
            let result = try Harness.sigvault(arguments)
            #expect(result.exitCode == 74 && HardeningTests.errorCode(result.stderr) == "catalog" && result.stderr.contains("rebuild-catalog"),
                    "\(arguments[0]): \(result.stderr)")
        }
        let rebuilt = try Harness.sigvault(["repo", "rebuild-catalog", "--repo", repo])
        #expect(rebuilt.exitCode == 0 && rebuilt.stdout.contains("from 3 archive(s)") && rebuilt.stderr.contains("20261201T000000Z-9.svz: cannot be indexed"),
                "\(rebuilt.stdout)\(rebuilt.stderr)")
        let check = try Harness.sigvault(["check", "--repo", repo])
        #expect(check.exitCode == 1 && check.stdout.contains("PROBLEM  20261201T000000Z-9.svz"), "\(check.stdout)")
        try FileManager.default.removeItem(atPath: repo + "/archives/20261201T000000Z-9.svz")

        // tmp/ replaced by a link to a folder of someone else's: refused, nothing there removed.
        let victim = directory + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: victim + "/keep.svz"))
        try FileManager.default.removeItem(atPath: repo + "/tmp")
        try FileManager.default.createSymbolicLink(atPath: repo + "/tmp", withDestinationPath: victim)
        let linked = try Self.backup(repo, in: directory).0
        #expect(linked.exitCode == 10 && linked.stderr.contains("symbolic link"), "\(linked.stderr)")
        #expect(FileManager.default.fileExists(atPath: victim + "/keep.svz"))
    }

    /// --json-lines: one JSON object per line, started first, the summary last; --quiet prints nothing
    /// on stdout.
    @Test func eventsAsJSONLinesAndQuiet() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        let result = try Harness.sigvault(["backup", "src", "--repo", repo, "--at", Harness.verifyTime, "--json-lines"], cwd: directory)
        #expect(result.exitCode == 0, "\(result.stderr)")
        let events = try result.stdout.split(separator: "\n").map { try Harness.json(String($0)) }
        #expect(events.first?["event"] as? String == "started", "\(result.stdout)")
        #expect(events.contains { $0["event"] as? String == "walked" && $0["new"] as? Int == 6 })
        #expect(events.contains { $0["event"] as? String == "progress" && $0["filesDone"] as? Int == $0["filesTotal"] as? Int })
        #expect(events.contains { $0["event"] as? String == "stored" && ($0["archive"] as? String)?.hasSuffix("-1.svz") == true })
        #expect(events.last?["event"] as? String == "summary" && events.last?["archived"] as? Int == 6, "\(result.stdout)")
        let quiet = try Harness.sigvault(["backup", "src", "--repo", repo, "--at", Harness.verifyTime, "--quiet"], cwd: directory)
        #expect(quiet.exitCode == 0 && quiet.stdout.isEmpty, "\(quiet.stdout)")
        let both = try Harness.sigvault(["backup", "src", "--repo", repo, "--json", "--json-lines"], cwd: directory)
        #expect(both.exitCode == 64, "\(both.stderr)")
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

    /// check --read-data judges the signatures again: a verdict worse than the catalog recorded at
    /// backup is a problem (exit 1); one that was already failing then is a note.
    @Test func checkRaisesTheAlarmOnlyForVerdictsThatGotWorse() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try Self.setUp(directory)
        // A document that already fails at backup: its signature over other content.
        try FileManager.default.createDirectory(atPath: source + "/bad", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/valid-pem-sig/letter.txt.sig", toPath: source + "/bad/other.txt.sig")
        try Data("not what was signed\n".utf8).write(to: URL(fileURLWithPath: source + "/bad/other.txt"))
        let (night, _) = try Self.backup(repo, in: directory)
        #expect(night.exitCode == 2, "\(night.stderr)")
        let same = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(same.exitCode == 0, "\(same.stdout)")
        #expect(same.stdout.contains("NOTE  ") && same.stdout.contains("src/bad/other.txt: TOTAL_FAILED"), "\(same.stdout)")
        // In 2035 the archive's TSA data is stale: the passing documents are not provable any more.
        let later = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", "2035-01-01T00:00:00Z"])
        #expect(later.exitCode == 1, "\(later.stdout)")
        #expect(later.stdout.contains("src/expired-timestamped/contract.pdf: TOTAL_PASSED at backup, INDETERMINATE/"), "\(later.stdout)")
        #expect(!later.stdout.contains("PROBLEM  ") || !later.stdout.contains("src/bad/other.txt: TOTAL_PASSED"), "\(later.stdout)")
    }

    /// check: the catalog against the archives, each archive's structure, and with --read-data every
    /// byte; a damaged archive is exit 1, named; one the catalog does not know yet is a note.
    @Test func checkFindsDamageAndStrays() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, _) = try Self.setUp(directory)
        _ = try Self.backup(repo, in: directory)
        let good = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(good.exitCode == 0 && good.stdout.contains("1 of them byte for byte: OK"), "\(good.stdout)")
        let name = try #require(try Self.archives(repo).first)
        try Harness.flipByte(repo + "/archives/" + name, at: 700)
        let quick = try Harness.sigvault(["check", "--repo", repo, "--json"])
        #expect(quick.exitCode == 0, "the structure (trailer, index, manifest) is intact: \(quick.stdout)")
        let damaged = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(damaged.exitCode == 1, "\(damaged.stdout)")
        #expect(damaged.stdout.contains("PROBLEM  \(name): "), "\(damaged.stdout)")
        let subset = try Harness.sigvault(["check", "--repo", repo, "--read-data-subset", "100", "--at", Harness.verifyTime])
        #expect(subset.exitCode == 1)
        try FileManager.default.copyItem(atPath: repo + "/archives/" + name, toPath: repo + "/archives/20991231T000000Z-9.svz")
        // A stored archive the catalog does not know yet (a backup stopped before recording it) is
        // said, not an alarm, and checked like the others.
        let stray = try Harness.sigvault(["check", "--repo", repo])
        #expect(stray.exitCode == 0 && stray.stdout.contains("NOTE  20991231T000000Z-9.svz: stored but not in the catalog yet"), "\(stray.stdout)")
        try Data("not an archive".utf8).write(to: URL(fileURLWithPath: repo + "/archives/20991231T000001Z-10.svz"))
        let junk = try Harness.sigvault(["check", "--repo", repo])
        #expect(junk.exitCode == 1 && junk.stdout.contains("PROBLEM  20991231T000001Z-10.svz: "), "\(junk.stdout)")
    }
}

/// Issue 10: a backup killed with SIGKILL at each named crash point, and at seeded random moments,
/// leaves a repository that `check --read-data` passes and from which every earlier document
/// restores byte-identical; the next backup completes the night.
@Suite struct RepositoryCrashTests {
    /// Every document restores as one of `versions` says (the night before, or the night that was
    /// stopped if it got as far as its catalog commit).
    static func restoresAsBefore(_ repo: String, _ versions: [[String: Data]], in directory: String) throws {
        let target = directory + "/check-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: target) }
        let names = versions[0].keys.sorted()
        let restore = try Harness.sigvault(["restore", "--repo", repo] + names + ["--to", target])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        for path in names {
            let restored = try? Data(contentsOf: URL(fileURLWithPath: target + "/" + path))
            #expect(versions.contains { $0[path] == restored }, "\(path)")
        }
    }

    static func documents(_ source: String, under directory: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in ["src/unsigned/readme.txt", "src/unsigned/data.bin", "src/valid-pem-sig/letter.txt", "src/expired-timestamped/contract.pdf"] {
            out[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return out
    }

    @Test(arguments: CrashPoints.all) func aBackupKilledAtACrashPointLosesNothing(_ point: String) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try RepositoryTests.setUp(directory)
        #expect(try RepositoryTests.backup(repo, in: directory).0.exitCode == 0)
        let before = try Self.documents(source, under: directory)
        sleep(1)
        try Data("tonight's change\n".utf8).write(to: URL(fileURLWithPath: source + "/unsigned/readme.txt"))
        let killed = try Harness.run(Harness.binary, ["backup", "src", "--repo", repo, "--at", Harness.verifyTime], cwd: directory,
                                     environment: ["SIGVAULT_CRASH_AT": point])
        #expect(killed.exitCode == 9, "\(point): the run was not killed there (exit \(killed.exitCode)): \(killed.stderr)")
        let check = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
        #expect(check.exitCode == 0, "\(point): \(check.stdout)")
        // As it was before the run, or (killed after the catalog commit) as after it.
        try Self.restoresAsBefore(repo, [before, try Self.documents(source, under: directory)], in: directory)
        // The next night completes it: tonight's change is there, nothing is left in tmp/.
        let (next, _) = try RepositoryTests.backup(repo, in: directory)
        #expect(next.exitCode == 0, "\(point): \(next.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo + "/tmp").isEmpty, "\(point)")
        try Self.restoresAsBefore(repo, [try Self.documents(source, under: directory)], in: directory)
        #expect(try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime]).exitCode == 0, "\(point)")
    }

    /// 50 kills at seeded moments of a backup that takes a while (a 16 MiB document changes each
    /// round): after each, check --read-data passes and the documents of the last completed night
    /// restore byte-identical.
    @Test func backupsKilledAtRandomMomentsLoseNothing() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (repo, source) = try RepositoryTests.setUp(directory)
        try HardeningTests.bigFile(source + "/big/scan.bin", megabytes: 16)
        let started = Date()
        #expect(try RepositoryTests.backup(repo, in: directory).0.exitCode == 0)
        let duration = max(0.05, Date().timeIntervalSince(started))
        var expected = try Self.documents(source, under: directory)
        // The readme contents the catalog may hold: the last completed night's, and those of every
        // night cut short since (one killed after its catalog commit counts as done).
        var readmes = [expected["src/unsigned/readme.txt"]!]
        var generator = SeededGenerator(seed: 10)
        var killedCount = 0
        for round in 0..<50 {
            // A change in the big file (its first bytes) and in the readme: work for the night.
            let handle = try #require(FileHandle(forUpdatingAtPath: source + "/big/scan.bin"))
            try handle.seek(toOffset: UInt64(round * 8))
            handle.write(Data(String(format: "%08d", round).utf8))
            try handle.close()
            try Data("round \(round)\n".utf8).write(to: URL(fileURLWithPath: source + "/unsigned/readme.txt"))
            let (process, _) = try HardeningTests.start(["backup", "src", "--repo", repo, "--at", Harness.verifyTime], cwd: directory)
            usleep(UInt32(Double(generator.next() % 1000) / 1000 * duration * 0.9 * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let completed = process.terminationReason == .exit && process.terminationStatus == 0
            if !completed { killedCount += 1 }
            readmes.append(Data("round \(round)\n".utf8))
            let check = try Harness.sigvault(["check", "--repo", repo, "--read-data", "--at", Harness.verifyTime])
            #expect(check.exitCode == 0, "round \(round): \(check.stdout)")
            if completed {
                expected = try Self.documents(source, under: directory)
                readmes = [expected["src/unsigned/readme.txt"]!]
            }
            // What the catalog holds is the last completed night, or this one if it got that far.
            let target = directory + "/round"
            defer { try? FileManager.default.removeItem(atPath: target) }
            let restore = try Harness.sigvault(["restore", "--repo", repo] + expected.keys.sorted() + ["--to", target])
            #expect(restore.exitCode == 0, "round \(round): \(restore.stderr)")
            for (path, data) in expected where path != "src/unsigned/readme.txt" {
                #expect((try? Data(contentsOf: URL(fileURLWithPath: target + "/" + path))) == data, "round \(round): \(path)")
            }
            let readme = try Data(contentsOf: URL(fileURLWithPath: target + "/src/unsigned/readme.txt"))
            #expect(readmes.contains(readme), "round \(round)")
        }
        #expect(killedCount >= 10, "rounds must be cut short to test anything (\(killedCount) of 50)")
    }
}
