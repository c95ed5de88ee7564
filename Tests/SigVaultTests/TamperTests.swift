import ArchiveIO
import OpenSSLBridge
import Foundation
import Testing
@testable import SigVault
import SigVaultFormat

/// Any change to any byte of an archive is found by verify, which names what is wrong.
@Suite struct TamperTests {
    /// A packed archive and where its members sit.
    struct Packed {
        let directory: String
        let archive: String
        let reader: ArchiveReader
        func record(_ name: String) throws -> MemberRecord { try #require(reader.record(for: ArchivePath(name))) }
    }

    func packed() throws -> Packed {
        let directory = try Harness.temporaryDirectory()
        let (archive, result) = try Harness.pack(["Fixtures/cases/expired-timestamped", "Fixtures/cases/unsigned"], in: directory)
        #expect(result.exitCode == 0, "\(result.stderr)")
        return Packed(directory: directory, archive: archive, reader: try ArchiveReader(path: archive))
    }

    func verifyProblems(_ archive: String) throws -> (Int32, [[String: Any]]) {
        let result = try Harness.sigvault(["verify", archive, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime, "--json"])
        // A verify that prints no report (a crash, an error line) has not found the damage: that
        // is a failure of its own, never a stand-in problem.
        guard let report = try? Harness.json(result.stdout) else {
            Issue.record("verify printed no JSON report (exit \(result.exitCode)): \(result.stderr)")
            return (result.exitCode, [])
        }
        let integrity = try #require(report["integrity"] as? [String: Any])
        return (result.exitCode, try #require(integrity["problems"] as? [[String: Any]]))
    }

    enum Region: String, CaseIterable, CustomTestStringConvertible {
        case document, signature, certificate, manifest, index, trailer, verifyGuide
        var testDescription: String { rawValue }
    }

    @Test(arguments: Region.allCases)
    func flippedByteIsFound(_ region: Region) throws {
        let packed = try packed()
        defer { try? FileManager.default.removeItem(atPath: packed.directory) }
        let reader = packed.reader
        let trailer = try #require(reader.trailer)
        let offset: UInt64
        switch region {
        case .document, .signature, .certificate, .manifest, .verifyGuide:
            let record: MemberRecord
            switch region {
            case .document: record = try packed.record("data/Fixtures/cases/expired-timestamped/contract.pdf")
            case .signature: record = try packed.record("data/Fixtures/cases/expired-timestamped/contract.pdf.p7s")
            case .manifest: record = try #require(reader.manifestRecord)
            case .verifyGuide: record = try packed.record("VERIFY.md")
            default:
                record = try #require(reader.members.first { _ in true }.flatMap { _ in
                    reader.members.first { rec in (try? reader.manifestLine(of: rec))?.role == .certificate } })
            }
            let frame = reader.frames[Int(record.firstFrame)]
            offset = frame.compressedOffset + frame.compressedLength / 2
        case .index:
            offset = trailer.indexOffset + trailer.indexLength / 2
        case .trailer:
            offset = reader.size - 40
        }
        try Harness.flipByte(packed.archive, at: Int(offset))
        let (exitCode, problems) = try verifyProblems(packed.archive)
        #expect(exitCode == 1)
        #expect(!problems.isEmpty)
        if region == .document {
            // The damaged document is named, and its signature says it cannot be read.
            #expect(problems.contains { $0["member"] as? String == "data/Fixtures/cases/expired-timestamped/contract.pdf" })
            let (_, report) = try Harness.verifyJSON(packed.archive)
            let document = (report["documents"] as? [[String: Any]])?.first { $0["path"] as? String == "Fixtures/cases/expired-timestamped/contract.pdf" }
            #expect(document?["subIndication"] as? String == "SIGNED_DATA_NOT_FOUND")
            #expect((document?["reason"] as? String)?.contains("cannot be read") == true, "\(String(describing: document))")
        }
    }

    enum DamagedFile: String, CaseIterable, CustomTestStringConvertible {
        case signatureFile = "letter.txt.sig", tokenOnlyDocument = "c.txt"
        var testDescription: String { rawValue }
    }

    /// A damaged member is never reported as an intact document: a damaged signature file makes its
    /// document's verdict "cannot be read" (the .sig is not listed as a document of its own); a
    /// damaged unsigned document is named among the problems only.
    @Test(arguments: DamagedFile.allCases)
    func damagedMembersAreNotReportedIntact(_ damaged: DamagedFile) throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = directory + "/in"
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        for name in ["letter.txt", "letter.txt.sig"] {
            try FileManager.default.copyItem(atPath: Harness.fixtures + "/cases/valid-pem-sig/" + name, toPath: source + "/" + name)
        }
        try Data("a document with a token over it".utf8).write(to: URL(fileURLWithPath: source + "/c.txt"))
        try FileManager.default.copyItem(atPath: Harness.fixtures + "/cases/standalone-token-over-document/notes.txt.tst", toPath: source + "/c.txt.tst")
        let (archive, pack) = try Harness.pack([source], in: directory)
        // c.txt's token covers notes.txt, not c.txt: a document time-stamp that proves nothing is a
        // finding (exit 2, issue 8 rule 11).
        #expect(pack.exitCode == 2 && pack.stderr.contains("c.txt: the time-stamp in"), "\(pack.stderr)")
        let reader = try ArchiveReader(path: archive)
        let member = "data" + source + "/" + damaged.rawValue
        let record = try #require(reader.record(for: ArchivePath(member)))
        let frame = reader.frames[Int(record.firstFrame)]
        try Harness.flipByte(archive, at: Int(frame.compressedOffset + frame.compressedLength / 2))
        let (verify, json) = try Harness.verifyJSON(archive)
        #expect(verify.exitCode == 1)
        let problems = (json["integrity"] as? [String: Any])?["problems"] as? [[String: Any]] ?? []
        #expect(problems.contains { $0["code"] as? String == "damaged" && $0["member"] as? String == member }, "\(problems)")
        let documents = json["documents"] as? [[String: Any]] ?? []
        let names = documents.compactMap { ($0["path"] as? String).map { String($0.split(separator: "/").last!) } }
        let summary = json["summary"] as? [String: Any]
        switch damaged {
        case .signatureFile:
            #expect(names == ["c.txt", "letter.txt"])
            let letter = documents.first { ($0["path"] as? String)?.hasSuffix("/letter.txt") == true }
            #expect(letter?["indication"] as? String == "INDETERMINATE" && letter?["subIndication"] as? String == "SIGNED_DATA_NOT_FOUND")
            #expect((letter?["reason"] as? String)?.contains("cannot be read") == true, "\(String(describing: letter))")
            #expect(summary?["documents"] as? Int == 2 && summary?["signed"] as? Int == 1)
        case .tokenOnlyDocument:
            #expect(names == ["letter.txt"])
            #expect(summary?["documents"] as? Int == 1 && summary?["unsigned"] as? Int == 0)
        }
    }

    @Test func truncationIsFound() throws {
        let packed = try packed()
        defer { try? FileManager.default.removeItem(atPath: packed.directory) }
        for keep in [packed.reader.size / 2, packed.reader.size - 1, 100] {
            let copy = packed.directory + "/cut-\(keep).svz"
            let bytes = try Data(contentsOf: URL(fileURLWithPath: packed.archive)).prefix(Int(keep))
            try bytes.write(to: URL(fileURLWithPath: copy))
            let result = try Harness.sigvault(["verify", copy, "--trust", "Fixtures/pki/root.pem", "--at", Harness.verifyTime, "--json"])
            #expect(result.exitCode == 1 || result.exitCode == 65, "cut at \(keep): \(result.stderr)")
        }
    }

    @Test func appendedBytesAreFound() throws {
        let packed = try packed()
        defer { try? FileManager.default.removeItem(atPath: packed.directory) }
        let handle = try #require(FileHandle(forWritingAtPath: packed.archive))
        handle.seekToEndOfFile()
        handle.write(Data("junk".utf8))
        try handle.close()
        let result = try Harness.sigvault(["verify", packed.archive, "--at", Harness.verifyTime])
        #expect(result.exitCode == 1 || result.exitCode == 65)
    }

    // MARK: Crafted archives: members missing, duplicated, renamed, reordered, extra, unsafe.

    enum Craft: String, CaseIterable, CustomTestStringConvertible {
        case missing, duplicated, renamed, reordered, extra, secondManifest
        var testDescription: String { rawValue }
        var expectedCode: String {
            switch self {
            case .missing: return "missing"
            case .duplicated: return "duplicated"
            case .renamed: return "extra"
            case .reordered: return "reordered"
            case .extra: return "extra"
            case .secondManifest: return "extra"
            }
        }
    }

    @Test(arguments: Craft.allCases)
    func craftedMemberListIsFound(_ craft: Craft) throws {
        let packed = try packed()
        defer { try? FileManager.default.removeItem(atPath: packed.directory) }
        var members = try CraftedArchive.members(of: packed.reader)
        let manifest = members.removeLast()
        let documentIndex = try #require(members.firstIndex { $0.path.description.hasSuffix("contract.pdf") })
        switch craft {
        case .missing: members.remove(at: documentIndex)
        case .duplicated: members.insert(members[documentIndex], at: documentIndex + 1)
        case .renamed: members[documentIndex].path = ArchivePath("data/Fixtures/cases/expired-timestamped/contract-renamed.pdf")
        case .reordered: members.swapAt(documentIndex, documentIndex + 1)
        case .extra: members.insert(CraftedArchive.Member(path: ArchivePath("data/planted.txt"), bytes: Array("planted".utf8)), at: 1)
        case .secondManifest: members.insert(CraftedArchive.Member(path: ArchivePath("manifest.jsonl"), bytes: Array("{}".utf8)), at: 1)
        }
        let crafted = packed.directory + "/crafted.svz"
        try CraftedArchive.write(members + [manifest], to: crafted)
        let (exitCode, problems) = try verifyProblems(crafted)
        #expect(exitCode == 1)
        let codes = problems.compactMap { $0["code"] as? String }
        #expect(codes.contains(craft.expectedCode), "\(problems)")
        if craft == .renamed { #expect(codes.contains("missing")) }
    }
}

/// Writes archives whose members differ from their manifest, with a consistent index and trailer,
/// as an attacker or a buggy tool could.
enum CraftedArchive {
    struct Member {
        var path: ArchivePath
        var bytes: [UInt8]
        var symlinkTarget: [UInt8]? = nil
    }

    static func members(of reader: ArchiveReader) throws -> [Member] {
        try reader.members.map { record in
            var bytes: [UInt8] = []
            let extracted = try reader.extract(record) { bytes.append(contentsOf: $0) }
            return Member(path: ArchivePath(bytes: extracted.header.path), bytes: bytes)
        }
    }

    /// The last member is the manifest; its bytes are written as given.
    static func write(_ members: [Member], to path: String) throws {
        let output = try AtomicOutputFile(destination: path, overwrite: true)
        let writer = try ArchiveWriter(output: output, scratchDirectory: (path as NSString).deletingLastPathComponent, compressionLevel: 1)
        var last: ArchiveWriter.Placement?
        var manifestDigest: [UInt8] = []
        for member in members {
            let kind: TarEntryKind = member.symlinkTarget.map { .symbolicLink(target: $0) } ?? .regularFile(size: Int64(member.bytes.count))
            try writer.beginMember(path: member.path, kind: kind, mode: 0o644, modificationTime: 0)
            try member.bytes.withUnsafeBytes { try writer.writeMemberData($0) }
            let written = try writer.endMemberAndWait()
            try writer.record(written.indexRecord(path: member.path, line: nil))
            last = written.placement
            manifestDigest = written.contentSHA256
        }
        try writer.finish(manifest: last!, manifestSHA256: manifestDigest)
        try output.commit(overwrite: true)
    }
}

extension TamperTests {
    /// Tar headers whose mode or mtime differ from the manifest are found: the fingerprint covers them.
    @Test func changedTarMetadataIsFound() throws {
        let packed = try packed()
        defer { try? FileManager.default.removeItem(atPath: packed.directory) }
        // Rewritten with the same names and bytes, but every header at mode 0644 and mtime 0.
        let members = try CraftedArchive.members(of: packed.reader)
        let crafted = packed.directory + "/metadata.svz"
        try CraftedArchive.write(members, to: crafted)
        let (exitCode, problems) = try verifyProblems(crafted)
        #expect(exitCode == 1)
        #expect(problems.contains { ($0["message"] as? String)?.contains("mode or modification time") == true }, "\(problems)")
    }
}
