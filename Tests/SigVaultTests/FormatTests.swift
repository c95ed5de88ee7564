import Foundation
import OpenSSLBridge
import Testing
import SigVaultFormat

/// The on-disk structures of docs/FORMAT.md round-trip and reject damage.
@Suite struct FormatTests {
    static let names: [[UInt8]] = [
        Array("plain/name.txt".utf8),
        Array("back\\slash".utf8),
        Array("caf".utf8) + [0xE9] + Array(".txt".utf8),
        [0xFF, 0xFE, 0x2F, 0x41],
        Array("ünïcödé/文書.pdf".utf8),
        Array("literal\\xE9".utf8),
    ]

    @Test(arguments: names)
    func escapedNamesRoundTrip(_ bytes: [UInt8]) throws {
        let escaped = ArchivePath.escaped(bytes)
        #expect(String(validating: Array(escaped.utf8), as: UTF8.self) != nil)
        #expect(try #require(ArchivePath.unescaped(escaped)).bytes == bytes)
    }

    @Test func utf8NamesAreStoredAsIs() {
        #expect(ArchivePath.escaped(Array("a/b c.txt".utf8)) == "a/b c.txt")
        #expect(ArchivePath.escaped([0x61, 0xFF]) == "a\\xFF")
    }

    @Test(arguments: ["../x", "/abs", "a/../b", "a//b", "./a", ""])
    func unsafeNamesAreRecognised(_ name: String) {
        #expect(!ArchivePath(name).isSafeRelative)
    }

    @Test func trailerRoundTripsAndDetectsAnyChange() throws {
        let trailer = Trailer(indexOffset: 1234, indexLength: 88, indexSHA256: Array(repeating: 7, count: 32),
                              manifestOffset: 1000, manifestLength: 200, manifestSHA256: Array(repeating: 9, count: 32))
        let body = trailer.encodedBody()
        #expect(body.count == 128)
        let payload = body + Hasher.digest(body)
        #expect(try Trailer.decode(payload, sha256: { Hasher.digest($0) }) == trailer)
        for index in stride(from: 0, to: payload.count, by: 7) {
            var damaged = payload
            damaged[index] ^= 0x01
            #expect(throws: FormatError.self) { try Trailer.decode(damaged, sha256: { Hasher.digest($0) }) }
        }
    }

    @Test func indexRoundTrips() throws {
        let member = MemberRecord(pathSHA256: Array(repeating: 1, count: 32), firstFrame: 2, frameCount: 3, streamOffset: 4, dataOffset: 512,
                                  contentSize: 6, contentSHA256: Array(repeating: 2, count: 32), compressedSHA256: Array(repeating: 3, count: 32),
                                  manifestLineOffset: 7, manifestLineLength: 8, manifestLineSHA256: Array(repeating: 4, count: 32))
        let frame = FrameRecord(compressedOffset: 10, compressedLength: 20, uncompressedLength: 30, compressedSHA256: Array(repeating: 5, count: 32))
        var payload = ArchiveIndexLayout.header(memberCount: 1, frameCount: 1)
        ArchiveIndexLayout.encode(frame, into: &payload)
        member.encode(into: &payload)
        #expect(payload.count == ArchiveIndexLayout.headerSize + FrameRecord.encodedSize + MemberRecord.encodedSize)
        let decoded = try ArchiveIndexLayout.decode(payload)
        #expect(decoded.frames == [frame])
        #expect(decoded.members == [member])
        #expect(throws: FormatError.self) { try ArchiveIndexLayout.decode(Array(payload.dropLast())) }
    }

    @Test func manifestLinesRoundTrip() throws {
        var member = ManifestMember(path: ArchivePath(bytes: [0x64, 0xFF]), role: .document, size: 3, sha256: "ab")
        member.document = DocumentRecord(kind: "detached", signatures: [], documentTimeStamps: [], packIndication: "TOTAL_PASSED", packSubIndication: nil)
        let line = try ManifestLine.member(member).encoded()
        #expect(!line.contains(0x0A))
        guard case .member(let decoded) = try ManifestLine.decode(line) else { Issue.record("not a member line"); return }
        #expect(decoded.archivePath?.bytes == [0x64, 0xFF])
        #expect(decoded.document?.packIndication == "TOTAL_PASSED")
    }
}
