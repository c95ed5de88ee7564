import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// The JSON document `verify --json` prints (docs/CLI.md, "verify JSON").
public struct VerifyReport: Codable, Sendable {
    public struct Problem: Codable, Sendable {
        public let code: String
        public let member: String?
        public let message: String

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(code, forKey: .code)
            try container.encode(member, forKey: .member)
            try container.encode(message, forKey: .message)
        }
    }
    public struct Integrity: Codable, Sendable {
        public var ok: Bool
        public var problems: [Problem]
    }
    public struct ProofOfTime: Codable, Sendable {
        public var archiveTimeStamp: String?
        public var statement: String

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(archiveTimeStamp, forKey: .archiveTimeStamp)
            try container.encode(statement, forKey: .statement)
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
    }
    public var archive: String
    public var fingerprint: String?
    public var formatVersion: Int?
    public var validationTime: String
    public var integrity: Integrity
    public var proofOfTime: ProofOfTime
    public var documents: [DocumentReport]
    public var summary: Summary
    public var exitCode: Int32

    enum CodingKeys: String, CodingKey {
        case archive, fingerprint, formatVersion, validationTime, integrity, proofOfTime, documents, summary, exitCode
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(archive, forKey: .archive)
        try container.encode(fingerprint, forKey: .fingerprint)
        try container.encode(formatVersion, forKey: .formatVersion)
        try container.encode(validationTime, forKey: .validationTime)
        try container.encode(integrity, forKey: .integrity)
        try container.encode(proofOfTime, forKey: .proofOfTime)
        try container.encode(documents, forKey: .documents)
        try container.encode(summary, forKey: .summary)
        try container.encode(exitCode, forKey: .exitCode)
    }
}

public struct DocumentReport: Codable, Sendable {
    public var path: String
    public var signed: Bool
    public var kind: String
    public var indication: String?
    public var subIndication: String?
    public var reason: String?
    public var proofOfExistence: String?
    /// What pack and verify noticed beside the verdict (an unreadable token file, a missing document).
    public var notes: [String]
    public var signatures: [SignatureReport]
    public var documentTimeStamps: [TimeStampReport]

    enum CodingKeys: String, CodingKey {
        case path, signed, kind, indication, subIndication, reason, proofOfExistence, notes, signatures, documentTimeStamps
    }

    /// Absent values are written as JSON null (docs/CLI.md promises the keys).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(signed, forKey: .signed)
        try container.encode(kind, forKey: .kind)
        try container.encode(indication, forKey: .indication)
        try container.encode(subIndication, forKey: .subIndication)
        try container.encode(reason, forKey: .reason)
        try container.encode(proofOfExistence, forKey: .proofOfExistence)
        try container.encode(notes, forKey: .notes)
        try container.encode(signatures, forKey: .signatures)
        try container.encode(documentTimeStamps, forKey: .documentTimeStamps)
    }
}

public struct SignatureReport: Codable, Sendable {
    public struct Validity: Codable, Sendable {
        public var notBefore: String
        public var notAfter: String
    }
    public var file: String
    public var signerIndex: Int
    public var signer: String?
    public var signerSerial: String?
    public var certificateValidity: Validity?
    public var indication: String
    public var subIndication: String?
    public var reason: String
    public var bestSignatureTime: String?
    public var chain: [String]
    public var timeStamps: [TimeStampReport]

    enum CodingKeys: String, CodingKey {
        case file, signerIndex, signer, signerSerial, certificateValidity, indication, subIndication, reason, bestSignatureTime, chain, timeStamps
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(signerIndex, forKey: .signerIndex)
        try container.encode(signer, forKey: .signer)
        try container.encode(signerSerial, forKey: .signerSerial)
        try container.encode(certificateValidity, forKey: .certificateValidity)
        try container.encode(indication, forKey: .indication)
        try container.encode(subIndication, forKey: .subIndication)
        try container.encode(reason, forKey: .reason)
        try container.encode(bestSignatureTime, forKey: .bestSignatureTime)
        try container.encode(chain, forKey: .chain)
        try container.encode(timeStamps, forKey: .timeStamps)
    }
}

public struct TimeStampReport: Codable, Sendable {
    /// The token's file, or null for a CAdES signature time-stamp inside the CMS.
    public var file: String?
    public var covers: String
    public var genTime: String
    public var tsa: String?
    public var valid: Bool
    /// Whether this token set the best signature time.
    public var used: Bool
    public var reason: String

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(file, forKey: .file)
        try container.encode(covers, forKey: .covers)
        try container.encode(genTime, forKey: .genTime)
        try container.encode(tsa, forKey: .tsa)
        try container.encode(valid, forKey: .valid)
        try container.encode(used, forKey: .used)
        try container.encode(reason, forKey: .reason)
    }
}

extension DocumentReport {
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
        reason = validation.reason
    }
}

enum JSONOutput {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
