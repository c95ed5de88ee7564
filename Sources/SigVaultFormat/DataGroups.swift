/// The data groups an archive time-stamp covers (docs/FORMAT.md §10): each document with its
/// signature and time-stamp files and the validation material its record names is one data group
/// (RFC 4998 §4.2); the manifest is one more.
public enum DataGroups {
    /// The archive paths of a document's data group: the document, then its files and material in
    /// name order, each once.
    public static func members(ofDocument document: ArchivePath, record: DocumentRecord?) -> [ArchivePath] {
        guard let record else { return [document] }
        var names = Set<ArchivePath>()
        for file in record.files { if let path = ArchivePath.unescaped(file) { names.insert(path) } }
        func material(chain: [String], crls: [String], ocsp: [String]) {
            for hex in chain { names.insert(ArchivePath("evidence/certificates/\(hex).der")) }
            for hex in crls { names.insert(ArchivePath("evidence/crls/\(hex).crl")) }
            for hex in ocsp { names.insert(ArchivePath("evidence/ocsp/\(hex).der")) }
        }
        for signature in record.signatures {
            material(chain: signature.chain, crls: signature.crls, ocsp: signature.ocsp)
            for stamp in signature.timeStamps { material(chain: stamp.tsaChain, crls: stamp.crls, ocsp: stamp.ocsp) }
        }
        for stamp in record.documentTimeStamps { material(chain: stamp.tsaChain, crls: stamp.crls, ocsp: stamp.ocsp) }
        names.remove(document)
        return [document] + names.sorted()
    }
}
