#!/usr/bin/python3
"""GetEvent and ListEvents: CloudEvent round trips, paging and filters."""

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, TYPE_CUSTOMER, TYPE_PRODUCT, ServerTestCase, create_connector, describe, entry,
    events_pb2, main, put, rpc_code, unique)


def epoch(rfc3339):
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


class ReadEventsTest(ServerTestCase):

    def get(self, cli, event_id, org="", connector=""):
        return cli.events.GetEvent(events_pb2.GetEventRequest(event_id=event_id, org=org,
                                                              connector=connector))

    def list_all(self, cli, page_size=0, **filters):
        """All pages of ListEvents; returns (events, number of pages)."""
        events, pages, token = [], 0, ""
        while True:
            r = cli.events.ListEvents(events_pb2.ListEventsRequest(
                page_size=page_size, page_token=token, **filters))
            pages += 1
            events += list(r.events)
            token = r.next_page_token
            if not token:
                return events, pages
            self.assertLess(pages, 1000, "paging does not end")

    def attr(self, ev, name, kind):
        self.assertIn(name, ev.attributes, "attribute %r missing: %s" % (name, ev))
        v = ev.attributes[name]
        self.assertEqual(v.WhichOneof("attr"), kind, "attribute %r kind" % name)
        return getattr(v, kind)

    def test_round_trip_json_with_extensions(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        data = {"customerId": "42", "name": "Zhang San 张三", "tags": ["a", "b"],
                "nested": {"n": 1.5, "ok": True, "none": None}}
        r = put(cli, conn.name, [entry(
            org, TYPE_CUSTOMER, id_="rt-json", subject="customer/42",
            time="2024-05-01T10:20:30Z", data=json.dumps(data, ensure_ascii=False).encode(),
            extensions={"region": "cn-hangzhou", "traceid": "abc123", "seq7": "7"})])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        ev = self.get(self.admin, "rt-json", org, conn.name)
        self.assertEqual(ev.id, "rt-json")
        self.assertEqual(ev.source, "/connectors/%s" % conn.name)
        self.assertEqual(ev.spec_version, "1.0")
        self.assertEqual(ev.type, TYPE_CUSTOMER)
        self.assertEqual(self.attr(ev, "subject", "ce_string"), "customer/42")
        ts = self.attr(ev, "time", "ce_timestamp")
        self.assertEqual((ts.seconds, ts.nanos), (epoch("2024-05-01T10:20:30Z"), 0))
        self.assertEqual(self.attr(ev, "datacontenttype", "ce_string"), "application/json")
        self.assertEqual(self.attr(ev, "orgid", "ce_string"), org)
        self.assertEqual(self.attr(ev, "connector", "ce_string"), conn.name)
        self.assertEqual(self.attr(ev, "region", "ce_string"), "cn-hangzhou")
        self.assertEqual(self.attr(ev, "traceid", "ce_string"), "abc123")
        self.assertEqual(self.attr(ev, "seq7", "ce_string"), "7")
        self.assertEqual(ev.WhichOneof("data"), "text_data")
        self.assertEqual(json.loads(ev.text_data), data)
        if "dataschema" in ev.attributes:
            self.assertEqual(ev.attributes["dataschema"].WhichOneof("attr"), "ce_uri")
        # the context attributes are not duplicated into the map
        for name in ("id", "source", "specversion", "type"):
            self.assertNotIn(name, ev.attributes)
        # lookup without the optional narrowing fields
        ev2 = self.get(self.admin, "rt-json")
        self.assertEqual(ev2.id, "rt-json")
        self.assertEqual(self.attr(ev2, "orgid", "ce_string"), org)

    def test_round_trip_binary_and_text(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        blob = bytes(range(256)) * 4 + b"\xff\xfe\x00"
        text = "héllo wörld — 你好\n  trailing spaces  "
        r = put(cli, conn.name, [
            entry(org, TYPE_PRODUCT, id_="rt-bin", data=blob,
                  datacontenttype="application/octet-stream", subject="blob/1"),
            entry(org, TYPE_PRODUCT, id_="rt-pdf", data=b"%PDF-1.4\n\x80\x81",
                  datacontenttype="application/pdf"),
            entry(org, TYPE_PRODUCT, id_="rt-text", data=text.encode(),
                  datacontenttype="text/plain; charset=utf-8"),
            entry(org, TYPE_PRODUCT, id_="rt-csv", data=b"a,b\n1,2\n", datacontenttype="text/csv"),
        ])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        ev = self.get(self.admin, "rt-bin", org, conn.name)
        self.assertEqual(ev.WhichOneof("data"), "binary_data")
        self.assertEqual(ev.binary_data, blob)
        self.assertEqual(self.attr(ev, "datacontenttype", "ce_string"), "application/octet-stream")
        self.assertEqual(self.attr(ev, "subject", "ce_string"), "blob/1")
        ev = self.get(self.admin, "rt-pdf", org, conn.name)
        self.assertEqual(ev.WhichOneof("data"), "binary_data")
        self.assertEqual(ev.binary_data, b"%PDF-1.4\n\x80\x81")
        ev = self.get(self.admin, "rt-text", org, conn.name)
        self.assertEqual(ev.WhichOneof("data"), "text_data")
        self.assertEqual(ev.text_data, text)
        self.assertEqual(self.attr(ev, "datacontenttype", "ce_string"),
                         "text/plain; charset=utf-8")
        ev = self.get(self.admin, "rt-csv", org, conn.name)
        self.assertEqual(ev.text_data, "a,b\n1,2\n")

    def test_time_offset_fraction_and_receipt_time(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        t0 = time.time()
        r = put(cli, conn.name, [
            entry(org, id_="t-offset", time="2024-05-01T12:20:30.123+02:00"),
            entry(org, id_="t-lower", time="2024-05-01t10:20:30.5z"),
            entry(org, id_="t-none"),
        ])
        t1 = time.time()
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        ts = self.attr(self.get(self.admin, "t-offset", org, conn.name), "time", "ce_timestamp")
        self.assertEqual((ts.seconds, ts.nanos), (epoch("2024-05-01T10:20:30Z"), 123000000))
        ts = self.attr(self.get(self.admin, "t-lower", org, conn.name), "time", "ce_timestamp")
        self.assertEqual((ts.seconds, ts.nanos), (epoch("2024-05-01T10:20:30Z"), 500000000))
        ev = self.get(self.admin, "t-none", org, conn.name)
        ts = self.attr(ev, "time", "ce_timestamp")
        got = ts.seconds + ts.nanos / 1e9
        self.assertTrue(t0 - 5 <= got <= t1 + 5, "receipt time %s not in [%s, %s]" % (got, t0, t1))
        # no subject given: no subject attribute (or an empty one is not invented)
        if "subject" in ev.attributes:
            self.fail("subject attribute invented for an entry without subject: %s" % ev)

    def test_custom_source(self):
        isv = unique("isv")
        from evbharness import Client, create_key
        _kid, key = create_key(self.admin, "isv", isv)
        cli = Client(self.server.target, key)
        self.addCleanup(cli.close)
        conn = create_connector(cli, isv, source="https://crm.example.com/events")
        self.assertEqual(conn.source, "https://crm.example.com/events")
        org = unique("org")
        r = put(cli, conn.name, [entry(org, id_="src-1")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        self.assertEqual(self.get(self.admin, "src-1", org, conn.name).source,
                         "https://crm.example.com/events")

    def test_get_not_found(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        put(cli, conn.name, [entry(org, id_="exists")])
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.get, self.admin, unique("missing"))
        code, detail = rpc_code(self.get, self.admin, "")
        self.assertIn(code, (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND),
                      "GetEvent without event_id: %s %s" % (code, detail))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.get, self.admin, "exists", unique("org"))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.get, self.admin, "exists", org,
                            unique("nosuch-conn"))

    def _publish_series(self, cli, conn_name, org, n, base, prefix="ls"):
        ents = []
        for i in range(n):
            t = (base + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            ents.append(entry(org, TYPE_CUSTOMER if i % 2 == 0 else TYPE_PRODUCT,
                              id_="%s-%03d" % (prefix, i), time=t, data=b'{"i":%d}' % i))
        r = put(cli, conn_name, ents)
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        return ents

    def test_list_paging(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        base = datetime(2024, 6, 1, tzinfo=timezone.utc)
        ents = self._publish_series(cli, conn.name, org, 25, base)
        want = {e.id for e in ents}
        sizes, token, seen = [], "", []
        for _ in range(10):
            r = self.admin.events.ListEvents(events_pb2.ListEventsRequest(
                org=org, connector=conn.name, page_size=10, page_token=token))
            sizes.append(len(r.events))
            seen += [e.id for e in r.events]
            token = r.next_page_token
            if not token:
                break
        self.assertFalse(token, "paging did not end")
        self.assertTrue(all(s <= 10 for s in sizes), sizes)
        self.assertEqual(len(seen), len(set(seen)), "an event appears on two pages: %s" % seen)
        self.assertEqual(set(seen), want)
        self.assertGreaterEqual(len(sizes), 3, sizes)
        # default page size (100) returns everything on one page
        r = self.admin.events.ListEvents(events_pb2.ListEventsRequest(org=org, connector=conn.name))
        self.assertEqual({e.id for e in r.events}, want)
        self.assertEqual(r.next_page_token, "")
        # listed events are complete CloudEvents
        for ev in r.events:
            self.assertEqual(ev.spec_version, "1.0")
            self.assertEqual(ev.source, "/connectors/%s" % conn.name)
            self.assertEqual(ev.attributes["orgid"].ce_string, org)
            self.assertEqual(ev.attributes["connector"].ce_string, conn.name)
            i = int(ev.id.split("-")[1])
            self.assertEqual(json.loads(ev.text_data), {"i": i})
        # page size 1 walks every event too
        evs, pages = self.list_all(self.admin, page_size=1, org=org, connector=conn.name)
        self.assertEqual(sorted(e.id for e in evs), sorted(want))
        self.assertGreaterEqual(pages, 25)

    def test_list_bad_page_token(self):
        _isv, cli, conn = self.new_isv()
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.admin.events.ListEvents,
                            events_pb2.ListEventsRequest(connector=conn.name,
                                                         page_token="!!not-a-token!!"))

    def test_list_filters(self):
        isv, cli, conn = self.new_isv()
        conn2 = create_connector(cli, isv)
        org, other_org = unique("org"), unique("org")
        base = datetime(2024, 7, 1, tzinfo=timezone.utc)
        ents = self._publish_series(cli, conn.name, org, 20, base)
        self._publish_series(cli, conn2.name, org, 3, base, prefix="c2")
        self._publish_series(cli, conn.name, other_org, 4, base, prefix="oo")

        def ids(**f):
            evs, _ = self.list_all(self.admin, page_size=7, **f)
            return sorted(e.id for e in evs)

        self.assertEqual(ids(org=org, connector=conn.name), sorted(e.id for e in ents))
        self.assertEqual(ids(org=org, connector=conn2.name), ["c2-000", "c2-001", "c2-002"])
        self.assertEqual(ids(org=other_org), ["oo-000", "oo-001", "oo-002", "oo-003"])
        self.assertEqual(ids(org=org), sorted([e.id for e in ents] + ["c2-000", "c2-001",
                                                                       "c2-002"]))
        # type
        self.assertEqual(ids(org=org, connector=conn.name, type=TYPE_PRODUCT),
                         sorted(e.id for e in ents if e.type == TYPE_PRODUCT))
        # time range: start inclusive, end exclusive (on the event's time)
        st = (base + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        en = (base + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(ids(org=org, connector=conn.name, start_time=st, end_time=en),
                         ["ls-%03d" % i for i in range(5, 15)])
        self.assertEqual(ids(org=org, connector=conn.name, start_time=st),
                         ["ls-%03d" % i for i in range(5, 20)])
        self.assertEqual(ids(org=org, connector=conn.name, end_time=en),
                         ["ls-%03d" % i for i in range(0, 15)])
        # an offset time means the same instant
        st_off = (base + timedelta(minutes=5)).astimezone(
            timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        self.assertEqual(ids(org=org, connector=conn.name, start_time=st_off, end_time=en),
                         ["ls-%03d" % i for i in range(5, 15)])
        # combined
        self.assertEqual(ids(org=org, connector=conn.name, type=TYPE_CUSTOMER, start_time=st,
                             end_time=en), ["ls-%03d" % i for i in range(6, 15, 2)])
        # nothing matches
        self.assertEqual(ids(org=org, connector=conn.name, type="com.example.none"), [])
        # bad times are refused
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.admin.events.ListEvents,
                            events_pb2.ListEventsRequest(org=org, start_time="last tuesday"))

    def test_still_serving(self):
        self.assertServing()


if __name__ == "__main__":
    main()
