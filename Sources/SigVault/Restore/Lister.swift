import Foundation
import SigVaultFormat

public struct ListedDocument: Codable, Sendable {
    public var path: String
    public var signed: Bool
    public var size: Int64
    public var sha256: String
    public var signers: [String]
    /// Earliest genTime of the time-stamps pack recorded over its signatures (not re-validated).
    public var provenTime: String?
    public var packIndication: String?
    public var packSubIndication: String?

    /// Absent values are written as JSON null, as in `verify --json`.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(path, forKey: .path)
        try container.encode(signed, forKey: .signed)
        try container.encode(size, forKey: .size)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(signers, forKey: .signers)
        try container.encode(provenTime, forKey: .provenTime)
        try container.encode(packIndication, forKey: .packIndication)
        try container.encode(packSubIndication, forKey: .packSubIndication)
    }
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
