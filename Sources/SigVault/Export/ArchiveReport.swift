import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation
#if canImport(Glibc)
import Glibc
#endif

/// `verify --report`: the export's report (the same model, statements and renderings) for every
/// document of an archive, naming archive members where the export names bundle files
/// (docs/CLI.md, "verify --report"). Written document by document into a temporary file, fsynced,
/// renamed into place.
public enum ArchiveReport {
    /// How a report's form follows from its file name.
    public enum Form: String, Sendable {
        case html, txt, json

        public static func of(_ path: String) -> Form? {
            switch (path as NSString).pathExtension.lowercased() {
            case "html", "htm": .html
            case "txt", "text": .txt
            case "json": .json
            default: nil
            }
        }
    }

    /// The parts of the report that are not about one document.
    public struct Header: Codable, Sendable {
        public struct Evidence: Codable, Sendable {
            /// The archive's evidence section, or the repository's renewed evidence object judged instead.
            public var file: String
            public var indication: String
            @NullEncoded public var subIndication: String?
            public var reason: String
            @NullEncoded public var renewBefore: ExportReport.Moment?
            public var archiveTimeStamps: [ExportReport.TimeStamp]
        }
        public var schemaVersion = 1
        public var kind = "archive"
        public var generator: String
        public var policy: String
        public var timeZone: String
        public var validationTime: ExportReport.Moment
        public var archive: ExportReport.ArchiveInfo
        public var summary: VerifyReport.Summary
        public var exitCode: Int32
        /// Where the anchors came from (`verify`'s trust line).
        public var trust: String
        /// The anchors that ended a chain of some proof, in order of first use.
        public var trustAnchors: [ExportReport.CertificateInfo]
        public var trustStatement: String
        @NullEncoded public var evidence: Evidence?
        public var warnings: [String]
        public var conclusion: String
    }

    /// One document's part: as in export's report.json, with archive members for files.
    public struct Section: Codable, Sendable {
        public struct DataGroup: Codable, Sendable {
            /// Where the group's hash tree is (the evidence section or the renewed object).
            public var file: String
            /// The group's members, in group order.
            public var covers: [ExportReport.FileReference]
        }
        public var document: ExportReport.DocumentInfo
        public var signers: [ExportReport.Signer]
        public var documentTimeStamps: [ExportReport.TimeStamp]
        @NullEncoded public var dataGroup: DataGroup?
        public var timeline: [ExportReport.Statement]
        public var conclusion: String
    }

    /// Checks every path before the (possibly long) verification: a known form, a folder that
    /// exists, not the archive itself, no path given twice.
    public static func checkPaths(_ paths: [String], archive: String) throws {
        var seen = Set<String>()
        var archiveInfo = stat()
        let archiveKnown = stat(archive, &archiveInfo) == 0
        for path in paths {
            guard Form.of(path) != nil else {
                throw SigVaultError(.usage, "--report \(path): the name must end in .html, .txt or .json (the form follows from it)")
            }
            guard seen.insert(path).inserted else { throw SigVaultError(.usage, "--report \(path): given twice") }
            var info = stat()
            if archiveKnown, stat(path, &info) == 0, info.st_dev == archiveInfo.st_dev, info.st_ino == archiveInfo.st_ino {
                throw SigVaultError(.usage, "--report \(path): is the archive itself")
            }
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                throw SigVaultError(.outputCreate, "--report \(path): is a folder; name a file")
            }
            let parent = LocalPath(path).parent.string
            guard stat(parent, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                throw SigVaultError(.outputCreate, "--report \(path): the folder \(parent) does not exist")
            }
        }
    }

    /// Verifies as `verify` does, then writes each report of `paths`: the returned report is the
    /// run's, for the usual output and exit code.
    public static func verify(_ options: VerifyOptions, reports paths: [String], timeZone: TimeZone, logger: Logger) throws -> VerifyReport {
        try checkPaths(paths, archive: options.archive)
        var options = options
        options.keepsAllResults = true
        let report = try Verifier(options: options, logger: logger).run()
        guard let kept = report.kept else { throw SigVaultError(.internalInvariant, "\(options.archive): verify kept no result") }
        let model = try Model(report: report, kept: kept, options: options, timeZone: timeZone)
        for path in paths {
            try model.write(to: path, form: Form.of(path)!)
            logger.info("report written", metadata: ["report": "\(path)"])
        }
        return report
    }

    /// The whole report, made section by section as it is written.
    final class Model {
        let report: VerifyReport
        let kept: KeptDocument
        let reader: ArchiveReader?
        /// The evidence section judged (nil for version 1 or when unusable).
        let evidence: ArchiveEvidence?
        let listedPosition: [Digest32: Int]
        let groupOfDocument: [Digest32: Int]
        let files: ArchiveFiles
        let parts: ReportParts
        let header: Header
        let evidenceStamps: [ExportReport.TimeStamp]

        init(report: VerifyReport, kept: KeptDocument, options: VerifyOptions, timeZone: TimeZone) throws {
            self.report = report
            self.kept = kept
            let reader = try? ArchiveReader(path: options.archive)
            if let reader, let locator = options.repository { reader.resolver = ReferenceResolver(locator: locator) }
            self.reader = reader
            let evidenceSection = reader.flatMap { $0.layoutProblem == nil ? (try? $0.evidence()) ?? nil : nil }
            // The manifest's members by name (the report looks each document and material item
            // up once; no scan of the index per lookup).
            var position: [Digest32: Int] = [:]
            for (index, member) in kept.listed.enumerated() { position[Digest32(OpenSSLBridge.Hasher.digest(member.path.bytes))] = index }
            listedPosition = position
            // Each data group by its document (its first member), and its members as listed.
            var groupOf: [Digest32: Int] = [:]
            if let reader, let evidenceSection {
                let count = UInt64(reader.members.count)
                for (number, group) in evidenceSection.groups.enumerated() where group.members.allSatisfy({ $0 < count }) {
                    if let first = group.members.first { groupOf[Digest32(reader.members[Int(first)].pathSHA256)] = number }
                }
            }
            groupOfDocument = groupOf
            evidence = evidenceSection
            let archiveName = String(decoding: LocalPath(options.archive).lastComponent, as: UTF8.self)
            let evidenceName = report.renewedEvidence.map { "\($0) (renewed evidence)" } ?? "\(archiveName), evidence section"
            files = ArchiveFiles(listed: kept.listed, position: position, evidenceName: evidenceName, material: evidenceSection?.material ?? [],
                                 given: Self.given(options))
            for (number, validation) in (kept.archiveTimeStamp?.validations ?? []).enumerated() {
                if let validation { files.name(token: validation.token.der, "\(evidenceName), archive time-stamp \(number + 1)") }
            }
            parts = ReportParts(timeZone: timeZone, anchors: Self.anchors(kept), files: files)
            let parts = parts
            let stamps = kept.archiveTimeStamp?.validations.compactMap { $0.map(parts.timeStamp) } ?? []
            evidenceStamps = stamps
            let judged = kept.archiveTimeStamp.map {
                Header.Evidence(file: evidenceName, indication: $0.verdict.indication.rawValue, subIndication: $0.verdict.subIndication?.rawValue,
                                reason: $0.verdict.reason, renewBefore: $0.renewBefore.map(parts.moment), archiveTimeStamps: stamps)
            }
            let anchors = parts.anchors.map(parts.certificateInfo)
            let trust = report.trust?.text ?? "none"
            let trustStatement = anchors.isEmpty
                ? "No chain of any proof in this archive reached a trust anchor: nothing here is vouched for by a party you trust."
                : "The proofs rest on the trust anchor(s) listed with their SHA-256 fingerprints, taken from \(trust). "
                    + "Check each fingerprint out of band (from the CA's published fingerprint or your own copy): this report is only as good as the anchors it was given."
            var header = Header(
                generator: ReportParts.generator, policy: ReportParts.policy, timeZone: timeZone.identifier,
                validationTime: parts.moment(options.at), archive: ExportReport.ArchiveInfo(report, name: archiveName),
                summary: report.summary, exitCode: report.exitCode, trust: trust, trustAnchors: anchors, trustStatement: trustStatement,
                evidence: judged, warnings: report.warnings, conclusion: "")
            header.conclusion = Self.conclusion(header)
            self.header = header
        }

        /// `--certs`, `--crls` and `--ocsp` items by SHA-256: "given <file name>".
        static func given(_ options: VerifyOptions) -> [String: String] {
            var names: [String: String] = [:]
            for (paths, kind) in [(options.certificates, 0), (options.revocationLists, 1), (options.ocspResponses, 2)] {
                for path in paths {
                    guard let loaded = try? MaterialLoader.loadMaterial(
                        certificates: kind == 0 ? [path] : [], revocationLists: kind == 1 ? [path] : [], ocspResponses: kind == 2 ? [path] : [],
                        into: EvidencePool(), external: true) else { continue }
                    let name = "given " + String(decoding: LocalPath(path).lastComponent, as: UTF8.self)
                    for certificate in loaded.certificates where names[certificate.sha256Hex] == nil { names[certificate.sha256Hex] = name }
                    for item in loaded.revocation where names[item.sha256Hex] == nil { names[item.sha256Hex] = name }
                }
            }
            return names
        }

        /// The anchors that end a chain of some proof, in order of first use.
        static func anchors(_ kept: KeptDocument) -> [Certificate] {
            guard case .certificates(let list) = kept.anchors else { return [] }
            let digests = Set(list.map(\.sha256Hex))
            var out: [Certificate] = []
            func chain(_ certificates: [Certificate]) {
                for certificate in certificates where digests.contains(certificate.sha256Hex) && !out.contains(certificate) { out.append(certificate) }
            }
            for case let validation? in kept.archiveTimeStamp?.validations ?? [] { chain(validation.tsaChain) }
            for result in kept.all {
                for signature in result.signatures {
                    chain(signature.validation?.chain ?? [])
                    signature.validation?.timeStamps.forEach { chain($0.tsaChain) }
                }
                result.documentTimeStamps.forEach { chain($0.tsaChain) }
            }
            return out
        }

        static func conclusion(_ header: Header) -> String {
            let summary = header.summary
            var text = "On \(Timeline.when(header.validationTime)): \(summary.documents) document(s), \(summary.signed) signed "
                + "(\(summary.totalPassed) TOTAL_PASSED, \(summary.totalFailed) TOTAL_FAILED, \(summary.indeterminate) INDETERMINATE), \(summary.unsigned) unsigned; "
            text += header.archive.integrityOK ? "every byte of the archive is intact" : "the archive is DAMAGED (\(header.archive.problems.count) problem(s))"
            if let evidence = header.evidence {
                text += "; archive time-stamp \(Timeline.indicationText(evidence.indication, evidence.subIndication))"
            }
            return text + ". verify exit code \(header.exitCode)."
        }

        /// Every document in name order: the analysed ones with their result, the plain unsigned ones without.
        func forEachDocument(_ body: (ArchivePath, DocumentResult?) throws -> Void) rethrows {
            var next = 0
            let all = kept.all
            for path in report.plain {
                while next < all.count, all[next].group.document < path {
                    try body(all[next].group.document, all[next])
                    next += 1
                }
                try body(path, nil)
            }
            for rest in all[next...] { try body(rest.group.document, rest) }
        }

        func section(_ name: ArchivePath, _ result: DocumentResult?) -> Section {
            // Tokens inside a signature are named after it.
            for outcome in result?.signatures ?? [] {
                for stamp in outcome.validation?.timeStamps ?? [] where stamp.origin == nil {
                    files.name(token: stamp.token.der, "\(files.dataPath(outcome.file)) (inside SignerInfo \(outcome.signerIndex + 1))")
                }
            }
            let key = Digest32(OpenSSLBridge.Hasher.digest(ArchivePath(ArchiveLayout.dataPrefix).joined(name).bytes))
            let line = listedPosition[key].map { kept.listed[$0] }
            let document = parts.document(name, sha256: line.map { Hex.encode($0.sha256.bytes) } ?? "unknown", size: line?.size ?? 0, result: result,
                                          integrityOK: report.integrity.ok, archiveProof: report.archiveProofOfExistence)
            var group: Section.DataGroup?
            if let reader, let evidence, let number = groupOfDocument[key] {
                let covers = evidence.groups[number].members.compactMap { index -> ExportReport.FileReference? in
                    guard let at = listedPosition[Digest32(reader.members[Int(index)].pathSHA256)] else { return nil }
                    let member = kept.listed[at]
                    return ExportReport.FileReference(file: ArchivePath.escaped(member.path.bytes), sha256: Hex.encode(member.sha256.bytes), size: member.size)
                }
                group = Section.DataGroup(file: header.evidence?.file ?? files.evidenceName, covers: covers)
            }
            let evidence = group.map {
                ExportReport.EvidenceRecordInfo(file: $0.file, covers: $0.covers, archiveTimeStamps: evidenceStamps,
                                                indication: header.evidence?.indication ?? "INDETERMINATE", subIndication: header.evidence?.subIndication,
                                                reason: header.evidence?.reason ?? "not evaluated")
            }
            let input = Timeline.Input(scope: .archive, document: document.info, signers: document.signers, documentTimeStamps: document.documentTimeStamps,
                                       evidenceRecord: evidence, archive: header.archive, validationTime: header.validationTime)
            return Section(document: document.info, signers: document.signers, documentTimeStamps: document.documentTimeStamps, dataGroup: group,
                           timeline: Timeline.statements(input), conclusion: Timeline.conclusion(input))
        }

        func write(to path: String, form: Form) throws {
            let output = try AtomicOutputFile(destination: path, overwrite: true)
            var failure: Error?
            func emit(_ text: String) {
                guard failure == nil else { return }
                do { try output.write(Array(text.utf8)) } catch { failure = error }
            }
            switch form {
            case .json: writeJSON(emit)
            case .txt: ArchiveReportText.render(self, emit)
            case .html: ArchiveReportHTML.render(self, emit)
            }
            if let failure { throw failure }
            try output.commit(overwrite: true)
        }

        /// Keys in sorted order, as every JSON document of ours; documents streamed.
        func writeJSON(_ out: @escaping (String) -> Void) {
            var object = JSONObjectWriter(out)
            object.value("archive", header.archive)
            object.value("conclusion", header.conclusion)
            object.array("documents") { element in forEachDocument { element(section($0, $1)) } }
            object.value("evidence", header.evidence)
            object.value("exitCode", header.exitCode)
            object.value("generator", header.generator)
            object.value("kind", header.kind)
            object.value("policy", header.policy)
            object.value("schemaVersion", header.schemaVersion)
            object.value("summary", header.summary)
            object.value("timeZone", header.timeZone)
            object.value("trust", header.trust)
            object.value("trustAnchors", header.trustAnchors)
            object.value("trustStatement", header.trustStatement)
            object.value("validationTime", header.validationTime)
            object.value("warnings", header.warnings)
            object.end()
        }
    }

    /// Archive members for the report's "file" fields; what is not a member by what it is.
    final class ArchiveFiles: ReportFiles {
        let evidenceName: String
        private let listed: [ListedMember]
        private let position: [Digest32: Int]
        private let material: [String: String]
        private let given: [String: String]
        private var tokens: [String: String] = [:]

        init(listed: [ListedMember], position: [Digest32: Int], evidenceName: String, material: [ArchiveEvidence.Material], given: [String: String]) {
            self.listed = listed
            self.position = position
            self.evidenceName = evidenceName
            self.given = given
            var names: [String: String] = [:]
            for item in material {
                names[Hex.encode(OpenSSLBridge.Hasher.digest(item.der, .sha256))] = "\(evidenceName), material"
            }
            self.material = names
        }

        func name(token der: [UInt8], _ name: String) {
            let digest = Hex.encode(OpenSSLBridge.Hasher.digest(der, .sha256))
            if tokens[digest] == nil { tokens[digest] = name }
        }

        private func member(_ path: ArchivePath) -> String? {
            position[Digest32(OpenSSLBridge.Hasher.digest(path.bytes))] != nil ? ArchivePath.escaped(path.bytes) : nil
        }

        func dataPath(_ name: ArchivePath) -> String { ArchivePath.escaped(ArchivePath(ArchiveLayout.dataPrefix).joined(name).bytes) }
        func hasData(_ name: ArchivePath) -> Bool { member(ArchivePath(ArchiveLayout.dataPrefix).joined(name)) != nil }

        func certificatePath(_ certificate: Certificate) -> String? {
            let digest = certificate.sha256Hex
            return member(EvidenceSet.path(certificateSHA256: digest)) ?? given[digest] ?? material[digest]
        }

        func revocationPath(_ item: RevocationEvidence) -> String? {
            let digest = item.sha256Hex
            let path: ArchivePath, kind: String
            switch item {
            case .crl: path = EvidenceSet.path(crlSHA256: digest); kind = "CRL"
            case .ocsp: path = EvidenceSet.path(ocspSHA256: digest); kind = "OCSP response"
            }
            // Not a member, not given, not the section's: carried in a signature or token, or fetched.
            return member(path) ?? given[digest] ?? material[digest] ?? "\(kind) SHA-256 \(digest)"
        }

        func tokenPath(_ der: [UInt8]) -> String? { tokens[Hex.encode(OpenSSLBridge.Hasher.digest(der, .sha256))] }
    }
}

/// The archive report as plain text, every line made safe.
enum ArchiveReportText {
    static func render(_ model: ArchiveReport.Model, _ emit: (String) -> Void) {
        func add(_ text: String = "") { emit(TextSafety.line(text) + "\n") }
        let header = model.header
        add("SigVault archive report")
        add("=======================")
        add()
        add("Archive:           \(header.archive.name)")
        add("Fingerprint:       \(header.archive.fingerprint ?? "none")")
        add("Format version:    \(header.archive.formatVersion.map(String.init) ?? "?")")
        add("Integrity:         \(header.archive.integrityOK ? "intact: every member matches the manifest, the manifest matches the trailer" : "DAMAGED")")
        header.archive.problems.forEach { add("  problem: \($0)") }
        add("Validation time:   \(Timeline.when(header.validationTime))")
        add("Trusted:           \(header.trust)")
        add("Generator:         \(header.generator)")
        add("Policy:            \(header.policy)")
        add("Summary:           \(header.conclusion)")
        if let evidence = header.evidence {
            add()
            add("Archive evidence \(evidence.file): \(Timeline.indicationText(evidence.indication, evidence.subIndication))")
            add(String(repeating: "-", count: 16))
            add("Reason: \(evidence.reason)")
            if let renew = evidence.renewBefore { add("Renew before: \(Timeline.when(renew))") }
            for stamp in evidence.archiveTimeStamps { add("Archive time-stamp: \(Timeline.stampText(stamp))") }
        }
        add()
        add("Trust anchors")
        add("-------------")
        if header.trustAnchors.isEmpty { add("none reached") }
        header.trustAnchors.forEach { ExportReportText.certificate($0, "", add) }
        add(header.trustStatement)
        var number = 0
        model.forEachDocument { name, result in
            number += 1
            let section = model.section(name, result)
            let document = section.document
            add()
            add()
            add("Document \(number): \(document.name)")
            add(String(repeating: "=", count: 12))
            add("Member:             \(document.file)")
            add("SHA-256:            \(document.sha256)")
            add("Size:               \(document.size) bytes")
            add("Result:             \(Timeline.indicationText(document.indication, document.subIndication))")
            add("Reason:             \(document.reason)")
            add("Proof of existence: \(document.proofOfExistence.map(Timeline.when) ?? "none")")
            document.notes.forEach { add("Note:               \($0)") }
            add()
            add("What is proven, in order:")
            ExportReportText.timeline(section.timeline, add)
            for signer in section.signers {
                add()
                ExportReportText.signer(signer, add)
            }
            for stamp in section.documentTimeStamps { add(); add("Document time-stamp: \(Timeline.stampText(stamp))") }
            if let group = section.dataGroup {
                add()
                add("Data group (hash tree in \(group.file)):")
                group.covers.forEach { add("  \($0.sha256)  \($0.file)") }
            }
        }
        add()
        header.warnings.forEach { add("warning: \($0)") }
        add("Conclusion: \(header.conclusion)")
        add("Check a document yourself: sigvault export <archive> <document> --to <folder>, then sh VERIFY.sh <your trust anchor file> there (docs/LEGAL-EXPORT.md).")
    }
}

/// The archive report as one HTML file: the export's head (no script, no outside resource), a
/// table of the documents, then a section per document.
enum ArchiveReportHTML {
    static func render(_ model: ArchiveReport.Model, _ emit: (String) -> Void) {
        func add(_ text: String) { emit(text + "\n") }
        let escape = ExportReportHTML.escape
        let header = model.header
        add(ExportReportHTML.head(title: "SigVault archive report: \(header.archive.name)"))
        add("<h1>Archive report: \(escape(header.archive.name))</h1>")
        add("<table>")
        add(ExportReportHTML.row("Summary", header.conclusion))
        add(ExportReportHTML.row("Fingerprint", "<code class=\"hash\">\(escape(header.archive.fingerprint ?? "none"))</code>", raw: true))
        add(ExportReportHTML.row("Format version", header.archive.formatVersion.map(String.init) ?? "?"))
        add(ExportReportHTML.row("Integrity", header.archive.integrityOK ? "intact: every member matches the manifest, the manifest matches the trailer" : "DAMAGED"))
        header.archive.problems.forEach { add(ExportReportHTML.row("Problem", $0)) }
        add(ExportReportHTML.row("Validation time", Timeline.when(header.validationTime)))
        add(ExportReportHTML.row("Trusted", header.trust))
        add(ExportReportHTML.row("Generator", header.generator))
        add(ExportReportHTML.row("Validation policy", header.policy))
        add("</table>")
        if let evidence = header.evidence {
            add("<h2>Archive evidence <code>\(escape(evidence.file))</code>: \(ExportReportHTML.indication(evidence.indication, evidence.subIndication))</h2>")
            add("<p>\(escape(evidence.reason))\(evidence.renewBefore.map { escape(" Renew before \(Timeline.when($0)).") } ?? "")</p><ul>")
            evidence.archiveTimeStamps.forEach { add("<li>\(escape(Timeline.stampText($0)))</li>") }
            add("</ul>")
        }
        add("<h2>Trust anchors</h2>")
        add("<p>\(escape(header.trustStatement))</p><ul>")
        header.trustAnchors.forEach { add("<li>\(ExportReportHTML.certificate($0))</li>") }
        add("</ul>")
        add("<h2>Documents</h2><table><tr><th>#</th><th>Document</th><th>Result</th></tr>")
        var number = 0
        model.forEachDocument { name, result in
            number += 1
            let verdict = result?.verdict
            add("<tr><td><a href=\"#d\(number)\">\(number)</a></td><td><code>\(escape(ArchivePath.escaped(name.bytes)))</code></td><td>"
                + ExportReportHTML.indication(verdict?.indication.rawValue ?? "UNSIGNED", verdict?.subIndication?.rawValue) + "</td></tr>")
        }
        add("</table>")
        number = 0
        model.forEachDocument { name, result in
            number += 1
            let section = model.section(name, result)
            let document = section.document
            add("<section id=\"d\(number)\">")
            add("<h2>\(number). <code>\(escape(document.name))</code>: \(ExportReportHTML.indication(document.indication, document.subIndication))</h2>")
            add("<table>")
            add(ExportReportHTML.row("Member", "<code>\(escape(document.file))</code>", raw: true))
            add(ExportReportHTML.row("SHA-256", "<code class=\"hash\">\(escape(document.sha256))</code>", raw: true))
            add(ExportReportHTML.row("Size", "\(document.size) bytes"))
            add(ExportReportHTML.row("Reason", document.reason))
            add(ExportReportHTML.row("Proof of existence", document.proofOfExistence.map(Timeline.when) ?? "none"))
            document.notes.forEach { add(ExportReportHTML.row("Note", $0)) }
            add("</table>")
            add("<h3>What is proven, in order</h3>")
            ExportReportHTML.timeline(section.timeline, add)
            for signer in section.signers { ExportReportHTML.signer(signer, heading: "h3", add) }
            if !section.documentTimeStamps.isEmpty {
                add("<h3>Document time-stamps</h3><ul>")
                section.documentTimeStamps.forEach { add("<li>\(escape(Timeline.stampText($0)))</li>") }
                add("</ul>")
            }
            if let group = section.dataGroup {
                add("<h3>Data group (hash tree in <code>\(escape(group.file))</code>)</h3><table><tr><th>SHA-256</th><th>Member</th></tr>")
                group.covers.forEach { add("<tr><td><code class=\"hash\">\(escape($0.sha256))</code></td><td><code>\(escape($0.file))</code></td></tr>") }
                add("</table>")
            }
            add("</section>")
        }
        header.warnings.forEach { add("<p>warning: \(escape($0))</p>") }
        add("<h2>Conclusion</h2><p>\(escape(header.conclusion))</p>")
        add("<p>Check a document yourself, without SigVault: <code>sigvault export &lt;archive&gt; &lt;document&gt; --to &lt;folder&gt;</code>, then <code>sh VERIFY.sh &lt;your trust anchor file&gt;</code> there (docs/LEGAL-EXPORT.md).</p>")
        add("</body></html>")
    }
}
