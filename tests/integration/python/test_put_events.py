#!/usr/bin/python3
"""PutEvents: valid entries, partial failure, NUL characters, deduplication, unknown
connector."""

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    DEDUPLICATED, PUBLISHED, REJECTED, TYPE_CONTRACT, TYPE_CUSTOMER, TYPE_PRODUCT,
    ServerTestCase, connector_pb2, create_connector, describe, entry, events_pb2, main, put,
    rpc_code, unique)

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
                   re.I)


class PutEventsTest(ServerTestCase):

    def list_ids(self, cli, org, connector):
        ids = []
        token = ""
        while True:
            r = cli.events.ListEvents(events_pb2.ListEventsRequest(
                org=org, connector=connector, page_size=1000, page_token=token))
            ids += [e.id for e in r.events]
            token = r.next_page_token
            if not token:
                return ids

    def test_valid_entries(self):
        isv, cli, conn = self.new_isv()
        org = unique("org")
        entries = [
            entry(org, TYPE_CUSTOMER, id_="evt-valid-1", data=b'{"customerId":"c1","name":"A"}',
                  subject="customer/c1", time="2024-05-01T10:20:30Z",
                  extensions={"region": "cn", "seq": "1"}),
            entry(org, TYPE_PRODUCT, id_="evt-valid-2", data=b'[1,2,3]',
                  datacontenttype="application/json"),
            entry(org, TYPE_CUSTOMER, id_="", data=b'{"generated":true}'),
            entry(org, TYPE_CUSTOMER, id_="x" * 128, data=b'"max length id"'),
            entry(org, TYPE_PRODUCT, id_="evt-valid-text", data=b"plain text, not JSON",
                  datacontenttype="text/plain"),
            entry(org, TYPE_PRODUCT, id_="evt-valid-bin", data=bytes(range(256)),
                  datacontenttype="application/octet-stream"),
            entry(org, TYPE_CUSTOMER, id_="evt-valid-subj", data=b'{}', subject="s" * 512,
                  time="2024-05-01T12:20:30.123456+02:00"),
            entry("Org_1.a-b", TYPE_CUSTOMER, id_="evt-valid-org", data=b'null'),
            entry("o" * 64, TYPE_CUSTOMER, id_="evt-valid-org64", data=b'{"a":{"b":[true,false]}}'),
        ]
        r = put(cli, conn.name, entries, request_id="req-valid-1")
        self.assertEqual(r.request_id, "req-valid-1")
        self.assertEqual(len(r.results), len(entries), describe(r))
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        for i, (e, res) in enumerate(zip(entries, r.results)):
            self.assertEqual(res.status, PUBLISHED, "entry %d: %s" % (i, describe(r)))
            self.assertFalse(res.error_code, describe(r))
            if e.id:
                self.assertEqual(res.event_id, e.id, describe(r))
        gen = r.results[2].event_id
        self.assertRegex(gen, UUID7, "generated id must be a UUIDv7")
        # every published entry is readable
        for e, res in zip(entries, r.results):
            ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
                event_id=res.event_id, org=e.org, connector=conn.name))
            self.assertEqual(ev.id, res.event_id)
            self.assertEqual(ev.type, e.type)

    def test_generated_ids_are_unique(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org, data=b'{"n":%d}' % i) for i in range(50)])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        ids = [x.event_id for x in r.results]
        self.assertTrue(all(UUID7.match(i) for i in ids), ids)
        self.assertEqual(len(set(ids)), 50, "generated ids repeat")
        # UUIDv7 is time ordered: ids generated later never sort before earlier ones
        r2 = put(cli, conn.name, [entry(org, data=b'{}')])
        self.assertGreaterEqual(r2.results[0].event_id[:13], max(ids)[:13])

    def test_partial_failure(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        big = b'"' + b"x" * (262144 + 10) + b'"'
        cases = [
            # (entry, expected status, error_code, word the message must contain)
            (entry(org, id_="ok-first"), PUBLISHED, "", None),
            (entry(org, id_="i" * 129), REJECTED, "INVALID_ARGUMENT", "id"),
            (entry("", id_="no-org"), REJECTED, "INVALID_ARGUMENT", "org"),
            (entry("bad org!", id_="bad-org"), REJECTED, "INVALID_ARGUMENT", "org"),
            (entry("o" * 65, id_="long-org"), REJECTED, "INVALID_ARGUMENT", "org"),
            (entry(org, TYPE_CONTRACT, id_="undeclared-type"), REJECTED, "UNKNOWN_TYPE", "type"),
            (entry(org, "", id_="empty-type"), REJECTED, None, "type"),
            (entry(org, id_="long-subject", subject="s" * 513), REJECTED, "INVALID_ARGUMENT",
             "subject"),
            (entry(org, id_="bad-time", time="yesterday at noon"), REJECTED, "INVALID_ARGUMENT",
             "time"),
            (entry(org, id_="bad-time2", time="2024-13-45T25:61:00Z"), REJECTED,
             "INVALID_ARGUMENT", "time"),
            (entry(org, id_="bad-time3", time="2024-05-01 10:20:30"), REJECTED,
             "INVALID_ARGUMENT", "time"),
            (entry(org, id_="bad-date", time="2024-02-30T00:00:00Z"), REJECTED,
             "INVALID_ARGUMENT", "time"),
            (entry(org, id_="no-offset", time="2024-05-01T10:20:30"), REJECTED,
             "INVALID_ARGUMENT", "time"),
            (entry(org, id_="bad-json", data=b'{"a":'), REJECTED, "INVALID_ARGUMENT", "data"),
            (entry(org, id_="bad-json2", data=b'{"a":1} trailing', datacontenttype="application/json"),
             REJECTED, "INVALID_ARGUMENT", "data"),
            (entry(org, id_="ext-upper", extensions={"Region": "cn"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="ext-dash", extensions={"my-ext": "x"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="ext-long", extensions={"a" * 21: "x"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="ext-ctx-subject", extensions={"subject": "x"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="ext-ctx-source", extensions={"source": "/evil"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="ext-ctx-specversion", extensions={"specversion": "0.3"}), REJECTED,
             "INVALID_ARGUMENT", "extension"),
            (entry(org, id_="too-large", data=big), REJECTED, "TOO_LARGE", None),
            (entry(org, TYPE_PRODUCT, id_="ok-last", extensions={"a" * 20: "ok", "x1": "y"}),
             PUBLISHED, "", None),
        ]
        r = put(cli, conn.name, [c[0] for c in cases], request_id="partial")
        self.assertEqual(r.request_id, "partial")
        self.assertEqual(len(r.results), len(cases), describe(r))
        expected_failed = sum(1 for c in cases if c[1] == REJECTED)
        self.assertEqual(r.failed_entry_count, expected_failed, describe(r))
        for i, ((e, status, code, word), res) in enumerate(zip(cases, r.results)):
            where = "entry %d (id %r): %s %s %r" % (i, e.id[:20], res.status, res.error_code,
                                                   res.error_message)
            self.assertEqual(res.status, status, where)
            if status == PUBLISHED:
                self.assertEqual(res.event_id, e.id, where)
                continue
            self.assertTrue(res.error_code, where)
            if code:
                self.assertEqual(res.error_code, code, where)
            self.assertTrue(res.error_message, where)
            if word:
                self.assertIn(word, res.error_message.lower(), where)
        # nothing of the rejected entries was stored
        stored = set(self.list_ids(self.admin, org, conn.name))
        self.assertEqual(stored, {"ok-first", "ok-last"})

    def test_nul_characters_are_rejected(self):
        # "a\0b" is valid UTF-8, so a client may send it; protobuf-c would hand the server
        # "a". The server looks at the encoded bytes and rejects the entry (U+0000 is a
        # control character) instead of storing a cut string.
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        cases = [
            (entry(org, id_="nul\x00id"), "entries[0].id"),
            (entry(org + "\x00x", id_="nul-org"), "entries[1].org"),
            (entry(org, id_="nul-subject", subject="s\x00"), "entries[2].subject"),
            (entry(org, id_="nul-ext", extensions={"region": "cn\x00"}),
             "entries[3].extensions.value"),
            # data is bytes, NULs and all
            (entry(org, id_="ok", data=b"a\x00b", datacontenttype="application/octet-stream"),
             None),
        ]
        r = put(cli, conn.name, [c[0] for c in cases])
        self.assertEqual(r.failed_entry_count, 4, describe(r))
        for (e, field), res in zip(cases, r.results):
            if field is None:
                self.assertEqual((res.status, res.event_id), (PUBLISHED, "ok"), describe(r))
                continue
            self.assertEqual((res.status, res.error_code), (REJECTED, "INVALID_ARGUMENT"),
                             describe(r))
            self.assertIn(field + " contains a NUL character", res.error_message)
        self.assertEqual(set(self.list_ids(self.admin, org, conn.name)), {"ok"})
        ok = self.admin.events.GetEvent(events_pb2.GetEventRequest(event_id="ok", org=org,
                                                                   connector=conn.name))
        self.assertEqual(ok.binary_data, b"a\x00b")
        # the cut id was not stored either
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.admin.events.GetEvent,
                            events_pb2.GetEventRequest(event_id="nul", org=org,
                                                       connector=conn.name))
        # request-level strings: the whole call fails
        for kw in ({"connector": conn.name + "\x00"}, {"request_id": "rq\x00"}):
            req = events_pb2.PutEventsRequest(connector=kw.get("connector", conn.name),
                                              request_id=kw.get("request_id", ""),
                                              entries=[entry(org, id_="never")])
            e = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, cli.events.PutEvents, req)
            self.assertIn("contains a NUL character", e.details())

    def test_reserved_extensions_cannot_spoof_org(self):
        # The reserved server extensions must not be overridable by a publisher: either
        # the entry is rejected, or the stored orgid/connector are the real ones.
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [entry(org, id_="spoof", extensions={"orgid": "victim",
                                                                     "connector": "other"})])
        res = r.results[0]
        if res.status == REJECTED:
            self.assertEqual(res.error_code, "INVALID_ARGUMENT", describe(r))
            return
        self.assertEqual(res.status, PUBLISHED, describe(r))
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(event_id="spoof", org=org,
                                                            connector=conn.name))
        self.assertEqual(ev.attributes["orgid"].ce_string, org)
        self.assertEqual(ev.attributes["connector"].ce_string, conn.name)

    def test_json_strictness(self):
        # DESIGN.md: JSON parsing is strict (duplicate keys are refused)
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [
            entry(org, id_="dupkey", data=b'{"a":1,"a":2}'),
            entry(org, id_="nan", data=b'{"a":NaN}'),
            entry(org, id_="ok", data=b'{"a":1,"b":{"a":2}}'),
        ])
        self.assertEqual([x.status for x in r.results], [REJECTED, REJECTED, PUBLISHED],
                         describe(r))
        for x in r.results[:2]:
            self.assertEqual(x.error_code, "INVALID_ARGUMENT", describe(r))
            self.assertIn("data", x.error_message.lower(), describe(r))

    def test_dedup_across_requests(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r1 = put(cli, conn.name, [entry(org, id_="dup-1", data=b'{"v":1}')])
        self.assertEqual(r1.results[0].status, PUBLISHED, describe(r1))
        r2 = put(cli, conn.name, [entry(org, id_="dup-1", data=b'{"v":2}'),
                                  entry(org, id_="dup-2", data=b'{"v":3}')])
        self.assertEqual(r2.failed_entry_count, 0, describe(r2))
        self.assertEqual(r2.results[0].status, DEDUPLICATED, describe(r2))
        self.assertEqual(r2.results[0].event_id, "dup-1", describe(r2))
        self.assertEqual(r2.results[1].status, PUBLISHED, describe(r2))
        # third time, still deduplicated
        r3 = put(cli, conn.name, [entry(org, id_="dup-1", type_=TYPE_PRODUCT)])
        self.assertEqual(r3.results[0].status, DEDUPLICATED, describe(r3))
        self.assertEqual(r3.results[0].event_id, "dup-1")
        # nothing new stored: the first event's data stays
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(event_id="dup-1", org=org,
                                                            connector=conn.name))
        self.assertEqual(ev.type, TYPE_CUSTOMER)
        self.assertEqual(ev.text_data.replace(" ", ""), '{"v":1}')
        self.assertEqual(sorted(self.list_ids(self.admin, org, conn.name)), ["dup-1", "dup-2"])

    def test_dedup_within_one_request(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [
            entry(org, id_="same", data=b'{"v":1}'),
            entry(org, id_="same", data=b'{"v":2}'),
            entry(org, id_="other"),
            entry(org, id_="same", data=b'{"v":3}'),
        ])
        self.assertEqual([x.status for x in r.results],
                         [PUBLISHED, DEDUPLICATED, PUBLISHED, DEDUPLICATED], describe(r))
        self.assertEqual([x.event_id for x in r.results], ["same", "same", "other", "same"])
        self.assertEqual(r.failed_entry_count, 0)
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(event_id="same", org=org,
                                                            connector=conn.name))
        self.assertEqual(ev.text_data.replace(" ", ""), '{"v":1}')
        self.assertEqual(sorted(self.list_ids(self.admin, org, conn.name)), ["other", "same"])

    def test_rejected_entry_does_not_claim_its_id(self):
        _isv, cli, conn = self.new_isv()
        org = unique("org")
        r = put(cli, conn.name, [
            entry(org, id_="claim", data=b"{not json"),
            entry(org, id_="claim", data=b'{"ok":true}'),
        ])
        self.assertEqual([x.status for x in r.results], [REJECTED, PUBLISHED], describe(r))
        self.assertEqual(r.failed_entry_count, 1)
        self.assertEqual(r.results[1].event_id, "claim")

    def test_dedup_key_is_connector_org_id(self):
        isv, cli, conn = self.new_isv()
        conn2 = create_connector(cli, isv)
        org_a, org_b = unique("org"), unique("org")
        ra = put(cli, conn.name, [entry(org_a, id_="shared-id"), entry(org_b, id_="shared-id")])
        self.assertEqual([x.status for x in ra.results], [PUBLISHED, PUBLISHED], describe(ra))
        rb = put(cli, conn2.name, [entry(org_a, id_="shared-id")])
        self.assertEqual(rb.results[0].status, PUBLISHED, describe(rb))
        for org, c in ((org_a, conn.name), (org_b, conn.name), (org_a, conn2.name)):
            ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(event_id="shared-id", org=org,
                                                                connector=c))
            self.assertEqual(ev.attributes["orgid"].ce_string, org)
            self.assertEqual(ev.attributes["connector"].ce_string, c)

    def test_unknown_connector(self):
        _isv, cli, _conn = self.new_isv()
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, put, self.admin, unique("nosuch"),
                            [entry(unique("org"))])
        code, detail = rpc_code(put, self.admin, "", [entry("org1")])
        self.assertIn(code, (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT),
                      "empty connector: %s %s" % (code, detail))

    def test_admin_may_publish(self):
        _isv, _cli, conn = self.new_isv()
        r = put(self.admin, conn.name, [entry(unique("org"), id_="by-admin")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))

    def test_only_declared_types_accepted(self):
        _isv, cli, conn = self.new_isv(types=(TYPE_CUSTOMER,))
        org = unique("org")
        r = put(cli, conn.name, [entry(org, TYPE_PRODUCT), entry(org, TYPE_CUSTOMER)])
        self.assertEqual([x.status for x in r.results], [REJECTED, PUBLISHED], describe(r))
        self.assertEqual(r.results[0].error_code, "UNKNOWN_TYPE")
        self.assertEqual(r.failed_entry_count, 1)

    def test_connector_changes_apply_to_the_next_request(self):
        # PutEvents caches connectors (server/rpc/conn_cache.c): an update or a delete must
        # take effect on the very next request, as when every request read the store.
        isv, cli, conn = self.new_isv(types=(TYPE_CUSTOMER,))
        org = unique("org")
        for _ in range(3):  # warm the cache
            r = put(cli, conn.name, [entry(org, TYPE_CUSTOMER), entry(org, TYPE_PRODUCT)])
            self.assertEqual([x.status for x in r.results], [PUBLISHED, REJECTED], describe(r))
        c = connector_pb2.Connector(name=conn.name, display_name=conn.display_name, isv=isv,
                                    source="/custom/source")
        c.event_types.add(type=TYPE_PRODUCT, subject="", version=0)
        cli.connectors.UpdateConnector(connector_pb2.UpdateConnectorRequest(connector=c))
        r = put(cli, conn.name, [entry(org, TYPE_CUSTOMER), entry(org, TYPE_PRODUCT)])
        self.assertEqual([x.status for x in r.results], [REJECTED, PUBLISHED], describe(r))
        self.assertEqual(r.results[0].error_code, "UNKNOWN_TYPE")
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
            event_id=r.results[1].event_id, org=org, connector=conn.name))
        self.assertEqual(ev.source, "/custom/source")
        cli.connectors.DeleteConnector(connector_pb2.DeleteConnectorRequest(name=conn.name))
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, put, cli, conn.name,
                            [entry(org, TYPE_PRODUCT)])
        create_connector(cli, isv, name=conn.name, types=(TYPE_CUSTOMER,))
        r = put(cli, conn.name, [entry(org, TYPE_CUSTOMER), entry(org, TYPE_PRODUCT)])
        self.assertEqual([x.status for x in r.results], [PUBLISHED, REJECTED], describe(r))

    def test_still_serving(self):
        self.assertServing()


if __name__ == "__main__":
    main()
