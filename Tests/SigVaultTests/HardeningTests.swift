import Foundation
import Testing
@testable import SigVault
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9: hostile input, interruptions, and output a person can rely on. Everything here runs
/// the built binary.
@Suite struct HardeningTests {
    /// The stable code at the end of the `sigvault: error:` line (docs/CLI.md, errors).
    static func errorCode(_ stderr: String) -> String? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("sigvault: error: ") }),
              line.hasSuffix("]"), let open = line.lastIndex(of: "[") else { return nil }
        return String(line[line.index(after: open)..<line.index(before: line.endIndex)])
    }

    /// A document of `megabytes` MiB of pseudo-random bytes (incompressible, so pack and restore take
    /// a while), made with openssl from a fixed key.
    static func bigFile(_ path: String, megabytes: Int) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let made = try Harness.run("/bin/sh", ["-c", "head -c \(megabytes)M /dev/zero | openssl enc -aes-128-ctr -nosalt -K 00112233445566778899aabbccddeeff -iv 0 > '\(path)'"])
        #expect(made.exitCode == 0, "\(made.stderr)")
    }

    /// Starts sigvault in the background with its output in files.
    static func start(_ arguments: [String], cwd: String) throws -> (Process, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Harness.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        let errors = cwd + "/stderr-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    /// Waits (at most 60 s) until a file whose name contains `marker` exists under `folder`.
    static func waitForTemporary(under folder: String, marker: String) -> String? {
        for _ in 0..<6000 {
            if let found = FileManager.default.enumerator(atPath: folder)?.compactMap({ $0 as? String }).first(where: { $0.contains(marker) }) {
                return found
            }
            usleep(10_000)
        }
        return nil
    }

    static func temporaries(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? [])
            .filter { $0.contains(".sigvault-tmp-") || $0.contains(".sigvault-part-") }
    }

    @Test func oneCharacterPathsWork() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/d", withIntermediateDirectories: true)
        try Data("one".utf8).write(to: URL(fileURLWithPath: directory + "/d/x"))
        let pack = try Harness.sigvault(["pack", "d", "-o", "o"], cwd: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        for target in ["r", "a/b", "r/"] {
            let restore = try Harness.sigvault(["restore", "o", "--to", target], cwd: directory)
            #expect(restore.exitCode == 0, "\(target): \(restore.stderr)")
            #expect(try String(contentsOfFile: directory + "/" + target + "/d/x", encoding: .utf8) == "one")
            try? FileManager.default.removeItem(atPath: directory + "/" + target)
        }
        let list = try Harness.sigvault(["list", "o"], cwd: directory)
        #expect(list.exitCode == 0 && list.stdout.contains("UNSIGNED  d/x"), "\(list.stderr)")
        let verify = try Harness.sigvault(["verify", "o", "--integrity-only"], cwd: directory)
        #expect(verify.exitCode == 0, "\(verify.stderr)")
    }

    @Test func standardOutputIsNotAnArchive() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Harness.sigvault(["pack", "Fixtures/cases/unsigned", "-o", "-"])
        #expect(result.exitCode == 64)
        #expect(Self.errorCode(result.stderr) == "usage", "\(result.stderr)")
    }

    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143)), (SIGHUP, Int32(129))])
    func aSignalStopsPackAndRemovesItsTemporaryFile(signal: Int32, expected: Int32) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.bigFile(directory + "/in/big.bin", megabytes: 400)
        let (process, errors) = try Self.start(["pack", "in", "-o", "out.svz"], cwd: directory)
        let temporary = try #require(Self.waitForTemporary(under: directory, marker: ".sigvault-tmp-"), "pack made no temporary output")
        // Stopped, signalled, continued: the signal arrives while the output is half-written.
        kill(process.processIdentifier, SIGSTOP)
        kill(process.processIdentifier, signal)
        kill(process.processIdentifier, SIGCONT)
        process.waitUntilExit()
        let stderr = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(process.terminationStatus == expected, "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + temporary))
        #expect(Self.temporaries(under: directory).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.svz"))
        #expect(stderr.contains("interrupted by"), "\(stderr)")
    }

    @Test func aSignalStopsRestoreAndRemovesItsPartFiles() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.bigFile(directory + "/in/big.bin", megabytes: 400)
        let pack = try Harness.sigvault(["pack", "in", "-o", "a.svz"], cwd: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let (process, errors) = try Self.start(["restore", "a.svz", "--to", "r"], cwd: directory)
        _ = try #require(Self.waitForTemporary(under: directory + "/r", marker: ".sigvault-part-"), "restore made no part file")
        kill(process.processIdentifier, SIGSTOP)
        kill(process.processIdentifier, SIGTERM)
        kill(process.processIdentifier, SIGCONT)
        process.waitUntilExit()
        let stderr = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(process.terminationStatus == 143, "\(stderr)")
        #expect(Self.temporaries(under: directory + "/r").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: directory + "/r/in/big.bin"))
    }

    @Test func theNextRunRemovesWhatAKilledRunLeftButNeverALiveOne() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.bigFile(directory + "/in/big.bin", megabytes: 400)
        let (process, _) = try Self.start(["pack", "in", "-o", "out.svz"], cwd: directory)
        let left = try #require(Self.waitForTemporary(under: directory, marker: ".sigvault-tmp-"))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: directory + "/" + left), "SIGKILL cannot clean up")
        // One of a live process (this test's), and one of another host: both stay.
        let host = TemporaryFiles.hostName
        let live = ".out.svz.sigvault-tmp-\(getpid())-abcd-\(host)"
        let foreign = ".out.svz.sigvault-tmp-\(process.processIdentifier)-abcd-elsewhere.example"
        for name in [live, foreign] { _ = FileManager.default.createFile(atPath: directory + "/" + name, contents: Data()) }
        let again = try Harness.sigvault(["pack", "in", "-o", "out.svz"], cwd: directory)
        #expect(again.exitCode == 0, "\(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/" + left))
        #expect(again.stderr.contains("removed ./\(left), left by an earlier run (process \(process.processIdentifier)) that is gone"), "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/" + live))
        #expect(FileManager.default.fileExists(atPath: directory + "/" + foreign))

        // Restore: stale part files anywhere in the target go, a live one stays.
        let target = directory + "/r/in/deep"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let stalePart = target + "/.sigvault-part-\(process.processIdentifier)-12ab-\(host)"
        let livePart = directory + "/r/.sigvault-part-\(getpid())-12ab-\(host)"
        for path in [stalePart, livePart] { _ = FileManager.default.createFile(atPath: path, contents: Data()) }
        let restore = try Harness.sigvault(["restore", "out.svz", "--to", "r"], cwd: directory)
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stalePart))
        #expect(FileManager.default.fileExists(atPath: livePart))
    }

    /// A scratch folder that fills up is "could not run" (exit 74), never a verdict about the archive.
    @Test func aFullScratchFolderIsAnIOErrorNotAVerdict() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A signed document above the 16 MiB that verify keeps in memory goes through TMPDIR.
        let document = directory + "/in/big.bin"
        try Self.bigFile(document, megabytes: 20)
        let pki = Harness.fixtures + "/pki"
        let sign = try Harness.openssl(["cms", "-sign", "-binary", "-in", document, "-signer", pki + "/certs/signer-valid.pem",
                                        "-inkey", pki + "/private/signer-valid.key", "-certfile", pki + "/certs/intermediate.pem",
                                        "-outform", "DER", "-out", document + ".p7s"])
        #expect(sign.exitCode == 0, "\(sign.stderr)")
        let (archive, pack) = try Harness.pack([directory + "/in"], in: directory)
        #expect(pack.exitCode == 0 || pack.exitCode == 2, "\(pack.stderr)")
        // A file size limit of 1 MiB (SIGXFSZ ignored, so writes fail with EFBIG) stands for a full disk.
        let verify = try Harness.run("/bin/bash", ["-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" \"$@\"", Harness.binary, "verify", archive,
                                                   "--trust", pki + "/root.pem", "--at", Harness.verifyTime])
        #expect(verify.exitCode == 74, "\(verify.stdout)\(verify.stderr)")
        #expect(Self.errorCode(verify.stderr) == "scratch", "\(verify.stderr)")
        #expect(!verify.stdout.contains("INDETERMINATE") && !verify.stdout.contains("TOTAL_"), "\(verify.stdout)")
        let unusable = try Harness.run(Harness.binary, ["verify", archive, "--trust", pki + "/root.pem", "--at", Harness.verifyTime],
                                       environment: ["TMPDIR": directory + "/no/such/folder"])
        #expect(unusable.exitCode == 74 && Self.errorCode(unusable.stderr) == "scratch", "\(unusable.stderr)")
    }
}

/// `--at` takes a full ISO 8601 time and nothing else; durations digits and a unit.
@Suite struct TimeArgumentTests {
    @Test(arguments: ["2030-06-01garbage", "2030-02-30T00:00:00Z", "2030-06-01T12:61:00Z", "2030-06-01", "2030-06-01T00:00Z",
                      "2030-06-01T00:00:00", "2030-06-01 00:00:00Z", "2030-13-01T00:00:00Z", "2029-02-29T00:00:00Z", "2030-06-01T24:00:00Z",
                      "2030-06-01T23:59:60Z", "2030-06-01T00:00:00+2:00", "2030-06-01T00:00:00.Z", "+2030-06-01T00:00:00Z", ""])
    func aTimeThatIsNotFullISO8601IsAUsageError(_ text: String) throws {
        let result = try Harness.sigvault(["verify", "no-such.svz", "--at", text])
        #expect(result.exitCode == 64, "\(text): \(result.stderr)")
        #expect(HardeningTests.errorCode(result.stderr) == "usage")
        #expect(result.stderr.contains("--at \(text):"), "the message names the value: \(result.stderr)")
    }

    @Test(arguments: ["90d", "12h"]) func aDurationIsAccepted(_ text: String) throws {
        let result = try Harness.sigvault(["verify", "no-such.svz", "--max-revocation-age", text])
        #expect(result.exitCode == 66, "\(result.stderr)")
    }

    @Test(arguments: ["+5d", "5", "d", "5 d", "-1d", "1.5d", "5w"]) func aBadDurationIsAUsageError(_ text: String) throws {
        let result = try Harness.sigvault(["verify", "no-such.svz", "--max-revocation-age=\(text)"])
        #expect(result.exitCode == 64, "\(text): \(result.stderr)")
        #expect(result.stderr.contains(text), "\(result.stderr)")
    }

    @Test func validTimesMeanWhatTheySay() {
        let reference = ISO8601DateFormatter()
        for text in ["2030-06-01T00:00:00Z", "2028-02-29T23:59:59Z", "1999-12-31T23:59:59Z", "2030-06-01T02:00:00+02:00",
                     "2030-06-01T00:00:00-09:30", "2100-03-01T00:00:00Z", "2000-02-29T12:00:00Z", "1970-01-01T00:00:00Z"] {
            #expect(TimeArgument.parse(text) == reference.date(from: text), "\(text)")
        }
        #expect(TimeArgument.parse("2030-06-01T00:00:00.25Z") == reference.date(from: "2030-06-01T00:00:00Z")!.addingTimeInterval(0.25))
        #expect(TimeArgument.parse("2030-06-01t00:00:00z") == reference.date(from: "2030-06-01T00:00:00Z"))
    }
}
