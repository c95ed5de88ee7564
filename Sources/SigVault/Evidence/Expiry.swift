import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

public struct ExpiryOptions: Sendable {
    /// Archives to look into (their archive time-stamps, and their documents' time-stamps and
    /// signer certificates).
    public var archives: [String] = []
    /// Certificate files or folders (PEM, DER or PKCS#12): the organisation's own signing and TSA
    /// certificates.
    public var certificates: [String] = []
    /// `--password-file`: the PKCS#12 password (its first line).
    public var password: String?
    /// `--within`: what runs out before `at` + this is due.
    public var within: TimeInterval = 60 * 86_400
    /// The window as given (for the report).
    public var withinText = "60d"
    public var at = Date()
    /// Archives that are objects of a repository (write-once: `renew <archive>`, which rewrites a
    /// file, must not touch them; `renew --repo` renews them).
    public var repositoryArchives: Set<String> = []
    /// That repository: its archives are judged by their newest renewed evidence (FORMAT.md §11).
    public var repository: (any ArchiveLocator)?
    /// The repository's folder as given, for the command the report proposes.
    public var repositoryPath: String?
    /// Anchors for building TSA chains (none: the token's own certificates).
    public var trust: [String] = []
    public init() {}
}

/// One thing that runs out (docs/CLI.md, "expiry").
public struct ExpiryItem: Codable, Sendable {
    /// When it runs out.
    public var date: String
    /// `lapsed` (already run out, nothing renewed it), `due` (within the window) or `later`.
    public var status: String
    /// `certificate` (given directly), `archive-time-stamp`, `signature-time-stamps` (of an archive
    /// without an archive time-stamp) or `signer-certificate` (a signature no time-stamp proves).
    public var kind: String
    /// What it is, in words.
    public var what: String
    /// The archive or the file it was found in.
    public var source: String
    /// The documents whose proof depends on it (up to 20) and how many there are.
    public var documents: [String]
    public var documentCount: Int
    /// What to do.
    public var action: String
}

public struct ExpiryReport: Codable, Sendable {
    public var schemaVersion = 1
    public var at: String
    public var within: String
    public var items: [ExpiryItem]
    public var warnings: [String]
    public var exitCode: Int32
}

/// `sigvault expiry`: what will run out, sorted by date, with what to do. Exit 0 when nothing is
/// due in the window, 2 when something is, 1 when something has already lapsed.
public struct Expiry {
    let options: ExpiryOptions

    public init(options: ExpiryOptions) { self.options = options }

    public func run() throws -> ExpiryReport {
        var items: [(Date, ExpiryItem)] = []
        var warnings: [String] = []
        let due = options.at.addingTimeInterval(options.within)
        func status(_ date: Date) -> String { date <= options.at ? "lapsed" : date <= due ? "due" : "later" }
        func add(_ date: Date, kind: String, what: String, source: String, documents: [String], action: String) {
            items.append((date, ExpiryItem(date: ISOTime.format(date), status: status(date), kind: kind, what: what, source: source,
                                           documents: Array(documents.sorted().prefix(20)), documentCount: documents.count, action: action)))
        }
        let (anchors, trustWarnings) = try MaterialLoader.anchors(options.trust)
        warnings += trustWarnings

        // Certificates given directly.
        for path in options.certificates {
            for file in try MaterialLoader.files(under: path) {
                guard let data = FileManager.default.contents(atPath: file) else { throw SigVaultError(.inputMissing, "\(file): cannot read") }
                let bytes = [UInt8](data)
                var certificates = (try? Certificate.parseAll(bytes)) ?? []
                if certificates.isEmpty, let password = options.password { certificates = (try? Certificate.parsePKCS12(bytes, password: password)) ?? [] }
                if certificates.isEmpty {
                    let hint = options.password == nil && (file.hasSuffix(".p12") || file.hasSuffix(".pfx")) ? " (a PKCS#12 file needs --password-file)" : ""
                    throw SigVaultError(.inputInvalid, "\(file): not a certificate (PEM, DER or PKCS#12)\(hint)")
                }
                // The file's own certificate: the first (PKCS#12: the key's), and any other that is
                // not a CA (a bundle of several signers).
                for (index, certificate) in certificates.enumerated() where index == 0 || !certificate.isCertificateAuthority {
                    let what = "certificate \(certificate.subject) (serial \(certificate.serialHex)), valid until \(ISOTime.format(certificate.notAfter))"
                    add(certificate.notAfter, kind: "certificate", what: what, source: file, documents: [],
                        action: certificate.notAfter <= options.at ? "it has expired: signatures made with it from now on fail; get a new certificate"
                            : "get its successor 1 to 2 months before \(ISOTime.format(certificate.notAfter)), and sign with it from then on")
                }
            }
        }

        // Archives.
        for archive in options.archives {
            let reader = try ArchiveReader(path: archive)
            if let problem = reader.layoutProblem { throw SigVaultError(.archiveInvalid, "\(archive): \(problem)") }
            if let repository = options.repository { reader.resolver = ReferenceResolver(locator: repository) }
            var records: [(path: String, record: DocumentRecord)] = []
            _ = try reader.forEachManifestMember { _, _, member in
                guard member.role == .document, let path = member.archivePath, let record = member.document else { return }
                records.append((ArchivePath.escaped(path.droppingPrefix(ArchiveLayout.dataPrefix).bytes), record))
            }
            func certificate(_ hex: String) -> Certificate? {
                guard let location = try? reader.location(forName: EvidenceSet.path(certificateSHA256: hex)),
                      let bytes = try? location.contents() else { return nil }
                return try? Certificate(der: bytes)
            }
            let signed = records.filter { !$0.record.signatures.isEmpty }
            // What can still run out: the proofs of documents pack found provable (a signature that
            // failed already at pack time has nothing left to lose, and would raise the alarm daily).
            let provable = signed.filter { $0.record.packIndication == Indication.totalPassed.rawValue }
            if let evidence = try reader.evidence(), let chain = evidence.template.archiveTimeStampSequence.last,
               let newest = chain.archiveTimeStamps.last, let token = try? TimeStampToken(responseOrToken: newest.timeStamp) {
                // The newest archive time-stamp protects every document until its TSA chain or its
                // hash algorithm runs out (as verify's renewBefore).
                let algorithm = chain.archiveTimeStamps.first?.digestAlgorithm.flatMap { HashAlgorithm(openSSLName: $0.oid) }
                    ?? token.imprintAlgorithm ?? .sha256
                if let until = Renewer.protectedUntil(token, algorithm: algorithm, anchors: anchors) {
                    let tsa = token.signerCertificate(extra: [])?.subject ?? "an unknown TSA"
                    add(until, kind: "archive-time-stamp",
                        what: "the archive time-stamp of \(ISOTime.format(token.genTime)) by \(tsa) (\(algorithm.rawValue)) protects the archive until \(ISOTime.format(until))",
                        source: archive, documents: records.map(\.path),
                        action: options.repositoryArchives.contains(archive)
                            ? "renew it before \(ISOTime.format(until)): sigvault renew --repo \(options.repositoryPath ?? "<repo>") --tsa <url> --before \(options.withinText) (every due archive with one request)"
                            : until <= options.at ? "it has run out without renewal: the archive's proof of existence ends there; renew it at once (sigvault renew \(archive) --tsa <url>) and check the verdicts"
                            : "renew it before \(ISOTime.format(until)): sigvault renew \(archive) --tsa <url>")
                }
                continue
            }
            // No archive time-stamp: each signature's time-stamps protect it until their TSA chain
            // runs out; a signature without one depends on its signer certificate.
            var byTSA: [String: (until: Date, subject: String, documents: Set<String>)] = [:]
            var bySigner: [String: (until: Date, subject: String, documents: Set<String>)] = [:]
            for (path, record) in provable {
                for signature in record.signatures {
                    let stamps = signature.timeStamps.filter { $0.valid != false }
                    if let stamp = stamps.first, let leaf = stamp.tsaChain.first, let tsa = certificate(leaf) {
                        let chain = stamp.tsaChain.dropLast().compactMap(certificate)
                        let until = AlgorithmSunsets.protectedUntil(tsaCertificates: chain.isEmpty ? [tsa] : chain, algorithm: .sha256) ?? tsa.notAfter
                        byTSA[leaf, default: (until, tsa.subject, [])].documents.insert(path)
                    } else if let leaf = signature.chain.first, let signer = certificate(leaf) {
                        bySigner[leaf, default: (signer.notAfter, signer.subject, [])].documents.insert(path)
                    }
                }
            }
            for (_, entry) in byTSA {
                add(entry.until, kind: "signature-time-stamps",
                    what: "the signature time-stamps by \(entry.subject) prove these signatures only until \(ISOTime.format(entry.until)) (the archive has no archive time-stamp)",
                    source: archive, documents: Array(entry.documents),
                    action: entry.until <= options.at ? "lapsed: the time-stamps no longer prove the signatures; only evidence made before \(ISOTime.format(entry.until)) could"
                        : "give these documents an archive time-stamp before \(ISOTime.format(entry.until)): pack them again with --tsa")
            }
            for (_, entry) in bySigner {
                add(entry.until, kind: "signer-certificate",
                    what: "signatures by \(entry.subject) have no time-stamp: they are provable only while the signer's certificate is valid, until \(ISOTime.format(entry.until))",
                    source: archive, documents: Array(entry.documents),
                    action: entry.until <= options.at ? "lapsed: nothing proves these signatures existed while the certificate was valid"
                        : "time-stamp them before \(ISOTime.format(entry.until)): pack them again with --tsa (an archive time-stamp proves them from then on)")
            }
        }

        let sorted = items.sorted { ($0.0, $0.1.what) < ($1.0, $1.1.what) }.map(\.1)
        let exit: ExitCode = sorted.contains { $0.status == "lapsed" } ? .integrityOrFailed : sorted.contains { $0.status == "due" } ? .findings : .ok
        return ExpiryReport(at: ISOTime.format(options.at), within: options.withinText, items: sorted, warnings: warnings,
                            exitCode: exit.rawValue)
    }
}
