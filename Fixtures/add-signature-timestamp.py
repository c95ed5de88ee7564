#!/usr/bin/env python3
"""Read a CMS SignedData signature and add CAdES signature time-stamps to its SignerInfos.

The openssl CLI can time-stamp bytes but cannot put the token back into a SignerInfo, so
make-fixtures.sh uses this helper for that one step. Only pyasn1 is needed (no pyasn1-modules):
the few CMS types involved (RFC 5652) are declared below. Everything the helper does not need
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

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
