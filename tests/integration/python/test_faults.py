#!/usr/bin/python3
"""Fault campaigns, short mode (issue 8 §1; docs/reliability.md).

1. Crash under load: three publisher threads (PutEvents, batches of 10) while evbridged is
   killed with SIGKILL at random moments and restarted on the same data dir. Afterwards,
   once the deliveries have drained: every event acknowledged PUBLISHED is stored and was
   delivered at least once to the local HTTP receiver, nothing was delivered that is not
   stored, and every event reached the receiver under exactly one webhook-id (duplicates
   are redeliveries of the same delivery).
2. Target outage: the receiver answers 503 for a while, then 200. Connections with a
   CUSTOM retry policy deliver everything through retries; a connection with
   max_attempts 2 dead-letters during the outage, and RedriveDeadLetters delivers those.
3. Slow and hostile peers: 200 idle TCP connections to the gRPC port plus a PublishStream
   client that keeps sending and never reads its replies; a normal client's PutEvents still
   completes (within a generous 10 s deadline) and the server still stops with exit 0.

Storage faults (full disk, read-only data dir, locked database) have their own file,
test_storage_faults.py (docs/reliability.md, "Storage faults").

EVB_FAULTS_LONG=1 runs the long mode: more kills over a longer load, a longer outage.
"""

import collections
import http.server
import os
import random
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    DEDUPLICATED, PUBLISHED, TYPE_CUSTOMER, Client, Server, connector_pb2, create_connector,
    create_key, describe, entry, events_pb2, health_pb2, main, put, unique)

pb = connector_pb2
LONG = os.environ.get("EVB_FAULTS_LONG") == "1"
SEED = int(os.environ.get("EVB_FAULTS_SEED") or random.randrange(1 << 30))
CIDR_ARGS = ("--allow-target-cidr", "127.0.0.0/8")

# campaign 1
KILLS = 10 if LONG else 3
KILL_GAP_S = (0.5, 2.0)
PUBLISHERS = 3
BATCH = 10
PUBLISH_PAUSE_S = 0.03        # between a publisher's batches: keeps the drain short
LOAD_AFTER_LAST_RESTART_S = 3.0 if LONG else 1.0
DRAIN_TIMEOUT_S = 240 if LONG else 60
# errors a publisher may see while the server is killed or restarting
CRASH_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
               grpc.StatusCode.DEADLINE_EXCEEDED)

# campaign 2
# keep below the 5th attempt of a retrying connection: 3.5 s short, 7.5 s long (see
# test_outage_then_recovery)
OUTAGE_S = 6.0 if LONG else 2.5
RETRY_ORGS = 8

# campaign 3
IDLE_CONNECTIONS = 200


def log(msg):
    sys.stderr.write("faults: %s\n" % msg)
    sys.stderr.flush()


class Receiver:
    """Local webhook receiver. Records (path, status, webhook-id, ce-id) of every request;
    answers 503 until `outage_until` (time.monotonic()), 200 afterwards."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.outage_until = 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                code = 503 if time.monotonic() < outer.outage_until else 200
                with outer.lock:
                    outer.requests.append((self.path, code, self.headers.get("webhook-id"),
                                           self.headers.get("ce-id")))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        class Quiet(http.server.ThreadingHTTPServer):
            daemon_threads = True

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
                    if (path is None or r[0] == path) and (code is None or r[1] == code)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(what, cond, timeout, log_text=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %ds waiting for %s%s"
                         % (timeout, what, "\n" + log_text() if log_text else ""))


def metric(server, name):
    """The value of an unlabelled gauge from the server's /metrics (None if unreachable)."""
    try:
        port = int(server.admin_port_file.read_text().strip())
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    except (OSError, ValueError, urllib.error.URLError):
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def setup_http_connection(admin, server, receiver, path, connector, org, retry):
    act = admin.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
        name=unique("act"), org=org, kind=pb.HTTP,
        http=pb.HttpTarget(url=receiver.url(path), timeout_ms=5000))))
    return admin.connectors.CreateConnection(pb.CreateConnectionRequest(
        connection=pb.Connection(org=org, name=unique("c"), connector=connector,
                                 action=act.name, retry=retry, dead_letter=True)))


class Target:
    """The server's current address: it changes at every restart (port 0 + port file)."""

    def __init__(self, target):
        self.lock = threading.Lock()
        self.target = target

    def get(self):
        with self.lock:
            return self.target

    def set(self, target):
        with self.lock:
            self.target = target


class CrashPublisher(threading.Thread):
    """PutEvents in batches of BATCH; on a transport error it reconnects to the current
    address and resends the same batch (same ids) until it gets an answer, so every batch
    ends acknowledged: PUBLISHED, or DEDUPLICATED when the lost answer had committed it."""

    def __init__(self, holder, key, conn, org, name):
        super().__init__(name=name, daemon=True)
        self.holder, self.key, self.conn, self.org = holder, key, conn, org
        self.published = []      # ids acknowledged PUBLISHED
        self.deduplicated = []   # ids acknowledged DEDUPLICATED (after a resend)
        self.retries = 0
        self.bad = []
        self.stop_flag = threading.Event()

    def run(self):
        cli = None
        n = 0
        try:
            while not self.stop_flag.is_set():
                ents = [entry(self.org, id_="%s-%06d-%d" % (self.name, n, k),
                              data=b'{"n":%d,"k":%d}' % (n, k)) for k in range(BATCH)]
                req = events_pb2.PutEventsRequest(connector=self.conn, entries=ents,
                                                  request_id="%s-%d" % (self.name, n))
                resend_deadline = time.monotonic() + 60
                while True:
                    if cli is None:
                        cli = Client(self.holder.get(), self.key)
                    try:
                        resp = cli.events.PutEvents(req, timeout=10)
                        break
                    except grpc.RpcError as e:
                        if e.code() not in CRASH_CODES or time.monotonic() > resend_deadline:
                            self.bad.append("RPC error %s: %s" % (e.code(), e.details()))
                            return
                        self.retries += 1
                        cli.close()
                        cli = None
                        time.sleep(0.05)
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
                time.sleep(PUBLISH_PAUSE_S)
        except Exception as e:  # noqa: BLE001 - report everything
            self.bad.append("exception %r" % e)
        finally:
            if cli is not None:
                cli.close()


class FaultsTest(unittest.TestCase):

    def setUp(self):
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)

    def start_server(self, name, args=CIDR_ARGS):
        srv = Server(args, name=name)
        self.addCleanup(srv.cleanup)
        srv.start()
        return srv

    def isv_connector(self, srv, admin):
        isv = unique("isv")
        _kid, isv_key = create_key(admin, "isv", isv)
        cli = Client(srv.target, isv_key)
        conn = create_connector(cli, isv, types=(TYPE_CUSTOMER,)).name
        cli.close()
        return isv_key, conn

    # ---- 1. crash under load ----

    def test_sigkill_under_load(self):
        rnd = random.Random(SEED)
        srv = self.start_server("faults-crash")
        admin_key = srv.admin_key()
        admin = Client(srv.target, admin_key)
        isv_key, conn = self.isv_connector(srv, admin)
        org = unique("org")
        retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=100, base_delay_ms=100,
                               max_delay_ms=1000, jitter=0)
        setup_http_connection(admin, srv, self.receiver, "/crash", conn, org, retry)
        admin.close()

        holder = Target(srv.target)
        pubs = [CrashPublisher(holder, isv_key, conn, org, "p%d" % i) for i in range(PUBLISHERS)]
        for p in pubs:
            p.start()
        kill_times = []
        for k in range(KILLS):
            time.sleep(rnd.uniform(*KILL_GAP_S))
            self.assertIsNone(srv.proc.poll(), "evbridged died on its own\n" + srv.log_text())
            srv.kill()  # SIGKILL, wait
            kill_times.append(time.monotonic())
            srv.start()
            holder.set(srv.target)
        time.sleep(LOAD_AFTER_LAST_RESTART_S)
        for p in pubs:
            p.stop_flag.set()
        for p in pubs:
            p.join(90)
            self.assertFalse(p.is_alive(), "publisher %s hangs" % p.name)
        problems = [(p.name, p.bad[:5]) for p in pubs if p.bad]
        self.assertFalse(problems, "unexpected results: %s\n%s" % (problems, srv.log_text()))
        published = [i for p in pubs for i in p.published]
        acked = published + [i for p in pubs for i in p.deduplicated]
        self.assertEqual(len(acked), len(set(acked)), "an id acknowledged twice")
        self.assertGreater(len(published), 0)

        # drain: the receiver has every acknowledged event and nothing is pending
        acked_set = set(acked)

        def drained():
            got = {r[3] for r in self.receiver.snapshot("/crash", 200)}
            return (acked_set <= got and metric(srv, "evb_deliveries_pending") == 0
                    and metric(srv, "evb_deliveries_in_flight") == 0)
        t0 = time.monotonic()
        wait_for("the deliveries to drain", drained, DRAIN_TIMEOUT_S, srv.log_text)
        drain_s = time.monotonic() - t0

        # the store holds every acknowledged event (GetEvent) ...
        admin = Client(srv.target, admin_key)
        self.addCleanup(admin.close)
        missing = []
        for event_id in acked:
            try:
                ev = admin.events.GetEvent(events_pb2.GetEventRequest(
                    event_id=event_id, org=org, connector=conn), timeout=30)
                if ev.id != event_id:
                    missing.append((event_id, "got %s" % ev.id))
            except grpc.RpcError as e:
                missing.append((event_id, str(e.code())))
        self.assertFalse(missing, "%d of %d acknowledged events not stored, e.g. %s"
                         % (len(missing), len(acked), missing[:10]))
        stored = set()
        token = ""
        while True:
            r = admin.events.ListEvents(events_pb2.ListEventsRequest(
                org=org, connector=conn, page_size=1000, page_token=token))
            stored.update(e.id for e in r.events)
            token = r.next_page_token
            if not token:
                break
        # ... nothing was delivered that is not stored, one webhook-id per event
        reqs = self.receiver.snapshot("/crash")
        self.assertTrue(all(r[1] == 200 for r in reqs))
        wids = collections.defaultdict(set)
        for _path, _code, wid, ce_id in reqs:
            self.assertTrue(wid, "a delivery without webhook-id")
            wids[ce_id].add(wid)
        not_stored = set(wids) - stored
        self.assertFalse(not_stored, "delivered but not stored: %s" % sorted(not_stored)[:10])
        multi = {k: v for k, v in wids.items() if len(v) != 1}
        self.assertFalse(multi, "events delivered under several webhook-ids: %s"
                         % list(multi.items())[:5])
        all_wids = [w for v in wids.values() for w in v]
        self.assertEqual(len(all_wids), len(set(all_wids)), "a webhook-id shared by two events")
        undelivered = stored - set(wids)
        self.assertFalse(undelivered, "stored but never delivered: %s" % sorted(undelivered)[:10])
        duplicates = len(reqs) - len(wids)
        log("crash: seed %d, %d kills, %d events acknowledged (%d PUBLISHED, %d DEDUPLICATED "
            "on resend), %d stored, %d resends, %d deliveries to the receiver, %d duplicates, "
            "0 lost, drained in %.1f s"
            % (SEED, len(kill_times), len(acked), len(published), len(acked) - len(published),
               len(stored), sum(p.retries for p in pubs), len(reqs), duplicates, drain_s))
        self.assertEqual(srv.stop(), 0, srv.log_text())

    # ---- 2. target outage ----

    def test_outage_then_recovery(self):
        # Each retrying connection has its own action and gets one event: with delays of
        # 0.5, 1, 1, 1 s (jitter 0; long mode 0.5, 1, 2, 4 s) its 5th attempt starts at least
        # 3.5 s (7.5 s) after its first, i.e. after the outage of OUTAGE_S, so an action
        # never sees the 5
        # consecutive failures that open its circuit breaker for 30 s (docs/delivery.md).
        # The dead-letter connection: 2 events x 2 attempts = 4 failures, breaker closed.
        outage = OUTAGE_S
        srv = self.start_server("faults-outage")
        admin = Client(srv.target, srv.admin_key())
        self.addCleanup(admin.close)
        isv_key, conn = self.isv_connector(srv, admin)
        retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=50, base_delay_ms=500,
                               max_delay_ms=(4000 if LONG else 1000), jitter=0)
        orgs = []
        for i in range(RETRY_ORGS):
            org = unique("org-r%d" % i)
            setup_http_connection(admin, srv, self.receiver, "/retry/%d" % i, conn, org, retry)
            orgs.append(org)
        dl_org = unique("org-dl")
        dl_retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=2, base_delay_ms=100,
                                  max_delay_ms=100, jitter=0)
        dl_conn = setup_http_connection(admin, srv, self.receiver, "/dl", conn, dl_org,
                                        dl_retry).id

        self.receiver.outage_until = time.monotonic() + outage
        isv = Client(srv.target, isv_key)
        self.addCleanup(isv.close)
        ents = [entry(org, id_="out-%d" % i) for i, org in enumerate(orgs)]
        ents += [entry(dl_org, id_="dl-%d" % i) for i in range(2)]
        r = put(isv, conn, ents)
        self.assertEqual([x.status for x in r.results], [PUBLISHED] * len(ents), describe(r))

        def dead_letters():
            return list(admin.events.ListDeadLetters(events_pb2.ListDeadLettersRequest(
                org=dl_org, connection_id=dl_conn)).dead_letters)
        wait_for("2 dead letters", lambda: len(dead_letters()) == 2, 30, srv.log_text)
        self.assertLess(time.monotonic(), self.receiver.outage_until,
                        "dead-lettered only after the outage: the test did not test it")
        dls = dead_letters()
        self.assertEqual(sorted(d.event_id for d in dls), ["dl-0", "dl-1"])
        self.assertTrue(all(d.attempts == 2 and d.last_http_status == 503 for d in dls),
                        str(dls))

        def retried_all():
            return all(self.receiver.snapshot("/retry/%d" % i, 200) for i in range(RETRY_ORGS))
        wait_for("every retried delivery", retried_all, 30 + outage * 3, srv.log_text)
        failed_attempts = 0
        for i in range(RETRY_ORGS):
            ok = self.receiver.snapshot("/retry/%d" % i, 200)
            fails = self.receiver.snapshot("/retry/%d" % i, 503)
            self.assertEqual(len(ok), 1, "/retry/%d delivered %d times" % (i, len(ok)))
            self.assertGreaterEqual(len(fails), 2, "/retry/%d: %d failed attempts"
                                    % (i, len(fails)))
            self.assertEqual({x[2] for x in ok + fails}, {ok[0][2]}, "webhook-id changed")
            failed_attempts += len(fails)
        self.assertEqual(len(self.receiver.snapshot("/dl", 200)), 0)

        rr = admin.events.RedriveDeadLetters(events_pb2.RedriveDeadLettersRequest(
            org=dl_org, connection_id=dl_conn))
        self.assertEqual(rr.redriven, 2)
        wait_for("the redriven deliveries",
                 lambda: len(self.receiver.snapshot("/dl", 200)) == 2 and not dead_letters(),
                 30, srv.log_text)
        self.assertEqual(sorted(x[3] for x in self.receiver.snapshot("/dl", 200)),
                         ["dl-0", "dl-1"])
        log("outage: %.1f s of 503; %d events delivered through %d failed attempts; "
            "2 dead-lettered during the outage and delivered after RedriveDeadLetters"
            % (outage, RETRY_ORGS, failed_attempts))
        self.assertEqual(srv.stop(), 0, srv.log_text())

    # ---- 3. slow and hostile peers ----

    def test_idle_connections_and_non_reading_stream(self):
        srv = self.start_server("faults-hostile", args=())
        admin = Client(srv.target, srv.admin_key())
        self.addCleanup(admin.close)
        isv_key, conn = self.isv_connector(srv, admin)
        org = unique("org")

        socks = []
        try:
            for _ in range(IDLE_CONNECTIONS):
                socks.append(socket.create_connection(("127.0.0.1", srv.port), timeout=5))
            # a stream that keeps sending and never reads its replies
            stop = threading.Event()
            sent = [0]

            def requests():
                n = 0
                while not stop.is_set() and n < 100000:
                    sent[0] = n + 1
                    yield events_pb2.PutEventsRequest(
                        connector=conn, request_id="h-%d" % n,
                        entries=[entry(org, id_="h-%d-%d" % (n, k), data=b'{"pad":"%s"}'
                                       % (b"x" * 512)) for k in range(BATCH)])
                    n += 1
            hostile = Client(srv.target, isv_key)
            call = hostile.events.PublishStream(requests(), timeout=120)
            time.sleep(3)   # let its replies fill the flow-control windows
            sent_before = sent[0]

            normal = Client(srv.target, isv_key)
            t0 = time.monotonic()
            r = put(normal, conn, [entry(org, id_="normal-%d" % k) for k in range(BATCH)],
                    timeout=10)
            took = time.monotonic() - t0
            self.assertEqual([x.status for x in r.results], [PUBLISHED] * BATCH, describe(r))
            h = normal.health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            self.assertEqual(h.status, health_pb2.HealthCheckResponse.SERVING)
            normal.close()
            log("hostile: %d idle connections, a non-reading stream that sent %d requests "
                "(%d when the normal call started); PutEvents answered in %.2f s"
                % (len(socks), sent[0], sent_before, took))
            stop.set()
            call.cancel()
            hostile.close()
        finally:
            for s in socks:
                s.close()
        self.assertIsNone(srv.proc.poll(), "evbridged died\n" + srv.log_text())
        self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    main()
