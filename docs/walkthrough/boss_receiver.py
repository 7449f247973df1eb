#!/usr/bin/python3
"""BOSS accounting's event receiver, for the walk-through: a plain http.server that accepts
evbridge deliveries (CloudEvents over HTTP, binary mode) and checks each one's Standard
Webhooks signature.

    python3 boss_receiver.py --port 18081 --secret whsec_...   (or $BOSS_SIGNING_SECRET)

POST /boss/events: 401 when the webhook-signature is missing or wrong, or the timestamp is
more than 5 minutes off; 400 without the CloudEvents headers; otherwise 200. One JSON line
per request on stdout: {"path", "signature_ok", "webhook_id", "ce": {ce-* headers}, "data"}.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# one line per request, whole: handler threads must not interleave their output
_out_lock = threading.Lock()


def emit(record):
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _out_lock:
        sys.stdout.write(line)
        sys.stdout.flush()
from urllib.parse import unquote


def signature_ok(secret, headers, body):
    """Standard Webhooks: v1,base64(HMAC-SHA256(base64decode(secret), id.timestamp.body))."""
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    if not (msg_id and ts.isdigit() and sigs) or abs(time.time() - int(ts)) > 300:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256)
    want = base64.b64encode(mac.digest()).decode()
    return any(hmac.compare_digest(want, s.split(",", 1)[1])
               for s in sigs.split(" ") if s.startswith("v1,"))


class Handler(BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        ok = signature_ok(self.secret, self.headers, body)
        ce = {k.lower()[3:]: unquote(v) for k, v in self.headers.items()
              if k.lower().startswith("ce-")}
        try:
            data = json.loads(body)
        except ValueError:
            data = body.decode("utf-8", "replace")
        emit({"path": self.path, "signature_ok": ok,
                          "webhook_id": self.headers.get("webhook-id"),
                          "content_type": self.headers.get("content-type"),
                          "ce": ce, "data": data})
        if self.path != "/boss/events":
            status = 404
        elif not ok:
            status = 401
        elif not {"id", "source", "specversion", "type"} <= ce.keys():
            status = 400
        else:
            status = 200  # a real receiver books the change here, keyed on webhook-id
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep stdout for the JSON lines
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=18081)
    ap.add_argument("--port-file", help="write the port here once listening (for --port 0)")
    ap.add_argument("--secret", default=os.environ.get("BOSS_SIGNING_SECRET"))
    args = ap.parse_args()
    if not args.secret:
        ap.error("give --secret or set BOSS_SIGNING_SECRET")
    Handler.secret = args.secret
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_port)
        os.rename(args.port_file + ".tmp", args.port_file)
    print("boss receiver on 127.0.0.1:%d" % srv.server_port, file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
