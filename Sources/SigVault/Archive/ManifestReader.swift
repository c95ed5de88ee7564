import Foundation
import SigVaultFormat
import OpenSSLBridge

/// What verify keeps of a manifest member line.
struct ListedMember: Sendable {
    let path: ArchivePath
    let size: Int64
    let sha256: Digest32
    let role: MemberRole
    let symlinkTarget: [UInt8]?
    let mode: UInt32?
    let modificationTime: Int64?
    /// For a reference member (FORMAT.md §4.3): where its content is.
    var reference: MemberReference? = nil
    /// What the tar entry holds: the content, or for a reference member its stub.
    var indexedSize: Int64
    var indexedSHA256: Digest32

    /// The manifest line's fields that locate its content (for `ArchiveReader.location`).
    var referenceLine: ManifestMember {
        var line = ManifestMember(path: path, role: role, size: size, sha256: Hex.encode(sha256.bytes))
        if let reference {
            line.storage = "reference"
            line.reference = reference
        }
        return line
    }

    /// Whether a tar header's metadata is what the manifest (and so the fingerprint) says.
    func metadataMatches(_ entry: Verifier.ScannedEntry) -> Bool {
        mode == entry.mode.map { $0 & 0o7777 } && modificationTime == entry.modificationTime
    }
}

/// The one reader of `manifest.jsonl` (docs/FORMAT.md §4) for every command: lines are split as the
/// manifest streams past, none longer than `maximumLineLength`, each decoded and checked to be in
/// the canonical form pack writes (so the fingerprint covers exactly what the format says it
/// covers), and the whole is checked for what pack never writes. Problems are collected, never thrown.
final class ManifestReader: @unchecked Sendable {
    /// The longest manifest line accepted (a document record with many signatures stays far below).
    static let maximumLineLength = 4 << 20

    private(set) var problems: [String] = []
    /// The member count the `end` line states, if there is one.
    private(set) var endCount: Int?
    /// Member lines read (valid or not).
    private(set) var memberLines = 0
    /// With `keepListed`, every member line that parses, in order (verify compares them all).
    private(set) var listed: [ListedMember] = []

    private let keepListed: Bool
    private let onMember: ((Int, [UInt8], ManifestMember) -> Void)?
    private var sawHeader = false
    private var partial: [UInt8] = []
    private var lineNumber = 0
    private var scanned = 0
    private var overlong = false
    private let decoder = JSONDecoder()
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
    /// For the checks over the whole manifest: names seen (hashed), symbolic links, and the
    /// folders members sit in.
    private var names = Set<Digest32>()
    private var symbolicLinks: [ArchivePath] = []
    private var folders = Set<ArchivePath>()
    private var duplicates = 0

    /// `onMember(index, line, member)` gets each member line that parses (index from 0).
    init(keepListed: Bool = false, onMember: ((Int, [UInt8], ManifestMember) -> Void)? = nil) {
        self.keepListed = keepListed
        self.onMember = onMember
    }

    func feed(_ chunk: UnsafeRawBufferPointer) {
        partial.append(contentsOf: chunk)
        var start = 0
        // Only the new bytes are searched for a newline.
        while let newline = partial[Swift.max(start, scanned)...].firstIndex(of: 0x0A) {
            if !overlong { take(Array(partial[start..<newline])) } else { lineNumber += 1; overlong = false }
            start = newline + 1
            scanned = start
        }
        partial.removeFirst(start)
        scanned = partial.count
        if partial.count > ManifestReader.maximumLineLength && !overlong {
            problems.append("manifest line \(lineNumber + 1) is longer than \(ManifestReader.maximumLineLength) bytes")
            overlong = true
        }
        if overlong { partial.removeAll(keepingCapacity: true); scanned = 0 }
    }

    func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    /// One member line on its own (`restore` of named documents reads only theirs): the checks of
    /// a line, not those over the whole manifest.
    static func member(line: [UInt8], number: Int) -> (member: ManifestMember?, problems: [String]) {
        var found: ManifestMember?
        let reader = ManifestReader { _, _, member in found = member }
        reader.sawHeader = true
        reader.lineNumber = number - 1
        if line.count > maximumLineLength { return (nil, ["manifest line \(number) is longer than \(maximumLineLength) bytes"]) }
        reader.take(line)
        if found == nil && reader.problems.isEmpty { reader.problems.append("manifest line \(number) is not a member line") }
        return (found, reader.problems)
    }

    /// Ends the manifest: the last line (FORMAT.md: every line ends in a newline, so a last line
    /// without one is a problem), then the checks over the whole.
    func finish() {
        if !partial.isEmpty && !overlong {
            problems.append("the manifest's last line does not end with a newline")
            take(partial)
        }
        partial = []
        if endCount == nil {
            problems.append("the manifest has no end line")
        } else if endCount != memberLines {
            problems.append("the manifest's end line counts \(endCount.map(String.init) ?? "no") members, it lists \(memberLines)")
        }
        if duplicates > 0 { problems.append("the manifest lists \(duplicates) name(s) more than once") }
        for link in symbolicLinks where folders.contains(link) {
            problems.append("members are placed under the symbolic link member \(link)")
        }
    }

    private func take(_ line: [UInt8]) {
        lineNumber += 1
        guard let parsed = try? ManifestLine.decode(line, with: decoder) else {
            problems.append("manifest line \(lineNumber) is not valid JSON of the format")
            return
        }
        // Keys sorted, each once, no whitespace, no unknown key, no escape pack would not write.
        if (try? parsed.encoded(with: encoder)) != line {
            problems.append("manifest line \(lineNumber) is not in the canonical form pack writes (keys sorted and each once, no whitespace, no unknown key)")
        }
        switch parsed {
        case .header(let header):
            if lineNumber != 1 { problems.append("manifest line \(lineNumber) is a second header") }
            if header.format != "sigvault-archive" || header.version != FormatVersion.current {
                problems.append("the manifest is \(header.format) version \(header.version), not sigvault-archive version \(FormatVersion.current)")
            }
            sawHeader = true
        case .end(let end):
            if endCount != nil { problems.append("manifest line \(lineNumber) is a second end line") }
            if !sawHeader { problems.append("the manifest does not start with its header line"); sawHeader = true }
            endCount = end.members
        case .member(let member):
            let index = memberLines
            memberLines += 1
            if !sawHeader { problems.append("the manifest does not start with its header line"); sawHeader = true }
            if endCount != nil { problems.append("manifest line \(lineNumber) comes after the end line") }
            guard let path = member.archivePath, let digest = Digest32(hex: member.sha256) else {
                problems.append("manifest line \(lineNumber) has an invalid path or SHA-256")
                return
            }
            check(member, path: path, line: lineNumber)
            onMember?(index, line, member)
            if keepListed {
                let target = member.symlinkTarget.map { ArchivePath.unescaped($0)?.bytes ?? Array($0.utf8) }
                listed.append(ListedMember(path: path, size: member.size, sha256: digest, role: member.role,
                                           symlinkTarget: member.role == .symbolicLink ? (target ?? []) : nil,
                                           mode: member.mode, modificationTime: member.modificationTime, reference: member.reference,
                                           indexedSize: member.indexedSize, indexedSHA256: Digest32(hex: member.indexedSHA256) ?? digest))
            }
        }
    }

    /// What one member line must be (FORMAT.md §2, §4).
    private func check(_ member: ManifestMember, path: ArchivePath, line: Int) {
        switch (member.storage, member.reference) {
        case ("inline", nil):
            break
        case ("reference", let reference?):
            // Only file content is ever a reference, and only to a plain archive name and a name
            // that is itself valid.
            if member.role == .verifyGuide || member.role == .symbolicLink {
                problems.append("member \(path) is a \(member.role.rawValue), which is always stored inline, not as a reference")
            }
            if !reference.archiveNameIsPlain || reference.archivePath == nil || Digest32(hex: reference.fingerprint) == nil
                || reference.repository.isEmpty {
                problems.append("member \(path): its reference is not a valid repository, archive name, fingerprint and member name")
            }
        case ("reference", nil), ("inline", _?):
            problems.append("member \(path): storage \"reference\" and a reference go together")
        default:
            problems.append("member \(path) is stored as \"\(member.storage)\", which this version cannot verify")
        }
        if member.mode == nil || member.modificationTime == nil {
            problems.append("manifest line \(line) (member \(path)) has no \(member.mode == nil ? "mode" : "modificationTime"), which every member line carries")
        }
        if member.size < 0 { problems.append("member \(path) has a negative size") }
        if path == ArchivePath(ArchiveLayout.manifestName) {
            problems.append("manifest line \(line) lists a member named \(ArchiveLayout.manifestName): only the last member, unlisted, is the manifest")
        }
        let underData = path.hasPrefix(ArchiveLayout.dataPrefix)
        switch member.role {
        case .document, .signature, .timeStamp, .symbolicLink:
            if !underData { problems.append("member \(path) is a \(member.role.rawValue) outside \(ArchiveLayout.dataPrefix)") }
        case .certificate, .crl, .ocsp:
            if !path.hasPrefix("evidence/") { problems.append("member \(path) is a \(member.role.rawValue) outside evidence/") }
        case .verifyGuide:
            if path != ArchivePath(ArchiveLayout.verifyGuideName) { problems.append("member \(path) is a verify guide under another name") }
        }
        if (member.role == .symbolicLink) != (member.symlinkTarget != nil) {
            problems.append("member \(path): a symlinkTarget belongs to role symlink, and only there")
        }
        if member.role == .document && member.document == nil {
            problems.append("document \(path) has no document record")
        }
        if member.symlinkTarget.map({ ArchivePath.unescaped($0) == nil }) == true {
            problems.append("member \(path): its symlinkTarget is not a valid escaped name")
        }
        if !names.insert(Digest32(Hasher.digest(path.bytes))).inserted { duplicates += 1 }
        if member.role == .symbolicLink { symbolicLinks.append(path) }
        var components = path.components
        while components.count > 1 {
            components.removeLast()
            if !folders.insert(ArchivePath(bytes: Array(components.joined(separator: [UInt8(ascii: "/")])))).inserted { break }
        }
    }
}
