#!/usr/bin/python3
"""Hostile and odd input: unknown methods, malformed protobuf bytes, invalid UTF-8 in
string fields. After each, the server must still be serving."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, REJECTED, STATUS_NAME, Client, ServerTestCase, admin_pb2, create_connector,
    create_key, describe, entry, events_pb2, main, put, rpc_code, unique)

# Bytes that are not a valid protobuf encoding of ANY message (top-level framing errors).
GARBAGE = [
    b"\x0a\xff\xff\xff\xff\x0f",                 # field 1, length 4 GiB, no bytes
    b"\x0a\x05ab",                               # field 1, length 5, only 2 bytes
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # a varint tag longer than 10 bytes
    b"\x0f",                                     # wire type 7 does not exist
    b"\x0e\x01",                                 # wire type 6 does not exist
    b"\x0a\x03abc\x12",                          # trailing tag without value
    b"\x1a\x80",                                 # field 3 with a truncated length varint
    b"\x08\xff\xff",                             # field 1 varint truncated
    b"\x22\x01\x61\x2a\x02\x62",                   # fields 4 and 5 fine, then a short length
]
# Invalid only given PutEventsRequest's schema (entries is field 2, a message).
PUT_GARBAGE = [
    b"\x12\x04\x0a\x10ab",                       # entries: sub-message truncated inside
    b"\x12\x02\x12\x05",                         # entries.org: length past the sub-message
    b"\x12\x01\x0f",                             # entries: wire type 7 inside
    b"\x12\x03\x42\x01\x0a",                     # entries.extensions: map entry truncated
]


class RobustnessTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._isv = unique("isv")
        _kid, key = create_key(cls.admin, "isv", cls._isv)
        cls._cli = Client(cls.server.target, key)
        cls._conn = create_connector(cls._cli, cls._isv)

    def assert_publish_works(self):
        org = unique("org")
        r = put(self._cli, self._conn.name, [entry(org)])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        self.assertServing()

    def test_unknown_methods(self):
        for path in ("/evbridge.v1.EventService/NoSuchMethod",
                     "/evbridge.v1.NoSuchService/PutEvents",
                     "/no.such.Service/Call",
                     "/grpc.health.v1.Health/NoSuch"):
            code, detail = rpc_code(self.admin.raw_unary, path, b"")
            self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED, "%s: %s %s"
                             % (path, code, detail))
            # also without any key
            code, detail = rpc_code(self.admin.raw_unary, path, b"", key=None)
            self.assertIn(code, (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAUTHENTICATED),
                          "%s without key: %s %s" % (path, code, detail))
        self.assert_publish_works()

    def test_malformed_protobuf_unary(self):
        for method in ("/evbridge.v1.EventService/PutEvents",
                       "/evbridge.v1.EventService/GetEvent",
                       "/evbridge.v1.EventService/ListEvents",
                       "/evbridge.v1.AdminService/CreateApiKey",
                       "/evbridge.v1.ConnectorService/CreateConnector"):
            for g in GARBAGE:
                code, detail = rpc_code(self.admin.raw_unary, method, g)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT,
                                 "%s with %r: %s %s" % (method, g[:16], code, detail))
        # malformed bytes from an isv key on PutEvents too
        for g in GARBAGE + PUT_GARBAGE:
            code, detail = rpc_code(self._cli.raw_unary, "/evbridge.v1.EventService/PutEvents", g)
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT,
                             "PutEvents(isv) with %r: %s %s" % (g[:16], code, detail))
        self.assert_publish_works()

    def test_malformed_health_request(self):
        c = Client(self.server.target, None)
        self.addCleanup(c.close)
        code, detail = rpc_code(c.raw_unary, "/grpc.health.v1.Health/Check", b"\x0a\xff\x01")
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, "%s %s" % (code, detail))
        self.assertServing()

    def test_malformed_protobuf_stream(self):
        mc = self._cli.channel.stream_stream(
            "/evbridge.v1.EventService/PublishStream",
            request_serializer=lambda b: b, response_deserializer=events_pb2.PutEventsResponse.FromString)
        good = events_pb2.PutEventsRequest(connector=self._conn.name, request_id="good",
                                           entries=[entry(unique("org"))]).SerializeToString()
        responses = []
        try:
            for resp in mc(iter([good, b"\x0a\xff\xff\xff\xff\x0f", good]),
                           metadata=self._cli.metadata(), timeout=20):
                responses.append(resp)
            self.fail("PublishStream accepted a malformed message; replies: %s" % responses)
        except grpc.RpcError as e:
            self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT,
                             "%s %s" % (e.code(), e.details()))
        # the reply to the good first message came before the error
        self.assertLessEqual(len(responses), 1)
        if responses:
            self.assertEqual(responses[0].request_id, "good")
            self.assertEqual(responses[0].results[0].status, PUBLISHED)
        self.assert_publish_works()

    def _invalid_utf8_request(self, field):
        """A PutEventsRequest whose `field` holds invalid UTF-8 (same length placeholder)."""
        ph = "Q7Z9"
        bad = b"\xff\xfe\xc3\x28"  # not UTF-8: 0xff, 0xfe and a broken 2-byte sequence
        org = unique("org")
        e = entry(org, id_="utf8-" + field)
        conn = self._conn.name
        if field == "org":
            e.org = "org" + ph
        elif field == "id":
            e.id = "id" + ph
        elif field == "type":
            e.type = e.type + ph
        elif field == "subject":
            e.subject = "subj" + ph
        elif field == "time":
            e.time = "2024-05-01T10:20:30Z" + ph
        elif field == "datacontenttype":
            e.datacontenttype = "text/plain" + ph
        elif field == "extension-name":
            e.extensions["ext" + ph.lower()] = "v"
        elif field == "extension-value":
            e.extensions["ext"] = "v" + ph
        elif field == "connector":
            conn = conn + ph
        req = events_pb2.PutEventsRequest(connector=conn, request_id="utf8", entries=[e])
        raw = req.SerializeToString()
        needle = (ph.lower() if field == "extension-name" else ph).encode()
        self.assertEqual(raw.count(needle), 1)
        return raw.replace(needle, bad), org

    def test_invalid_utf8_in_string_fields(self):
        problems = []
        for field in ("org", "id", "type", "subject", "time", "datacontenttype",
                      "extension-name", "extension-value", "connector"):
            raw, _org = self._invalid_utf8_request(field)
            try:
                out = self._cli.raw_unary("/evbridge.v1.EventService/PutEvents", raw)
            except grpc.RpcError as e:
                allowed = [grpc.StatusCode.INVALID_ARGUMENT]
                if field == "connector":
                    allowed.append(grpc.StatusCode.NOT_FOUND)
                if e.code() not in allowed:
                    problems.append("%s: RPC status %s %s" % (field, e.code(), e.details()))
                continue
            try:
                resp = events_pb2.PutEventsResponse.FromString(out)
            except DecodeError:
                # e.g. an error_message that echoes the offending bytes: the reply itself
                # then breaks every strict protobuf client
                problems.append("%s: the server's reply is not valid protobuf/UTF-8: %r"
                                % (field, out[:200]))
                continue
            if (len(resp.results) != 1 or resp.results[0].status != REJECTED
                    or resp.failed_entry_count != 1):
                problems.append("invalid UTF-8 in %s: %s" % (field, describe(resp)))
        self.assertFalse(problems, "\n".join(problems))
        # nothing made it into the store
        seen = self.admin.events.ListEvents(events_pb2.ListEventsRequest(
            connector=self._conn.name, page_size=1000)).events
        self.assertFalse([e.id for e in seen if e.id.startswith("utf8-")])
        self.assert_publish_works()

    def test_invalid_utf8_in_other_requests(self):
        bad = events_pb2.GetEventRequest(event_id="abcd").SerializeToString().replace(
            b"abcd", b"a\xffb\xfe")
        code, detail = rpc_code(self.admin.raw_unary, "/evbridge.v1.EventService/GetEvent", bad)
        self.assertIn(code, (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND),
                      "%s %s" % (code, detail))
        bad = admin_pb2.CreateApiKeyRequest(role="isv", scope="abcd").SerializeToString().replace(
            b"abcd", b"a\xffb\xfe")
        code, detail = rpc_code(self.admin.raw_unary, "/evbridge.v1.AdminService/CreateApiKey",
                                bad)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, "%s %s" % (code, detail))
        self.assert_publish_works()

    def test_unicode_request_id(self):
        org = unique("org")
        rid = "r" * 100 + "\u00e9\u4e2d\U0001F600"  # 100 + 2 + 3 + 4 bytes
        r = put(self._cli, self._conn.name, [entry(org)], request_id=rid)
        self.assertEqual(r.request_id, rid)
        self.assert_publish_works()

    @classmethod
    def tearDownClass(cls):
        cls._cli.close()
        super().tearDownClass()


if __name__ == "__main__":
    main()
