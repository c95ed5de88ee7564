#!/usr/bin/env bash
# Regenerates Fixtures/conformance/: the ETSI EN 319 102-1 conformance cases (issue 8), each rule
# with a passing case and its failing twin, on a PKI of their own, with the openssl CLI, faketime
# and add-signature-timestamp.py. See Fixtures/README.md ("Conformance cases"). The outputs are
# committed; re-running makes new keys, so every generated binary file changes (verdicts do not).
set -euo pipefail

FIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$FIX/fixture-lib.sh"
fixtures_require make-conformance-fixtures openssl faketime python3
python3 -c 'import pyasn1' 2>/dev/null || { echo "make-conformance-fixtures: python3 module pyasn1 is missing" >&2; exit 1; }

HELPER="$FIX/add-signature-timestamp.py"
OUT="$FIX/conformance"
PKI="$OUT/pki"
PRIV="$PKI/private"
CERTS="$PKI/certs"
CASES="$OUT/cases"

SIGN_TIME='2025-03-01T10:00:00Z'       # every signature
TS_TIME='2025-03-01T10:05:00Z'         # every signature time-stamp: the best signature time
SAME_DAY='2025-03-01T00:00:00Z'        # CRLs issued the same day, before the time-stamp (nextUpdate +30 d)
OCSP_TIME='2025-03-02T00:00:00Z'       # OCSP responses (producedAt = thisUpdate, nextUpdate +30 d)
CURRENT='2026-05-31T00:00:00Z'         # data fresh at the verification time 2026-06-01

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT"
mkdir -p "$PRIV" "$CERTS" "$CASES" "$OUT/crl" "$OUT/ocsp" "$OUT/current"

# The TSA here also accepts SHA-1 imprints (for the token of sha1-token, rule 3).
sed 's/^digests *=.*/digests                = sha1, sha256, sha384, sha512/' "$FIX/openssl-ca.cnf" >"$WORK/ca.cnf"
export OPENSSL_CONF="$WORK/ca.cnf"
export SIGNER_EMAIL=unused@sigvault.test CA_CERT=/dev/null CA_KEY=/dev/null CA_DIR="$WORK"
export TSA_SERIAL="$WORK/tsaserial"
echo 0001 >"$TSA_SERIAL"
for ca in root ca; do mkdir -p "$WORK/$ca/newcerts"; : >"$WORK/$ca/index.txt"; echo 01 >"$WORK/$ca/crlnumber"; done
use_ca() { export CA_DIR="$WORK/$1" CA_CERT="$2" CA_KEY="$3"; }
# RSA 3072 unless KEY_BITS says otherwise: 2048-bit keys reach their sunset on 2027-01-01
# (docs/ALGORITHMS.md), after which their signatures and tokens need an earlier proof of existence.
newkey() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"${KEY_BITS:-3072}" -out "$PRIV/$1.key" 2>/dev/null; }

# issue NAME SUBJECT SERIAL START END EXTSECTION OUT [KEY-OF] [openssl ca args...]
# KEY-OF: the name of an existing key to certify again (a second certificate for the same key), or -.
issue() {
  local name="$1" subject="$2" serial="$3" start="$4" end="$5" ext="$6" out="$7" keyof="${8:--}"; shift 8
  local key="$PRIV/$name.key"
  if [[ $keyof == - ]]; then newkey "$name"; else key="$PRIV/$keyof.key"; fi
  openssl req -new -key "$key" -subj "$subject" -out "$WORK/$name.csr"
  echo "$serial" >"$CA_DIR/serial"
  openssl ca -batch -notext -in "$WORK/$name.csr" -out "$out" -extensions "$ext" \
    -startdate "$start" -enddate "$end" "$@" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}
O='/O=SigVault Conformance'
ALWAYS_START=20200101000000Z
ALWAYS_END=20991231235959Z
EE_START=20230101000000Z

echo "== PKI"
use_ca root "$PKI/root.pem" "$PRIV/root.key"
issue root "$O/CN=SigVault Conformance Root" 01 $ALWAYS_START $ALWAYS_END v3_root "$PKI/root.pem" - -selfsign -keyfile "$PRIV/root.key"
issue ca "$O/CN=SigVault Conformance CA" 02 $ALWAYS_START $ALWAYS_END v3_intermediate "$PKI/ca.pem" -
# The same CA (name and key) certified once more, valid only until 2024-12-31: an earlier
# certificate of the CA that a validator must not stop at (rule 7).
issue ca-old "$O/CN=SigVault Conformance CA" 03 $ALWAYS_START 20241231235959Z v3_intermediate "$PKI/ca-old.pem" ca
# Once more, valid from 2024-06-01 (the most recent, which OpenSSL prefers) and revoked by the root
# on 2025-01-05 (superseded): a path through it fails, the one through ca.pem holds (rule 7).
issue ca-superseded "$O/CN=SigVault Conformance CA" 04 20240601000000Z $ALWAYS_END v3_intermediate "$PKI/ca-superseded.pem" ca
CA="$PKI/ca.pem"

use_ca ca "$CA" "$PRIV/ca.key"
signer() { # name CN serial end [ext] [key-of]
  SIGNER_EMAIL="$1@conformance.sigvault.test" issue "$1" "$O/CN=$2" "$3" $EE_START "$4" "${5:-v3_signer}" "$CERTS/$1.pem" "${6:--}"
}
signer signer          'Sam Signer'        3001 $ALWAYS_END
signer hold-lifted     'Hana Hold-Lifted'  3002 $ALWAYS_END
signer held            'Holly Held'        3003 $ALWAYS_END
signer ocsp-signer     'Otto OCSP'         3004 $ALWAYS_END v3_signer_aia
signer twin-revoked    'Tim Twin'          3006 $ALWAYS_END
signer twin-good       'Tim Twin'          3007 $ALWAYS_END v3_signer twin-revoked
signer expired         'Erik Expired'      3008 20250630235959Z
signer cdp-signer      'Dana Distribution' 3009 $ALWAYS_END v3_signer_cdp
KEY_BITS=1024 signer weak-key 'Wanda Weak' 3010 $ALWAYS_END
issue tsa               "$O/CN=SigVault Conformance TSA"        3101 $ALWAYS_START $ALWAYS_END v3_tsa_aia "$CERTS/tsa.pem" -
issue tsa-twin          "$O/CN=SigVault Conformance TSA"        3102 $ALWAYS_START $ALWAYS_END v3_tsa_aia "$CERTS/tsa-twin.pem" tsa
issue tsa-compromised   "$O/CN=SigVault Compromised TSA"        3103 $ALWAYS_START $ALWAYS_END v3_tsa_aia "$CERTS/tsa-compromised.pem" -
issue responder-revoked "$O/CN=Revoked Responder"               3201 $ALWAYS_START $ALWAYS_END v3_ocsp_check "$CERTS/responder-revoked.pem" -
issue responder-sound   "$O/CN=Sound Responder"                 3202 $ALWAYS_START $ALWAYS_END v3_ocsp_check "$CERTS/responder-sound.pem" -
issue responder-nocheck "$O/CN=Nocheck Responder"               3203 $ALWAYS_START $ALWAYS_END v3_ocsp "$CERTS/responder-nocheck.pem" -
# The TSA certificate alone (for the token issued without certificates, rule 9).
mkdir -p "$PKI/tsa-only"; cp "$CERTS/tsa.pem" "$PKI/tsa-only/tsa.pem"

echo "== CRLs and OCSP (the CA's database changes between them)"
gencrl() { # time days out.der [crl extension section]
  at "$1" openssl ca -gencrl -crldays "$2" -crlexts "${4:-crl_ext}" -out "$WORK/crl.pem" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
  openssl crl -in "$WORK/crl.pem" -outform DER -out "$3"
}
revoke() { # time cert reason
  at "$1" openssl ca -revoke "$2" -crl_reason "$3" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}
hold() { # time cert
  at "$1" openssl ca -revoke "$2" -crl_hold holdInstructionReject 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}
lift() { # serial: the hold is lifted (openssl ca cannot: its database row goes back to valid)
  awk -F'\t' -v OFS='\t' -v s="$1" '$4 == s { $1 = "V"; $3 = "" } { print }' "$CA_DIR/index.txt" >"$WORK/index.new"
  mv "$WORK/index.new" "$CA_DIR/index.txt"
}

mkdir -p "$OUT/crl/stale" "$OUT/crl/same-day" "$OUT/crl/hold" "$OUT/crl/idp-users" "$OUT/crl/idp-cas" "$OUT/crl/idp-other" "$OUT/crl/delta" "$OUT/crl/root"
# The root's CRL: fresh at the time-stamp, speaking for the CA certificates (ca-superseded.pem revoked).
use_ca root "$PKI/root.pem" "$PRIV/root.key"
revoke '2025-01-05T00:00:00Z' "$PKI/ca-superseded.pem" superseded
gencrl "$SAME_DAY" 30 "$OUT/crl/root/root-2025-03-01.crl"
gencrl "$CURRENT" 30 "$OUT/current/root-2026-05-31.crl"
use_ca ca "$CA" "$PRIV/ca.key"
# Before anything is revoked: a CRL past its nextUpdate at the time-stamp (stale).
gencrl '2025-01-01T00:00:00Z' 30 "$OUT/crl/stale/ca-2025-01-01.crl"
revoke '2025-01-10T00:00:00Z' "$CERTS/responder-revoked.pem" keyCompromise
revoke '2025-02-01T00:00:00Z' "$CERTS/twin-revoked.pem" keyCompromise
hold '2025-02-15T00:00:00Z' "$CERTS/hold-lifted.pem"
hold '2025-02-15T00:00:00Z' "$CERTS/held.pem"
gencrl '2025-02-20T00:00:00Z' 30 "$OUT/crl/hold/ca-2025-02-20.crl"
lift 3002
gencrl "$SAME_DAY" 30 "$OUT/crl/same-day/ca-2025-03-01.crl"
# The same-day CRL's scope narrowed by a critical issuingDistributionPoint (rule 8).
gencrl "$SAME_DAY" 30 "$OUT/crl/idp-users/ca-2025-03-01-users.crl" crl_ext_users
gencrl "$SAME_DAY" 30 "$OUT/crl/idp-cas/ca-2025-03-01-cas.crl" crl_ext_cas
gencrl "$SAME_DAY" 30 "$OUT/crl/idp-other/ca-2025-03-01-other.crl" crl_ext_other_point
# A delta CRL (deltaCRLIndicator, base CRL number 1): its entries are revocations, its silence is not
# a status SigVault can give without combining it with its base.
gencrl "$SAME_DAY" 30 "$OUT/crl/delta/ca-2025-03-01-delta.crl" crl_ext_delta

# ocsp CERT RESPONDER-NAME(ca|responder-…) TIME OUT
ocsp() {
  local rsigner="$CERTS/$2.pem" rkey="$PRIV/$2.key"
  [[ $2 == ca ]] && rsigner="$CA" && rkey="$PRIV/ca.key"
  openssl ocsp -issuer "$CA" -cert "$1" -no_nonce -reqout "$WORK/ocsp.req" 2>/dev/null
  at "$3" openssl ocsp -index "$CA_DIR/index.txt" -CA "$CA" -rsigner "$rsigner" -rkey "$rkey" \
    -reqin "$WORK/ocsp.req" -respout "$4" -ndays 30 >/dev/null 2>"$WORK/ocsp.log" || { cat "$WORK/ocsp.log" >&2; exit 1; }
}
mkdir -p "$OUT/ocsp/tsa" "$OUT/ocsp/by-revoked-responder" "$OUT/ocsp/by-sound-responder" "$OUT/ocsp/by-nocheck-responder" \
         "$OUT/ocsp/responder-revoked-status" "$OUT/ocsp/responder-sound-status"
ocsp "$CERTS/tsa.pem"               ca                "$OCSP_TIME" "$OUT/ocsp/tsa/tsa-good-by-ca.der"
ocsp "$CERTS/ocsp-signer.pem"       responder-revoked "$OCSP_TIME" "$OUT/ocsp/by-revoked-responder/ocsp-signer-good.der"
ocsp "$CERTS/ocsp-signer.pem"       responder-sound   "$OCSP_TIME" "$OUT/ocsp/by-sound-responder/ocsp-signer-good.der"
ocsp "$CERTS/ocsp-signer.pem"       responder-nocheck "$OCSP_TIME" "$OUT/ocsp/by-nocheck-responder/ocsp-signer-good.der"
ocsp "$CERTS/responder-revoked.pem" ca                "$OCSP_TIME" "$OUT/ocsp/responder-revoked-status/responder-revoked-revoked-by-ca.der"
ocsp "$CERTS/responder-sound.pem"   ca                "$OCSP_TIME" "$OUT/ocsp/responder-sound-status/responder-sound-good-by-ca.der"
ocsp "$CERTS/tsa.pem"               ca                "$CURRENT"   "$OUT/current/tsa-good-2026-05-31.der"
# Rule 2: a TSA whose key was compromised after it time-stamped (revoked 2025-06-01), and the CA's
# answer of 2026-05-31 that says so.
mkdir -p "$OUT/ocsp/tsa-compromised"
revoke '2025-06-01T00:00:00Z' "$CERTS/tsa-compromised.pem" keyCompromise
ocsp "$CERTS/tsa-compromised.pem"   ca                "$CURRENT"   "$OUT/ocsp/tsa-compromised/tsa-compromised-revoked-2026-05-31.der"

echo "== signatures"
printf 'Conformance statement %s\nSigned on 1 March 2025.\n' "rule" >/dev/null
doc() { # dir name text
  mkdir -p "$1"; printf '%s\n' "$3" >"$1/$2"
}
# cms_sign SIGNER DOC OUT [extra cms -sign args]: detached CAdES, signer cert + CA in the CMS.
cms_sign() {
  local signer="$1" in="$2" out="$3"; shift 3
  at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha256 -nosmimecap -in "$in" \
    -signer "$CERTS/$signer.pem" -inkey "$PRIV/$signer.key" -certfile "$CA" -outform DER -out "$out" "$@"
}
# tst QUERY-DATA OUT [openssl ts -query args]: a TSTInfo-bearing token by the TSA at TS_TIME.
tst() {
  local data="$1" out="$2"; shift 2
  openssl ts -query -data "$data" -no_nonce "$@" -out "$WORK/ts.tsq" 2>/dev/null
  at "$TS_TIME" openssl ts -reply -section tsa_config -queryfile "$WORK/ts.tsq" \
    -signer "$CERTS/${TS_SIGNER:-tsa}.pem" -inkey "$PRIV/${TS_SIGNER:-tsa}.key" -chain "${TS_CHAIN:-$CA}" -token_out -out "$out" 2>"$WORK/ts.log" \
    || { cat "$WORK/ts.log" >&2; exit 1; }
}
# resign TOKEN OUT SIGNER-CERT KEY [cms -sign args]: the token's TSTInfo signed again with
# `openssl cms -sign` (eContentType id-ct-TSTInfo; -cades adds ESS signingCertificateV2).
resign() {
  local token="$1" out="$2" cert="$3" key="$4"; shift 4
  openssl cms -verify -noverify -binary -inform DER -in "$token" -out "$WORK/tstinfo.der" 2>/dev/null
  at "$TS_TIME" openssl cms -sign -binary -nodetach -cades -md sha256 -nosmimecap \
    -econtent_type 1.2.840.113549.1.9.16.1.4 -in "$WORK/tstinfo.der" \
    -signer "$cert" -inkey "$key" -outform DER -out "$out" "$@"
}
# stamp IN OUT [token-kind: plain|no-certs|pss|ess-mismatch|sha1]: IN with a signature time-stamp.
stamp() {
  local in="$1" out="$2" kind="${3:-plain}"
  python3 "$HELPER" signature "$in" --out "$WORK/sigvalue.bin"
  case "$kind" in
    plain)    tst "$WORK/sigvalue.bin" "$WORK/token.tst" -sha256 -cert ;;
    no-certs) tst "$WORK/sigvalue.bin" "$WORK/token.tst" -sha256 ;;
    sha1)     tst "$WORK/sigvalue.bin" "$WORK/token.tst" -sha1 -cert ;;
    pss)
      tst "$WORK/sigvalue.bin" "$WORK/template.tst" -sha256 -cert
      resign "$WORK/template.tst" "$WORK/token.tst" "$CERTS/tsa.pem" "$PRIV/tsa.key" -certfile "$CA" \
        -keyopt rsa_padding_mode:pss -keyopt rsa_pss_saltlen:32 ;;
    ess-mismatch)
      # Signed with the TSA's key under tsa-twin's certificate (ESS names tsa-twin), identified by
      # subjectKeyIdentifier, carrying only tsa.pem: the SignerInfo resolves to tsa.pem, which its
      # ESS certHash does not name.
      tst "$WORK/sigvalue.bin" "$WORK/template.tst" -sha256 -cert
      resign "$WORK/template.tst" "$WORK/token.tst" "$CERTS/tsa-twin.pem" "$PRIV/tsa.key" -keyid -nocerts \
        -certfile <(cat "$CERTS/tsa.pem" "$CA") ;;
  esac
  python3 "$HELPER" add "$in" "$out" --token "0=$WORK/token.tst"
}

case_dir() { mkdir -p "$CASES/$1"; echo "$CASES/$1"; }

# One statement signed by Sam Signer, time-stamped: rules 1, 8 and 10 use it with different data.
d=$(case_dir statement)
doc "$d" statement.txt 'Conformance statement: this text was signed by Sam Signer on 1 March 2025.'
cms_sign signer "$d/statement.txt" "$WORK/statement.p7s"
stamp "$WORK/statement.p7s" "$d/statement.txt.p7s"

d=$(case_dir hold-lifted)
doc "$d" notice.txt 'Notice signed by Hana Hold-Lifted, whose certificate was on hold from 15 to 28 February 2025.'
cms_sign hold-lifted "$d/notice.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/notice.txt.p7s"

d=$(case_dir hold-current)
doc "$d" notice.txt 'Notice signed by Holly Held, whose certificate is on hold since 15 February 2025.'
cms_sign held "$d/notice.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/notice.txt.p7s"

d=$(case_dir ocsp-signed)
doc "$d" order.txt 'Order signed by Otto OCSP; his status comes from delegated OCSP responders only.'
cms_sign ocsp-signer "$d/order.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/order.txt.p7s"

# Rule 4: one key, two certificates (Tim Twin 3006, revoked before signing; 3007, good). The
# SignerInfo names its signer by subjectKeyIdentifier, which both share; ESS signingCertificateV2
# names 3006. The CMS carries 3007 first, then 3006.
d=$(case_dir signing-cert-twin)
doc "$d" lease.txt 'Lease signed by Tim Twin with the key of certificate 3006.'
cms_sign twin-revoked "$d/lease.txt" "$WORK/s.p7s" -keyid -nocerts -certfile <(cat "$CERTS/twin-good.pem" "$CERTS/twin-revoked.pem" "$CA")
stamp "$WORK/s.p7s" "$d/lease.txt.p7s"
d=$(case_dir signing-cert-absent)
cp "$CASES/signing-cert-twin/lease.txt" "$d/lease.txt"
cms_sign twin-revoked "$d/lease.txt" "$WORK/s.p7s" -keyid -nocerts -certfile <(cat "$CERTS/twin-good.pem" "$CA")
stamp "$WORK/s.p7s" "$d/lease.txt.p7s"

# Rule 9 and the ESS binding of tokens: an expired signer (until 2025-06-30) whose only proof of
# existence is the token.
for kind in plain pss no-certs ess-mismatch; do
  d=$(case_dir "token-$kind")
  doc "$d" receipt.txt "Receipt signed by Erik Expired; its time-stamp token is of the kind '$kind'."
  cms_sign expired "$d/receipt.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/receipt.txt.p7s" "$kind"
done

# Rule 2: the expired signer's only proof is a token by the TSA compromised in 2025.
d=$(case_dir token-compromised-tsa)
doc "$d" receipt.txt 'Receipt signed by Erik Expired, time-stamped by the TSA whose key was compromised in June 2025.'
cms_sign expired "$d/receipt.txt" "$WORK/s.p7s"; TS_SIGNER=tsa-compromised stamp "$WORK/s.p7s" "$d/receipt.txt.p7s"

# Rule 11: document time-stamps (bare tokens over a document, no signature): one over the
# document, one over other bytes.
d=$(case_dir document-token)
doc "$d" register.txt 'Register of archived records, state of 1 March 2025.'
tst "$d/register.txt" "$d/register.txt.tst" -sha256 -cert
d=$(case_dir document-token-mismatch)
doc "$d" register.txt 'Register of archived records, state of 1 March 2025 (amended afterwards).'
printf 'Register of archived records, state of 1 March 2025.\n' >"$WORK/original-register.txt"
tst "$WORK/original-register.txt" "$d/register.txt.tst" -sha256 -cert

# Rule 3: SHA-1 (after its sunset) in the signature, and in the only token's imprint.
d=$(case_dir sha1-signature)
doc "$d" memo.txt 'Memo signed by Sam Signer with SHA-1 in 2025.'
at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha1 -nosmimecap -in "$d/memo.txt" \
  -signer "$CERTS/signer.pem" -inkey "$PRIV/signer.key" -certfile "$CA" -outform DER -out "$WORK/s.p7s"
stamp "$WORK/s.p7s" "$d/memo.txt.p7s"
d=$(case_dir sha1-token)
doc "$d" receipt.txt 'Receipt signed by Erik Expired; its only time-stamp has a SHA-1 imprint.'
cms_sign expired "$d/receipt.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/receipt.txt.p7s" sha1

# Rule 3: a 1024-bit RSA signer (sunset 2019-10-01) signing in 2025.
d=$(case_dir weak-key)
doc "$d" memo.txt 'Memo signed by Wanda Weak with a 1024-bit RSA key in 2025.'
cms_sign weak-key "$d/memo.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/memo.txt.p7s"

# Rule 7: the CMS, and the token, carry the CA's earlier certificate (expired 2024-12-31) only.
d=$(case_dir ca-reissued)
doc "$d" minutes.txt 'Minutes signed by Sam Signer; the CMS carries the CA certificate that expired in 2024.'
at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha256 -nosmimecap -in "$d/minutes.txt" \
  -signer "$CERTS/signer.pem" -inkey "$PRIV/signer.key" -certfile "$PKI/ca-old.pem" -outform DER -out "$WORK/s.p7s"
TS_CHAIN="$PKI/ca-old.pem" stamp "$WORK/s.p7s" "$d/minutes.txt.p7s"

# Rule 7: the CMS, and the token, carry the CA certificate the root revoked (superseded) only.
d=$(case_dir ca-superseded)
doc "$d" minutes.txt 'Minutes signed by Sam Signer; the CMS carries the CA certificate the root revoked on 2025-01-05.'
at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha256 -nosmimecap -in "$d/minutes.txt" \
  -signer "$CERTS/signer.pem" -inkey "$PRIV/signer.key" -certfile "$PKI/ca-superseded.pem" -outform DER -out "$WORK/s.p7s"
TS_CHAIN="$PKI/ca-superseded.pem" stamp "$WORK/s.p7s" "$d/minutes.txt.p7s"

# Rule 8: a signer whose certificate names the users' distribution point.
d=$(case_dir cdp-signer)
doc "$d" form.txt 'Form signed by Dana Distribution, whose certificate names the users CRL distribution point.'
cms_sign cdp-signer "$d/form.txt" "$WORK/s.p7s"; stamp "$WORK/s.p7s" "$d/form.txt.p7s"

echo "== checks with stock openssl"
for p7s in "$CASES"/*/*.p7s; do
  doc="${p7s%.p7s}"
  openssl cms -verify -binary -inform DER -in "$p7s" -content "$doc" -noverify -out /dev/null 2>/dev/null \
    || { echo "make-conformance-fixtures: $p7s does not verify" >&2; exit 1; }
done
echo "conformance fixtures written to $OUT"
