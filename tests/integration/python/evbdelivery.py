"""Helpers of the delivery tests under faults (test_faults.py, test_multinode.py): a local
webhook receiver, an HTTP connection to it, a publisher that resends a batch after a
transport error, polling, and the node's /metrics.
"""

import collections
import http.server
import threading
import time
import urllib.error
import urllib.request

import grpc

from evbharness import (
    DEDUPLICATED, PUBLISHED, TYPE_CUSTOMER, Client, connector_pb2, create_connector,
    create_key, describe, entry, events_pb2, unique)

pb = connector_pb2

# errors a publisher may see while a server is killed or restarting
CRASH_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
               grpc.StatusCode.DEADLINE_EXCEEDED)


def wait_for(what, cond, timeout, detail=None, step=0.05):
    """Polls cond() every step seconds until it is true; AssertionError after timeout
    seconds, with detail() appended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError("timed out after %.0fs waiting for %s%s"
                         % (timeout, what, "\n" + detail() if detail else ""))


# ---------------------------------------------------------------------------------------
# the webhook receiver
# ---------------------------------------------------------------------------------------

class Req(collections.namedtuple("Req", "t path code wid ce_id port")):
    """One request as the receiver saw it: arrival time (monotonic), path, the status it
    answered, webhook-id (the delivery id), ce-id (the event id) and the sender's TCP port."""


class Receiver:
    """Local webhook receiver; records every request (a Req) at its arrival. delay_s: how
    long each answer takes (keeps transfers in flight); fail(ce_id, n): whether to answer
    503 to the n-th (1-based) request for that event at that path, else 200. backlog: the
    listen queue. Connections reset by a killed evbridged are not reported."""

    def __init__(self, delay_s=0.0, fail=None, backlog=5):
        self.requests = []
        self.lock = threading.Lock()
        self.delay_s = delay_s
        self.fail = fail
        self.seen = collections.Counter()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                t = time.monotonic()
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                wid, ce_id = self.headers.get("webhook-id"), self.headers.get("ce-id")
                with outer.lock:
                    outer.seen[(self.path, ce_id)] += 1
                    k = outer.seen[(self.path, ce_id)]
                    code = 503 if outer.fail is not None and outer.fail(ce_id, k) else 200
                    outer.requests.append(Req(t, self.path, code, wid, ce_id,
                                              self.client_address[1]))
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = backlog

            def handle_error(self, request, client_address):
                pass  # connections reset by a killed evbridged are expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def snapshot(self, path=None, code=None):
        with self.lock:
            return [r for r in self.requests
                    if (path is None or r.path == path) and (code is None or r.code == code)]

    def ok_ids(self, path):
        return {r.ce_id for r in self.snapshot(path, 200)}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def http_connection(admin, receiver, path, org, connector, retry=None, **kw):
    """An HTTP action of org to receiver.url(path) (timeout 5 s) and a connection from
    connector to it, with dead letters, created through admin; returns the connection."""
    act = admin.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
        name=unique("act"), org=org, kind=pb.HTTP,
        http=pb.HttpTarget(url=receiver.url(path), timeout_ms=5000))))
    c = pb.Connection(org=org, name=unique("c"), connector=connector, action=act.name,
                      dead_letter=True, **kw)
    if retry is not None:
        c.retry.CopyFrom(retry)
    return admin.connectors.CreateConnection(pb.CreateConnectionRequest(connection=c))


def isv_connector(admin, target):
    """An ISV key and its connector (type TYPE_CUSTOMER), created through admin on the
    server at target: (key, connector name)."""
    isv = unique("isv")
    _kid, key = create_key(admin, "isv", isv)
    cli = Client(target, key)
    conn = create_connector(cli, isv, types=(TYPE_CUSTOMER,)).name
    cli.close()
    return key, conn


# ---------------------------------------------------------------------------------------
# publishers
# ---------------------------------------------------------------------------------------

class Publisher(threading.Thread):
    """PutEvents in batches of `batch` to self.target(); on a transport error (CRASH_CODES)
    it calls self.failover() and resends the same batch (same ids) until it gets an answer
    (for 60 s at the most), so every batch ends acknowledged: PUBLISHED, or DEDUPLICATED
    when the lost answer had committed it. Ids are ID_FORMAT % (name, batch number, index);
    RESEND_PAUSE_S is the pause before a resend. Problems go to self.bad."""

    ID_FORMAT = "%s-%05d-%d"
    RESEND_PAUSE_S = 0.02

    def __init__(self, key, conn, org, name, batch=10, pause_s=0.03):
        super().__init__(name=name, daemon=True)
        self.key, self.conn, self.org = key, conn, org
        self.batch, self.pause_s = batch, pause_s
        self.published = []      # ids acknowledged PUBLISHED
        self.deduplicated = []   # ids acknowledged DEDUPLICATED (after a resend)
        self.resends = 0
        self.bad = []
        self.stop_flag = threading.Event()

    def target(self):
        raise NotImplementedError

    def failover(self):
        """After a transport error, before the resend."""

    def run(self):
        cli = None
        n = 0
        try:
            while not self.stop_flag.is_set():
                ents = [entry(self.org, id_=self.ID_FORMAT % (self.name, n, k),
                              data=b'{"n":%d,"k":%d}' % (n, k)) for k in range(self.batch)]
                req = events_pb2.PutEventsRequest(connector=self.conn, entries=ents,
                                                  request_id="%s-%d" % (self.name, n))
                deadline = time.monotonic() + 60
                while True:
                    if cli is None:
                        cli = Client(self.target(), self.key)
                    try:
                        resp = cli.events.PutEvents(req, timeout=10)
                        break
                    except grpc.RpcError as e:
                        if e.code() not in CRASH_CODES or time.monotonic() > deadline:
                            self.bad.append("RPC error %s: %s" % (e.code(), e.details()))
                            return
                        cli.close()
                        cli = None
                        self.resends += 1
                        self.failover()
                        time.sleep(self.RESEND_PAUSE_S)
                for e, r in zip(ents, resp.results):
                    if r.status == PUBLISHED and r.event_id == e.id:
                        self.published.append(e.id)
                    elif r.status == DEDUPLICATED and r.event_id == e.id:
                        self.deduplicated.append(e.id)
                    else:
                        self.bad.append("entry %s: %s" % (e.id, describe(resp)))
                if len(resp.results) != len(ents):
                    self.bad.append("%d results for %d entries" % (len(resp.results), len(ents)))
                n += 1
                time.sleep(self.pause_s)
        except Exception as e:  # noqa: BLE001 - report everything
            self.bad.append("exception %r" % e)
        finally:
            if cli is not None:
                cli.close()

    def acked(self):
        return self.published + self.deduplicated


def stop_publishers(tc, pubs, logs):
    """Stops the publishers; asserts (TestCase tc) they ended and had no problem. logs():
    the servers' output, for the message."""
    for p in pubs:
        p.stop_flag.set()
    for p in pubs:
        p.join(90)
        tc.assertFalse(p.is_alive(), "publisher %s hangs" % p.name)
    problems = [(p.name, p.bad[:5]) for p in pubs if p.bad]
    tc.assertFalse(problems, "unexpected results: %s\n%s" % (problems, logs()))


# ---------------------------------------------------------------------------------------
# /metrics
# ---------------------------------------------------------------------------------------

def metrics(server):
    """{(name, frozenset(labels)): value} from the node's /metrics; None if unreachable."""
    try:
        port = int(server.admin_port_file.read_text().strip())
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    except (OSError, ValueError, urllib.error.URLError):
        return None
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, val = line.rpartition(" ")
        name, _, lab = head.partition("{")
        labels = frozenset(tuple(kv.split("=", 1)) for kv in lab.rstrip("}").split(",") if kv)
        try:
            out[(name, labels)] = float(val)
        except ValueError:
            pass
    return out
