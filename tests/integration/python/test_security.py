#!/usr/bin/python3
"""Authentication, roles and org isolation: admin key file, missing/garbage/revoked keys,
wrong ISV, wrong roles, org-admin reads limited to the own org."""

import os
import stat
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, REJECTED, Client, ServerTestCase, admin_pb2, connector_pb2, create_connector,
    create_key, describe, entry, events_pb2, health_pb2, main, put, rpc_code, unique)

UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


class AuthTest(ServerTestCase):

    def test_admin_key_file(self):
        p = self.server.admin_key_path
        st = os.stat(p)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600,
                         "admin.key mode is %o, want 600" % stat.S_IMODE(st.st_mode))
        self.assertEqual(st.st_uid, os.getuid())
        text = p.read_text()
        lines = text.splitlines()
        self.assertEqual(len(lines), 1, "admin.key must hold one line: %r" % text)
        self.assertGreaterEqual(len(lines[0].strip()), 16, "admin key suspiciously short")
        info = self.admin.admin.GetServerInfo(admin_pb2.GetServerInfoRequest())
        self.assertTrue(info.version)
        # The key is stored only as a hash: its text is nowhere in the data dir's database.
        key = lines[0].strip().encode()
        for f in self.server.data_dir.rglob("*"):
            if f.is_file() and f.name != "admin.key":
                self.assertNotIn(key, f.read_bytes(), "admin key in clear text in %s" % f)

    def test_health_without_key(self):
        c = Client(self.server.target, None)
        self.addCleanup(c.close)
        r = c.health.Check(health_pb2.HealthCheckRequest())
        self.assertEqual(r.status, health_pb2.HealthCheckResponse.SERVING)

    def _calls(self, cli, conn_name):
        """A representative authenticated call of each service."""
        return [
            ("PutEvents", lambda: put(cli, conn_name, [entry("org1")])),
            ("GetEvent", lambda: cli.events.GetEvent(events_pb2.GetEventRequest(event_id="x"))),
            ("ListEvents", lambda: cli.events.ListEvents(events_pb2.ListEventsRequest())),
            ("CreateApiKey", lambda: cli.admin.CreateApiKey(
                admin_pb2.CreateApiKeyRequest(role="admin"))),
            ("ListApiKeys", lambda: cli.admin.ListApiKeys(admin_pb2.ListApiKeysRequest())),
            ("GetServerInfo", lambda: cli.admin.GetServerInfo(admin_pb2.GetServerInfoRequest())),
            ("CreateConnector", lambda: create_connector(cli, "someisv")),
            ("PublishStream", lambda: list(cli.events.PublishStream(iter([
                events_pb2.PutEventsRequest(connector=conn_name, request_id="1",
                                            entries=[entry("org1")])])))),
        ]

    def test_no_key(self):
        _isv, _cli, conn = self.new_isv()
        c = Client(self.server.target, None)
        self.addCleanup(c.close)
        for name, fn in self._calls(c, conn.name):
            code, detail = rpc_code(fn)
            self.assertEqual(code, UNAUTH, "%s without key: %s %s" % (name, code, detail))

    def test_garbage_keys(self):
        _isv, _cli, conn = self.new_isv()
        real = self.server.admin_key()
        bad_headers = [
            "Bearer garbage",
            "Bearer ",
            "Bearer",
            "bearer-less " + real,
            "Basic " + real,
            real,                       # no scheme
            "Bearer " + real + "x",     # one character more
            "Bearer " + real[:-1],      # one character less
            "Bearer " + real[:-1] + ("A" if real[-1] != "A" else "B"),
        ]
        for header in bad_headers:
            c = Client(self.server.target, None)
            self.addCleanup(c.close)
            md = (("authorization", header),)
            mc = c.events._callable("PutEvents")
            req = events_pb2.PutEventsRequest(connector=conn.name, entries=[entry("org1")])
            code, detail = rpc_code(mc, req, metadata=md, timeout=10)
            self.assertEqual(code, UNAUTH, "authorization %r: %s %s" % (header[:30], code, detail))
            mc = c.admin._callable("ListApiKeys")
            code, detail = rpc_code(mc, admin_pb2.ListApiKeysRequest(), metadata=md, timeout=10)
            self.assertEqual(code, UNAUTH, "authorization %r: %s %s" % (header[:30], code, detail))

    def test_revoked_key(self):
        isv, cli, conn = self.new_isv()
        org = unique("org")
        kid, key = create_key(self.admin, "isv", isv, "to be revoked")
        c = Client(self.server.target, key)
        self.addCleanup(c.close)
        r = put(c, conn.name, [entry(org, id_="before-revoke")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        listed = self.admin.admin.ListApiKeys(admin_pb2.ListApiKeysRequest()).keys
        mine = [k for k in listed if k.key_id == kid]
        self.assertEqual(len(mine), 1, "new key not listed")
        self.assertEqual((mine[0].role, mine[0].scope, mine[0].revoked), ("isv", isv, False))
        for k in listed:
            self.assertNotIn(key, str(k), "ListApiKeys shows a secret")
        self.admin.admin.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(key_id=kid))
        self.assertRpcError(UNAUTH, put, c, conn.name, [entry(org, id_="after-revoke")])
        self.assertRpcError(UNAUTH, c.events.GetEvent,
                            events_pb2.GetEventRequest(event_id="before-revoke"))
        # the other key of the same ISV still works
        r = put(cli, conn.name, [entry(org, id_="other-key")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        # revoked keys are hidden unless asked for
        listed = self.admin.admin.ListApiKeys(admin_pb2.ListApiKeysRequest()).keys
        self.assertFalse([k for k in listed if k.key_id == kid and not k.revoked])
        listed = self.admin.admin.ListApiKeys(
            admin_pb2.ListApiKeysRequest(include_revoked=True)).keys
        mine = [k for k in listed if k.key_id == kid]
        self.assertEqual(len(mine), 1)
        self.assertTrue(mine[0].revoked)
        self.assertTrue(mine[0].revoke_time)
        # a revoked admin key too
        akid, akey = create_key(self.admin, "admin", "")
        a = Client(self.server.target, akey)
        self.addCleanup(a.close)
        a.admin.GetServerInfo(admin_pb2.GetServerInfoRequest())
        self.admin.admin.RevokeApiKey(admin_pb2.RevokeApiKeyRequest(key_id=akid))
        self.assertRpcError(UNAUTH, a.admin.GetServerInfo, admin_pb2.GetServerInfoRequest())

    def test_wrong_isv(self):
        _isv_a, _cli_a, conn_a = self.new_isv()
        isv_b, cli_b, conn_b = self.new_isv()
        org = unique("org")
        self.assertRpcError(DENIED, put, cli_b, conn_a.name, [entry(org, id_="x")])
        # nothing was stored through the refused call
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.admin.events.GetEvent,
                            events_pb2.GetEventRequest(event_id="x", org=org,
                                                       connector=conn_a.name))
        # On a stream either the stream ends PERMISSION_DENIED, or the request is answered
        # with every entry REJECTED (error_code PERMISSION_DENIED) and the stream goes on.
        try:
            replies = list(cli_b.events.PublishStream(iter([
                events_pb2.PutEventsRequest(connector=conn_a.name, request_id="s1",
                                            entries=[entry(org, id_="y"), entry(org, id_="z")]),
                events_pb2.PutEventsRequest(connector=conn_b.name, request_id="s2",
                                            entries=[entry(org, id_="own-stream")])])))
            self.assertEqual([r.request_id for r in replies], ["s1", "s2"])
            self.assertEqual(replies[0].failed_entry_count, 2, describe(replies[0]))
            for res in replies[0].results:
                self.assertEqual((res.status, res.error_code), (REJECTED, "PERMISSION_DENIED"),
                                 describe(replies[0]))
            self.assertEqual(replies[1].results[0].status, PUBLISHED, describe(replies[1]))
        except grpc.RpcError as e:
            self.assertEqual(e.code(), DENIED, "%s %s" % (e.code(), e.details()))
        for eid in ("y", "z"):
            self.assertRpcError(grpc.StatusCode.NOT_FOUND, self.admin.events.GetEvent,
                                events_pb2.GetEventRequest(event_id=eid, org=org,
                                                           connector=conn_a.name))
        # managing another ISV's connectors
        self.assertRpcError(DENIED, create_connector, cli_b, _isv_a)
        code, detail = rpc_code(cli_b.connectors.DeleteConnector,
                                connector_pb2.DeleteConnectorRequest(name=conn_a.name))
        self.assertIn(code, (DENIED, grpc.StatusCode.UNIMPLEMENTED),
                      "DeleteConnector of another ISV: %s %s" % (code, detail))
        r = put(self.admin, conn_a.name, [entry(org, id_="still-there")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        # own connector still fine
        r = put(cli_b, conn_b.name, [entry(org, id_="own")])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        self.assertEqual(isv_b, conn_b.isv)

    def test_roles_that_may_not_publish_or_manage(self):
        _isv, _cli, conn = self.new_isv()
        org = unique("org")
        for role, scope in (("org-admin", org), ("subscriber", org), ("schema-owner", "")):
            _kid, key = create_key(self.admin, role, scope)
            c = Client(self.server.target, key)
            self.addCleanup(c.close)
            self.assertRpcError(DENIED, put, c, conn.name, [entry(org)])
            self.assertRpcError(DENIED, c.admin.CreateApiKey,
                                admin_pb2.CreateApiKeyRequest(role="admin"))
            self.assertRpcError(DENIED, c.admin.ListApiKeys, admin_pb2.ListApiKeysRequest())
        # an isv key may not create keys either
        _isv2, cli2, _conn2 = self.new_isv()
        self.assertRpcError(DENIED, cli2.admin.CreateApiKey,
                            admin_pb2.CreateApiKeyRequest(role="isv", scope=_isv2))

    def test_create_key_bad_role(self):
        self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT, self.admin.admin.CreateApiKey,
                            admin_pb2.CreateApiKeyRequest(role="superuser"))

    def test_org_isolation_on_reads(self):
        _isv, cli, conn = self.new_isv()
        org_a, org_b = unique("orga"), unique("orgb")
        r = put(cli, conn.name, [
            entry(org_a, id_="iso-a", data=b'{"org":"a"}'),
            entry(org_b, id_="iso-b", data=b'{"org":"b"}'),
            entry(org_a, id_="iso-shared", data=b'{"org":"a"}'),
            entry(org_b, id_="iso-shared", data=b'{"org":"b"}'),
        ])
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        _kid, key_a = create_key(self.admin, "org-admin", org_a)
        a = Client(self.server.target, key_a)
        self.addCleanup(a.close)

        def get(event_id, org="", connector=""):
            return a.events.GetEvent(events_pb2.GetEventRequest(
                event_id=event_id, org=org, connector=connector))

        ev = get("iso-a")
        self.assertEqual(ev.attributes["orgid"].ce_string, org_a)
        self.assertEqual(get("iso-a", org_a, conn.name).id, "iso-a")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, get, "iso-b")
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, get, "iso-b", "", conn.name)
        code, _ = rpc_code(get, "iso-b", org_b)
        self.assertIn(code, (grpc.StatusCode.NOT_FOUND, DENIED),
                      "GetEvent of org B's event with an org A key: %s" % code)
        ev = get("iso-shared")
        self.assertEqual(ev.attributes["orgid"].ce_string, org_a)
        self.assertEqual(ev.text_data.replace(" ", ""), '{"org":"a"}')
        # checked at the end, so the listing checks below run either way
        shared_b = rpc_code(get, "iso-shared", org_b)

        self.assertRpcError(DENIED, a.events.ListEvents, events_pb2.ListEventsRequest(org=org_b))
        self.assertRpcError(DENIED, a.events.ListEvents,
                            events_pb2.ListEventsRequest(org=org_b, connector=conn.name))
        for req in (events_pb2.ListEventsRequest(),
                    events_pb2.ListEventsRequest(connector=conn.name),
                    events_pb2.ListEventsRequest(org=org_a),
                    events_pb2.ListEventsRequest(page_size=1)):
            seen, token = [], ""
            for _ in range(100):
                req.page_token = token
                resp = a.events.ListEvents(req)
                seen += list(resp.events)
                token = resp.next_page_token
                if not token:
                    break
            self.assertEqual(sorted(e.id for e in seen), ["iso-a", "iso-shared"],
                             "org A key listing %s" % req)
            for e in seen:
                self.assertEqual(e.attributes["orgid"].ce_string, org_a)

        # the admin sees both
        self.assertEqual(self.admin.events.GetEvent(events_pb2.GetEventRequest(
            event_id="iso-b")).attributes["orgid"].ce_string, org_b)
        # an org-admin of org B is just as confined
        _kid, key_b = create_key(self.admin, "org-admin", org_b)
        b = Client(self.server.target, key_b)
        self.addCleanup(b.close)
        self.assertRpcError(grpc.StatusCode.NOT_FOUND, b.events.GetEvent,
                            events_pb2.GetEventRequest(event_id="iso-a"))
        self.assertEqual(b.events.GetEvent(events_pb2.GetEventRequest(
            event_id="iso-shared")).attributes["orgid"].ce_string, org_b)
        code, got = shared_b
        self.assertIn(code, (grpc.StatusCode.NOT_FOUND, DENIED),
                      "GetEvent(iso-shared, org=B) with an org A key must not answer OK "
                      "(it asked for org B's event); got %s: %s" % (code, str(got)[:300]))

    def test_still_serving(self):
        self.assertServing()


if __name__ == "__main__":
    main()
