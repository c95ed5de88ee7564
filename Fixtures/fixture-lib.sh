# Sourced by the fixture scripts (make-fixtures.sh, make-network-fixtures.sh,
# make-conformance-fixtures.sh): the environment they run in, their tool check and `at`.
export TZ=UTC
export LC_ALL=C

# fixtures_require SCRIPT-NAME TOOL...: every tool on the PATH, or a one-line error and exit 1.
fixtures_require() {
  local name="$1"; shift
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool is missing (apt-get install -y faketime / openssl)" >&2; exit 1; }
  done
}

# at TIME CMD...: run CMD with the clock frozen at TIME (YYYY-MM-DDTHH:MM:SSZ). libfaketime's
# absolute "-f 'YYYY-MM-DD hh:mm:ss'" form is frozen (a plain `faketime TIME` keeps ticking, and a
# slow start once gave a genTime one second late) and is read as UTC.
at() {
  local t="$1"; shift
  [[ $t =~ ^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})Z$ ]] || { echo "bad time $t" >&2; exit 1; }
  faketime -f "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" "$@"
}
