import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// The validation material pack stores, once per content, under `evidence/`.
struct EvidenceSet {
    var certificates: [String: Certificate] = [:]
    var revocationLists: [String: RevocationList] = [:]
    var ocspResponses: [String: OCSPResponse] = [:]

    static func path(certificateSHA256 hex: String) -> ArchivePath { ArchivePath("evidence/certificates/\(hex).der") }
    static func path(crlSHA256 hex: String) -> ArchivePath { ArchivePath("evidence/crls/\(hex).crl") }
    static func path(ocspSHA256 hex: String) -> ArchivePath { ArchivePath("evidence/ocsp/\(hex).der") }

    mutating func add(_ chain: [Certificate]) -> [String] {
        chain.map { certificates[$0.sha256Hex] = $0; return $0.sha256Hex }
    }

    mutating func add(_ evidence: [RevocationEvidence]) -> (crls: [String], ocsp: [String]) {
        var crls: [String] = [], ocsp: [String] = []
        for item in evidence {
            switch item {
            case .crl(let crl):
                revocationLists[crl.sha256Hex] = crl
                if !crls.contains(crl.sha256Hex) { crls.append(crl.sha256Hex) }
            case .ocsp(let response):
                ocspResponses[response.sha256Hex] = response
                for certificate in response.certificates { certificates[certificate.sha256Hex] = certificate }
                if !ocsp.contains(response.sha256Hex) { ocsp.append(response.sha256Hex) }
            }
        }
        return (crls, ocsp)
    }

    /// All revocation data in the pool that speaks about the chain's certificates, whatever the
    /// verdict: a later verifier with more proof of existence may need data this one did not use.
    static func relevantRevocationData(for chain: [Certificate], validator: SignatureValidator) -> [RevocationEvidence] {
        var out: [RevocationEvidence] = []
        for (index, certificate) in chain.enumerated() where index + 1 < chain.count {
            let issuer = chain[index + 1]
            for crl in validator.pool.revocationLists where crl.isIssued(by: issuer) && crl.signatureVerifies(with: issuer) {
                out.append(.crl(crl))
            }
            for response in validator.pool.ocspResponses where response.status(of: certificate, issuer: issuer) != nil {
                out.append(.ocsp(response))
            }
        }
        return out
    }

    /// Turns an analysis into the manifest's document record, adding the material it used.
    static func record(for result: DocumentResult, collecting evidence: inout EvidenceSet, validator: SignatureValidator) -> DocumentRecord {
        func tokenRecord(_ validation: TimeStampValidation, source: String, covers: String) -> TimeStampRecord {
            let chain = evidence.add(validation.tsaChain.isEmpty ? validation.token.certificates : validation.tsaChain)
            let revocation = evidence.add(validation.revocationEvidence + relevantRevocationData(for: validation.tsaChain, validator: validator))
            var record = TimeStampRecord(source: source, file: validation.origin.map { "data/" + $0 },
                                         covers: covers, genTime: ISOTime.format(validation.genTime),
                                         sha256: Hex.encode(Hasher.digest(validation.token.der)), tsaChain: chain,
                                         crls: revocation.crls, ocsp: revocation.ocsp)
            record.valid = validation.valid
            return record
        }
        var signatures: [SignatureRecord] = []
        for outcome in result.signatures {
            let file = ArchivePath.escaped(ArchivePath("data/").joined(outcome.file).bytes)
            guard let validation = outcome.validation else {
                signatures.append(SignatureRecord(file: file, signerIndex: outcome.signerIndex, signer: nil, chain: [], crls: [], ocsp: [],
                                                  timeStamps: [], digestAlgorithm: nil))
                continue
            }
            var chain = validation.chain
            if chain.isEmpty, let signer = validation.signerCertificate { chain = [signer] }
            let chainDigests = evidence.add(chain)
            let revocation = evidence.add(validation.revocationEvidence + relevantRevocationData(for: chain, validator: validator))
            let tokens = validation.timeStamps.map { stamp in
                tokenRecord(stamp, source: stamp.origin == nil ? "embedded" : "file", covers: stamp.covered.rawValue)
            }
            signatures.append(SignatureRecord(file: file, signerIndex: outcome.signerIndex, signer: validation.signerCertificate?.subject,
                                              chain: chainDigests, crls: revocation.crls, ocsp: revocation.ocsp,
                                              timeStamps: tokens, digestAlgorithm: validation.digestAlgorithm))
        }
        let documentStamps = result.documentTimeStamps.map { tokenRecord($0, source: "file", covers: "document") }
        let verdict = result.verdict
        var record = DocumentRecord(kind: result.group.kind.rawValue, signatures: signatures, documentTimeStamps: documentStamps,
                                    packIndication: verdict?.indication.rawValue, packSubIndication: verdict?.subIndication?.rawValue)
        let related = result.group.signatureFiles.filter { $0 != result.group.document } + result.group.tokenFiles.map(\.token)
        record.files = related.map { ArchivePath.escaped(ArchivePath("data/").joined($0).bytes) }
        return record
    }
}

/// Loads certificates, CRLs and OCSP responses from files or folders (PEM or DER, bundles allowed).
enum MaterialLoader {
    static func files(under path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SigVaultError(.inputMissing, "\(path): no such file or folder")
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        var out: [String] = []
        for case let name as String in enumerator {
            let full = path + "/" + name
            var sub: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { out.append(full) }
        }
        return out.sorted()
    }

    /// Loads every file named, or found under a folder named. A file named directly must parse
    /// (65 otherwise); a file inside a folder that does not parse is skipped with a warning.
    @discardableResult
    static func load(_ paths: [String], kind: String, _ body: ([UInt8], String) throws -> Void) throws -> [String] {
        var warnings: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            for file in try files(under: path) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw SigVaultError(.inputMissing, "\(file): cannot read")
                }
                do {
                    try body([UInt8](data), file)
                } catch let error as CryptoError {
                    guard exists && isDirectory.boolValue else {
                        throw SigVaultError(.inputInvalid, "\(file): not a \(kind): \(error.message)")
                    }
                    warnings.append("\(file): skipped, not a \(kind)")
                }
            }
        }
        return warnings
    }

    /// What `--certs`, `--crls` and `--ocsp` handed over, and the warnings for skipped files.
    struct Loaded {
        var warnings: [String] = []
        var certificates: [Certificate] = []
        var revocation: [RevocationEvidence] = []
    }

    /// Loads `--certs`, `--crls` and `--ocsp` into `pool`; `external` marks the revocation data as
    /// from outside the archive (verify).
    static func loadMaterial(certificates: [String], revocationLists: [String], ocspResponses: [String], into pool: EvidencePool,
                             external: Bool) throws -> Loaded {
        var loaded = Loaded()
        for (paths, kind, name) in [(certificates, EvidencePool.MaterialKind.certificate, "certificate"), (revocationLists, .crl, "CRL"),
                                    (ocspResponses, .ocsp, "OCSP response")] {
            loaded.warnings += try load(paths, kind: name) { bytes, _ in
                let parsed = try pool.add(bytes, as: kind, external: external)
                loaded.certificates += parsed.certificates
                loaded.revocation += parsed.revocation
            }
        }
        return loaded
    }

    /// The trust anchors of `--trust`, or the system store; with warnings for skipped files.
    static func anchors(_ paths: [String]) throws -> (TrustAnchors, [String]) {
        let (anchors, warnings, _) = try anchorsDescribed(paths)
        return (anchors, warnings)
    }

    /// The anchors, the warnings, and where they came from (for the report).
    static func anchorsDescribed(_ paths: [String]) throws -> (TrustAnchors, [String], TrustSource) {
        guard !paths.isEmpty else {
            let (bundle, certificates) = TrustAnchors.loadSystemBundle()
            return (.certificates(certificates), [], TrustSource(source: "system-store", files: bundle.map { [$0] } ?? [], anchors: certificates.count))
        }
        var list: [Certificate] = []
        let warnings = try load(paths, kind: "certificate") { bytes, _ in list += try Certificate.parseAll(bytes) }
        return (.certificates(list), warnings, TrustSource(source: "trust-option", files: paths, anchors: Set(list.map(\.sha256Hex)).count))
    }

    static func anchorDigests(_ anchors: TrustAnchors) -> [String] {
        if case .certificates(let list) = anchors { return list.map(\.sha256Hex).sorted() }
        return []
    }
}

extension MemberRole {
    /// The material kind of an evidence member's role (documents and the rest are none: `.certificate`
    /// is never asked of them).
    var materialKind: EvidencePool.MaterialKind {
        switch self {
        case .crl: return .crl
        case .ocsp: return .ocsp
        default: return .certificate
        }
    }
}

extension ArchiveEvidence.Material.Kind {
    var materialKind: EvidencePool.MaterialKind {
        switch self {
        case .certificate: return .certificate
        case .crl: return .crl
        case .ocsp: return .ocsp
        }
    }
}
