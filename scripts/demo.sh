#!/usr/bin/env bash
# The demo: pack the demo documents (signer certificate expired in 2024; embedded time-stamps keep
# the signatures provable), verify, tamper a copy and show the failure, restore one document; then
# give an archive an archive time-stamp from a local TSA, renew it twice and check a restored
# document's own evidence record; last, collect revocation data over the network from local OCSP and
# CRL servers, and see --require-complete refuse what cannot be collected.
set -uo pipefail
sigvault="$1"
here=$(cd "$(dirname "$0")/.." && pwd)
work="$here/demo-work"
rm -rf "$work" && mkdir -p "$work"
cd "$here/Fixtures"
pki=pki
# A fixed "now", years after the signer's certificate expired, so the demo never depends on the clock.
at=2030-01-01T00:00:00Z
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. pack the demo documents" "sigvault pack cases/demo --trust pki/root.pem --certs pki/certs --crls pki/crl/current --ocsp pki/ocsp --at $at -o demo.svz"
"$sigvault" pack cases/demo --trust $pki/root.pem --certs $pki/certs --crls $pki/crl/current --ocsp $pki/ocsp --at $at -o "$work/demo.svz"
echo "(exit $?)"

step "2. verify it in 2030 (the signer's certificate expired in 2024; the time-stamps prove the signatures existed before)" "sigvault verify demo.svz --trust pki/root.pem --at $at"
"$sigvault" verify "$work/demo.svz" --trust $pki/root.pem --at $at
echo "(exit $?)"

step "3. tamper a copy (flip one byte a third of the way in) and verify again" "sigvault verify tampered.svz --trust pki/root.pem --at $at"
cp "$work/demo.svz" "$work/tampered.svz"
size=$(stat -c %s "$work/tampered.svz")
python3 - "$work/tampered.svz" $((size / 3)) <<'PY'
import sys
path, offset = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(offset); b = f.read(1); f.seek(offset); f.write(bytes([b[0] ^ 0x40]))
PY
# The whole report to a file first: a pipe into head would stop verify early (exit 141).
"$sigvault" verify "$work/tampered.svz" --trust $pki/root.pem --at $at > "$work/tampered.report"
tampered_exit=$?
head -9 "$work/tampered.report"
echo "(exit $tampered_exit)"

step "4. list, then restore one document with its evidence" "sigvault restore demo.svz --to restored cases/demo/<document>"
"$sigvault" list "$work/demo.svz"
first=$("$sigvault" list "$work/demo.svz" --json | python3 -c 'import json,sys; print([d["path"] for d in json.load(sys.stdin)["documents"] if d["signed"]][0])')
"$sigvault" restore "$work/demo.svz" --to "$work/restored" "$first"
echo "(exit $?)"
cmp "$work/restored/$first" "$here/Fixtures/$first" && echo "restored $first is byte-identical to the original"
find "$work/restored" -type f | sed "s|$work/||" | sort

# 5. Archive time-stamps: a real RFC 3161 TSA on 127.0.0.1 (openssl ts -reply, the tests' server)
# whose certificate (Fixtures/netpki) names its OCSP responder, and the tests' revocation server
# (OpenSSL's OCSP responder and an HTTP server for CRLs, on the ports the certificates name). A
# time-stamp over every document's data group, its TSA's revocation data fetched right after, then
# two renewals. This part uses the real clock: time-stamps are made now.
coproc TSA { python3 "$here/Tests/Servers/tsa-server.py" "$here/Fixtures"; }
read -r port <&"${TSA[0]}"
tsa="http://127.0.0.1:$port/net-tsa"
exec {revocation}> >(exec python3 "$here/Tests/Servers/revocation-server.py" "$here/Fixtures" >"$work/revocation-server.out")
for _ in $(seq 100); do [[ -s "$work/revocation-server.out" ]] && break; sleep 0.1; done
trust="--trust $pki/root.pem --trust netpki/root.pem"
step "5. pack again with an archive time-stamp from a local TSA, fetching the TSA's revocation data" \
  "sigvault pack cases/demo ... --tsa $tsa --fetch-revocation -o stamped.svz"
"$sigvault" pack cases/demo $trust --certs $pki/certs --crls $pki/crl/current --ocsp $pki/ocsp --tsa "$tsa" --fetch-revocation \
  -o "$work/stamped.svz" | tail -2
echo "(exit ${PIPESTATUS[0]})"
"$sigvault" verify "$work/stamped.svz" $trust | grep "proof of time"
step "6. renew it: time-stamp renewal, then hash-tree renewal to SHA-512" "sigvault renew stamped.svz --tsa $tsa $trust --fetch-revocation [--hash sha512]"
"$sigvault" renew "$work/stamped.svz" --tsa "$tsa" $trust --fetch-revocation
sleep 1  # a later second for the next genTime than for the responses the renewal fetched
"$sigvault" renew "$work/stamped.svz" --tsa "$tsa" $trust --fetch-revocation --hash sha512
echo "(exit $?)"
"$sigvault" verify "$work/stamped.svz" $trust | grep -E "integrity|proof of time"
"$sigvault" restore "$work/stamped.svz" --to "$work/restored-stamped" "$first" >/dev/null
record="$work/restored-stamped/.sigvault-evidence/$first/evidence-record.ers"
echo "each restored document has its own RFC 4998 evidence record: ${record#$work/}"
"$sigvault" ers verify "$record" --data "$work/restored-stamped/$first" --data "$work/restored-stamped/$first.p7s" \
  $(find "$work/restored-stamped/.sigvault-evidence/$first" -name '*.der' -o -name '*.crl' | sed 's/^/--data /') \
  $trust | grep -E "^(chain|TOTAL|INDETERMINATE)"

# 7. Evidence collected over the network for signatures: certificates of Fixtures/netpki name OCSP
# responders and CRL distribution points on 127.0.0.1; one of them names a server that is down.
net="--trust netpki/root.pem --fetch-revocation --fetch-timeout 2"
step "7. pack with --fetch-revocation: OCSP from each certificate's responder, else its CRL" "sigvault pack netpki/cases/good $net --tsa $tsa -o fetched.svz"
"$sigvault" pack netpki/cases/good $net --tsa "$tsa" -o "$work/fetched.svz"
echo "(exit $?)"
"$sigvault" verify "$work/fetched.svz" --trust netpki/root.pem | grep -E "^(summary|proof of time)"
step "8. --require-complete refuses an archive whose evidence cannot be collected (the servers named are down)" "sigvault pack netpki/cases/down $net --require-complete -o down.svz"
"$sigvault" pack netpki/cases/down $net --fetch-attempts 1 --require-complete -o "$work/down.svz"
echo "(exit $?; down.svz $( [[ -e "$work/down.svz" ]] && echo exists || echo "was not written"))"
exec {revocation}>&-
exec {TSA[1]}>&-   # the servers stop when their stdin closes
wait "$TSA_PID" 2>/dev/null
