#!/usr/bin/env bash
# The benchmark behind `make bench` (docs/PERFORMANCE.md): one deterministic ~1.3 GB corpus, then, on the
# same data, sigvault pack / verify / restore-one against tar|zstd, zstd -dc|openssl dgst and a full
# decompression, with a PASS/MISS table and one TSV line appended to bench-work/results.tsv.
#
#   ./scripts/bench.sh path/to/release/sigvault
#
# The corpus lives in bench-work/corpus and is kept for the next run; it is regenerated only when it or
# its stamp is missing (delete bench-work/ to force it). The page cache is not dropped (that needs root
# and would disturb whatever else runs on the machine): each command runs once to warm it, then
# BENCH_ROUNDS (default 3) times in alternation with its baseline, and the medians are compared.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 path/to/release/sigvault" >&2
    exit 64
fi
sigvault=$(realpath "$1")
[ -x "$sigvault" ] || { echo "bench: $sigvault is not an executable" >&2; exit 66; }

here=$(cd "$(dirname "$0")/.." && pwd)
work="$here/bench-work"
corpus="$work/corpus"
stamp="$work/corpus.stamp"
AT=2026-06-01T00:00:00Z
GENERATOR_VERSION=1
mkdir -p "$work"
cd "$work"

# --- tools -------------------------------------------------------------------------------------------
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v zstd >/dev/null || need+=(zstd)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "bench: installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- corpus ------------------------------------------------------------------------------------------
# 20,000 small files of 1-64 KiB (even-numbered: words from a fixed list; odd: random bytes) in 100
# folders, 10 random files of 10-50 MB, one 200 MB text-like file and one 200 MB random file.
# Seeded Python PRNG, fixed mtimes: the same bytes and metadata on every machine.
if [ ! -f "$stamp" ] || [ ! -d "$corpus" ] || [ "$(head -1 "$stamp")" != "generator $GENERATOR_VERSION" ]; then
    echo "bench: generating the corpus in $corpus (about 1.3 GB, one minute or two)"
    rm -rf "$corpus" "$corpus.tmp" "$stamp"
    python3 - "$corpus.tmp" <<'PY'
import os, random, sys

root = sys.argv[1]
rng = random.Random(20260601)
MTIME = 1767225600  # 2026-01-01T00:00:00Z
WORDS = """the of and to in is that for it as with was on be by at this have from or one had not but what all
were when we there can an your which their said if do will each about how up out them then she many some so
these would other into has more her two like him see time could no make than first been its who now people
my made over did down only way find use may water long little very after words called just where most know
get through back much before go good new write our used me man too any day same right look think also around
another came come work three word must because does part even place well such here take why things help put
years different away again off went old number great tell men say small every found still between name
should home big give air line set own under read last never us left end along while might next sound below
saw something thought both few those always looked show large often together asked house world going want
school important until form food keep children feet land side without boy once animals life enough took
sometimes four head above kind began almost live page got earth need far hand high year mother light parts
country father let night following picture being study second eyes soon times story boys since white days
ever paper hard near sentence better best across during today others however sure means knew try told young
miles sun ways thing whole hear example heard several change answer room sea against top turned learn point
city play toward five using himself usually contract invoice signed clause party agreement payment""".split()

def text(n):
    """n bytes of lines of words from the fixed list."""
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choices(WORDS, k=rng.randint(6, 18))) + ".\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]

def write(path, n, kind):
    with open(path, "wb") as f:
        left = n
        while left:
            chunk = min(left, 1 << 20)
            f.write(text(chunk) if kind == "text" else rng.randbytes(chunk))
            left -= chunk
    os.utime(path, (MTIME, MTIME))

os.makedirs(root)
for d in range(100):
    folder = os.path.join(root, "small", "d%03d" % d)
    os.makedirs(folder)
    for i in range(200):
        n = d * 200 + i
        kind = "text" if n % 2 == 0 else "random"
        write(os.path.join(folder, "f%05d.%s" % (n, "txt" if kind == "text" else "bin")), rng.randint(1024, 65536), kind)
os.makedirs(os.path.join(root, "large"))
for i in range(10):
    write(os.path.join(root, "large", "random%02d.bin" % i), rng.randint(10_000_000, 50_000_000), "random")
os.makedirs(os.path.join(root, "huge"))
write(os.path.join(root, "huge", "text-200MB.txt"), 200_000_000, "text")
write(os.path.join(root, "huge", "random-200MB.bin"), 200_000_000, "random")
for dirpath, dirnames, _ in os.walk(root, topdown=False):
    os.utime(dirpath, (MTIME, MTIME))
PY
    mv "$corpus.tmp" "$corpus"
    files=$(find "$corpus" -type f | wc -l)
    bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d", s}')
    printf 'generator %s\nfiles %s\nbytes %s\n' "$GENERATOR_VERSION" "$files" "$bytes" > "$stamp"
else
    echo "bench: reusing the corpus in $corpus"
fi
corpus_files=$(sed -n 's/^files //p' "$stamp")
corpus_bytes=$(sed -n 's/^bytes //p' "$stamp")
corpus_mb=$(awk -v b="$corpus_bytes" 'BEGIN {printf "%.1f", b / 1e6}')

# --- measuring ---------------------------------------------------------------------------------------
# The machine is a VM whose neighbours make one run differ from the next by up to 25 %. So each
# sigvault command and its baseline run in alternation: one warm-up round (not counted, it fills the
# page cache), then ROUNDS timed rounds, and the median wall time of each is reported (nanosecond
# clock around /usr/bin/time), with its largest peak RSS (/usr/bin/time %M, KiB; for a pipeline run
# through bash, the largest of its processes) and its worst exit code. stdout and stderr of the last
# run go to NAME.out / NAME.err.
ROUNDS=${BENCH_ROUNDS:-3}  # odd, so that the median is one measured run
declare -A SEC RSS RC TIMES CPU
run_once() {
    local name=$1 prepare=$2; shift 2
    local start end rc=0 rss
    $prepare
    start=$(date +%s%N)
    /usr/bin/time -f '%e %M %U %S' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    end=$(date +%s%N)
    TIMES[$name]="${TIMES[$name]:-} $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}')"
    CPU[$name]="${CPU[$name]:-} $(tail -1 "$work/$name.time" | awk '{printf "%.2f", $3 + $4}')"
    rss=$(tail -1 "$work/$name.time" | awk '{print $2}')
    [ "${RSS[$name]:-0}" -ge "$rss" ] || RSS[$name]=$rss
    [ "${RC[$name]:-0}" -ne 0 ] || RC[$name]=$rc
}
# measure_pair NAME PREPARE NAME2 PREPARE2: runs the commands in the arrays A (sigvault) and B (its
# baseline) in alternation, each after its PREPARE function.
measure_pair() {
    local a=$1 a_prep=$2 b=$3 b_prep=$4 round
    TIMES[$a]=""; TIMES[$b]=""; CPU[$a]=""; CPU[$b]=""; RSS[$a]=0; RSS[$b]=0; RC[$a]=0; RC[$b]=0
    for round in $(seq 0 "$ROUNDS"); do
        run_once "$a" "$a_prep" "${A[@]}"
        run_once "$b" "$b_prep" "${B[@]}"
        if [ "$round" = 0 ]; then TIMES[$a]=""; TIMES[$b]=""; CPU[$a]=""; CPU[$b]=""; fi
    done
    local name
    for name in "$a" "$b"; do
        SEC[$name]=$(printf '%s\n' ${TIMES[$name]} | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
        # CPU time (user + system, all threads and processes) is far less noisy than wall time here.
        local cpu
        cpu=$(printf '%s\n' ${CPU[$name]} | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
        printf '  %-14s %8s s (median of%s), CPU %6s s  peak RSS %7.1f MiB  exit %s\n' "$name" "${SEC[$name]}" "${TIMES[$name]}" \
            "$cpu" "$(awk -v k="${RSS[$name]}" 'BEGIN {print k / 1024}')" "${RC[$name]}"
    done
}
nothing() { :; }
clean_archive() { rm -f "$work/corpus.svz"; }
clean_tarzst() { rm -f "$work/corpus.tar.zst"; }
clean_restored() { rm -rf "$work/restored"; }
mbps() { awk -v b="$corpus_bytes" -v s="$1" 'BEGIN {printf "%.1f", b / 1e6 / s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$here" status --porcelain --untracked-files=no -- Sources Package.swift 2>/dev/null | wc -l)
echo "bench: $("$sigvault" --version 2>/dev/null || echo sigvault) at commit $commit$([ "$dirty" = 0 ] || echo " (+ uncommitted changes in Sources/)")"
echo "bench: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench: corpus $corpus_files files, $corpus_mb MB; (a)-(c): medians of $ROUNDS warm-cache runs alternating with their baselines; (e): one run each"

echo "(a) pack"
A=("$sigvault" pack corpus -o corpus.svz --at "$AT")
B=(bash -o pipefail -c 'tar -cf - corpus | zstd -q -3 -T0 > corpus.tar.zst')
measure_pair pack clean_archive tar_zstd clean_tarzst
echo "(b) verify"
A=("$sigvault" verify corpus.svz --at "$AT")
B=(bash -o pipefail -c 'zstd -q -dc corpus.tar.zst | openssl dgst -sha256')
measure_pair verify nothing zstd_dgst nothing
echo "(c) restore one small document"
doc=$("$sigvault" list corpus.svz --json | python3 -c '
import json, sys
paths = [d["path"] for d in json.load(sys.stdin)["documents"]]
want = "corpus/small/d042/f08420.txt"
print(want if want in paths else sorted(p for p in paths if "/small/" in p)[0])')
doc_size=$(stat -c %s "$work/$doc")
A=("$sigvault" restore corpus.svz --to restored "$doc")
B=(bash -c 'zstd -q -dc corpus.svz > /dev/null')
measure_pair restore_one clean_restored zstd_full nothing
cmp -s "$work/restored/$doc" "$work/$doc" && restored_ok=yes || restored_ok=NO

# (e) Many members: 200,000 files of 1-100 bytes (seeded, fixed mtimes), where per-member memory
# dominates: peak RSS divided by the member count must stay under 1 KiB for pack, verify and list.
many="$work/many"
MANY_VERSION=1
if [ ! -f "$many.stamp" ] || [ ! -d "$many" ] || [ "$(cat "$many.stamp")" != "many $MANY_VERSION" ]; then
    echo "bench: generating 200,000 tiny files in $many"
    rm -rf "$many" "$many.tmp" "$many.stamp"
    python3 - "$many.tmp" <<'PY'
import os, random, sys
root, rng = sys.argv[1], random.Random(20261125)
for d in range(200):
    folder = os.path.join(root, "d%03d" % d)
    os.makedirs(folder)
    for i in range(1000):
        path = os.path.join(folder, "file%05d.txt" % i)
        with open(path, "wb") as f:
            f.write(rng.randbytes(rng.randint(1, 100)))
        os.utime(path, (1767225600, 1767225600))
PY
    mv "$many.tmp" "$many"
    echo "many $MANY_VERSION" > "$many.stamp"
fi
many_members=200000
echo "(e) 200,000 tiny members"
rm -f many.svz
A=("$sigvault" pack many -o many.svz --at "$AT")
run_once many_pack nothing "${A[@]}"
A=("$sigvault" verify many.svz --at "$AT")
run_once many_verify nothing "${A[@]}"
A=("$sigvault" list many.svz --json)
run_once many_list nothing "${A[@]}"
A=("$sigvault" restore many.svz --to restored-many many/d100/file00500.txt)
rm -rf restored-many
run_once many_restore_one nothing "${A[@]}"
rm -rf restored-many many.svz
for name in many_pack many_verify many_list many_restore_one; do
    printf '  %-16s %8s s  peak RSS %7.1f MiB = %5.0f B per member  exit %s\n' "$name" "${TIMES[$name]# }" \
        "$(awk -v k="${RSS[$name]}" 'BEGIN {print k / 1024}')" "$(awk -v k="${RSS[$name]}" -v n="$many_members" 'BEGIN {print k * 1024 / n}')" "${RC[$name]}"
done

# (f) Archive time-stamps: pack with --tsa (a local TSA: openssl ts -reply behind the tests' server,
# with the network PKI's TSA, whose certificate names its OCSP responder) and --fetch-revocation
# (the tests' revocation server: OpenSSL's OCSP responder and a CRL server), then a time-stamp
# renewal and a hash-tree renewal to SHA-512 (which reads the whole archive back), both fetching the
# newest token's revocation data.
coproc TSA { python3 "$here/Tests/Servers/tsa-server.py" "$here/Fixtures"; }
read -r tsa_port <&"${TSA[0]}"
tsa="http://127.0.0.1:$tsa_port/net-tsa"
exec {revocation}> >(exec python3 "$here/Tests/Servers/revocation-server.py" "$here/Fixtures" >"$work/revocation-server.out")
for _ in $(seq 100); do [[ -s "$work/revocation-server.out" ]] && break; sleep 0.1; done
echo "(f) archive time-stamps (local TSA, local OCSP and CRL servers)"
trust=(--trust "$here/Fixtures/pki/root.pem" --trust "$here/Fixtures/netpki/root.pem")
rm -f stamped.svz
A=("$sigvault" pack corpus -o stamped.svz --at "$AT" --tsa "$tsa" "${trust[@]}" --fetch-revocation)
run_once pack_tsa nothing "${A[@]}"
A=("$sigvault" renew stamped.svz --tsa "$tsa" "${trust[@]}" --fetch-revocation)
run_once renew_ts nothing "${A[@]}"
sleep 1  # the next genTime a second later than the responses this renewal fetched
A=("$sigvault" renew stamped.svz --tsa "$tsa" "${trust[@]}" --fetch-revocation --hash sha512)
run_once renew_hash nothing "${A[@]}"
stamped_bytes=$(stat -c %s stamped.svz)
rm -f stamped.svz
exec {revocation}>&-
exec {TSA[1]}>&-
wait "$TSA_PID" 2>/dev/null || true
for name in pack_tsa renew_ts renew_hash; do
    printf '  %-16s %8s s  CPU %s s  peak RSS %7.1f MiB  exit %s\n' "$name" "${TIMES[$name]# }" "${CPU[$name]# }" \
        "$(awk -v k="${RSS[$name]}" 'BEGIN {print k / 1024}')" "${RC[$name]}"
done

# --- results -----------------------------------------------------------------------------------------
archive_bytes=$(stat -c %s corpus.svz)
tarzst_bytes=$(stat -c %s corpus.tar.zst)
pack_mbps=$(mbps "${SEC[pack]}");  tar_mbps=$(mbps "${SEC[tar_zstd]}")
verify_mbps=$(mbps "${SEC[verify]}"); dgst_mbps=$(mbps "${SEC[zstd_dgst]}")
restore_pct=$(awk -v a="${SEC[restore_one]}" -v b="${SEC[zstd_full]}" 'BEGIN {printf "%.2f", 100 * a / b}')
size_pct=$(awk -v a="$archive_bytes" -v b="$tarzst_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')
peak_kib=$(printf '%s\n' "${RSS[pack]}" "${RSS[verify]}" "${RSS[restore_one]}" | sort -n | tail -1)
verdict() { if awk "BEGIN {exit !($1)}"; then echo PASS; else echo MISS; fi; }
pack_v=$(verdict "${SEC[pack]} <= ${SEC[tar_zstd]}")
verify_v=$(verdict "${SEC[verify]} <= ${SEC[zstd_dgst]}")
restore_v=$(verdict "$restore_pct < 5")
memory_v=$(verdict "$peak_kib < 100 * 1024")
many_peak_kib=$(printf '%s\n' "${RSS[many_pack]}" "${RSS[many_verify]}" "${RSS[many_list]}" | sort -n | tail -1)
many_per_member=$(awk -v k="$many_peak_kib" -v n="$many_members" 'BEGIN {printf "%.0f", k * 1024 / n}')
many_v=$(verdict "$many_per_member < 1024")

echo
printf '%-34s %-36s %-44s %s\n' "measure" "sigvault" "baseline / target" "result"
printf '%-34s %-36s %-44s %s\n' "pack throughput (a)" "${SEC[pack]} s = $pack_mbps MB/s" "tar|zstd -3 -T0: ${SEC[tar_zstd]} s = $tar_mbps MB/s" "$pack_v"
printf '%-34s %-36s %-44s %s\n' "verify throughput (b)" "${SEC[verify]} s = $verify_mbps MB/s" "zstd -dc|openssl dgst: ${SEC[zstd_dgst]} s = $dgst_mbps MB/s" "$verify_v"
printf '%-34s %-36s %-44s %s\n' "restore one document (c)" "${SEC[restore_one]} s = $restore_pct % of full" "zstd -dc archive: ${SEC[zstd_full]} s; < 5 %" "$restore_v"
printf '%-34s %-36s %-44s %s\n' "peak RSS pack / verify / restore" "$(mib "${RSS[pack]}") / $(mib "${RSS[verify]}") / $(mib "${RSS[restore_one]}") MiB" "< 100 MiB" "$memory_v"
printf '%-34s %-36s %-44s %s\n' "peak RSS per member, 200k (e)" "$(mib "${RSS[many_pack]}") / $(mib "${RSS[many_verify]}") / $(mib "${RSS[many_list]}") MiB; worst $many_per_member B" "pack / verify / list < 1 KiB per member" "$many_v"
printf '%-34s %-36s %-44s %s\n' "archive time-stamp (f)" "pack --tsa ${TIMES[pack_tsa]# } s; renew ${TIMES[renew_ts]# } s; renew --hash sha512 ${TIMES[renew_hash]# } s" "plain pack ${SEC[pack]} s" "(info)"
printf '%-34s %-36s %-44s %s\n' "archive size (d)" "$archive_bytes B = $size_pct % of tar.zst" "tar.zst: $tarzst_bytes B" "(info)"
echo
echo "corpus $corpus_bytes B in $corpus_files files; restored document: $doc ($doc_size B, byte-identical: $restored_ok)"
echo "exit codes: pack ${RC[pack]}, verify ${RC[verify]}, restore ${RC[restore_one]}; baselines ${RC[tar_zstd]} ${RC[zstd_dgst]} ${RC[zstd_full]}"
for name in pack verify restore_one; do
    if [ -s "$work/$name.err" ]; then
        echo "sigvault $name wrote $(wc -l < "$work/$name.err") line(s) on stderr (bench-work/$name.err), first ones:"
        head -5 "$work/$name.err" | sed 's/^/    /'
    fi
done

results="$work/results.tsv"
columns="date	commit	dirty_sources	cores	loadavg1	corpus_bytes	corpus_files	pack_s	pack_MBps	pack_rss_KiB	pack_rc	tarzstd_s	tarzstd_MBps	verify_s	verify_MBps	verify_rss_KiB	verify_rc	zstddgst_s	zstddgst_MBps	restore_one_s	restore_one_rss_KiB	restore_one_rc	zstd_full_s	restore_pct	archive_bytes	tarzst_bytes	size_pct	pack	verify	restore	memory	many_pack_rss_KiB	many_verify_rss_KiB	many_list_rss_KiB	many_restore_one_s	many_memory"
# A results file with other columns (an older bench) is kept aside.
if [ -s "$results" ] && [ "$(head -1 "$results")" != "$columns" ]; then mv "$results" "$results.$(date +%s).old"; fi
[ -s "$results" ] || echo "$columns" > "$results"
printf '%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)	$commit	$dirty	$(nproc)	$(cut -d' ' -f1 /proc/loadavg)	$corpus_bytes	$corpus_files	${SEC[pack]}	$pack_mbps	${RSS[pack]}	${RC[pack]}	${SEC[tar_zstd]}	$tar_mbps	${SEC[verify]}	$verify_mbps	${RSS[verify]}	${RC[verify]}	${SEC[zstd_dgst]}	$dgst_mbps	${SEC[restore_one]}	${RSS[restore_one]}	${RC[restore_one]}	${SEC[zstd_full]}	$restore_pct	$archive_bytes	$tarzst_bytes	$size_pct	$pack_v	$verify_v	$restore_v	$memory_v	${RSS[many_pack]}	${RSS[many_verify]}	${RSS[many_list]}	${TIMES[many_restore_one]# }	$many_v" >> "$results"
echo "results appended to $results"
