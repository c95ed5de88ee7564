import SwiftASN1

/// RFC 4998 §3 (module ERS, IMPLICIT TAGS):
///
///     EvidenceRecord ::= SEQUENCE {
///        version                   INTEGER { v1(1) } ,
///        digestAlgorithms          SEQUENCE OF AlgorithmIdentifier,
///        cryptoInfos               [0] CryptoInfos OPTIONAL,
///        encryptionInfo            [1] EncryptionInfo OPTIONAL,
///        archiveTimeStampSequence  ArchiveTimeStampSequence
///     }
///
///     ArchiveTimeStampSequence ::= SEQUENCE OF ArchiveTimeStampChain
///
/// `cryptoInfos` and `encryptionInfo` are kept as their DER encoding (SigVault neither writes nor
/// interprets them; a record with `encryptionInfo` covers encrypted data it cannot check).
public struct EvidenceRecord: DERImplicitlyTaggable, Hashable, Sendable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public var version: Int
    public var digestAlgorithms: [DigestAlgorithmIdentifier]
    public var cryptoInfos: [UInt8]?
    public var encryptionInfo: [UInt8]?
    public var archiveTimeStampSequence: [ArchiveTimeStampChain]

    public init(digestAlgorithms: [DigestAlgorithmIdentifier], archiveTimeStampSequence: [ArchiveTimeStampChain]) {
        self.version = 1
        self.digestAlgorithms = digestAlgorithms
        self.archiveTimeStampSequence = archiveTimeStampSequence
    }

    public init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(rootNode, identifier: identifier) { nodes in
            let version = try Int(derEncoded: &nodes)
            guard version == 1 else { throw ASN1Error.invalidASN1Object(reason: "EvidenceRecord version \(version), not 1") }
            let algorithms = try DER.sequence(of: DigestAlgorithmIdentifier.self, identifier: .sequence, nodes: &nodes)
            let crypto = DER.optionalImplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { Array($0.encodedBytes) }
            let encryption = DER.optionalImplicitlyTagged(&nodes, tagNumber: 1, tagClass: .contextSpecific) { Array($0.encodedBytes) }
            guard let sequenceNode = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "EvidenceRecord without archiveTimeStampSequence") }
            let chains = try DER.sequence(of: ArchiveTimeStampChain.self, identifier: .sequence, rootNode: sequenceNode)
            var record = EvidenceRecord(digestAlgorithms: algorithms, archiveTimeStampSequence: chains)
            record.cryptoInfos = crypto
            record.encryptionInfo = encryption
            return record
        }
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(version)
            try coder.serializeSequenceOf(digestAlgorithms)
            if let cryptoInfos { coder.serializeRawBytes(cryptoInfos) }
            if let encryptionInfo { coder.serializeRawBytes(encryptionInfo) }
            try coder.serializeSequenceOf(archiveTimeStampSequence)
        }
    }

    /// Parses a DER-encoded record.
    public init(der: [UInt8]) throws {
        self = try EvidenceRecord(derEncoded: der[...])
    }

    /// The DER encoding.
    public var der: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }

    /// The DER encoding of an ArchiveTimeStampSequence holding the first `count` chains: what a
    /// hash-tree renewal hashes (RFC 4998 §5.2, "ha(i)").
    public func sequenceDER(chains count: Int) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serializeSequenceOf(archiveTimeStampSequence.prefix(count))
        return serializer.serializedBytes
    }
}

/// RFC 4998 §5.1:
///
///     ArchiveTimeStampChain ::= SEQUENCE OF ArchiveTimeStamp
public struct ArchiveTimeStampChain: DERImplicitlyTaggable, Hashable, Sendable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public var archiveTimeStamps: [ArchiveTimeStamp]

    public init(_ archiveTimeStamps: [ArchiveTimeStamp]) { self.archiveTimeStamps = archiveTimeStamps }

    public init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        archiveTimeStamps = try DER.sequence(of: ArchiveTimeStamp.self, identifier: identifier, rootNode: rootNode)
        guard !archiveTimeStamps.isEmpty else { throw ASN1Error.invalidASN1Object(reason: "empty ArchiveTimeStampChain") }
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.serializeSequenceOf(archiveTimeStamps, identifier: identifier)
    }
}

/// RFC 4998 §4.1:
///
///     ArchiveTimeStamp ::= SEQUENCE {
///       digestAlgorithm [0] AlgorithmIdentifier OPTIONAL,
///       attributes      [1] Attributes OPTIONAL,
///       reducedHashtree [2] SEQUENCE OF PartialHashtree OPTIONAL,
///       timeStamp       ContentInfo}
///
///     PartialHashtree ::= SEQUENCE OF OCTET STRING
///
/// `attributes` is kept as its DER encoding; `timeStamp` as the DER of the ContentInfo, exactly as
/// read (time-stamp renewal hashes those bytes).
public struct ArchiveTimeStamp: DERImplicitlyTaggable, Hashable, Sendable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public var digestAlgorithm: DigestAlgorithmIdentifier?
    public var attributes: [UInt8]?
    /// The partial hash trees, leaf level first; each is a list of hash values.
    public var reducedHashtree: [[[UInt8]]]?
    public var timeStamp: [UInt8]

    public init(digestAlgorithm: DigestAlgorithmIdentifier?, reducedHashtree: [[[UInt8]]]?, timeStamp: [UInt8]) {
        self.digestAlgorithm = digestAlgorithm
        self.reducedHashtree = reducedHashtree
        self.timeStamp = timeStamp
    }

    public init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(rootNode, identifier: identifier) { nodes in
            let algorithm = try DER.optionalImplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { node in
                try DigestAlgorithmIdentifier(derEncoded: node, withIdentifier: node.identifier)
            }
            let attributes = DER.optionalImplicitlyTagged(&nodes, tagNumber: 1, tagClass: .contextSpecific) { Array($0.encodedBytes) }
            let tree = try DER.optionalImplicitlyTagged(&nodes, tagNumber: 2, tagClass: .contextSpecific) { node -> [[[UInt8]]] in
                try DER.sequence(of: PartialHashtree.self, identifier: node.identifier, rootNode: node).map(\.hashes)
            }
            guard let timeStampNode = nodes.next(), timeStampNode.identifier == .sequence else {
                throw ASN1Error.invalidASN1Object(reason: "ArchiveTimeStamp without its timeStamp ContentInfo")
            }
            var stamp = ArchiveTimeStamp(digestAlgorithm: algorithm, reducedHashtree: tree, timeStamp: Array(timeStampNode.encodedBytes))
            stamp.attributes = attributes
            return stamp
        }
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            if let digestAlgorithm {
                try coder.serializeOptionalImplicitlyTagged(digestAlgorithm,
                                                            withIdentifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific))
            }
            if let attributes { coder.serializeRawBytes(attributes) }
            if let reducedHashtree {
                try coder.serializeSequenceOf(reducedHashtree.map(PartialHashtree.init),
                                              identifier: ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific))
            }
            coder.serializeRawBytes(timeStamp)
        }
    }
}

/// `PartialHashtree ::= SEQUENCE OF OCTET STRING`
struct PartialHashtree: DERImplicitlyTaggable, Hashable, Sendable {
    static var defaultIdentifier: ASN1Identifier { .sequence }
    var hashes: [[UInt8]]

    init(_ hashes: [[UInt8]]) { self.hashes = hashes }

    init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        hashes = try DER.sequence(of: ASN1OctetString.self, identifier: identifier, rootNode: rootNode).map { Array($0.bytes) }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.serializeSequenceOf(hashes.map { ASN1OctetString(contentBytes: $0[...]) }, identifier: identifier)
    }
}

/// An AlgorithmIdentifier naming a hash function (RFC 5280 §4.1.1.2), parameters absent or NULL.
public struct DigestAlgorithmIdentifier: DERImplicitlyTaggable, Hashable, Sendable {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    public var algorithm: ASN1ObjectIdentifier
    /// Whether the parameters field holds an explicit NULL (both forms occur; DER keeps what was read).
    public var nullParameters: Bool

    public init(algorithm: ASN1ObjectIdentifier, nullParameters: Bool = true) {
        self.algorithm = algorithm
        self.nullParameters = nullParameters
    }

    public init(derEncoded rootNode: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(rootNode, identifier: identifier) { nodes in
            let algorithm = try ASN1ObjectIdentifier(derEncoded: &nodes)
            var null = false
            if let parameters = nodes.next() {
                guard parameters.identifier == .null else {
                    throw ASN1Error.invalidASN1Object(reason: "digest AlgorithmIdentifier with parameters other than NULL")
                }
                null = true
            }
            return DigestAlgorithmIdentifier(algorithm: algorithm, nullParameters: null)
        }
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(algorithm)
            if nullParameters { try coder.serialize(ASN1Null()) }
        }
    }

    /// The dotted OID.
    public var oid: String { algorithm.description }
}
