import ArchiveIO
import Foundation
import OpenSSLBridge
import Testing
@testable import SigVault
import SigVaultFormat

/// restore writes documents byte-identical with their evidence, atomically, never outside the target.
@Suite struct RestoreTests {
    func packedCases(_ cases: [String], in directory: String) throws -> String {
        let (archive, result) = try Harness.pack(cases.map { "Fixtures/cases/\($0)" }, in: directory)
        #expect(result.exitCode == 0 || result.exitCode == 2, "\(result.stderr)")
        return archive
    }

    @Test func restoresEveryDocumentByteIdenticalWithItsEvidence() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try packedCases(["expired-timestamped", "valid-enveloped", "standalone-token-over-signature", "unsigned"], in: directory)
        let target = directory + "/out"
        let result = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(result.exitCode == 0, "\(result.stderr)")
        for file in ["expired-timestamped/contract.pdf", "expired-timestamped/contract.pdf.p7s", "valid-enveloped/invoice.xml.p7m",
                     "standalone-token-over-signature/report.odt.p7s.tsr", "unsigned/data.bin"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/cases/" + file))
            let restored = try Data(contentsOf: URL(fileURLWithPath: target + "/Fixtures/cases/" + file))
            #expect(original == restored, "\(file)")
        }
        let evidence = target + "/.sigvault-evidence/Fixtures/cases/expired-timestamped/contract.pdf"
        #expect(FileManager.default.fileExists(atPath: evidence + "/manifest-record.json"))
        let certificates = try FileManager.default.contentsOfDirectory(atPath: evidence + "/certificates")
        #expect(certificates.count >= 3)
        #expect(FileManager.default.fileExists(atPath: evidence + "/crls"))
    }

    @Test func restoresOneNamedDocument() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try packedCases(["expired-timestamped", "unsigned"], in: directory)
        let target = directory + "/out"
        let result = try Harness.sigvault(["restore", archive, "--to", target, "Fixtures/cases/unsigned/readme.txt"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: target + "/Fixtures/cases/unsigned/readme.txt"))
        #expect(!FileManager.default.fileExists(atPath: target + "/Fixtures/cases/unsigned/data.bin"))
        let missing = try Harness.sigvault(["restore", archive, "--to", target, "no/such/document"])
        #expect(missing.exitCode == 66)
        #expect(missing.stderr.hasPrefix("sigvault: error: "))
        #expect(HardeningTests.errorCode(missing.stderr) == "input-missing", "\(missing.stderr)")
    }

    @Test func neverOverwritesWithoutForce() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try packedCases(["unsigned"], in: directory)
        let target = directory + "/out"
        let file = target + "/Fixtures/cases/unsigned/readme.txt"
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: file))
        let refused = try Harness.sigvault(["restore", archive, "--to", target, "Fixtures/cases/unsigned/readme.txt"])
        #expect(refused.exitCode == 73)
        #expect(HardeningTests.errorCode(refused.stderr) == "output-exists", "\(refused.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "mine")
        let forced = try Harness.sigvault(["restore", archive, "--to", target, "--force", "Fixtures/cases/unsigned/readme.txt"])
        #expect(forced.exitCode == 0, "\(forced.stderr)")
        let original = try Data(contentsOf: URL(fileURLWithPath: Harness.fixtures + "/cases/unsigned/readme.txt"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == original)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (file as NSString).deletingLastPathComponent)
        #expect(!leftovers.contains { $0.hasSuffix(".sigvault-part") })
    }

    @Test func damagedMemberIsNeverLeftUnderItsName() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try packedCases(["unsigned"], in: directory)
        let reader = try ArchiveReader(path: archive)
        let record = try #require(reader.record(for: ArchivePath("data/Fixtures/cases/unsigned/data.bin")))
        let frame = reader.frames[Int(record.firstFrame)]
        try Harness.flipByte(archive, at: Int(frame.compressedOffset + frame.compressedLength / 2))
        let target = directory + "/out"
        let result = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(result.exitCode == 1)
        #expect(result.stderr.contains("data.bin"))
        #expect(!FileManager.default.fileExists(atPath: target + "/Fixtures/cases/unsigned/data.bin"))
        #expect(FileManager.default.fileExists(atPath: target + "/Fixtures/cases/unsigned/readme.txt"))
    }

    @Test func symlinkInsideTargetIsNeverFollowed() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = try packedCases(["unsigned"], in: directory)
        let target = directory + "/out"
        let elsewhere = directory + "/elsewhere"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: target + "/Fixtures", withDestinationPath: elsewhere)
        let result = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(result.exitCode == 65, "\(result.stderr)")
        #expect(HardeningTests.errorCode(result.stderr) == "unsafe-name", "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
    }

    @Test func abandonedMembersLeaveNoTrace() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var members: [(ArchivePath, [UInt8], ManifestMember)] = []
        for (index, size) in [10, 3 << 20, 0, 70_000].enumerated() {
            let name = ArchivePath("data/doc\(index).bin")
            let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) }
            var member = ManifestMember(path: name, role: .document, size: Int64(size), sha256: Hex.encode(Hasher.digest(bytes)))
            member.document = DocumentRecord.unsigned
            members.append((name, bytes, member))
        }
        let archive = directory + "/a.svz"
        try CraftedArchiveWithManifest.write(members, to: archive, abandoning: true)
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tf", archive])
        #expect(listing.exitCode == 0, "\(listing.stderr)")
        #expect(listing.stdout == "data/doc0.bin\ndata/doc1.bin\ndata/doc2.bin\ndata/doc3.bin\nmanifest.jsonl\n")
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let restore = try Harness.sigvault(["restore", archive, "--to", directory + "/out"])
        #expect(restore.exitCode == 0, "\(restore.stderr)")
        for (name, bytes, _) in members {
            let restored = try Data(contentsOf: URL(fileURLWithPath: directory + "/out/" + name.description.dropFirst(5)))
            #expect([UInt8](restored) == bytes, "\(name)")
        }
    }

    @Test func pathTraversalEntryIsRefused() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A document whose stored name climbs out of the target, listed consistently in the
        // manifest and the index, as a crafted archive would.
        let evil = ArchivePath("data/../../escaped.txt")
        var member = ManifestMember(path: evil, role: .document, size: 4, sha256: Hex.encode(Hasher.digest(Array("evil".utf8))))
        member.document = DocumentRecord(kind: "unsigned", signatures: [], documentTimeStamps: [], packIndication: nil, packSubIndication: nil)
        let archive = directory + "/evil.svz"
        try CraftedArchiveWithManifest.write([(evil, Array("evil".utf8), member)], to: archive)
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime, "--json"])
        #expect(verify.exitCode == 1)
        #expect(verify.stdout.contains("unsafe"))
        let target = directory + "/deep/out"
        let result = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(result.exitCode == 65, "\(result.stderr)")
        #expect(HardeningTests.errorCode(result.stderr) == "unsafe-name", "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/escaped.txt"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/deep/escaped.txt"))
    }

    @Test func symbolicLinksAreRecordedButNeverRestoredAsLinks() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/src"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data("content".utf8).write(to: URL(fileURLWithPath: source + "/real.txt"))
        try FileManager.default.createSymbolicLink(atPath: source + "/link.txt", withDestinationPath: "/etc/passwd")
        let archive = directory + "/a.svz"
        let pack = try Harness.sigvault(["pack", source, "-o", archive, "--at", Harness.verifyTime], cwd: "/")
        #expect(pack.exitCode == 0, "\(pack.stderr)")
        let listing = try Harness.run("/usr/bin/tar", ["--zstd", "-tvf", archive])
        #expect(listing.stdout.contains("link.txt -> /etc/passwd"))
        let verify = try Harness.sigvault(["verify", archive, "--at", Harness.verifyTime])
        #expect(verify.exitCode == 0, "\(verify.stdout)")
        let target = directory + "/out"
        let restore = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(restore.exitCode == 0)
        let restoredSource = target + String(source.drop { $0 == "/" }.prefix(0)) + "/" + String(source.dropFirst())
        #expect(FileManager.default.fileExists(atPath: restoredSource + "/real.txt"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: restoredSource + "/link.txt")) == nil)
    }
}

/// Writes a tiny archive whose manifest lists the given members consistently.
enum CraftedArchiveWithManifest {
    /// With `abandoning`, each member is preceded by a 2.5 MiB member that is abandoned half-way (as
    /// pack does with a large file that shrinks while read): it must leave no trace.
    static func write(_ members: [(ArchivePath, [UInt8], ManifestMember)], to path: String, abandoning: Bool = false) throws {
        let output = try AtomicOutputFile(destination: path, overwrite: true)
        let writer = try ArchiveWriter(output: output, scratchDirectory: (path as NSString).deletingLastPathComponent, compressionLevel: 1)
        var manifest: [UInt8] = []
        manifest += try ManifestLine.header(ManifestHeader(createdAt: "2026-01-01T00:00:00Z", generator: "test", trustAnchors: [])).encoded() + [0x0A]
        for (name, bytes, member) in members {
            if abandoning {
                try writer.beginMember(path: name.appending(".ghost"), kind: .regularFile(size: 4 << 20), mode: 0o644, modificationTime: 0)
                try [UInt8](repeating: 0x47, count: 5 << 19).withUnsafeBytes { try writer.writeMemberData($0) }
                try writer.abandonMember()
            }
            try writer.beginMember(path: name, kind: .regularFile(size: Int64(bytes.count)), mode: 0o644, modificationTime: 0)
            try bytes.withUnsafeBytes { try writer.writeMemberData($0) }
            let written = try writer.endMemberAndWait()
            var member = member
            member.mode = member.mode ?? 0o644
            member.modificationTime = member.modificationTime ?? 0
            let line = try ManifestLine.member(member).encoded()
            let offset = UInt64(manifest.count)
            manifest += line + [0x0A]
            try writer.record(written.indexRecord(path: name, line: (offset, UInt64(line.count), Hasher.digest(line))))
        }
        manifest += try ManifestLine.end(ManifestEnd(members: members.count, documents: members.count, signedDocuments: 0)).encoded() + [0x0A]
        try finish(writer, manifest: manifest, output: output)
    }

    /// Writes `manifest` as the last member, the index and the trailer, and puts the archive in place.
    static func finish(_ writer: ArchiveWriter, manifest: [UInt8], output: AtomicOutputFile) throws {
        let manifestPath = ArchivePath(ArchiveLayout.manifestName)
        try writer.beginMember(path: manifestPath, kind: .regularFile(size: Int64(manifest.count)), mode: 0o644, modificationTime: 0)
        try manifest.withUnsafeBytes { try writer.writeMemberData($0) }
        let written = try writer.endMemberAndWait()
        try writer.record(written.indexRecord(path: manifestPath, line: nil))
        try writer.finish(manifest: written.placement, manifestSHA256: written.contentSHA256)
        try output.commit(overwrite: true)
    }
}
