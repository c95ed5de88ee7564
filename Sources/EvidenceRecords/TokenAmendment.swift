import SwiftASN1

/// Adds validation material to a time-stamp token before it is renewed (RFC 4998 §5.2: the
/// verification data of the time-stamp to be renewed goes into its `timeStamp` field, which the new
/// archive time-stamp then covers). Certificates go into the SignedData's `certificates`, CRLs and
/// OCSP responses into its `crls` (an OCSP response as other revocation information of format
/// id-ri-ocsp-response, RFC 5940 §2.2). Neither field is under the token's signature, so the token
/// still verifies; nothing already there is changed or removed.
public enum TokenAmendment {
    static let ocspResponseFormat: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 16, 2]

    public enum AmendmentError: Error, CustomStringConvertible {
        case notASignedData(String)
        public var description: String { if case .notASignedData(let text) = self { return text }; return "" }
    }

    /// The token `contentInfo` with `certificates`, `crls` (CertificateList DER) and
    /// `ocspResponses` (OCSPResponse DER) added; items already present (same bytes) are not added
    /// twice.
    public static func adding(certificates: [[UInt8]], crls: [[UInt8]], ocspResponses: [[UInt8]], to contentInfo: [UInt8]) throws -> [UInt8] {
        guard let root = try? DER.parse(contentInfo), root.identifier == .sequence, case .constructed(let top) = root.content else {
            throw AmendmentError.notASignedData("the token is not a DER ContentInfo")
        }
        var topNodes = top.makeIterator()
        guard let contentType = topNodes.next(), contentType.identifier == .objectIdentifier, let explicit = topNodes.next(),
              explicit.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
              case .constructed(let wrapped) = explicit.content, let signedData = wrapped.first(where: { _ in true }),
              signedData.identifier == .sequence, case .constructed(let fields) = signedData.content else {
            throw AmendmentError.notASignedData("the token is not a SignedData")
        }
        let certificatesTag = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
        let crlsTag = ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)
        var version: ASN1Node?
        var before: [ASN1Node] = []      // digestAlgorithms, encapContentInfo
        var existingCertificates: [[UInt8]] = []
        var existingCRLs: [[UInt8]] = []
        var after: [ASN1Node] = []       // signerInfos
        for field in fields {
            if version == nil { version = field; continue }
            if field.identifier == certificatesTag {
                if case .constructed(let items) = field.content { existingCertificates = items.map { Array($0.encodedBytes) } }
            } else if field.identifier == crlsTag {
                if case .constructed(let items) = field.content { existingCRLs = items.map { Array($0.encodedBytes) } }
            } else if field.identifier == .set && after.isEmpty && before.count == 2 {
                after.append(field)
            } else {
                before.append(field)
            }
        }
        guard let version, before.count == 2, after.count == 1 else { throw AmendmentError.notASignedData("the token's SignedData has unexpected fields") }

        var allCertificates = existingCertificates
        for certificate in certificates where !allCertificates.contains(certificate) { allCertificates.append(certificate) }
        var allCRLs = existingCRLs
        for crl in crls where !allCRLs.contains(crl) { allCRLs.append(crl) }
        var addedOther = false
        for response in ocspResponses {
            var serializer = DER.Serializer()
            try serializer.appendConstructedNode(identifier: crlsTag) { coder in
                try coder.serialize(ocspResponseFormat)
                coder.serializeRawBytes(response)
            }
            let choice = serializer.serializedBytes
            if !allCRLs.contains(choice) {
                allCRLs.append(choice)
                addedOther = true
            }
        }

        // DER orders a SET OF by its elements' encodings.
        func sorted(_ items: [[UInt8]]) -> [UInt8] { items.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 } }
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            coder.serializeRawBytes(contentType.encodedBytes)
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    // RFC 5652 §5.1: other revocation information makes the SignedData version 5.
                    if addedOther { try coder.serialize(5) } else { coder.serializeRawBytes(version.encodedBytes) }
                    for node in before { coder.serializeRawBytes(node.encodedBytes) }
                    if !allCertificates.isEmpty {
                        coder.appendConstructedNode(identifier: certificatesTag) { $0.serializeRawBytes(sorted(allCertificates)) }
                    }
                    if !allCRLs.isEmpty {
                        coder.appendConstructedNode(identifier: crlsTag) { $0.serializeRawBytes(sorted(allCRLs)) }
                    }
                    for node in after { coder.serializeRawBytes(node.encodedBytes) }
                }
            }
        }
        return serializer.serializedBytes
    }
}
