// VERIFY.sh's fixed part: every check, as POSIX shell functions. `VerifyScript.script` appends the
// plan: which files to check and what the report claims of each (docs/LEGAL-EXPORT.md).
enum VerifyScriptLibrary {
    static let text = #"""
#!/bin/sh
# VERIFY.sh: checks this evidence bundle with POSIX sh, coreutils, awk, sed, od and stock openssl
# only; SigVault is not needed. Usage, from anywhere:
#
#     sh VERIFY.sh [TRUST-ANCHOR-FILE]
#
# With an anchor file (PEM, one or more certificates you trust, obtained independently of this
# bundle) everything is checked against it. Without one, the anchors bundled under anchors/ are
# used, which proves nothing by itself: their fingerprints are printed, to be checked out of band.
# VERIFY_AT=<epoch seconds> changes the validation time (default: the report's); VERIFY.md says
# what each step does and how to do it by hand.
#
# Exit status: 0 TOTAL_PASSED, 1 TOTAL_FAILED (or the bundle does not match its report),
# 2 INDETERMINATE, 3 the script could not run.
set -u
LC_ALL=C
export LC_ALL
ANCHOR_ARG=""
if [ $# -ge 1 ]; then
    case $1 in /*) ANCHOR_ARG=$1 ;; *) ANCHOR_ARG=$(pwd)/$1 ;; esac
    [ -r "$ANCHOR_ARG" ] || { echo "VERIFY.sh: cannot read trust anchor file $1" >&2; exit 3; }
fi
cd "$(dirname "$0")" || exit 3
command -v openssl >/dev/null 2>&1 || { echo "VERIFY.sh: openssl is needed" >&2; exit 3; }
W=$(mktemp -d "${TMPDIR:-/tmp}/verify-bundle.XXXXXX") || exit 3
trap 'rm -rf "$W"' EXIT
trap 'exit 3' INT TERM

# ---------------------------------------------------------------------------------------------
# Output and verdicts
# ---------------------------------------------------------------------------------------------
FINDINGS=0
MISMATCHES=0
say() { printf '%s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; FINDINGS=$((FINDINGS + 1)); }
note() { printf '  note  %s\n' "$*"; }
# iso EPOCH: the ISO 8601 form of an epoch time, printed beside it.
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
when() { printf '%s (epoch %s)' "$(iso "$1")" "$1"; }
# epoch TEXT: epoch seconds of a date as openssl prints it ("Mar  1 10:05:00 2024 GMT").
epoch() { date -u -d "$1" +%s; }
# rank INDICATION: for "worst of" (TOTAL_FAILED > INDETERMINATE > TOTAL_PASSED).
rank() { case $1 in TOTAL_FAILED) echo 2 ;; INDETERMINATE) echo 1 ;; *) echo 0 ;; esac; }
# worse A B: the worse of two "INDICATION[/SUB]" verdicts (the first on a tie).
worse() { if [ "$(rank "${2%%/*}")" -gt "$(rank "${1%%/*}")" ]; then echo "$2"; else echo "$1"; fi; }
# claim WHAT EXPECTED FOUND: compares a recomputed result with the report's.
claim() {
    if [ "$2" = "$3" ]; then ok "$1: $3, as the report says"
    else bad "$1: the report says $2, this check finds $3: the bundle does not match its report"; MISMATCHES=$((MISMATCHES + 1)); fi
}
# hex FILE: the lowercase hex of a file's bytes. unhex HEX: the bytes.
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
unhex() {
    printf '%b' "$(printf '%s' "$1" | awk '{ d = "0123456789abcdef"; for (i = 1; i < length($0); i += 2)
        printf "\\0%03o", (index(d, substr($0, i, 1)) - 1) * 16 + index(d, substr($0, i + 1, 1)) - 1 }')"
}
# digest ALGORITHM FILE: lowercase hex digest.
digest() { openssl dgst "-$1" -r "$2" | cut -d' ' -f1; }
digest_hex() { unhex "$2" > "$W/dh.bin"; digest "$1" "$W/dh.bin"; }
# part FILE OFFSET LENGTH: bytes of FILE (coreutils only).
part() { tail -c +"$(($2 + 1))" "$1" | head -c "$3"; }

# ---------------------------------------------------------------------------------------------
# Certificates and trust anchors
# ---------------------------------------------------------------------------------------------
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
subject() { openssl x509 -in "$1" -noout -subject -nameopt utf8,sep_comma_plus_space | sed 's/^subject=//'; }
serial() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//; s/^0*//'; }
not_after() { epoch "$(openssl x509 -in "$1" -noout -enddate | sed 's/^notAfter=//')"; }
# split PEM-FILE PREFIX: one file per certificate, PREFIX-1.pem, PREFIX-2.pem, ...; prints the count.
split_pem() {
    awk -v p="$2" '/-----BEGIN CERTIFICATE-----/ { n++; f = p "-" n ".pem" } f != "" { print > f } /-----END CERTIFICATE-----/ { close(f); f = "" } END { print n + 0 }' "$1"
}

if [ -n "$ANCHOR_ARG" ]; then
    cp "$ANCHOR_ARG" "$W/anchors.pem"
    say "Trust anchors: from $ANCHOR_ARG (given by you)."
else
    cat anchors/*.pem > "$W/anchors.pem" 2>/dev/null
    say "########################################################################################"
    say "# WARNING: no trust anchor given. Using the anchors carried by this bundle (anchors/):  #"
    say "# a bundle that carries its own root proves nothing by itself. Check these SHA-256     #"
    say "# fingerprints out of band, or run: sh VERIFY.sh <your own copy of the trust anchor>   #"
    say "########################################################################################"
fi
ANCHOR_COUNT=$(split_pem "$W/anchors.pem" "$W/anchor")
[ "$ANCHOR_COUNT" -gt 0 ] || { say "no trust anchor certificate found"; }
ANCHOR_FPS=""
i=1
while [ "$i" -le "$ANCHOR_COUNT" ]; do
    f=$(fingerprint "$W/anchor-$i.pem"); ANCHOR_FPS="$ANCHOR_FPS $f"
    say "  anchor $i: $(subject "$W/anchor-$i.pem")"
    say "            SHA-256 $f"
    i=$((i + 1))
done
# The untrusted pool: every certificate of the bundle (anchors excluded); what is trusted is
# decided by the chain checks below, never by being in the bundle.
cat certificates/*.pem > "$W/pool.pem" 2>/dev/null || : > "$W/pool.pem"
cat "$W/pool.pem" "$W/anchors.pem" > "$W/all.pem"
is_anchor() { case " $ANCHOR_FPS " in *" $(fingerprint "$1") "*) return 0 ;; esac; return 1; }

# issuer_of CERT: the file of a certificate of the bundle or an anchor whose key signed CERT
# (openssl verify with that one certificate as the only trusted one), or nothing.
issuer_of() {
    for candidate in "$W"/anchor-*.pem certificates/*.pem; do
        [ -f "$candidate" ] || continue
        [ "$(fingerprint "$candidate")" = "$(fingerprint "$1")" ] && continue
        if openssl verify -no_check_time -partial_chain -purpose any -CAfile "$candidate" "$1" >/dev/null 2>&1; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

# chain_check CERT TIME ROLE: the certificate's path to an anchor at TIME (openssl verify -attime),
# then every certificate below the anchor shown unrevoked at TIME; sets CHAIN_VERDICT and leaves
# the path (below the anchor, leaf first) in $W/path.
chain_check() {
    CHAIN_VERDICT=TOTAL_PASSED
    : > "$W/path"
    out=$(openssl verify -attime "$2" -partial_chain -purpose any -CAfile "$W/anchors.pem" -untrusted "$W/all.pem" "$1" 2>&1)
    if [ $? -ne 0 ] || ! printf '%s' "$out" | grep -q ': OK$'; then
        reason=$(printf '%s\n' "$out" | grep 'error' | head -1)
        case $reason in
        *"has expired"*) CHAIN_VERDICT=INDETERMINATE/OUT_OF_BOUNDS_NO_POE ;;
        *"not yet valid"*) CHAIN_VERDICT=INDETERMINATE/OUT_OF_BOUNDS_NO_POE ;;
        *) CHAIN_VERDICT=INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND ;;
        esac
        bad "$3 certificate $1 ($(subject "$1")): no valid path to a trust anchor at $(when "$2"): ${reason:-$out}"
        return
    fi
    ok "$3 certificate $1 ($(subject "$1")) leads to a trust anchor, every certificate valid at $(when "$2")"
    cert=$1
    while ! is_anchor "$cert"; do
        issuer=$(issuer_of "$cert") || { bad "no issuer of $cert in the bundle or the anchors"; CHAIN_VERDICT=INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND; return; }
        echo "$cert $issuer" >> "$W/path"
        revocation "$cert" "$issuer" "$2"
        case $STATUS in
        notRevoked) ;;
        revoked)
            if [ "$cert" = "$1" ] && [ "$3" = signer ]; then CHAIN_VERDICT=$(worse "$CHAIN_VERDICT" INDETERMINATE/REVOKED_NO_POE)
            elif [ "$cert" = "$1" ]; then CHAIN_VERDICT=$(worse "$CHAIN_VERDICT" INDETERMINATE/REVOKED_NO_POE)
            else CHAIN_VERDICT=$(worse "$CHAIN_VERDICT" INDETERMINATE/REVOKED_CA_NO_POE); fi ;;
        *) CHAIN_VERDICT=$(worse "$CHAIN_VERDICT" INDETERMINATE/TRY_LATER) ;;
        esac
        is_anchor "$issuer" && break
        cert=$issuer
    done
}

# ---------------------------------------------------------------------------------------------
# Revocation (ETSI EN 319 102-1 §5.2.5, RFC 5280 §5.3.1, RFC 6960), computed here, not by
# openssl -crl_check (which would call revoked a certificate revoked after TIME).
# ---------------------------------------------------------------------------------------------
# revocation CERT ISSUER TIME: sets STATUS to notRevoked, revoked, onHold or unknown, from every
# CRL and OCSP response of the bundle that ISSUER's key (or a responder it authorised) signed.
revocation() {
    c_serial=$(serial "$1")
    c_after=$(not_after "$1")
    : > "$W/statements"
    for crl in crls/*.crl; do
        [ -f "$crl" ] || continue
        openssl crl -inform DER -in "$crl" -noout -CAfile "$2" 2>&1 | grep -q 'verify OK' || continue
        this=$(epoch "$(openssl crl -inform DER -in "$crl" -noout -lastupdate | sed 's/^lastUpdate=//')")
        next=$(openssl crl -inform DER -in "$crl" -noout -nextupdate | sed 's/^nextUpdate=//')
        case $next in NONE|"") next=none ;; *) next=$(epoch "$next") ;; esac
        entry=$(openssl crl -inform DER -in "$crl" -noout -text | awk -v s="$c_serial" '
            /^ *Serial Number:/ { v = $3; sub(/^0+/, "", v); hit = (toupper(v) == toupper(s)); next }
            hit && /Revocation Date:/ { sub(/^ *Revocation Date: */, ""); date = $0; next }
            hit && /Certificate Hold/ { hold = 1 }
            END { if (date != "") print (hold ? "hold" : "revoked") "|" date }')
        speaks=yes; [ "$this" -le "$c_after" ] || speaks=no
        if [ -n "$entry" ]; then
            echo "$this|$next|${entry%%|*}|$(epoch "${entry#*|}")|$speaks|CRL $crl" >> "$W/statements"
        else
            echo "$this|$next|none|0|$speaks|CRL $crl" >> "$W/statements"
        fi
    done
    for response in ocsp/*.der; do
        [ -f "$response" ] || continue
        produced=$(openssl ocsp -respin "$response" -resp_text -noverify 2>/dev/null | sed -n 's/^ *Produced At: //p' | head -1)
        [ -n "$produced" ] || continue
        out=$(openssl ocsp -respin "$response" -issuer "$2" -cert "$1" -CAfile "$W/anchors.pem" -verify_other "$W/all.pem" \
              -partial_chain -attime "$(epoch "$produced")" -no_nonce 2>&1)
        printf '%s' "$out" | grep -q 'Response verify OK' || continue
        state=$(printf '%s\n' "$out" | sed -n 's/^\(.*: \)\{0,1\}\(good\|revoked\|unknown\)$/\2/p' | head -1)
        this=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*This Update: //p' | head -1)
        next=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Next Update: //p' | head -1)
        [ -n "$this" ] || continue
        this=$(epoch "$this"); if [ -n "$next" ]; then next=$(epoch "$next"); else next=none; fi
        case $state in
        good) speaks=yes; [ "$this" -le "$c_after" ] || speaks=no; echo "$this|$next|none|0|$speaks|OCSP $response" >> "$W/statements" ;;
        revoked)
            rtime=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*Revocation Time: //p' | head -1)
            kind=revoked; printf '%s' "$out" | grep -q 'Reason: certificateHold' && kind=hold
            echo "$this|$next|$kind|$(epoch "$rtime")|yes|OCSP $response" >> "$W/statements" ;;
        esac
    done
    # The decision, as the validator makes it: a revocation at or before TIME; else a hold the
    # latest data still lists; else data fresh at TIME that does not list it; else unknown.
    decision=$(awk -F'|' -v t="$3" -v maxage="$MAX_AGE" '
        { n++; this[n] = $1; next_[n] = $2; kind[n] = $3; date[n] = $4; speaks[n] = $5; what[n] = $6 }
        END {
            best = 0
            for (i = 1; i <= n; i++) if (kind[i] == "revoked" && date[i] <= t && (best == 0 || date[i] < date[best])) best = i
            if (best) { print "revoked|" date[best] "|" what[best]; exit }
            latest = 0
            for (i = 1; i <= n; i++) if (speaks[i] == "yes" || kind[i] != "none")
                if (latest == 0 || this[i] > this[latest] || (this[i] == this[latest] && kind[i] != "none")) latest = i
            if (latest && kind[latest] == "hold" && date[latest] <= t) { print "onHold|" date[latest] "|" what[latest]; exit }
            fresh = 0
            for (i = 1; i <= n; i++) {
                if (speaks[i] != "yes" || (kind[i] != "none" && date[i] <= t)) continue
                age = maxage != "" ? maxage : (next_[i] == "none" ? -1 : next_[i] - this[i])
                if (this[i] >= t || (age >= 0 && this[i] >= t - age)) if (fresh == 0 || this[i] > this[fresh]) fresh = i
            }
            if (fresh) { print "notRevoked|" this[fresh] "|" what[fresh]; exit }
            print "unknown|0|" (latest ? what[latest] : "no data")
        }' "$W/statements")
    STATUS=${decision%%|*}
    rest=${decision#*|}
    sdate=${rest%%|*}
    by=${rest#*|}
    case $STATUS in
    notRevoked) ok "$1 ($(subject "$1")) not revoked at $(when "$3"): shown by $by, issued $(when "$sdate"), fresh then" ;;
    revoked) bad "$1 ($(subject "$1")) REVOKED on $(when "$sdate"), at or before $(when "$3"): $by" ;;
    onHold) bad "$1 ($(subject "$1")) on hold since $(when "$sdate"): $by" ;;
    *) bad "$1 ($(subject "$1")) not shown unrevoked at $(when "$3"): no data fresh then (newest: $by)" ;;
    esac
}

# ---------------------------------------------------------------------------------------------
# Time-stamp tokens (RFC 3161)
# ---------------------------------------------------------------------------------------------
# token_in FILE OUT: the token (ContentInfo) of a TimeStampResp or of a bare token file.
token_in() {
    if openssl asn1parse -inform DER -in "$1" 2>/dev/null | sed -n 2p | grep -q 'pkcs7-signedData'; then cp "$1" "$2"
    else openssl ts -reply -in "$1" -token_out -out "$2" >/dev/null 2>&1 || return 1; fi
}
# token_check TOKEN DATA-OPTION DATA DEADLINE WHAT: verifies a token over DATA (-data FILE or
# -digest HEX) to an anchor at its genTime, its TSA chain valid then and shown unrevoked at genTime
# and at DEADLINE (the later proof of existence, or the validation time). Sets TOKEN_OK (yes/no),
# TOKEN_TIME (epoch genTime) and TOKEN_VERDICT.
token_check() {
    TOKEN_OK=no; TOKEN_TIME=""; TOKEN_VERDICT=INDETERMINATE/FORMAT_FAILURE
    token_in "$1" "$W/token.der" || { bad "$5 $1: not a time-stamp token"; return; }
    # genTime and imprint from the TSTInfo, read by openssl cms (it also reads tokens whose
    # SignedData carries OCSP responses as RFC 5940 other revocation information).
    if ! openssl cms -verify -inform DER -in "$W/token.der" -noverify -signer "$W/tsa.pem" -certfile "$W/all.pem" -out "$W/tstinfo.der" -binary >/dev/null 2>"$W/err"; then
        TOKEN_VERDICT=INDETERMINATE/SIG_CRYPTO_FAILURE; bad "$5 $1: the TSA's signature does not verify: $(head -1 "$W/err")"; return
    fi
    gen=$(openssl asn1parse -inform DER -in "$W/tstinfo.der" | awk '/GENERALIZEDTIME/ { sub(/.*:/, ""); print; exit }')
    TOKEN_TIME=$(epoch "$(printf '%s' "$gen" | sed 's/^\(....\)\(..\)\(..\)\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5:\6Z/')")
    imprint=$(openssl asn1parse -inform DER -in "$W/tstinfo.der" | awk '/OCTET STRING/ { sub(/.*\[HEX DUMP\]:/, ""); print tolower($0); exit }')
    if [ "$2" = -digest ]; then t_expected=$3; else
        t_alg=$(openssl asn1parse -inform DER -in "$W/tstinfo.der" | awk '/OBJECT/ && n++ == 1 { sub(/.*:/, ""); print; exit }')
        t_expected=$(digest "$t_alg" "$3")
    fi
    if [ "$imprint" != "$t_expected" ]; then
        TOKEN_VERDICT=INDETERMINATE/HASH_FAILURE; bad "$5 $1 (genTime $(when "$TOKEN_TIME")): its imprint $imprint is not the digest $t_expected of what it must cover"; return
    fi
    # The signature, the ESS signing-certificate binding, the critical timeStamping EKU and the
    # chain at genTime: openssl ts -verify (openssl cms with -purpose timestampsign for a token
    # that openssl ts cannot parse).
    if openssl ts -reply -in "$W/token.der" -token_in -text >/dev/null 2>&1; then
        out=$(openssl ts -verify -in "$W/token.der" -token_in -digest "$imprint" -CAfile "$W/anchors.pem" -untrusted "$W/all.pem" \
              -attime "$TOKEN_TIME" -partial_chain 2>&1)
    else
        out=$(openssl cms -verify -inform DER -in "$W/token.der" -binary -CAfile "$W/anchors.pem" -certfile "$W/all.pem" \
              -purpose timestampsign -attime "$TOKEN_TIME" -partial_chain -out /dev/null 2>&1 && echo "Verification: OK")
    fi
    if ! printf '%s' "$out" | grep -q 'Verification: OK\|Verification successful'; then
        TOKEN_VERDICT=INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND
        bad "$5 $1 (genTime $(when "$TOKEN_TIME")): does not verify to a trust anchor: $(printf '%s\n' "$out" | grep -v '^Verification' | head -1)"; return
    fi
    ok "$5 $1: genTime $(when "$TOKEN_TIME") by $(subject "$W/tsa.pem"), imprint matches, TSA signature and chain verify at genTime"
    # The TSA chain must stay unexpired until DEADLINE and be shown unrevoked at genTime and DEADLINE.
    tsa=$W/tsa-$TOKEN_TIME.pem
    cp "$W/tsa.pem" "$tsa"
    for candidate in certificates/*.pem; do
        [ -f "$candidate" ] && [ "$(fingerprint "$candidate")" = "$(fingerprint "$W/tsa.pem")" ] && { tsa=$candidate; break; }
    done
    chain_check "$tsa" "$TOKEN_TIME" TSA
    at_gen=$CHAIN_VERDICT
    [ "$at_gen" = TOTAL_PASSED ] || { TOKEN_VERDICT=$at_gen; bad "$5 $1: its TSA is not sound at genTime"; return; }
    if [ "$4" -gt "$TOKEN_TIME" ]; then
        chain_check "$tsa" "$4" TSA
        [ "$CHAIN_VERDICT" = TOTAL_PASSED ] || { TOKEN_VERDICT=$CHAIN_VERDICT; bad "$5 $1: its TSA is not sound at $(when "$4"), which its protection must reach"; return; }
    fi
    TOKEN_OK=yes; TOKEN_VERDICT=TOTAL_PASSED
}

# ---------------------------------------------------------------------------------------------
# Signatures (CMS, RFC 5652)
# ---------------------------------------------------------------------------------------------
# signer_info DER N: the N-th SignerInfo's serial, signature value offset and length (asn1parse:
# the last SET at depth 3 is signerInfos; each SEQUENCE at depth 4 one SignerInfo).
signer_info() {
    openssl asn1parse -inform DER -in "$1" | awk -v want="$2" '
        { match($0, /d= *[0-9]+/); d = substr($0, RSTART + 2, RLENGTH - 2) + 0 }
        d == 3 && /cons: SET/ { set = NR }
        { line[NR] = $0; depth[NR] = d }
        END {
            for (i = set + 1; i <= NR; i++) {
                if (depth[i] <= 3) break
                if (depth[i] == 4 && line[i] ~ /SEQUENCE/) { n++; serial = ""; continue }
                if (n != want) continue
                if (depth[i] == 6 && line[i] ~ /INTEGER/ && serial == "") { s = line[i]; sub(/.*:/, "", s); sub(/^0+/, "", s); serial = s }
                if (depth[i] == 5 && line[i] ~ /OCTET STRING/) {
                    s = line[i]; split(s, a, ":"); off = a[1] + 0
                    match(s, /hl= *[0-9]+/); hl = substr(s, RSTART + 3, RLENGTH - 3) + 0
                    match(s, /l= *[0-9]+ prim/); l = substr(s, RSTART + 2, RLENGTH - 7) + 0
                    print serial, off + hl, l; exit
                }
            }
        }'
}

# signature FILE CONTENT|- N SIGNER-CERT EXPECTED-VERDICT TOKEN:COVERS...: one SignerInfo.
signature() {
    sigfile=$1; content=$2; index=$3; signer=$4; s_expected=$5; shift 5
    say ""
    say "Signature $sigfile, SignerInfo $index"
    if head -c 11 "$sigfile" | grep -q -- '-----BEGIN'; then sed '/^-----/d' "$sigfile" | openssl base64 -d > "$W/sig.der"; else cp "$sigfile" "$W/sig.der"; fi
    VERDICT=TOTAL_PASSED
    # 1. The signature's mathematics over the document (the chain is checked in step 4).
    : > "$W/signers.pem"
    if [ "$content" = - ]; then
        openssl cms -verify -binary -inform DER -in "$W/sig.der" -noverify -certfile "$signer" -signer "$W/signers.pem" -out "$W/content" >/dev/null 2>"$W/err"
    else
        openssl cms -verify -binary -inform DER -in "$W/sig.der" -content "$content" -noverify -certfile "$signer" -signer "$W/signers.pem" -out /dev/null >/dev/null 2>"$W/err"
    fi
    if [ $? -ne 0 ]; then
        if grep -q 'digest failure\|content verify error' "$W/err"; then VERDICT=TOTAL_FAILED/HASH_FAILURE; else VERDICT=TOTAL_FAILED/SIG_CRYPTO_FAILURE; fi
        bad "the signature does not verify over ${content#-}: $(grep -m1 -i 'error\|failure' "$W/err")"
    else
        ok "the signature verifies over the document's bytes (openssl cms -verify)"
    fi
    # 2. The signer: the SignerInfo names the serial of SIGNER-CERT, and openssl used that certificate.
    info=$(signer_info "$W/sig.der" "$index")
    si_serial=$(echo "$info" | cut -d' ' -f1); value_offset=$(echo "$info" | cut -d' ' -f2); value_length=$(echo "$info" | cut -d' ' -f3)
    part "$W/sig.der" "${value_offset:-0}" "${value_length:-0}" > "$W/value-$index.bin"
    used=no
    count=$(split_pem "$W/signers.pem" "$W/used-signer" 2>/dev/null || echo 0)
    j=1
    while [ "$j" -le "${count:-0}" ]; do
        [ "$(fingerprint "$W/used-signer-$j.pem")" = "$(fingerprint "$signer")" ] && used=yes
        j=$((j + 1))
    done
    if [ -z "$si_serial" ] || [ "$(serial "$signer")" != "$si_serial" ] || [ "$used" != yes ]; then
        VERDICT=$(worse "$VERDICT" INDETERMINATE/NO_SIGNING_CERTIFICATE_FOUND)
        bad "SignerInfo $index (serial $si_serial) was not made with $signer (serial $(serial "$signer"))"
    else
        ok "SignerInfo $index names $signer: $(subject "$signer"), serial $si_serial, SHA-256 $(fingerprint "$signer")"
    fi
    # 3. Proof of existence: the earliest valid token over the signature value or file, or the
    #    evidence record when it covers the signature file; without one, the validation time.
    best=""
    for item in "$@"; do
        token=${item%:*}; covers=${item##*:}
        case $covers in
        signature-value) token_check "$token" -data "$W/value-$index.bin" "${ERS_TIME:-$AT}" "signature time-stamp" ;;
        signature-file) token_check "$token" -data "$sigfile" "${ERS_TIME:-$AT}" "time-stamp over the signature file" ;;
        *) note "$token covers the $covers, not the signature: no proof of existence for it"; continue ;;
        esac
        if [ "$TOKEN_OK" = yes ] && { [ -z "$best" ] || [ "$TOKEN_TIME" -lt "$best" ]; }; then best=$TOKEN_TIME; fi
    done
    if [ -n "${ERS_TIME:-}" ] && [ "$ERS_COVERS_SIGNATURES" = yes ] && { [ -z "$best" ] || [ "$ERS_TIME" -lt "$best" ]; }; then best=$ERS_TIME; fi
    if [ -n "$best" ]; then say "  best signature time: $(when "$best")"; else best=$AT; say "  no proof of existence: judged at the validation time $(when "$AT")"; fi
    # 4. The signer's chain to a trust anchor, valid and unrevoked at that time.
    chain_check "$signer" "$best" signer
    VERDICT=$(worse "$VERDICT" "$CHAIN_VERDICT")
    say "  => $VERDICT"
    claim "signature $sigfile SignerInfo $index" "$s_expected" "$VERDICT"
    DOCUMENT_VERDICT=$(worse "$DOCUMENT_VERDICT" "$VERDICT")
}

# ---------------------------------------------------------------------------------------------
# The evidence record (RFC 4998): hash tree, archive time-stamps, renewals
# ---------------------------------------------------------------------------------------------
# ers_layout FILE: one line per element that matters, from openssl asn1parse:
#   alg CHAIN STAMP NAME | hash CHAIN STAMP LIST HEX | token CHAIN STAMP OFFSET LENGTH | chain CHAIN OFFSET LENGTH
ers_layout() {
    openssl asn1parse -inform DER -in "$1" | awk '
        { match($0, /d= *[0-9]+/); d = substr($0, RSTART + 2, RLENGTH - 2) + 0
          split($0, a, ":"); off = a[1] + 0
          match($0, /hl= *[0-9]+/); hl = substr($0, RSTART + 3, RLENGTH - 3) + 0
          match($0, / l= *[0-9]+/); l = substr($0, RSTART + 3, RLENGTH - 3) + 0 }
        d == 1 && /SEQUENCE/ { seq++ }
        seq < 2 { next }
        d == 2 && /SEQUENCE/ { chain++; stamp = 0; print "chain", chain, off, hl + l }
        d == 3 && /SEQUENCE/ { stamp++; tree = 0; alg = 0 }
        d == 4 { tree = /cont \[ 2 \]/; alg = /cont \[ 0 \]/ }
        d == 4 && /SEQUENCE/ { print "token", chain, stamp, off, hl + l }
        d == 5 && alg && /OBJECT/ { s = $0; sub(/.*:/, "", s); print "alg", chain, stamp, s }
        d == 5 && tree && /SEQUENCE/ { list++ }
        d == 3 { list = 0 }
        d == 6 && tree && /OCTET STRING/ { s = $0; sub(/.*\[HEX DUMP\]:/, "", s); print "hash", chain, stamp, list, tolower(s) }'
}

# evidence_record FILE EXPECTED COVERED-FILE...: the record's first chain's tree from the covered
# files' digests to its first token's imprint, each renewal, each token valid until the next.
ERS_TIME=""
ERS_COVERS_SIGNATURES=no
evidence_record() {
    ers=$1; e_expected=$2; shift 2
    for f in "$@"; do printf '%s\n' "$f"; done > "$W/covered"
    say ""
    say "Evidence record $ers (RFC 4998)"
    ers_layout "$ers" > "$W/layout"
    ERS_VERDICT=TOTAL_PASSED
    chains=$(awk '$1 == "chain"' "$W/layout" | wc -l)
    # The DER of each chain, for hash-tree renewals.
    c=1
    while [ "$c" -le "$chains" ]; do
        set -- $(awk -v c="$c" '$1 == "chain" && $2 == c { print $3, $4 }' "$W/layout")
        part "$ers" "$1" "$2" > "$W/chain-$c.der"
        c=$((c + 1))
    done
    first_time=""
    latest_time=""
    c=1
    while [ "$c" -le "$chains" ]; do
        e_alg=$(awk -v c="$c" '$1 == "alg" && $2 == c && $3 == 1 { print $4; exit }' "$W/layout")
        [ -n "$e_alg" ] || e_alg=sha256
        # The data objects' hashes: for chain 1 their digests; for a later chain (hash-tree
        # renewal, RFC 4998 §5.2) H(H(object) || H(DER of the sequence of the earlier chains)).
        if [ "$c" -gt 1 ]; then
            cat $(i=1; while [ "$i" -lt "$c" ]; do printf '%s ' "$W/chain-$i.der"; i=$((i + 1)); done) > "$W/earlier.der"
            n=$(wc -c < "$W/earlier.der")
            if [ "$n" -lt 128 ]; then h=$(printf '30%02x' "$n")
            elif [ "$n" -lt 256 ]; then h=$(printf '3081%02x' "$n")
            elif [ "$n" -lt 65536 ]; then h=$(printf '3082%04x' "$n")
            else h=$(printf '3083%06x' "$n"); fi
            { unhex "$h"; cat "$W/earlier.der"; } > "$W/sequence.der"
            sequence_hash=$(digest "$e_alg" "$W/sequence.der")
            say "  chain $c ($e_alg): hash-tree renewal; H(earlier chains' ArchiveTimeStampSequence) = $sequence_hash"
        fi
        : > "$W/objects"
        while IFS= read -r f; do
            h=$(digest "$e_alg" "$f")
            [ "$c" -gt 1 ] && h=$(digest_hex "$e_alg" "$h$sequence_hash")
            echo "$h" >> "$W/objects"
            say "  chain $c: $e_alg of $f: $h"
        done < "$W/covered"
        # Leaf and levels: the first list holds every object hash; each list hashes, sorted and
        # concatenated, with the value from below (RFC 4998 §4.3).
        lists=$(awk -v c="$c" '$1 == "hash" && $2 == c && $3 == 1 { print $4 }' "$W/layout" | sort -u | wc -l)
        if [ "$lists" -eq 0 ]; then
            value=$(cat "$W/objects"); say "  chain $c: no reduced tree: the single object's hash is the root"
        else
            value=""
            l=1
            while [ "$l" -le "$lists" ]; do
                awk -v c="$c" -v l="$l" '$1 == "hash" && $2 == c && $3 == 1 && $4 == l { print $5 }' "$W/layout" > "$W/list"
                if [ "$l" -eq 1 ]; then
                    for h in $(cat "$W/objects"); do
                        grep -qx "$h" "$W/list" || { bad "chain $c: the hash $h of a covered file is not in the record's first list: the files are not those the record covers"; ERS_VERDICT=TOTAL_FAILED/HASH_FAILURE; }
                    done
                elif ! grep -qx "$value" "$W/list"; then
                    echo "$value" >> "$W/list"
                fi
                value=$(digest_hex "$e_alg" "$(sort "$W/list" | tr -d '\n')")
                say "  chain $c, level $l: $e_alg of the sorted list ($(wc -l < "$W/list") values) = $value"
                l=$((l + 1))
            done
        fi
        stamps=$(awk -v c="$c" '$1 == "token" && $2 == c' "$W/layout" | wc -l)
        s=1
        while [ "$s" -le "$stamps" ]; do
            set -- $(awk -v c="$c" -v s="$s" '$1 == "token" && $2 == c && $3 == s { print $4, $5 }' "$W/layout")
            part "$ers" "$1" "$2" > "$W/ats-$c-$s.der"
            shown=$W/ats-$c-$s.der
            this_digest=$(digest sha256 "$W/ats-$c-$s.der")
            for t in tokens/*.tst; do [ -f "$t" ] && [ "$(digest sha256 "$t")" = "$this_digest" ] && { shown=$t; break; }; done
            # The protection of each time-stamp must reach the next one's genTime (read first).
            deadline=$AT
            nc=$c; ns=$((s + 1))
            [ "$ns" -le "$stamps" ] || { nc=$((c + 1)); ns=1; }
            set -- $(awk -v c="$nc" -v s="$ns" '$1 == "token" && $2 == c && $3 == s { print $4, $5 }' "$W/layout")
            if [ $# -eq 2 ]; then
                part "$ers" "$1" "$2" > "$W/next.der"
                if openssl cms -verify -inform DER -in "$W/next.der" -noverify -out "$W/next-tst.der" -binary >/dev/null 2>&1; then
                    g=$(openssl asn1parse -inform DER -in "$W/next-tst.der" | awk '/GENERALIZEDTIME/ { sub(/.*:/, ""); print; exit }')
                    deadline=$(epoch "$(printf '%s' "$g" | sed 's/^\(....\)\(..\)\(..\)\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5:\6Z/')")
                fi
            fi
            if [ "$s" -eq 1 ]; then
                token_check "$shown" -digest "$value" "$deadline" "chain $c archive time-stamp $s over the root"
            else
                # Time-stamp renewal: the new time-stamp covers the previous one's DER.
                token_check "$shown" -data "$W/ats-$c-$((s - 1)).der" "$deadline" "chain $c archive time-stamp $s (renewal over time-stamp $((s - 1)))"
            fi
            [ "$TOKEN_OK" = yes ] || ERS_VERDICT=$(worse "$ERS_VERDICT" "$TOKEN_VERDICT")
            [ -n "$first_time" ] || first_time=$TOKEN_TIME
            [ -z "$TOKEN_TIME" ] || { [ -n "$latest_time" ] && [ "$latest_time" -ge "$TOKEN_TIME" ]; } || latest_time=$TOKEN_TIME
            s=$((s + 1))
        done
        c=$((c + 1))
    done
    # A time-stamp made after the validation time proves nothing at that time.
    if [ -n "$latest_time" ] && [ "$latest_time" -gt "$AT" ]; then
        bad "an archive time-stamp was made at $(when "$latest_time"), after the validation time"
        ERS_VERDICT=$(worse INDETERMINATE/NOT_YET_VALID "$ERS_VERDICT")
    fi
    say "  => $ERS_VERDICT"
    claim "evidence record $ers" "$e_expected" "$ERS_VERDICT"
    if [ "$ERS_VERDICT" = TOTAL_PASSED ]; then
        ERS_TIME=$first_time
        say "  the covered files existed at $(when "$ERS_TIME")"
    fi
}

# document FILE SHA256: the document's bytes are those the report names.
document() {
    say ""
    say "Document $1"
    found=$(digest sha256 "$1")
    if [ "$found" = "$2" ]; then ok "SHA-256 $found, as the report says"
    else bad "SHA-256 $found, the report says $2: this is not the document the report is about"; MISMATCHES=$((MISMATCHES + 1)); fi
}

# finish EXPECTED: the result, its exit status, and whether it agrees with the report.
finish() {
    say ""
    say "Result: $DOCUMENT_VERDICT (the report says $1)"
    if [ "$MISMATCHES" -gt 0 ]; then say "The bundle does NOT match its report ($MISMATCHES difference(s) above)"; exit 1; fi
    if [ "$DOCUMENT_VERDICT" != "$1" ]; then say "This DISAGREES with the report"; exit 1; fi
    say "This agrees with the report."
    case $DOCUMENT_VERDICT in TOTAL_PASSED|UNSIGNED) exit 0 ;; TOTAL_FAILED*) exit 1 ;; *) exit 2 ;; esac
}
"""#
}
