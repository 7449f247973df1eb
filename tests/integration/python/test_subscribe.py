#!/usr/bin/python3
"""EventService.Subscribe: deliveries of STREAM connections to bidirectional streams.

A STREAM action and connections of one org; events published by an ISV. A subscriber
(subscriber key of the org) receives each delivery with attempt 1 and the CloudEvent as
published; acks make TraceEvent show DELIVERED; a nack with a delay brings the same
delivery back after the delay as attempt 2; a missed ack deadline brings it back; two
subscribers share one connection's deliveries (each delivery to exactly one, all
delivered); a subscriber that goes away with unacked deliveries gives them back to
another; max_in_flight bounds what is unacked. Errors: another org's key, a non-STREAM
connection, a first message that is not start, out-of-range start fields, no key.
"""

import json
import queue
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, TYPE_CUSTOMER, Client, ServerTestCase, connector_pb2, create_connector,
    create_key, describe, entry, events_pb2, main, put, unique)

pb = connector_pb2
ev_pb = events_pb2
DELIVER = events_pb2.DELIVER


class Sub:
    """One Subscribe stream: requests from a queue, responses read by a thread."""

    def __init__(self, cli, connection_id, max_in_flight=0, ack_deadline_ms=0, first=None,
                 timeout=120):
        self._out = queue.Queue()
        self.got = queue.Queue()
        self.error = None
        self._out.put(first if first is not None else ev_pb.SubscribeRequest(
            start=ev_pb.SubscribeStart(connection_id=connection_id, max_in_flight=max_in_flight,
                                       ack_deadline_ms=ack_deadline_ms)))
        self.call = cli.events.Subscribe(self._requests(), timeout=timeout)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _requests(self):
        while True:
            m = self._out.get()
            if m is None:
                return
            yield m

    def _read(self):
        try:
            for r in self.call:
                self.got.put(r)
        except grpc.RpcError as e:
            self.error = e
        self.got.put(None)

    def recv(self, timeout=10):
        """The next delivery, or None when the stream ended; raises queue.Empty."""
        return self.got.get(timeout=timeout)

    def ack(self, *ids):
        self._out.put(ev_pb.SubscribeRequest(ack=ev_pb.SubscribeAck(delivery_ids=ids)))

    def nack(self, ids, delay_ms=0):
        self._out.put(ev_pb.SubscribeRequest(nack=ev_pb.SubscribeNack(delivery_ids=ids,
                                                                      delay_ms=delay_ms)))

    def half_close(self):
        self._out.put(None)

    def cancel(self):
        self.call.cancel()
        self._thread.join(10)

    def end_code(self, timeout=10):
        """Waits for the end of the stream; returns (code, details)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                m = self.got.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if m is None:
                self._thread.join(5)
                if self.error is not None:
                    return self.error.code(), self.error.details()
                return grpc.StatusCode.OK, ""
        raise AssertionError("the stream did not end within %ss" % timeout)


class SubscribeTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls._clients = []
            cls.isv = unique("isv")
            cls.isv_cli = cls._client(create_key(cls.admin, "isv", cls.isv)[1])
            cls.org = unique("org")
            cls.org_b = unique("orgb")
            cls.org_cli = cls._client(create_key(cls.admin, "org-admin", cls.org)[1])
            cls.sub_cli = cls._client(create_key(cls.admin, "subscriber", cls.org)[1])
            cls.b_sub_cli = cls._client(create_key(cls.admin, "subscriber", cls.org_b)[1])
            cls.connector = create_connector(cls.isv_cli, cls.isv, types=(TYPE_CUSTOMER,)).name
            cls.action = cls.org_cli.connectors.CreateAction(pb.CreateActionRequest(
                action=pb.Action(name=unique("stream"), kind=pb.STREAM, org=cls.org))).name
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _client(cls, key):
        c = Client(cls.server.target, key)
        cls._clients.append(c)
        return c

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "_clients", []):
            c.close()
        super().tearDownClass()

    # -- helpers --

    def new_connection(self, action=None, retry=None):
        c = pb.Connection(org=self.org, name=unique("c"), connector=self.connector,
                          action=action or self.action)
        if retry is not None:
            c.retry.CopyFrom(retry)
        return self.org_cli.connectors.CreateConnection(
            pb.CreateConnectionRequest(connection=c)).id

    def publish(self, n, tag):
        """Publishes n events; returns [(event id, data bytes)]."""
        datas = [json.dumps({"tag": tag, "i": i}).encode() for i in range(n)]
        r = put(self.isv_cli, self.connector,
                [entry(self.org, data=d, subject="cust-%s-%d" % (tag, i))
                 for i, d in enumerate(datas)])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        for x in r.results:
            self.assertEqual(x.status, PUBLISHED, describe(r))
        return [(x.event_id, d) for x, d in zip(r.results, datas)]

    def subscribe(self, conn_id, cli=None, **kw):
        s = Sub(cli or self.sub_cli, conn_id, **kw)
        self.addCleanup(s.cancel)
        return s

    def recv(self, sub, timeout=10, what=""):
        try:
            m = sub.recv(timeout)
        except queue.Empty:
            self.fail("%s: no delivery within %ss" % (what, timeout))
        self.assertIsNotNone(m, "%s: the stream ended: %s" % (what, sub.error))
        return m

    def assertQuiet(self, sub, seconds, what=""):
        try:
            m = sub.recv(seconds)
        except queue.Empty:
            return
        self.fail("%s: unexpected message %s" % (what, m))

    def deliver_steps(self, event_id, conn):
        """(attempt, outcome, delivery id) of the DELIVER steps of one connection (every
        connection of the class's org and connector matches every event)."""
        tr = self.org_cli.events.TraceEvent(ev_pb.TraceEventRequest(event_id=event_id))
        return [(s.attempt, s.outcome, s.delivery_id) for s in tr.steps
                if s.stage == DELIVER and s.connection_id == conn]

    def wait_trace(self, event_id, conn, want_last, timeout=10):
        """Polls TraceEvent until the connection's last DELIVER outcome is want_last."""
        deadline = time.monotonic() + timeout
        steps = []
        while time.monotonic() < deadline:
            steps = self.deliver_steps(event_id, conn)
            if steps and steps[-1][1] == want_last:
                return steps
            time.sleep(0.1)
        self.fail("trace of %s: expected last outcome %s, got %s"
                  % (event_id, want_last, steps))

    def assertEnds(self, sub, code, what):
        got, details = sub.end_code()
        self.assertEqual(got, code, "%s: expected %s, got %s: %s" % (what, code, got, details))
        return details

    # -- tests --

    def test_receive_and_ack(self):
        conn = self.new_connection()
        sub = self.subscribe(conn)
        sent = self.publish(3, "ack")
        by_id = dict(sent)
        seen = {}
        for _ in sent:
            m = self.recv(sub, what="ack")
            self.assertEqual(m.attempt, 1)
            self.assertTrue(m.delivery_id)
            ev = m.event
            self.assertIn(ev.id, by_id)
            self.assertNotIn(ev.id, seen, "an event delivered twice")
            seen[ev.id] = m.delivery_id
            self.assertEqual(ev.spec_version, "1.0")
            self.assertEqual(ev.type, TYPE_CUSTOMER)
            self.assertEqual(ev.source, "/connectors/%s" % self.connector)
            self.assertEqual(ev.WhichOneof("data"), "text_data")
            self.assertEqual(json.loads(ev.text_data), json.loads(by_id[ev.id]))
            self.assertEqual(ev.attributes["orgid"].ce_string, self.org)
            self.assertEqual(ev.attributes["connector"].ce_string, self.connector)
            i = json.loads(by_id[ev.id])["i"]
            self.assertEqual(ev.attributes["subject"].ce_string, "cust-ack-%d" % i)
            self.assertTrue(ev.attributes["time"].HasField("ce_timestamp"))
        sub.ack(*seen.values())
        for eid, did in seen.items():
            steps = self.wait_trace(eid, conn, "DELIVERED")
            self.assertEqual(steps, [(1, "DELIVERED", did)])
        self.assertQuiet(sub, 1.5, "after the acks")
        sub.half_close()
        self.assertEnds(sub, grpc.StatusCode.OK, "half-close")

    def test_nack_with_delay_redelivers(self):
        conn = self.new_connection()
        sub = self.subscribe(conn)
        (eid, _), = self.publish(1, "nack")
        m = self.recv(sub, what="first")
        self.assertEqual((m.event.id, m.attempt), (eid, 1))
        t0 = time.monotonic()
        sub.nack([m.delivery_id], delay_ms=1500)
        m2 = self.recv(sub, timeout=10, what="after the nack")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.3, "redelivered before the nack's delay")
        self.assertEqual((m2.delivery_id, m2.attempt, m2.event.id), (m.delivery_id, 2, eid))
        sub.ack(m2.delivery_id)
        steps = self.wait_trace(eid, conn, "DELIVERED")
        self.assertEqual([s[:2] for s in steps], [(1, "NACK"), (2, "DELIVERED")])

    def test_nack_follows_the_retry_policy(self):
        """delay_ms 0: the connection's schedule; its attempt limit dead-letters."""
        conn = self.new_connection(retry=pb.RetryPolicy(
            strategy=pb.CUSTOM, max_attempts=2, base_delay_ms=300, max_delay_ms=300))
        sub = self.subscribe(conn)
        (eid, _), = self.publish(1, "policy")
        m = self.recv(sub, what="first")
        t0 = time.monotonic()
        sub.nack([m.delivery_id])
        m2 = self.recv(sub, what="after the nack")
        self.assertGreaterEqual(time.monotonic() - t0, 0.25, "the policy's 300 ms delay")
        self.assertEqual((m2.delivery_id, m2.attempt), (m.delivery_id, 2))
        sub.nack([m2.delivery_id], delay_ms=100)  # attempt 2 of 2: dead
        steps = self.wait_trace(eid, conn, "DEAD")
        self.assertEqual([s[:2] for s in steps], [(1, "NACK"), (2, "DEAD")])
        self.assertQuiet(sub, 1.0, "a dead delivery is not sent again")

    def test_ack_deadline_redelivers(self):
        conn = self.new_connection()
        sub = self.subscribe(conn, ack_deadline_ms=1000)
        (eid, _), = self.publish(1, "deadline")
        m = self.recv(sub, what="first")
        self.assertEqual(m.attempt, 1)
        t0 = time.monotonic()
        m2 = self.recv(sub, timeout=10, what="after the deadline")
        self.assertGreaterEqual(time.monotonic() - t0, 0.8)
        self.assertEqual((m2.delivery_id, m2.attempt, m2.event.id), (m.delivery_id, 2, eid))
        sub.ack(m.delivery_id)  # the stale attempt's ack is the same id: it acks attempt 2
        steps = self.wait_trace(eid, conn, "DELIVERED")
        self.assertEqual([s[:2] for s in steps], [(1, "ACK_TIMEOUT"), (2, "DELIVERED")])

    def test_two_subscribers_share(self):
        conn = self.new_connection()
        subs = [self.subscribe(conn, max_in_flight=3), self.subscribe(conn, max_in_flight=3)]
        time.sleep(0.5)  # both joined before the events come
        sent = dict(self.publish(24, "share"))
        per_sub = [[], []]
        delivered = {}
        deadline = time.monotonic() + 30
        while len(delivered) < len(sent) and time.monotonic() < deadline:
            for k, s in enumerate(subs):
                try:
                    m = s.recv(0.05)
                except queue.Empty:
                    continue
                self.assertIsNotNone(m, "stream %d ended: %s" % (k, s.error))
                self.assertEqual(m.attempt, 1, "a delivery came twice")
                self.assertNotIn(m.delivery_id, delivered, "a delivery came twice")
                delivered[m.delivery_id] = m.event.id
                per_sub[k].append(m.delivery_id)
                s.ack(m.delivery_id)
        self.assertEqual(sorted(delivered.values()), sorted(sent), "every event once")
        self.assertTrue(per_sub[0] and per_sub[1],
                        "both subscribers get a share: %d / %d" % tuple(map(len, per_sub)))
        for s in subs:
            self.assertQuiet(s, 1.0, "after all acks")
        for eid in list(sent)[:3]:
            self.wait_trace(eid, conn, "DELIVERED")

    def test_max_in_flight_bounds_unacked(self):
        conn = self.new_connection()
        sub = self.subscribe(conn, max_in_flight=2)
        self.publish(5, "mif")
        ms = [self.recv(sub, what="1"), self.recv(sub, what="2")]
        self.assertQuiet(sub, 1.0, "max_in_flight 2 with 2 unacked")
        sub.ack(ms[0].delivery_id)
        ms.append(self.recv(sub, what="3 after one ack"))
        self.assertQuiet(sub, 0.7, "again 2 unacked")
        sub.ack(*[m.delivery_id for m in ms[1:]])
        ms += [self.recv(sub, what="4"), self.recv(sub, what="5")]
        self.assertEqual(len({m.delivery_id for m in ms}), 5)
        sub.ack(*[m.delivery_id for m in ms[3:]])

    def test_disconnect_redelivers_to_another(self):
        conn = self.new_connection()
        first = Sub(self.sub_cli, conn, max_in_flight=10)
        sent = dict(self.publish(3, "disc"))
        got = {}
        for _ in sent:
            m = self.recv(first, what="first subscriber")
            got[m.delivery_id] = m.event.id
        self.assertEqual(sorted(got.values()), sorted(sent))
        second = self.subscribe(conn, cli=self.org_cli)  # an org-admin key may subscribe too
        self.assertQuiet(second, 0.5, "nothing free while the first holds everything")
        first.cancel()  # goes away without acking
        again = {}
        for _ in sent:
            m = self.recv(second, what="redelivery")
            self.assertEqual(m.attempt, 2)
            again[m.delivery_id] = m.event.id
        self.assertEqual(again, got, "the same deliveries (same ids) come again")
        second.ack(*again)
        for eid in sent:
            steps = self.wait_trace(eid, conn, "DELIVERED")
            self.assertEqual([s[:2] for s in steps], [(1, "DISCONNECTED"), (2, "DELIVERED")])

    def test_another_org_is_refused(self):
        conn = self.new_connection()
        s = Sub(self.b_sub_cli, conn)
        code, details = s.end_code()
        self.assertIn(code, (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED),
                      details)
        # and it got nothing of the org's events
        self.publish(1, "other-org")
        isv = Sub(self.isv_cli, conn)
        self.assertEnds(isv, grpc.StatusCode.PERMISSION_DENIED, "isv key")
        anon = Client(self.server.target, None)
        self.addCleanup(anon.close)
        nokey = Sub(anon, conn)
        self.assertEnds(nokey, grpc.StatusCode.UNAUTHENTICATED, "no key")
        wrong = Client(self.server.target, "evb_not_a_real_key")
        self.addCleanup(wrong.close)
        bad = Sub(wrong, conn)
        self.assertEnds(bad, grpc.StatusCode.UNAUTHENTICATED, "unknown key")
        # the org's own subscriber still gets the event
        own = self.subscribe(conn)
        m = self.recv(own, what="own org")
        own.ack(m.delivery_id)

    def test_non_stream_connection(self):
        http = self.org_cli.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("http"), kind=pb.HTTP, org=self.org,
            http=pb.HttpTarget(url="https://hooks.example.com/evb")))).name
        conn = self.new_connection(action=http)
        s = Sub(self.sub_cli, conn)
        details = self.assertEnds(s, grpc.StatusCode.FAILED_PRECONDITION, "HTTP connection")
        self.assertIn("STREAM", details)

    def test_bad_first_messages(self):
        conn = self.new_connection()
        ack_first = ev_pb.SubscribeRequest(ack=ev_pb.SubscribeAck(delivery_ids=["x"]))
        d = self.assertEnds(Sub(self.sub_cli, conn, first=ack_first),
                            grpc.StatusCode.INVALID_ARGUMENT, "ack first")
        self.assertIn("start", d)
        d = self.assertEnds(Sub(self.sub_cli, conn, first=ev_pb.SubscribeRequest()),
                            grpc.StatusCode.INVALID_ARGUMENT, "empty first")
        self.assertIn("start", d)
        cases = [
            (dict(max_in_flight=1001), "start.max_in_flight"),
            (dict(max_in_flight=-1), "start.max_in_flight"),
            (dict(ack_deadline_ms=999), "start.ack_deadline_ms"),
            (dict(ack_deadline_ms=600001), "start.ack_deadline_ms"),
        ]
        for kw, field in cases:
            d = self.assertEnds(Sub(self.sub_cli, conn, **kw), grpc.StatusCode.INVALID_ARGUMENT,
                                str(kw))
            self.assertIn(field, d)
        d = self.assertEnds(Sub(self.sub_cli, ""), grpc.StatusCode.INVALID_ARGUMENT, "no id")
        self.assertIn("start.connection_id", d)
        self.assertEnds(Sub(self.sub_cli, "0190aaaa-0000-7000-8000-000000000000"),
                        grpc.StatusCode.NOT_FOUND, "unknown connection")
        # start twice
        s = self.subscribe(conn)
        s._out.put(ev_pb.SubscribeRequest(start=ev_pb.SubscribeStart(connection_id=conn)))
        self.assertEnds(s, grpc.StatusCode.INVALID_ARGUMENT, "second start")
        self.assertServing()


if __name__ == "__main__":
    main()
