import Foundation
import Testing
@testable import SigVault

/// Issue 9: output a person can rely on, through the binary: no name forges a report line, the
/// on-demand integrity check, and a restore onto existing files that refuses before writing.
@Suite struct ReliableOutputTests {
    static let forged = "a\nsigvault: error: forged"

    /// A file named `a<newline>sigvault: error: forged` goes through pack, list, verify and restore:
    /// no line any of them prints starts with the forged text, and JSON carries the name as JSON does.
    @Test func aNameCannotForgeAReportLine() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data("forged\n".utf8).write(to: URL(fileURLWithPath: source + "/" + Self.forged))
        // A signature file that does not parse: pack and verify print the name in a warning/finding.
        try Data("not a signature".utf8).write(to: URL(fileURLWithPath: source + "/" + Self.forged + ".p7s"))
        let archive = directory + "/a.svz"
        var outputs: [(String, Harness.Result)] = []
        outputs.append(("pack", try Harness.sigvault(["pack", "src", "-o", archive, "--trust", Harness.fixtures + "/pki/root.pem",
                                                      "--at", Harness.verifyTime], cwd: directory)))
        #expect(FileManager.default.fileExists(atPath: archive), "\(outputs[0].1.stderr)")
        outputs.append(("list", try Harness.sigvault(["list", archive])))
        outputs.append(("verify", try Harness.sigvault(["verify", archive, "--trust", Harness.fixtures + "/pki/root.pem", "--at", Harness.verifyTime])))
        outputs.append(("verify --integrity-only", try Harness.sigvault(["verify", archive, "--integrity-only"])))
        outputs.append(("restore", try Harness.sigvault(["restore", archive, "--to", directory + "/out"])))
        // A second restore fails on the existing files and names them in its error line.
        outputs.append(("restore again", try Harness.sigvault(["restore", archive, "--to", directory + "/out"])))
        #expect(outputs.last?.1.exitCode == 73)
        for (command, result) in outputs {
            let lines = (result.stdout + result.stderr).split(separator: "\n", omittingEmptySubsequences: false)
            #expect(!lines.contains { $0.hasPrefix("sigvault: error: forged") }, "\(command): \(result.stdout)\(result.stderr)")
            // The name is there, escaped (--integrity-only names no document when all is intact).
            if command.hasSuffix("--integrity-only") { continue }
            #expect((result.stdout + result.stderr).contains("a\\x0Asigvault: error: forged"), "\(command): \(result.stdout)\(result.stderr)")
        }
        // The restored file has the real name.
        #expect(FileManager.default.fileExists(atPath: directory + "/out/src/" + Self.forged))
        // JSON escapes as JSON does: the parsed path is the real name.
        let list = try Harness.json(try Harness.sigvault(["list", archive, "--json"]).stdout)
        let paths = (list["documents"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(paths == ["src/" + Self.forged], "\(paths)")
    }

    /// `verify --integrity-only`: exit 0 on an intact archive without any trust anchor, exit 1 on a
    /// byte changed in a document's frame, and it refuses options that only make sense for
    /// signatures (a usage error, not a silent ignore).
    @Test func integrityOnlyChecksTheBytesAlone() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases/valid-pem-sig", "Fixtures/cases/unsigned"], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let intact = try Harness.sigvault(["verify", archive, "--integrity-only", "--json"])
        #expect(intact.exitCode == 0, "\(intact.stdout)\(intact.stderr)")
        let json = try Harness.json(intact.stdout)
        #expect(json["checks"] as? String == "integrity")
        #expect((json["integrity"] as? [String: Any])?["ok"] as? Bool == true)
        #expect((json["documents"] as? [Any])?.isEmpty == true)
        for extra in [["--trust", "Fixtures/pki/root.pem"], ["--at", Harness.verifyTime]] {
            let refused = try Harness.sigvault(["verify", archive, "--integrity-only"] + extra, cwd: Harness.packageRoot)
            #expect(refused.exitCode == 64, "\(extra): \(refused.stderr)")
            #expect(HardeningTests.errorCode(refused.stderr) == "usage", "\(refused.stderr)")
        }
        // A byte inside the first document frame (after the first tar header).
        try Harness.flipByte(archive, at: 700)
        let damaged = try Harness.sigvault(["verify", archive, "--integrity-only", "--json"])
        #expect(damaged.exitCode == 1, "\(damaged.stdout)\(damaged.stderr)")
        let problems = (try Harness.json(damaged.stdout)["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(!problems.isEmpty)
    }

    /// Without --force, restore checks every file it would write first: it refuses with exit 73,
    /// names all the conflicts, and writes nothing (the other documents stay unwritten too). With
    /// --force it overwrites.
    @Test func restoreRefusesConflictsBeforeWritingAnything() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (archive, pack) = try Harness.pack(["Fixtures/cases/valid-pem-sig", "Fixtures/cases/unsigned"], in: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let target = directory + "/out"
        // One file of the last document (in archive order) is already there.
        try FileManager.default.createDirectory(atPath: target + "/Fixtures/cases/valid-pem-sig", withIntermediateDirectories: true)
        let existing = target + "/Fixtures/cases/valid-pem-sig/letter.txt.sig"
        try Data("mine".utf8).write(to: URL(fileURLWithPath: existing))
        let refused = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(refused.exitCode == 73, "\(refused.stderr)")
        #expect(HardeningTests.errorCode(refused.stderr) == "output-exists", "\(refused.stderr)")
        #expect(refused.stderr.contains("1 file(s) already exist, nothing was restored: Fixtures/cases/valid-pem-sig/letter.txt.sig"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target + "/Fixtures/cases/unsigned"))
        #expect(!FileManager.default.fileExists(atPath: target + "/Fixtures/cases/valid-pem-sig/letter.txt"))
        #expect(!FileManager.default.fileExists(atPath: target + "/.sigvault-evidence"))
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "mine")
        let forced = try Harness.sigvault(["restore", archive, "--to", target, "--force"])
        #expect(forced.exitCode == 0, "\(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: existing)) == Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/cases/valid-pem-sig/letter.txt.sig")))
    }
}
