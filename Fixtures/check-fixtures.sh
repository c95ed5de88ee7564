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
CRL_EPOCH=$(epoch 2024-07-01T12:00:00Z)     # inside the current CRLs' validity
OLD_EPOCH=$(epoch 2023-06-01T12:00:00Z)     # inside the old CRLs' validity

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
cat "$ROOT" "$F/pki/untrusted-root.pem" >"$S/both-roots.pem"

FAILED=0
# check WANT(ok|fail) LABEL CMD... : run CMD, compare its success with WANT.
check() {
  local want="$1" label="$2" out got reason=""; shift 2
  if out=$("$@" 2>&1); then got=ok; else got=fail; fi
  if [[ $got == fail ]]; then
    reason=$(printf '%s\n' "$out" | sed -nE 's/.*Verify error:(.*)/\1/p; s/.*:error:[0-9A-F]+:[^:]*:[^:]*:([^:]*):.*/\1/p; s/^error [0-9]+ at [0-9]+ depth lookup: (.*)/\1/p' \
      | sed 's/^ *//' | grep -v -x -e 'certificate verify error' -e 'verification failure' | awk '!seen[$0]++' | paste -sd ';' -)
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

echo
echo "# 2. Revocation by CRL (openssl verify -crl_check_all, -CAfile root + CRLs)"
for name in signer-valid signer-expired signer-revoked-before signer-revoked-after tsa tsa-noncritical-eku tsa-revoked ocsp-responder; do
  want=ok; [[ $name == signer-revoked-* || $name == tsa-revoked || $name == signer-expired ]] && want=fail
  check $want "current CRLs @2024-07-01T12:00Z  $name" \
    openssl verify -attime "$CRL_EPOCH" -crl_check_all -CAfile "$S/root+current.pem" -untrusted "$INTER" "$F/pki/certs/$name.pem"
done
for name in signer-valid signer-revoked-before signer-revoked-after tsa-revoked; do
  check ok "old CRLs     @2023-06-01T12:00Z  $name (nothing revoked yet)" \
    openssl verify -attime "$OLD_EPOCH" -crl_check_all -CAfile "$S/root+old.pem" -untrusted "$INTER" "$F/pki/certs/$name.pem"
done
check ok "root-only CRL @2024-07-01T12:00Z intermediate (-crl_check)" \
  openssl verify -attime "$CRL_EPOCH" -crl_check -CAfile "$S/root+rootonly.pem" "$INTER"

echo
echo "# 3. OCSP responses (faketime 2024-07-01T12:00Z openssl ocsp -respin R -CAfile root -verify_other intermediate -issuer intermediate -cert C)"
ocsp_check() { # response cert expected-status
  local out status verdict=PASS
  if out=$(faketime 2024-07-01T12:00:00Z openssl ocsp -respin "$F/pki/ocsp/$1" -CAfile "$ROOT" -verify_other "$INTER" \
             -issuer "$INTER" -cert "$F/pki/certs/$2.pem" 2>&1) && grep -q '^Response verify OK' <<<"$out"; then
    status=$(sed -nE "s|^.*$2.pem: (.*)|\1|p" <<<"$out")
    if [[ $status == revoked ]]; then
      status+=" ($(sed -nE 's/^\s*Revocation Time: (.*GMT).*/\1/p' <<<"$out"), $(sed -nE 's/^\s*Reason: (.*)/\1/p' <<<"$out"))"
    fi
    status+=", producedAt $(openssl ocsp -respin "$F/pki/ocsp/$1" -resp_text -noverify 2>/dev/null | sed -nE 's/^\s*Produced At: (.*)/\1/p')"
  else
    status="verify failed"
  fi
  [[ $status == "$3"* ]] || { verdict=FAIL; FAILED=1; }
  printf '%s %-4s %s: %s\n' "$verdict" ok "$1" "$status"
}
ocsp_check signer-valid-good.der signer-valid good
ocsp_check signer-revoked-after-revoked.der signer-revoked-after revoked
ocsp_check signer-expired-good-by-intermediate.der signer-expired good
ocsp_check tsa-good.der tsa good

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

echo
echo "# 5. Embedded signature time-stamps (helper extract; openssl ts -verify -token_in -in TOKEN -data SIGNATURE-VALUE -CAfile root -untrusted intermediate+TSAs)"
echo "#    then the same with -attime 2024-07-01T12:00Z -crl_check_all and the current CRLs in -CAfile"
for sig in "$F"/cases/*/*.p7s "$F"/cases/*/*.sig "$F"/cases/*/*.p7m; do
  case_name=$(basename "$(dirname "$sig")")
  n=$(python3 "$HELPER" info "$sig" | grep -c '2\.14' || true)
  [[ $n -eq 0 ]] && continue
  count=$(python3 "$HELPER" info "$sig" | wc -l)
  for ((i = 0; i < count; i++)); do
    python3 "$HELPER" extract "$sig" --index $i --out "$S/token.tst"
    python3 "$HELPER" signature "$sig" --index $i --out "$S/sigvalue.bin"
    gen=$(openssl ts -reply -token_in -in "$S/token.tst" -token_out -text 2>/dev/null | sed -n 's/^Time stamp: //p')
    want=ok; [[ $case_name == twin-wrong-imprint || $case_name == twin-noncritical-eku ]] && want=fail
    check $want "$sig #$i (genTime $gen)" \
      openssl ts -verify -token_in -in "$S/token.tst" -data "$S/sigvalue.bin" -CAfile "$ROOT" -untrusted "$S/untrusted.pem"
    want=ok; [[ $case_name == twin-wrong-imprint || $case_name == twin-noncritical-eku || $case_name == twin-tsa-revoked ]] && want=fail
    check $want "$sig #$i with CRLs" \
      openssl ts -verify -token_in -in "$S/token.tst" -data "$S/sigvalue.bin" -attime "$CRL_EPOCH" -crl_check_all \
      -CAfile "$S/root+current.pem" -untrusted "$S/untrusted.pem"
  done
done

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

echo
echo "# 7. openssl asn1parse: number of id-smime-aa-timeStampToken (1.2.840.113549.1.9.16.2.14) attributes"
for sig in "$F"/cases/*/*.p7s "$F"/cases/*/*.sig "$F"/cases/*/*.p7m; do
  case_name=$(basename "$(dirname "$sig")")
  form=DER; [[ $sig == *.sig ]] && form=PEM
  want=1
  case "$case_name" in expired-no-timestamp|standalone-token-*) want=0 ;; two-signers) want=2 ;; esac
  got=$(openssl asn1parse -inform $form -in "$sig" | grep -c 'id-smime-aa-timeStampToken' || true)
  check ok "$sig: $got (expected $want)" test "$got" -eq "$want"
done

echo
if [[ $FAILED -eq 0 ]]; then echo "check-fixtures: all results as expected"; else echo "check-fixtures: UNEXPECTED RESULTS" >&2; fi
exit $FAILED
