/// The VERIFY.md every archive carries as its first member: how to check it by hand.
enum VerifyGuide {
    static let text = """
    # Verifying this SigVault archive by hand

    This file is a POSIX pax tar compressed with zstd (format version 1, specified in full in
    SigVault's docs/FORMAT.md). You need only tar, zstd, sha256sum and openssl.

    1. Unpack: `mkdir x && tar --zstd -xf ARCHIVE -C x` (or `zstd -dc ARCHIVE | tar -xf - -C x`).
    2. Fingerprint: `sha256sum x/manifest.jsonl` is the archive's fingerprint; `sigvault verify` and
       `sigvault list` print it.
    3. Members: every line of x/manifest.jsonl with `"type":"member"` names a file (`path`), its
       `size` and `sha256`. Check each: `sha256sum x/PATH` must equal `sha256`. Files not listed
       (other than manifest.jsonl) must not exist.
    4. Documents are under x/data/ byte for byte; their detached signatures (`.p7s`, `.sig`) and
       time-stamps (`.tsr`, `.tst`) sit beside them. Certificates, CRLs and OCSP responses are under
       x/evidence/, named by their SHA-256.
    5. Certificates are stored DER; make a PEM bundle for openssl first:
       `for c in x/evidence/certificates/*.der; do openssl x509 -inform DER -in $c; done > chain.pem`.
       A signature: `openssl cms -verify -binary -purpose any -inform DER -in DOC.p7s -content DOC
       -CAfile ROOT.pem -certfile chain.pem -attime <genTime as epoch> -out /dev/null` (ROOT.pem is
       the trust anchor you trust, not one taken from the archive).
       A time-stamp file: `openssl ts -verify -in DOC.tsr -data DOC -CAfile ROOT.pem -untrusted chain.pem`.
       Revocation: `openssl crl -inform DER -in x/evidence/crls/HASH.crl -text -noout`;
       `openssl ocsp -respin x/evidence/ocsp/HASH.der -resp_text -noverify`.
    6. The manifest's `document` objects list, per signature, the chain, CRLs, OCSP responses and
       time-stamps (by SHA-256) that pack used.

    This archive carries no archive time-stamp: it is self-consistent, but nothing in it proves
    when it was made. Signature time-stamps inside it prove when those signatures existed.

    """
}
