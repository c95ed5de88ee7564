import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation
import SwiftASN1

public struct RecordVerifyOptions: Sendable {
    /// The RFC 4998 EvidenceRecord (DER).
    public var record: String
    /// Data objects as files.
    public var data: [String] = []
    /// Data objects as digests, `<algorithm>:<hex>` (e.g. `sha256:9f86…`).
    public var digests: [String] = []
    public var trust: [String] = []
    /// Extra certificates for the TSA chains (intermediates a token does not carry).
    public var certificates: [String] = []
    /// `--crls`, `--ocsp`: revocation data for the TSA chains from outside the record.
    public var revocationLists: [String] = []
    public var ocspResponses: [String] = []
    /// `--fetch-revocation` (nil: no network access).
    public var fetchRevocation: FetchSettings?
    /// `--max-revocation-age` (ETSI EN 319 102-1 §5.2.5; nil: nextUpdate − thisUpdate).
    public var maximumRevocationAge: TimeInterval?
    public var at: Date = Date()

    public init(record: String) { self.record = record }
}

/// The JSON document `ers verify --json` prints (docs/CLI.md, "ers verify JSON").
public struct RecordVerifyReport: Codable, Sendable {
    /// docs/CLI.md, JSON: in every JSON document.
    public var schemaVersion = JSONOutput.schemaVersion
    public struct DataObject: Codable, Sendable {
        /// The file, or `digest <n>` for one given with --digest.
        public var name: String
        /// The digests computed or given, `algorithm: hex`.
        public var digests: [String: String]
    }
    public struct Stamp: Codable, Sendable {
        /// 1-based positions, as RFC 4998 counts chains and time-stamps.
        public var chain: Int
        public var timeStamp: Int
        @NullEncoded public var genTime: String?
        public var hashAlgorithm: String
        /// `covered`, `not covered` or `digest unavailable`.
        public var coverage: String
        /// How the hash tree matched (`initial`, `time-stamp renewal`, `hash-tree renewal, unsorted concatenation`, …).
        public var forms: [String]
        @NullEncoded public var tsa: String?
        public var tokenValid: Bool
        /// The time the token had to be valid until: the next time-stamp's genTime, or the validation time.
        public var validUntil: String
        public var reason: String
    }
    public var record: String
    public var validationTime: String
    public var dataObjects: [DataObject]
    public var archiveTimeStamps: [Stamp]
    public var indication: String
    @NullEncoded public var subIndication: String?
    public var reason: String
    /// The earliest time the record proves the data existed (the first archive time-stamp's genTime),
    /// when the record passes.
    @NullEncoded public var proofOfExistence: String?
    public var exitCode: Int32
}

/// `sigvault ers verify`: an RFC 4998 Evidence Record made by anyone, against the data it must cover
/// (RFC 4998 §5.3 and ETSI EN 319 102-1 for the time-stamps: each archive time-stamp's token valid
/// at the time of the next, the last at the validation time).
public struct RecordVerifier {
    let options: RecordVerifyOptions
    let logger: Logger

    public init(options: RecordVerifyOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// A data object: a file hashed on demand in any algorithm, or digests given as such.
    final class DataObject {
        let name: String
        let path: String?
        var digests: [HashAlgorithm: [UInt8]]

        init(name: String, path: String?, digests: [HashAlgorithm: [UInt8]]) {
            self.name = name
            self.path = path
            self.digests = digests
        }

        func digest(_ algorithm: HashAlgorithm) throws -> [UInt8]? {
            if let known = digests[algorithm] { return known }
            guard let path else { return nil }
            let value = try SignatureValidator.digest(.file(path), algorithm)
            digests[algorithm] = value
            return value
        }
    }

    public func run() throws -> RecordVerifyReport {
        guard !options.data.isEmpty || !options.digests.isEmpty else {
            throw SigVaultError(.usage, "ers verify needs the data the record covers", hint: "give --data <file> or --digest <algorithm>:<hex>")
        }
        var objects: [DataObject] = []
        for (index, text) in options.digests.enumerated() {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let algorithm = HashAlgorithm(openSSLName: parts[0]), let value = Hex.decode(parts[1].lowercased()),
                  value.count == Hasher.digest([], algorithm).count else {
                throw SigVaultError(.usage, "--digest \(text): expected <algorithm>:<hex>", hint: "for example sha256:\(String(repeating: "0", count: 64))")
            }
            objects.append(DataObject(name: "digest \(index + 1)", path: nil, digests: [algorithm: value]))
        }

        guard FileManager.default.fileExists(atPath: options.record) else {
            throw SigVaultError(.inputMissing, "\(options.record): no such file")
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: options.record)))
        let record: EvidenceRecord
        do {
            record = try EvidenceRecord(der: bytes)
        } catch {
            throw SigVaultError(.inputInvalid, "\(options.record): not an RFC 4998 EvidenceRecord (\(Self.parseProblem(error)))")
        }
        guard !record.archiveTimeStampSequence.isEmpty else {
            throw SigVaultError(.inputInvalid, "\(options.record): the EvidenceRecord holds no archive time-stamp")
        }
        for path in options.data {
            guard FileManager.default.isReadableFile(atPath: path) else { throw SigVaultError(.inputMissing, "\(path): no such file or not readable") }
            objects.append(DataObject(name: path, path: path, digests: [:]))
        }
        let (anchors, warnings) = try MaterialLoader.anchors(options.trust)
        warnings.forEach { logger.warning("\($0)") }

        let pool = EvidencePool()
        let materialWarnings = try MaterialLoader.loadMaterial(certificates: options.certificates, revocationLists: options.revocationLists,
                                                               ocspResponses: options.ocspResponses, into: pool, external: true).warnings
        materialWarnings.forEach { logger.warning("\($0)") }
        let fetcher = options.fetchRevocation.map { RevocationFetcher(anchors: anchors, settings: $0) }
        let policy = ValidationPolicy(anchors: anchors, now: options.at, maximumRevocationAge: options.maximumRevocationAge)
        let evaluation = try Self.evaluate(record, pool: pool, policy: policy, revocationSource: fetcher) { identifier in
            guard let algorithm = HashAlgorithm(openSSLName: identifier.oid) else { return nil }
            var hashes: [[UInt8]] = []
            for object in objects {
                guard let digest = try object.digest(algorithm) else { return nil }
                hashes.append(digest)
            }
            return hashes
        }
        let verdict = evaluation.verdict
        let stamps = evaluation.stamps
        let exit: ExitCode = verdict.indication == .totalPassed ? .ok : verdict.indication == .totalFailed ? .integrityOrFailed : .findings
        let firstGenTime = evaluation.firstGenTime
        return RecordVerifyReport(
            record: options.record, validationTime: ISOTime.format(options.at),
            dataObjects: objects.map { object in
                RecordVerifyReport.DataObject(name: object.name, digests: Dictionary(uniqueKeysWithValues: object.digests.map { ($0.key.rawValue, Hex.encode($0.value)) }))
            },
            archiveTimeStamps: stamps, indication: verdict.indication.rawValue, subIndication: verdict.subIndication?.rawValue,
            reason: verdict.reason, proofOfExistence: verdict.indication == .totalPassed ? firstGenTime.map(ISOTime.format) : nil,
            exitCode: exit.rawValue)
    }

    /// What evaluating a record gives: the verdict, a report line per archive time-stamp, and the
    /// first time-stamp's genTime.
    struct Evaluation {
        let verdict: Verdict
        let stamps: [RecordVerifyReport.Stamp]
        let firstGenTime: Date?
        let tsa: String?
        /// When the newest time-stamp stops protecting the record (its TSA chain expires, or its hash
        /// algorithm reaches its sunset): renew before then.
        let renewBefore: Date?
        /// Each archive time-stamp's validation, chain by chain in order (nil: a token that does not parse).
        var validations: [TimeStampValidation?] = []
    }

    /// Evaluates `record` (RFC 4998 §5.3 with ETSI EN 319 102-1 for its tokens) against the data
    /// whose digests `dataHashes` gives per algorithm (nil: not available in it). The tokens'
    /// certificates and revocation data join `pool`.
    static func evaluate(_ record: EvidenceRecord, pool: EvidencePool, policy: ValidationPolicy, revocationSource: (any RevocationSource)?,
                         dataHashes: (DigestAlgorithmIdentifier) throws -> [[UInt8]]?) throws -> Evaluation {
        // The tokens, read once; the certificates and revocation data they carry (CRLs, and OCSP
        // responses as other revocation information) are the evidence for their TSA chains.
        let tokens: [[TimeStampToken?]] = record.archiveTimeStampSequence.map { chain in
            chain.archiveTimeStamps.map { try? TimeStampToken(responseOrToken: $0.timeStamp) }
        }
        for chain in record.archiveTimeStampSequence {
            for stamp in chain.archiveTimeStamps {
                if let signed = try? SignedData(bytes: stamp.timeStamp) {
                    pool.add(signed.certificates)
                    signed.revocationLists.forEach { pool.add($0) }
                }
                for der in EmbeddedRevocationInfo.ocspResponses(inContentInfo: stamp.timeStamp) { _ = try? pool.add(der, as: .ocsp) }
            }
        }
        let coverage = try Self.coverage(record, tokens: tokens, dataHashes: dataHashes)
        let at = policy.now
        let validator = SignatureValidator(pool: pool, policy: policy, revocationSource: revocationSource)
        func algorithm(_ chain: Int, _ stamp: Int) -> DigestAlgorithmIdentifier? { Self.algorithm(record, tokens: tokens, chain, stamp) }

        // Tokens, last first: each must be valid until the next one's genTime (which proves it
        // existed then), the last one until the validation time.
        let flat = record.archiveTimeStampSequence.enumerated().flatMap { chain, stamps in
            stamps.archiveTimeStamps.indices.map { (chain, $0) }
        }
        var validations: [TimeStampValidation?] = Array(repeating: nil, count: flat.count)
        var deadlines: [Date] = Array(repeating: at, count: flat.count)
        var proves = false
        var nextGenTime: Date?
        for position in flat.indices.reversed() {
            let (chain, stamp) = flat[position]
            let deadline = proves ? nextGenTime! : at
            deadlines[position] = deadline
            guard let token = tokens[chain][stamp] else { proves = false; continue }
            let validation = validator.validate(archiveTimeStamp: token, origin: "chain \(chain + 1), time-stamp \(stamp + 1)",
                                                existenceProvenAt: deadline)
            validations[position] = validation
            let covered = if case .covered = coverage[chain][stamp] { true } else { false }
            proves = validation.valid && covered
            nextGenTime = token.genTime
        }

        // The verdict: coverage first (a tree that does not lead to its token is a failure), then the
        // tokens, then the order of their times.
        var verdict = Verdict.passed("every archive time-stamp covers what it must and is valid until the next one, the last at the validation time")
        var tokenVerdict = verdict
        var stamps: [RecordVerifyReport.Stamp] = []
        var previousGenTime: Date?
        for (position, (chain, stamp)) in flat.enumerated() {
            let outcome = coverage[chain][stamp]
            let validation = validations[position]
            let place = "chain \(chain + 1), time-stamp \(stamp + 1)"
            var coverageText = "covered"
            var forms: [String] = []
            switch outcome {
            case .covered(let matched):
                forms = matched
            case .digestUnavailable(let algorithmName):
                coverageText = "digest unavailable"
                verdict = verdict.worse(Verdict(.indeterminate, .signedDataNotFound,
                                                "\(place): no digest of the data with its hash algorithm \(Self.name(algorithmName)) was given"))
            case .notCovered(let reason):
                coverageText = "not covered"
                verdict = verdict.worse(Verdict(.totalFailed, .hashFailure, "\(place): \(reason)"))
            }
            if let validation {
                if !validation.valid {
                    let failure = validation.failure ?? .noPOE
                    let indication: Indication = failure == .sigCryptoFailure || failure == .hashFailure ? .totalFailed : .indeterminate
                    tokenVerdict = tokenVerdict.worse(Verdict(indication, failure, "\(place): \(validation.reason)"))
                }
                if let previousGenTime, validation.genTime < previousGenTime {
                    tokenVerdict = tokenVerdict.worse(Verdict(.totalFailed, .formatFailure, "\(place): its genTime is earlier than the time-stamp it renews"))
                }
                previousGenTime = validation.genTime
            } else {
                tokenVerdict = tokenVerdict.worse(Verdict(.totalFailed, .formatFailure, "\(place): its timeStamp is not an RFC 3161 token"))
            }
            let name = algorithm(chain, stamp).map { Self.name($0.oid) } ?? "unknown"
            stamps.append(RecordVerifyReport.Stamp(
                chain: chain + 1, timeStamp: stamp + 1, genTime: validation.map { ISOTime.format($0.genTime) }, hashAlgorithm: name,
                coverage: coverageText, forms: forms, tsa: validation?.tsaSubject, tokenValid: validation?.valid ?? false,
                validUntil: ISOTime.format(deadlines[position]), reason: validation?.reason ?? "not an RFC 3161 token"))
        }
        // Each chain's hash algorithm must not reach its sunset (docs/ALGORITHMS.md) before the next
        // hash-tree renewal, or for the last chain before the validation time; and no time-stamp
        // may use an algorithm already past its sunset.
        for (chainIndex, chain) in record.archiveTimeStampSequence.enumerated() {
            // One hash algorithm per chain (RFC 4998 §5.2: a new algorithm starts a new chain), the
            // stamps' and their tokens' imprints alike.
            let chainAlgorithm = algorithm(chainIndex, 0)?.oid
            for stampIndex in chain.archiveTimeStamps.indices {
                let stampAlgorithm = algorithm(chainIndex, stampIndex)?.oid
                let imprintAlgorithm = tokens[chainIndex][stampIndex]?.imprintAlgorithm.map(Self.oid)
                if stampAlgorithm != chainAlgorithm || (imprintAlgorithm != nil && imprintAlgorithm != chainAlgorithm) {
                    verdict = verdict.worse(Verdict(.totalFailed, .formatFailure,
                        "chain \(chainIndex + 1), time-stamp \(stampIndex + 1): its hash algorithm is not its chain's"))
                }
            }
            guard let identifier = algorithm(chainIndex, 0), let hash = HashAlgorithm(openSSLName: identifier.oid),
                  let sunset = AlgorithmSunsets.sunset(of: hash) else { continue }
            for stampIndex in chain.archiveTimeStamps.indices {
                if let genTime = tokens[chainIndex][stampIndex]?.genTime, genTime >= sunset {
                    verdict = verdict.worse(Verdict(.indeterminate, .cryptoConstraintsFailure,
                        "chain \(chainIndex + 1), time-stamp \(stampIndex + 1): made with \(hash.rawValue) after its sunset on \(ISOTime.format(sunset))"))
                }
            }
            let renewal = chainIndex + 1 < tokens.count ? tokens[chainIndex + 1].first??.genTime : nil
            let until = renewal ?? at
            if sunset <= until {
                verdict = verdict.worse(Verdict(.indeterminate, .cryptoConstraintsFailure,
                    "chain \(chainIndex + 1): \(hash.rawValue) reached its sunset on \(ISOTime.format(sunset)) before "
                    + (renewal == nil ? "the validation time, with no hash-tree renewal after it" : "the next hash-tree renewal at \(ISOTime.format(until))")))
            }
        }
        // A time-stamp made after the validation time proves nothing at that time.
        for (position, (chain, stamp)) in flat.enumerated() {
            if let genTime = validations[position]?.genTime, genTime > at {
                verdict = verdict.worse(Verdict(.indeterminate, .notYetValid,
                    "chain \(chain + 1), time-stamp \(stamp + 1): made at \(ISOTime.format(genTime)), after the validation time"))
            }
        }
        // Coverage findings come first: at the same indication they are the ones reported.
        verdict = verdict.worse(tokenVerdict)
        // The record must be renewed before its newest token's TSA chain expires or its last chain's
        // hash algorithm reaches its sunset, whichever comes first.
        var renewBefore: Date?
        if let lastChain = record.archiveTimeStampSequence.indices.last, let identifier = algorithm(lastChain, 0),
           let hash = HashAlgorithm(openSSLName: identifier.oid) {
            renewBefore = AlgorithmSunsets.protectedUntil(tsaCertificates: Array(validations.last??.tsaChain.dropLast() ?? []), algorithm: hash)
        }
        return Evaluation(verdict: verdict, stamps: stamps, firstGenTime: validations.first??.genTime,
                          tsa: validations.first??.tsaSubject, renewBefore: renewBefore, validations: validations)
    }

    /// The dotted OID of a hash algorithm.
    /// A stamp's hash algorithm: its digestAlgorithm, else its token's imprint algorithm.
    static func algorithm(_ record: EvidenceRecord, tokens: [[TimeStampToken?]], _ chain: Int, _ stamp: Int) -> DigestAlgorithmIdentifier? {
        let archiveTimeStamp = record.archiveTimeStampSequence[chain].archiveTimeStamps[stamp]
        if let given = archiveTimeStamp.digestAlgorithm { return given }
        guard let name = tokens[chain][stamp]?.imprintAlgorithm.map(Self.oid),
              let oid = try? ASN1ObjectIdentifier(dotRepresentation: name) else { return nil }
        return DigestAlgorithmIdentifier(algorithm: oid)
    }

    /// Whether each archive time-stamp covers what it must (RFC 4998 §5.3), bytes only: the tokens'
    /// imprints against the hash trees and `dataHashes`; nothing about the tokens' signatures or trust.
    static func coverage(_ record: EvidenceRecord, tokens given: [[TimeStampToken?]]? = nil,
                         dataHashes: (DigestAlgorithmIdentifier) throws -> [[UInt8]]?) throws -> [[RecordCoverage.Outcome]] {
        var readError: Error?
        let tokens = given ?? record.archiveTimeStampSequence.map { chain in
            chain.archiveTimeStamps.map { try? TimeStampToken(responseOrToken: $0.timeStamp) }
        }
        let coverage = RecordCoverage.check(
            record,
            facts: { chain, stamp in
                guard let token = tokens[chain][stamp], let algorithm = algorithm(record, tokens: tokens, chain, stamp) else { return nil }
                return RecordCoverage.StampFacts(algorithm: algorithm, imprint: token.imprint)
            },
            dataHashes: { identifier in
                do { return try dataHashes(identifier) } catch {
                    readError = readError ?? error
                    return nil
                }
            },
            hash: { identifier, bytes in HashAlgorithm(openSSLName: identifier.oid).map { Hasher.digest(bytes, $0) } })
        if let readError { throw (readError as? SigVaultError) ?? SigVaultError(.archiveRead, "\(readError)") }
        return coverage
    }

    static func oid(_ algorithm: HashAlgorithm) -> String {
        switch algorithm {
        case .sha1: return "1.3.14.3.2.26"
        case .sha224: return "2.16.840.1.101.3.4.2.4"
        case .sha256: return "2.16.840.1.101.3.4.2.1"
        case .sha384: return "2.16.840.1.101.3.4.2.2"
        case .sha512: return "2.16.840.1.101.3.4.2.3"
        }
    }

    /// A hash algorithm's name for people, from its OID.
    static func name(_ oid: String) -> String { HashAlgorithm(openSSLName: oid)?.rawValue ?? oid }
}

extension RecordVerifyReport {
    public var jsonText: String { JSONOutput.encode(self) }

    /// The human report, one line each (print them through `TextSafety.line`).
    public var textLines: [String] {
        var lines: [String] = []
        lines.append("record       \(record)")
        lines.append("verified as of \(validationTime)")
        for object in dataObjects {
            lines.append("data         \(object.name) (" + object.digests.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        }
        for stamp in archiveTimeStamps {
            var line = "chain \(stamp.chain), time-stamp \(stamp.timeStamp): \(stamp.genTime ?? "no time"), \(stamp.hashAlgorithm), \(stamp.coverage)"
            if !stamp.forms.isEmpty { line += " (\(stamp.forms.joined(separator: "; ")))" }
            lines.append(line)
            lines.append("    token: \(stamp.tokenValid ? "valid" : "no proof") until \(stamp.validUntil) — \(stamp.reason)")
        }
        let verdict = [indication, subIndication].compactMap { $0 }.joined(separator: "/")
        lines.append("")
        lines.append("\(verdict)  \(reason)")
        if let proofOfExistence { lines.append("the data existed at \(proofOfExistence)") }
        return lines
    }
}

extension RecordVerifier {
    /// A DER parse error for people: swift-asn1's kind and reason, without its source location.
    static func parseProblem(_ error: Error) -> String {
        guard let error = error as? ASN1Error else { return "\(error)" }
        var text = String(describing: error)
        if text.hasPrefix("ASN1Error.") { text.removeFirst("ASN1Error.".count) }
        // "<code>: <reason> <file>:<line>": the location goes.
        if let space = text.lastIndex(of: " "), text[space...].contains(".swift:") { text = String(text[..<space]) }
        text = text.trimmingCharacters(in: .whitespaces)
        if text.hasSuffix(":") { text.removeLast() }
        return text
    }
}
