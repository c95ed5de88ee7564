#!/usr/bin/env bash
# Sanity-checks the generated fixtures with stock openssl (no SigVault code). Each line says
# whether openssl's result is the one expected for that fixture: PASS/FAIL, then openssl's
# outcome (ok/fail, with openssl's reason for a failure). Exit status 1 if any line is FAIL.
# make-fixtures.sh runs it at the end; the output is quoted in README.md.
set -euo pipefail

FIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$FIX/.."                 # so that paths print as Fixtures/...
export TZ=UTC LC_ALL=C
export OPENSSL_CONF=/dev/null  # no "Using configuration from" noise; nothing here needs a config
F=Fixtures
HELPER="$F/add-signature-timestamp.py"
ROOT="$F/pki/root.pem"
INTER="$F/pki/certs/intermediate.pem"

epoch() { date -u -d "$1" +%s; }
TS_EPOCH=$(epoch 2024-03-01T10:05:00Z)      # genTime of every time-stamp
CRL_EPOCH=$(epoch 2024-06-15T12:00:00Z)     # inside the current CRLs' validity (and before signer-expired* expire)
OLD_EPOCH=$(epoch 2023-06-01T12:00:00Z)     # inside the old CRLs' validity
AFTER_EPOCH=$(epoch 2025-01-01T12:00:00Z)   # inside the after-expiry CRLs' validity

S="$(mktemp -d)"
trap 'rm -rf "$S"' EXIT
cat "$INTER" "$F"/pki/certs/tsa*.pem >"$S/untrusted.pem"
crl_bundle() { # out dir... : root.pem + the CRLs of DIRs as PEM (openssl reads CRLs from -CAfile)
  local out="$1" dir c; shift
  cp "$ROOT" "$out"
  for dir in "$@"; do for c in "$dir"/*.crl; do openssl crl -inform DER -in "$c" >>"$out"; done; done
}
crl_bundle "$S/root+current.pem" "$F/pki/crl/current"
crl_bundle "$S/root+old.pem" "$F/pki/crl/old"
crl_bundle "$S/root+rootonly.pem" "$F/pki/crl/root-only"
crl_bundle "$S/root+after.pem" "$F/pki/crl/after-expiry"
cat "$ROOT" "$F/pki/untrusted-root.pem" >"$S/both-roots.pem"

FAILED=0
# check WANT(ok|fail) LABEL CMD... : run CMD, compare its success with WANT.
check() {
  local want="$1" label="$2" out got reason=""; shift 2
  if out=$("$@" 2>&1); then got=ok; else got=fail; fi
  if [[ $got == fail ]]; then
    reason=$(printf '%s\n' "$out" | sed -nE 's/.*Verify error:(.*)/\1/p; s/.*:error:[0-9A-F]+:[^:]*:[^:]*:([^:]*):.*/\1/p; s/^error [0-9]+ at [0-9]+ depth lookup: (.*)/\1/p' \
      | sed 's/^ *//' | { grep -v -x -e 'certificate verify error' -e 'verification failure' || true; } | awk '!seen[$0]++' | paste -sd ';' -)
  fi
  local verdict=PASS; [[ $got == "$want" ]] || { verdict=FAIL; FAILED=1; }
  printf '%s %-4s %s%s\n' "$verdict" "$got" "$label" "${reason:+  [$reason]}"
  [[ $verdict == PASS || -z ${VERBOSE:-} ]] || printf '%s\n' "$out" | sed 's/^/    | /'
}

echo "# 1. Certificates: chain at 2024-03-01T10:05Z (openssl verify -attime $TS_EPOCH -CAfile root -untrusted intermediate)"
for c in "$F"/pki/certs/*.pem "$F/pki/untrusted/untrusted-signer.pem"; do
  want=ok; [[ $c == */untrusted-signer.pem ]] && want=fail
  check $want "$c" openssl verify -attime "$TS_EPOCH" -CAfile "$ROOT" -untrusted "$INTER" "$c"
done
c="$F/pki/certs/signer-cjk.pem"
subject=$(openssl x509 -in "$c" -noout -subject -nameopt utf8,sep_comma_plus,show_type | sed 's/^subject=//')
check ok "$c subject $subject" \
  test "$subject" = 'C=PRINTABLESTRING:CN,O=UTF8STRING:北京示例科技有限公司,CN=UTF8STRING:张伟'

echo
echo "# 2. Revocation by CRL (openssl verify -crl_check_all, -CAfile root + CRLs)"
for name in signer-valid signer-expired signer-expired-revoked signer-revoked-before signer-revoked-after signer-cjk tsa tsa-noncritical-eku tsa-revoked ocsp-responder; do
  want=ok; [[ $name == signer-revoked-* || $name == tsa-revoked || $name == signer-expired-revoked ]] && want=fail
  check $want "current CRLs @2024-06-15T12:00Z  $name" \
    openssl verify -attime "$CRL_EPOCH" -crl_check_all -CAfile "$S/root+current.pem" -untrusted "$INTER" "$F/pki/certs/$name.pem"
done
for name in signer-valid signer-expired-revoked signer-revoked-before signer-revoked-after tsa-revoked; do
  check ok "old CRLs     @2023-06-01T12:00Z  $name (nothing revoked yet)" \
    openssl verify -attime "$OLD_EPOCH" -crl_check_all -CAfile "$S/root+old.pem" -untrusted "$INTER" "$F/pki/certs/$name.pem"
done
check ok "root-only CRL @2024-06-15T12:00Z intermediate (-crl_check)" \
  openssl verify -attime "$CRL_EPOCH" -crl_check -CAfile "$S/root+rootonly.pem" "$INTER"
for name in signer-valid signer-revoked-before signer-revoked-after tsa tsa-revoked; do
  want=ok; [[ $name == signer-revoked-* || $name == tsa-revoked ]] && want=fail
  check $want "after-expiry CRLs @2025-01-01T12:00Z  $name" \
    openssl verify -attime "$AFTER_EPOCH" -crl_check_all -CAfile "$S/root+after.pem" -untrusted "$INTER" "$F/pki/certs/$name.pem"
done
# signer-expired-revoked has expired by 2025-01-01, so a time-checked verify fails on that alone;
# -no_check_time (certificate and CRL times ignored) shows what each CRL says about it.
check fail "current CRLs      -no_check_time  signer-expired-revoked (listed)" \
  openssl verify -no_check_time -crl_check_all -CAfile "$S/root+current.pem" -untrusted "$INTER" "$F/pki/certs/signer-expired-revoked.pem"
check ok "after-expiry CRLs -no_check_time  signer-expired-revoked (dropped after its expiry: the CRL is silent)" \
  openssl verify -no_check_time -crl_check_all -CAfile "$S/root+after.pem" -untrusted "$INTER" "$F/pki/certs/signer-expired-revoked.pem"

echo
echo "# 2b. CRL contents (openssl crl -inform DER -noout -text): thisUpdate, nextUpdate, revoked serials"
# crl_entries CRL: "serial@revocation-date,reason" for every entry, comma separated, or "none".
crl_entries() {
  openssl crl -inform DER -in "$1" -noout -text | awk '
    /Serial Number:/ { serial = $3 }
    /Revocation Date:/ { sub(/.*Revocation Date: /, ""); date = $0 }
    /Key Compromise|Unspecified|Superseded|Affiliation Changed|Cessation Of Operation|Certificate Hold/ {
      gsub(/^ +/, ""); out = out (out ? " " : "") serial "@" date "," $0 }
    END { print (out ? out : "none") }'
}
crl_check() { # CRL expected-thisUpdate expected-nextUpdate expected-entries
  local c="$F/pki/crl/$1" this next entries verdict=PASS
  this=$(openssl crl -inform DER -in "$c" -noout -lastupdate | sed 's/^lastUpdate=//')
  next=$(openssl crl -inform DER -in "$c" -noout -nextupdate | sed 's/^nextUpdate=//')
  entries=$(crl_entries "$c")
  [[ $this == "$2" && $next == "$3" && $entries == "$4" ]] || { verdict=FAIL; FAILED=1; }
  printf '%s %-4s %s: %s -> %s; %s\n' "$verdict" ok "$1" "$this" "$next" "$entries"
  [[ $verdict == PASS ]] || printf '    | expected: %s -> %s; %s\n' "$2" "$3" "$4"
}
R='Key Compromise'
crl_check current/intermediate-2024-06-15.crl 'Jun 15 00:00:00 2024 GMT' 'Jul 15 00:00:00 2024 GMT' \
  "1003@Feb  1 00:00:00 2024 GMT,$R 1004@May  1 00:00:00 2024 GMT,$R 1005@Feb  1 00:00:00 2024 GMT,$R 1103@Jan 15 00:00:00 2024 GMT,$R"
crl_check current/root-2024-06-15.crl 'Jun 15 00:00:00 2024 GMT' 'Jul 15 00:00:00 2024 GMT' none
crl_check root-only/root-2024-06-15.crl 'Jun 15 00:00:00 2024 GMT' 'Jul 15 00:00:00 2024 GMT' none
crl_check old/intermediate-2023-06-01.crl 'Jun  1 00:00:00 2023 GMT' 'Jul  1 00:00:00 2023 GMT' none
crl_check old/root-2023-06-01.crl 'Jun  1 00:00:00 2023 GMT' 'Jul  1 00:00:00 2023 GMT' none
crl_check after-expiry/intermediate-2025-01-01.crl 'Jan  1 00:00:00 2025 GMT' 'Feb  1 00:00:00 2025 GMT' \
  "1003@Feb  1 00:00:00 2024 GMT,$R 1004@May  1 00:00:00 2024 GMT,$R 1103@Jan 15 00:00:00 2024 GMT,$R"
crl_check after-expiry/root-2025-01-01.crl 'Jan  1 00:00:00 2025 GMT' 'Feb  1 00:00:00 2025 GMT' none
check ok "root-only/root-2024-06-15.crl is a byte copy of current/root-2024-06-15.crl" \
  cmp "$F/pki/crl/root-only/root-2024-06-15.crl" "$F/pki/crl/current/root-2024-06-15.crl"
check ok "current/intermediate-2024-06-15.crl lists signer-expired-revoked (1005), issued before its notAfter $(openssl x509 -in "$F/pki/certs/signer-expired-revoked.pem" -noout -enddate | sed 's/^notAfter=//')" \
  bash -c 'openssl crl -inform DER -in "$1" -noout -text | grep -q "Serial Number: 1005$"' _ "$F/pki/crl/current/intermediate-2024-06-15.crl"
check ok "after-expiry/intermediate-2025-01-01.crl does NOT list signer-expired-revoked (1005): dropped, it expired before this CRL was issued" \
  bash -c '! openssl crl -inform DER -in "$1" -noout -text | grep -q "Serial Number: 1005$"' _ "$F/pki/crl/after-expiry/intermediate-2025-01-01.crl"
for c in current/intermediate-2024-06-15.crl current/root-2024-06-15.crl after-expiry/intermediate-2025-01-01.crl after-expiry/root-2025-01-01.crl; do
  issuer=$ROOT; [[ $c == */intermediate-* ]] && issuer=$INTER
  check ok "$c: signature by $(basename "$issuer" .pem), CRL number $(openssl crl -inform DER -in "$F/pki/crl/$c" -noout -crlnumber | sed 's/^crlNumber=//')" \
    openssl crl -inform DER -in "$F/pki/crl/$c" -noout -CAfile "$issuer"
done

echo
echo "# 3. OCSP responses (faketime 2024-06-15T12:00Z openssl ocsp -respin R -CAfile root -verify_other intermediate -issuer intermediate -cert C)"
ocsp_check() { # response cert expected-status
  local out status verdict=PASS
  if out=$(faketime 2024-06-15T12:00:00Z openssl ocsp -respin "$F/pki/ocsp/$1" -CAfile "$ROOT" -verify_other "$INTER" \
             -issuer "$INTER" -cert "$F/pki/certs/$2.pem" 2>&1) && grep -q '^Response verify OK' <<<"$out"; then
    status=$(sed -nE "s|^.*$2.pem: (.*)|\1|p" <<<"$out")
    if [[ $status == revoked ]]; then
      status+=" ($(sed -nE 's/^\s*Revocation Time: (.*GMT).*/\1/p' <<<"$out"), $(sed -nE 's/^\s*Reason: (.*)/\1/p' <<<"$out"))"
    fi
    local text; text=$(openssl ocsp -respin "$F/pki/ocsp/$1" -resp_text -noverify 2>/dev/null)
    status+=", producedAt $(sed -nE 's/^\s*Produced At: (.*)/\1/p' <<<"$text")"
    status+=", thisUpdate $(sed -nE 's/^\s*This Update: (.*)/\1/p' <<<"$text")"
    status+=", nextUpdate $(sed -nE 's/^\s*Next Update: (.*)/\1/p' <<<"$text")"
  else
    status="verify failed"
  fi
  [[ $status == "$3"* ]] || { verdict=FAIL; FAILED=1; }
  printf '%s %-4s %s: %s\n' "$verdict" ok "$1" "$status"
}
O_TIMES=", producedAt Jun 15 00:00:00 2024 GMT, thisUpdate Jun 15 00:00:00 2024 GMT, nextUpdate Jul 16 00:00:00 2024 GMT"
ocsp_check signer-valid-good.der signer-valid "good$O_TIMES"
ocsp_check signer-revoked-after-revoked.der signer-revoked-after "revoked (May  1 00:00:00 2024 GMT, keyCompromise)$O_TIMES"
ocsp_check signer-expired-good-by-intermediate.der signer-expired "good$O_TIMES"
ocsp_check tsa-good.der tsa "good$O_TIMES"

echo
echo "# 4. CMS signatures (openssl cms -verify -binary -purpose any -attime $TS_EPOCH -CAfile root -certfile intermediate -content DOC -in SIG -out /dev/null)"
for sig in "$F"/cases/*/*.p7s "$F"/cases/*/*.sig "$F"/cases/*/*.p7m; do
  case_name=$(basename "$(dirname "$sig")")
  form=DER; [[ $sig == *.sig ]] && form=PEM
  content=(-content "${sig%.*}"); [[ $sig == *.p7m ]] && content=()
  want=ok
  case "$case_name" in tampered-document|twin-untrusted-root|two-signers) want=fail ;; esac
  check $want "$sig" openssl cms -verify -binary -purpose any -attime "$TS_EPOCH" -CAfile "$ROOT" -certfile "$INTER" \
    "${content[@]}" -inform $form -in "$sig" -out "$S/content.out"
done
check ok "Fixtures/cases/two-signers/board-resolution.txt.p7s with -CAfile root+untrusted-root (both SignerInfos valid)" \
  openssl cms -verify -binary -purpose any -attime "$TS_EPOCH" -CAfile "$S/both-roots.pem" \
  -content "$F/cases/two-signers/board-resolution.txt" -inform DER -in "$F/cases/two-signers/board-resolution.txt.p7s" -out /dev/null
openssl cms -verify -binary -purpose any -attime "$TS_EPOCH" -CAfile "$ROOT" -inform DER \
  -in "$F/cases/valid-enveloped/invoice.xml.p7m" -out "$S/invoice.xml" 2>/dev/null
check ok "valid-enveloped: extracted content is the UBL invoice" grep -q '<ID>INV-2024-0042</ID>' "$S/invoice.xml"
openssl cms -verify -binary -purpose any -attime "$TS_EPOCH" -CAfile "$ROOT" -inform DER \
  -in "$F/cases/enveloped-standalone-token/order.xml.p7m" -out "$S/order.xml" 2>/dev/null
check ok "enveloped-standalone-token: extracted content is the UBL order" grep -q '<ID>PO-2024-0312</ID>' "$S/order.xml"
check ok "crl-after-expiry: same supply-agreement.pdf and .p7s as expired-revoked, byte for byte" \
  bash -c 'cmp -s "$1/supply-agreement.pdf" "$2/supply-agreement.pdf" && cmp -s "$1/supply-agreement.pdf.p7s" "$2/supply-agreement.pdf.p7s"' _ \
  "$F/cases/expired-revoked" "$F/cases/crl-after-expiry"
check ok "expired-revoked: signer serial $(python3 "$HELPER" info "$F/cases/expired-revoked/supply-agreement.pdf.p7s" | sed -nE 's/^#0 serial=([0-9A-F]+) .*/\1/p') = signer-expired-revoked (1005)" \
  bash -c 'python3 "$1" info "$2" | grep -q "^#0 serial=1005 "' _ "$HELPER" "$F/cases/expired-revoked/supply-agreement.pdf.p7s"

echo
echo "# 5. Embedded signature time-stamps (helper extract; openssl ts -verify -token_in -in TOKEN -data SIGNATURE-VALUE -CAfile root -untrusted intermediate+TSAs)"
echo "#    then the same with -attime 2024-06-15T12:00Z -crl_check_all and the current CRLs in -CAfile"
for sig in "$F"/cases/*/*.p7s "$F"/cases/*/*.sig "$F"/cases/*/*.p7m; do
  case_name=$(basename "$(dirname "$sig")")
  n=$(python3 "$HELPER" info "$sig" | grep -c '2\.14' || true)
  [[ $n -eq 0 ]] && continue
  count=$(python3 "$HELPER" info "$sig" | wc -l)
  for ((i = 0; i < count; i++)); do
    python3 "$HELPER" extract "$sig" --index $i --out "$S/token.tst"
    python3 "$HELPER" signature "$sig" --index $i --out "$S/sigvalue.bin"
    gen=$(openssl ts -reply -token_in -in "$S/token.tst" -token_out -text 2>/dev/null | sed -n 's/^Time stamp: //p' || true)
    [[ -n $gen ]] || gen="unreadable by openssl ts"
    want=ok; [[ $case_name == twin-wrong-imprint || $case_name == twin-noncritical-eku || $case_name == token-with-ocsp ]] && want=fail
    check $want "$sig #$i (genTime $gen)" \
      openssl ts -verify -token_in -in "$S/token.tst" -data "$S/sigvalue.bin" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
    want=ok; [[ $case_name == twin-wrong-imprint || $case_name == twin-noncritical-eku || $case_name == twin-tsa-revoked || $case_name == token-with-ocsp ]] && want=fail
    check $want "$sig #$i with CRLs" \
      openssl ts -verify -token_in -in "$S/token.tst" -data "$S/sigvalue.bin" -attime "$CRL_EPOCH" -crl_check_all \
      -CAfile "$S/root+current.pem" -untrusted "$S/untrusted.pem"
  done
done


echo "#    token-with-ocsp: the token's SignedData.crls holds an RFC 5940 entry [1] { id-ri-ocsp-response, OCSPResponse }."
echo "#    openssl ts (PKCS7 layer) cannot parse it (above); the CMS layer verifies it:"
echo "#    openssl cms -verify -inform DER -in TOKEN -CAfile root -certfile intermediate -purpose timestampsign|any -out TSTINFO"
d="$F/cases/token-with-ocsp"
python3 "$HELPER" extract "$d/contract.pdf.p7s" --out "$S/ocsp-token.tst"
python3 "$HELPER" signature "$d/contract.pdf.p7s" --out "$S/ocsp-sigvalue.bin"
openssl ts -verify -token_in -in "$S/ocsp-token.tst" -data "$S/ocsp-sigvalue.bin" -CAfile "$ROOT" -untrusted "$S/untrusted.pem" \
  >"$S/ocsp-ts.log" 2>&1 || true
check ok "  openssl ts -verify's error: Type=X509_CRL / Field=crl, Type=PKCS7_SIGNED (wrong tag)" \
  grep -q 'Field=crl, Type=PKCS7_SIGNED' "$S/ocsp-ts.log"
check ok "  $d/contract.pdf.p7s #0 token: openssl cms -verify -purpose timestampsign" \
  openssl cms -verify -inform DER -in "$S/ocsp-token.tst" -CAfile "$ROOT" -certfile "$INTER" -purpose timestampsign -out "$S/ocsp-tstinfo.der"
check ok "  $d/contract.pdf.p7s #0 token: openssl cms -verify -purpose any" \
  openssl cms -verify -inform DER -in "$S/ocsp-token.tst" -CAfile "$ROOT" -certfile "$INTER" -purpose any -out /dev/null
imprint=$(openssl asn1parse -inform DER -in "$S/ocsp-tstinfo.der" | grep -m1 'OCTET STRING' | sed 's/.*HEX DUMP\]://')
expected=$(openssl dgst -sha256 -r "$S/ocsp-sigvalue.bin" | cut -d' ' -f1 | tr a-f A-F)
gen=$(openssl asn1parse -inform DER -in "$S/ocsp-tstinfo.der" | grep -m1 GENERALIZEDTIME | sed 's/.*://')
check ok "  TSTInfo: genTime $gen, messageImprint = SHA-256 of the SignerInfo's signature value" test "$imprint" = "$expected"
# The otherRevInfo SEQUENCE is the TLV right after the id-ri-ocsp-response OID: cut it out with dd.
ocsp_oid=':1\.3\.6\.1\.5\.5\.7\.16\.2$'
openssl asn1parse -inform DER -in "$S/ocsp-token.tst" >"$S/ocsp-token.asn1"
n=$(grep -c "$ocsp_oid" "$S/ocsp-token.asn1" || true)
line=$(grep -m1 -A1 "$ocsp_oid" "$S/ocsp-token.asn1" | tail -n +2)
: >"$S/ocsp-entry.der"
if [[ $line =~ ^\ *([0-9]+):d=[0-9]+\ +hl=([0-9]+)\ +l=\ *([0-9]+)\ cons:\ +SEQUENCE ]]; then
  dd if="$S/ocsp-token.tst" of="$S/ocsp-entry.der" bs=1 skip="${BASH_REMATCH[1]}" count=$((BASH_REMATCH[2] + BASH_REMATCH[3])) 2>/dev/null
fi
check ok "  crls: $n id-ri-ocsp-response entry, its otherRevInfo = pki/ocsp/tsa-good.der byte for byte" \
  bash -c '[ "$1" = 1 ] && cmp -s "$2" "$3"' _ "$n" "$S/ocsp-entry.der" "$F/pki/ocsp/tsa-good.der"
version=$(grep -m1 'INTEGER' "$S/ocsp-token.asn1" | sed 's/.*INTEGER *://')
check ok "  SignedData version $version (RFC 5652 5.1: 5 when crls holds an other entry)" test "$version" = 05

echo
echo "# 6. Standalone time-stamps"
d="$F/cases/standalone-token-over-signature"
check ok "$d/report.odt.p7s.tsr (TimeStampResp) over report.odt.p7s" \
  openssl ts -verify -in "$d/report.odt.p7s.tsr" -data "$d/report.odt.p7s" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
check ok "  status: $(openssl ts -reply -in "$d/report.odt.p7s.tsr" -text 2>/dev/null | sed -n 's/^Status: //p'), genTime $(openssl ts -reply -in "$d/report.odt.p7s.tsr" -text 2>/dev/null | sed -n 's/^Time stamp: //p')" true
d="$F/cases/standalone-token-over-document"
check ok "$d/notes.txt.tst (bare token) over notes.txt" \
  openssl ts -verify -token_in -in "$d/notes.txt.tst" -data "$d/notes.txt" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
check fail "$d/notes.txt.tst over notes.txt.p7s (it does not cover the signature)" \
  openssl ts -verify -token_in -in "$d/notes.txt.tst" -data "$d/notes.txt.p7s" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
d="$F/cases/enveloped-standalone-token"
check ok "$d/order.xml.p7m.tsr (TimeStampResp) over order.xml.p7m" \
  openssl ts -verify -in "$d/order.xml.p7m.tsr" -data "$d/order.xml.p7m" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
check ok "  status: $(openssl ts -reply -in "$d/order.xml.p7m.tsr" -text 2>/dev/null | sed -n 's/^Status: //p'), genTime $(openssl ts -reply -in "$d/order.xml.p7m.tsr" -text 2>/dev/null | sed -n 's/^Time stamp: //p')" true
check fail "$d/order.xml.p7m.tsr over the content order.xml (it covers the whole .p7m file)" \
  openssl ts -verify -in "$d/order.xml.p7m.tsr" -data "$S/order.xml" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"

echo
echo "# 7. openssl asn1parse: number of id-smime-aa-timeStampToken (1.2.840.113549.1.9.16.2.14) attributes"
for sig in "$F"/cases/*/*.p7s "$F"/cases/*/*.sig "$F"/cases/*/*.p7m; do
  case_name=$(basename "$(dirname "$sig")")
  form=DER; [[ $sig == *.sig ]] && form=PEM
  want=1
  case "$case_name" in expired-no-timestamp|standalone-token-*|enveloped-standalone-token) want=0 ;; two-signers) want=2 ;; esac
  got=$(openssl asn1parse -inform $form -in "$sig" | grep -c 'id-smime-aa-timeStampToken' || true)
  check ok "$sig: $got (expected $want)" test "$got" -eq "$want"
done

echo
if [[ $FAILED -eq 0 ]]; then echo "check-fixtures: all results as expected"; else echo "check-fixtures: UNEXPECTED RESULTS" >&2; fi
exit $FAILED
