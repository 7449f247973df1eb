#!/usr/bin/python3
"""SIGTERM during load: several threads publish (unary and stream) while the server is
told to stop. The process must exit 0, and after a restart on the same data dir (same
admin key) every event that was acknowledged PUBLISHED must be readable."""

import os
import signal
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, Client, Server, create_connector, create_key, entry, events_pb2, main, unique)

UNARY_THREADS = 6
STREAM_THREADS = 2
ENTRIES_PER_CALL = 10
MIN_ACKED_BEFORE_SIGTERM = 300
STREAM_PACE_S = 0.004
LOAD_BEFORE_SIGTERM_S = 1.5
# Errors a publisher may see while the server goes away.
SHUTDOWN_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


class Publisher(threading.Thread):

    def __init__(self, target, key, conn, orgs, name, stream=False):
        super().__init__(name=name, daemon=True)
        self.target, self.key, self.conn, self.orgs, self.stream = target, key, conn, orgs, stream
        self.acked = []         # (event_id, org) acknowledged PUBLISHED
        self.sent = 0
        self.bad = []           # unexpected results or errors
        self.end_code = None
        self.last_ack = 0.0     # time.monotonic() of the last acknowledgement
        self.stop_flag = threading.Event()

    def _request(self, n):
        org = self.orgs[n % len(self.orgs)]
        ents = [entry(org, id_="%s-%06d-%d" % (self.name, n, k), data=b'{"n":%d,"k":%d}' % (n, k),
                      extensions={"thread": self.name.replace("-", "")[:20]})
                for k in range(ENTRIES_PER_CALL)]
        return events_pb2.PutEventsRequest(connector=self.conn, request_id="%s-%d" % (self.name, n),
                                           entries=ents), org

    def _record(self, resp, req, org):
        if resp.request_id != req.request_id:
            self.bad.append("reply %r to request %r" % (resp.request_id, req.request_id))
        if len(resp.results) != len(req.entries):
            self.bad.append("%d results for %d entries" % (len(resp.results), len(req.entries)))
        for e, r in zip(req.entries, resp.results):
            if r.status == PUBLISHED and r.event_id == e.id:
                self.acked.append((e.id, org))
                self.last_ack = time.monotonic()
            else:
                self.bad.append("entry %s: status %s id %s %s %s" % (
                    e.id, r.status, r.event_id, r.error_code, r.error_message))

    def run(self):
        cli = Client(self.target, self.key)
        try:
            if self.stream:
                self._run_stream(cli)
            else:
                self._run_unary(cli)
        except grpc.RpcError as e:
            self.end_code = e.code()
            if e.code() not in SHUTDOWN_CODES:
                self.bad.append("RPC error %s: %s" % (e.code(), e.details()))
        except Exception as e:  # noqa: BLE001 - report everything
            self.bad.append("exception %r" % e)
        finally:
            cli.close()

    def _run_unary(self, cli):
        n = 0
        while not self.stop_flag.is_set():
            req, org = self._request(n)
            self.sent += 1
            resp = cli.events.PutEvents(req, timeout=60)
            self._record(resp, req, org)
            n += 1

    def _run_stream(self, cli):
        pending = []
        lock = threading.Lock()

        def gen():
            n = 0
            while not self.stop_flag.is_set():
                req, org = self._request(n)
                with lock:
                    pending.append((req, org))
                    # keep a bounded window in flight
                    too_many = len(pending) > 32
                self.sent += 1
                yield req
                n += 1
                # paced, so that the stream keeps publishing during the whole shutdown
                # grace period without piling up more events than the check can read back
                time.sleep(STREAM_PACE_S)
                while too_many and not self.stop_flag.is_set():
                    time.sleep(0.001)
                    with lock:
                        too_many = len(pending) > 32

        for resp in cli.events.PublishStream(gen(), timeout=120):
            with lock:
                req, org = pending.pop(0)
            self._record(resp, req, org)


class ShutdownUnderLoadTest(unittest.TestCase):

    def setUp(self):
        self.server = Server(name="shutdown")
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def test_sigterm_during_load(self):
        srv = self.server
        admin_key = srv.admin_key()
        admin = srv.client()
        isv = unique("isv")
        _kid, isv_key = create_key(admin, "isv", isv)
        isv_cli = Client(srv.target, isv_key)
        conn = create_connector(isv_cli, isv).name
        isv_cli.close()
        admin.close()
        orgs = [unique("org") for _ in range(3)]

        pubs = [Publisher(srv.target, isv_key, conn, orgs, "u%d" % i)
                for i in range(UNARY_THREADS)]
        pubs += [Publisher(srv.target, isv_key, conn, orgs, "s%d" % i, stream=True)
                 for i in range(STREAM_THREADS)]
        for p in pubs:
            p.start()
        t_load = time.monotonic()
        deadline = t_load + 60
        while (sum(len(p.acked) for p in pubs) < MIN_ACKED_BEFORE_SIGTERM
               or time.monotonic() - t_load < LOAD_BEFORE_SIGTERM_S):
            if time.monotonic() > deadline:
                break
            if all(not p.is_alive() for p in pubs):
                break
            time.sleep(0.02)
        acked_before = sum(len(p.acked) for p in pubs)
        self.assertGreaterEqual(acked_before, MIN_ACKED_BEFORE_SIGTERM,
                                "load did not get going: %s\n%s"
                                % ([p.bad[:3] for p in pubs], srv.log_text()))

        t_term = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(timeout=60)
        except Exception:
            srv.kill()
            self.fail("evbridged did not exit within 60 s of SIGTERM\n" + srv.log_text())
        t_exit = time.monotonic() - t_term
        for p in pubs:
            p.stop_flag.set()
        for p in pubs:
            p.join(60)
            self.assertFalse(p.is_alive(), "publisher %s hangs after shutdown" % p.name)
        log1 = srv.log_text()
        self.assertEqual(rc, 0, "exit code %r after SIGTERM\n%s" % (rc, log1))
        problems = [(p.name, p.bad[:5]) for p in pubs if p.bad]
        self.assertFalse(problems, "unexpected results during load/shutdown: %s" % problems)
        acked = [a for p in pubs for a in p.acked]
        self.assertEqual(len(acked), len({a[0] for a in acked}), "an id acknowledged twice")
        last_ack = max(p.last_ack for p in pubs) - t_term
        sys.stderr.write("shutdown: %d events acknowledged (%d before SIGTERM), last ack "
                         "%.2f s after SIGTERM, exit after %.2f s; per publisher (last ack "
                         "after SIGTERM, end code): %s\n"
                         % (len(acked), acked_before, last_ack, t_exit,
                            [(p.name, round(p.last_ack - t_term, 2), str(p.end_code))
                             for p in pubs]))

        # restart on the same data dir; the admin key is the same
        srv.start()
        self.assertEqual(srv.admin_key(), admin_key, "admin.key changed across a restart")
        admin = Client(srv.target, admin_key)
        self.addCleanup(admin.close)
        missing = []
        for event_id, org in acked:
            try:
                ev = admin.events.GetEvent(events_pb2.GetEventRequest(
                    event_id=event_id, org=org, connector=conn), timeout=30)
                if ev.id != event_id or ev.attributes["orgid"].ce_string != org:
                    missing.append((event_id, "wrong event %s" % ev.id))
            except grpc.RpcError as e:
                missing.append((event_id, str(e.code())))
        self.assertFalse(missing, "%d of %d acknowledged events lost after restart, e.g. %s"
                         % (len(missing), len(acked), missing[:10]))
        # the listing agrees: at least every acknowledged event per org
        for org in orgs:
            n, token = 0, ""
            while True:
                r = admin.events.ListEvents(events_pb2.ListEventsRequest(
                    org=org, connector=conn, page_size=1000, page_token=token))
                n += len(r.events)
                token = r.next_page_token
                if not token:
                    break
            self.assertGreaterEqual(n, sum(1 for a in acked if a[1] == org))
        # publishing works after the restart, and the dedup state survived
        isv_cli = Client(srv.target, isv_key)
        self.addCleanup(isv_cli.close)
        first_id, first_org = acked[0]
        r = isv_cli.events.PutEvents(events_pb2.PutEventsRequest(
            connector=conn, entries=[entry(first_org, id_=first_id), entry(first_org)]))
        self.assertEqual([x.status for x in r.results],
                         [events_pb2.DEDUPLICATED, PUBLISHED], str(r))
        rc = srv.stop()
        self.assertEqual(rc, 0, "exit code %r after the second SIGTERM\n%s"
                         % (rc, srv.log_text()))

    def test_sigterm_idle_exits_zero_and_keeps_key(self):
        srv = self.server
        key = srv.admin_key()
        rc = srv.stop(timeout=20)
        self.assertEqual(rc, 0, srv.log_text())
        srv.start()
        self.assertEqual(srv.admin_key(), key)
        self.assertEqual(os.stat(srv.admin_key_path).st_mode & 0o777, 0o600)
        self.assertEqual(srv.stop(timeout=20), 0, srv.log_text())


if __name__ == "__main__":
    main()
