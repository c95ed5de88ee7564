import Foundation
import Testing
@testable import SigVault
import OpenSSLBridge

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

    /// Certificate names are UTF-8 in RFC 4514 form, as `openssl x509 -nameopt RFC2253,-esc_msb`
    /// prints them, in text and JSON (they used to print as `\E5\BC\A0...`). The signer is a
    /// self-signed certificate made here from a fixture key under faketime, so it is the same on
    /// every run.
    @Test func certificateNamesAreUTF8() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = Harness.fixtures + "/pki/private/signer-valid.key"
        let made = try Harness.run("/usr/bin/faketime", ["2024-01-01 00:00:00", "/usr/bin/openssl", "req", "-x509", "-new", "-key", key,
                                                          "-utf8", "-subj", "/O=Société Générale/CN=张三", "-days", "3650", "-set_serial", "7",
                                                          "-addext", "keyUsage=critical,digitalSignature", "-out", directory + "/signer.pem"])
        #expect(made.exitCode == 0, "\(made.stderr)")
        let expected = try Harness.openssl(["x509", "-in", directory + "/signer.pem", "-noout", "-subject", "-nameopt", "RFC2253,-esc_msb"])
        #expect(expected.stdout == "subject=CN=张三,O=Société Générale\n", "\(expected.stdout)")
        let certificate = try #require(try Certificate.parseAll(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/signer.pem")))).first)
        #expect(certificate.subject == "CN=张三,O=Société Générale")

        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data("签名的合同\n".utf8).write(to: URL(fileURLWithPath: source + "/contract.txt"))
        let signed = try Harness.run("/usr/bin/faketime", ["2024-06-01 00:00:00", "/usr/bin/openssl", "cms", "-sign", "-binary", "-in", source + "/contract.txt",
                                                            "-signer", directory + "/signer.pem", "-inkey", key, "-outform", "DER",
                                                            "-out", source + "/contract.txt.p7s"])
        #expect(signed.exitCode == 0, "\(signed.stderr)")
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "src", "-o", archive, "--trust", directory + "/signer.pem", "--at", Harness.verifyTime], cwd: directory)
        #expect(FileManager.default.fileExists(atPath: archive), "\(pack.stderr)")
        #expect(pack.exitCode == 0, "\(pack.stdout)\(pack.stderr)")
        let verify = try Harness.sigvault(["verify", archive, "--trust", directory + "/signer.pem", "--at", Harness.verifyTime, "--json"])
        let json = try Harness.json(verify.stdout)
        let signers = (json["documents"] as? [[String: Any]] ?? []).flatMap { ($0["signatures"] as? [[String: Any]]) ?? [] }
            .compactMap { $0["signer"] as? String }
        #expect(signers == ["CN=张三,O=Société Générale"], "\(verify.stdout)")
        let text = try Harness.sigvault(["verify", archive, "--trust", directory + "/signer.pem", "--at", Harness.verifyTime])
        #expect(text.stdout.contains("CN=张三,O=Société Générale"), "\(text.stdout)")
        let list = try Harness.sigvault(["list", archive])
        #expect(list.stdout.contains("signed by CN=张三,O=Société Générale"), "\(list.stdout)")
    }

    /// A /proc file says size 0 and holds bytes: it is left out with a warning naming it and exit 3,
    /// never archived silently empty (it used to be archived as an empty document with exit 0).
    @Test func aFileLongerThanItsStatSizeIsNeverArchivedShort() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var info = stat()
        try #require(stat("/proc/version", &info) == 0 && info.st_size == 0, "Linux's /proc/version reads non-empty with stat size 0")
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "/proc/version", Harness.fixtures + "/cases/unsigned", "-o", archive, "--at", Harness.verifyTime])
        #expect(pack.exitCode == 3, "\(pack.stderr)")
        #expect(pack.stderr.contains("/proc/version: holds more bytes than its size (0) says"), "\(pack.stderr)")
        let list = try Harness.sigvault(["list", archive, "--json"])
        let paths = (try Harness.json(list.stdout)["documents"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(!paths.contains { $0.hasSuffix("proc/version") }, "\(paths)")
        #expect(paths.contains { $0.hasSuffix("cases/unsigned/data.bin") }, "\(paths)")
    }

    /// Everything handed over with --certs, --crls and --ocsp is archived, once per content, even
    /// when no signature uses it (the documents here are unsigned); it used to be dropped.
    @Test func handedOverMaterialIsArchivedEvenUnused() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let pki = Harness.fixtures + "/pki"
        // The same certificate folder twice, and one of its files again: stored once.
        let pack = try Harness.sigvault(["pack", "Fixtures/cases/unsigned", "-o", archive, "--at", Harness.verifyTime, "--trust", pki + "/root.pem",
                                         "--certs", pki + "/certs", "--certs", pki + "/certs", "--certs", pki + "/root.pem",
                                         "--crls", pki + "/crl/current", "--ocsp", pki + "/ocsp"], cwd: Harness.packageRoot)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        var certificates = Set<String>(), crls = Set<String>(), responses = Set<String>()
        for file in try MaterialLoader.files(under: pki + "/certs") + [pki + "/root.pem"] {
            for certificate in try Certificate.parseAll(Array(try Data(contentsOf: URL(fileURLWithPath: file)))) { certificates.insert(certificate.sha256Hex) }
        }
        for file in try MaterialLoader.files(under: pki + "/crl/current") {
            for crl in try RevocationList.parseAll(Array(try Data(contentsOf: URL(fileURLWithPath: file)))) { crls.insert(crl.sha256Hex) }
        }
        for file in try MaterialLoader.files(under: pki + "/ocsp") {
            let response = try OCSPResponse(der: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
            responses.insert(response.sha256Hex)
            for certificate in response.certificates { certificates.insert(certificate.sha256Hex) }
        }
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive])
        let names = listing.stdout.split(separator: "\n").map(String.init)
        func stored(_ folder: String, _ suffix: String) -> Set<String> {
            Set(names.filter { $0.hasPrefix("evidence/\(folder)/") }.map { String($0.dropFirst(folder.count + 10).dropLast(suffix.count)) })
        }
        #expect(stored("certificates", ".der") == certificates)
        #expect(stored("crls", ".crl") == crls)
        #expect(stored("ocsp", ".der") == responses)
        #expect(names.count == Set(names).count)
        let verify = try Harness.sigvault(["verify", archive, "--integrity-only"])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        // Packed without --tsa: the guide says version 1, without an archive time-stamp.
        let guide = try Harness.run("/usr/bin/tar", ["--zstd", "-xOf", archive, "VERIFY.md"])
        #expect(guide.stdout.contains("format version 1,") && guide.stdout.contains("This archive carries no archive time-stamp"), "\(guide.stdout)")
        #expect(!guide.stdout.contains("archive time-stamp. The format version"))
    }

    /// Empty folders are left out, and pack says so, naming them (it used to drop them silently).
    @Test func packSaysItLeavesOutEmptyFolders() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for folder in ["src/empty", "src/sub/deeper/empty", "src/full"] {
            try FileManager.default.createDirectory(atPath: directory + "/" + folder, withIntermediateDirectories: true)
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/src/full/a.txt"))
        let pack = try Harness.sigvault(["pack", "src", "-o", "a.svz", "--json"], cwd: directory)
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        #expect(pack.stderr.contains("left out 2 empty folder(s)"), "\(pack.stderr)")
        #expect(pack.stderr.contains("src/empty, src/sub/deeper/empty"), "\(pack.stderr)")
        let warnings = try Harness.json(pack.stdout)["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.hasPrefix("left out 2 empty folder(s)") }, "\(warnings)")
    }

    /// Every JSON document carries `schemaVersion` (docs/CLI.md, JSON).
    @Test func everyJSONDocumentHasASchemaVersion() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "Fixtures/cases/valid-pem-sig", "-o", archive, "--json", "--at", Harness.verifyTime] + Harness.packArguments(extra: "-"))
        let outputs = [("pack", pack.stdout),
                       ("list", try Harness.sigvault(["list", archive, "--json"]).stdout),
                       ("verify", try Harness.sigvault(["verify", archive, "--json", "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime]).stdout),
                       ("verify --integrity-only", try Harness.sigvault(["verify", archive, "--json", "--integrity-only"]).stdout)]
        for (command, text) in outputs {
            #expect(try Harness.json(text)["schemaVersion"] as? Int == JSONOutput.schemaVersion, "\(command): \(text)")
        }
    }

    /// `--version` names SigVault's version and the OpenSSL, libarchive and libzstd in use.
    @Test func versionNamesTheLibraries() throws {
        let result = try Harness.sigvault(["--version"])
        #expect(result.exitCode == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(result.stdout)")
        #expect(lines.first == "sigvault \(SigVaultVersion.current)")
        let openssl = try Harness.openssl(["version"])
        #expect(lines.count > 1 && lines[1].hasPrefix("OpenSSL 3") && openssl.stdout.contains(lines[1]), "\(lines) \(openssl.stdout)")
        for (index, library, package) in [(2, "libarchive", "libarchive"), (3, "libzstd", "libzstd")] where lines.count > index {
            let built = try Harness.run("/usr/bin/pkg-config", ["--modversion", package]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(lines[index] == "\(library) \(built)", "\(lines[index]) against pkg-config \(built)")
        }
    }

    /// Without --trust the report says the system store was used (which bundle, how many anchors),
    /// and a signature without a chain gets the hint to give --trust; with --trust it names those.
    @Test func theReportSaysWhichAnchorsWereTrusted() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", "Fixtures/cases/valid-pem-sig", "-o", archive, "--at", Harness.verifyTime])
        #expect(pack.exitCode == 2, "\(pack.stderr)")
        #expect(pack.stderr.contains("sigvault: warning: validating against the system store: "), "\(pack.stderr)")
        #expect(pack.stderr.contains("no --trust was given and 1 signature(s) found no chain"), "\(pack.stderr)")

        let text = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime])
        #expect(text.stdout.contains("trusted      the system store: "), "\(text.stdout)")
        #expect(text.stderr.contains("give the trust anchor you rely on with --trust"), "\(text.stderr)")
        let json = try Harness.json(try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime, "--json"]).stdout)
        let trust = try #require(json["trust"] as? [String: Any])
        #expect(trust["source"] as? String == "system-store")
        #expect((json["warnings"] as? [String] ?? []).contains { $0.contains("found no chain to an anchor of the system store") })

        let trusted = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime, "--trust", "Fixtures/pki/root.pem", "--json"])
        let named = try Harness.json(trusted.stdout)
        let source = try #require(named["trust"] as? [String: Any])
        #expect(source["source"] as? String == "trust-option")
        #expect(source["anchors"] as? Int == 1)
        #expect(source["files"] as? [String] == ["Fixtures/pki/root.pem"])
        #expect(!(named["warnings"] as? [String] ?? []).contains { $0.contains("--trust") })
    }

    /// Every typed integrity problem code and every error code is documented in docs/CLI.md.
    @Test func everyCodeIsDocumented() throws {
        let text = try String(contentsOfFile: Harness.packageRoot + "/docs/CLI.md", encoding: .utf8)
        for code in ProblemCode.allCases { #expect(text.contains("| `\(code.rawValue)` |"), "problem code \(code.rawValue)") }
        for code in SigVaultError.Code.allCases { #expect(text.contains("`\(code.rawValue)`"), "error code \(code.rawValue)") }
    }
}
