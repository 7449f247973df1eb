#!/usr/bin/python3
"""PublishStream: 1,000 requests over one stream, answered in order with matching
request ids and per-entry statuses; concurrent streams; an empty stream."""

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    DEDUPLICATED, PUBLISHED, REJECTED, STATUS_NAME, ServerTestCase, describe, entry,
    events_pb2, main, unique)

N = 1000


def build_requests(conn, org, prefix, n=N):
    """Request i has entries chosen so that its expected statuses are known:
    i % 10 == 3: a valid entry and an invalid one (REJECTED);
    i % 10 == 7: the id of request i-1's first entry again (DEDUPLICATED);
    i % 25 == 0: three valid entries; else one valid entry."""
    reqs, expect = [], []
    for i in range(n):
        rid = "%s-r%04d" % (prefix, i)
        first = "%s-e%04d" % (prefix, i)
        if i % 10 == 3:
            ents = [entry(org, id_=first), entry("bad org!", id_=first + "-bad")]
            exp = [(PUBLISHED, first), (REJECTED, None)]
        elif i % 10 == 7:
            prev = "%s-e%04d" % (prefix, i - 1)
            ents = [entry(org, id_=prev)]
            exp = [(DEDUPLICATED, prev)]
        elif i % 25 == 0:
            ents = [entry(org, id_="%s-%d" % (first, k), data=b'{"k":%d}' % k) for k in range(3)]
            exp = [(PUBLISHED, "%s-%d" % (first, k)) for k in range(3)]
        else:
            ents = [entry(org, id_=first, data=b'{"i":%d}' % i)]
            exp = [(PUBLISHED, first)]
        reqs.append(events_pb2.PutEventsRequest(connector=conn, request_id=rid, entries=ents))
        expect.append((rid, exp))
    return reqs, expect


class PublishStreamTest(ServerTestCase):

    def check_replies(self, replies, expect):
        self.assertEqual(len(replies), len(expect),
                         "%d replies to %d requests" % (len(replies), len(expect)))
        for i, (resp, (rid, exp)) in enumerate(zip(replies, expect)):
            self.assertEqual(resp.request_id, rid, "reply %d out of order" % i)
            got = [(r.status, r.event_id if r.status != REJECTED else None)
                   for r in resp.results]
            self.assertEqual(got, exp, "reply %d (%s): %s" % (i, rid, describe(resp)))
            self.assertEqual(resp.failed_entry_count,
                             sum(1 for s, _ in exp if s == REJECTED), describe(resp))
            for r in resp.results:
                if r.status == REJECTED:
                    self.assertEqual(r.error_code, "INVALID_ARGUMENT")
                    self.assertIn("org", r.error_message.lower())

    def count_stored(self, org, connector):
        n, token = 0, ""
        while True:
            r = self.admin.events.ListEvents(events_pb2.ListEventsRequest(
                org=org, connector=connector, page_size=1000, page_token=token))
            n += len(r.events)
            token = r.next_page_token
            if not token:
                return n

    def test_1000_requests_in_order(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        reqs, expect = build_requests(conn.name, org, "one")
        replies = list(cli.events.PublishStream(iter(reqs), timeout=180))
        self.check_replies(replies, expect)
        published = sum(1 for _rid, exp in expect for s, _ in exp if s == PUBLISHED)
        self.assertEqual(self.count_stored(org, conn.name), published)
        # spot check: a streamed event reads back
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
            event_id="one-e0001", org=org, connector=conn.name))
        self.assertEqual(ev.text_data.replace(" ", ""), '{"i":1}')

    def test_replies_while_sending(self):
        """Replies arrive while the client is still sending (the stream is not batched
        until half-close): each request is sent only after the previous reply came."""
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        reqs, expect = build_requests(conn.name, org, "lock", n=50)
        got_reply = threading.Semaphore(0)

        def gen():
            for i, r in enumerate(reqs):
                if i > 0 and not got_reply.acquire(timeout=20):
                    return  # the server waits for half-close: the check below fails
                yield r

        replies = []
        call = cli.events.PublishStream(gen(), timeout=120)
        for resp in call:
            replies.append(resp)
            got_reply.release()
        self.check_replies(replies, expect)

    def test_concurrent_streams(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        results = {}

        def worker(k):
            reqs, expect = build_requests(conn.name, org, "c%d" % k, n=250)
            try:
                results[k] = (list(cli.events.PublishStream(iter(reqs), timeout=180)), expect)
            except grpc.RpcError as e:
                results[k] = e

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(200)
        for k in range(4):
            res = results.get(k)
            if isinstance(res, grpc.RpcError):
                self.fail("stream %d failed: %s %s" % (k, res.code(), res.details()))
            self.assertIsNotNone(res, "stream %d did not finish" % k)
            self.check_replies(*res)

    def test_empty_stream(self):
        _isv, cli, _conn = self.new_isv()
        self.assertEqual(list(cli.events.PublishStream(iter([]), timeout=30)), [])

    def test_stream_survives_rejected_and_missing_request_ids(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        reqs = [
            events_pb2.PutEventsRequest(connector=conn.name, entries=[entry(org, id_="n1")]),
            events_pb2.PutEventsRequest(connector=conn.name, request_id="x",
                                        entries=[entry("", id_="n2")]),
            events_pb2.PutEventsRequest(connector=conn.name, entries=[entry(org, id_="n1")]),
        ]
        replies = list(cli.events.PublishStream(iter(reqs), timeout=30))
        self.assertEqual([r.request_id for r in replies], ["", "x", ""])
        self.assertEqual([[STATUS_NAME[x.status] for x in r.results] for r in replies],
                         [["PUBLISHED"], ["REJECTED"], ["DEDUPLICATED"]])

    def test_still_serving(self):
        self.assertServing()


if __name__ == "__main__":
    main()
