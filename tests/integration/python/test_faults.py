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
import os
import random
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, Client, Server, connector_pb2, describe, entry, events_pb2, health_pb2, main,
    put, unique)
from evbdelivery import (  # noqa: E402
    Publisher, Receiver, http_connection, isv_connector, metrics, stop_publishers, wait_for)

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

# campaign 2
# keep below the 5th attempt of a retrying connection: 3.5 s short, 7.5 s long (see
# test_outage_then_recovery)
OUTAGE_S = 6.0 if LONG else 2.5
RETRY_ORGS = 8

# campaign 3
IDLE_CONNECTIONS = 200

POLL_S = 0.1   # wait_for's polling interval


def log(msg):
    sys.stderr.write("faults: %s\n" % msg)
    sys.stderr.flush()


class OutageReceiver(Receiver):
    """The local webhook receiver: answers 503 until `outage_until` (time.monotonic()),
    200 afterwards."""

    def __init__(self):
        self.outage_until = 0.0
        super().__init__(fail=lambda _ce_id, _n: time.monotonic() < self.outage_until)


def metric(server, name):
    """The value of an unlabelled gauge from the server's /metrics (None if unreachable)."""
    m = metrics(server)
    return None if m is None else m.get((name, frozenset()))


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


class CrashPublisher(Publisher):
    """Publishes to the server's current address; after a transport error it reconnects
    there and resends the batch."""

    ID_FORMAT = "%s-%06d-%d"
    RESEND_PAUSE_S = 0.05

    def __init__(self, holder, key, conn, org, name):
        super().__init__(key, conn, org, name, batch=BATCH, pause_s=PUBLISH_PAUSE_S)
        self.holder = holder

    def target(self):
        return self.holder.get()


class FaultsTest(unittest.TestCase):

    def setUp(self):
        self.receiver = OutageReceiver()
        self.addCleanup(self.receiver.close)

    def start_server(self, name, args=CIDR_ARGS):
        srv = Server(args, name=name)
        self.addCleanup(srv.cleanup)
        srv.start()
        return srv

    # ---- 1. crash under load ----

    def test_sigkill_under_load(self):
        rnd = random.Random(SEED)
        srv = self.start_server("faults-crash")
        admin_key = srv.admin_key()
        admin = Client(srv.target, admin_key)
        isv_key, conn = isv_connector(admin, srv.target)
        org = unique("org")
        retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=100, base_delay_ms=100,
                               max_delay_ms=1000, jitter=0)
        http_connection(admin, self.receiver, "/crash", org, conn, retry)
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
        stop_publishers(self, pubs, srv.log_text)
        published = [i for p in pubs for i in p.published]
        acked = published + [i for p in pubs for i in p.deduplicated]
        self.assertEqual(len(acked), len(set(acked)), "an id acknowledged twice")
        self.assertGreater(len(published), 0)

        # drain: the receiver has every acknowledged event and nothing is pending
        acked_set = set(acked)

        def drained():
            return (acked_set <= self.receiver.ok_ids("/crash")
                    and metric(srv, "evb_deliveries_pending") == 0
                    and metric(srv, "evb_deliveries_in_flight") == 0)
        t0 = time.monotonic()
        wait_for("the deliveries to drain", drained, DRAIN_TIMEOUT_S, srv.log_text, POLL_S)
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
        self.assertTrue(all(r.code == 200 for r in reqs))
        wids = collections.defaultdict(set)
        for r in reqs:
            self.assertTrue(r.wid, "a delivery without webhook-id")
            wids[r.ce_id].add(r.wid)
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
               len(stored), sum(p.resends for p in pubs), len(reqs), duplicates, drain_s))
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
        isv_key, conn = isv_connector(admin, srv.target)
        retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=50, base_delay_ms=500,
                               max_delay_ms=(4000 if LONG else 1000), jitter=0)
        orgs = []
        for i in range(RETRY_ORGS):
            org = unique("org-r%d" % i)
            http_connection(admin, self.receiver, "/retry/%d" % i, org, conn, retry)
            orgs.append(org)
        dl_org = unique("org-dl")
        dl_retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=2, base_delay_ms=100,
                                  max_delay_ms=100, jitter=0)
        dl_conn = http_connection(admin, self.receiver, "/dl", dl_org, conn, dl_retry).id

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
        wait_for("2 dead letters", lambda: len(dead_letters()) == 2, 30, srv.log_text, POLL_S)
        self.assertLess(time.monotonic(), self.receiver.outage_until,
                        "dead-lettered only after the outage: the test did not test it")
        dls = dead_letters()
        self.assertEqual(sorted(d.event_id for d in dls), ["dl-0", "dl-1"])
        self.assertTrue(all(d.attempts == 2 and d.last_http_status == 503 for d in dls),
                        str(dls))

        def retried_all():
            return all(self.receiver.snapshot("/retry/%d" % i, 200) for i in range(RETRY_ORGS))
        wait_for("every retried delivery", retried_all, 30 + outage * 3, srv.log_text, POLL_S)
        failed_attempts = 0
        for i in range(RETRY_ORGS):
            ok = self.receiver.snapshot("/retry/%d" % i, 200)
            fails = self.receiver.snapshot("/retry/%d" % i, 503)
            self.assertEqual(len(ok), 1, "/retry/%d delivered %d times" % (i, len(ok)))
            self.assertGreaterEqual(len(fails), 2, "/retry/%d: %d failed attempts"
                                    % (i, len(fails)))
            self.assertEqual({x.wid for x in ok + fails}, {ok[0].wid}, "webhook-id changed")
            failed_attempts += len(fails)
        self.assertEqual(len(self.receiver.snapshot("/dl", 200)), 0)

        rr = admin.events.RedriveDeadLetters(events_pb2.RedriveDeadLettersRequest(
            org=dl_org, connection_id=dl_conn))
        self.assertEqual(rr.redriven, 2)
        wait_for("the redriven deliveries",
                 lambda: len(self.receiver.snapshot("/dl", 200)) == 2 and not dead_letters(),
                 30, srv.log_text, POLL_S)
        self.assertEqual(sorted(x.ce_id for x in self.receiver.snapshot("/dl", 200)),
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
        isv_key, conn = isv_connector(admin, srv.target)
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
