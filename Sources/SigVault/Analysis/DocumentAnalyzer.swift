import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// Where the analyzer reads files from: the filesystem at pack time, the archive at verify time.
protocol MemberSource {
    /// Whole content of a small file (signatures, tokens).
    func bytes(of path: ArchivePath) throws -> [UInt8]
    /// Content for streaming (documents).
    func content(of path: ArchivePath) throws -> SignedContent
}

/// A member that cannot be read is a finding about the signature (nil here); a run that cannot go
/// on (an I/O error reading the archive, a scratch folder that is full) is not, and is thrown.
func readable<T>(_ read: () throws -> T) throws -> T? {
    do { return try read() } catch let error as SigVaultError where error.stopsTheRun { throw error } catch { return nil }
}

extension SigVaultError {
    /// "Could not run": never turned into a verdict about what was read.
    var stopsTheRun: Bool { [.archiveRead, .scratch, .internalInvariant, .interrupted].contains(code) }
}

/// How files group into documents (docs/FORMAT.md §3).
struct DocumentGroup {
    enum Kind: String { case unsigned, detached, enveloping }
    let document: ArchivePath
    var kind: Kind
    /// Detached CMS files (`X.p7s`, `X.sig`) or, for enveloping, the document itself.
    var signatureFiles: [ArchivePath] = []
    /// Standalone tokens and the file each covers.
    var tokenFiles: [(token: ArchivePath, covers: ArchivePath)] = []
    var notes: [String] = []
}

/// The outcome for one SignerInfo (or for a signature file that could not be read at all).
struct SignatureOutcome {
    let file: ArchivePath
    let signerIndex: Int
    let verdict: Verdict
    let validation: SignatureValidation?
}

struct DocumentResult {
    var group: DocumentGroup
    let signatures: [SignatureOutcome]
    let documentTimeStamps: [TimeStampValidation]
    /// Worst verdict of its signatures; nil for unsigned documents.
    var verdict: Verdict? {
        signatures.map(\.verdict).reduce(nil as Verdict?) { worst, next in worst.map { $0.worse(next) } ?? next }
    }
    var signed: Bool { group.kind != .unsigned }

    /// The earliest time a valid token proves for this document (its signatures or itself).
    /// Only proofs over bytes that bind the document count: a signature time-stamp proves the
    /// document existed only through a signature whose digest matches the document.
    var proofOfExistence: Date? {
        let broken: Set<SubIndication> = [.hashFailure, .sigCryptoFailure, .formatFailure, .signedDataNotFound]
        let times = signatures.filter { !($0.verdict.subIndication.map(broken.contains) ?? false) }
            .compactMap { $0.validation?.proofs.first?.genTime } + documentTimeStamps.filter(\.valid).map(\.genTime)
        return times.min()
    }

    /// Document time-stamps that prove nothing (an imprint that does not match the document, a
    /// token that does not verify): findings, exit code at least 2.
    var failedDocumentTimeStamps: [TimeStampValidation] { documentTimeStamps.filter { !$0.valid } }
}

struct DocumentAnalyzer {
    static let detachedExtensions = [".p7s", ".sig"]
    static let envelopingExtensions = [".p7m"]
    static let tokenExtensions = [".tsr", ".tst"]

    /// Whether a file could be a signature, a token, or a document one of those covers: the others
    /// are plain unsigned documents and need no analysis.
    static func mayTakePart(_ name: ArchivePath) -> Bool {
        (detachedExtensions + envelopingExtensions + tokenExtensions).contains { name.hasSuffix($0) }
    }

    /// `changed` with every file that belongs to the same documents among `all`: the signature and
    /// token files over a changed file, and the file a changed signature or token covers (and, in
    /// turn, theirs), so that a document is archived with all its files (the repository's backup).
    static func groupClosure(of changed: Set<ArchivePath>, among all: [ArchivePath]) -> Set<ArchivePath> {
        let present = Set(all)
        var dependents: [ArchivePath: [ArchivePath]] = [:]
        for name in all where mayTakePart(name) {
            for base in possibleBases(name) where present.contains(base) { dependents[base, default: []].append(name) }
        }
        var result = changed
        var frontier = Array(changed)
        while let name = frontier.popLast() {
            var next = dependents[name] ?? []
            if mayTakePart(name) { next += possibleBases(name).filter { present.contains($0) } }
            for other in next where result.insert(other).inserted { frontier.append(other) }
        }
        return result
    }

    /// The names a signature or token file could cover (its name without each known extension).
    static func possibleBases(_ name: ArchivePath) -> [ArchivePath] {
        (detachedExtensions + envelopingExtensions + tokenExtensions).filter { name.hasSuffix($0) }.map { name.droppingSuffix($0) }
    }

    /// Groups file names (without `data/`) into documents with their signature and token files.
    /// `parse` tells whether a file is a CMS SignedData (and whether it is detached). Names in
    /// `knownSignatures` are detached signatures even when they do not parse (verify: signature
    /// files the manifest lists as such whose member is damaged).
    static func group(_ names: [ArchivePath], knownSignatures: Set<ArchivePath> = [], parse: (ArchivePath) throws -> SignedData?) rethrows -> [DocumentGroup] {
        let present = Set(names)
        var groups: [ArchivePath: DocumentGroup] = [:]
        var roles: [ArchivePath: ArchivePath] = [:]  // signature or token file -> document it belongs to
        var pendingTokens: [(ArchivePath, ArchivePath)] = []

        for name in names {
            if let ext = tokenExtensions.first(where: { name.hasSuffix($0) }), present.contains(name.droppingSuffix(ext)) {
                pendingTokens.append((name, name.droppingSuffix(ext)))
                continue
            }
            if let ext = detachedExtensions.first(where: { name.hasSuffix($0) }), present.contains(name.droppingSuffix(ext)) {
                let base = name.droppingSuffix(ext)
                if let signed = try parse(name) {
                    if signed.isDetached {
                        roles[name] = base
                        continue
                    }
                } else if ext == ".p7s" || knownSignatures.contains(name) {
                    // A .p7s that is not CMS is still meant as a signature: report it as malformed.
                    roles[name] = base
                    continue
                }
            }
        }
        for name in names where roles[name] == nil && !pendingTokens.contains(where: { $0.0 == name }) {
            var group = DocumentGroup(document: name, kind: .unsigned)
            let isEnveloping = envelopingExtensions.contains { name.hasSuffix($0) }
            if isEnveloping || detachedExtensions.contains(where: { name.hasSuffix($0) }) {
                let signed = try parse(name)
                // A .p7m that does not parse is still meant as a signature: it is reported malformed.
                if signed != nil || isEnveloping {
                    group.kind = .enveloping
                    group.signatureFiles = [name]
                }
                if signed?.isDetached == true { group.notes.append("detached CMS whose signed document is not in the archive") }
            }
            groups[name] = group
        }
        for (name, base) in roles.sorted(by: { $0.key < $1.key }) {
            groups[base]?.kind = .detached
            groups[base]?.signatureFiles.append(name)
        }
        for (token, covered) in pendingTokens.sorted(by: { $0.0 < $1.0 }) {
            let owner = roles[covered] ?? covered
            if groups[owner] != nil {
                groups[owner]?.tokenFiles.append((token, covered))
            } else {
                groups[token] = DocumentGroup(document: token, kind: .unsigned, notes: ["time-stamp over a file that is not archived"])
            }
        }
        return groups.values.sorted { $0.document < $1.document }
    }

    /// Groups `names` reading each candidate signature file once; the certificates and CRLs the
    /// signatures carry join `pool` before any validation.
    static func group(_ names: [ArchivePath], source: MemberSource, addingMaterialTo pool: EvidencePool,
                      knownSignatures: Set<ArchivePath> = []) throws -> [DocumentGroup] {
        try group(names, knownSignatures: knownSignatures) { name in
            guard let bytes = try readable({ try source.bytes(of: name) }), let signed = try? SignedData(bytes: bytes) else { return nil }
            pool.add(signed.certificates)
            signed.revocationLists.forEach { pool.add($0) }
            return signed
        }
    }

    let validator: SignatureValidator
    let source: MemberSource

    func analyze(_ group: DocumentGroup) throws -> DocumentResult {
        var outcomes: [SignatureOutcome] = []
        var documentTokens: [TimeStampCandidate] = []
        var fileTokens: [ArchivePath: [TimeStampCandidate]] = [:]
        var unreadableTokens: [String] = []
        var counterSignatureNotes: [String] = []
        for (tokenFile, covered) in group.tokenFiles {
            let origin = ArchivePath.escaped(tokenFile.bytes)
            let token: TimeStampToken
            do {
                token = try TimeStampToken(responseOrToken: try source.bytes(of: tokenFile))
            } catch let error as SigVaultError where error.stopsTheRun {
                throw error
            } catch {
                unreadableTokens.append("\(origin): not a usable RFC 3161 token or response: \(error)")
                continue
            }
            guard let content = try readable({ try source.content(of: covered) }) else {
                unreadableTokens.append("\(origin): the file it covers, \(ArchivePath.escaped(covered.bytes)), cannot be read")
                continue
            }
            if group.signatureFiles.contains(covered) {  // for .p7m the document is the signature file
                fileTokens[covered, default: []].append(TimeStampCandidate(token: token, covered: .signatureFile, data: content, origin: origin))
            } else {
                documentTokens.append(TimeStampCandidate(token: token, covered: .document, data: content, origin: origin))
            }
        }
        for file in group.signatureFiles {
            guard let bytes = try readable({ try source.bytes(of: file) }) else {
                outcomes.append(SignatureOutcome(file: file, signerIndex: 0, verdict: Verdict(.indeterminate, .signedDataNotFound, "\(file): cannot be read"), validation: nil))
                continue
            }
            let signed: SignedData
            do {
                signed = try SignedData(bytes: bytes)
            } catch {
                outcomes.append(SignatureOutcome(file: file, signerIndex: 0, verdict: Verdict(.totalFailed, .formatFailure, "\(file): not a CMS SignedData: \(error)"), validation: nil))
                continue
            }
            let content: SignedContent
            if group.kind == .enveloping || !signed.isDetached {
                content = .embedded
            } else if let documentContent = try readable({ try source.content(of: group.document) }) {
                content = documentContent
            } else {
                outcomes.append(SignatureOutcome(file: file, signerIndex: 0, verdict: Verdict(.indeterminate, .signedDataNotFound, "the signed document cannot be read"), validation: nil))
                continue
            }
            if signed.isDetached && group.kind == .enveloping {
                outcomes.append(SignatureOutcome(file: file, signerIndex: 0, verdict: Verdict(.indeterminate, .signedDataNotFound, "detached signature without its document"), validation: nil))
                continue
            }
            let verifications = signed.verifySigners(content: content, extraCertificates: validator.pool.certificates)
            if verifications.isEmpty {
                outcomes.append(SignatureOutcome(file: file, signerIndex: 0, verdict: Verdict(.totalFailed, .formatFailure, "\(file): CMS SignedData without any SignerInfo"), validation: nil))
            }
            for verification in verifications {
                let description = signed.describeSigner(verification.index)
                if let count = description?.counterSignatureCount, count > 0 {
                    counterSignatureNotes.append("\(ArchivePath.escaped(file.bytes)) signer \(verification.index) carries \(count) countersignature(s) "
                        + "(id-countersignature, RFC 5652 §11.4), which this version does not verify")
                }
                let validation = validator.validate(signature: verification, description: description,
                                                    signedData: signed, extraTimeStamps: fileTokens[file] ?? [])
                outcomes.append(SignatureOutcome(file: file, signerIndex: verification.index, verdict: validation.verdict, validation: validation))
            }
        }
        var result = DocumentResult(group: group, signatures: outcomes, documentTimeStamps: documentTokens.map { validator.validate($0) })
        result.group.notes += unreadableTokens + counterSignatureNotes
        return result
    }
}

/// How files make documents, for the repository (FORMAT.md §3).
public enum DocumentFiles {
    /// `changed` with the other files of their documents among `all` (DocumentAnalyzer.groupClosure).
    public static func closure(of changed: Set<ArchivePath>, among all: [ArchivePath]) -> Set<ArchivePath> {
        DocumentAnalyzer.groupClosure(of: changed, among: all)
    }

    /// Whether a file's name makes it a possible signature or time-stamp file.
    public static func mayTakePart(_ name: ArchivePath) -> Bool { DocumentAnalyzer.mayTakePart(name) }

    /// The names a signature or time-stamp file could cover. The closure of any set of names
    /// among all the files is the same among only the files that may take part and the files
    /// such names could cover (with the other names of the set added as they are): the rest
    /// belong to no document but their own.
    public static func possibleBases(_ name: ArchivePath) -> [ArchivePath] { DocumentAnalyzer.possibleBases(name) }
}
