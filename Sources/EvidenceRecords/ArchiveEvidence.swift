import SwiftASN1

/// The evidence section of a version 2 archive (docs/FORMAT.md §10): the archive time-stamps over
/// the archive's data groups, stored once for all groups. Every group's own RFC 4998 EvidenceRecord
/// is the `template` with, in the first archive time-stamp of each chain, the reduced hash tree of
/// the group's leaf in that chain's tree.
public struct ArchiveEvidence: Sendable, Equatable {
    public static let magic = Array("SVEVID01".utf8)
    public static let sectionVersion: UInt32 = 1

    /// A data group: the archive members (their positions among the index's member records) whose
    /// contents are its data objects.
    public struct Group: Sendable, Equatable {
        public var members: [UInt64]
        public init(members: [UInt64]) { self.members = members }
    }

    /// Validation material for the archive time-stamps' TSA chains.
    public struct Material: Sendable, Equatable {
        public enum Kind: UInt32, Sendable { case certificate = 1, crl = 2, ocsp = 3 }
        public var kind: Kind
        public var der: [UInt8]
        public init(kind: Kind, der: [UInt8]) {
            self.kind = kind
            self.der = der
        }
    }

    /// The record every group shares; the first archive time-stamp of each chain has no reduced
    /// hash tree here.
    public var template: EvidenceRecord
    /// One tree per chain, over one leaf per group, in group order.
    public var trees: [HashTree.Levels]
    public var groups: [Group]
    public var material: [Material]

    public init(template: EvidenceRecord, trees: [HashTree.Levels], groups: [Group], material: [Material]) {
        self.template = template
        self.trees = trees
        self.groups = groups
        self.material = material
    }

    /// Group `index`'s own EvidenceRecord. `objectHashes(chain, record)` gives the group's object
    /// hashes as chain `chain`'s tree covers them (for a later chain, each already combined with
    /// the hash of `record`'s earlier chains, which are complete when it is asked); they fill the
    /// first list of the group's reduced tree when the group has several objects.
    public func record(forGroup index: Int, objectHashes: (Int, EvidenceRecord) throws -> [[UInt8]]) rethrows -> EvidenceRecord {
        var record = template
        for (chain, tree) in trees.enumerated() where chain < record.archiveTimeStampSequence.count {
            let reduced = tree.reduced(forLeaf: index, objects: try objectHashes(chain, record))
            record.archiveTimeStampSequence[chain].archiveTimeStamps[0].reducedHashtree = reduced.isEmpty ? nil : reduced
        }
        return record
    }

    // MARK: Encoding (little-endian, docs/FORMAT.md §10)

    /// The payload of the evidence frame, its SHA-256 (computed by `sha256`) last.
    public func encoded(sha256: ([UInt8]) -> [UInt8]) throws -> [UInt8] {
        var out = ArchiveEvidence.magic
        let templateDER = try template.der
        append(&out, ArchiveEvidence.sectionVersion)
        append(&out, UInt32(trees.count))
        append(&out, UInt64(groups.count))
        append(&out, UInt64(templateDER.count))
        out += templateDER
        for tree in trees {
            append(&out, UInt32(tree.root.count))
            append(&out, UInt32(tree.levels.count))
            for level in tree.levels {
                append(&out, UInt64(level.count))
                for node in level { out += node }
            }
        }
        for group in groups {
            append(&out, UInt32(group.members.count))
            for member in group.members { append(&out, member) }
        }
        append(&out, UInt64(material.count))
        for item in material {
            append(&out, item.kind.rawValue)
            append(&out, UInt32(item.der.count))
            out += item.der
        }
        return out + sha256(out)
    }

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        public var description: String { if case .malformed(let text) = self { return text }; return "" }
    }

    /// Parses an evidence frame's payload, checking its SHA-256 and that every tree has one leaf per
    /// group and forms a tree.
    public static func decode(_ payload: [UInt8], sha256: ([UInt8]) -> [UInt8]) throws -> ArchiveEvidence {
        guard payload.count >= magic.count + 56, Array(payload.prefix(magic.count)) == magic else {
            throw DecodingError.malformed("the evidence section does not start with SVEVID01")
        }
        guard sha256(Array(payload.dropLast(32))) == Array(payload.suffix(32)) else {
            throw DecodingError.malformed("the evidence section does not match its SHA-256")
        }
        var reader = Reader(bytes: Array(payload.dropLast(32)), position: magic.count)
        let version = try reader.u32()
        guard version == sectionVersion else { throw DecodingError.malformed("evidence section version \(version) is not 1") }
        let chainCount = Int(try reader.u32())
        let groupCount = try reader.count64(limit: payload.count)
        let templateLength = try reader.count64(limit: payload.count)
        let template: EvidenceRecord
        do {
            template = try EvidenceRecord(der: try reader.bytes(templateLength))
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError.malformed("the evidence section's record template is not an EvidenceRecord: \(error)")
        }
        guard chainCount == template.archiveTimeStampSequence.count, chainCount > 0, groupCount > 0 else {
            throw DecodingError.malformed("the evidence section has \(chainCount) trees for \(template.archiveTimeStampSequence.count) chains and \(groupCount) groups")
        }
        var trees: [HashTree.Levels] = []
        for chain in 0..<chainCount {
            let digestLength = Int(try reader.u32())
            let levelCount = Int(try reader.u32())
            guard [20, 28, 32, 48, 64].contains(digestLength), levelCount >= 1, levelCount <= 64 else {
                throw DecodingError.malformed("tree \(chain + 1) has \(levelCount) levels of \(digestLength)-byte hashes")
            }
            var levels: [[[UInt8]]] = []
            for _ in 0..<levelCount {
                let nodes = try reader.count64(limit: payload.count / digestLength)
                var level: [[UInt8]] = []
                level.reserveCapacity(nodes)
                for _ in 0..<nodes { level.append(try reader.bytes(digestLength)) }
                levels.append(level)
            }
            guard let tree = HashTree.Levels(stored: levels), tree.levels[0].count == groupCount else {
                throw DecodingError.malformed("tree \(chain + 1) is not a hash tree over the \(groupCount) groups")
            }
            // Its hashes have the length of its chain's algorithm.
            let expectedLength = [("2.16.840.1.101.3.4.2.1", 32), ("2.16.840.1.101.3.4.2.2", 48), ("2.16.840.1.101.3.4.2.3", 64),
                                  ("2.16.840.1.101.3.4.2.4", 28), ("1.3.14.3.2.26", 20)]
                .first { $0.0 == template.archiveTimeStampSequence[chain].archiveTimeStamps.first?.digestAlgorithm?.oid }?.1
            guard expectedLength == nil || expectedLength == digestLength else {
                throw DecodingError.malformed("tree \(chain + 1) has \(digestLength)-byte hashes, not its chain's algorithm's")
            }
            trees.append(tree)
        }
        var groups: [Group] = []
        groups.reserveCapacity(groupCount)
        for _ in 0..<groupCount {
            let count = Int(try reader.u32())
            guard count > 0 else { throw DecodingError.malformed("a data group without members") }
            var members: [UInt64] = []
            for _ in 0..<count { members.append(try reader.u64()) }
            groups.append(Group(members: members))
        }
        let materialCount = try reader.count64(limit: payload.count)
        var material: [Material] = []
        for _ in 0..<materialCount {
            guard let kind = Material.Kind(rawValue: try reader.u32()) else { throw DecodingError.malformed("unknown kind of evidence material") }
            let length = Int(try reader.u32())
            material.append(Material(kind: kind, der: try reader.bytes(length)))
        }
        guard reader.position == reader.bytes.count else { throw DecodingError.malformed("the evidence section has trailing bytes") }
        return ArchiveEvidence(template: template, trees: trees, groups: groups, material: material)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position: Int

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            guard count >= 0, count <= bytes.count - position else { throw DecodingError.malformed("the evidence section is truncated") }
            defer { position += count }
            return Array(bytes[position..<(position + count)])
        }

        mutating func u32() throws -> UInt32 {
            try bytes(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64() throws -> UInt64 {
            try bytes(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// A count that cannot exceed `limit` (the section's size bounds every count).
        mutating func count64(limit: Int) throws -> Int {
            let value = try u64()
            guard value <= UInt64(limit) else { throw DecodingError.malformed("the evidence section declares \(value) items in \(limit) bytes") }
            return Int(value)
        }
    }

    private func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) {
        var little = value.littleEndian
        withUnsafeBytes(of: &little) { out.append(contentsOf: $0) }
    }
}
