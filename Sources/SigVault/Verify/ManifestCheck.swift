import EvidenceRecords
import ArchiveIO
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// Verify's second phase: the members against the manifest (names, order, sizes, digests, mode,
/// modification time, link targets, safe names). The manifest's own checks are ManifestReader's.
extension Verifier {
    /// The manifest phase's outcome: the fingerprint (nil when the manifest is not the intact last
    /// member), the member lines, and the scanned entries other than the manifest itself.
    struct ManifestCheck {
        var fingerprint: String?
        var listed: [ListedMember]
        var scanned: ArraySlice<ScannedEntry>
    }

    /// The manifest: the last entry, hashed against the trailer, its own problems, then every member
    /// against it.
    func checkManifest(_ scan: Scan, reader: ArchiveReader, problem: Problems.Sink) -> ManifestCheck {
        var fingerprint: String?
        let listed = scan.manifest?.listed ?? []
        if let manifestEntry = scan.entries.last, manifestEntry.path == ArchivePath(ArchiveLayout.manifestName), !manifestEntry.damaged,
           let manifest = scan.manifest {
            fingerprint = Hex.encode(manifestEntry.sha256.bytes)
            if let trailer = reader.trailer, Digest32(trailer.manifestSHA256) != manifestEntry.sha256 {
                problem(.manifest, ArchiveLayout.manifestName, "the manifest's SHA-256 does not match the trailer")
            }
            for message in manifest.problems { problem(.manifest, ArchiveLayout.manifestName, message) }
        } else {
            problem(.manifest, ArchiveLayout.manifestName, "the manifest cannot be read: the archive does not end with an intact manifest member")
        }
        // Only the last entry is the manifest; another entry of that name is an extra member.
        // A slice: the entries are not copied.
        var scanned = scan.entries[...]
        if scanned.last?.path == ArchivePath(ArchiveLayout.manifestName) { scanned = scanned.dropLast() }
        if fingerprint != nil { compare(manifest: listed, scanned: scanned, problem: problem) }
        return ManifestCheck(fingerprint: fingerprint, listed: listed, scanned: scanned)
    }

    func compare(manifest: [ListedMember], scanned: ArraySlice<ScannedEntry>, problem: Problems.Sink) {
        // The usual case, everything in order, equal and unique, needs no more tables.
        var names = Set<ArchivePath>()
        names.reserveCapacity(scanned.count)
        let unique = scanned.allSatisfy { names.insert($0.path).inserted }
        if unique, manifest.count == scanned.count,
           zip(manifest, scanned).allSatisfy({ $0.path == $1.path && $0.indexedSize == $1.size && $0.indexedSHA256 == $1.sha256 && !$1.damaged
                                              && $0.symlinkTarget == $1.symlinkTarget && ($1.isRegular || $1.symlinkTarget != nil)
                                              && $0.metadataMatches($1) }) {
            for entry in scanned where !entry.path.isSafeRelative {
                problem(.unsafe, entry.path.description, "member name \(entry.path) is not a safe relative path")
            }
            return
        }
        var listed: [ArchivePath: ListedMember] = [:]
        var order: [ArchivePath] = []
        for member in manifest {
            let path = member.path
            if listed[path] != nil { problem(.duplicated, path.description, "the manifest lists \(path) twice") }
            listed[path] = member
            order.append(path)
        }
        var seen: [ArchivePath: Int] = [:]
        for entry in scanned { seen[entry.path, default: 0] += 1 }
        for (path, count) in seen.sorted(by: { $0.key < $1.key }) where count > 1 {
            problem(.duplicated, path.description, "member \(path) appears \(count) times in the archive")
        }
        for entry in scanned where listed[entry.path] == nil {
            problem(.extra, entry.path.description, "member \(entry.path) is in the archive but not in the manifest")
        }
        for path in order where seen[path] == nil {
            problem(.missing, path.description, "member \(path) is in the manifest but not in the archive")
        }
        var reported: Set<ArchivePath> = []
        for entry in scanned {
            guard let member = listed[entry.path], !reported.contains(entry.path), !entry.damaged else { continue }
            reported.insert(entry.path)
            if member.indexedSize != entry.size || member.indexedSHA256 != entry.sha256 {
                problem(.content, entry.path.description, "member \(entry.path) does not match its size and SHA-256 in the manifest")
            }
            if !member.metadataMatches(entry) {
                problem(.content, entry.path.description, "member \(entry.path): its mode or modification time in the tar header differs from the manifest")
            }
            if member.symlinkTarget != entry.symlinkTarget {
                problem(.content, entry.path.description, "member \(entry.path): its link target (or its being a link) differs from the manifest")
            }
            if !entry.isRegular && entry.symlinkTarget == nil {
                problem(.unsafe, entry.path.description, "member \(entry.path) is neither a regular file nor a symbolic link")
            }
            if !entry.path.isSafeRelative || entry.path.hasPrefix("/") {
                problem(.unsafe, entry.path.description, "member name \(entry.path) is not a safe relative path")
            }
        }
        let scannedOrder = scanned.map(\.path).filter { listed[$0] != nil }
        let manifestOrder = order.filter { seen[$0] != nil }
        if Set(scannedOrder).count == scannedOrder.count, scannedOrder != manifestOrder {
            for (a, b) in zip(scannedOrder, manifestOrder) where a != b {
                problem(.reordered, a.description, "member \(a) is out of order (the manifest expects \(b) here)")
                break
            }
        }
    }
}
