/// The VERIFY.md every archive carries as its first member: how to check it by hand. It is written
/// before the archive time-stamp is asked for (the manifest, which the time-stamp covers, lists it),
/// so a pack with `--tsa` gets the text for version 2, which also says what a version 1 trailer
/// means (no authority answered); a pack without gets the version 1 text.
enum VerifyGuide {
    static func text(archiveTimeStampRequested: Bool) -> String {
        archiveTimeStampRequested ? common(version: "2 when it carries an archive time-stamp, else 1") + version2 : common(version: "1") + version1
    }

    private static func common(version: String) -> String { """
    # Verifying this SigVault archive by hand

    This file is a POSIX pax tar compressed with zstd (format version \(version), specified in full in
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

    """
    }

    private static let version1 = """
    This archive carries no archive time-stamp: it is self-consistent, but nothing in it proves
    when it was made. Signature time-stamps inside it prove when those signatures existed.

    """

    private static let version2 = """
    7. The archive time-stamp. The format version is the 4-byte little-endian number at byte 8 of
       the trailer, the last 168 bytes of the file minus its 8-byte frame header:
       `tail -c 160 ARCHIVE | od -An -tu4 -j8 -N4`. If it is 1, no time-stamp authority answered when
       the archive was packed (pack said so): the archive carries no archive time-stamp, it is
       self-consistent, but nothing in it proves when it was made.
       If it is 2, an evidence section follows the index (a skippable zstd frame, ignored by tar and
       zstd): an RFC 4998 evidence record template with a hash tree over the data groups (each
       document with its signature, time-stamp and evidence files, and the manifest last), and
       RFC 3161 archive time-stamps over the tree's root, renewed by `sigvault renew`. It proves
       that every member existed at the time-stamp's genTime. docs/FORMAT.md §10 gives the steps:
       cut the evidence frame out with the trailer's offsets (tail, head, od), check its SHA-256,
       recompute each group's leaf from the manifest's `sha256` values and the tree up to its root,
       then `openssl ts -verify -digest ROOT_HEX -in token.der -token_in -CAfile ROOT.pem
       -untrusted chain.pem` (or `openssl cms -verify` for a renewed token).
       Easier: `sigvault restore` writes each document's own RFC 4998 evidence-record.ers under
       .sigvault-evidence/, which `sigvault ers verify` or any RFC 4998 verifier checks.

    """
}
