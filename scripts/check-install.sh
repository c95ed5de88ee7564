#!/bin/sh
# `make install` into a scratch prefix with the debug build `make test` just made: the binary runs,
# the man page renders and documents every command, the bash completion loads and completes the
# commands, and the zsh and fish scripts are there.
set -eu
prefix=$(mktemp -d "${TMPDIR:-/tmp}/sigvault-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
make -s install CONFIGURATION=debug PREFIX="$prefix" >/dev/null
fail() { echo "check-install: $*" >&2; exit 1; }
"$prefix/bin/sigvault" --version | head -1 | grep -q '^sigvault ' || fail "the installed binary does not run"
page=$(MANWIDTH=100 man -l "$prefix/share/man/man1/sigvault.1" 2>/dev/null | col -b)
for command in pack verify restore list renew ers init backup log check repo expiry; do
    printf '%s\n' "$page" | grep -Eq "^ +$command( +[A-Z]|$)" || fail "the man page does not document 'sigvault $command'"
done
printf '%s\n' "$page" | grep -q -- '--integrity-only' || fail "the man page lacks verify's options"
completion="$prefix/share/bash-completion/completions/sigvault"
words=$(bash -c '. "$1"; COMP_WORDS=(sigvault ""); COMP_CWORD=1; COMP_LINE="sigvault "; COMP_POINT=${#COMP_LINE}; _sigvault; printf "%s\n" "${COMPREPLY[@]}"' sh "$completion") \
    || fail "the bash completion does not load"
for command in pack verify restore list renew ers init backup log check repo expiry; do
    printf '%s\n' "$words" | grep -qx "$command" || fail "bash completion does not offer '$command' (got: $words)"
done
grep -q '#compdef sigvault' "$prefix/share/zsh/site-functions/_sigvault" || fail "no zsh completion"
grep -q "complete -c 'sigvault'" "$prefix/share/fish/vendor_completions.d/sigvault.fish" || fail "no fish completion"
echo "check-install: binary, man page (12 commands), bash/zsh/fish completions installed and working"
