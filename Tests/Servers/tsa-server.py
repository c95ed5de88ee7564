#!/usr/bin/env python3
"""A real RFC 3161 time-stamp authority for the tests: `openssl ts -reply` with the fixture TSA behind
a small HTTP server on 127.0.0.1. It prints the port it listens on, then serves until its stdin
closes (the test process that started it ended) or it is killed.

    tsa-server.py FIXTURES_DIR

POST paths (body: a TimeStampReq, as `application/timestamp-query`):
  /tsa             a granted response from the fixture TSA (critical timeStamping EKU)
  /garbage         200 with bytes that are not a response
  /error           HTTP 500
  /rejection       a TimeStampResp with status rejection (2) and no token
  /wrong-nonce     a granted response to another request: same imprint, another nonce
  /wrong-imprint   a granted response to another request: another imprint
  /non-tsa         a token signed with the fixture certificate whose timeStamping EKU is not critical
  /slow            the /tsa answer after 5 seconds
  /net-tsa         a granted response from the network PKI's TSA (Fixtures/netpki), whose certificate
                   names an OCSP responder and a CRL distribution point (Tests/Servers/revocation-server.py)
"""
import http.server
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

FIXTURES = os.path.abspath(sys.argv[1])
CERTS = os.path.join(FIXTURES, "pki", "certs")
PRIVATE = os.path.join(FIXTURES, "pki", "private")
WORK = tempfile.mkdtemp(prefix="sigvault-tsa-")
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tsa.cnf")
os.environ["TSA_SERIAL"] = os.path.join(WORK, "serial")
with open(os.environ["TSA_SERIAL"], "w") as f:
    f.write("01\n")


def run(args, data=None):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True, check=True).stdout


NET = os.path.join(FIXTURES, "netpki")


# `openssl ts -reply` reads and rewrites the serial file: one reply at a time, or two concurrent
# requests race on it (one fails, and its client sees HTTP 500).
REPLY_LOCK = threading.Lock()


def reply(query_path, token_out=False, network=False):
    with REPLY_LOCK:
        return unlocked_reply(query_path, token_out, network)


def unlocked_reply(query_path, token_out, network):
    out = query_path + ".reply"
    signer, key, chain = (os.path.join(CERTS, "tsa.pem"), os.path.join(PRIVATE, "tsa.key"), os.path.join(CERTS, "intermediate.pem"))
    if network:
        signer, key, chain = (os.path.join(NET, "certs", "tsa.pem"), os.path.join(NET, "private", "tsa.key"), os.path.join(NET, "certs", "ca.pem"))
    args = ["ts", "-reply", "-config", CONFIG, "-section", "tsa_config", "-queryfile", query_path,
            "-signer", signer, "-inkey", key, "-chain", chain, "-out", out]
    if token_out:
        args.append("-token_out")
    run(args)
    with open(out, "rb") as f:
        return f.read()


def request_digest(query_path):
    """The hash algorithm and hex imprint of a TimeStampReq, from `openssl ts -query -text`."""
    text = run(["ts", "-query", "-in", query_path, "-text"]).decode()
    algorithm = text.split("Hash Algorithm: ", 1)[1].split()[0]
    lines = text.split("Message data:", 1)[1].splitlines()[1:]
    hex_bytes = []
    for line in lines:
        if " - " not in line:
            break
        hex_bytes += line.split(" - ", 1)[1].split("   ")[0].replace("-", " ").split()
    return algorithm, "".join(hex_bytes)


def der_length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def sequence(content):
    return b"\x30" + der_length(len(content)) + content


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, body, status=200, content_type="application/timestamp-reply"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        # Each request in a folder of its own: the server answers on several threads.
        folder = tempfile.mkdtemp(dir=WORK)
        query = os.path.join(folder, "query.tsq")
        with open(query, "wb") as f:
            f.write(body)
        try:
            if self.path == "/tsa":
                self.answer(reply(query))
            elif self.path == "/net-tsa":
                self.answer(reply(query, network=True))
            elif self.path == "/slow":
                time.sleep(5)
                self.answer(reply(query))
            elif self.path == "/garbage":
                self.answer(b"<html>this is not a time-stamp response</html>")
            elif self.path == "/error":
                self.answer(b"internal error", status=500, content_type="text/plain")
            elif self.path == "/rejection":
                self.answer(sequence(sequence(b"\x02\x01\x02")))
            elif self.path in ("/wrong-nonce", "/wrong-imprint"):
                algorithm, digest = request_digest(query)
                if self.path == "/wrong-imprint":
                    digest = ("ff" if digest[:2] != "ff" else "00") + digest[2:]
                other = os.path.join(folder, "other.tsq")
                run(["ts", "-query", "-digest", digest, "-" + algorithm, "-cert", "-out", other])
                self.answer(reply(other))
            elif self.path == "/non-tsa":
                token = reply(query, token_out=True)
                token_path = os.path.join(folder, "template.tst")
                with open(token_path, "wb") as f:
                    f.write(token)
                info = run(["cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", token_path])
                signed = run(["cms", "-sign", "-binary", "-nodetach", "-cades", "-md", "sha256", "-nosmimecap",
                              "-econtent_type", "1.2.840.113549.1.9.16.1.4",
                              "-signer", os.path.join(CERTS, "tsa-noncritical-eku.pem"),
                              "-inkey", os.path.join(PRIVATE, "tsa-noncritical-eku.key"),
                              "-certfile", os.path.join(CERTS, "intermediate.pem"), "-outform", "DER"], data=info)
                self.answer(sequence(sequence(b"\x02\x01\x00") + signed))
            else:
                self.answer(b"no such TSA", status=404, content_type="text/plain")
        except Exception as error:  # the test sees a 500 with the reason
            self.answer(str(error).encode(), status=500, content_type="text/plain")


def stop(*_):
    shutil.rmtree(WORK, ignore_errors=True)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)


def watch_parent():
    """The test process holds our stdin open: when it ends, however it ends, so do we."""
    sys.stdin.buffer.read()
    stop()


threading.Thread(target=watch_parent, daemon=True).start()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
