import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// The export's report (docs/LEGAL-EXPORT.md): one model, written as report.json and rendered as
/// report.txt and report.html. It depends only on the archive, the material given, the trust
/// anchors, `--at` and `--tz`: no clock, no host name, no absolute path.
public struct ExportReport: Codable, Sendable {
    /// An instant in UTC and in the report's zone, both ISO 8601.
    public struct Moment: Codable, Sendable, Equatable {
        public var utc: String
        public var local: String
    }
    public struct FileReference: Codable, Sendable {
        public var file: String
        public var sha256: String
        public var size: Int64
    }
    public struct CertificateInfo: Codable, Sendable {
        public var subject: String
        public var issuer: String
        public var serial: String
        public var sha256: String
        public var validFrom: Moment
        public var validTo: Moment
        /// The bundle file (PEM; the DER beside it), or the anchor's file.
        @NullEncoded public var file: String?
        public var trustAnchor: Bool
    }
    public struct Status: Codable, Sendable {
        public var certificate: String
        public var certificateFile: String?
        public var at: Moment
        /// `notRevoked`, `revoked`, `onHold` or `unknown`.
        public var status: String
        @NullEncoded public var since: Moment?
        /// The CRL or OCSP response that decided it (for `unknown`: the newest that speaks of it).
        @NullEncoded public var decidedBy: String?
        @NullEncoded public var kind: String?
        @NullEncoded public var issued: Moment?
        @NullEncoded public var nextUpdate: Moment?
        @NullEncoded public var issuer: String?
        /// Every bundle file that speaks about the certificate.
        public var data: [String]
    }
    public struct TimeStamp: Codable, Sendable {
        /// The token's file in the bundle.
        public var file: String
        /// `signature-value`, `signature-file`, `document` or `hash-tree-root`.
        public var covers: String
        public var genTime: Moment
        @NullEncoded public var tsa: String?
        public var tsaChain: [CertificateInfo]
        public var valid: Bool
        @NullEncoded public var subIndication: String?
        public var reason: String
        public var revocation: [Status]
    }
    public struct Signer: Codable, Sendable {
        public var signatureFile: String
        /// 1-based, in the SignerInfos' DER order.
        public var signerInfo: Int
        @NullEncoded public var certificate: CertificateInfo?
        @NullEncoded public var claimedSigningTime: Moment?
        @NullEncoded public var bestSignatureTime: Moment?
        @NullEncoded public var digestAlgorithm: String?
        public var indication: String
        @NullEncoded public var subIndication: String?
        public var reason: String
        /// Leaf first; the anchor last when the chain reaches one.
        public var chain: [CertificateInfo]
        public var revocation: [Status]
        public var timeStamps: [TimeStamp]
    }
    public struct ArchiveInfo: Codable, Sendable {
        /// The archive's file name (no folder: the report does not depend on where it was).
        public var name: String
        @NullEncoded public var fingerprint: String?
        @NullEncoded public var formatVersion: Int?
        public var integrityOK: Bool
        public var problems: [String]
    }
    public struct DocumentInfo: Codable, Sendable {
        /// The name in the archive.
        public var name: String
        public var file: String
        public var sha256: String
        public var size: Int64
        /// TOTAL_PASSED, TOTAL_FAILED, INDETERMINATE, or UNSIGNED.
        public var indication: String
        @NullEncoded public var subIndication: String?
        public var reason: String
        @NullEncoded public var proofOfExistence: Moment?
        public var notes: [String]
    }
    public struct EvidenceRecordInfo: Codable, Sendable {
        public var file: String
        /// The files its data group covers, in group order.
        public var covers: [FileReference]
        public var archiveTimeStamps: [TimeStamp]
        /// The archive time-stamp's verdict for the archive.
        public var indication: String
        @NullEncoded public var subIndication: String?
        public var reason: String
    }
    public struct Statement: Codable, Sendable {
        @NullEncoded public var time: Moment?
        public var text: String
        /// The bundle files that prove it.
        public var files: [String]
        /// The ETSI EN 319 102-1 indication it corresponds to.
        public var indication: String
    }

    public var schemaVersion = 1
    public var generator: String
    public var policy: String
    public var timeZone: String
    public var validationTime: Moment
    public var archive: ArchiveInfo
    public var document: DocumentInfo
    public var trustAnchors: [CertificateInfo]
    public var trustStatement: String
    public var signers: [Signer]
    public var documentTimeStamps: [TimeStamp]
    @NullEncoded public var evidenceRecord: EvidenceRecordInfo?
    public var timeline: [Statement]
    public var conclusion: String
    /// Every file of the bundle but the reports and VERIFY.sh, with its SHA-256.
    public var files: [FileReference]
    public var warnings: [String]
}

/// What VERIFY.sh checks, taken from the same run as the report (the script recomputes every
/// verdict itself; these are only the names of the files and what each must prove).
struct ScriptPlan {
    struct Token { let file: String; let covers: String }
    struct Signature {
        let file: String
        /// The detached content, nil for an enveloping signature.
        let content: String?
        let signerInfo: Int
        let signerCertificate: String?
        /// Below the anchor, leaf first.
        let chain: [String]
        let tokens: [Token]
    }
    var validationTime: Date
    var maximumRevocationAge: TimeInterval?
    var document: String
    var documentSHA256: String
    var signatures: [Signature] = []
    var documentTokens: [Token] = []
    var evidenceRecord: String?
    var covered: [String] = []
    var indication: String
    var subIndication: String?
}

/// Where the report says a piece of evidence is: a file of the export bundle, or a member of the
/// archive (`verify --report`).
protocol ReportFiles: AnyObject {
    func dataPath(_ name: ArchivePath) -> String
    func hasData(_ name: ArchivePath) -> Bool
    func certificatePath(_ certificate: Certificate) -> String?
    func revocationPath(_ item: RevocationEvidence) -> String?
    func tokenPath(_ der: [UInt8]) -> String?
}

extension BundleWriter: ReportFiles {}

/// The report's model made from validations: what `export` and `verify --report` share.
struct ReportParts {
    let timeZone: TimeZone
    /// The anchors that ended a chain of the proof.
    let anchors: [Certificate]
    let files: any ReportFiles
    /// One formatter for the report (made once: a report names thousands of times).
    private let formatter: DateFormatter

    init(timeZone: TimeZone, anchors: [Certificate], files: any ReportFiles) {
        self.timeZone = timeZone
        self.anchors = anchors
        self.files = files
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ssxxx"
    }

    func moment(_ date: Date) -> ExportReport.Moment {
        ExportReport.Moment(utc: ISOTime.format(date), local: formatter.string(from: date))
    }

    func certificateInfo(_ certificate: Certificate) -> ExportReport.CertificateInfo {
        .init(subject: certificate.subject, issuer: certificate.issuer, serial: certificate.serialHex, sha256: certificate.sha256Hex,
              validFrom: moment(certificate.notBefore), validTo: moment(certificate.notAfter),
              file: files.certificatePath(certificate), trustAnchor: anchors.contains(certificate))
    }

    func status(_ status: CertificateStatus) -> ExportReport.Status {
        var out = ExportReport.Status(certificate: status.certificate.subject, certificateFile: files.certificatePath(status.certificate),
                                      at: moment(status.time), status: "unknown",
                                      data: status.status.evidence.compactMap(files.revocationPath))
        switch status.status.state {
        case .notRevoked: out.status = "notRevoked"
        case .revoked(let date): out.status = "revoked"; out.since = moment(date)
        case .onHold(let date): out.status = "onHold"; out.since = moment(date)
        case .unknown: out.status = "unknown"
        }
        if let item = status.status.decidedBy {
            out.decidedBy = files.revocationPath(item)
            switch item {
            case .crl(let crl):
                out.kind = "CRL"; out.issuer = crl.issuer; out.issued = moment(crl.thisUpdate); out.nextUpdate = crl.nextUpdate.map(moment)
            case .ocsp(let response):
                out.kind = "OCSP response"; out.issued = moment(response.producedAt)
                out.issuer = response.signerCertificate(among: response.certificates)?.subject
            }
        }
        return out
    }

    func tokenFile(_ validation: TimeStampValidation) -> String {
        if let origin = validation.origin, validation.covered != .hashTreeRoot, let path = ArchivePath.unescaped(origin), files.hasData(path) {
            return files.dataPath(path)
        }
        return files.tokenPath(validation.token.der) ?? "?"
    }

    func timeStamp(_ validation: TimeStampValidation) -> ExportReport.TimeStamp {
        .init(file: tokenFile(validation), covers: validation.covered.rawValue, genTime: moment(validation.genTime), tsa: validation.tsaSubject,
              tsaChain: validation.tsaChain.map(certificateInfo), valid: validation.valid, subIndication: validation.failure?.rawValue,
              reason: validation.reason, revocation: validation.statuses.map(status))
    }

    /// One document's part of the report: what it is, its signers and document time-stamps, and
    /// for VERIFY.sh what each signature's check needs.
    struct Document {
        var info: ExportReport.DocumentInfo
        var signers: [ExportReport.Signer] = []
        var documentTimeStamps: [ExportReport.TimeStamp] = []
        var plan: [ScriptPlan.Signature] = []
    }

    /// `archiveProof`: the time a valid archive time-stamp proves (the document's proof of
    /// existence unless it has an earlier one of its own).
    func document(_ name: ArchivePath, sha256: String, size: Int64, result: DocumentResult?, integrityOK: Bool, archiveProof: Date?) -> Document {
        let documentFile = files.dataPath(name)
        let verdict = result?.verdict
        var notes = result?.group.notes ?? []
        if !integrityOK { notes.append("the archive has integrity problems: see archive.problems") }
        let proof = [result?.proofOfExistence, archiveProof].compactMap { $0 }.min()
        var out = Document(info: ExportReport.DocumentInfo(
            name: ArchivePath.escaped(name.bytes), file: documentFile, sha256: sha256, size: size,
            indication: verdict?.indication.rawValue ?? "UNSIGNED", subIndication: verdict?.subIndication?.rawValue,
            reason: verdict?.reason ?? "the document carries no signature; what is proven is only when it existed",
            proofOfExistence: proof.map(moment), notes: notes))
        for outcome in result?.signatures ?? [] {
            let validation = outcome.validation
            let signatureFile = files.dataPath(outcome.file)
            let chain = validation?.chain ?? []
            out.signers.append(ExportReport.Signer(
                signatureFile: signatureFile, signerInfo: outcome.signerIndex + 1,
                certificate: validation?.signerCertificate.map(certificateInfo),
                claimedSigningTime: validation?.claimedSigningTime.map(moment), bestSignatureTime: validation?.bestSignatureTime.map(moment),
                digestAlgorithm: validation?.digestAlgorithm, indication: outcome.verdict.indication.rawValue,
                subIndication: outcome.verdict.subIndication?.rawValue, reason: outcome.verdict.reason,
                chain: chain.map(certificateInfo), revocation: validation?.statuses.map(status) ?? [],
                timeStamps: validation?.timeStamps.map(timeStamp) ?? []))
            out.plan.append(ScriptPlan.Signature(
                file: signatureFile, content: result?.group.kind == .detached ? documentFile : nil, signerInfo: outcome.signerIndex + 1,
                signerCertificate: validation?.signerCertificate.flatMap(files.certificatePath),
                chain: chain.filter { !anchors.contains($0) }.compactMap(files.certificatePath),
                tokens: validation?.timeStamps.map { ScriptPlan.Token(file: tokenFile($0), covers: $0.covered.rawValue) } ?? []))
        }
        out.documentTimeStamps = result?.documentTimeStamps.map(timeStamp) ?? []
        return out
    }

    static let policy = "SigVault validation policy (docs/CONFORMANCE.md): ETSI EN 319 102-1 with past signature validation; RFC 5652, RFC 5280, RFC 6960, RFC 3161, RFC 4998"
    static var generator: String { "sigvault \(SigVaultVersion.current)" }
}

extension ExportReport {
    struct Builder {
        let options: ExportOptions
        let report: VerifyReport
        let kept: KeptDocument
        let document: ArchivePath
        let documentLine: ManifestMember
        let material: ExportMaterial
        let evidenceRecord: ExportMaterial.Record?
        let bundle: BundleWriter

        func build() -> (report: ExportReport, plan: ScriptPlan) {
            let parts = ReportParts(timeZone: options.timeZone, anchors: material.anchors, files: bundle)
            let written = Dictionary(bundle.files.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
            let section = parts.document(document, sha256: documentLine.sha256, size: documentLine.size, result: kept.result,
                                         integrityOK: report.integrity.ok, archiveProof: report.archiveProofOfExistence)
            var evidence: EvidenceRecordInfo?
            if let record = evidenceRecord {
                let stamps = kept.archiveTimeStamp?.validations.compactMap { $0.map(parts.timeStamp) } ?? []
                let atsVerdict = kept.archiveTimeStamp?.verdict
                evidence = EvidenceRecordInfo(
                    file: record.file, covers: record.covered.map { FileReference(file: $0, sha256: written[$0]?.sha256 ?? "", size: written[$0]?.size ?? 0) },
                    archiveTimeStamps: stamps, indication: atsVerdict?.indication.rawValue ?? "INDETERMINATE",
                    subIndication: atsVerdict?.subIndication?.rawValue, reason: atsVerdict?.reason ?? "not evaluated")
            }
            let anchors = material.anchors.map(parts.certificateInfo)
            let trustStatement: String
            if anchors.isEmpty {
                trustStatement = "No chain of this proof reached a trust anchor: nothing here is vouched for by a party you trust."
            } else {
                trustStatement = "The proof rests on the trust anchor(s) listed with their SHA-256 fingerprints. The bundle carries copies under anchors/, "
                    + "but a bundle that carries its own root proves nothing by itself: check each fingerprint out of band (from the CA's published "
                    + "fingerprint or your own copy) and run VERIFY.sh with your own copy of the anchor."
            }
            var report = ExportReport(
                generator: ReportParts.generator, policy: ReportParts.policy,
                timeZone: options.timeZone.identifier, validationTime: parts.moment(options.verify.at),
                archive: ArchiveInfo(self.report, name: String(decoding: LocalPath(options.verify.archive).lastComponent, as: UTF8.self)),
                document: section.info, trustAnchors: anchors, trustStatement: trustStatement, signers: section.signers,
                documentTimeStamps: section.documentTimeStamps, evidenceRecord: evidence, timeline: [], conclusion: "",
                files: bundle.files.map { FileReference(file: $0.path, sha256: $0.sha256, size: $0.size) }.sorted { $0.file < $1.file },
                warnings: self.report.warnings)
            let input = Timeline.Input(scope: .bundle, document: report.document, signers: report.signers, documentTimeStamps: report.documentTimeStamps,
                                       evidenceRecord: report.evidenceRecord, archive: report.archive, validationTime: report.validationTime)
            report.timeline = Timeline.statements(input)
            report.conclusion = Timeline.conclusion(input)
            let plan = ScriptPlan(
                validationTime: options.verify.at, maximumRevocationAge: options.verify.maximumRevocationAge, document: section.info.file,
                documentSHA256: documentLine.sha256, signatures: section.plan,
                documentTokens: section.documentTimeStamps.map { ScriptPlan.Token(file: $0.file, covers: $0.covers) },
                evidenceRecord: evidence?.file, covered: evidence?.covers.map(\.file) ?? [],
                indication: section.info.indication, subIndication: section.info.subIndication)
            return (report, plan)
        }
    }
}

extension ExportReport.ArchiveInfo {
    init(_ report: VerifyReport, name: String) {
        self.init(name: name, fingerprint: report.fingerprint, formatVersion: report.formatVersion, integrityOK: report.integrity.ok,
                  problems: report.integrity.problems.map { ($0.member.map { "\($0): " } ?? "") + $0.message })
    }
}

/// The report's statements in plain words, each naming the files that prove it.
enum Timeline {
    /// What the statements are made from: one document's part of an export or of an archive report.
    struct Input {
        enum Scope { case bundle, archive }
        var scope: Scope
        var document: ExportReport.DocumentInfo
        var signers: [ExportReport.Signer]
        var documentTimeStamps: [ExportReport.TimeStamp]
        var evidenceRecord: ExportReport.EvidenceRecordInfo?
        var archive: ExportReport.ArchiveInfo
        var validationTime: ExportReport.Moment
    }

    static func when(_ moment: ExportReport.Moment) -> String {
        let utc = moment.utc.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
        return moment.local.hasSuffix("+00:00") ? utc : "\(utc) (\(moment.local.replacingOccurrences(of: "T", with: " ")))"
    }

    static func statusText(_ status: ExportReport.Status) -> String {
        var text: String
        switch status.status {
        case "notRevoked": text = "not revoked on \(when(status.at))"
        case "revoked": text = "REVOKED since \(status.since.map(when) ?? "?"), at or before \(when(status.at))"
        case "onHold": text = "on hold since \(status.since.map(when) ?? "?")"
        default: text = "not shown unrevoked on \(when(status.at)): no revocation data fresh then"
        }
        if let file = status.decidedBy, let kind = status.kind {
            text += " (\(kind) \(file)"
            if let issued = status.issued { text += " issued \(when(issued))" }
            if let issuer = status.issuer { text += " by \(issuer)" }
            text += ")"
        }
        return text
    }

    static func indicationText(_ indication: String, _ sub: String?) -> String { sub.map { "\(indication)/\($0)" } ?? indication }

    static func stampText(_ stamp: ExportReport.TimeStamp) -> String {
        var text = "the time-stamp \(stamp.file) of \(when(stamp.genTime)) by \(stamp.tsa ?? "an unknown TSA")"
        if stamp.valid {
            let shown = stamp.revocation.filter { $0.status == "notRevoked" }.map { "\($0.certificate): \(statusText($0))" }
            text += ", whose certificate was valid then" + (shown.isEmpty ? "" : " and shown unrevoked (\(shown.joined(separator: "; ")))")
        } else {
            text += ", which proves nothing: \(stamp.reason)"
        }
        return text
    }

    static func statements(_ report: Input) -> [ExportReport.Statement] {
        var out: [ExportReport.Statement] = []
        let document = report.document
        func add(_ time: ExportReport.Moment?, _ text: String, _ files: [String], _ indication: String) {
            var seen = Set<String>()
            out.append(.init(time: time, text: text, files: files.filter { !$0.isEmpty && seen.insert($0).inserted }, indication: indication))
        }
        // When the document existed, and what proves it.
        if let proof = document.proofOfExistence {
            let usable = report.signers.flatMap(\.timeStamps).filter { $0.valid && $0.genTime == proof }
                + report.documentTimeStamps.filter { $0.valid && $0.genTime == proof }
                + (report.evidenceRecord?.archiveTimeStamps.prefix(1).filter { $0.valid && $0.genTime == proof } ?? [])
            if let stamp = usable.first {
                add(proof, "The document \(document.file) with SHA-256 \(document.sha256) existed on \(when(proof)): proved by \(stampText(stamp)).",
                    [document.file, stamp.file] + stamp.revocation.compactMap(\.decidedBy) + stamp.tsaChain.compactMap(\.file), "TOTAL_PASSED")
            } else {
                add(proof, "The document \(document.file) with SHA-256 \(document.sha256) existed on \(when(proof)).", [document.file], "TOTAL_PASSED")
            }
        } else {
            add(nil, "Nothing in the \(report.scope == .bundle ? "bundle" : "archive") proves when the document \(document.file) (SHA-256 \(document.sha256)) existed.", [document.file], "INDETERMINATE")
        }
        for signer in report.signers {
            let verdict = indicationText(signer.indication, signer.subIndication)
            guard let certificate = signer.certificate else {
                add(nil, "Signature \(signer.signatureFile) (SignerInfo \(signer.signerInfo)) cannot be checked: \(signer.reason).", [signer.signatureFile], verdict)
                continue
            }
            var text = "It was signed (\(signer.signatureFile), SignerInfo \(signer.signerInfo)) by \(certificate.subject), certificate serial \(certificate.serial), "
                + "SHA-256 fingerprint \(certificate.sha256), valid from \(when(certificate.validFrom)) to \(when(certificate.validTo))"
            if let claimed = signer.claimedSigningTime { text += "; the signer claims to have signed on \(when(claimed)) (a claim, not a proof)" }
            text += "."
            let signed = signer.subIndication != "HASH_FAILURE" && signer.subIndication != "SIG_CRYPTO_FAILURE" && signer.subIndication != "FORMAT_FAILURE"
            text += signed ? " The signature is cryptographically intact over the document's SHA-256."
                : " The signature does NOT match the document: \(signer.reason)."
            if let best = signer.bestSignatureTime {
                text += " Its best proven time is \(when(best))."
                for status in signer.revocation {
                    text += " At that time \(status.certificate) was \(statusText(status))."
                }
            }
            let anchor = signer.chain.last.flatMap { $0.trustAnchor ? $0 : nil }
            text += anchor.map { " The certificate chain leads to the trust anchor \($0.subject) (SHA-256 \($0.sha256))." }
                ?? " The certificate chain does not reach a trust anchor."
            if signer.indication != "TOTAL_PASSED" { text += " Result: \(signer.reason)." }
            add(signer.bestSignatureTime, text,
                [signer.signatureFile, certificate.file ?? ""] + signer.chain.compactMap(\.file) + signer.revocation.compactMap(\.decidedBy)
                    + signer.timeStamps.map(\.file), verdict)
            for stamp in signer.timeStamps where stamp.genTime != document.proofOfExistence || !stamp.valid {
                add(stamp.genTime, "Signature time-stamp: \(stampText(stamp)).", [stamp.file] + stamp.revocation.compactMap(\.decidedBy),
                    stamp.valid ? "TOTAL_PASSED" : indicationText("INDETERMINATE", stamp.subIndication))
            }
        }
        for stamp in report.documentTimeStamps where stamp.genTime != document.proofOfExistence || !stamp.valid {
            add(stamp.genTime, "Document time-stamp: \(stampText(stamp)).", [stamp.file] + stamp.revocation.compactMap(\.decidedBy),
                stamp.valid ? "TOTAL_PASSED" : indicationText("INDETERMINATE", stamp.subIndication))
        }
        if let record = report.evidenceRecord {
            for (position, stamp) in record.archiveTimeStamps.enumerated() {
                let first = report.scope == .bundle
                    ? "The evidence record \(record.file) covers \(record.covers.count) file(s) of this bundle (the document's data group)"
                    : "The archive's evidence (\(record.file)) covers the document's data group of \(record.covers.count) member(s)"
                let what = position == 0
                    ? "\(first); its archive time-stamp is \(stampText(stamp))."
                    : "The evidence was renewed on \(when(stamp.genTime)): \(stampText(stamp))."
                add(stamp.genTime, what, [record.file, stamp.file] + (position == 0 ? record.covers.map(\.file) : []) + stamp.revocation.compactMap(\.decidedBy),
                    stamp.valid ? "TOTAL_PASSED" : indicationText("INDETERMINATE", stamp.subIndication))
            }
        }
        if report.scope == .bundle && !report.archive.integrityOK {
            add(nil, "The archive \(report.archive.name) is damaged: \(report.archive.problems.joined(separator: "; ")).", [], "TOTAL_FAILED")
        }
        add(report.validationTime, conclusion(report), report.scope == .bundle ? ["VERIFY.sh"] : [], indicationText(document.indication, document.subIndication))
        return out
    }

    static func conclusion(_ report: Input) -> String {
        let document = report.document
        let time = when(report.validationTime)
        switch document.indication {
        case "TOTAL_PASSED": return "On \(time) all of this checks out: TOTAL_PASSED."
        case "UNSIGNED": return "On \(time): the document is unsigned; only its existence is proven, as stated above."
        default:
            return "On \(time) this does not check out: \(indicationText(document.indication, document.subIndication)): \(document.reason)."
        }
    }
}
