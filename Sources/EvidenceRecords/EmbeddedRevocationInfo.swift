import SwiftASN1

/// OCSP responses a CMS SignedData carries in its `crls` field as other revocation information
/// (RFC 5652 §10.2.1, RFC 5940 §2.2), which OpenSSL 3.0 parses but does not expose. Time-stamp
/// tokens, archive time-stamps among them, carry their TSA's revocation data this way.
///
///     RevocationInfoChoice ::= CHOICE {
///       crl CertificateList,
///       other [1] IMPLICIT OtherRevocationInfoFormat }
///
///     OtherRevocationInfoFormat ::= SEQUENCE {
///       otherRevInfoFormat OBJECT IDENTIFIER,
///       otherRevInfo ANY DEFINED BY otherRevInfoFormat }
public enum EmbeddedRevocationInfo {
    /// id-ri-ocsp-response: the value is an OCSPResponse.
    static let ocspResponseFormat: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 16, 2]
    /// id-pkix-ocsp-basic: the value is a BasicOCSPResponse (seen in time-stamp tokens).
    static let basicResponseFormat: ASN1ObjectIdentifier = [1, 3, 6, 1, 5, 5, 7, 48, 1, 1]

    /// The DER of each OCSPResponse in the `crls` of the SignedData in the ContentInfo `der`; a
    /// BasicOCSPResponse is wrapped into a successful OCSPResponse. Anything that does not parse
    /// gives no response.
    public static func ocspResponses(inContentInfo der: [UInt8]) -> [[UInt8]] {
        guard let contentInfo = try? DER.parse(der), case .constructed(let top) = contentInfo.content else { return [] }
        var topNodes = top.makeIterator()
        guard topNodes.next()?.identifier == .objectIdentifier, let explicit = topNodes.next(),
              explicit.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
              case .constructed(let wrapped) = explicit.content, let signedData = wrapped.first(where: { _ in true }),
              case .constructed(let fields) = signedData.content else { return [] }
        let crlsTag = ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)
        guard let crls = fields.first(where: { $0.identifier == crlsTag }), case .constructed(let choices) = crls.content else { return [] }
        var responses: [[UInt8]] = []
        for choice in choices where choice.identifier == crlsTag {
            guard case .constructed(let parts) = choice.content else { continue }
            var iterator = parts.makeIterator()
            guard let formatNode = iterator.next(), let format = try? ASN1ObjectIdentifier(derEncoded: formatNode),
                  let value = iterator.next() else { continue }
            if format == ocspResponseFormat {
                responses.append(Array(value.encodedBytes))
            } else if format == basicResponseFormat, let wrapped = try? wrapBasic(Array(value.encodedBytes)) {
                responses.append(wrapped)
            }
        }
        return responses
    }

    /// OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED { successful (0) },
    ///   responseBytes [0] EXPLICIT SEQUENCE { responseType OID, response OCTET STRING } }
    private static func wrapBasic(_ basic: [UInt8]) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            coder.appendPrimitiveNode(identifier: .enumerated) { $0.append(0) }
            try coder.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { coder in
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try coder.serialize(basicResponseFormat)
                    try coder.serialize(ASN1OctetString(contentBytes: basic[...]))
                }
            }
        }
        return serializer.serializedBytes
    }
}
