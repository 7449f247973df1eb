#!/usr/bin/python3
"""PutEvents limits: entry count, entry size, request size, dedup window; default values
and the --max-entries / --max-entry-bytes / --max-request-bytes / --dedup-window flags; the
calls a client connection may have in progress (--max-calls-per-connection)."""

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    DEDUPLICATED, PUBLISHED, REJECTED, ServerTestCase, describe, entry, health_pb2, main, put,
    unique)


def json_of_size(n):
    """Valid JSON text (a string) of exactly n bytes (n >= 2)."""
    return b'"' + b"x" * (n - 2) + b'"'


class DefaultLimitsTest(ServerTestCase):
    """Defaults: 100 entries, 262144 bytes per entry's data, 1048576 bytes per request."""

    def test_100_entries_accepted(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org, id_="e%03d" % i) for i in range(100)])
        self.assertEqual(len(r.results), 100)
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        self.assertEqual([x.event_id for x in r.results], ["e%03d" % i for i in range(100)])

    def test_101_entries_rejected(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, put, cli, conn.name,
                                [entry(org, id_="e%03d" % i) for i in range(101)])
        self.assertIn("entries", (e.details() or "").lower())
        # nothing of the refused call was stored
        r = put(cli, conn.name, [entry(org, id_="e000")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))

    def test_zero_entries_rejected(self):
        _isv, cli, conn = self.new_isv()
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, put, cli, conn.name, [])

    def test_entry_data_at_limit_and_over(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [
            entry(org, id_="at-limit", data=json_of_size(262144)),
            entry(org, id_="over-limit", data=json_of_size(262145)),
            entry(org, id_="bin-over", data=b"\0" * 262145,
                  datacontenttype="application/octet-stream"),
            entry(org, id_="small"),
        ])
        self.assertEqual([x.status for x in r.results],
                         [PUBLISHED, REJECTED, REJECTED, PUBLISHED], describe(r))
        self.assertEqual(r.results[1].error_code, "TOO_LARGE", describe(r))
        self.assertEqual(r.results[2].error_code, "TOO_LARGE", describe(r))
        self.assertEqual(r.failed_entry_count, 2)

    def test_request_over_max_request_bytes(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        # each entry within the per-entry limit, 5 x 250000 > 1048576 in total
        ents = [entry(org, id_="big%d" % i, data=json_of_size(250000)) for i in range(5)]
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, put, cli, conn.name, ents)
        # 4 x 250000 fits
        r = put(cli, conn.name, ents[:4])
        self.assertEqual(r.failed_entry_count, 0, describe(r))

    def test_still_serving(self):
        self.assertServing()


class CustomLimitsTest(ServerTestCase):
    SERVER_ARGS = ("--max-entries", "5", "--max-entry-bytes", "1000",
                   "--max-request-bytes", "4000", "--dedup-window", "2")

    def test_max_entries_flag(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org) for _ in range(5)])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, put, cli, conn.name,
                            [entry(org) for _ in range(6)])

    def test_max_entry_bytes_flag(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org, data=json_of_size(1000)),
                                 entry(org, data=json_of_size(1001))])
        self.assertEqual([x.status for x in r.results], [PUBLISHED, REJECTED], describe(r))
        self.assertEqual(r.results[1].error_code, "TOO_LARGE")
        self.assertEqual(r.failed_entry_count, 1)

    def test_max_request_bytes_flag(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org, data=json_of_size(900)) for _ in range(3)])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, put, cli, conn.name,
                            [entry(org, data=json_of_size(900)) for _ in range(5)])

    def test_dedup_window_flag(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r1 = put(cli, conn.name, [entry(org, id_="win")])
        self.assertEqual(r1.results[0].status, PUBLISHED, describe(r1))
        r2 = put(cli, conn.name, [entry(org, id_="win")])
        self.assertEqual(r2.results[0].status, DEDUPLICATED, describe(r2))
        self.assertEqual(r2.results[0].event_id, "win")
        time.sleep(3.5)  # the window is 2 s
        r3 = put(cli, conn.name, [entry(org, id_="win")])
        self.assertEqual(r3.results[0].status, PUBLISHED,
                         "same id after the dedup window: " + describe(r3))

    def test_still_serving(self):
        self.assertServing()


class CallsPerConnectionTest(ServerTestCase):
    """--max-calls-per-connection 1: while a PublishStream is open on a connection, another
    call on that connection waits on the client's side (HTTP/2 MAX_CONCURRENT_STREAMS); a
    second connection is not affected; the waiting call goes through once the stream ends."""
    SERVER_ARGS = ("--max-calls-per-connection", "1")

    def health(self, cli, timeout):
        return cli.health.Check(health_pb2.HealthCheckRequest(), timeout=timeout)

    def test_one_call_per_connection(self):
        cli = self.server.client()
        self.addCleanup(cli.close)
        self.health(cli, 10)  # connected: the server's SETTINGS are known to the client
        release = threading.Event()
        self.addCleanup(release.set)

        def idle():
            release.wait(30)
            return
            yield  # a generator that sends nothing until released

        ended = {}

        def stream():
            try:
                ended["replies"] = list(cli.events.PublishStream(idle(), timeout=30))
            except grpc.RpcError as e:
                ended["code"] = e.code()
        t = threading.Thread(target=stream, daemon=True)
        t.start()
        time.sleep(0.5)  # the stream is open and holds the connection's one call
        self.assertRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, self.health, cli, 1)
        # another connection has its own call (a channel of its own: by default grpcio
        # channels to one target share their connection)
        other = grpc.insecure_channel(self.server.target,
                                      options=[("grpc.use_local_subchannel_pool", 1)])
        self.addCleanup(other.close)
        check = other.unary_unary("/grpc.health.v1.Health/Check",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=health_pb2.HealthCheckResponse.FromString)
        self.assertEqual(check(health_pb2.HealthCheckRequest(), timeout=10).status,
                         health_pb2.HealthCheckResponse.SERVING)
        release.set()
        t.join(10)
        self.assertFalse(t.is_alive(), "the stream did not end")
        self.assertEqual(ended.get("replies"), [], "stream outcome %r" % ended)
        self.health(cli, 10)  # the connection's call is free again

    def test_still_serving(self):
        self.assertServing()


if __name__ == "__main__":
    main()
