import EvidenceRecords
import Foundation
import Logging
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation
#if canImport(Glibc)
import Glibc
#endif

public struct ExportOptions: Sendable {
    /// The archive, trust anchors, validation time and outside material, as for `verify`.
    public var verify: VerifyOptions
    /// The document, as listed (without `data/`).
    public var document: String
    /// The folder to create (it must not exist, or be empty).
    public var target: String
    /// `--tz`: the zone the reports show beside UTC.
    public var timeZone: TimeZone = TimeZone(identifier: "UTC")!

    public init(verify: VerifyOptions, document: String, target: String) {
        self.verify = verify
        self.document = document
        self.target = target
    }
}

public struct ExportSummary: Sendable {
    public let target: String
    public let indication: String
    public let subIndication: String?
    public let files: Int
    /// As for verify: 0 passed, 1 failed or damaged, 2 indeterminate.
    public let exitCode: Int32
    public let warnings: [String]
}

/// `sigvault export`: one folder that proves one document without SigVault: its files byte for
/// byte, every certificate, CRL, OCSP response and token the proof uses, its evidence record with the
/// files it covers, the report in three forms and VERIFY.sh (docs/LEGAL-EXPORT.md).
public struct Exporter {
    let options: ExportOptions
    let logger: Logger

    public init(options: ExportOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    public func run() throws -> ExportSummary {
        let name = ArchivePath.unescaped(options.document) ?? ArchivePath(options.document)
        let member = ArchivePath(ArchiveLayout.dataPrefix).joined(name)
        let reader = try ArchiveReader(path: options.verify.archive)
        if let locator = options.verify.repository { reader.resolver = ReferenceResolver(locator: locator) }
        guard let record = reader.record(for: member) else {
            throw SigVaultError(.inputMissing, "\(options.verify.archive): no document named \(options.document)")
        }
        let line = try reader.manifestLine(of: record)
        guard line.role == .document else { throw SigVaultError(.usage, "\(options.document): is a \(line.role.rawValue), not a document") }
        let target = LocalPath(options.target)
        try Self.checkTarget(target)

        var verifyOptions = options.verify
        verifyOptions.keptDocument = name
        let report = try Verifier(options: verifyOptions, logger: logger).run()
        guard let kept = report.kept else { throw SigVaultError(.internalInvariant, "\(options.verify.archive): verify kept no result") }

        let staging = try Self.stagingFolder(for: target)
        var committed = false
        defer { if !committed { try? FileManager.default.removeItem(atPath: staging.string); TemporaryFiles.shared.forgetFolder(staging) } }
        let bundle = BundleWriter(root: staging)

        // 1. The document, its signature and token files, byte for byte, under files/.
        let group = kept.result?.group
        var dataFiles = [name]
        if let group { dataFiles += group.signatureFiles.filter { $0 != name } + group.tokenFiles.map(\.token) }
        var seen = Set<ArchivePath>()
        for file in dataFiles where seen.insert(file).inserted {
            guard let stored = try StoredMember(reader: reader, path: ArchivePath(ArchiveLayout.dataPrefix).joined(file)) else {
                throw SigVaultError(.integrity, "\(options.verify.archive): \(file) is listed but not in the archive; run sigvault verify")
            }
            try bundle.writeData(name: file, location: stored.location(reader))
        }

        // 2. The material the proof used, and the anchors that ended its chains (named by their role
        //    before the evidence record's members, which are the same items).
        let material = try ExportMaterial.collect(kept, bundle: bundle)

        // 3. The evidence record of the document's data group, and every member the group covers.
        var evidenceRecord: ExportMaterial.Record?
        if let records = try GroupRecords(reader: reader), let members = records.groupMembers(forDocument: record),
           let der = try records.record(forDocument: record) {
            var covered: [String] = []
            for index in members {
                let memberLine = try reader.manifestLine(of: reader.members[index])
                let location = try reader.location(ofMember: index)
                switch memberLine.role {
                case .document, .signature, .timeStamp:
                    guard let path = ArchivePath.unescaped(memberLine.path) else { continue }
                    let file = path.droppingPrefix(ArchiveLayout.dataPrefix)
                    if !bundle.hasData(file) { try bundle.writeData(name: file, location: location) }
                    covered.append(bundle.dataPath(file))
                case .certificate:
                    let bytes = try location.contents()
                    covered.append(try bundle.certificate(Certificate(der: bytes), role: .other).der)
                case .crl:
                    covered.append(try bundle.revocation(.crl(RevocationList(der: location.contents()))))
                case .ocsp:
                    covered.append(try bundle.revocation(.ocsp(OCSPResponse(der: location.contents()))))
                default:
                    covered.append(try bundle.writeOther(name: memberLine.path, bytes: location.contents()))
                }
            }
            try bundle.write("evidence-record.ers", der)
            evidenceRecord = ExportMaterial.Record(file: "evidence-record.ers", covered: covered)
        }

        // 4. The reports and the script.
        let built = ExportReport.Builder(options: options, report: report, kept: kept, document: name, documentLine: line,
                                         material: material, evidenceRecord: evidenceRecord, bundle: bundle).build()
        try bundle.write("VERIFY.sh", Array(VerifyScript.script(built.report, plan: built.plan).utf8))
        try bundle.write("VERIFY.md", Array(VerifyScript.guide.utf8))
        try bundle.write("report.json", Array((try JSONOutput.text(built.report) + "\n").utf8))
        try bundle.write("report.txt", Array(ExportReportText.render(built.report).utf8))
        try bundle.write("report.html", Array(ExportReportHTML.render(built.report).utf8))
        try bundle.syncFolders()

        // 5. In place at once: the folder appears whole or not at all.
        guard rename(staging.string, target.string) == 0 else {
            throw SigVaultError(.outputCreate, "\(target): cannot move the export into place: \(POSIX.errorText)", cause: SystemError())
        }
        committed = true
        TemporaryFiles.shared.forgetFolder(staging)
        DurableFile.syncFolder(target.parent.string)
        let exit: ExitCode = switch built.report.document.indication {
        case Indication.totalPassed.rawValue: report.integrity.ok ? .ok : .integrityOrFailed
        case Indication.totalFailed.rawValue: .integrityOrFailed
        case Indication.indeterminate.rawValue: report.integrity.ok ? .findings : .integrityOrFailed
        default: report.integrity.ok ? .ok : .integrityOrFailed
        }
        return ExportSummary(target: options.target, indication: built.report.document.indication, subIndication: built.report.document.subIndication,
                             files: bundle.count, exitCode: exit.rawValue, warnings: report.warnings)
    }

    /// The target must not exist, or be an empty folder (it is replaced as a whole).
    static func checkTarget(_ target: LocalPath) throws {
        var info = stat()
        guard lstat(target.string, &info) == 0 else {
            guard errno == ENOENT else { throw SigVaultError(.outputCreate, "\(target): \(POSIX.errorText)", cause: SystemError()) }
            var parent = stat()
            guard stat(target.parent.string, &parent) == 0, (parent.st_mode & S_IFMT) == S_IFDIR else {
                throw SigVaultError(.outputCreate, "\(target.parent): not a folder; create it first")
            }
            return
        }
        let empty = (info.st_mode & S_IFMT) == S_IFDIR && ((try? FileManager.default.contentsOfDirectory(atPath: target.string).isEmpty) ?? false)
        guard empty else { throw SigVaultError(.outputExists, "\(target): exists and is not an empty folder; export writes a new folder") }
    }

    static func stagingFolder(for target: LocalPath) throws -> LocalPath {
        try TemporaryFiles.shared.creatingFolder {
            let base = String(decoding: target.lastComponent, as: UTF8.self)
            var buffer = Array(target.parent.appending(".\(base).sigvault-export-XXXXXX").string.utf8CString)
            guard let made = mkdtemp(&buffer) else {
                throw SigVaultError(.outputCreate, "\(target.parent): cannot create a folder beside \(base): \(POSIX.errorText)", cause: SystemError())
            }
            chmod(made, 0o755)
            return LocalPath(String(cString: made))
        }
    }
}
