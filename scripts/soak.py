#!/usr/bin/env python3
"""`make soak`: nightly backups and repository renewals killed with SIGKILL at seeded random
moments (issue 10).

Usage: soak.py <sigvault binary> <fixtures folder> <kills> [<seed>]

Runs rounds until <kills> processes have been killed at a random moment.

Two repositories (archive time-stamps from the tests' local TSA, Tests/Servers/tsa-server.py): one
backs up a source with the fixture cases and an 8 MiB document; the other holds three such nights
and is renewed again and again. Each round either (one round in four) starts `sigvault renew
--repo` on the second, or changes the document and a small file and starts `sigvault backup` on
the first, then kills it after a random delay (up to 1.2 times a backup's measured duration, 2 times a
renewal's).
After every round, on the repository the round worked on:
- `sigvault check` must pass: every archive's structure (trailer, index, manifest), the catalog
  against the store, every reference member resolved, every archive's newest renewed evidence
  object whole and bound to it;
- every archive and evidence object the round left that the last full check had not seen must
  pass `sigvault verify --repo` (every byte, every evidence record and signature);
- every document must restore byte-identical to the last night that completed (or to the night
  that was cut short, if it got as far as its catalog commit).
Every 25 rounds `sigvault check --read-data` reads the whole repository, and every 10 the catalog is
rebuilt from the archives and the next backup must find nothing changed. Every 250 rounds (SOAK_EPOCH), after a
last `check --read-data`, the backed-up repository is started anew (so that a round's `check`, which
reads every archive's manifest, does not grow without end). Prints the counts; exits 1 on any failure.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

AT = "2026-06-01T00:00:00Z"


def run(command, cwd, check=None):
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    if check is not None and result.returncode != check:
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.decode(errors='replace')[:400]}")
    return result


def main():
    binary, fixtures, kills = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    root = os.path.dirname(fixtures)
    work = tempfile.mkdtemp(prefix="sigvault-soak-")
    tsa = subprocess.Popen(["python3", os.path.join(root, "Tests", "Servers", "tsa-server.py"), fixtures],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    failures = []
    counts = {"backup": [0, 0], "renew": [0, 0]}  # killed, completed
    try:
        port = int(tsa.stdout.readline())
        source = os.path.join(work, "src")
        shutil.copytree(os.path.join(fixtures, "cases"), source)
        os.makedirs(os.path.join(source, "big"))
        size = 8 << 20
        big = os.path.join(source, "big", "scan.bin")
        with open(big, "wb") as out:
            out.write(rng.randbytes(size))
        pki = os.path.join(fixtures, "pki")
        def initialise(repository):
            run([binary, "init", repository, "--trust", f"{pki}/root.pem", "--certs", f"{pki}/certs",
                 "--crls", f"{pki}/crl/current", "--ocsp", f"{pki}/ocsp", "--tsa", f"http://127.0.0.1:{port}/tsa"], work, check=0)
        for repository in ("repo", "renewed"):
            initialise(repository)
        backup = [binary, "backup", "src", "--repo", "repo", "--at", AT]
        renew = [binary, "renew", "--repo", "renewed"]
        documents = ["src/unsigned/readme.txt", "src/unsigned/data.bin", "src/valid-pem-sig/letter.txt", "src/big/scan.bin"]

        def current():
            return {d: open(os.path.join(work, d), "rb").read() for d in documents}

        # The renewed repository: three nights, then what they hold is what it must always restore.
        for night in range(3):
            with open(os.path.join(source, "unsigned", "readme.txt"), "wb") as handle:
                handle.write(f"night {night}\n".encode())
            run([binary, "backup", "src", "--repo", "renewed", "--at", AT], work)
        renewed = current()
        durations = {}
        for name, command in (("backup", backup), ("renew", renew)):
            started = time.monotonic()
            if run(command, work).returncode not in (0, 2):
                raise RuntimeError(f"the first {name} failed")
            durations[name] = max(0.05, time.monotonic() - started)

        def objects(repository):
            return set(os.listdir(os.path.join(work, repository, "archives")))

        acceptable = {d: [v] for d, v in current().items()}
        seen = {"repo": objects("repo"), "renewed": objects("renewed")}
        number = -1
        epoch = int(os.environ.get("SOAK_EPOCH", "250"))  # rounds per backed-up repository
        epochs = 1
        while counts["backup"][0] + counts["renew"][0] < kills:
            number += 1
            kind = "renew" if rng.random() < 0.25 else "backup"
            repository = "renewed" if kind == "renew" else "repo"
            if kind == "backup":
                with open(big, "r+b") as handle:
                    handle.seek(rng.randrange(size))
                    handle.write(rng.randbytes(8))
                with open(os.path.join(source, "unsigned", "readme.txt"), "wb") as handle:
                    handle.write(f"round {number}\n".encode())
            process = subprocess.Popen(backup if kind == "backup" else renew, cwd=work,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Renewals grow a little slower as their evidence grows: a wider window, so some complete.
            time.sleep(rng.random() * durations[kind] * (1.2 if kind == "backup" else 2.0))
            process.send_signal(signal.SIGKILL)
            code = process.wait()
            counts[kind][1 if code in (0, 2) else 0] += 1
            if kind == "backup":
                now = current()
                if code in (0, 2):
                    acceptable = {d: [v] for d, v in now.items()}
                else:
                    for d, v in now.items():
                        acceptable[d].append(v)
            full = number % 25 == 24
            check = run([binary, "check", "--repo", repository, "--at", AT] + (["--read-data"] if full else []), work)
            if check.returncode != 0:
                failures.append(f"round {number} ({kind}): check{' --read-data' if full else ''} exit {check.returncode}: "
                                f"{check.stdout.decode(errors='replace')[-400:]}")
            # What this round added, read byte for byte (an evidence object through its archive).
            new = objects(repository) - seen[repository]
            for archive in sorted({name.split(".evidence-")[0] for name in new}):
                verify = run([binary, "verify", os.path.join(repository, "archives", archive), "--repo", repository, "--integrity-only"], work)
                if verify.returncode != 0:
                    failures.append(f"round {number} ({kind}): verify --repo {archive} exit {verify.returncode}: "
                                    f"{verify.stdout.decode(errors='replace')[-400:]}")
            seen[repository] = objects(repository)
            target = os.path.join(work, "restored")
            shutil.rmtree(target, ignore_errors=True)
            restore = run([binary, "restore", "--repo", repository] + documents + ["--to", target], work)
            if restore.returncode != 0:
                failures.append(f"round {number}: restore exit {restore.returncode}: {restore.stderr.decode(errors='replace')[:300]}")
            else:
                for d in documents:
                    got = open(os.path.join(target, d), "rb").read()
                    if got not in (acceptable[d] if kind == "backup" else [renewed[d]]):
                        failures.append(f"round {number} ({kind}): {d} restored with content of no night")
            if number % 25 == 24:
                print(f"round {number + 1}: backups {counts['backup'][0]} killed, {counts['backup'][1]} completed; "
                      f"renewals {counts['renew'][0]} killed, {counts['renew'][1]} completed; {len(failures)} failure(s)", flush=True)
            if number % 10 == 9:
                run([binary, "repo", "rebuild-catalog", "--repo", "repo"], work, check=0)
                after = run(backup + ["--json"], work)
                if after.returncode not in (0, 2):
                    failures.append(f"round {number}: the backup after a rebuilt catalog exit {after.returncode}")
                counts["backup"][1] += 1
                acceptable = {d: [v] for d, v in current().items()}
                seen["repo"] = objects("repo")
            if number % epoch == epoch - 1:
                final = run([binary, "check", "--repo", "repo", "--at", AT, "--read-data"], work)
                if final.returncode != 0:
                    failures.append(f"round {number}: check --read-data before the new repository exit {final.returncode}")
                shutil.rmtree(os.path.join(work, "repo"))
                initialise("repo")
                if run(backup, work).returncode not in (0, 2):
                    failures.append(f"round {number}: the first backup of the new repository failed")
                counts["backup"][1] += 1
                epochs += 1
                acceptable = {d: [v] for d, v in current().items()}
                seen["repo"] = objects("repo")
        rounds = number + 1
        archives = [name for name in objects("repo") if name.endswith(".svz")]
        renewals = [name for name in objects("renewed") if ".evidence-" in name]
        killed = counts["backup"][0] + counts["renew"][0]
        print(f"{rounds} rounds ({epochs} backed-up repositories in turn): {killed} killed at a random moment ({counts['backup'][0]} backups, {counts['renew'][0]} renewals), "
              f"{counts['backup'][1]} backups completed (including {rounds // 10} after a rebuilt catalog), "
              f"{counts['renew'][1]} renewals completed; {len(archives)} archives backed up, {len(renewals)} renewed evidence objects "
              f"for the renewed repository's {len([n for n in objects('renewed') if n.endswith('.svz')])} archives; "
              f"check and restore after every round, verify --repo of what each round added, check --read-data every 25 rounds")
        for failure in failures[:30]:
            print("FAIL", failure)
        print(f"{len(failures)} failure(s)")
        return 1 if failures else 0
    finally:
        tsa.stdin.close()
        tsa.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
