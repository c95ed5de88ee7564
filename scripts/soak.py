#!/usr/bin/env python3
"""`make soak`: nightly backups killed with SIGKILL at seeded random moments (issue 10).

Usage: soak.py <sigvault binary> <fixtures folder> <rounds> [<seed>]

A repository gets a source with the fixture cases and a 32 MiB document. Each round changes the
document and a small file, starts `sigvault backup`, kills it after a random delay (up to 1.2 times
a backup's measured duration), then checks that `sigvault check --read-data` passes and that
every document restores byte-identical to the last night that completed (or to the night that was
cut short, if it got as far as its catalog commit). Every 10 rounds the catalog is also rebuilt
from the archives once and the next backup must find nothing changed. Prints the counts; exits 1
on any failure.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def run(command, cwd, check=None):
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    if check is not None and result.returncode != check:
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {result.stderr.decode(errors='replace')[:400]}")
    return result


def main():
    binary, fixtures, rounds = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    work = tempfile.mkdtemp(prefix="sigvault-soak-")
    failures, killed, completed = [], 0, 0
    try:
        source = os.path.join(work, "src")
        shutil.copytree(os.path.join(fixtures, "cases"), source)
        os.makedirs(os.path.join(source, "big"))
        big = os.path.join(source, "big", "scan.bin")
        with open(big, "wb") as out:
            out.write(rng.randbytes(32 << 20))
        pki = os.path.join(fixtures, "pki")
        run([binary, "init", "repo", "--trust", f"{pki}/root.pem", "--certs", f"{pki}/certs",
             "--crls", f"{pki}/crl/current", "--ocsp", f"{pki}/ocsp"], work, check=0)
        backup = [binary, "backup", "src", "--repo", "repo", "--at", "2026-06-01T00:00:00Z"]
        started = time.monotonic()
        if run(backup, work).returncode not in (0, 2):
            raise RuntimeError("the first backup failed")
        duration = max(0.05, time.monotonic() - started)
        documents = ["src/unsigned/readme.txt", "src/unsigned/data.bin", "src/valid-pem-sig/letter.txt", "big/scan.bin"]
        documents = [d if d.startswith("src/") else "src/" + d for d in documents]

        def current():
            return {d: open(os.path.join(work, d), "rb").read() for d in documents}

        acceptable = {d: [v] for d, v in current().items()}
        for number in range(rounds):
            with open(big, "r+b") as handle:
                handle.seek(rng.randrange(32 << 20))
                handle.write(rng.randbytes(8))
            with open(os.path.join(source, "unsigned", "readme.txt"), "wb") as handle:
                handle.write(f"round {number}\n".encode())
            process = subprocess.Popen(backup, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.random() * duration * 1.2)
            process.send_signal(signal.SIGKILL)
            code = process.wait()
            now = current()
            if code in (0, 2):
                completed += 1
                acceptable = {d: [v] for d, v in now.items()}
            else:
                killed += 1
                for d, v in now.items():
                    acceptable[d].append(v)
            check = run([binary, "check", "--repo", "repo", "--read-data", "--at", "2026-06-01T00:00:00Z"], work)
            if check.returncode != 0:
                failures.append(f"round {number}: check --read-data exit {check.returncode}: {check.stdout.decode(errors='replace')[-400:]}")
            target = os.path.join(work, "restored")
            shutil.rmtree(target, ignore_errors=True)
            restore = run([binary, "restore", "--repo", "repo"] + documents + ["--to", target], work)
            if restore.returncode != 0:
                failures.append(f"round {number}: restore exit {restore.returncode}: {restore.stderr.decode(errors='replace')[:300]}")
            else:
                for d in documents:
                    got = open(os.path.join(target, d), "rb").read()
                    if got not in acceptable[d]:
                        failures.append(f"round {number}: {d} restored with content of no night")
            if number % 25 == 24:
                print(f"round {number + 1}: {killed} killed, {completed} completed, {len(failures)} failure(s)", flush=True)
            if number % 10 == 9:
                run([binary, "repo", "rebuild-catalog", "--repo", "repo"], work, check=0)
                after = run(backup, work)
                if after.returncode not in (0, 2):
                    failures.append(f"round {number}: the backup after a rebuilt catalog exit {after.returncode}")
                completed += 1
                acceptable = {d: [v] for d, v in current().items()}
        archives = len(os.listdir(os.path.join(work, "repo", "archives")))
        print(f"{rounds} rounds: {killed} backups killed at a random moment, {completed} completed "
              f"(including {rounds // 10} after a rebuilt catalog); {archives} archives; "
              f"check --read-data and restore after every round")
        for failure in failures[:30]:
            print("FAIL", failure)
        print(f"{len(failures)} failure(s)")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
