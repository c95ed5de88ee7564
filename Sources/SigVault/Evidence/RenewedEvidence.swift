import ArchiveIO
import EvidenceRecords
import Foundation
import OpenSSLBridge
import SigVaultFormat
import SigVaultValidation

/// A repository archive's renewed evidence (docs/FORMAT.md §11, "Renewed evidence"): archives are
/// write-once objects, so `renew --repo` stores an archive's renewed evidence section as a new
/// object beside it, `<archive>.evidence-<n>`, rather than rewriting the archive. The object is the
/// evidence frame exactly as §10 places it in an archive, then a binding frame (skippable, variant
/// 0xE, 80 bytes): `SVRENEW1`, `n` (u64), the archive's fingerprint and the SHA-256 of the evidence
/// frame. Readers given the repository use the newest such object instead of the archive's own
/// section.
public enum RenewedEvidence {
    static let bindingVariant: UInt32 = 0xE
    static let bindingMagic = Array("SVRENEW1".utf8)
    static let bindingSize = 80

    /// The object name of an archive's `number`th renewal.
    public static func objectName(archive: String, number: Int) -> String { "\(archive).evidence-\(number)" }

    /// The largest renewed evidence object read (an evidence section is far smaller).
    public static let maximumSize: off_t = 256 << 20

    /// For an object name `<archive>.evidence-<n>` (1 ≤ n < 1,000,000): the archive's name and `n`.
    public static func parse(objectName name: String) -> (archive: String, number: Int)? {
        guard let range = name.range(of: ".evidence-", options: .backwards),
              let number = Int(name[range.upperBound...]), number > 0, number < 1_000_000, String(number) == name[range.upperBound...] else { return nil }
        return (String(name[..<range.lowerBound]), number)
    }

    /// The object's bytes for an evidence section `payload` (§10) of the archive with `fingerprint`.
    public static func encode(payload: [UInt8], fingerprint: [UInt8], number: Int) -> [UInt8] {
        let frame = ZstdFrames.skippableFrame(variant: Trailer.evidenceSkippableVariant, payload: payload)
        var binding = bindingMagic
        withUnsafeBytes(of: UInt64(number).littleEndian) { binding += $0 }
        binding += fingerprint + Hasher.digest(frame)
        return frame + ZstdFrames.skippableFrame(variant: bindingVariant, payload: binding)
    }

    /// The evidence payload of an object, checked: both frames whole and nothing after them, the
    /// binding's magic, number and fingerprint the expected ones, the frame's SHA-256 the binding's.
    public static func decode(_ bytes: [UInt8], fingerprint: [UInt8], number: Int, name: String) throws -> [UInt8] {
        func broken(_ why: String) -> SigVaultError { SigVaultError(.integrity, "\(name): not the renewed evidence of this archive: \(why)") }
        let evidenceHead = ZstdFrames.skippableFrame(variant: Trailer.evidenceSkippableVariant, payload: [])
        let bindingHead = ZstdFrames.skippableFrame(variant: bindingVariant, payload: [])
        guard bytes.count >= 8 + 8 + bindingSize, Array(bytes[0..<4]) == Array(evidenceHead[0..<4]) else { throw broken("it does not start with an evidence frame") }
        let length = Int(UInt64(littleEndian: bytes, at: 4, width: 4))
        let frameEnd = 8 + length
        guard frameEnd + 8 + bindingSize == bytes.count, Array(bytes[frameEnd..<(frameEnd + 4)]) == Array(bindingHead[0..<4]),
              UInt64(littleEndian: bytes, at: frameEnd + 4, width: 4) == UInt64(bindingSize) else {
            throw broken("its frames do not fill it: an evidence frame, then an 80-byte binding frame, nothing else")
        }
        let binding = Array(bytes[(frameEnd + 8)...])
        guard Array(binding[0..<8]) == bindingMagic else { throw broken("its binding frame does not start with SVRENEW1") }
        guard UInt64(littleEndian: binding, at: 8, width: 8) == UInt64(number) else { throw broken("its binding names another renewal number") }
        guard Array(binding[16..<48]) == fingerprint else { throw broken("its binding names archive fingerprint \(Hex.encode(binding[16..<48]))") }
        guard Array(binding[48..<80]) == Hasher.digest(Array(bytes[0..<frameEnd])) else { throw broken("its evidence frame does not match its SHA-256 in the binding") }
        return Array(bytes[8..<frameEnd])
    }
}

/// An archive's fingerprint from its trailer alone, its last 168 bytes (nil when they are not a
/// trailer whose self-checksum holds).
public enum ArchiveFingerprint {
    public static func of(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SigVaultError(.archiveRead, "\(path): cannot open: \(POSIX.errorText)") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size >= off_t(Trailer.frameSize) else { return nil }
        let frame = try POSIX.readAt(fd, offset: UInt64(info.st_size) - UInt64(Trailer.frameSize), count: Trailer.frameSize, path: path, code: .archiveRead)
        guard frame.count == Trailer.frameSize, let trailer = try? Trailer.decode(Array(frame[8...]), sha256: { Hasher.digest($0) }) else { return nil }
        return trailer.manifestSHA256
    }
}

extension ArchiveLocator {
    /// The default: no renewed evidence.
    public func renewedEvidence(forArchive name: String, fingerprint: [UInt8]) throws -> (payload: [UInt8], object: String)? { nil }
    public func renewedEvidence(forArchive name: String, fingerprint: [UInt8], skippingDamaged: Bool) throws -> (payload: [UInt8], object: String)? {
        try renewedEvidence(forArchive: name, fingerprint: fingerprint)
    }
    public func newestRenewedEvidenceObject(ofArchive name: String) throws -> String? { nil }
    public func revocationMaterial() throws -> [(kind: EvidencePool.MaterialKind, der: [UInt8])] { [] }
}

/// An archive's newest archive time-stamp and until when it protects the archive (its TSA chain's
/// expiry or its hash algorithm's sunset, the earlier: what `renew --before` counts from).
public struct ArchiveProtection: Sendable {
    public let genTime: Date
    public let renewBefore: Date?
    /// The renewed evidence object it comes from, if it is not the archive's own section.
    public let object: String?
}

/// Reads archives' protection with one set of trust anchors, loaded once.
public final class ProtectionReader: @unchecked Sendable {
    let anchors: TrustAnchors
    let locator: (any ArchiveLocator)?

    public init(trust: [String], locator: (any ArchiveLocator)?) throws {
        anchors = try MaterialLoader.anchors(trust).0
        self.locator = locator
    }

    /// Nil for an archive without an archive time-stamp (or whose newest token does not read).
    public func protection(ofArchive path: String) throws -> ArchiveProtection? {
        let reader = try ArchiveReader(path: path)
        guard reader.layoutProblem == nil else { return nil }
        if let locator { reader.resolver = ReferenceResolver(locator: locator) }
        guard let evidence = try reader.evidence(), let chain = evidence.template.archiveTimeStampSequence.last,
              let newest = chain.archiveTimeStamps.last, let token = try? TimeStampToken(responseOrToken: newest.timeStamp) else { return nil }
        let algorithm = (chain.archiveTimeStamps.first?.digestAlgorithm).flatMap { HashAlgorithm(openSSLName: $0.oid) } ?? .sha256
        return ArchiveProtection(genTime: token.genTime, renewBefore: Renewer.protectedUntil(token, algorithm: algorithm, anchors: anchors),
                                 object: try reader.renewedEvidenceObject())
    }
}


/// The repository's backup with `--fetch-revocation`: for each archive's newest archive time-stamp
/// (renewed evidence included), its TSA chain and the revocation data about it fetched now (issued
/// after its genTime), so that the night's archive carries what shows those TSAs sound and `verify
/// --repo` stays complete offline.
public enum TimeStampStatus {
    /// `settled`: the archives whose newest time-stamp's TSA chain the repository's data, with what
    /// was fetched, settles at its genTime (nothing will need fetching for them again).
    public static func fetch(archives: [String], locator: any ArchiveLocator, trust: [String], settings: FetchSettings)
        throws -> (material: [(kind: EvidencePool.MaterialKind, der: [UInt8])], warnings: [String], settled: [String]) {
        var settled: [String] = []
        let anchors = try MaterialLoader.anchors(trust).0
        let fetcher = RevocationFetcher(anchors: anchors, settings: settings)
        var material: [(kind: EvidencePool.MaterialKind, der: [UInt8])] = []
        var seen = Set<[UInt8]>()
        var tokens = Set<[UInt8]>()
        // What the repository holds already: a token whose TSA chain it settles at genTime needs nothing.
        let known = EvidencePool()
        for item in try locator.revocationMaterial() { _ = try? known.add(item.der, as: item.kind, external: false) }
        for path in archives {
            let reader = try ArchiveReader(path: path)
            guard reader.layoutProblem == nil else { continue }
            reader.resolver = ReferenceResolver(locator: locator)
            guard let evidence = try? reader.evidence(), let newest = evidence.template.archiveTimeStampSequence.last?.archiveTimeStamps.last,
                  let token = try? TimeStampToken(responseOrToken: newest.timeStamp), tokens.insert(token.der).inserted else { continue }
            let untrusted = evidence.material.filter { $0.kind == .certificate }.compactMap { try? Certificate(der: $0.der) }
            if let tsa = token.signerCertificate(extra: []) {
                let built = ChainBuilder.build(leaf: tsa, untrusted: token.certificates + untrusted, anchors: anchors,
                                               purpose: .timeStamping, at: nil, allowPartialChain: false)
                let pool = EvidencePool()
                pool.add(contentsOf: known)
                for item in evidence.material where item.kind != .certificate { _ = try? pool.add(item.der, as: item.kind.materialKind) }
                if built.ok && Renewer.unsettled(built.chain, at: token.genTime, pool: pool, anchors: anchors).isEmpty {
                    settled.append(path)
                    continue
                }
                let fetched = fetcher.material(forNewToken: token, anchors: anchors, untrusted: untrusted).filter { $0.kind != .certificate }
                for item in fetched {
                    _ = try? pool.add(item.der, as: item.kind.materialKind)
                    guard seen.insert(item.der).inserted else { continue }
                    material.append((item.kind == .crl ? .crl : .ocsp, item.der))
                }
                if built.ok && Renewer.unsettled(built.chain, at: token.genTime, pool: pool, anchors: anchors).isEmpty { settled.append(path) }
            }
        }
        return (material, fetcher.warnings, settled)
    }
}

extension ArchiveLocator {
    /// Reads the members `members` ((archive, tar name) pairs) of the repository's archives, each
    /// checked against its index record; nil for one that cannot be read.
    public func readMembers(_ members: [(archive: String, path: String)]) -> [[UInt8]?] {
        var out: [[UInt8]?] = []
        var readers: [String: ArchiveReader] = [:]
        for (archive, name) in members {
            guard let path = ArchivePath.unescaped(name) else { out.append(nil); continue }
            if readers[archive] == nil, let file = try? localFile(forArchive: archive), let reader = try? ArchiveReader(path: file),
               reader.layoutProblem == nil { readers[archive] = reader }
            guard let reader = readers[archive], let record = reader.record(for: path) else { out.append(nil); continue }
            out.append(try? reader.contents(of: record, limit: 64 << 20))
        }
        return out
    }
}
