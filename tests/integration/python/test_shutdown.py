#!/usr/bin/python3
"""SIGTERM during load: several threads publish (unary and stream) while the server is
told to stop. The process must exit 0, and after a restart on the same data dir (same
admin key) every event that was acknowledged PUBLISHED must be readable.

Also: SIGTERM while PublishStream requests wait in the store's queue behind a locked
database, so that the stream is cancelled (short grace) before its jobs commit. The jobs
complete after the call is gone, creating deliveries (whose completion wakes the
dispatcher): the server must wait for them before tearing delivery down (under ASan a
use after free otherwise), exit 0 and keep the events."""

import os
import signal
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, SQLITE_LOCKER, Client, Server, connector_pb2, create_connector, create_key, entry, events_pb2,
    main, unique)

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


class ShutdownWithQueuedStreamJobsTest(unittest.TestCase):
    GRACE_MS = 300

    def test_sigterm_while_stream_jobs_wait_for_a_locked_store(self):
        srv = Server(name="shutdown-queued", extra_args=(
            "--grace-ms", str(self.GRACE_MS), "--allow-target-cidr", "127.0.0.0/8"))
        self.addCleanup(srv.cleanup)
        srv.start()
        admin = srv.client()
        self.addCleanup(admin.close)
        isv, org = unique("isv"), unique("org")
        _kid, isv_key = create_key(admin, "isv", isv)
        cli = Client(srv.target, isv_key)
        self.addCleanup(cli.close)
        conn = create_connector(cli, isv).name
        pb = connector_pb2
        # a connection, so that every committed event creates a delivery (and its commit
        # wakes the dispatcher); the target need not answer
        act = admin.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("act"), org=org, kind=pb.HTTP,
            http=pb.HttpTarget(url="http://127.0.0.1:9/never", timeout_ms=1000))))
        admin.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(org=org, name=unique("c"), connector=conn,
                                     action=act.name)))
        r = cli.events.PutEvents(events_pb2.PutEventsRequest(
            connector=conn, entries=[entry(org)]), timeout=30)
        self.assertEqual([x.status for x in r.results], [PUBLISHED], str(r))

        locker = subprocess.Popen([sys.executable, "-c", SQLITE_LOCKER,
                                   str(srv.data_dir / "evbridge.db")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def end_locker():
            if locker.poll() is None:
                locker.kill()
            locker.wait()
            locker.stdin.close()
            locker.stdout.close()
        self.addCleanup(end_locker)
        self.assertEqual(locker.stdout.readline().strip(), "locked")
        ids = ["queued-%d" % k for k in range(3)]
        hold = threading.Event()
        self.addCleanup(hold.set)

        def gen():
            for k, event_id in enumerate(ids):
                yield events_pb2.PutEventsRequest(connector=conn, request_id="q%d" % k,
                                                  entries=[entry(org, id_=event_id)])
            hold.wait(60)  # keep the stream open: the server cancels it after the grace

        outcome = {}

        def stream():
            c = Client(srv.target, isv_key)
            try:
                outcome["replies"] = list(c.events.PublishStream(gen(), timeout=60))
            except grpc.RpcError as e:
                outcome["code"] = e.code()
            finally:
                c.close()
        t = threading.Thread(target=stream, daemon=True)
        t.start()
        time.sleep(0.7)  # the three requests reach the store's queue, blocked by the lock
        self.assertIsNone(locker.poll(), "the locker ended early")
        t_term = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        t.join(30)
        self.assertFalse(t.is_alive(), "the stream was not ended by the shutdown")
        self.assertIn(outcome.get("code"), SHUTDOWN_CODES, "stream outcome %r" % outcome)
        time.sleep(max(0.0, 1.5 - (time.monotonic() - t_term)))
        self.assertIsNone(srv.proc.poll(), "evbridged exited while its store was locked "
                          "(queued jobs not committed?)\n" + srv.log_text())
        locker.stdin.write("\n")
        locker.stdin.flush()
        self.assertEqual(locker.stdout.readline().strip(), "released")
        try:
            rc = srv.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            self.fail("evbridged did not exit after the lock was released\n" + srv.log_text())
        t_exit = time.monotonic() - t_term
        self.assertEqual(rc, 0, "exit code %r\n%s" % (rc, srv.log_text()))
        self.assertNotIn("AddressSanitizer", srv.log_text())
        # the queued requests were committed after their stream was gone: nothing lost
        srv.start()
        admin2 = Client(srv.target, srv.admin_key())
        self.addCleanup(admin2.close)
        for event_id in ids:
            ev = admin2.events.GetEvent(events_pb2.GetEventRequest(
                event_id=event_id, org=org, connector=conn), timeout=30)
            self.assertEqual(ev.id, event_id)
        sys.stderr.write("queued stream jobs at shutdown: stream ended %s, exit 0 %.2f s after "
                         "SIGTERM (lock held 1.5 s of it), the %d queued events stored\n"
                         % (outcome.get("code"), t_exit, len(ids)))
        self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    main()
