#!/usr/bin/env bash
# The repository part of `make bench` (issue 10; docs/PERFORMANCE.md, "Repository"): on the corpus
# of scripts/bench.sh (bench-work/corpus, made there first), with restic and borg (Debian's
# packages) on the same data in the same run:
#   (g1) the first backup against `tar -cf - | zstd -3 -T0`, restic and borg;
#   (g2) a second run after 1% of the files changed (200 small files get 16 bytes more): target
#        under 1.3 s and faster than restic's and borg's second runs;
#   (g3) check --read-data against `zstd -dc | openssl dgst -sha256` of the same archive;
#   peak memory of every sigvault run under 100 MiB.
# The changed files are put back afterwards (size and mtime), so the corpus stays what bench.sh made.
#
#   ./scripts/bench-repository.sh path/to/release/sigvault
set -euo pipefail

sigvault=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work="$here/bench-work"
corpus="$work/corpus"
[ -d "$corpus" ] || { echo "bench-repository: $corpus is missing (scripts/bench.sh makes it)" >&2; exit 66; }
cd "$work"

need=()
command -v restic >/dev/null || need+=(restic)
command -v borg >/dev/null || need+=(borgbackup)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "bench-repository: installing ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# run NAME COMMAND...: one timed run (wall seconds from a nanosecond clock, peak RSS from
# /usr/bin/time, KiB), its output in NAME.out / NAME.err.
declare -A SEC RSS RC
run() {
    local name=$1; shift
    local start end
    start=$(date +%s%N)
    set +e
    /usr/bin/time -f '%M' -o "$name.rss" "$@" >"$name.out" 2>"$name.err"
    RC[$name]=$?
    set -e
    end=$(date +%s%N)
    SEC[$name]=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
    RSS[$name]=$(tail -1 "$name.rss")
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

rm -rf repo restic-repo borg-repo corpus.tar.zst
export RESTIC_PASSWORD=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
"$sigvault" init repo >/dev/null
restic init --repo restic-repo -q >/dev/null
borg init -e none borg-repo >/dev/null 2>&1

echo "(g1) first backup of the corpus"
run backup1 "$sigvault" backup corpus --repo repo --at 2026-06-01T00:00:00Z --quiet
run tar_zstd bash -o pipefail -c 'tar -cf - corpus | zstd -q -3 -T0 > corpus.tar.zst'
run restic1 restic backup --repo restic-repo -q corpus
run borg1 borg create borg-repo::night1 corpus

# 1% of the files: 200 of the 20,000 small ones, every 100th, 16 more bytes.
mapfile -t changed < <(find corpus/small -type f | sort | awk 'NR % 100 == 1' | head -200)
declare -A SIZE MTIME
for f in "${changed[@]}"; do SIZE[$f]=$(stat -c %s "$f"); MTIME[$f]=$(stat -c %Y "$f"); printf 'changed 16 bytes' >> "$f"; done

echo "(g2) second backup after ${#changed[@]} files changed"
run backup2 "$sigvault" backup corpus --repo repo --at 2026-06-01T00:00:00Z --quiet
run restic2 restic backup --repo restic-repo -q corpus
run borg2 borg create borg-repo::night2 corpus
run backup3 "$sigvault" backup corpus --repo repo --at 2026-06-01T00:00:00Z --json

echo "(g3) check --read-data"
run check "$sigvault" check --repo repo --read-data --at 2026-06-01T00:00:00Z
run zstd_dgst bash -o pipefail -c 'for a in repo/archives/*; do zstd -q -dc "$a"; done | openssl dgst -sha256'

# The corpus as bench.sh made it.
for f in "${changed[@]}"; do truncate -s "${SIZE[$f]}" "$f"; touch -d "@${MTIME[$f]}" "$f"; done

archives=$(ls repo/archives | wc -l)
second=$(ls repo/archives | sed -n 2p)
second_bytes=$(stat -c %s "repo/archives/$second" 2>/dev/null || echo 0)
nothing=$(python3 -c 'import json,sys; d=json.load(open("backup3.out")); print("yes" if d["archive"] is None else "no")')
verdict() { if awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; then echo PASS; else echo MISS; fi; }
printf '%-44s %10s %12s  %s\n' "" "seconds" "peak MiB" "target"
printf '%-44s %10s %12s  %s\n' "sigvault backup, first night" "${SEC[backup1]}" "$(mib "${RSS[backup1]}")" "$(verdict "${SEC[backup1]}" "${SEC[tar_zstd]}") no slower than tar | zstd -3 -T0 (${SEC[tar_zstd]} s)"
printf '%-44s %10s %12s\n' "restic backup, first" "${SEC[restic1]}" "$(mib "${RSS[restic1]}")"
printf '%-44s %10s %12s\n' "borg create, first" "${SEC[borg1]}" "$(mib "${RSS[borg1]}")"
fastest=$(printf '%s\n%s\n' "${SEC[restic2]}" "${SEC[borg2]}" | sort -g | head -1)
printf '%-44s %10s %12s  %s\n' "sigvault backup, 1% changed" "${SEC[backup2]}" "$(mib "${RSS[backup2]}")" "$(verdict "${SEC[backup2]}" 1.3) under 1.3 s; $(verdict "${SEC[backup2]}" "$fastest") faster than restic and borg"
printf '%-44s %10s %12s\n' "restic backup, 1% changed" "${SEC[restic2]}" "$(mib "${RSS[restic2]}")"
printf '%-44s %10s %12s\n' "borg create, 1% changed" "${SEC[borg2]}" "$(mib "${RSS[borg2]}")"
printf '%-44s %10s %12s  %s\n' "sigvault backup, nothing changed" "${SEC[backup3]}" "$(mib "${RSS[backup3]}")" "no archive written: $nothing"
printf '%-44s %10s %12s  %s\n' "sigvault check --read-data ($archives archives)" "${SEC[check]}" "$(mib "${RSS[check]}")" "$(verdict "${SEC[check]}" "$(awk -v s="${SEC[zstd_dgst]}" 'BEGIN {print s * 1.0}')") no slower than zstd -dc | openssl dgst of the same archives (${SEC[zstd_dgst]} s)"
max_rss=$(printf '%s\n' "${RSS[backup1]}" "${RSS[backup2]}" "${RSS[backup3]}" "${RSS[check]}" | sort -n | tail -1)
printf '%-44s %10s %12s  %s\n' "sigvault peak memory" "" "$(mib "$max_rss")" "$(verdict "$max_rss" 102400) under 100 MiB"
echo "second night's archive: $second_bytes bytes for ${#changed[@]} changed files; exit codes: backup ${RC[backup1]}/${RC[backup2]}/${RC[backup3]}, check ${RC[check]}"
