import Foundation
import SigVaultFormat

public struct ListedDocument: Codable, Sendable {
    public var path: String
    public var signed: Bool
    public var size: Int64
    public var sha256: String
    public var signers: [String]
    /// Earliest genTime of the time-stamps pack recorded over its signatures (not re-validated).
    @NullEncoded public var provenTime: String?
    @NullEncoded public var packIndication: String?
    @NullEncoded public var packSubIndication: String?

}

public struct ListReport: Codable, Sendable {
    public var archive: String
    public var fingerprint: String
    public var documents: [ListedDocument]
}

/// `sigvault list`: what the manifest says, without extracting anything.
public struct Lister {
    let archive: String
    public init(archive: String) { self.archive = archive }

    public func run() throws -> ListReport {
        let reader = try ArchiveReader(path: archive)
        if let problem = reader.layoutProblem { throw SigVaultError(.invalidInput, "\(archive): \(problem)") }
        var documents: [ListedDocument] = []
        let digest = try reader.forEachManifestLine { line in
            guard case .member(let member)? = try? ManifestLine.decode(line), member.role == .document,
                  let path = member.archivePath else { return }
            let record = member.document
            let times = (record?.signatures ?? []).flatMap { $0.timeStamps }.filter { $0.valid != false }.compactMap { $0.genTime }.sorted()
            documents.append(ListedDocument(
                path: ArchivePath.escaped(path.droppingPrefix(ArchiveLayout.dataPrefix).bytes), signed: (record?.kind ?? "unsigned") != "unsigned",
                size: member.size, sha256: member.sha256, signers: (record?.signatures ?? []).compactMap(\.signer),
                provenTime: times.first, packIndication: record?.packIndication, packSubIndication: record?.packSubIndication))
        }
        if let trailer = reader.trailer, trailer.manifestSHA256 != digest {
            throw SigVaultError(.integrityOrFailed, "\(archive): the manifest does not match the trailer; run sigvault verify")
        }
        return ListReport(archive: archive, fingerprint: digest.map { String(format: "%02x", $0) }.joined(), documents: documents)
    }
}
