#!/usr/bin/env python3
"""Read a CMS SignedData signature and add CAdES signature time-stamps to its SignerInfos.

The openssl CLI can time-stamp bytes but cannot put the token back into a SignerInfo, so
make-fixtures.sh uses this helper for that one step (and for putting an OCSP response into a
token's `crls`). Only pyasn1 is needed (no pyasn1-modules): the few CMS, RFC 5940 and OCSP types
involved are declared below. Everything the helper does not need
to look into (certificates, signed attributes, algorithm parameters, ...) is kept as raw DER
(`univ.Any`), so the signed attributes, and therefore the signature, stay byte-for-byte intact.

Commands:
  signature IN [--index N] [--out FILE]
      The value of SignerInfo #N's `signature` OCTET STRING (the bytes a CAdES signature
      time-stamp is computed over): raw to FILE, or hex on stdout.
  add IN OUT --token N=TOKEN.der [--token M=TOKEN2.der ...] [--outform DER|PEM]
      Add each token (a DER TimeStampToken, i.e. the ContentInfo that `openssl ts -reply
      -token_out` writes) to SignerInfo #N as unsigned attribute id-aa-signatureTimeStampToken
      (1.2.840.113549.1.9.16.2.14). Indexes refer to IN's SignerInfo order; note that DER sorts
      SET OF, so the order in OUT can differ (see `info`).
  extract IN [--index N] [--out FILE]
      Write the first signature time-stamp token of SignerInfo #N (DER) to FILE (or stdout).
  info IN
      One line per SignerInfo: index, signer identifier, digest, unsigned attribute types.
  add-ocsp-to-token TOKEN OCSP OUT
      Put an OCSPResponse (DER) into a TimeStampToken's SignedData `crls` field as an RFC 5940
      OtherRevocationInfoFormat entry, [1] IMPLICIT SEQUENCE { id-ri-ocsp-response
      (1.3.6.1.5.5.7.16.2), OCSPResponse }, and set the SignedData version to 5 (RFC 5652 5.1:
      required when crls holds an "other" entry). Neither field is covered by the TSA's signature,
      so the token stays valid. Everything else (including the certificates' order, which OpenSSL
      does not sort) is kept byte for byte.

IN may be DER or PEM ("-----BEGIN CMS-----" / "PKCS7"); OUT defaults to IN's format.
"""

import argparse
import base64
import re
import sys

from pyasn1.codec.der import decoder, encoder
from pyasn1.type import namedtype, tag, univ

ID_SIGNED_DATA = univ.ObjectIdentifier("1.2.840.113549.1.7.2")
ID_AA_SIGNATURE_TIME_STAMP_TOKEN = univ.ObjectIdentifier("1.2.840.113549.1.9.16.2.14")
ID_RI_OCSP_RESPONSE = univ.ObjectIdentifier("1.3.6.1.5.5.7.16.2")  # RFC 5940
ID_PKIX_OCSP_BASIC = univ.ObjectIdentifier("1.3.6.1.5.5.7.48.1.1")  # RFC 6960


def _implicit(number, constructed=True):
    fmt = tag.tagFormatConstructed if constructed else tag.tagFormatSimple
    return tag.Tag(tag.tagClassContext, fmt, number)


class AlgorithmIdentifier(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("algorithm", univ.ObjectIdentifier()),
        namedtype.OptionalNamedType("parameters", univ.Any()),
    )


class IssuerAndSerialNumber(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("issuer", univ.Any()),
        namedtype.NamedType("serialNumber", univ.Integer()),
    )


class SignerIdentifier(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("issuerAndSerialNumber", IssuerAndSerialNumber()),
        namedtype.NamedType(
            "subjectKeyIdentifier",
            univ.OctetString().subtype(implicitTag=_implicit(0, constructed=False)),
        ),
    )


class AttributeValues(univ.SetOf):
    componentType = univ.Any()


class Attribute(univ.Sequence):
    """Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }"""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attrType", univ.ObjectIdentifier()),
        namedtype.NamedType("attrValues", AttributeValues()),
    )


class SignedAttributes(univ.SetOf):
    # Kept as raw DER: the signature covers their exact encoding.
    componentType = univ.Any()


class UnsignedAttributes(univ.SetOf):
    componentType = Attribute()


class SignerInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("sid", SignerIdentifier()),
        namedtype.NamedType("digestAlgorithm", AlgorithmIdentifier()),
        namedtype.OptionalNamedType(
            "signedAttrs", SignedAttributes().subtype(implicitTag=_implicit(0))
        ),
        namedtype.NamedType("signatureAlgorithm", AlgorithmIdentifier()),
        namedtype.NamedType("signature", univ.OctetString()),
        namedtype.OptionalNamedType(
            "unsignedAttrs", UnsignedAttributes().subtype(implicitTag=_implicit(1))
        ),
    )


class SignerInfos(univ.SetOf):
    componentType = SignerInfo()


class RawSet(univ.SetOf):
    componentType = univ.Any()


class SignedData(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("digestAlgorithms", RawSet()),
        namedtype.NamedType("encapContentInfo", univ.Any()),
        namedtype.OptionalNamedType("certificates", RawSet().subtype(implicitTag=_implicit(0))),
        namedtype.OptionalNamedType("crls", RawSet().subtype(implicitTag=_implicit(1))),
        namedtype.NamedType("signerInfos", SignerInfos()),
    )


class ContentInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.NamedType(
            "content",
            SignedData().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
    )


# --- Types for `add-ocsp-to-token` (RFC 5652 10.2.1 / RFC 5940 / RFC 6960) -------------------------


class RawSequenceOf(univ.SequenceOf):
    """A constructed value whose elements are kept as raw DER, in the order they were read."""

    componentType = univ.Any()


class OtherRevocationInfoFormat(univ.Sequence):
    """OtherRevocationInfoFormat ::= SEQUENCE { otherRevInfoFormat OBJECT IDENTIFIER,
    otherRevInfo ANY DEFINED BY otherRevInfoFormat }"""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("otherRevInfoFormat", univ.ObjectIdentifier()),
        namedtype.NamedType("otherRevInfo", univ.Any()),
    )


class RevocationInfoChoice(univ.Choice):
    """RevocationInfoChoice ::= CHOICE { crl CertificateList,
    other [1] IMPLICIT OtherRevocationInfoFormat }"""

    componentType = namedtype.NamedTypes(
        # CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }: kept raw.
        namedtype.NamedType("crl", RawSequenceOf()),
        namedtype.NamedType(
            "other", OtherRevocationInfoFormat().subtype(implicitTag=_implicit(1))
        ),
    )


class RevocationInfoChoices(univ.SetOf):
    componentType = RevocationInfoChoice()


class TokenSignedData(univ.Sequence):
    """SignedData of a TimeStampToken, for editing `crls`. `certificates` is read as a tagged
    SEQUENCE OF raw elements so that their (unsorted) order survives re-encoding."""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("version", univ.Integer()),
        namedtype.NamedType("digestAlgorithms", RawSet()),
        namedtype.NamedType("encapContentInfo", univ.Any()),
        namedtype.OptionalNamedType(
            "certificates", RawSequenceOf().subtype(implicitTag=_implicit(0))
        ),
        namedtype.OptionalNamedType(
            "crls", RevocationInfoChoices().subtype(implicitTag=_implicit(1))
        ),
        namedtype.NamedType("signerInfos", RawSet()),
    )


class TokenContentInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("contentType", univ.ObjectIdentifier()),
        namedtype.NamedType(
            "content",
            TokenSignedData().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
    )


class ResponseBytes(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("responseType", univ.ObjectIdentifier()),
        namedtype.NamedType("response", univ.OctetString()),
    )


class OCSPResponse(univ.Sequence):
    """OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT
    ResponseBytes OPTIONAL }"""

    componentType = namedtype.NamedTypes(
        namedtype.NamedType("responseStatus", univ.Enumerated()),
        namedtype.OptionalNamedType(
            "responseBytes",
            ResponseBytes().subtype(
                explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0)
            ),
        ),
    )


PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def fail(message):
    sys.exit("add-signature-timestamp: error: " + message)


def read_cms(path):
    """Return (DER bytes, 'PEM'|'DER')."""
    with open(path, "rb") as f:
        data = f.read()
    match = PEM_RE.search(data)
    if match:
        if match.group(1) not in (b"CMS", b"PKCS7"):
            fail(f"{path}: unexpected PEM label {match.group(1).decode()}")
        return base64.b64decode(b"".join(match.group(2).split())), "PEM"
    return data, "DER"


def decode_cms(der, path, require_der=True):
    content_info, rest = decoder.decode(der, asn1Spec=ContentInfo())
    if rest:
        fail(f"{path}: {len(rest)} trailing bytes after the ContentInfo")
    if content_info["contentType"] != ID_SIGNED_DATA:
        fail(f"{path}: contentType {content_info['contentType']} is not id-signedData")
    # Everything we do not touch must survive a decode/encode round trip unchanged.
    if require_der and encoder.encode(content_info) != der:
        fail(f"{path}: not DER (re-encoding changes the bytes); refusing to modify it")
    return content_info


def signer_info(content_info, index, path):
    signer_infos = content_info["content"]["signerInfos"]
    if not 0 <= index < len(signer_infos):
        fail(f"{path}: no SignerInfo #{index} (it has {len(signer_infos)})")
    return signer_infos[index]


def write_output(path, data):
    if path in (None, "-"):
        sys.stdout.buffer.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def to_pem(der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CMS-----\n" + "\n".join(lines) + "\n-----END CMS-----\n").encode()


def command_signature(args):
    der, _ = read_cms(args.input)
    si = signer_info(decode_cms(der, args.input, require_der=False), args.index, args.input)
    value = bytes(si["signature"])
    if args.out:
        write_output(args.out, value)
    else:
        print(value.hex())


def command_add(args):
    der, input_format = read_cms(args.input)
    content_info = decode_cms(der, args.input)
    for spec in args.token:
        index_text, _, token_path = spec.partition("=")
        if not token_path or not index_text.isdigit():
            fail(f"--token wants N=FILE, got {spec!r}")
        with open(token_path, "rb") as f:
            token_der = f.read()
        # A TimeStampToken is a ContentInfo/SignedData. It goes in verbatim (it is signed): only
        # check that it parses. (OpenSSL's PKCS7 layer writes its certificates unsorted.)
        decode_cms(token_der, token_path, require_der=False)
        si = signer_info(content_info, int(index_text), args.input)

        attribute = Attribute()
        attribute["attrType"] = ID_AA_SIGNATURE_TIME_STAMP_TOKEN
        attribute["attrValues"].append(univ.Any(token_der))

        unsigned = si["unsignedAttrs"]  # creates the (empty) SET on first access
        unsigned.append(attribute)

    output = encoder.encode(content_info)
    out_format = (args.outform or input_format).upper()
    write_output(args.output, to_pem(output) if out_format == "PEM" else output)


def signature_time_stamp_tokens(si):
    tokens = []
    if si["unsignedAttrs"].isValue:
        for attribute in si["unsignedAttrs"]:
            if attribute["attrType"] == ID_AA_SIGNATURE_TIME_STAMP_TOKEN:
                tokens.extend(bytes(value) for value in attribute["attrValues"])
    return tokens


def command_extract(args):
    der, _ = read_cms(args.input)
    si = signer_info(decode_cms(der, args.input, require_der=False), args.index, args.input)
    tokens = signature_time_stamp_tokens(si)
    if not tokens:
        fail(f"{args.input}: SignerInfo #{args.index} has no signature time-stamp")
    write_output(args.out, tokens[0])


def command_info(args):
    der, input_format = read_cms(args.input)
    content_info = decode_cms(der, args.input, require_der=False)
    for index, si in enumerate(content_info["content"]["signerInfos"]):
        sid = si["sid"]
        if sid.getName() == "issuerAndSerialNumber":
            ident = "serial=%X" % int(sid["issuerAndSerialNumber"]["serialNumber"])
        else:
            ident = "ski=" + bytes(sid["subjectKeyIdentifier"]).hex()
        unsigned = []
        if si["unsignedAttrs"].isValue:
            unsigned = [str(a["attrType"]) for a in si["unsignedAttrs"]]
        print(
            f"#{index} {ident} digest={si['digestAlgorithm']['algorithm']} "
            f"signature={len(si['signature'])}B unsigned=[{','.join(unsigned)}] ({input_format})"
        )


def command_add_ocsp_to_token(args):
    with open(args.token, "rb") as f:
        token_der = f.read()
    token, rest = decoder.decode(token_der, asn1Spec=TokenContentInfo())
    if rest:
        fail(f"{args.token}: {len(rest)} trailing bytes after the TimeStampToken")
    if token["contentType"] != ID_SIGNED_DATA:
        fail(f"{args.token}: contentType {token['contentType']} is not id-signedData")
    if encoder.encode(token) != token_der:
        fail(f"{args.token}: does not re-encode to the same bytes; refusing to modify it")

    with open(args.ocsp, "rb") as f:
        ocsp_der = f.read()
    ocsp, rest = decoder.decode(ocsp_der, asn1Spec=OCSPResponse())
    if rest or encoder.encode(ocsp) != ocsp_der:
        fail(f"{args.ocsp}: not a single DER OCSPResponse")
    if int(ocsp["responseStatus"]) != 0 or not ocsp["responseBytes"].isValue:
        fail(f"{args.ocsp}: responseStatus {int(ocsp['responseStatus'])} is not successful (0)")
    if ocsp["responseBytes"]["responseType"] != ID_PKIX_OCSP_BASIC:
        fail(f"{args.ocsp}: responseType {ocsp['responseBytes']['responseType']} is not id-pkix-ocsp-basic")

    signed_data = token["content"]
    entry = RevocationInfoChoice()
    other = entry["other"]
    other["otherRevInfoFormat"] = ID_RI_OCSP_RESPONSE
    other["otherRevInfo"] = univ.Any(ocsp_der)  # the OCSPResponse verbatim (it is signed)
    signed_data["crls"].append(entry)  # creates the (empty) SET on first access
    signed_data["version"] = max(5, int(signed_data["version"]))

    output = encoder.encode(token)
    # Re-read the result: everything but version and crls must be unchanged.
    check, _ = decoder.decode(output, asn1Spec=TokenContentInfo())
    for name in ("digestAlgorithms", "encapContentInfo", "certificates", "signerInfos"):
        before, after = signed_data[name], check["content"][name]
        if before.isValue != after.isValue or (before.isValue and encoder.encode(before) != encoder.encode(after)):
            fail(f"internal: {name} changed while adding the OCSP response")
    write_output(args.out, output)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("signature", help="print/write SignerInfo #N's signature value")
    p.add_argument("input")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--out")
    p.set_defaults(func=command_signature)

    p = sub.add_parser("add", help="add signature time-stamp tokens as unsigned attributes")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--token", action="append", required=True, metavar="N=FILE")
    p.add_argument("--outform", choices=["DER", "PEM", "der", "pem"])
    p.set_defaults(func=command_add)

    p = sub.add_parser("extract", help="write SignerInfo #N's signature time-stamp token")
    p.add_argument("input")
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--out")
    p.set_defaults(func=command_extract)

    p = sub.add_parser("info", help="list SignerInfos")
    p.add_argument("input")
    p.set_defaults(func=command_info)

    p = sub.add_parser(
        "add-ocsp-to-token", help="put an OCSPResponse into a TimeStampToken's crls (RFC 5940)"
    )
    p.add_argument("token", help="DER TimeStampToken (ContentInfo)")
    p.add_argument("ocsp", help="DER OCSPResponse")
    p.add_argument("out")
    p.set_defaults(func=command_add_ocsp_to_token)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
