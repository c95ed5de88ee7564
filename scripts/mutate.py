#!/usr/bin/env python3
"""Mutation run over a SigVault archive (issue 9's reliability figures; `make fuzz`).

Usage: mutate.py <sigvault binary> <archive> <count> [<seed>]

Each mutation copies the archive and changes it one way (a flipped byte anywhere, a byte range
zeroed, the file truncated, bytes inserted), chosen by a seeded generator so a run can be repeated.
Every mutated copy goes through `verify --integrity-only`, `list` and `restore`. The run counts the
outcomes and fails (exit 1) if any command crashed (a signal, or exit 70), exited with a code that
docs/CLI.md does not document, passed a mutated archive as intact (verify exit 0), restored from
one with exit 0 files that differ from those of the intact archive (restore checks what it reads:
a mutation in a member no document needs, VERIFY.md or unused evidence, does not concern it), or
wrote anything outside its target folder.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

DOCUMENTED = {0, 1, 2, 3, 4, 11, 64, 65, 66, 73, 74}


def run(command, cwd):
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return result.returncode, result.stderr.decode("utf-8", "replace")


def tree(root):
    """Every file under root with its bytes."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


def mutate(data, rng):
    kind = rng.choice(["flip", "flip", "flip", "zero", "truncate", "insert"])
    data = bytearray(data)
    offset = rng.randrange(len(data))
    if kind == "flip":
        data[offset] ^= 1 << rng.randrange(8)
    elif kind == "zero":
        length = rng.randrange(1, 64)
        data[offset:offset + length] = bytes(min(length, len(data) - offset))
    elif kind == "truncate":
        data = data[:offset]
    else:
        data[offset:offset] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return kind, bytes(data)


def main():
    binary, archive, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 9)
    original = open(archive, "rb").read()
    outcomes = Counter()
    failures = []
    work = tempfile.mkdtemp(prefix="sigvault-mutate-")
    reference = os.path.join(work, "reference")
    code, stderr = run([binary, "restore", os.path.abspath(archive), "--to", reference], work)
    if code != 0:
        print(f"the intact archive does not restore (exit {code}): {stderr}")
        return 1
    expected = tree(reference)
    try:
        for number in range(count):
            kind, data = mutate(original, rng)
            if data == original:
                continue
            case = os.path.join(work, "case")
            shutil.rmtree(case, ignore_errors=True)
            os.makedirs(os.path.join(case, "target"))
            path = os.path.join(case, "m.svz")
            open(path, "wb").write(data)
            for name, command in [("verify", [binary, "verify", path, "--integrity-only"]),
                                  ("list", [binary, "list", path]),
                                  ("restore", [binary, "restore", path, "--to", os.path.join(case, "target", "out")])]:
                code, stderr = run(command, case)
                outcomes[(name, code)] += 1
                problem = None
                if code < 0 or code == 70 or code not in DOCUMENTED:
                    problem = f"exit {code}"
                elif name == "verify" and code == 0:
                    problem = "a mutated archive verified as intact"
                elif name == "restore" and code == 0 and tree(os.path.join(case, "target", "out")) != expected:
                    problem = "restore from a mutated archive exited 0 with files that differ from the intact archive's"
                if problem:
                    failures.append(f"mutation {number} ({kind}): {name}: {problem}: {stderr.strip()[:300]}")
            # Nothing outside the target: the case folder holds only the archive and target/.
            extra = sorted(set(os.listdir(case)) - {"m.svz", "target"})
            inside = sorted(set(os.listdir(os.path.join(case, "target"))) - {"out"})
            if extra or inside:
                failures.append(f"mutation {number} ({kind}): wrote outside the target: {extra + inside}")
            outcomes[("mutations", kind)] += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = sum(value for (name, _), value in outcomes.items() if name == "mutations")
    print(f"{total} mutated archives of {archive} ({len(original)} bytes), each through verify --integrity-only, list and restore")
    for (name, key), value in sorted(outcomes.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        print(f"  {name:9} {key!s:9} {value}")
    for failure in failures[:50]:
        print("FAIL", failure)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
