import Foundation
import Testing
import SigVaultFormat

/// What pack takes in, and the exit codes of docs/CLI.md.
@Suite struct PackTests {
    @Test func inputWithDotDotIsRefused() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Harness.sigvault(["pack", "Fixtures/../Fixtures/cases/unsigned", "-o", directory + "/a.svz"])
        #expect(result.exitCode == 64)
        #expect(result.stderr.contains("'..'"))
        #expect(HardeningTests.errorCode(result.stderr) == "usage", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/a.svz"))
    }

    @Test func missingInputAndExistingOutput() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = try Harness.sigvault(["pack", "no/such/path", "-o", directory + "/a.svz"])
        #expect(missing.exitCode == 66)
        #expect(missing.stderr.contains("no/such/path"))
        #expect(HardeningTests.errorCode(missing.stderr) == "input-missing", "\(missing.stderr)")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: directory + "/a.svz"))
        let exists = try Harness.sigvault(["pack", "Fixtures/cases/unsigned", "-o", directory + "/a.svz"])
        #expect(exists.exitCode == 73)
        #expect(HardeningTests.errorCode(exists.stderr) == "output-exists", "\(exists.stderr)")
        #expect(try String(contentsOfFile: directory + "/a.svz", encoding: .utf8) == "precious")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["a.svz"])
    }

    @Test func usageAndInvalidInputExitCodes() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let badTime = try Harness.sigvault(["verify", "whatever.svz", "--at", "yesterday"])
        #expect(badTime.exitCode == 64)
        #expect(HardeningTests.errorCode(badTime.stderr) == "usage", "\(badTime.stderr)")
        try Data("not an archive at all".utf8).write(to: URL(fileURLWithPath: directory + "/x.svz"))
        let notArchive = try Harness.sigvault(["verify", directory + "/x.svz"])
        #expect(notArchive.exitCode == 65)
        #expect(HardeningTests.errorCode(notArchive.stderr) == "archive-invalid", "\(notArchive.stderr)")
        #expect(notArchive.stderr.hasPrefix("sigvault: error: \(directory)/x.svz"))
        let missing = try Harness.sigvault(["verify", directory + "/none.svz"])
        #expect(missing.exitCode == 66)
        #expect(HardeningTests.errorCode(missing.stderr) == "input-missing", "\(missing.stderr)")
        let list = try Harness.sigvault(["list", directory + "/x.svz"])
        #expect(list.exitCode == 65)
        #expect(HardeningTests.errorCode(list.stderr) == "archive-invalid", "\(list.stderr)")
        // 74: verify cannot make its scratch folder for the signed documents.
        let (archive, _) = try Harness.pack(["Fixtures/cases/expired-timestamped"], in: directory)
        let noScratch = try Harness.run(Harness.binary, ["verify", archive, "--at", Harness.verifyTime],
                                        environment: ["TMPDIR": directory + "/does-not-exist"])
        #expect(noScratch.exitCode == 74, "\(noScratch.stderr)")
        #expect(noScratch.stderr.hasPrefix("sigvault: error: "))
        #expect(HardeningTests.errorCode(noScratch.stderr) == "scratch", "\(noScratch.stderr)")
    }

    @Test func pathsAreMadeRelativeAndFilesReachedTwiceArchivedOnce() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let result = try Harness.sigvault(["pack", "./Fixtures/cases/unsigned", "Fixtures/cases/unsigned/readme.txt",
                                           Harness.fixtures + "/cases/demo/meeting-agenda.txt", "-o", archive, "--at", Harness.verifyTime])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive])
        let names = listing.stdout.split(separator: "\n").map(String.init)
        #expect(names.filter { $0 == "data/Fixtures/cases/unsigned/readme.txt" }.count == 1)
        #expect(names.contains(String(("data" + Harness.fixtures + "/cases/demo/meeting-agenda.txt"))))
        #expect(!names.contains { $0.hasPrefix("/") || $0.contains("./") })
        #expect(names.first == "VERIFY.md")
        #expect(names.last == "manifest.jsonl")
    }

    /// The walk streams (one folder at a time, depth first) yet the members come out in the byte
    /// order of their names, where a folder's files sort after a sibling `a.txt` and before `a0`;
    /// inputs that overlap are merged, each file once; two different files under one name are refused.
    @Test func theWalkComesOutInNameOrderAndMergesOverlappingInputs() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let names = ["t/a.txt", "t/a/b/c", "t/a/z", "t/a0", "t/a-", "t/a b", "t/a.d/x", "t/b", "t/a/b.txt", "t/a/b/c.d/e", "t/ab/c"]
        for name in names {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(name.utf8).write(to: URL(fileURLWithPath: path))
        }
        let archive = directory + "/x.svz"
        let pack = try Harness.sigvault(["pack", "t/a", "t", "t/a/b/c", "t/ab", "-o", archive, "--at", Harness.verifyTime], cwd: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive]).stdout.split(separator: "\n").map(String.init)
        let members = Array(listing.dropFirst().dropLast())
        let expected = names.map { "data/" + $0 }.sorted { ArchivePath($0) < ArchivePath($1) }
        #expect(members == expected, "\(members)")
        #expect(try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime]).exitCode == 0)

        // /proc/self/cwd/x is the working folder's x; proc/self/cwd/x under it is another file,
        // with the same relative name.
        let other = directory + "/proc/self/cwd"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("one".utf8).write(to: URL(fileURLWithPath: directory + "/x"))
        try Data("two".utf8).write(to: URL(fileURLWithPath: other + "/x"))
        let clash = try Harness.sigvault(["pack", "/proc/self/cwd/x", "proc/self/cwd/x", "-o", directory + "/y.svz"], cwd: directory)
        #expect(clash.exitCode == 64 && clash.stderr.contains("proc/self/cwd/x: two different files would be archived under this one name"), "\(clash.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/y.svz"))
    }

    @Test func namesThatAreNotUTF8RoundTrip() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        var raw = Array((source + "/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let fd = raw.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { open($0, O_WRONLY | O_CREAT, 0o644) }
        }
        #expect(fd >= 0)
        _ = "latin-1 name".withCString { write(fd, $0, 12) }
        close(fd)
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "src", "-o", archive, "--at", Harness.verifyTime], cwd: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime, "--json"])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        #expect(verify.stdout.contains("src/caf\\\\xE9.txt"))
        let target = directory + "/out"
        let restore = try Harness.sigvault(["restore", archive, "--to", target, "src/caf\\xE9.txt"])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        raw = Array((target + "/src/caf").utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let restored = raw.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { access($0, F_OK) }
        }
        #expect(restored == 0)
    }

    @Test func fifosAreSkippedWithAWarning() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: source + "/a.txt"))
        #expect(mkfifo(source + "/pipe", 0o644) == 0)
        let pack = try Harness.sigvault(["pack", "src", "-o", directory + "/a.svz", "--at", Harness.verifyTime], cwd: directory)
        #expect(pack.exitCode == 0)
        #expect(pack.stderr.contains("sigvault: warning: src/pipe: skipped"))
    }

    @Test func packReportsSignaturesThatDoNotPassButStillWritesTheArchive() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, result) = try Harness.pack(["Fixtures/cases/tampered-document"], in: directory)
        #expect(result.exitCode == 2)
        #expect(result.stdout.contains("TOTAL_FAILED/HASH_FAILURE"))
        #expect(FileManager.default.fileExists(atPath: archive))
    }

    /// Hundreds of small members (written in batches), members around the one-frame limit and
    /// several frames long, and a file whose content is not its stat size (a /proc file: left out
    /// with exit 3 in the middle of a batch): every other file restores byte for byte.
    @Test func manySmallAndLargeMembersRoundTrip() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var info = stat()
        try #require(stat(PackTests.mismatchedFile, &info) == 0 && info.st_size == 0, "Linux's /proc/version reads non-empty with stat size 0")
        let random = try #require(FileHandle(forReadingAtPath: "/dev/urandom"))
        var originals: [String: [UInt8]] = [:]
        func add(_ name: String, _ size: Int) throws {
            let bytes = [UInt8](try random.read(upToCount: size) ?? Data())
            try #require(bytes.count == size)
            let path = directory + "/" + name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            originals[name] = bytes
        }
        for index in 0..<300 { try add(String(format: "src/f%03d.bin", index), index * 97 % 5000) }
        // Around the largest single-frame member (1 MiB minus 8 KiB) and over several frames.
        for (index, size) in [(1 << 20) - 8192, (1 << 20) - 8191, (1 << 20), 3 * (1 << 20) + 5].enumerated() {
            try add("src/large\(index).bin", size)
        }
        for index in 0..<100 { try add(String(format: "tail/g%03d.bin", index), index * 31) }
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "src", PackTests.mismatchedFile, "tail", "-o", archive, "--at", Harness.verifyTime], cwd: directory)
        #expect(pack.exitCode == 3, "\(pack.stderr)")
        #expect(pack.stderr.contains("\(PackTests.mismatchedFile): holds more bytes than its size (0) says"), "\(pack.stderr)")
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let restored = directory + "/restored"
        let restore = try Harness.sigvault(["restore", archive, "--to", restored])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        for (name, bytes) in originals {
            let data = try Data(contentsOf: URL(fileURLWithPath: restored + "/" + name))
            #expect([UInt8](data) == bytes, "\(name)")
        }
        #expect(!FileManager.default.fileExists(atPath: restored + PackTests.mismatchedFile))
    }

    /// Reports are streamed: plain unsigned documents and analysed ones still come out in one name
    /// order, in the JSON and in the text report.
    @Test func reportsListDocumentsInNameOrder() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/in"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        for name in ["letter.txt", "letter.txt.sig"] {
            try FileManager.default.copyItem(atPath: Harness.fixtures + "/cases/valid-pem-sig/" + name, toPath: source + "/" + name)
        }
        for name in ["a.txt", "letter.a", "letter.txt.zz", "z.txt"] { try Data(name.utf8).write(to: URL(fileURLWithPath: source + "/" + name)) }
        let (archive, pack) = try Harness.pack([source], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let (verify, json) = try Harness.verifyJSON(archive)
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let paths = (json["documents"] as? [[String: Any]] ?? []).compactMap { ($0["path"] as? String).map { String($0.split(separator: "/").last!) } }
        #expect(paths == ["a.txt", "letter.a", "letter.txt", "letter.txt.zz", "z.txt"])
        let summary = json["summary"] as? [String: Any]
        #expect(summary?["documents"] as? Int == 5 && summary?["unsigned"] as? Int == 4 && summary?["signed"] as? Int == 1)
        let text = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime])
        let unsigned = text.stdout.split(separator: "\n").filter { $0.hasPrefix("  UNSIGNED") }.map { String($0.split(separator: "/").last!) }
        #expect(unsigned == ["a.txt", "letter.a", "letter.txt.zz", "z.txt"], "\(text.stdout)")
        #expect(text.stdout.contains("summary: 5 documents, 1 signed: 1 TOTAL_PASSED"))
    }

    /// Reports a size of 0 but reads as a line (on every Linux).
    static let mismatchedFile = "/proc/version"

    @Test func archiveOpensWithStockTarAndZstd() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, _) = try Harness.pack(["Fixtures/cases/demo"], in: directory)
        let out = directory + "/x"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let tar = try Harness.run("/usr/bin/tar", ["--zstd", "-xf", archive, "-C", out])
        #expect(tar.exitCode == 0, "\(tar.stderr)")
        // The manifest's SHA-256 is the fingerprint list prints; every member line matches its file.
        let list = try Harness.sigvault(["list", archive, "--json"])
        let fingerprint = try Harness.json(list.stdout)["fingerprint"] as? String
        let sum = try Harness.run("/usr/bin/sha256sum", [out + "/manifest.jsonl"])
        #expect(sum.stdout.hasPrefix(fingerprint ?? "?"))
        let manifest = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8)
        var checked = 0
        for line in manifest.split(separator: "\n") {
            let object = try Harness.json(String(line))
            guard object["type"] as? String == "member", let path = object["path"] as? String, object["role"] as? String != "symlink" else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + path))
            #expect(ToolHash.sha256(data) == object["sha256"] as? String, "\(path)")
            checked += 1
        }
        #expect(checked > 5)
    }
}

enum ToolHash {
    static func sha256(_ data: Data) -> String {
        let file = NSTemporaryDirectory() + "sigvault-hash-" + UUID().uuidString
        try? data.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try? Harness.run("/usr/bin/sha256sum", [file])
        return String(result?.stdout.prefix(64) ?? "")
    }
}

/// Exit code 3: an unreadable source is reported and the rest archived. Runs pack as `nobody`,
/// since root reads everything.
@Suite struct UnreadableSourceTests {
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func unreadableFileIsReportedAndTheRestArchived() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(chmod(directory, 0o777) == 0)
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data("readable".utf8).write(to: URL(fileURLWithPath: source + "/ok.txt"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: source + "/locked.txt"))
        #expect(chmod(source + "/locked.txt", 0) == 0)
        let archive = directory + "/a.svz"
        let result = try Harness.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Harness.binary,
                                                          "pack", "src", "-o", archive, "--at", Harness.verifyTime], cwd: directory)
        #expect(result.exitCode == 3, "\(result.stderr)")
        #expect(result.stderr.contains("src/locked.txt: cannot open"))
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive])
        #expect(listing.stdout.contains("data/src/ok.txt"))
        #expect(!listing.stdout.contains("locked.txt"))
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime])
        #expect(verify.exitCode == 0)
    }
}

@Suite struct MaterialTests {
    @Test func foldersSkipForeignFilesButNamedFilesMustParse() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let material = directory + "/certs"
        try FileManager.default.createDirectory(atPath: material, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Harness.fixtures + "/pki/certs/intermediate.pem", toPath: material + "/intermediate.pem")
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: material + "/README.txt"))
        let folder = try Harness.sigvault(["pack", "Fixtures/cases/expired-timestamped", "--certs", material, "--trust", "Fixtures/pki/root.pem",
                                           "--crls", "Fixtures/pki/crl/current", "--ocsp", "Fixtures/pki/ocsp", "--at", Harness.verifyTime, "-o", directory + "/a.svz"])
        #expect(folder.exitCode == 0, "\(folder.stderr)")
        #expect(folder.stderr.contains("README.txt: skipped, not a certificate"))
        let named = try Harness.sigvault(["pack", "Fixtures/cases/expired-timestamped", "--certs", material + "/README.txt",
                                          "-o", directory + "/b.svz"])
        #expect(named.exitCode == 65)
        #expect(named.stderr.contains("README.txt: not a certificate"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/b.svz"))
        let missing = try Harness.sigvault(["pack", "Fixtures/cases/expired-timestamped", "--crls", directory + "/nothing", "-o", directory + "/c.svz"])
        #expect(missing.exitCode == 66)
    }
}
