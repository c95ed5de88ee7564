import Foundation
import OpenSSLBridge
import SigVaultFormat

/// Verify's reference phase (docs/FORMAT.md §4.3): every reference member's content found in its
/// repository and read there against the reference's size and SHA-256, or, without a repository,
/// said plainly (the command then exits 10).
extension Verifier {
    func checkReferences(reader: ArchiveReader, scan: Scan, listed: [ListedMember], problem: Problems.Sink) throws -> VerifyReport.References? {
        let referencing = listed.filter { $0.reference != nil }
        guard !referencing.isEmpty else {
            reader.noteReferences([:])
            return nil
        }
        // Members by name (entry i is index record i): the pairing never depends on manifest order.
        var position: [ArchivePath: Int] = [:]
        for (index, entry) in scan.entries.enumerated() where !entry.damaged {
            position[entry.path] = position[entry.path] == nil ? index : -1
        }
        var lines: [Int: ManifestMember] = [:]
        for member in referencing {
            guard let index = position[member.path], index >= 0 else { continue }
            lines[index] = member.referenceLine
        }
        reader.noteReferences(lines)
        let references = referencing.compactMap(\.reference)
        var summary = VerifyReport.References(members: referencing.count, repository: references.first?.repository ?? "",
                                              archives: Array(Set(references.map(\.archive))).sorted(), resolved: false, given: nil)
        guard let resolver = reader.resolver, scan.indexUsable else { return summary }
        // References into another repository than the one given are as good as unresolved (exit
        // 10), not damage: the content was not checked.
        // Those into the repository given are checked; any into another leaves the whole
        // unresolved (the report names the repository given).
        let foreign = references.contains { $0.repository != resolver.repositoryID }
        if foreign { summary.given = resolver.repositoryID }
        for index in lines.keys.sorted() where lines[index]?.reference?.repository == resolver.repositoryID {
            let name = lines[index]!.path
            do {
                _ = try reader.location(ofMember: index).extract { _ in }
            } catch let error as SigVaultError where error.stopsTheRun {
                throw error
            } catch let error as SigVaultError {
                problem(.reference, name, error.message)
            } catch {
                problem(.reference, name, "\(name): \(error)")
            }
        }
        summary.resolved = !foreign
        return summary
    }
}
