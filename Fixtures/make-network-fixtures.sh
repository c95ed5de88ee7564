#!/usr/bin/env bash
# Regenerates Fixtures/netpki/: a second test PKI whose certificates carry authorityInfoAccess
# (OCSP) and cRLDistributionPoints URLs on 127.0.0.1, served during the tests by
# Tests/Servers/revocation-server.py (a real `openssl ocsp -index ... -port` responder and an HTTP
# server for CRLs). See README.md, section "Network PKI". Outputs are committed; re-running makes
# new keys, so every generated file changes.
set -euo pipefail

FIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$FIX/fixture-lib.sh"
fixtures_require make-network-fixtures openssl faketime python3

HELPER="$FIX/add-signature-timestamp.py"
NET="$FIX/netpki"
PRIV="$NET/private"
CERTS="$NET/certs"

# The fixed ports the URLs name (Tests/Servers/revocation-server.py listens on the first three).
HTTP_PORT=18780          # CRLs, and /slow-ocsp (answers after 5 s)
OCSP_PORT=18781          # openssl ocsp, signed by the delegated responder
ROGUE_PORT=18782         # openssl ocsp, signed by a certificate without id-kp-OCSPSigning
ROOT_OCSP_PORT=18783     # openssl ocsp for the root's certificates (the Net CA), signed by the root itself
DOWN_PORT=18789          # nothing listens here
HTTP="http://127.0.0.1:$HTTP_PORT"

SIGN_TIME='2024-03-01T10:00:00Z'
TS_TIME='2024-03-01T10:05:00Z'
CRL_TIME='2026-01-01T00:00:00Z'       # current CRLs: after every time-stamp, valid for ~70 years
STALE_CRL_TIME='2025-01-01T00:00:00Z' # stale CRL: nextUpdate 2025-01-08

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
rm -rf "$NET"
mkdir -p "$PRIV" "$CERTS" "$NET/crl" "$NET/ocsp" "$NET/cases"

# The fixtures' openssl configuration (openssl-ca.cnf: the `ca` section, v3_root, v3_ocsp,
# tsa_config), plus the extension sections whose URLs are the ports above.
{ cat "$FIX/openssl-ca.cnf"; cat <<EOF; } >"$WORK/ca.cnf"

[ v3_net_ca ]
basicConstraints       = critical, CA:true, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess    = OCSP;URI:http://127.0.0.1:$ROOT_OCSP_PORT/
crlDistributionPoints  = URI:$HTTP/crl/root.crl
[ v3_net_signer ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = emailProtection
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess    = \$ENV::AIA
crlDistributionPoints  = \$ENV::CDP
[ v3_net_signer_cdp_only ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = emailProtection
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = \$ENV::CDP
[ v3_net_signer_aia_only ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature, nonRepudiation
extendedKeyUsage       = emailProtection
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess    = \$ENV::AIA
[ v3_net_tsa ]
basicConstraints       = critical, CA:false
keyUsage               = critical, digitalSignature
extendedKeyUsage       = critical, timeStamping
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess    = OCSP;URI:http://127.0.0.1:$OCSP_PORT/
crlDistributionPoints  = URI:$HTTP/crl/ca.crl
EOF
export OPENSSL_CONF="$WORK/ca.cnf" CA_DIR="$WORK" CA_CERT=/dev/null CA_KEY=/dev/null AIA=dummy CDP=dummy SIGNER_EMAIL=unused@sigvault.test
export TSA_SERIAL="$WORK/tsaserial"
echo 0001 >"$TSA_SERIAL"

for ca in root ca; do mkdir -p "$WORK/$ca/newcerts"; : >"$WORK/$ca/index.txt"; echo 01 >"$WORK/$ca/crlnumber"; done
use_ca() { export CA_DIR="$WORK/$1" CA_CERT="$2" CA_KEY="$3"; }
# issue NAME SUBJECT-CN SERIAL EXTSECTION OUT [-selfsign -keyfile KEY]
issue() {
  local name="$1" cn="$2" serial="$3" ext="$4" out="$5"; shift 5
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$PRIV/$name.key" 2>/dev/null
  openssl req -new -key "$PRIV/$name.key" -subj "/O=SigVault Net Test/CN=$cn" -out "$WORK/$name.csr"
  echo "$serial" >"$CA_DIR/serial"
  openssl ca -batch -notext -in "$WORK/$name.csr" -out "$out" -extensions "$ext" \
    -startdate 20200101000000Z -enddate 20991231235959Z "$@" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}

echo "== network PKI"
use_ca root "$NET/root.pem" "$PRIV/root.key"
issue root "SigVault Net Root CA" 01 v3_root "$NET/root.pem" -selfsign -keyfile "$PRIV/root.key"
issue ca "SigVault Net CA" 02 v3_net_ca "$CERTS/ca.pem"
use_ca ca "$CERTS/ca.pem" "$PRIV/ca.key"

OCSP_AIA="OCSP;URI:http://127.0.0.1:$OCSP_PORT/"
CA_CDP="URI:$HTTP/crl/ca.crl"
# signer NAME CN SERIAL AIA CDP
signer() {
  local section=v3_net_signer
  [[ -z $4 ]] && section=v3_net_signer_cdp_only
  [[ -z $5 ]] && section=v3_net_signer_aia_only
  AIA="${4:-unused}" CDP="${5:-unused}" issue "$1" "$2" "$3" "$section" "$CERTS/$1.pem"
}
signer good         "Gina Good"          3001 "$OCSP_AIA" "$CA_CDP"
signer revoked      "Ralph Revoked"      3002 "$OCSP_AIA" "$CA_CDP"
signer unknown      "Uma Unknown"        3003 "$OCSP_AIA" "$CA_CDP"
signer unauthorised "Una Unauthorised"   3004 "OCSP;URI:http://127.0.0.1:$ROGUE_PORT/" ""
signer stale        "Stan Stale"         3005 "" "URI:$HTTP/crl/stale.crl"
signer slow         "Sid Slow"           3006 "OCSP;URI:$HTTP/slow-ocsp" "$CA_CDP"
signer down         "Dora Down"          3007 "OCSP;URI:http://127.0.0.1:$DOWN_PORT/" "URI:http://127.0.0.1:$DOWN_PORT/ca.crl"
signer garbage      "Gary Garbage"       3008 "OCSP;URI:$HTTP/garbage-ocsp" "URI:$HTTP/garbage-crl"
signer replayed     "Rex Replayed"       3009 "OCSP;URI:$HTTP/replayed-ocsp" ""
signer misdirected  "Mia Misdirected"    300A "OCSP;URI:$HTTP/misdirected-ocsp" ""
issue tsa       "SigVault Net TSA"            3101 v3_net_tsa "$CERTS/tsa.pem"
issue responder "SigVault Net OCSP Responder" 3201 v3_ocsp "$CERTS/responder.pem"
CDP="$CA_CDP" issue not-responder "SigVault Net Not A Responder" 3202 v3_net_signer_cdp_only "$CERTS/not-responder.pem"

echo "== revocation"
at '2024-02-01T00:00:00Z' openssl ca -revoke "$CERTS/revoked.pem" -crl_reason keyCompromise 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
gencrl() { # time days out
  at "$1" openssl ca -gencrl -crldays "$2" -out "$WORK/crl.pem" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
  openssl crl -in "$WORK/crl.pem" -outform DER -out "$3"
}
gencrl "$STALE_CRL_TIME" 7 "$NET/crl/stale.crl"
gencrl "$CRL_TIME" 25000 "$NET/crl/ca.crl"
use_ca root "$NET/root.pem" "$PRIV/root.key"
gencrl "$CRL_TIME" 25000 "$NET/crl/root.crl"
cp "$WORK/root/index.txt" "$NET/ocsp/root-index.txt"
# The responder's database: the CA's, without "unknown" (serial 3003), which it then answers
# with status unknown.
awk -F'\t' '$4 != "3003"' "$WORK/ca/index.txt" >"$NET/ocsp/ca-index.txt"
[[ $(wc -l <"$NET/ocsp/ca-index.txt") -eq $(( $(wc -l <"$WORK/ca/index.txt") - 1 )) ]] || { echo "serial 3003 not found" >&2; exit 1; }

echo "== signatures"
for name in good revoked unknown unauthorised stale slow down garbage replayed misdirected; do
  d="$NET/cases/$name"; mkdir -p "$d"
  printf 'Network fixture: a document signed by the "%s" certificate on 2024-03-01.\n' "$name" >"$d/statement.txt"
  at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha256 -nosmimecap -in "$d/statement.txt" \
    -signer "$CERTS/$name.pem" -inkey "$PRIV/$name.key" -certfile "$CERTS/ca.pem" -outform DER -out "$WORK/plain.p7s"
  python3 "$HELPER" signature "$WORK/plain.p7s" --out "$WORK/sigvalue.bin"
  openssl ts -query -data "$WORK/sigvalue.bin" -sha256 -cert -no_nonce -out "$WORK/ts.tsq" 2>/dev/null
  at "$TS_TIME" openssl ts -reply -section tsa_config -queryfile "$WORK/ts.tsq" -signer "$CERTS/tsa.pem" \
    -inkey "$PRIV/tsa.key" -chain "$CERTS/ca.pem" -out "$WORK/token.tst" -token_out 2>"$WORK/ts.log" || { cat "$WORK/ts.log" >&2; exit 1; }
  python3 "$HELPER" add "$WORK/plain.p7s" "$d/statement.txt.p7s" --token "0=$WORK/token.tst"
done

echo "== check: every signature verifies with stock openssl"
for d in "$NET"/cases/*/; do
  openssl cms -verify -binary -inform DER -in "$d/statement.txt.p7s" -content "$d/statement.txt" -CAfile "$NET/root.pem" \
    -certfile "$CERTS/ca.pem" -purpose any -out /dev/null 2>"$WORK/verify.log" || { cat "$WORK/verify.log" >&2; exit 1; }
done
echo "== done: $(find "$NET" -type f | wc -l) files"
