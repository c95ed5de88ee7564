#!/usr/bin/env python3
"""Real revocation servers for the network tests, on the fixed ports that the certificates of
Fixtures/netpki name in their authorityInfoAccess and cRLDistributionPoints extensions:

  127.0.0.1:18780  GET /crl/<name> serves Fixtures/netpki/crl/<name> (application/pkix-crl);
                   POST /slow-ocsp answers HTTP 503 after 5 seconds (a responder too slow to use);
                   POST /garbage-ocsp and GET /garbage-crl answer 200 with an HTML page;
                   GET /big and /big-unsized answer 2 MiB (with and without Content-Length);
                   POST /replayed-ocsp answers the same question with another nonce, and
                   POST /misdirected-ocsp about another certificate (serial 3001), both from the
                   responder of 18781
  127.0.0.1:18781  OCSP (RFC 6960, POST of application/ocsp-request) for the Net CA's certificates:
                   OpenSSL's responder, `openssl ocsp -index netpki/ocsp/ca-index.txt -CA ca.pem
                   -rsigner responder.pem`, signed by the delegated responder (id-kp-OCSPSigning)
  127.0.0.1:18782  the same responder database, signed by a certificate without
                   id-kp-OCSPSigning: its answers are not authorised (RFC 6960 §4.2.2.2)
  127.0.0.1:18783  OCSP for the root's certificates (the Net CA), signed by the root itself and
                   without the nonce (as RFC 5019 responders serving pre-produced answers do)

Each OCSP request runs `openssl ocsp -reqin … -respout …` behind this Python HTTP server rather
than `openssl ocsp -port`: OpenSSL 3.0's own HTTP loop spins at full CPU after a client closes a
connection without a request, and exits on a malformed one (seen on this machine with 3.0.19).

It prints 18780 once all four listen (or one line starting with "error:"), then serves until
its stdin closes (the test process that started it ended) or it is killed.

    revocation-server.py FIXTURES_DIR
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
NET = os.path.join(FIXTURES, "netpki")
WORK = tempfile.mkdtemp(prefix="sigvault-ocsp-")
HTTP_PORT = 18780
# port: (responder database, issuing CA, signer certificate, signer key, echoes the nonce)
RESPONDERS = {
    18781: ("ca-index.txt", "certs/ca.pem", "certs/responder.pem", "private/responder.key", True),
    18782: ("ca-index.txt", "certs/ca.pem", "certs/not-responder.pem", "private/not-responder.key", True),
    18783: ("root-index.txt", "root.pem", "root.pem", "private/root.key", False),
}


def stop(*_):
    shutil.rmtree(WORK, ignore_errors=True)
    os._exit(0)


def fail(message):
    print("error: " + message, flush=True)
    stop()


def ocsp_answer(request, port, rewrite=None):
    """OpenSSL's answer to `request`. `rewrite` asks another question first: "no-nonce" the same
    without the nonce (OpenSSL's responder echoes whatever nonce it gets), "new-nonce" the same
    with another nonce, "serial:<hex>" about another certificate."""
    index, ca, signer, key, echoes_nonce = RESPONDERS[port]
    folder = tempfile.mkdtemp(dir=WORK)
    request_path, response_path = os.path.join(folder, "request.der"), os.path.join(folder, "response.der")
    with open(request_path, "wb") as f:
        f.write(request)
    if rewrite is None and not echoes_nonce:
        rewrite = "no-nonce"
    if rewrite is not None:
        text = subprocess.run(["openssl", "ocsp", "-reqin", request_path, "-req_text"], capture_output=True, check=True).stdout.decode()
        serial = text.split("Serial Number:", 1)[1].split()[0]
        if rewrite.startswith("serial:"):
            serial = rewrite[len("serial:"):]
        nonce = ["-no_nonce"] if rewrite == "no-nonce" else ["-nonce"]
        subprocess.run(["openssl", "ocsp", "-issuer", os.path.join(NET, ca), "-serial", "0x" + serial] + nonce
                       + ["-reqout", request_path], capture_output=True, check=True)
    subprocess.run(
        ["openssl", "ocsp", "-index", os.path.join(NET, "ocsp", index), "-CA", os.path.join(NET, ca),
         "-rsigner", os.path.join(NET, signer), "-rkey", os.path.join(NET, key),
         "-nmin", "60", "-reqin", request_path, "-respout", response_path],
        stdin=subprocess.DEVNULL, capture_output=True, check=True)
    with open(response_path, "rb") as f:
        return f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, body, status=200, content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/big", "/big-unsized"):
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            if self.path == "/big":
                self.send_header("Content-Length", str(2 << 20))
            self.end_headers()
            try:
                for _ in range(32):
                    self.wfile.write(b"\x30" * (64 << 10))
            except OSError:
                pass  # the client hung up: what the test wants
            return
        if self.path == "/garbage-crl":
            return self.answer(b"<html>not a CRL</html>", content_type="text/html")
        name = self.path[len("/crl/"):] if self.path.startswith("/crl/") else ""
        path = os.path.join(NET, "crl", name)
        if name and "/" not in name and os.path.isfile(path):
            with open(path, "rb") as f:
                self.answer(f.read(), content_type="application/pkix-crl")
        else:
            self.answer(b"not found", status=404)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        port = self.server.server_address[1]
        try:
            if port in RESPONDERS and self.path == "/":
                self.answer(ocsp_answer(body, port), content_type="application/ocsp-response")
            elif port == HTTP_PORT and self.path == "/replayed-ocsp":
                self.answer(ocsp_answer(body, 18781, "new-nonce"), content_type="application/ocsp-response")
            elif port == HTTP_PORT and self.path == "/misdirected-ocsp":
                self.answer(ocsp_answer(body, 18781, "serial:3001"), content_type="application/ocsp-response")
            elif port == HTTP_PORT and self.path == "/garbage-ocsp":
                self.answer(b"<html>not an OCSP response</html>", content_type="text/html")
            elif port == HTTP_PORT and self.path == "/slow-ocsp":
                time.sleep(5)
                self.answer(b"too late", status=503)
            else:
                self.answer(b"not found", status=404)
        except Exception as error:  # the test sees a 500 with the reason
            self.answer(str(error).encode(), status=500)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
servers = []
for port in [HTTP_PORT] + list(RESPONDERS):
    try:
        servers.append(http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler))
    except OSError as error:
        fail(f"cannot listen on 127.0.0.1:{port}: {error}")
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()


def watch_parent():
    """The test process holds our stdin open: when it ends, however it ends, so do we."""
    sys.stdin.buffer.read()
    stop()


threading.Thread(target=watch_parent, daemon=True).start()
print(HTTP_PORT, flush=True)
servers[0].serve_forever()
