#!/usr/bin/python3
"""EventService.ReplayEvents: stored events sent to a connection again.

An HTTP connection to a local receiver gets three events delivered; ReplayEvents over
their time range queues one NEW delivery (a new webhook-id) per matching event, and the
receiver sees each event a second time. A pattern on the connection limits the replay to
the events it matches; another org's key sees NOT_FOUND; a bad time is INVALID_ARGUMENT.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, TYPE_CUSTOMER, Client, ServerTestCase, connector_pb2, create_key, describe,
    entry, events_pb2, main, put, unique)

pb = connector_pb2


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.got = []  # (ce-id, webhook-id)
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer.lock:
                    outer.got.append((self.headers.get("ce-id"), self.headers.get("webhook-id")))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_port

    def snapshot(self):
        with self.lock:
            return list(self.got)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class ReplayTest(ServerTestCase):
    SERVER_ARGS = ("--allow-target-cidr", "127.0.0.0/8")

    def wait_for(self, what, fn, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            v = fn()
            if v:
                return v
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def test_replay(self):
        rec = Receiver()
        self.addCleanup(rec.close)
        isv, isv_cli, conn = self.new_isv()
        org = unique("org")
        _k, okey = create_key(self.admin, "org-admin", org)
        ocli = Client(self.server.target, okey)
        self.addCleanup(ocli.close)
        act = ocli.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("act"), kind=pb.HTTP, http=pb.HttpTarget(url=rec.url))))
        c_all = ocli.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(name="all", connector=conn.name, action=act.name)))
        # a second connection whose pattern matches only entries with {"k": 2}
        rec2 = Receiver()
        self.addCleanup(rec2.close)
        act2 = ocli.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("act"), kind=pb.HTTP, http=pb.HttpTarget(url=rec2.url))))
        c_two = ocli.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(name="two", connector=conn.name, action=act2.name,
                                     pattern=json.dumps({"data": {"k": [2]}}))))
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        r = put(isv_cli, conn.name, [entry(org, TYPE_CUSTOMER, "r-%d" % i,
                                           data=json.dumps({"k": i}).encode())
                                     for i in (1, 2, 3)])
        self.assertEqual([x.status for x in r.results], [PUBLISHED] * 3, describe(r))
        first = self.wait_for("3 deliveries", lambda: len(rec.snapshot()) >= 3 and rec.snapshot())
        self.wait_for("1 delivery on the pattern connection", lambda: len(rec2.snapshot()) >= 1)
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))

        n = ocli.events.ReplayEvents(events_pb2.ReplayEventsRequest(
            org=org, connection_id=c_all.id, start_time=start, end_time=end)).replayed
        self.assertEqual(n, 3)
        got = self.wait_for("6 deliveries", lambda: len(rec.snapshot()) >= 6 and rec.snapshot())
        self.assertEqual(sorted(x[0] for x in got), sorted(["r-1", "r-2", "r-3"] * 2))
        first_ids = {x[1] for x in first[:3]}
        replay_ids = {x[1] for x in got[3:]}
        self.assertFalse(first_ids & replay_ids, "a replay is a new delivery (new webhook-id)")

        n2 = ocli.events.ReplayEvents(events_pb2.ReplayEventsRequest(
            org=org, connection_id=c_two.id, start_time=start, end_time=end)).replayed
        self.assertEqual(n2, 1, "only the event the pattern matches is replayed")
        got2 = self.wait_for("2 deliveries", lambda: len(rec2.snapshot()) >= 2 and rec2.snapshot())
        self.assertEqual([x[0] for x in got2], ["r-2", "r-2"])

        # an empty range replays nothing
        self.assertEqual(ocli.events.ReplayEvents(events_pb2.ReplayEventsRequest(
            org=org, connection_id=c_all.id, start_time="2000-01-01T00:00:00Z",
            end_time="2000-01-02T00:00:00Z")).replayed, 0)
        # another org: NOT_FOUND; a bad time: INVALID_ARGUMENT; no connection: INVALID
        _k2, other = create_key(self.admin, "org-admin", unique("org"))
        bcli = Client(self.server.target, other)
        self.addCleanup(bcli.close)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, bcli.events.ReplayEvents,
                            events_pb2.ReplayEventsRequest(connection_id=c_all.id))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, ocli.events.ReplayEvents,
                            events_pb2.ReplayEventsRequest(connection_id=c_all.id,
                                                           start_time="yesterday"))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, ocli.events.ReplayEvents,
                            events_pb2.ReplayEventsRequest())
        self.assertRpcError(grpc.StatusCode.PERMISSION_DENIED, isv_cli.events.ReplayEvents,
                            events_pb2.ReplayEventsRequest(connection_id=c_all.id))


if __name__ == "__main__":
    main()
