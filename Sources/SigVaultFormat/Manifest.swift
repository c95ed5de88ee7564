import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The archive's manifest: JSON Lines, one object per line, in this order: a `header`, one
/// `member` per tar member in archive order, an `end`. Its SHA-256 is the archive's fingerprint.
/// See docs/FORMAT.md §4.
public enum ManifestLine: Sendable {
    case header(ManifestHeader)
    case member(ManifestMember)
    case end(ManifestEnd)

    public static func decode(_ line: [UInt8]) throws -> ManifestLine {
        try decode(line, with: JSONDecoder())
    }

    /// Decodes with a caller's decoder; member lines, by far the most, are decoded once.
    public static func decode(_ line: [UInt8], with decoder: JSONDecoder) throws -> ManifestLine {
        struct Probe: Decodable { let type: String }
        let data = Data(line)
        if let member = try? decoder.decode(ManifestMember.self, from: data), member.type == "member" { return .member(member) }
        let probe = try decoder.decode(Probe.self, from: data)
        switch probe.type {
        case "header": return .header(try decoder.decode(ManifestHeader.self, from: data))
        case "member": return .member(try decoder.decode(ManifestMember.self, from: data))
        case "end": return .end(try decoder.decode(ManifestEnd.self, from: data))
        default: throw FormatError(.malformed, "unknown manifest line type \"\(probe.type)\"")
        }
    }

    /// One line of canonical JSON (sorted keys, no trailing newline).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoded(with: encoder)
    }

    /// As `encoded()`, with a caller's encoder (set to sorted keys) reused across lines.
    public func encoded(with encoder: JSONEncoder) throws -> [UInt8] {
        switch self {
        case .header(let value): return Array(try encoder.encode(value))
        case .member(let value): return Array(try encoder.encode(value))
        case .end(let value): return Array(try encoder.encode(value))
        }
    }
}

public struct ManifestHeader: Codable, Sendable {
    public var type = "header"
    public var format = "sigvault-archive"
    public var version = FormatVersion.current
    public var createdAt: String
    public var generator: String
    /// SHA-256 of the trust anchors pack validated against (informative; verify uses its own).
    public var trustAnchors: [String]
    /// Where proof of time comes from: "none" in version 1 archives without evidence records.
    public var archiveTimeStamp: String

    public init(createdAt: String, generator: String, trustAnchors: [String], archiveTimeStamp: String = "none") {
        self.createdAt = createdAt
        self.generator = generator
        self.trustAnchors = trustAnchors
        self.archiveTimeStamp = archiveTimeStamp
    }
}

public enum FormatVersion {
    /// The manifest's version (its header line), and the trailer's for an archive without archive
    /// time-stamps.
    public static let current = 1
    /// The trailer's version for an archive with an evidence section (docs/FORMAT.md §10).
    public static let withEvidence = 2
}

/// What a member is for.
public enum MemberRole: String, Codable, Sendable {
    case verifyGuide = "verify-guide"
    case document
    case signature
    case timeStamp = "time-stamp"
    case symbolicLink = "symlink"
    case certificate
    case crl
    case ocsp
}

public struct ManifestMember: Codable, Sendable {
    public var type = "member"
    /// The tar name, escaped as `ArchivePath.escaped` (round-trips for names that are not UTF-8).
    public var path: String
    public var role: MemberRole
    public var size: Int64
    public var sha256: String
    /// How the content is stored: "inline" (in this archive) or "reference" (in an earlier archive
    /// of the same repository, named by `reference`; the tar entry holds `ReferenceStub.content`).
    /// `size` and `sha256` are always the content's, wherever it is.
    public var storage: String = "inline"
    /// For storage "reference": where the content is (docs/FORMAT.md §4.3).
    public var reference: MemberReference?
    public var mode: UInt32?
    public var modificationTime: Int64?
    public var symlinkTarget: String?
    /// For role `signature` and `time-stamp`: the archive path of the file it covers.
    public var covers: String?
    /// For role `document`: what pack found.
    public var document: DocumentRecord?

    public init(path: ArchivePath, role: MemberRole, size: Int64, sha256: String) {
        self.path = ArchivePath.escaped(path.bytes)
        self.role = role
        self.size = size
        self.sha256 = sha256
    }

    public var archivePath: ArchivePath? { ArchivePath.unescaped(path) }

    /// For a reference member, its tar entry's content (FORMAT.md §4.3).
    public var referenceStub: [UInt8]? { reference.map { ReferenceStub.content(of: $0, size: size, sha256: sha256) } }
}

/// Where the content of a reference member is: a member stored inline in an earlier archive of
/// the same repository (docs/FORMAT.md §4.3).
public struct MemberReference: Codable, Sendable, Hashable {
    /// The repository's id (its config's `id`).
    public var repository: String
    /// The archive's object name in the repository (`YYYYMMDDTHHMMSSZ-<seq>.svz`).
    public var archive: String
    /// That archive's fingerprint (its manifest's SHA-256, hex).
    public var fingerprint: String
    /// The member's tar name in that archive, escaped (§4.1).
    public var path: String

    public init(repository: String, archive: String, fingerprint: String, path: ArchivePath) {
        self.repository = repository
        self.archive = archive
        self.fingerprint = fingerprint
        self.path = ArchivePath.escaped(path.bytes)
    }

    public var archivePath: ArchivePath? { ArchivePath.unescaped(path) }

    /// Whether the archive's name is one plain object name (no folder, not `.` or `..`).
    public var archiveNameIsPlain: Bool {
        !archive.isEmpty && !archive.contains("/") && archive != "." && archive != ".." && !archive.utf8.contains(0)
    }
}

/// The content of a reference member's tar entry: a few lines of text derived from its manifest
/// line alone, so that `tar -x` shows where the content is and a reader recomputes and checks it.
public enum ReferenceStub {
    public static func content(of reference: MemberReference, size: Int64, sha256: String) -> [UInt8] {
        Array("""
            sigvault-reference 1
            The content of this member is stored in another archive of the same SigVault repository.
            repository: \(reference.repository)
            archive: \(reference.archive)
            fingerprint: \(reference.fingerprint)
            path: \(reference.path)
            size: \(size)
            sha256: \(sha256)

            """.utf8)
    }
}

public struct ManifestEnd: Codable, Sendable {
    public var type = "end"
    public var members: Int
    public var documents: Int
    public var signedDocuments: Int
    public init(members: Int, documents: Int, signedDocuments: Int) {
        self.members = members
        self.documents = documents
        self.signedDocuments = signedDocuments
    }
}

/// A document and the evidence pack gathered for it.
public struct DocumentRecord: Codable, Sendable {
    /// "unsigned", "detached" (signature files beside it), "enveloping" (the document is a CMS).
    public var kind: String
    /// Archive paths of the document's signature and time-stamp files.
    public var files: [String] = []
    public var signatures: [SignatureRecord]
    /// Time-stamps over the document itself (proof of existence of the document, not of a signature).
    public var documentTimeStamps: [TimeStampRecord]
    /// The verdict pack computed (informative: verify recomputes).
    public var packIndication: String?
    public var packSubIndication: String?

    /// The record of a document without signatures or time-stamps.
    public static let unsigned = DocumentRecord(kind: "unsigned", signatures: [], documentTimeStamps: [],
                                                packIndication: nil, packSubIndication: nil)

    public init(kind: String, signatures: [SignatureRecord], documentTimeStamps: [TimeStampRecord],
                packIndication: String?, packSubIndication: String?) {
        self.kind = kind
        self.signatures = signatures
        self.documentTimeStamps = documentTimeStamps
        self.packIndication = packIndication
        self.packSubIndication = packSubIndication
    }
}

public struct SignatureRecord: Codable, Sendable {
    /// Archive path of the CMS file (for enveloping signatures, the document itself).
    public var file: String
    public var signerIndex: Int
    public var signer: String?
    /// SHA-256 of certificates, leaf first, as members under evidence/certificates/.
    public var chain: [String]
    public var crls: [String]
    public var ocsp: [String]
    public var timeStamps: [TimeStampRecord]
    public var digestAlgorithm: String?

    public init(file: String, signerIndex: Int, signer: String?, chain: [String], crls: [String], ocsp: [String],
                timeStamps: [TimeStampRecord], digestAlgorithm: String?) {
        self.file = file
        self.signerIndex = signerIndex
        self.signer = signer
        self.chain = chain
        self.crls = crls
        self.ocsp = ocsp
        self.timeStamps = timeStamps
        self.digestAlgorithm = digestAlgorithm
    }
}

public struct TimeStampRecord: Codable, Sendable {
    /// "embedded" (CAdES signature time-stamp inside the CMS) or "file" (a .tsr/.tst member).
    public var source: String
    /// For "file": the archive path of the token file.
    public var file: String?
    /// What the imprint covers: "signature-value", "signature-file" or "document".
    public var covers: String
    public var genTime: String?
    /// Whether pack found the token valid (informative: verify decides again).
    public var valid: Bool?
    public var sha256: String
    public var tsaChain: [String]
    public var crls: [String]
    public var ocsp: [String]

    public init(source: String, file: String?, covers: String, genTime: String?, sha256: String,
                tsaChain: [String], crls: [String], ocsp: [String]) {
        self.source = source
        self.file = file
        self.covers = covers
        self.genTime = genTime
        self.sha256 = sha256
        self.tsaChain = tsaChain
        self.crls = crls
        self.ocsp = ocsp
    }
}

public struct FormatError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable { case malformed, unsupportedVersion }
    public let code: Code
    public let message: String
    public var description: String { message }
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

public enum ISOTime {
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, rounded down), without a formatter object: a
    /// backup formats a time per file, and formatters are costly to make and not thread-safe.
    public static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "1970-01-01T00:00:00Z" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = year >= 0 && year < 10000 ? String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year) : String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    /// Parses a full ISO 8601 / RFC 3339 date-time and nothing else: `2026-06-01T00:00:00Z`, with
    /// fractional seconds (`…:00.5Z`) or an offset (`…:00+02:00`). Every field is range-checked
    /// (no 2030-02-30, no 12:61, no leap second); a bare date, a missing zone or any trailing
    /// character is refused (nil).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2), expect("Tt"),
              let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2) else { return nil }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2),
                  (0...23).contains(offsetHours), (0...59).contains(offsetMinutes) else { return nil }
            offset = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: TimeInterval(seconds) + fraction)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's days_from_civil).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
