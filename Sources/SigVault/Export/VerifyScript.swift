import Foundation

/// VERIFY.sh (the fixed checks, then the plan made from the report) and VERIFY.md.
enum VerifyScript {
    /// A shell word for `text`, single-quoted.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func verdict(_ indication: String, _ sub: String?) -> String { sub.map { "\(indication)/\($0)" } ?? indication }

    static func script(_ report: ExportReport, plan: ScriptPlan) -> String {
        var lines: [String] = []
        func add(_ line: String) { lines.append(line) }
        let at = Int64(plan.validationTime.timeIntervalSince1970.rounded(.down))
        add("")
        add("# ---------------------------------------------------------------------------------------------")
        add("# The plan: the files of this bundle and what the report (report.json) says of each. Every")
        add("# verdict below is recomputed by the functions above; a difference is reported and fails.")
        add("# ---------------------------------------------------------------------------------------------")
        add("REPORT_AT=\(at)  # \(report.validationTime.utc), the report's validation time")
        add("AT=${VERIFY_AT:-$REPORT_AT}")
        add("MAX_AGE=\(plan.maximumRevocationAge.map { String(Int64($0)) } ?? "")")
        add("say \"\"")
        add("say \"Validation time: $(when \"$AT\")\"")
        add("[ \"$AT\" = \"$REPORT_AT\" ] || say \"  (VERIFY_AT differs from the report's time $(when \"$REPORT_AT\"): differences from the report are expected)\"")
        add("DOCUMENT_VERDICT=\(plan.signatures.isEmpty ? "UNSIGNED" : "TOTAL_PASSED")")
        add("document \(quoted(plan.document)) \(plan.documentSHA256)")
        if let record = plan.evidenceRecord, let info = report.evidenceRecord {
            let signatureFiles = Set(plan.signatures.map(\.file))
            if !signatureFiles.isEmpty, signatureFiles.isSubset(of: Set(plan.covered)), plan.covered.contains(plan.document) {
                add("ERS_COVERS_SIGNATURES=yes")
            }
            add("evidence_record \(quoted(record)) \(verdict(info.indication, info.subIndication)) \\")
            add("    " + plan.covered.map(quoted).joined(separator: " "))
        }
        for (signature, signer) in zip(plan.signatures, report.signers) {
            let tokens = signature.tokens.map { quoted("\($0.file):\($0.covers)") }.joined(separator: " ")
            add("signature \(quoted(signature.file)) \(signature.content.map(quoted) ?? "-") \(signature.signerInfo) "
                + "\(quoted(signature.signerCertificate ?? "certificates/missing.pem")) \(verdict(signer.indication, signer.subIndication))"
                + (tokens.isEmpty ? "" : " \\\n    \(tokens)"))
        }
        add("finish \(verdict(report.document.indication, report.document.subIndication))")
        return VerifyScriptLibrary.text + lines.joined(separator: "\n") + "\n"
    }

    static let guide = """
    # Checking this evidence bundle without SigVault

    This folder proves one document: who signed it, when it existed, and that nothing changed since.
    `report.html`, `report.txt` and `report.json` say what SigVault found; `VERIFY.sh` checks every
    claim again with tools an expert already trusts: POSIX `sh`, coreutils (`sha256sum`, `od`,
    `date`, `head`, `tail`, `sort`), `awk`, `sed` and stock `openssl`. Nothing here needs SigVault.

        sh VERIFY.sh /path/to/your/own/copy/of/the/trust-anchor.pem

    Exit status: 0 TOTAL_PASSED (or an unsigned document whose existence is proven), 1 TOTAL_FAILED
    or a bundle that does not match its report, 2 INDETERMINATE, 3 the script could not run.

    ## The trust anchor comes from you

    Every check runs from the trust anchor down. Without an argument the script uses the copies under
    `anchors/` and says so loudly: a bundle that carries its own root proves nothing by itself, since
    whoever made the bundle could have made the root. Compare the SHA-256 fingerprints the script and
    the report print with the fingerprint the CA publishes, or pass your own copy.

    ## What the script does, step by step (each can be done by hand)

    1. **Document.** `sha256sum files/DOCUMENT` equals the SHA-256 in the report.
    2. **Evidence record** (`evidence-record.ers`, RFC 4998), when there is one:
       - `openssl asn1parse -inform DER -in evidence-record.ers` shows the ArchiveTimeStampSequence:
         each chain (depth 2) holds ArchiveTimeStamps (depth 3); in one, `cont [ 0 ]` names the hash
         algorithm, `cont [ 2 ]` is the reduced hash tree (its lists at depth 5, their hashes as
         OCTET STRINGs at depth 6), and the last SEQUENCE at depth 4 is the RFC 3161 token.
       - The data objects are the files listed after `evidence_record` at the end of VERIFY.sh (the
         document's data group in the archive). Their digests (`openssl dgst -sha256 -r FILE`) must
         all be in the first list; the SHA-256 of the first list's values, sorted in ascending order
         and concatenated as bytes, is the leaf. For each further list: add the value from below to
         the list (unless it is there), sort, concatenate, hash. The last value must equal the first
         token's messageImprint (`openssl cms -verify -inform DER -in TOKEN -noverify -out tst.der
         -binary; openssl asn1parse -inform DER -in tst.der`: the OCTET STRING).
       - Each token is cut out of the record with `tail -c +$((OFFSET + 1)) evidence-record.ers |
         head -c LENGTH` (offset and header+content length from asn1parse) and verified as in step 4.
       - Time-stamp renewal: a later ArchiveTimeStamp of the same chain has no tree; its imprint is
         the digest of the DER of the previous ArchiveTimeStamp's token (`openssl ts -verify -data
         PREVIOUS-TOKEN.der`).
       - Hash-tree renewal: a later chain, with its own algorithm H. Each object's hash becomes
         H(H(object) || H(S)), S being the DER of a SEQUENCE holding the earlier chains (their bytes
         from the record, concatenated, after a SEQUENCE header `30 LL`, `30 81 LL`, `30 82 LL LL` as
         the length needs); the tree is then walked as above with H.
       - Each token must be valid until the next one's genTime, the last until the validation time.
         When all holds, the files existed at the first token's genTime: the proof of existence.
    3. **Signature** (`signature` lines at the end of VERIFY.sh; one per SignerInfo):
       - `openssl cms -verify -binary -inform DER -in SIG -content DOCUMENT -noverify -certfile
         SIGNER.pem -signer used.pem -out /dev/null` checks the mathematics (a PEM `.sig` is first
         decoded: `sed '/^-----/d' SIG | openssl base64 -d`); its signer must be the named
         certificate (same SHA-256 fingerprint, and the SignerInfo's serial, from asn1parse).
       - The signature value is the OCTET STRING at depth 5 of the SignerInfo (asn1parse: the last
         SET at depth 3 holds the SignerInfos, each a SEQUENCE at depth 4).
       - Proof of existence: the earliest valid time-stamp over that value (`tokens/`, the
         signature's own CAdES time-stamp) or over the signature file, or the evidence record's time
         when it covers the signature file. Without one, the validation time is used.
    4. **Time-stamp tokens** (RFC 3161): `openssl ts -verify -in TOKEN -token_in -digest IMPRINT
       -CAfile ANCHOR.pem -untrusted chain.pem -attime GENTIME -partial_chain` checks the TSA's
       signature, its certificate binding and its critical timeStamping extended key usage, with the
       TSA chain valid at genTime. A token that carries OCSP responses as RFC 5940 revocation data is
       checked with `openssl cms -verify -purpose timestampsign` instead (openssl ts cannot read it).
       The TSA chain must stay unexpired and be shown unrevoked (step 6) at genTime and at the time
       its protection must reach: the next proof of existence, else the validation time.
    5. **Chain**: `openssl verify -attime T -partial_chain -purpose any -CAfile ANCHOR.pem -untrusted
       chain.pem CERT`, T being the proven time; expired at T: INDETERMINATE/OUT_OF_BOUNDS_NO_POE;
       no path: INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND.
    6. **Revocation at T**, decided by the script itself (OpenSSL's `-crl_check` would call a
       certificate revoked after T revoked): every CRL whose signature the issuer's key verifies
       (`openssl crl -inform DER -in CRL -noout -CAfile ISSUER.pem` prints `verify OK`) and every
       OCSP response that verifies for the certificate (`openssl ocsp -respin R -issuer ISSUER.pem
       -cert CERT.pem -CAfile ANCHOR.pem -verify_other chain.pem -partial_chain -attime PRODUCEDAT
       -no_nonce`) is a statement. Then, as ETSI EN 319 102-1 §5.2.5 and RFC 5280 say:
       - revoked (not certificateHold) at or before T: REVOKED (INDETERMINATE/REVOKED_NO_POE, or
         REVOKED_CA_NO_POE for a CA);
       - the latest statement lists a hold from at or before T: on hold (INDETERMINATE/TRY_LATER);
       - a statement that does not list it and is fresh at T (issued at or after T, or after T minus
         its nextUpdate − thisUpdate, or minus the maximum age the report used) shows it not revoked;
         a statement issued after the certificate's notAfter proves nothing by its silence;
       - otherwise unknown: INDETERMINATE/TRY_LATER.
    7. The document takes the worst of its signatures; the script prints its result beside the
       report's and fails when they differ or when any recomputed step differs from the report.

    Every time is printed in ISO 8601 beside its epoch seconds (`date -u -d @EPOCH` converts).

    ## What the script does not check

    Algorithm sunsets (docs/ALGORITHMS.md in SigVault), a CRL's ExpiredCertsOnCRL extension, an OCSP
    responder's id-pkix-ocsp-nocheck and its own revocation, key usage beyond what openssl checks,
    and the cRLSign key usage of a CRL issuer. The report states SigVault's decision on each.
    """
}
