import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// What `verify` found; printed as text or as the JSON document of docs/CLI.md ("verify JSON"),
/// both streamed document by document (`ReportRendering.swift`), so that an archive of a million
/// plain documents does not need a million reports in memory.
/// What kind of integrity problem verify found (docs/CLI.md, "Integrity problem codes"); the JSON
/// carries the raw value.
public enum ProblemCode: String, Codable, Sendable, CaseIterable {
    /// The trailer or index is unusable (the members are then found by one pass over the stream),
    /// or they disagree about the manifest.
    case layout
    /// Frames that do not line up with the index, or a damaged or wrong end-of-archive frame.
    case frames
    /// An index entry that does not follow the previous member's frames.
    case index
    /// The stream cannot be read to its end.
    case truncated
    /// A member whose frames do not match their SHA-256 in the index or whose tar entry is broken.
    case damaged
    case manifest
    case missing
    case extra
    case duplicated
    case reordered
    /// A member whose content or metadata differs from the manifest.
    case content
    /// A name that is not a safe relative path, or an entry that is neither a file nor a link.
    case unsafe
    /// The evidence section (version 2): its frame, trees, groups or imprints.
    case evidence
    /// A reference member (FORMAT.md §4.3) whose content cannot be found in its repository or is
    /// not what the reference says.
    case reference
}

/// Where the phases of verify report integrity problems: code, member (or nil) and message.
enum Problems {
    typealias Sink = (ProblemCode, String?, String) -> Void
}

public struct VerifyReport: Sendable {
    public struct Problem: Codable, Sendable {
        public var code: ProblemCode
        @NullEncoded public var member: String?
        public var message: String

    }
    public struct Integrity: Codable, Sendable {
        public var ok: Bool
        public var problems: [Problem]
    }
    public struct ProofOfTime: Codable, Sendable {
        @NullEncoded public var archiveTimeStamp: String?
        public var statement: String
        /// The archive time-stamp's own indication (null without one).
        @NullEncoded public var indication: String?
        @NullEncoded public var subIndication: String?
        /// When the archive time-stamp stops protecting the archive unless renewed (its TSA
        /// certificate's expiry or its hash algorithm's sunset, the earlier); null without one.
        @NullEncoded public var renewBefore: String?

        public init(archiveTimeStamp: String?, statement: String) {
            self.archiveTimeStamp = archiveTimeStamp
            self.statement = statement
        }
    }
    public struct Summary: Codable, Sendable {
        public var members = 0
        public var documents = 0
        public var signed = 0
        public var unsigned = 0
        public var totalPassed = 0
        public var totalFailed = 0
        public var indeterminate = 0
        /// Documents with a document time-stamp that proves nothing (a finding: exit code 2).
        public var documentTimeStampProblems = 0
    }
    public var archive: String
    public var fingerprint: String?
    public var formatVersion: Int?
    public var validationTime: String
    public var integrity: Integrity
    public var proofOfTime: ProofOfTime
    /// Documents that were analysed (signed, or with notes), in name order.
    var analysed: [(path: ArchivePath, report: DocumentReport)] = []
    /// Unsigned documents that no signature or token could concern, in name order: their reports
    /// are made as they are written.
    var plain: [ArchivePath] = []
    /// The time a valid archive time-stamp proves every document existed (their proof of existence
    /// unless an earlier one of their own).
    var archiveProofOfExistence: Date?
    public var summary: Summary
    /// Files skipped while loading trust anchors.
    public var warnings: [String]
    public var exitCode: Int32
    /// `all`, or `integrity` for --integrity-only (no signature was evaluated).
    public var checks = "all"
    /// Where the trust anchors came from (nil with --integrity-only, which uses none).
    public var trust: TrustSource?
    /// The archive's reference members (FORMAT.md §4.3), nil when it has none.
    public var references: References?
    /// The repository's renewed evidence object judged instead of the archive's own section
    /// (FORMAT.md §11), nil when there is none or no repository was given.
    public var renewedEvidence: String?
    /// `export`: the chosen document's full result (nil when it is a plain unsigned document).
    var kept: KeptDocument?

    /// Reference members: how many, into which repository and archives, and whether their content
    /// was found and checked there (`--repo`) or not (no repository given: exit 10).
    public struct References: Codable, Sendable {
        public var members: Int
        public var repository: String
        public var archives: [String]
        public var resolved: Bool
        /// The id of the repository given with `--repo`, when it is another one (null otherwise).
        @NullEncoded public var given: String?
    }

    /// Every document's report, in name order.
    public func forEachDocument(_ body: (DocumentReport) throws -> Void) rethrows {
        var next = 0
        for path in plain {
            while next < analysed.count, analysed[next].path < path {
                try body(analysed[next].report)
                next += 1
            }
            var report = DocumentReport(plain: path)
            report.proofOfExistence = archiveProofOfExistence.map(ISOTime.format)
            try body(report)
        }
        for rest in analysed[next...] { try body(rest.report) }
    }
}

/// What `export` needs beside the report: the chosen document's full validation, the archive
/// time-stamp's, and what the run trusted and was given.
struct KeptDocument {
    let result: DocumentResult?
    let archiveTimeStamp: ArchiveTimeStampResult?
    let anchors: TrustAnchors
    let outside: EvidencePool
    /// `verify --report`: every analysed document's result, in name order.
    var all: [DocumentResult] = []
    /// `verify --report`: the manifest's members, in its order.
    var listed: [ListedMember] = []
}

public struct DocumentReport: Codable, Sendable {
    public var path: String
    public var signed: Bool
    public var kind: String
    @NullEncoded public var indication: String?
    @NullEncoded public var subIndication: String?
    @NullEncoded public var reason: String?
    @NullEncoded public var proofOfExistence: String?
    /// What pack and verify noticed beside the verdict (an unreadable token file, a missing document).
    public var notes: [String]
    public var signatures: [SignatureReport]
    public var documentTimeStamps: [TimeStampReport]


}

public struct SignatureReport: Codable, Sendable {
    public struct Validity: Codable, Sendable {
        public var notBefore: String
        public var notAfter: String
    }
    public var file: String
    public var signerIndex: Int
    @NullEncoded public var signer: String?
    @NullEncoded public var signerSerial: String?
    @NullEncoded public var certificateValidity: Validity?
    public var indication: String
    @NullEncoded public var subIndication: String?
    public var reason: String
    @NullEncoded public var bestSignatureTime: String?
    public var chain: [String]
    /// The chain's revocation statuses at the best signature time, each with the data that decided it.
    public var revocation: [RevocationReport]
    public var timeStamps: [TimeStampReport]


}

public struct TimeStampReport: Codable, Sendable {
    /// The token's file, or null for a CAdES signature time-stamp inside the CMS.
    @NullEncoded public var file: String?
    public var covers: String
    public var genTime: String
    @NullEncoded public var tsa: String?
    public var valid: Bool
    /// Whether this token set the best signature time.
    public var used: Bool
    /// Why it gives no proof, as an ETSI sub-indication (null when valid).
    @NullEncoded public var subIndication: String?
    public var reason: String
    /// The TSA chain's statuses at genTime, then at the time the token's protection must reach.
    public var revocation: [RevocationReport]
}

/// One certificate's revocation status at one time, and the CRL or OCSP response that decided it.
public struct RevocationReport: Codable, Sendable {
    public struct Data: Codable, Sendable {
        /// `crl` or `ocsp`.
        public var kind: String
        public var sha256: String
        /// The CRL's issuer, or the OCSP response's signer (null when its certificate is not at hand).
        @NullEncoded public var issuer: String?
        /// The CRL's thisUpdate, or the OCSP response's producedAt.
        public var issued: String
        @NullEncoded public var nextUpdate: String?
        /// `archive` (the archive, the signature or the token) or `outside` (`--crls`, `--ocsp`, fetched).
        public var source: String
    }
    public var certificate: String
    public var serial: String
    public var at: String
    /// `notRevoked`, `revoked`, `onHold` or `unknown`.
    public var status: String
    /// The revocation or hold date, for `revoked` and `onHold`.
    @NullEncoded public var since: String?
    /// What decided the status; for `unknown`, the newest data that speaks about the certificate.
    @NullEncoded public var decidedBy: Data?
    /// Until when the data shows it not revoked, for `unknown`.
    @NullEncoded public var shownUntil: String?
    /// Data set aside, with the reason.
    public var setAside: [String]
}

extension DocumentReport {
    /// An unsigned document with nothing to report beside its name.
    init(plain path: ArchivePath) {
        self.path = ArchivePath.escaped(path.bytes)
        signed = false
        kind = DocumentGroup.Kind.unsigned.rawValue
        notes = []
        signatures = []
        documentTimeStamps = []
    }

    init(_ result: DocumentResult) {
        let verdict = result.verdict
        path = ArchivePath.escaped(result.group.document.bytes)
        signed = result.signed
        kind = result.group.kind.rawValue
        indication = verdict?.indication.rawValue
        subIndication = verdict?.subIndication?.rawValue
        reason = verdict?.reason
        notes = result.group.notes
        proofOfExistence = result.proofOfExistence.map(ISOTime.format)
        signatures = result.signatures.map(SignatureReport.init)
        documentTimeStamps = result.documentTimeStamps.map { TimeStampReport($0, used: false) }
    }
}

extension SignatureReport {
    init(_ outcome: SignatureOutcome) {
        file = ArchivePath.escaped(outcome.file.bytes)
        signerIndex = outcome.signerIndex
        let validation = outcome.validation
        let certificate = validation?.signerCertificate
        signer = certificate?.subject
        signerSerial = certificate?.serialHex
        certificateValidity = certificate.map { Validity(notBefore: ISOTime.format($0.notBefore), notAfter: ISOTime.format($0.notAfter)) }
        indication = outcome.verdict.indication.rawValue
        subIndication = outcome.verdict.subIndication?.rawValue
        reason = outcome.verdict.reason
        bestSignatureTime = validation?.bestSignatureTime.map(ISOTime.format)
        chain = validation?.chain.map(\.subject) ?? []
        revocation = validation?.statuses.map(RevocationReport.init) ?? []
        let firstProof = validation?.proofs.first
        timeStamps = validation?.timeStamps.map { stamp in TimeStampReport(stamp, used: firstProof.map { $0.token === stamp.token } ?? false) } ?? []
    }
}

extension TimeStampReport {
    init(_ validation: TimeStampValidation, used: Bool) {
        file = validation.origin
        covers = validation.covered.rawValue
        genTime = ISOTime.format(validation.genTime)
        tsa = validation.tsaSubject
        valid = validation.valid
        self.used = used
        subIndication = validation.failure?.rawValue
        reason = validation.reason
        revocation = validation.statuses.map(RevocationReport.init)
    }
}

extension RevocationReport {
    init(_ status: CertificateStatus) {
        certificate = status.certificate.subject
        serial = status.certificate.serialHex
        at = ISOTime.format(status.time)
        switch status.status.state {
        case .notRevoked: self.status = "notRevoked"
        case .revoked(let date): self.status = "revoked"; since = ISOTime.format(date)
        case .onHold(let date): self.status = "onHold"; since = ISOTime.format(date)
        case .unknown: self.status = "unknown"
        }
        decidedBy = status.status.decidedBy.map { Data($0, external: status.decidedByExternalData) }
        shownUntil = status.status.state == .unknown ? status.status.shownUntil.map(ISOTime.format) : nil
        setAside = status.status.setAside
    }

    /// One line for the text report.
    var text: String {
        var line = "status of \(certificate) (serial \(serial)) at \(at): \(status)"
        if let since { line += " since \(since)" }
        if let data = decidedBy {
            line += status == "unknown" ? ", newest data" : ", by"
            line += " \(data.kind.uppercased()) \(data.sha256.prefix(16)) issued \(data.issued)"
            if let issuer = data.issuer { line += " by \(issuer)" }
            line += " (\(data.source))"
        }
        if let shownUntil { line += ", shown until \(shownUntil)" }
        return line
    }
}

extension RevocationReport.Data {
    init(_ item: RevocationEvidence, external: Bool) {
        switch item {
        case .crl(let crl):
            kind = "crl"
            issuer = crl.issuer
            issued = ISOTime.format(crl.thisUpdate)
            nextUpdate = crl.nextUpdate.map(ISOTime.format)
        case .ocsp(let response):
            kind = "ocsp"
            issuer = response.signerCertificate(among: [])?.subject
            issued = ISOTime.format(response.producedAt)
        }
        sha256 = item.sha256Hex
        source = external ? "outside" : "archive"
    }
}

/// Where a command's trust anchors came from: `--trust` or, without it, the system store.
public struct TrustSource: Codable, Sendable {
    /// `trust-option` or `system-store`.
    public var source: String
    /// The `--trust` paths, or the system bundle read (empty if none was found).
    public var files: [String]
    /// How many distinct anchors were loaded.
    public var anchors: Int

    /// The report line: which anchors, and from where.
    public var text: String {
        source == "system-store"
            ? "the system store: \(anchors) anchor(s) from \(files.first ?? "no bundle found") (no --trust given)"
            : "\(anchors) anchor(s) from --trust \(files.joined(separator: ", "))"
    }

    /// Said when, without --trust, signatures found no chain to any anchor of the system store.
    static func hint(chainFailures: Int) -> String {
        "no --trust was given and \(chainFailures) signature(s) found no chain to an anchor of the system store; give the trust anchor you rely on with --trust <file|folder>"
    }
}

public enum JSONOutput {
    /// Every JSON document carries it (docs/CLI.md, JSON): raised when a key changes meaning or goes.
    static let schemaVersion = 1

    /// One encoder for the process (reports are written from one thread).
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON document as every command prints it (pretty, keys sorted, `/` unescaped).
    public static func text<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` pretty-printed for a place `indent` spaces deep: every non-empty line after the first
    /// indented.
    static func encode<T: Encodable>(_ value: T, indent: Int) -> String {
        guard let data = try? encoder.encode(value) else { return "{}" }
        return data.withUnsafeBytes { raw -> String in
            var out: [UInt8] = []
            out.reserveCapacity(raw.count + raw.count / 4)
            var afterNewline = false
            for byte in raw {
                if afterNewline && byte != 0x0A { out.append(contentsOf: repeatElement(0x20, count: indent)) }
                out.append(byte)
                afterNewline = byte == 0x0A
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

/// An optional that JSON writes as `null` rather than leaving out (docs/CLI.md promises every key).
@propertyWrapper
public struct NullEncoded<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A missing key decodes as nil.
    public func decode<Value>(_ type: NullEncoded<Value>.Type, forKey key: Key) throws -> NullEncoded<Value> {
        try decodeIfPresent(type, forKey: key) ?? NullEncoded(wrappedValue: nil)
    }
}
