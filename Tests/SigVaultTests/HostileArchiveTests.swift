import Foundation
import Testing
@testable import SigVault
import SigVaultFormat
import ArchiveIO
import OpenSSLBridge

/// Issue 9: archives pack never makes, written member by member with the index consistent with the
/// manifest (so only the manifest's or the tar stream's own content is hostile). `verify` names the
/// problem, `list` and `restore` refuse the archive with the same reader, and `restore` writes nothing.
@Suite struct HostileArchiveTests {
    /// One tar member and its manifest line (`line` overrides the encoded `member`; `listed: false`
    /// leaves the member out of the manifest).
    struct Entry {
        var name: ArchivePath
        var kind: TarEntryKind?
        var bytes: [UInt8]
        var member: ManifestMember
        var line: [UInt8]?
        var listed = true

        /// A plain unsigned document.
        static func document(_ name: String, _ text: String = "content") -> Entry {
            let bytes = Array(text.utf8)
            var member = ManifestMember(path: ArchivePath(name), role: .document, size: Int64(bytes.count), sha256: Hex.encode(Hasher.digest(bytes)))
            member.document = DocumentRecord.unsigned
            member.mode = 0o644
            member.modificationTime = 0
            return Entry(name: ArchivePath(name), kind: nil, bytes: bytes, member: member)
        }
    }

    /// Writes the archive; `endCount` overrides the `end` line's member count.
    static func write(_ entries: [Entry], endCount: Int? = nil, to path: String) throws {
        let output = try AtomicOutputFile(destination: path, overwrite: true)
        let writer = try ArchiveWriter(output: output, scratchDirectory: LocalPath(path).parent.description, compressionLevel: 1)
        var manifest: [UInt8] = []
        manifest += try ManifestLine.header(ManifestHeader(createdAt: "2026-01-01T00:00:00Z", generator: "test", trustAnchors: [])).encoded() + [0x0A]
        var listedCount = 0
        for entry in entries {
            let kind = entry.kind ?? .regularFile(size: Int64(entry.bytes.count))
            try writer.beginMember(path: entry.name, kind: kind, mode: 0o644, modificationTime: 0)
            if case .regularFile = kind { try entry.bytes.withUnsafeBytes { try writer.writeMemberData($0) } }
            let written = try writer.endMemberAndWait()
            guard entry.listed else {
                try writer.record(written.indexRecord(path: entry.name, line: nil))
                continue
            }
            let line = try entry.line ?? ManifestLine.member(entry.member).encoded()
            let offset = UInt64(manifest.count)
            manifest += line + [0x0A]
            listedCount += 1
            try writer.record(written.indexRecord(path: entry.name, line: (offset, UInt64(line.count), Hasher.digest(line))))
        }
        manifest += try ManifestLine.end(ManifestEnd(members: endCount ?? listedCount, documents: listedCount, signedDocuments: 0)).encoded() + [0x0A]
        try CraftedArchiveWithManifest.finish(writer, manifest: manifest, output: output)
    }

    /// The hostile archives: name, entries, end count, what verify's report says, and whether the
    /// refusal is in the manifest (then `list` refuses too and `restore` writes nothing).
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let verifySays: String
        let inManifest: Bool
        let endCount: Int?
        let entries: @Sendable () throws -> [Entry]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a second member named like the manifest", verifySays: "lists a member named manifest.jsonl", inManifest: true, endCount: nil) {
            [Entry.document("data/a.txt"), Entry.document("manifest.jsonl", "{\"type\":\"end\"}")]
        },
        Case(name: "a document outside data/", verifySays: "outside data/", inManifest: true, endCount: nil) {
            [Entry.document("data/a.txt"), Entry.document("evidence/planted.txt")]
        },
        Case(name: "a member under a symbolic link member", verifySays: "under the symbolic link member", inManifest: true, endCount: nil) {
            var link = ManifestMember(path: ArchivePath("data/link"), role: .symbolicLink, size: 0, sha256: Hex.encode(Hasher.digest([])))
            link.symlinkTarget = "/etc"
            link.mode = 0o644
            link.modificationTime = 0
            return [Entry(name: ArchivePath("data/link"), kind: .symbolicLink(target: Array("/etc".utf8)), bytes: [], member: link),
                    Entry.document("data/link/cron.daily")]
        },
        Case(name: "an escaped name that does not decode", verifySays: "invalid path", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/a\\q.txt")
            entry.member.path = "data/a\\q.txt"
            return [Entry.document("data/b.txt"), entry]
        },
        Case(name: "a lying end count", verifySays: "end line counts 3 members, it lists 2", inManifest: true, endCount: 3) {
            [Entry.document("data/a.txt"), Entry.document("data/b.txt")]
        },
        Case(name: "an unknown storage kind", verifySays: "stored as \"remote\"", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            entry.member.storage = "remote"
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a reference storage without its reference", verifySays: "storage \"reference\" and a reference go together", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            entry.member.storage = "reference"
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a reference out of the repository's archives", verifySays: "its reference is not a valid", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            entry.member.storage = "reference"
            entry.member.reference = MemberReference(repository: "r", archive: "../../etc/passwd",
                                                     fingerprint: String(repeating: "0", count: 64), path: ArchivePath("data/b.txt"))
            entry.bytes = try #require(entry.member.referenceStub)  // the stub the line derives, as backup writes
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a member line without mode", verifySays: "has no mode", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            entry.member.mode = nil
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a member line without modificationTime", verifySays: "has no modificationTime", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            entry.member.modificationTime = nil
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a key written twice", verifySays: "manifest line 3", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            let line = try ManifestLine.member(entry.member).encoded()
            // The same line with a second, different "size" before the closing brace.
            entry.line = Array(line.dropLast()) + Array(",\"size\":999}".utf8)
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "whitespace in a member line", verifySays: "canonical form", inManifest: true, endCount: nil) {
            var entry = Entry.document("data/b.txt")
            let line = try ManifestLine.member(entry.member).encoded()
            entry.line = Array(line.dropLast()) + Array(" }".utf8)
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a name listed twice", verifySays: "more than once", inManifest: true, endCount: nil) {
            [Entry.document("data/a.txt"), Entry.document("data/a.txt")]
        },
        Case(name: "a FIFO where the manifest lists a document", verifySays: "neither a regular file nor a symbolic link", inManifest: false, endCount: nil) {
            var entry = Entry.document("data/b.txt", "")
            entry.kind = .fifo
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a hard link where the manifest lists a document", verifySays: "neither a regular file nor a symbolic link", inManifest: false, endCount: nil) {
            var entry = Entry.document("data/b.txt", "")
            entry.kind = .hardLink(target: Array("data/a.txt".utf8))
            return [Entry.document("data/a.txt"), entry]
        },
        Case(name: "a symbolic link where the manifest lists a document", verifySays: "link target", inManifest: false, endCount: nil) {
            var entry = Entry.document("data/b.txt", "")
            entry.kind = .symbolicLink(target: Array("/etc/passwd".utf8))
            return [Entry.document("data/a.txt"), entry]
        },
    ]

    @Test(arguments: cases) func refusedByEveryCommand(_ hostile: Case) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/hostile.svz"
        try Self.write(try hostile.entries(), endCount: hostile.endCount, to: archive)

        let (verify, json) = try Harness.verifyJSON(archive)
        #expect(verify.exitCode == 1, "\(verify.stdout)\(verify.stderr)")
        let problems = (json["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { ($0["message"] as? String)?.contains(hostile.verifySays) == true }, "\(problems)")

        let list = try Harness.sigvault(["list", archive])
        let target = directory + "/out"
        let restore = try Harness.sigvault(["restore", archive, "--to", target])
        #expect(restore.exitCode == 65, "\(restore.stderr)")
        #expect(HardeningTests.errorCode(restore.stderr) == "archive-invalid", "\(restore.stderr)")
        if hostile.inManifest {
            #expect(list.exitCode == 65, "\(list.stdout)\(list.stderr)")
            #expect(HardeningTests.errorCode(list.stderr) == "archive-invalid", "\(list.stderr)")
            #expect(list.stderr.contains(hostile.verifySays), "\(list.stderr)")
            #expect(restore.stderr.contains(hostile.verifySays), "\(restore.stderr)")
            // Refused before anything was written: not even the target folder exists.
            #expect(!FileManager.default.fileExists(atPath: target))
        } else {
            // list reads only the manifest, which is consistent here; restore meets the entry.
            #expect(list.exitCode == 0, "\(list.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target + "/b.txt"))
            #expect(restore.stderr.contains("where the manifest lists a file"), "\(restore.stderr)")
        }
    }

    /// A 100 MB manifest line (a document record padded with one huge file name) is refused by
    /// `list` and `restore` as by `verify`, and none of them holds it in memory.
    @Test func aHugeManifestLineIsRefusedInBoundedMemory() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/huge.svz"
        var entry = Entry.document("data/a.txt")
        entry.member.document?.files = [String(repeating: "x", count: 100_000_000)]
        try Self.write([entry], to: archive)
        for arguments in [["list", archive], ["restore", archive, "--to", directory + "/out"], ["verify", archive, "--integrity-only"]] {
            let result = try Harness.run("/usr/bin/time", ["-f", "maxrss=%M"] + [Harness.binary] + arguments)
            let expected: Int32 = arguments[0] == "verify" ? 1 : 65
            #expect(result.exitCode == expected, "\(arguments[0]): \(result.stderr)")
            #expect(result.stderr.contains("longer than 4194304 bytes") || result.stdout.contains("longer than 4194304 bytes"),
                    "\(arguments[0]): \(result.stdout)\(result.stderr)")
            let kilobytes = result.stderr.split(separator: "\n").last { $0.hasPrefix("maxrss=") }.flatMap { Int($0.dropFirst(7)) }
            let rss = try #require(kilobytes, "\(result.stderr)")
            // The old readers held the line (and copies of it): 540 MiB. The bound is one line of
            // 4 MiB plus frames in flight.
            #expect(rss < 96 * 1024, "\(arguments[0]) used \(rss) KiB")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out"))
    }
}

extension HostileArchiveTests {
    /// A changed byte in the manifest's frame is damage, not a read error: `list` and `restore`
    /// exit 1 with code integrity (they used to exit 74, blaming I/O).
    @Test func aDamagedManifestFrameIsAnIntegrityProblem() throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/a.svz"
        try Self.write([Entry.document("data/a.txt"), Entry.document("data/b.txt")], to: archive)
        let reader = try ArchiveReader(path: archive)
        let manifest = try #require(reader.manifestRecord)
        try Harness.flipByte(archive, at: Int(reader.frames[Int(manifest.firstFrame)].compressedOffset) + 20)
        for arguments in [["list", archive], ["restore", archive, "--to", directory + "/out"]] {
            let result = try Harness.sigvault(arguments)
            #expect(result.exitCode == 1, "\(arguments[0]): \(result.stderr)")
            #expect(HardeningTests.errorCode(result.stderr) == "integrity", "\(arguments[0]): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out"))
    }
}
