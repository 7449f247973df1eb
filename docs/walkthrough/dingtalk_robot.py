#!/usr/bin/python3
"""A fake DingTalk custom robot, for the walk-through: a plain http.server that checks the
access_token and the "加签" signature of each message and answers like DingTalk does.

    python3 dingtalk_robot.py --port 18082 --token acme-sales --secret SEC...
                                                  (or $ROBOT_TOKEN, $ROBOT_SECRET)

POST /robot/send?access_token=T&timestamp=MS&sign=S, where
sign = urlencode(base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret))) and the
timestamp is within an hour. Always HTTP 200, with {"errcode":0,"errmsg":"ok"} when
everything checks out, 300005 for an unknown token, 310000 for a bad signature (as
DingTalk). One JSON line per request on stdout: {"errcode", "msgtype", "message"}.
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
from urllib.parse import parse_qs, urlsplit


def sign(secret, timestamp):
    mac = hmac.new(secret.encode(), ("%s\n%s" % (timestamp, secret)).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()  # the query parser already url-decoded S


class Handler(BaseHTTPRequestHandler):
    token = ""
    secret = ""

    def do_POST(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        ts = q.get("timestamp", "")
        if url.path != "/robot/send" or q.get("access_token") != self.token:
            errcode, errmsg = 300005, "token is not exist"
        elif not (ts.isdigit() and abs(time.time() * 1000 - int(ts)) < 3600 * 1000
                  and hmac.compare_digest(q.get("sign", ""), sign(self.secret, ts))):
            errcode, errmsg = 310000, "sign not match"
        else:
            errcode, errmsg = 0, "ok"
        msgtype = body.get("msgtype")
        emit({"errcode": errcode, "msgtype": msgtype,
                          "message": body.get(msgtype)})
        reply = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=18082)
    ap.add_argument("--port-file", help="write the port here once listening (for --port 0)")
    ap.add_argument("--token", default=os.environ.get("ROBOT_TOKEN"))
    ap.add_argument("--secret", default=os.environ.get("ROBOT_SECRET"))
    args = ap.parse_args()
    if not (args.token and args.secret):
        ap.error("give --token and --secret (or ROBOT_TOKEN, ROBOT_SECRET)")
    Handler.token, Handler.secret = args.token, args.secret
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_port)
        os.rename(args.port_file + ".tmp", args.port_file)
    print("dingtalk robot on 127.0.0.1:%d" % srv.server_port, file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
