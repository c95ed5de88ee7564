#!/usr/bin/env bash
# Regenerates every test fixture under Fixtures/ (except this script, README.md and the helper
# scripts) with the openssl CLI, faketime and add-signature-timestamp.py. See README.md.
# The outputs are committed: tests never depend on fresh keys or on the clock. Re-running makes
# new keys, so every generated file changes.
set -euo pipefail

FIX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$FIX/fixture-lib.sh"
fixtures_require make-fixtures openssl faketime python3
python3 -c 'import pyasn1' 2>/dev/null || { echo "make-fixtures: python3 module pyasn1 is missing (pip install pyasn1)" >&2; exit 1; }

HELPER="$FIX/add-signature-timestamp.py"
PKI="$FIX/pki"
PRIV="$PKI/private"
CERTS="$PKI/certs"
CASES="$FIX/cases"

# Fixed times (UTC).
SIGN_TIME='2024-03-01T10:00:00Z'      # every signature unless said otherwise
TS_TIME='2024-03-01T10:05:00Z'        # every signature time-stamp / standalone token
# Current CRLs and OCSP responses: after every signature time-stamp and every revocation, but
# BEFORE signer-expired's and signer-expired-revoked's notAfter (2024-06-30T23:59:59Z). RFC 5280
# 3.3 lets a CA drop a certificate from CRLs issued after it expired, so revocation data issued
# after a certificate's notAfter proves nothing about it (see README.md).
CRL_TIME='2024-06-15T00:00:00Z'
OLD_CRL_TIME='2023-06-01T00:00:00Z'   # old CRLs (before any revocation)
AFTER_EXPIRY_CRL_TIME='2025-01-01T00:00:00Z'  # crl/after-expiry: after signer-expired-revoked expired
# Data fresh at the verification times of the tests (2026-06-01, and 2035-01-01 given from outside
# the archive): the TSA's time-stamps must stay shown sound until then (ETSI EN 319 102-1 5.4, 5.6.2.2).
CURRENT_TIME='2026-05-31T00:00:00Z'
LATER_TIME='2034-12-31T00:00:00Z'

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# Clean slate
rm -rf "$PKI" "$CASES" "$FIX/cases.tsv"
mkdir -p "$PRIV" "$CERTS" "$PKI/untrusted" "$PKI/crl/current" "$PKI/crl/old" "$PKI/crl/root-only" \
         "$PKI/crl/after-expiry" "$PKI/ocsp" "$PKI/later/2035" "$CASES"

# ---------------------------------------------------------------------------------------------
# openssl configuration: one `ca` section driven by environment variables, plus extensions.
cp "$FIX/openssl-ca.cnf" "$WORK/ca.cnf"
export OPENSSL_CONF="$WORK/ca.cnf"
export SIGNER_EMAIL=unused@sigvault.test CA_CERT=/dev/null CA_KEY=/dev/null CA_DIR="$WORK"
export TSA_SERIAL="$WORK/tsaserial"
echo 0001 >"$TSA_SERIAL"

new_ca_dir() { # name
  mkdir -p "$WORK/$1/newcerts"
  : >"$WORK/$1/index.txt"
  echo 01 >"$WORK/$1/crlnumber"
}
new_ca_dir root
new_ca_dir intermediate
new_ca_dir untrusted

use_ca() { # ca-dir cert key
  export CA_DIR="$WORK/$1" CA_CERT="$2" CA_KEY="$3"
}

newkey() { # name
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$PRIV/$1.key" 2>/dev/null
}

# issue NAME SUBJECT SERIAL(hex) START END EXTSECTION OUT-CERT [-selfsign]
issue() {
  local name="$1" subject="$2" serial="$3" start="$4" end="$5" ext="$6" out="$7"; shift 7
  newkey "$name"
  # -utf8: SUBJECT is UTF-8 (signer-cjk's is Chinese); an ASCII subject encodes as without it.
  openssl req -new -utf8 -key "$PRIV/$name.key" -subj "$subject" -out "$WORK/$name.csr"
  echo "$serial" >"$CA_DIR/serial"
  openssl ca -batch -notext -in "$WORK/$name.csr" -out "$out" -extensions "$ext" \
    -startdate "$start" -enddate "$end" "$@" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}

ALWAYS_START=20200101000000Z
ALWAYS_END=20991231235959Z
EE_START=20230101000000Z
O='/O=SigVault Test'

# ---------------------------------------------------------------------------------------------
echo "== PKI: trusted hierarchy"
use_ca root "$PKI/root.pem" "$PRIV/root-ca.key"
issue root-ca "$O/CN=SigVault Test Root CA" 01 $ALWAYS_START $ALWAYS_END v3_root "$PKI/root.pem" \
  -selfsign -keyfile "$PRIV/root-ca.key"
issue intermediate-ca "$O/CN=SigVault Test Intermediate CA" 02 $ALWAYS_START $ALWAYS_END v3_intermediate \
  "$CERTS/intermediate.pem"
INTERMEDIATE="$CERTS/intermediate.pem"

use_ca intermediate "$INTERMEDIATE" "$PRIV/intermediate-ca.key"
signer() { # name CN serial end
  SIGNER_EMAIL="$1@sigvault.test" issue "$1" "$O/CN=$2" "$3" $EE_START "$4" v3_signer "$CERTS/$1.pem"
}
signer signer-expired         'Erin Expired'        1001 20240630235959Z
signer signer-valid           'Valerie Valid'       1002 $ALWAYS_END
signer signer-revoked-before  'Rob Revoked-Before'  1003 $ALWAYS_END
signer signer-revoked-after   'Rita Revoked-After'  1004 $ALWAYS_END
signer signer-expired-revoked 'Emil Expired-Revoked' 1005 20240630235959Z
# A subject in Chinese: O and CN UTF8String (string_mask utf8only), C PrintableString (X.520).
SIGNER_EMAIL=signer-cjk@sigvault.test \
  issue signer-cjk '/C=CN/O=北京示例科技有限公司/CN=张伟' 1006 $EE_START $ALWAYS_END v3_signer "$CERTS/signer-cjk.pem"
issue tsa                 "$O/CN=SigVault Test TSA"                      1101 $ALWAYS_START $ALWAYS_END v3_tsa             "$CERTS/tsa.pem"
issue tsa-noncritical-eku "$O/CN=SigVault Test TSA (non-critical EKU)"   1102 $ALWAYS_START $ALWAYS_END v3_tsa_noncritical "$CERTS/tsa-noncritical-eku.pem"
issue tsa-revoked         "$O/CN=SigVault Test TSA (revoked)"            1103 $ALWAYS_START $ALWAYS_END v3_tsa             "$CERTS/tsa-revoked.pem"
issue ocsp-responder      "$O/CN=SigVault Test OCSP Responder"           1201 $ALWAYS_START $ALWAYS_END v3_ocsp            "$CERTS/ocsp-responder.pem"

echo "== PKI: untrusted hierarchy"
use_ca untrusted "$PKI/untrusted-root.pem" "$PRIV/untrusted-root-ca.key"
issue untrusted-root-ca "/O=Nobody We Know/CN=SigVault Untrusted Root CA" 01 $ALWAYS_START $ALWAYS_END v3_root \
  "$PKI/untrusted-root.pem" -selfsign -keyfile "$PRIV/untrusted-root-ca.key"
SIGNER_EMAIL=untrusted-signer@nobody.test \
  issue untrusted-signer "/O=Nobody We Know/CN=Untrusted Signer" 2001 $EE_START $ALWAYS_END v3_signer \
  "$PKI/untrusted/untrusted-signer.pem"

# ---------------------------------------------------------------------------------------------
echo "== CRLs and OCSP"
gencrl() { # time days out.der   (nextUpdate = time + days)
  at "$1" openssl ca -gencrl -crldays "$2" -out "$WORK/crl.pem" 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
  openssl crl -in "$WORK/crl.pem" -outform DER -out "$3"
}
revoke() { # time cert
  at "$1" openssl ca -revoke "$2" -crl_reason keyCompromise 2>"$WORK/ca.log" || { cat "$WORK/ca.log" >&2; exit 1; }
}

# Old CRLs first: at 2023-06-01 nothing is revoked yet.
use_ca root "$PKI/root.pem" "$PRIV/root-ca.key"
gencrl "$OLD_CRL_TIME" 30 "$PKI/crl/old/root-2023-06-01.crl"
use_ca intermediate "$INTERMEDIATE" "$PRIV/intermediate-ca.key"
gencrl "$OLD_CRL_TIME" 30 "$PKI/crl/old/intermediate-2023-06-01.crl"

# Revocations, each at its own time (openssl ca records "now" as the revocation date).
revoke '2024-01-15T00:00:00Z' "$CERTS/tsa-revoked.pem"
revoke '2024-02-01T00:00:00Z' "$CERTS/signer-revoked-before.pem"
revoke '2024-02-01T00:00:00Z' "$CERTS/signer-expired-revoked.pem"
revoke '2024-05-01T00:00:00Z' "$CERTS/signer-revoked-after.pem"

gencrl "$CRL_TIME" 30 "$PKI/crl/current/intermediate-2024-06-15.crl"

# After-expiry CRL (2025-01-01): the intermediate has dropped signer-expired-revoked (serial 1005),
# as RFC 5280 3.3 allows once a certificate has expired. openssl ca lists every 'R' row of its
# database whatever the certificate's notAfter, so this CRL comes from a copy of the database
# without that row (the CRL number continues after the current CRL's).
cp -r "$WORK/intermediate" "$WORK/intermediate-after-expiry"
awk -F'\t' '$4 != "1005"' "$WORK/intermediate/index.txt" >"$WORK/intermediate-after-expiry/index.txt"
[[ $(wc -l <"$WORK/intermediate-after-expiry/index.txt") -eq $(( $(wc -l <"$WORK/intermediate/index.txt") - 1 )) ]] \
  || { echo "make-fixtures: serial 1005 not found in the intermediate's index.txt" >&2; exit 1; }
use_ca intermediate-after-expiry "$INTERMEDIATE" "$PRIV/intermediate-ca.key"
gencrl "$AFTER_EXPIRY_CRL_TIME" 31 "$PKI/crl/after-expiry/intermediate-2025-01-01.crl"
gencrl "$CURRENT_TIME" 30 "$PKI/crl/after-expiry/intermediate-2026-05-31.crl"
use_ca intermediate "$INTERMEDIATE" "$PRIV/intermediate-ca.key"

use_ca root "$PKI/root.pem" "$PRIV/root-ca.key"
gencrl "$CRL_TIME" 30 "$PKI/crl/current/root-2024-06-15.crl"
cp "$PKI/crl/current/root-2024-06-15.crl" "$PKI/crl/root-only/root-2024-06-15.crl"
gencrl "$AFTER_EXPIRY_CRL_TIME" 31 "$PKI/crl/after-expiry/root-2025-01-01.crl"
gencrl "$CURRENT_TIME" 30 "$PKI/crl/current/root-2026-05-31.crl"
cp "$PKI/crl/current/root-2026-05-31.crl" "$PKI/crl/root-only/root-2026-05-31.crl"
cp "$PKI/crl/current/root-2026-05-31.crl" "$PKI/crl/after-expiry/root-2026-05-31.crl"
gencrl "$LATER_TIME" 30 "$PKI/later/2035/root-2034-12-31.crl"

# ocsp_response CERT-NAME RESPONDER-CERT RESPONDER-KEY OUT [TIME]
ocsp_response() {
  openssl ocsp -issuer "$INTERMEDIATE" -cert "$CERTS/$1.pem" -no_nonce -reqout "$WORK/ocsp.req" 2>/dev/null
  at "${5:-$CRL_TIME}" openssl ocsp -index "$WORK/intermediate/index.txt" -CA "$INTERMEDIATE" \
    -rsigner "$2" -rkey "$3" -reqin "$WORK/ocsp.req" -respout "$4" -ndays 31 >/dev/null 2>"$WORK/ocsp.log" \
    || { cat "$WORK/ocsp.log" >&2; exit 1; }
}
ocsp_response signer-valid         "$CERTS/ocsp-responder.pem" "$PRIV/ocsp-responder.key" "$PKI/ocsp/signer-valid-good.der"
ocsp_response signer-revoked-after "$CERTS/ocsp-responder.pem" "$PRIV/ocsp-responder.key" "$PKI/ocsp/signer-revoked-after-revoked.der"
ocsp_response tsa                  "$CERTS/ocsp-responder.pem" "$PRIV/ocsp-responder.key" "$PKI/ocsp/tsa-good.der"
ocsp_response signer-expired       "$INTERMEDIATE" "$PRIV/intermediate-ca.key"            "$PKI/ocsp/signer-expired-good-by-intermediate.der"
ocsp_response tsa "$CERTS/ocsp-responder.pem" "$PRIV/ocsp-responder.key" "$PKI/ocsp/tsa-good-2026-05-31.der" "$CURRENT_TIME"
ocsp_response tsa "$CERTS/ocsp-responder.pem" "$PRIV/ocsp-responder.key" "$PKI/later/2035/tsa-good-2034-12-31.der" "$LATER_TIME"

# ---------------------------------------------------------------------------------------------
echo "== documents"
# Deterministic document bytes (only the keys and signatures are random).
python3 - "$WORK/docs" <<'EOF'
import sys, os, io, zipfile, zlib, struct
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
def w(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def pdf(title, lines):
    text = "BT /F1 12 Tf 72 720 Td 14 TL (" + title + ") Tj " + " ".join("T* (%s) Tj" % l for l in lines) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(); out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"); offs = []
    for i, o in enumerate(objs, 1):
        offs.append(out.tell()); out.write(("%d 0 obj\n%s\nendobj\n" % (i, o)).encode())
    x = out.tell()
    out.write(("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode())
    for o in offs: out.write(("%010d 00000 n \n" % o).encode())
    out.write(("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)).encode())
    return out.getvalue()

def odt(text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        def add(name, data, method):
            zi = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 9, 0, 0)); zi.compress_type = method
            z.writestr(zi, data)
        add("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        add("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>\n', zipfile.ZIP_DEFLATED)
        add("content.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text><text:p>' + text + '</text:p></office:text></office:body></office:document-content>\n', zipfile.ZIP_DEFLATED)
    return buf.getvalue()

def png(width, height):
    rows = []
    for y in range(height):
        row = b"".join(bytes(((x * 255) // width, (y * 255) // height, 160)) for x in range(width))
        rows.append(b"\x00" + row)
    raw = b"".join(rows)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

w("contract.pdf", pdf("Service Contract No. 2024-017", ["Between ACME Storage GmbH and Example Records Ltd.", "Term: 1 March 2024 - 28 February 2027", "Fee: EUR 1,200.00 per month"]))
w("power-of-attorney.pdf", pdf("Power of Attorney", ["I, Rob Revoked-Before, authorise Jane Doe", "to sign on my behalf in all matters of lease 44-B."]))
w("purchase-order.pdf", pdf("Purchase Order PO-2024-0311", ["12 x archival storage boxes, EUR 8.50 each", "Delivery: Warehouse 3, Example City"]))
w("quote-2024-117.txt", "Quotation 2024-117\nValid until: 2024-04-30\n\n1  Digitisation of 40 folders      EUR 2,400.00\n2  Secure storage, 36 months       EUR 1,080.00\n   Total (net)                     EUR 3,480.00\n")
w("invoice.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">\n  <ID>INV-2024-0042</ID>\n  <IssueDate>2024-03-01</IssueDate>\n  <DocumentCurrencyCode>EUR</DocumentCurrencyCode>\n  <LegalMonetaryTotal><PayableAmount currencyID="EUR">1428.00</PayableAmount></LegalMonetaryTotal>\n</Invoice>\n')
w("order.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2">\n  <ID>PO-2024-0312</ID>\n  <IssueDate>2024-03-01</IssueDate>\n  <BuyerReference>Example Records Ltd.</BuyerReference>\n  <OrderLine><LineItem><ID>1</ID><Quantity unitCode="EA">40</Quantity><Item><Name>Acid-free archive box</Name></Item></LineItem></OrderLine>\n</Order>\n')
w("letter.txt", "Dear Ms Doe,\n\nplease find enclosed the signed minutes of our meeting of 28 February 2024.\n\nKind regards,\nValerie Valid\n")
w("report.odt", odt("Annual retention report 2023: 1,204 records archived, 17 destroyed after their retention period."))
w("notes.txt", "Meeting notes 2024-03-01\n- archive migration approved\n- next review in Q3\n")
w("payment-order.txt", "Payment order 2024-03-01\nBeneficiary: Example Records Ltd.\nIBAN: DE00 0000 0000 0000 0000 00\nAmount: EUR 1,200.00\n")
w("board-resolution.txt", "Board resolution 2024/03\nThe board approves the long-term archiving policy v2.\nSigned by two directors.\n")
w("agreement.txt", "Data processing agreement\nParties: ACME Storage GmbH, Example Records Ltd.\nEffective: 2024-03-01\n")
w("delivery-note.txt", "Delivery note DN-88120\n3 pallets, 120 archive boxes\nReceived in good order.\n")
w("readme.txt", "This folder holds unsigned working files.\n")
w("data.bin", bytes((i * 37 + 11) % 256 for i in range(4096)))
w("invoice-2024-0042.pdf", pdf("Invoice INV-2024-0042", ["Archival services February 2024", "Amount due: EUR 1,428.00", "Due date: 2024-03-31"]))
w("board-minutes-2024-03.txt", "Minutes of the board meeting, 1 March 2024\n\n1. The archive migration to SigVault was approved.\n2. Retention of signed contracts: 10 years.\n3. Next meeting: 7 June 2024.\n")
w("site-photo.png", png(48, 32))
w("supply-agreement.pdf", pdf("Supply Agreement SA-2024-009", ["Supplier: ACME Storage GmbH", "Customer: Example Records Ltd.", "Signed for the supplier by Emil Expired-Revoked"]))
w("meeting-agenda.txt", "Agenda, 7 June 2024\n1. Migration status\n2. Budget\n3. Any other business\n")
w("合同.txt", "技术服务合同\n合同编号：2024-017\n甲方：北京示例科技有限公司\n乙方：示例档案有限公司\n服务期限：2024年3月1日至2027年2月28日\n服务费：每月人民币8,000.00元\n甲方代表：张伟\n")
EOF
DOCS="$WORK/docs"

# ---------------------------------------------------------------------------------------------
# Signing and time-stamping helpers.

# cms_sign "SIGNER [SIGNER2]" OUT DOC FORMAT(DER|PEM) [extra cms -sign args, e.g. -nodetach]
cms_sign() {
  local signers="$1" out="$2" doc="$3" form="$4"; shift 4
  local args=() s
  for s in $signers; do
    if [[ $s == untrusted-signer ]]; then args+=(-signer "$PKI/untrusted/$s.pem"); else args+=(-signer "$CERTS/$s.pem"); fi
    args+=(-inkey "$PRIV/$s.key")
  done
  at "$SIGN_TIME" openssl cms -sign -binary -cades -md sha256 -nosmimecap -in "$doc" "${args[@]}" \
    -certfile "$INTERMEDIATE" -outform "$form" -out "$out" "$@"
}

# ts_token TSA-NAME DATA-FILE OUT [token|response]: RFC 3161 over DATA-FILE's SHA-256 at TS_TIME.
ts_token() {
  local tsa="$1" data="$2" out="$3" kind="${4:-token}"
  openssl ts -query -data "$data" -sha256 -cert -no_nonce -out "$WORK/ts.tsq" 2>/dev/null
  local extra=(); [[ $kind == token ]] && extra=(-token_out)
  at "$TS_TIME" openssl ts -reply -section tsa_config -queryfile "$WORK/ts.tsq" \
    -signer "$CERTS/$tsa.pem" -inkey "$PRIV/$tsa.key" -chain "$INTERMEDIATE" -out "$out" "${extra[@]}" 2>"$WORK/ts.log" \
    || { cat "$WORK/ts.log" >&2; exit 1; }
}

# ts_token_noncritical DATA-FILE OUT: `openssl ts -reply` refuses a TSA certificate whose
# extendedKeyUsage is not critical, so the good TSA's configuration makes the TSTInfo, which is
# then signed by tsa-noncritical-eku with `openssl cms -sign` (eContentType id-ct-TSTInfo; -cades
# adds the ESS signingCertificateV2 attribute RFC 3161 requires).
ts_token_noncritical() {
  ts_token tsa "$1" "$WORK/nc-template.tst"
  openssl cms -verify -noverify -binary -inform DER -in "$WORK/nc-template.tst" -out "$WORK/tstinfo.der" 2>/dev/null
  at "$TS_TIME" openssl cms -sign -binary -nodetach -cades -md sha256 -nosmimecap \
    -econtent_type 1.2.840.113549.1.9.16.1.4 -in "$WORK/tstinfo.der" \
    -signer "$CERTS/tsa-noncritical-eku.pem" -inkey "$PRIV/tsa-noncritical-eku.key" -certfile "$INTERMEDIATE" \
    -outform DER -out "$2"
}

# add_ts IN OUT TSA(tsa|tsa-revoked|tsa-noncritical-eku|wrong-imprint) [INDEX...]
# Adds a signature time-stamp (over SignerInfo #INDEX's signature value) to each given SignerInfo.
add_ts() {
  local in="$1" out="$2" tsa="$3"; shift 3
  local indexes=("$@"); [[ ${#indexes[@]} -eq 0 ]] && indexes=(0)
  local tokens=() i
  for i in "${indexes[@]}"; do
    python3 "$HELPER" signature "$in" --index "$i" --out "$WORK/sigvalue-$i.bin"
    case "$tsa" in
      wrong-imprint)
        # Time-stamp some other bytes: a well-formed token whose imprint does not match.
        printf 'not the signature value of %s\n' "$(basename "$out")" >"$WORK/other-$i.bin"
        ts_token tsa "$WORK/other-$i.bin" "$WORK/token-$i.tst" ;;
      tsa-noncritical-eku) ts_token_noncritical "$WORK/sigvalue-$i.bin" "$WORK/token-$i.tst" ;;
      *) ts_token "$tsa" "$WORK/sigvalue-$i.bin" "$WORK/token-$i.tst" ;;
    esac
    tokens+=(--token "$i=$WORK/token-$i.tst")
  done
  python3 "$HELPER" add "$in" "$out" "${tokens[@]}"
}

# sign_ts CASE-DIR DOC SIGFILE FORMAT SIGNER [TSA]: detached signature by SIGNER + signature TS.
sign_ts() {
  local dir="$1" doc="$2" sig="$3" form="$4" signer="$5" tsa="${6:-tsa}"
  cms_sign "$signer" "$WORK/plain.sig" "$DOCS/$doc" "$form"
  add_ts "$WORK/plain.sig" "$dir/$sig" "$tsa"
}

newcase() { mkdir -p "$CASES/$1"; echo "$CASES/$1"; }
TSV="$FIX/cases.tsv"
printf 'case\tdescription\texpected_indication\texpected_sub_indication\tpack_extra_args\tnotes\n' >"$TSV"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }

# ---------------------------------------------------------------------------------------------
echo "== cases"

# One signature by signer-expired over contract.pdf, reused by case 1, 2 and the twins 10-12:
# the twins differ from case 1 only in the embedded token.
cms_sign signer-expired "$WORK/contract-expired.p7s" "$DOCS/contract.pdf" DER

d=$(newcase expired-timestamped)
cp "$DOCS/contract.pdf" "$d/"
add_ts "$WORK/contract-expired.p7s" "$d/contract.pdf.p7s" tsa
row expired-timestamped "signer-expired (expired 2024-06-30), signature time-stamp 2024-03-01T10:05Z by tsa" \
  TOTAL_PASSED - - "the time-stamp is the proof of existence that makes the expired certificate acceptable"

d=$(newcase expired-no-timestamp)
cp "$DOCS/contract.pdf" "$WORK/contract-expired.p7s" "$d/"
mv "$d/contract-expired.p7s" "$d/contract.pdf.p7s"
row expired-no-timestamp "same document and signature as expired-timestamped, without the time-stamp" \
  INDETERMINATE OUT_OF_BOUNDS_NO_POE - "signing-time attribute 2024-03-01T10:00Z is signer-claimed, not a proof of existence"

d=$(newcase revoked-before)
cp "$DOCS/power-of-attorney.pdf" "$d/"
sign_ts "$d" power-of-attorney.pdf power-of-attorney.pdf.p7s DER signer-revoked-before
row revoked-before "signer-revoked-before (revoked 2024-02-01, keyCompromise), time-stamp 2024-03-01T10:05Z" \
  INDETERMINATE REVOKED_NO_POE - "revocation (current CRL) predates the only proof of existence"

d=$(newcase revoked-after)
cp "$DOCS/purchase-order.pdf" "$d/"
sign_ts "$d" purchase-order.pdf purchase-order.pdf.p7s DER signer-revoked-after
row revoked-after "signer-revoked-after (revoked 2024-05-01, keyCompromise), time-stamp 2024-03-01T10:05Z" \
  TOTAL_PASSED - - "revoked after the time-stamp; both the current CRL and OCSP (signer-revoked-after-revoked.der) list it"

d=$(newcase try-later)
cp "$DOCS/quote-2024-117.txt" "$d/"
sign_ts "$d" quote-2024-117.txt quote-2024-117.txt.p7s DER signer-valid
row try-later "signer-valid + time-stamp, but only CRLs from 2023-06-01 (before the signature) and no OCSP" \
  INDETERMINATE TRY_LATER "--crls Fixtures/pki/crl/old --ocsp NONE" \
  "no revocation data issued after the signature time; --ocsp NONE means: omit --ocsp"

d=$(newcase valid-enveloped)
cms_sign signer-valid "$WORK/plain.sig" "$DOCS/invoice.xml" DER -nodetach
add_ts "$WORK/plain.sig" "$d/invoice.xml.p7m" tsa
row valid-enveloped "invoice.xml.p7m: enveloping CMS (content inside) by signer-valid + time-stamp" \
  TOTAL_PASSED - - "the signed content is invoice.xml (UBL), only inside the .p7m"

d=$(newcase valid-pem-sig)
cp "$DOCS/letter.txt" "$d/"
sign_ts "$d" letter.txt letter.txt.sig PEM signer-valid
row valid-pem-sig "letter.txt.sig: PEM detached CMS by signer-valid + time-stamp" TOTAL_PASSED - - "PEM label CMS"

d=$(newcase standalone-token-over-signature)
cp "$DOCS/report.odt" "$d/"
cms_sign signer-expired "$d/report.odt.p7s" "$DOCS/report.odt" DER
ts_token tsa "$d/report.odt.p7s" "$d/report.odt.p7s.tsr" response
row standalone-token-over-signature "signer-expired, no embedded time-stamp; report.odt.p7s.tsr is a TimeStampResp over the whole .p7s file" \
  TOTAL_PASSED - - "the standalone token (genTime 2024-03-01T10:05Z) over the signature file is the proof of existence"

d=$(newcase standalone-token-over-document)
cp "$DOCS/notes.txt" "$d/"
cms_sign signer-expired "$d/notes.txt.p7s" "$DOCS/notes.txt" DER
ts_token tsa "$d/notes.txt" "$d/notes.txt.tst" token
row standalone-token-over-document "signer-expired, no embedded time-stamp; notes.txt.tst is a bare TimeStampToken over notes.txt only" \
  INDETERMINATE OUT_OF_BOUNDS_NO_POE - "a token over the document proves the document existed, not the signature"

d=$(newcase twin-wrong-imprint)
cp "$DOCS/contract.pdf" "$d/"
add_ts "$WORK/contract-expired.p7s" "$d/contract.pdf.p7s" wrong-imprint
row twin-wrong-imprint "as expired-timestamped, but the embedded token (by tsa) time-stamps other bytes" \
  INDETERMINATE OUT_OF_BOUNDS_NO_POE - "token is well formed and validly signed; its messageImprint does not match the signature value"

d=$(newcase twin-noncritical-eku)
cp "$DOCS/contract.pdf" "$d/"
add_ts "$WORK/contract-expired.p7s" "$d/contract.pdf.p7s" tsa-noncritical-eku
row twin-noncritical-eku "as expired-timestamped, but the token is signed by tsa-noncritical-eku" \
  INDETERMINATE OUT_OF_BOUNDS_NO_POE - "RFC 3161 requires the timeStamping EKU to be critical; token made with openssl cms -sign (see README)"

d=$(newcase twin-tsa-revoked)
cp "$DOCS/contract.pdf" "$d/"
add_ts "$WORK/contract-expired.p7s" "$d/contract.pdf.p7s" tsa-revoked
row twin-tsa-revoked "as expired-timestamped, but the token is signed by tsa-revoked (revoked 2024-01-15, before genTime)" \
  INDETERMINATE OUT_OF_BOUNDS_NO_POE - "tsa-revoked is on the current intermediate CRL"

d=$(newcase twin-untrusted-root)
cp "$DOCS/contract.pdf" "$d/"
sign_ts "$d" contract.pdf contract.pdf.p7s DER untrusted-signer
row twin-untrusted-root "Untrusted Signer (chains to SigVault Untrusted Root CA, not a trust anchor), time-stamp by tsa" \
  INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND - "the CMS carries the signer and the SigVault intermediate, not the untrusted root"

d=$(newcase tampered-document)
cms_sign signer-valid "$WORK/plain.sig" "$DOCS/payment-order.txt" DER
add_ts "$WORK/plain.sig" "$d/payment-order.txt.p7s" tsa
sed 's/EUR 1,200.00/EUR 9,200.00/' "$DOCS/payment-order.txt" >"$d/payment-order.txt"
cmp -s "$DOCS/payment-order.txt" "$d/payment-order.txt" && { echo "tamper failed" >&2; exit 1; }
row tampered-document "signer-valid + time-stamp; payment-order.txt changed after signing (amount 1,200 -> 9,200)" \
  TOTAL_FAILED HASH_FAILURE - "message-digest attribute does not match the document"

d=$(newcase two-signers)
cp "$DOCS/board-resolution.txt" "$d/"
cms_sign "signer-valid untrusted-signer" "$WORK/plain.sig" "$DOCS/board-resolution.txt" DER
add_ts "$WORK/plain.sig" "$d/board-resolution.txt.p7s" tsa 0 1
row two-signers "one detached CMS, two SignerInfos (signer-valid and Untrusted Signer), each with a time-stamp by tsa" \
  INDETERMINATE NO_CERTIFICATE_CHAIN_FOUND - "the document takes the worst SignerInfo; signer-valid's SignerInfo (serial 1002) alone is TOTAL_PASSED, Untrusted Signer's (serial 2001) is INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND; SignerInfo order is DER SET OF order, so match signers by serial, not index"

d=$(newcase two-signature-files)
cp "$DOCS/agreement.txt" "$d/"
sign_ts "$d" agreement.txt agreement.txt.p7s DER signer-valid
sign_ts "$d" agreement.txt agreement.txt.sig PEM signer-revoked-before
row two-signature-files "agreement.txt.p7s (signer-valid + TS, passes) and agreement.txt.sig (PEM, signer-revoked-before + TS)" \
  INDETERMINATE REVOKED_NO_POE - "the document takes the worst signature file; .p7s alone is TOTAL_PASSED, .sig alone INDETERMINATE/REVOKED_NO_POE"

d=$(newcase unsigned)
cp "$DOCS/readme.txt" "$DOCS/data.bin" "$d/"
row unsigned "two files, no signatures" UNSIGNED - - "data.bin is 4096 deterministic binary bytes"

d=$(newcase valid-ocsp)
cp "$DOCS/delivery-note.txt" "$d/"
sign_ts "$d" delivery-note.txt delivery-note.txt.p7s DER signer-valid
row valid-ocsp "signer-valid + time-stamp; only the root CRL, revocation of end-entity certs from OCSP" \
  TOTAL_PASSED - "--crls Fixtures/pki/crl/root-only" \
  "intermediate status from the root CRL; signer-valid and tsa status from ocsp-responder (signer-valid-good.der, tsa-good.der)"

d=$(newcase demo)
cp "$DOCS/invoice-2024-0042.pdf" "$DOCS/board-minutes-2024-03.txt" "$DOCS/site-photo.png" "$DOCS/meeting-agenda.txt" "$d/"
sign_ts "$d" invoice-2024-0042.pdf invoice-2024-0042.pdf.p7s DER signer-expired
sign_ts "$d" board-minutes-2024-03.txt board-minutes-2024-03.txt.p7s DER signer-expired
sign_ts "$d" site-photo.png site-photo.png.sig PEM signer-expired
row demo "make demo: three documents signed by signer-expired with time-stamps, plus meeting-agenda.txt unsigned" \
  TOTAL_PASSED - - "signatures pass today only thanks to their time-stamps; meeting-agenda.txt is reported unsigned"

d=$(newcase enveloped-standalone-token)
cms_sign signer-expired "$d/order.xml.p7m" "$DOCS/order.xml" DER -nodetach
ts_token tsa "$d/order.xml.p7m" "$d/order.xml.p7m.tsr" response
row enveloped-standalone-token "order.xml.p7m: enveloping CMS by signer-expired, no embedded time-stamp; order.xml.p7m.tsr is a TimeStampResp over the whole .p7m file" \
  TOTAL_PASSED - - "a token over the whole enveloping signature file (content included) dates the signature inside it; the content is order.xml (UBL order PO-2024-0312), only inside the .p7m"

# Same SignerInfo as expired-timestamped; its token carries the TSA's OCSP response in SignedData.crls
# (RFC 5940 other [1], id-ri-ocsp-response), which OpenSSL's PKCS7 parser (openssl ts) rejects.
d=$(newcase token-with-ocsp)
cp "$DOCS/contract.pdf" "$d/"
python3 "$HELPER" signature "$WORK/contract-expired.p7s" --out "$WORK/sigvalue-ocsp.bin"
ts_token tsa "$WORK/sigvalue-ocsp.bin" "$WORK/token-plain.tst"
python3 "$HELPER" add-ocsp-to-token "$WORK/token-plain.tst" "$PKI/ocsp/tsa-good.der" "$WORK/token-ocsp.tst"
python3 "$HELPER" add "$WORK/contract-expired.p7s" "$d/contract.pdf.p7s" --token "0=$WORK/token-ocsp.tst"
row token-with-ocsp "as expired-timestamped, but the token's SignedData.crls holds the TSA's OCSP response (RFC 5940 OtherRevocationInfoFormat, id-ri-ocsp-response)" \
  TOTAL_PASSED - - "crls is outside the TSA's signed attributes, so the token stays valid; openssl ts (PKCS7 layer) cannot parse it, openssl cms can; the OCSP response is a copy of pki/ocsp/tsa-good.der"

# signer-expired-revoked: expired 2024-06-30T23:59:59Z, revoked 2024-02-01 (before the time-stamp).
# One signature, two cases that differ only in the revocation data packed with it.
d=$(newcase expired-revoked)
cp "$DOCS/supply-agreement.pdf" "$d/"
sign_ts "$d" supply-agreement.pdf supply-agreement.pdf.p7s DER signer-expired-revoked
row expired-revoked "signer-expired-revoked (expired 2024-06-30, revoked 2024-02-01 keyCompromise), time-stamp 2024-03-01T10:05Z" \
  INDETERMINATE REVOKED_NO_POE - "the current intermediate CRL (2024-06-15, issued before the certificate expired) lists the revocation, which predates the only proof of existence"

d=$(newcase crl-after-expiry)
cp "$CASES/expired-revoked/supply-agreement.pdf" "$CASES/expired-revoked/supply-agreement.pdf.p7s" "$d/"
row crl-after-expiry "same document and signature as expired-revoked, packed with only the 2025-01-01 CRLs (issued after the signer's certificate expired) and no OCSP" \
  INDETERMINATE TRY_LATER "--crls Fixtures/pki/crl/after-expiry --ocsp NONE" \
  "RFC 5280 3.3: a CRL issued after a certificate's notAfter may omit it although it is revoked (this one does), so its silence proves nothing; no revocation data issued between the time-stamp and the notAfter"

# A Chinese signer and a Chinese file name: names are UTF-8 all the way, in the report too.
d=$(newcase cjk-signer)
cp "$DOCS/合同.txt" "$d/"
sign_ts "$d" 合同.txt 合同.txt.p7s DER signer-cjk
row cjk-signer "合同.txt (a Chinese service contract, UTF-8): detached CMS by signer-cjk (C=CN, O=北京示例科技有限公司, CN=张伟, UTF8String) + time-stamp by tsa" \
  TOTAL_PASSED - - "the signer is reported as CN=张伟,O=北京示例科技有限公司,C=CN; its status comes from the current intermediate CRL (1006 not listed), there is no OCSP response for it"

# ---------------------------------------------------------------------------------------------
echo "== done: $(find "$PKI" "$CASES" -type f | wc -l) files"
if [[ -x "$FIX/check-fixtures.sh" && "${SKIP_CHECK:-0}" != 1 ]]; then
  "$FIX/check-fixtures.sh"
fi
