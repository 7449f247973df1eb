#!/usr/bin/python3
"""ConnectorService actions and connections, TestEventPattern / TestTransform, routing at
ingest and TraceEvent.

Actions: CRUD for HTTP, DingTalk robot and stream targets; owner defaults from the key;
write-only secrets (signing secret, auth password/token/api key, robot secret, the robot
webhook's access_token masked as "***"; has_signing_secret / has_secret; an update with an
empty secret keeps the stored one); scoping (isv key: its ISV's actions; org-admin: its
org's plus every ISV-offered one, never another org's); delete refused while a connection
uses the action; invalid inputs name the field.

Connections: CRUD, pause/resume, scoping (another org's org-admin: NOT_FOUND on the
connection, PERMISSION_DENIED on its org), names unique per org, references checked,
invalid patterns and transforms name the path and the rule.

TestEventPattern / TestTransform: a table of matching cases and of every transform mode;
invalid input is INVALID_ARGUMENT; any authenticated key may call them.

Routing: a set of connections on one (org, connector) plus decoys on another org and
another connector; PutEvents creates exactly the expected deliveries, observed with
TraceEvent (RECEIVE, FILTER per connection, DELIVER per delivery: PENDING, or HELD while
paused); changes (update, pause, resume, delete) take effect for the very next PutEvents;
resume turns HELD deliveries into PENDING; another org cannot trace the event.
"""

import base64
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, TYPE_CONTRACT, TYPE_CUSTOMER, TYPE_PRODUCT, Client, ServerTestCase,
    connector_pb2, create_connector, create_key, describe, entry, events_pb2, main, put,
    rpc_code, unique)

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
EXISTS = grpc.StatusCode.ALREADY_EXISTS
PRECOND = grpc.StatusCode.FAILED_PRECONDITION
DENIED = grpc.StatusCode.PERMISSION_DENIED
UNAUTH = grpc.StatusCode.UNAUTHENTICATED

pb = connector_pb2
RECEIVE, FILTER, DELIVER = events_pb2.RECEIVE, events_pb2.FILTER, events_pb2.DELIVER
STAGE_NAME = {v: k for k, v in events_pb2.TraceStage.items()}

SIGNING_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef-signing").decode()
SIGNING_SECRET_2 = "whsec_" + base64.b64encode(b"second-secret-0123456789").decode()
BEARER_TOKEN = "tok-SUPERSECRET-bearer-7c1d"
BASIC_PASSWORD = "pw-SUPERSECRET-basic-99"
API_KEY_VALUE = "ak-SUPERSECRET-apikey-42"
ROBOT_TOKEN = "robotTOKENsecret0123456789abcdef"
ROBOT_SECRET = "SECsupersecretrobotsigningkey0123"
ROBOT_URL = "https://oapi.dingtalk.com/robot/send?access_token=%s" % ROBOT_TOKEN
ALL_SECRETS = (SIGNING_SECRET, SIGNING_SECRET_2, BEARER_TOKEN, BASIC_PASSWORD, API_KEY_VALUE,
               ROBOT_TOKEN, ROBOT_SECRET)


def jb(obj):
    return json.dumps(obj).encode()


def http_action(name, url="https://hooks.example.com/evb", **kw):
    """An HTTP Action message; kw: isv, org, description, method, headers, signing_secret,
    auth (HttpAuth), timeout_ms, content_mode."""
    a = pb.Action(name=name, kind=pb.HTTP, isv=kw.get("isv", ""), org=kw.get("org", ""),
                  description=kw.get("description", ""))
    a.http.url = url
    a.http.method = kw.get("method", "")
    a.http.timeout_ms = kw.get("timeout_ms", 0)
    a.http.content_mode = kw.get("content_mode", 0)
    a.http.signing_secret = kw.get("signing_secret", "")
    for k, v in (kw.get("headers") or {}).items():
        a.http.headers[k] = v
    if kw.get("auth") is not None:
        a.http.auth.CopyFrom(kw["auth"])
    return a


def robot_action(name, **kw):
    a = pb.Action(name=name, kind=pb.DINGTALK_ROBOT, isv=kw.get("isv", ""),
                  org=kw.get("org", ""))
    r = a.robot
    r.webhook_url = kw.get("webhook_url", ROBOT_URL)
    r.secret = kw.get("secret", ROBOT_SECRET)
    r.message_type = kw.get("message_type", pb.MARKDOWN)
    r.title = kw.get("title", "Customer ${name}")
    r.template = kw.get("template", "### ${name}\nstatus: ${status}")
    for k, v in (kw.get("vars") or {"name": "$.data.name", "status": "$.data.status"}).items():
        r.vars[k] = v
    r.at_mobiles.extend(kw.get("at_mobiles", ["13800000000"]))
    r.at_user_ids.extend(kw.get("at_user_ids", []))
    r.is_at_all = kw.get("is_at_all", False)
    r.single_title = kw.get("single_title", "")
    r.single_url = kw.get("single_url", "")
    return a


def trace_text(tr):
    parts = []
    for s in tr.steps:
        t = STAGE_NAME.get(s.stage, s.stage)
        if s.stage == FILTER:
            t += "(%s matched=%s)" % (s.connection_id, s.matched)
        elif s.stage == DELIVER:
            t += "(%s delivery=%s outcome=%s attempt=%d)" % (s.connection_id, s.delivery_id,
                                                             s.outcome, s.attempt)
        parts.append(t)
    return "[%s]" % ", ".join(parts)


class ConnectionsBase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls._clients = []
            cls.isv = unique("isv")
            cls.isv_cli = cls._client(create_key(cls.admin, "isv", cls.isv)[1])
            cls.isv2 = unique("isv")
            cls.isv2_cli = cls._client(create_key(cls.admin, "isv", cls.isv2)[1])
            cls.org_a = unique("orga")
            cls.org_b = unique("orgb")
            cls.a_cli = cls._client(create_key(cls.admin, "org-admin", cls.org_a)[1])
            cls.b_cli = cls._client(create_key(cls.admin, "org-admin", cls.org_b)[1])
            cls.sub_cli = cls._client(create_key(cls.admin, "subscriber", cls.org_a)[1])
            cls.owner_cli = cls._client(create_key(cls.admin, "schema-owner")[1])
            cls.conn_x = create_connector(cls.isv_cli, cls.isv,
                                          types=(TYPE_CUSTOMER, TYPE_PRODUCT, TYPE_CONTRACT))
            cls.conn_y = create_connector(cls.isv_cli, cls.isv, types=(TYPE_CUSTOMER,))
            # an ISV-offered action every org may use
            cls.isv_action = cls.isv_cli.connectors.CreateAction(pb.CreateActionRequest(
                action=http_action(unique("isv-act"), signing_secret=SIGNING_SECRET)))
            # routing tests observe deliveries before anything sends them: a STREAM action
            # with no subscriber keeps them PENDING (the dispatcher leaves STREAM alone)
            cls.route_action = cls.isv_cli.connectors.CreateAction(pb.CreateActionRequest(
                action=pb.Action(name=unique("route-act"), kind=pb.STREAM)))
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

    def create_action(self, cli, action):
        return cli.connectors.CreateAction(pb.CreateActionRequest(action=action))

    def get_action(self, cli, name):
        return cli.connectors.GetAction(pb.GetActionRequest(name=name))

    def list_actions(self, cli, isv="", org=""):
        return list(cli.connectors.ListActions(pb.ListActionsRequest(isv=isv, org=org)).actions)

    def connection(self, org, connector, action, name=None, **kw):
        c = pb.Connection(org=org, name=name or unique("c"), connector=connector, action=action,
                          pattern=kw.get("pattern", ""), state=kw.get("state", 0))
        c.event_types.extend(kw.get("event_types", ()))
        if kw.get("transform") is not None:
            c.transform.CopyFrom(kw["transform"])
        if kw.get("retry") is not None:
            c.retry.CopyFrom(kw["retry"])
        for f in ("dead_letter", "ordering", "rate_limit_per_second", "fault_tolerance",
                  "max_concurrency"):
            if f in kw:
                setattr(c, f, kw[f])
        return c

    def create_connection(self, cli, conn):
        return cli.connectors.CreateConnection(pb.CreateConnectionRequest(connection=conn))

    def get_connection(self, cli, id_):
        return cli.connectors.GetConnection(pb.GetConnectionRequest(id=id_))

    def org_action(self, cli, org):
        """A STREAM action owned by org (created with that org's admin client)."""
        return self.create_action(cli, pb.Action(name=unique("org-act"), kind=pb.STREAM,
                                                 org=org)).name

    def assertInvalid(self, fn, req, *needles, what=""):
        """INVALID_ARGUMENT whose details contain every needle."""
        code, details = rpc_code(fn, req)
        self.assertEqual(code, INVALID, "%s: expected INVALID_ARGUMENT, got %s: %s"
                         % (what, code, str(details)[:1500]))
        for n in needles:
            self.assertIn(n, details, "%s: the error message %r should mention %r"
                          % (what, details, n))
        return details

    def invalid_problem(self, fn, req, *needles, what=""):
        """None when fn(req) fails with INVALID_ARGUMENT whose details contain every needle,
        else a description of what went wrong (for tables that report every case)."""
        code, details = rpc_code(fn, req)
        if code != INVALID:
            return "%s: expected INVALID_ARGUMENT, got %s: %s" % (what, code,
                                                                  str(details)[:300])
        missing = [n for n in needles if n not in details]
        if missing:
            return "%s: the message %r does not name %s" % (what, details,
                                                            " / ".join(map(repr, missing)))
        return None

    def assertNoSecrets(self, msg, what):
        raw = msg.SerializeToString()
        for s in ALL_SECRETS:
            self.assertNotIn(s.encode(), raw, "%s: secret %r is in the response: %s"
                             % (what, s, msg))


# =========================================================================================
# actions
# =========================================================================================

class ActionTest(ConnectionsBase):

    def test_http_action_crud_and_write_only_secrets(self):
        name = unique("http-act")
        auth = pb.HttpAuth(kind=pb.HTTP_AUTH_BEARER, token=BEARER_TOKEN)
        a = self.create_action(self.isv_cli, http_action(
            name, url="https://hooks.example.com/in?x=1", method="PUT",
            headers={"X-Tenant": "t1", "X-Trace": "on"}, content_mode=pb.STRUCTURED,
            timeout_ms=5000, signing_secret=SIGNING_SECRET, auth=auth,
            description="CRM to accounting"))
        self.assertEqual(a.name, name)
        self.assertEqual(a.isv, self.isv, "an isv key's action defaults to its ISV: %s" % a)
        self.assertEqual(a.org, "")
        self.assertEqual(a.kind, pb.HTTP)
        self.assertEqual(a.http.url, "https://hooks.example.com/in?x=1")
        self.assertEqual(a.http.method, "PUT")
        self.assertEqual(dict(a.http.headers), {"X-Tenant": "t1", "X-Trace": "on"})
        self.assertEqual(a.http.content_mode, pb.STRUCTURED)
        self.assertEqual(a.http.timeout_ms, 5000)
        self.assertEqual(a.description, "CRM to accounting")
        self.assertTrue(a.create_time and a.update_time, "times missing: %s" % a)
        self.assertEqual(a.http.signing_secret, "", "signing_secret is write-only")
        self.assertTrue(a.http.has_signing_secret, "has_signing_secret must report it: %s" % a)
        self.assertEqual(a.http.auth.kind, pb.HTTP_AUTH_BEARER)
        self.assertEqual(a.http.auth.token, "", "the bearer token is write-only")
        self.assertNoSecrets(a, "CreateAction")

        for what, cli in (("isv", self.isv_cli), ("admin", self.admin),
                          ("org-admin (ISV-offered)", self.a_cli)):
            g = self.get_action(cli, name)
            self.assertEqual(g.name, name, what)
            self.assertEqual(g.http.url, a.http.url, what)
            self.assertTrue(g.http.has_signing_secret, "%s: %s" % (what, g))
            self.assertEqual(g.http.signing_secret, "", what)
            self.assertEqual(g.http.auth.token, "", what)
            self.assertNoSecrets(g, "GetAction as %s" % what)
        listed = {x.name: x for x in self.list_actions(self.isv_cli)}
        self.assertIn(name, listed, "ListActions (isv) misses %s" % name)
        for x in listed.values():
            self.assertNoSecrets(x, "ListActions")
        listed_admin = self.admin.connectors.ListActions(pb.ListActionsRequest(isv=self.isv))
        self.assertNoSecrets(listed_admin, "ListActions(admin)")
        self.assertIn(name, [x.name for x in listed_admin.actions])

        # Update that leaves the secrets empty keeps them (bearer auth needs a token: the
        # stored one is kept, so this succeeds).
        upd = http_action(name, url="https://hooks.example.com/v2", method="POST",
                          headers={"X-Tenant": "t2"}, auth=pb.HttpAuth(kind=pb.HTTP_AUTH_BEARER),
                          description="changed")
        u = self.isv_cli.connectors.UpdateAction(pb.UpdateActionRequest(action=upd))
        self.assertEqual(u.http.url, "https://hooks.example.com/v2")
        self.assertEqual(u.http.method, "POST")
        self.assertEqual(dict(u.http.headers), {"X-Tenant": "t2"})
        self.assertEqual(u.description, "changed")
        self.assertEqual(u.isv, self.isv, "the owner stays: %s" % u)
        self.assertTrue(u.http.has_signing_secret,
                        "an update with an empty signing_secret must keep the stored one: %s" % u)
        self.assertEqual(u.http.auth.kind, pb.HTTP_AUTH_BEARER)
        self.assertNoSecrets(u, "UpdateAction")
        g = self.get_action(self.isv_cli, name)
        self.assertTrue(g.http.has_signing_secret, "Get after update: %s" % g)
        self.assertEqual(g.description, "changed")

        # a new secret replaces it; still write-only
        upd.http.signing_secret = SIGNING_SECRET_2
        u = self.isv_cli.connectors.UpdateAction(pb.UpdateActionRequest(action=upd))
        self.assertTrue(u.http.has_signing_secret)
        self.assertNoSecrets(u, "UpdateAction(new secret)")

        # the owner cannot change
        bad = http_action(name, org=self.org_a)
        self.assertInvalid(self.admin.connectors.UpdateAction, pb.UpdateActionRequest(action=bad),
                           what="UpdateAction changing the owner")
        # update of a missing action
        code, det = rpc_code(self.isv_cli.connectors.UpdateAction,
                             pb.UpdateActionRequest(action=http_action(unique("nope"))))
        self.assertEqual(code, NOT_FOUND, "UpdateAction of a missing action: %s %s" % (code, det))

        # duplicate name
        code, det = rpc_code(self.create_action, self.isv_cli, http_action(name))
        self.assertEqual(code, EXISTS, "duplicate CreateAction: %s %s" % (code, det))

        # delete
        self.isv_cli.connectors.DeleteAction(pb.DeleteActionRequest(name=name))
        self.assertRpcError(NOT_FOUND, self.get_action, self.isv_cli, name)
        self.assertRpcError(NOT_FOUND, self.isv_cli.connectors.DeleteAction,
                            pb.DeleteActionRequest(name=name))
        self.assertNotIn(name, [x.name for x in self.list_actions(self.isv_cli)])
        # nor in the server's output
        log = self.server.log_text(limit=10 ** 7)
        for secret in ALL_SECRETS:
            self.assertNotIn(secret, log, "a secret is in the server's log")

    def test_basic_and_api_key_auth_are_write_only(self):
        n1 = unique("basic")
        a = self.create_action(self.isv_cli, http_action(
            n1, auth=pb.HttpAuth(kind=pb.HTTP_AUTH_BASIC, username="crm",
                                 password=BASIC_PASSWORD)))
        self.assertEqual(a.http.auth.kind, pb.HTTP_AUTH_BASIC)
        self.assertEqual(a.http.auth.username, "crm", "the username is not a secret")
        self.assertEqual(a.http.auth.password, "")
        self.assertFalse(a.http.has_signing_secret, "no secret was given: %s" % a)
        self.assertNoSecrets(a, "CreateAction(basic)")
        self.assertNoSecrets(self.get_action(self.admin, n1), "GetAction(basic)")

        n2 = unique("apikey")
        a = self.create_action(self.isv_cli, http_action(
            n2, auth=pb.HttpAuth(kind=pb.HTTP_AUTH_API_KEY, header="X-Api-Key",
                                 api_key=API_KEY_VALUE)))
        self.assertEqual(a.http.auth.kind, pb.HTTP_AUTH_API_KEY)
        self.assertEqual(a.http.auth.header, "X-Api-Key")
        self.assertEqual(a.http.auth.api_key, "")
        self.assertNoSecrets(a, "CreateAction(api key)")
        g = self.get_action(self.isv_cli, n2)
        self.assertNoSecrets(g, "GetAction(api key)")
        # an update without the key keeps it (api-key auth needs one: success proves it)
        u = self.isv_cli.connectors.UpdateAction(pb.UpdateActionRequest(action=http_action(
            n2, auth=pb.HttpAuth(kind=pb.HTTP_AUTH_API_KEY, header="X-Api-Key"))))
        self.assertEqual(u.http.auth.api_key, "")
        self.assertNoSecrets(u, "UpdateAction(api key)")

    def test_robot_action_masks_token_and_secret(self):
        name = unique("robot")
        a = self.create_action(self.a_cli, robot_action(name))
        self.assertEqual(a.org, self.org_a, "an org-admin key's action defaults to its org: %s"
                         % a)
        self.assertEqual(a.isv, "")
        self.assertEqual(a.kind, pb.DINGTALK_ROBOT)
        self.assertEqual(a.robot.webhook_url,
                         "https://oapi.dingtalk.com/robot/send?access_token=***",
                         "the access_token must be masked")
        self.assertEqual(a.robot.secret, "", "the robot secret is write-only")
        self.assertTrue(a.robot.has_secret, "has_secret must report it: %s" % a)
        self.assertEqual(a.robot.message_type, pb.MARKDOWN)
        self.assertEqual(a.robot.title, "Customer ${name}")
        self.assertEqual(a.robot.template, "### ${name}\nstatus: ${status}")
        self.assertEqual(dict(a.robot.vars), {"name": "$.data.name", "status": "$.data.status"})
        self.assertEqual(list(a.robot.at_mobiles), ["13800000000"])
        self.assertNoSecrets(a, "CreateAction(robot)")
        g = self.get_action(self.a_cli, name)
        self.assertEqual(g.robot.webhook_url,
                         "https://oapi.dingtalk.com/robot/send?access_token=***")
        self.assertTrue(g.robot.has_secret)
        self.assertNoSecrets(g, "GetAction(robot)")
        for x in self.list_actions(self.a_cli):
            self.assertNoSecrets(x, "ListActions(org-admin)")

        # sending back what Get returned (masked URL, empty secret) keeps both
        g.robot.template = "changed ${name}"
        del g.robot.vars["status"]
        u = self.a_cli.connectors.UpdateAction(pb.UpdateActionRequest(action=g))
        self.assertEqual(u.robot.template, "changed ${name}")
        self.assertTrue(u.robot.has_secret, "an empty secret in an update keeps it: %s" % u)
        self.assertEqual(u.robot.webhook_url,
                         "https://oapi.dingtalk.com/robot/send?access_token=***")
        self.assertNoSecrets(u, "UpdateAction(robot)")

        # action card
        ac = self.create_action(self.a_cli, robot_action(
            unique("card"), message_type=pb.ACTION_CARD, single_title="Open",
            single_url="https://crm.example.com/c/1"))
        self.assertEqual(ac.robot.message_type, pb.ACTION_CARD)
        self.assertEqual(ac.robot.single_url, "https://crm.example.com/c/1")
        self.a_cli.connectors.DeleteAction(pb.DeleteActionRequest(name=ac.name))

    def test_stream_action_and_admin_owner(self):
        name = unique("stream")
        a = self.create_action(self.admin, pb.Action(name=name, kind=pb.STREAM, org=self.org_a,
                                                     description="internal"))
        self.assertEqual((a.org, a.isv, a.kind), (self.org_a, "", pb.STREAM))
        # admin must say who owns the action
        self.assertInvalid(self.admin.connectors.CreateAction, pb.CreateActionRequest(
            action=pb.Action(name=unique("s"), kind=pb.STREAM)),
            "action.isv", what="admin CreateAction without an owner")
        self.assertEqual(self.get_action(self.a_cli, name).org, self.org_a)
        self.a_cli.connectors.DeleteAction(pb.DeleteActionRequest(name=name))

    def test_action_scoping(self):
        own_a = self.create_action(self.a_cli, http_action(unique("a-own"),
                                                           signing_secret=SIGNING_SECRET))
        own_b = self.create_action(self.b_cli, http_action(unique("b-own")))
        isv2_act = self.create_action(self.isv2_cli, http_action(unique("isv2-act")))

        # org B never sees org A's action
        self.assertRpcError(NOT_FOUND, self.get_action, self.b_cli, own_a.name)
        self.assertRpcError(NOT_FOUND, self.b_cli.connectors.DeleteAction,
                            pb.DeleteActionRequest(name=own_a.name))
        code, det = rpc_code(self.b_cli.connectors.UpdateAction, pb.UpdateActionRequest(
            action=http_action(own_a.name, url="https://evil.example.com/")))
        self.assertNotEqual(code, OK, "org B updated org A's action")
        # checked at the end so that the rest of the scoping rules are checked too
        update_code, update_det = code, det
        b_names = [x.name for x in self.list_actions(self.b_cli)]
        self.assertNotIn(own_a.name, b_names, "ListActions (org B) shows org A's action")
        self.assertIn(own_b.name, b_names)
        self.assertIn(self.isv_action.name, b_names, "an org-admin sees ISV-offered actions")
        self.assertIn(isv2_act.name, b_names)
        b_names = [x.name for x in self.list_actions(self.b_cli, org=self.org_a)]
        self.assertNotIn(own_a.name, b_names, "ListActions(org=A) as org B shows A's action")
        a_names = [x.name for x in self.list_actions(self.a_cli)]
        self.assertIn(own_a.name, a_names)
        self.assertNotIn(own_b.name, a_names)
        # A's action is untouched
        g = self.get_action(self.a_cli, own_a.name)
        self.assertEqual(g.http.url, own_a.http.url, "org A's action changed: %s" % g)

        # org-admins may read, not change, ISV-offered actions
        self.assertEqual(self.get_action(self.a_cli, self.isv_action.name).isv, self.isv)
        self.assertRpcError(DENIED, self.a_cli.connectors.UpdateAction, pb.UpdateActionRequest(
            action=http_action(self.isv_action.name, url="https://evil.example.com/")))
        self.assertRpcError(DENIED, self.a_cli.connectors.DeleteAction,
                            pb.DeleteActionRequest(name=self.isv_action.name))
        self.assertEqual(self.get_action(self.isv_cli, self.isv_action.name).http.url,
                         self.isv_action.http.url)

        # an isv key sees its own actions only
        self.assertRpcError(NOT_FOUND, self.get_action, self.isv_cli, own_a.name)
        self.assertRpcError(NOT_FOUND, self.get_action, self.isv_cli, isv2_act.name)
        self.assertRpcError(NOT_FOUND, self.isv_cli.connectors.DeleteAction,
                            pb.DeleteActionRequest(name=isv2_act.name))
        isv_names = [x.name for x in self.list_actions(self.isv_cli)]
        self.assertNotIn(own_a.name, isv_names)
        self.assertNotIn(isv2_act.name, isv_names)
        self.assertIn(self.isv_action.name, isv_names)

        # creating for someone else
        self.assertRpcError(DENIED, self.create_action, self.isv_cli,
                            http_action(unique("x"), isv=self.isv2))
        self.assertRpcError(DENIED, self.create_action, self.isv_cli,
                            http_action(unique("x"), org=self.org_a))
        self.assertRpcError(DENIED, self.create_action, self.a_cli,
                            http_action(unique("x"), org=self.org_b))
        self.assertRpcError(DENIED, self.create_action, self.a_cli,
                            http_action(unique("x"), isv=self.isv))
        for what, cli in (("subscriber", self.sub_cli), ("schema-owner", self.owner_cli)):
            code, det = rpc_code(self.create_action, cli, http_action(unique("x"),
                                                                      org=self.org_a))
            self.assertEqual(code, DENIED, "%s CreateAction: %s %s" % (what, code, det))
        nokey = Client(self.server.target, None)
        self.addCleanup(nokey.close)
        self.assertRpcError(UNAUTH, self.get_action, nokey, own_a.name)

        self.assertEqual(update_code, NOT_FOUND,
                         "org B's UpdateAction of org A's action: expected NOT_FOUND as for "
                         "Get/Delete (another org's action is invisible; the answer must not "
                         "reveal that it exists nor which org owns it), got %s: %s"
                         % (update_code, update_det))
        self.assertNotIn(self.org_a, update_det or "",
                         "org B's refused UpdateAction names the owning org A")

    def test_delete_refused_while_used(self):
        act = self.create_action(self.a_cli, http_action(unique("used")))
        c = self.create_connection(self.a_cli, self.connection(self.org_a, self.conn_x.name,
                                                               act.name))
        e = self.assertRpcError(PRECOND, self.a_cli.connectors.DeleteAction,
                                pb.DeleteActionRequest(name=act.name))
        self.assertIn(act.name, e.details())
        self.assertEqual(self.get_action(self.a_cli, act.name).name, act.name)
        self.a_cli.connectors.DeleteConnection(pb.DeleteConnectionRequest(id=c.id))
        self.a_cli.connectors.DeleteAction(pb.DeleteActionRequest(name=act.name))
        self.assertRpcError(NOT_FOUND, self.get_action, self.a_cli, act.name)

    def test_invalid_actions(self):
        B = pb.HttpAuth

        def h(**kw):
            return http_action(unique("bad"), **kw)

        short_secret = "whsec_" + base64.b64encode(b"only8byt").decode()
        cases = [
            ("name with capitals", pb.Action(name="Bad_Name", kind=pb.STREAM), "action.name"),
            ("name too long", pb.Action(name="a" * 65, kind=pb.STREAM), "action.name"),
            ("empty name", pb.Action(name="", kind=pb.STREAM), "action.name"),
            ("ftp url", h(url="ftp://files.example.com/x"), "action.http.url"),
            ("url without host", h(url="https://"), "action.http.url"),
            ("not a url", h(url="hooks.example.com"), "action.http.url"),
            ("url with a space", h(url="https://a.example.com/x y"), "action.http.url"),
            ("method GET", h(method="GET"), "action.http.method"),
            ("method lower-case post", h(method="post"), "action.http.method"),
            ("header ce-id", h(headers={"ce-id": "1"}), "action.http.headers"),
            ("header CE-Type", h(headers={"CE-Type": "x"}), "action.http.headers"),
            ("header content-type", h(headers={"Content-Type": "text/plain"}),
             "action.http.headers"),
            ("header authorization", h(headers={"Authorization": "Bearer x"}),
             "action.http.headers"),
            ("header webhook-signature", h(headers={"webhook-signature": "v1,x"}),
             "action.http.headers"),
            ("header webhook-id", h(headers={"Webhook-Id": "x"}), "action.http.headers"),
            ("header with CRLF value", h(headers={"X-A": "a\r\nX-B: b"}), "action.http.headers"),
            ("header bad name", h(headers={"X A": "1"}), "action.http.headers"),
            ("timeout over 120000", h(timeout_ms=120001), "action.http.timeout_ms"),
            ("negative timeout", h(timeout_ms=-1), "action.http.timeout_ms"),
            ("secret without prefix", h(signing_secret="c2VjcmV0c2VjcmV0c2VjcmV0"),
             "action.http.signing_secret"),
            ("secret not base64", h(signing_secret="whsec_!!!!not-base64!!!!"),
             "action.http.signing_secret"),
            ("secret under 16 bytes", h(signing_secret=short_secret),
             "action.http.signing_secret"),
            ("basic without username", h(auth=B(kind=pb.HTTP_AUTH_BASIC, password="x")),
             "action.http.auth"),
            ("bearer without token", h(auth=B(kind=pb.HTTP_AUTH_BEARER)), "action.http.auth"),
            ("api key without header", h(auth=B(kind=pb.HTTP_AUTH_API_KEY, api_key="k")),
             "action.http.auth"),
            ("api key in a reserved header",
             h(auth=B(kind=pb.HTTP_AUTH_API_KEY, header="Authorization", api_key="k")),
             "action.http.auth"),
            ("unknown auth kind", h(auth=B(kind=77)), "action.http.auth"),
            ("http kind without http", pb.Action(name=unique("bad"), kind=pb.HTTP),
             "action.http"),
            ("robot without template", robot_action(unique("bad"), template=""),
             "action.robot.template"),
            ("robot with a bad url", robot_action(unique("bad"), webhook_url="oapi.dingtalk.com"),
             "action.robot.webhook_url"),
            ("markdown robot without title", robot_action(unique("bad"), title=""),
             "action.robot.title"),
            ("action card without single_url",
             robot_action(unique("bad"), message_type=pb.ACTION_CARD, single_title="Open"),
             "action.robot.single_url"),
            ("robot unknown message type", robot_action(unique("bad"), message_type=9),
             "action.robot.message_type"),
            ("robot var not a JSONPath", robot_action(unique("bad"), vars={"name": "data.name"}),
             "action.robot.vars"),
            ("robot kind without robot", pb.Action(name=unique("bad"), kind=pb.DINGTALK_ROBOT),
             "action.robot"),
            ("unspecified kind", pb.Action(name=unique("bad")), "action.kind"),
            ("unknown kind", pb.Action(name=unique("bad"), kind=42), "action.kind"),
            ("both isv and org", pb.Action(name=unique("bad"), kind=pb.STREAM, isv=self.isv,
                                           org=self.org_a), "action.isv"),
            ("description too long", pb.Action(name=unique("bad"), kind=pb.STREAM,
                                               description="d" * 1025), "action.description"),
        ]
        problems = []
        for what, action, field in cases:
            # the admin key (with an owner when the case has none) so that only the
            # checked field is wrong
            if not action.isv and not action.org:
                action.org = self.org_a
            problems.append(self.invalid_problem(
                self.admin.connectors.CreateAction, pb.CreateActionRequest(action=action),
                field, what="CreateAction %s" % what))
            if re.fullmatch(r"[a-z0-9-]{1,64}", action.name):
                code, _ = rpc_code(self.get_action, self.admin, action.name)
                if code != NOT_FOUND:
                    problems.append("CreateAction %s: the refused action exists (%s)"
                                    % (what, code))
        problems = [p for p in problems if p]
        if problems:
            self.fail("invalid actions (INVALID_ARGUMENT naming the field), %d problem(s):"
                      "\n  %s" % (len(problems), "\n  ".join(problems)))
        # the same checks apply to updates
        name = unique("upd")
        self.create_action(self.a_cli, http_action(name))
        self.assertInvalid(self.a_cli.connectors.UpdateAction,
                           pb.UpdateActionRequest(action=http_action(name, method="DELETE")),
                           "action.http.method", what="UpdateAction method DELETE")
        self.assertInvalid(self.a_cli.connectors.UpdateAction,
                           pb.UpdateActionRequest(action=http_action(name, url="gopher://x")),
                           "action.http.url", what="UpdateAction gopher url")
        self.assertEqual(self.get_action(self.a_cli, name).http.method, "POST",
                         "a refused update must not change the action")
        self.assertInvalid(self.admin.connectors.CreateAction, pb.CreateActionRequest(),
                           "action", what="CreateAction without action")


# =========================================================================================
# connections
# =========================================================================================

class ConnectionTest(ConnectionsBase):

    def test_connection_crud(self):
        act = self.org_action(self.a_cli, self.org_a)
        name = unique("Crm.to_Acct")
        tr = pb.Transform(mode=pb.TEMPLATE, value='{"who":"${n}"}')
        tr.vars["n"] = "$.data.name"
        retry = pb.RetryPolicy(strategy=pb.EXPONENTIAL_DECAY_RETRY, max_attempts=10,
                               max_age_seconds=3600)
        pattern = json.dumps({"data": {"amount": [{"numeric": [">", 100]}]}})
        c = self.create_connection(self.a_cli, self.connection(
            "", self.conn_x.name, act, name=name, event_types=[TYPE_CUSTOMER, TYPE_PRODUCT],
            pattern=pattern, transform=tr, retry=retry, dead_letter=True,
            ordering=pb.PER_SUBJECT, rate_limit_per_second=12.5,
            fault_tolerance=pb.FAULT_TOLERANCE_NONE, max_concurrency=4))
        self.assertTrue(c.id, "no id: %s" % c)
        self.assertEqual(c.org, self.org_a, "an org-admin's connection defaults to its org")
        self.assertEqual(c.name, name)
        self.assertEqual(c.connector, self.conn_x.name)
        self.assertEqual(list(c.event_types), [TYPE_CUSTOMER, TYPE_PRODUCT])
        self.assertEqual(json.loads(c.pattern), json.loads(pattern))
        self.assertEqual(c.transform.mode, pb.TEMPLATE)
        self.assertEqual(c.transform.value, '{"who":"${n}"}')
        self.assertEqual(dict(c.transform.vars), {"n": "$.data.name"})
        self.assertEqual(c.action, act)
        self.assertEqual(c.retry.strategy, pb.EXPONENTIAL_DECAY_RETRY)
        self.assertEqual(c.retry.max_attempts, 10)
        self.assertEqual(c.retry.max_age_seconds, 3600)
        self.assertTrue(c.dead_letter)
        self.assertEqual(c.ordering, pb.PER_SUBJECT)
        self.assertAlmostEqual(c.rate_limit_per_second, 12.5)
        self.assertEqual(c.fault_tolerance, pb.FAULT_TOLERANCE_NONE)
        self.assertEqual(c.max_concurrency, 4)
        self.assertEqual(c.state, pb.ENABLED, "a new connection is ENABLED")
        self.assertTrue(c.create_time and c.update_time)

        g = self.get_connection(self.a_cli, c.id)
        self.assertEqual(g, c, "Get differs from Create:\n%s\nvs\n%s" % (g, c))
        self.assertEqual(self.get_connection(self.admin, c.id).id, c.id)

        lst = self.a_cli.connectors.ListConnections(pb.ListConnectionsRequest())
        self.assertIn(c.id, [x.id for x in lst.connections], "ListConnections (own org)")
        for x in lst.connections:
            self.assertEqual(x.org, self.org_a, "ListConnections shows another org's: %s" % x)
        lst = self.a_cli.connectors.ListConnections(pb.ListConnectionsRequest(
            org=self.org_a, connector=self.conn_y.name))
        self.assertNotIn(c.id, [x.id for x in lst.connections], "connector filter ignored")
        lst = self.admin.connectors.ListConnections(pb.ListConnectionsRequest(
            org=self.org_a, connector=self.conn_x.name))
        self.assertIn(c.id, [x.id for x in lst.connections])

        # update replaces the settings
        upd = self.connection("", self.conn_x.name, self.isv_action.name, name=name,
                              event_types=[TYPE_CONTRACT],
                              pattern='{"subject":[{"prefix":"cus_"}]}')
        upd.id = c.id
        u = self.a_cli.connectors.UpdateConnection(pb.UpdateConnectionRequest(connection=upd))
        self.assertEqual(u.id, c.id)
        self.assertEqual(u.org, self.org_a)
        self.assertEqual(list(u.event_types), [TYPE_CONTRACT])
        self.assertEqual(json.loads(u.pattern), {"subject": [{"prefix": "cus_"}]})
        self.assertEqual(u.action, self.isv_action.name, "an ISV-offered action is usable")
        self.assertIn(u.transform.mode, (pb.ORIGINAL, pb.TRANSFORM_MODE_UNSPECIFIED))
        self.assertEqual(u.state, pb.ENABLED)
        self.assertEqual(self.get_connection(self.a_cli, c.id), u)

        # pause / resume
        p = self.a_cli.connectors.PauseConnection(pb.PauseConnectionRequest(id=c.id))
        self.assertEqual(p.state, pb.PAUSED)
        self.assertEqual(self.get_connection(self.a_cli, c.id).state, pb.PAUSED)
        r = self.a_cli.connectors.ResumeConnection(pb.ResumeConnectionRequest(id=c.id))
        self.assertEqual(r.state, pb.ENABLED)

        # created paused
        cp = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, act, state=pb.PAUSED))
        self.assertEqual(cp.state, pb.PAUSED)
        # checked at the end (the message must name the field)
        disabled_problem = self.invalid_problem(
            self.a_cli.connectors.CreateConnection, pb.CreateConnectionRequest(
                connection=self.connection(self.org_a, self.conn_x.name, act,
                                           state=pb.DISABLED)),
            "connection.state", what="CreateConnection DISABLED")
        if disabled_problem and "INVALID_ARGUMENT" in disabled_problem:
            self.fail(disabled_problem)

        # delete
        for cid in (c.id, cp.id):
            self.a_cli.connectors.DeleteConnection(pb.DeleteConnectionRequest(id=cid))
            self.assertRpcError(NOT_FOUND, self.get_connection, self.a_cli, cid)
        self.assertRpcError(NOT_FOUND, self.a_cli.connectors.DeleteConnection,
                            pb.DeleteConnectionRequest(id=c.id))
        self.assertRpcError(NOT_FOUND, self.a_cli.connectors.PauseConnection,
                            pb.PauseConnectionRequest(id=c.id))
        lst = self.a_cli.connectors.ListConnections(pb.ListConnectionsRequest())
        self.assertNotIn(c.id, [x.id for x in lst.connections])
        if disabled_problem:
            self.fail(disabled_problem)

    def test_names_unique_per_org(self):
        name = unique("same")
        ca = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, self.isv_action.name, name=name))
        cb = self.create_connection(self.b_cli, self.connection(
            self.org_b, self.conn_x.name, self.isv_action.name, name=name))
        self.assertNotEqual(ca.id, cb.id)
        self.assertRpcError(EXISTS, self.create_connection, self.a_cli, self.connection(
            self.org_a, self.conn_y.name, self.isv_action.name, name=name))
        # renaming onto an existing name is refused as well
        other = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, self.isv_action.name))
        other.name = name
        self.assertRpcError(EXISTS, self.a_cli.connectors.UpdateConnection,
                            pb.UpdateConnectionRequest(connection=other))

    def test_connection_scoping(self):
        c = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, self.isv_action.name))
        b = self.b_cli.connectors
        self.assertRpcError(NOT_FOUND, b.GetConnection, pb.GetConnectionRequest(id=c.id))
        self.assertRpcError(NOT_FOUND, b.DeleteConnection, pb.DeleteConnectionRequest(id=c.id))
        self.assertRpcError(NOT_FOUND, b.PauseConnection, pb.PauseConnectionRequest(id=c.id))
        self.assertRpcError(NOT_FOUND, b.ResumeConnection, pb.ResumeConnectionRequest(id=c.id))
        for org in ("", self.org_a):  # with or without saying the org
            upd = self.connection(org, self.conn_x.name, self.isv_action.name, name="hijack")
            upd.id = c.id
            self.assertRpcError(NOT_FOUND, b.UpdateConnection,
                                pb.UpdateConnectionRequest(connection=upd))
        self.assertRpcError(DENIED, b.ListConnections, pb.ListConnectionsRequest(org=self.org_a))
        self.assertRpcError(DENIED, self.create_connection, self.b_cli, self.connection(
            self.org_a, self.conn_x.name, self.isv_action.name))
        lst = b.ListConnections(pb.ListConnectionsRequest())
        self.assertNotIn(c.id, [x.id for x in lst.connections])
        # other roles
        for what, cli in (("isv", self.isv_cli), ("subscriber", self.sub_cli),
                          ("schema-owner", self.owner_cli)):
            code, det = rpc_code(cli.connectors.GetConnection, pb.GetConnectionRequest(id=c.id))
            self.assertIn(code, (DENIED, NOT_FOUND), "%s GetConnection: %s %s" % (what, code,
                                                                                  det))
            code, det = rpc_code(cli.connectors.ListConnections,
                                 pb.ListConnectionsRequest(org=self.org_a))
            self.assertEqual(code, DENIED, "%s ListConnections: %s %s" % (what, code, det))
            code, det = rpc_code(self.create_connection, cli, self.connection(
                self.org_a, self.conn_x.name, self.isv_action.name))
            self.assertEqual(code, DENIED, "%s CreateConnection: %s %s" % (what, code, det))
        # untouched
        g = self.get_connection(self.a_cli, c.id)
        self.assertEqual(g, c, "org A's connection changed:\n%s\nvs\n%s" % (g, c))

    def test_references_checked(self):
        a_act = self.org_action(self.a_cli, self.org_a)
        b_act = self.org_action(self.b_cli, self.org_b)
        cases = [
            ("unknown connector", self.connection(self.org_a, unique("noconn"), a_act),
             "connection.connector"),
            ("bad connector name", self.connection(self.org_a, "Bad Name", a_act),
             "connection.connector"),
            ("unknown action", self.connection(self.org_a, self.conn_x.name, unique("noact")),
             "connection.action"),
            ("another org's action", self.connection(self.org_a, self.conn_x.name, b_act),
             "connection.action"),
            ("undeclared event type", self.connection(
                self.org_a, self.conn_y.name, a_act, event_types=[TYPE_PRODUCT]),
             "connection.event_types"),
            ("bad name", self.connection(self.org_a, self.conn_x.name, a_act, name="a b"),
             "connection.name"),
            ("name too long", self.connection(self.org_a, self.conn_x.name, a_act,
                                              name="n" * 65), "connection.name"),
            ("unknown retry strategy", self.connection(
                self.org_a, self.conn_x.name, a_act, retry=pb.RetryPolicy(strategy=9)),
             "connection.retry"),
            ("jitter over 1", self.connection(
                self.org_a, self.conn_x.name, a_act,
                retry=pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=3, base_delay_ms=10,
                                     max_delay_ms=100, jitter=1.5)), "connection.retry"),
            ("negative rate", self.connection(self.org_a, self.conn_x.name, a_act,
                                              rate_limit_per_second=-1.0),
             "connection.rate_limit_per_second"),
            ("max_concurrency too high", self.connection(self.org_a, self.conn_x.name, a_act,
                                                         max_concurrency=100000),
             "connection.max_concurrency"),
        ]
        problems = [self.invalid_problem(self.a_cli.connectors.CreateConnection,
                                         pb.CreateConnectionRequest(connection=conn), field,
                                         what="CreateConnection %s" % what)
                    for what, conn, field in cases]
        problems = [p for p in problems if p]
        if problems:
            self.fail("invalid connections (INVALID_ARGUMENT naming the field), %d problem(s):"
                      "\n  %s" % (len(problems), "\n  ".join(problems)))
        # admin has to name the org
        code, det = rpc_code(self.create_connection, self.admin, self.connection(
            "", self.conn_x.name, self.isv_action.name))
        self.assertEqual(code, INVALID, "admin CreateConnection without org: %s %s"
                         % (code, det))
        # the admin may use an org's own action for that org
        c = self.create_connection(self.admin, self.connection(self.org_b, self.conn_x.name,
                                                               b_act))
        self.assertEqual(c.org, self.org_b)

    def test_invalid_patterns(self):
        """Invalid patterns: INVALID_ARGUMENT naming the path and the rule, both in
        CreateConnection and in TestEventPattern."""
        act = self.isv_action.name
        big = {"data": {"f%d" % i: ["value-%04d" % i] for i in range(300)}}
        cases = [
            ("empty value list", {"data": {"status": []}}, ["/data/status", "empty"]),
            ("unknown operator", {"data": {"status": [{"startswith": "a"}]}},
             ["/data/status", "unknown operator"]),
            ("numeric with a string bound", {"data": {"amount": [{"numeric": [">", "1"]}]}},
             ["/data/amount", "numeric"]),
            ("numeric with an unknown comparison",
             {"data": {"amount": [{"numeric": ["~", 1]}]}}, ["/data/amount", "numeric"]),
            ("numeric range upside down",
             {"data": {"amount": [{"numeric": [">", 10, "<", 5]}]}},
             ["/data/amount", "lower bound"]),
            ("bad cidr", {"data": {"ip": [{"cidr": "10.0.0.0/33"}]}}, ["/data/ip", "cidr"]),
            ("cidr not an address", {"data": {"ip": [{"cidr": "not-an-ip"}]}},
             ["/data/ip", "cidr"]),
            ("** wildcard", {"data": {"name": [{"wildcard": "a**b"}]}},
             ["/data/name", "wildcard"]),
            ("$or with one element", {"$or": [{"type": ["a"]}]}, ["$or"]),
            ("$or not an array", {"$or": {"type": ["a"]}}, ["$or"]),
            ("empty anything-but list", {"type": [{"anything-but": []}]},
             ["/type", "anything-but"]),
            ("exists not a boolean", {"subject": [{"exists": "yes"}]}, ["/subject", "exists"]),
            ("leaf not an array", {"type": "com.example"}, ["/type"]),
            ("over 4 KiB", big, ["4096"]),
            ("not a JSON object", ["a"], ["object"]),
        ]
        self.assertGreater(len(json.dumps(big)), 4096)
        for what, pattern, needles in cases:
            text = json.dumps(pattern)
            conn = self.connection(self.org_a, self.conn_x.name, act, pattern=text)
            self.assertInvalid(self.a_cli.connectors.CreateConnection,
                               pb.CreateConnectionRequest(connection=conn),
                               "connection.pattern", *needles,
                               what="CreateConnection pattern %s" % what)
            self.assertInvalid(self.a_cli.connectors.TestEventPattern,
                               pb.TestEventPatternRequest(pattern=text, event='{"type":"x"}'),
                               *needles, what="TestEventPattern %s" % what)
        for what, text in (("malformed JSON", '{"type": ['),
                           ("duplicate keys", '{"type":["a"],"type":["b"]}')):
            conn = self.connection(self.org_a, self.conn_x.name, act, pattern=text)
            self.assertInvalid(self.a_cli.connectors.CreateConnection,
                               pb.CreateConnectionRequest(connection=conn), "connection.pattern",
                               what="CreateConnection pattern %s" % what)
        # an invalid pattern in an update is refused and the stored one stays
        c = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, act, pattern='{"type":["a"]}'))
        c.pattern = '{"type":[]}'
        self.assertInvalid(self.a_cli.connectors.UpdateConnection,
                           pb.UpdateConnectionRequest(connection=c), "connection.pattern",
                           what="UpdateConnection empty value list")
        self.assertEqual(json.loads(self.get_connection(self.a_cli, c.id).pattern),
                         {"type": ["a"]})
        # exactly at the limit is fine
        pad = 4096 - len(json.dumps({"data": {"x": [""]}}, separators=(",", ":")))
        at_limit = json.dumps({"data": {"x": ["y" * pad]}}, separators=(",", ":"))
        self.assertEqual(len(at_limit), 4096)
        self.create_connection(self.a_cli, self.connection(self.org_a, self.conn_x.name, act,
                                                           pattern=at_limit))

    def test_invalid_transforms(self):
        act = self.isv_action.name

        def t(mode, value="", **vars_):
            tr = pb.Transform(mode=mode, value=value)
            for k, v in vars_.items():
                tr.vars[k] = v
            return tr

        cases = [
            ("JSONPath without $", t(pb.JSONPATH, "data.name"), []),
            ("JSONPath wildcard", t(pb.JSONPATH, "$.data[*]"), []),
            ("JSONPath recursive descent", t(pb.JSONPATH, "$..name"), []),
            ("JSONPath filter", t(pb.JSONPATH, "$.data[?(@.a)]"), []),
            ("empty JSONPath", t(pb.JSONPATH, ""), []),
            ("undefined template var", t(pb.TEMPLATE, "Hello ${who}"), ["who"]),
            ("unused template var", t(pb.TEMPLATE, "Hello", who="$.data.name"), ["who"]),
            ("bad var path", t(pb.TEMPLATE, "Hello ${who}", who="$..x"), ["who"]),
            ("template starting like JSON", t(pb.TEMPLATE, '{"a": ${x}', x="$.id"), []),
            ("constant starting like JSON", t(pb.CONSTANT, "{not json"), []),
            ("value over 10240 chars", t(pb.CONSTANT, "x" * 10241), ["10240"]),
            ("value for DATA", t(pb.DATA, "$.data"), []),
            ("unknown mode", t(17), []),
        ]
        for what, tr, needles in cases:
            conn = self.connection(self.org_a, self.conn_x.name, act, transform=tr)
            self.assertInvalid(self.a_cli.connectors.CreateConnection,
                               pb.CreateConnectionRequest(connection=conn),
                               "connection.transform", *needles,
                               what="CreateConnection transform %s" % what)
        # 10,240 characters is the limit
        ok = self.create_connection(self.a_cli, self.connection(
            self.org_a, self.conn_x.name, act, transform=t(pb.CONSTANT, "x" * 10240)))
        self.assertEqual(len(ok.transform.value), 10240)
        # characters, not bytes (transform.h: "Lengths count Unicode code points"; TestTransform
        # accepts the same value): 10,240 CJK characters (30,720 bytes of UTF-8)
        cjk = "\u4e2d" * 10240
        code, det = rpc_code(self.create_connection, self.a_cli, self.connection(
            self.org_a, self.conn_x.name, act, transform=t(pb.CONSTANT, cjk)))
        self.assertEqual(code, OK, "CreateConnection with a 10,240-character (30,720-byte) "
                         "CONSTANT: %s %s" % (code, det))
        self.assertEqual(det.transform.value, cjk)


# =========================================================================================
# TestEventPattern / TestTransform
# =========================================================================================

EVENT = {
    "specversion": "1.0",
    "id": "ev-1",
    "source": "/connectors/crm",
    "type": "com.example.crm.customer.changed",
    "subject": "cus_0042",
    "orgid": "org-1",
    "connector": "crm",
    "datacontenttype": "application/json",
    "data": {
        "name": "Acme Trading",
        "status": "Active",
        "amount": 250.5,
        "count": 3,
        "ip": "10.1.2.3",
        "ip6": "2001:db8::7",
        "tags": ["key-account", "vip"],
        "contacts": [{"name": "Li", "role": "buyer"}, {"name": "Wang", "role": "cfo"}],
        "note": None,
        "active": True,
        "quote": 'He said "hi"\n',
        "owner": {"id": "u_1"},
        "file": "report-2026.pdf",
    },
}


class TestRpcTest(ConnectionsBase):

    def match(self, pattern, event=EVENT, cli=None):
        cli = cli or self.a_cli
        r = cli.connectors.TestEventPattern(pb.TestEventPatternRequest(
            pattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            event=event if isinstance(event, str) else json.dumps(event)))
        return r.matched

    def transform(self, transform, event=EVENT, cli=None):
        cli = cli or self.a_cli
        r = cli.connectors.TestTransform(pb.TestTransformRequest(
            transform=transform if isinstance(transform, str) else json.dumps(transform),
            event=event if isinstance(event, str) else json.dumps(event)))
        return r.output

    def test_event_pattern_table(self):
        D = lambda **kw: {"data": kw}  # noqa: E731
        cases = [
            ("empty pattern matches all", {}, True),
            ("exact type", {"type": ["com.example.crm.customer.changed"]}, True),
            ("exact type, other", {"type": ["com.example.crm.product.changed"]}, False),
            ("OR within a list", {"type": ["x", "com.example.crm.customer.changed"]}, True),
            ("AND across fields", {"type": ["com.example.crm.customer.changed"],
                                   "subject": ["cus_9"]}, False),
            ("extension orgid", {"orgid": ["org-1"]}, True),
            ("nested exact", D(owner={"id": ["u_1"]}), True),
            ("dotted path == nested", {"data.owner.id": ["u_1"]}, True),
            ("prefix", {"subject": [{"prefix": "cus_"}]}, True),
            ("prefix miss", {"subject": [{"prefix": "prd_"}]}, False),
            ("empty prefix", {"subject": [{"prefix": ""}]}, True),
            ("suffix", D(file=[{"suffix": ".pdf"}]), True),
            ("suffix miss", D(file=[{"suffix": ".doc"}]), False),
            ("prefix ignore case", D(name=[{"prefix": {"equals-ignore-case": "ACME"}}]), True),
            ("equals-ignore-case", D(status=[{"equals-ignore-case": "ACTIVE"}]), True),
            ("equals-ignore-case miss", D(status=[{"equals-ignore-case": "inactive"}]), False),
            ("exact is case-sensitive", D(status=["active"]), False),
            ("anything-but string", D(status=[{"anything-but": "Closed"}]), True),
            ("anything-but same", D(status=[{"anything-but": "Active"}]), False),
            ("anything-but list", D(status=[{"anything-but": ["Closed", "Active"]}]), False),
            ("anything-but prefix", D(name=[{"anything-but": {"prefix": "Beta"}}]), True),
            ("anything-but prefix hit", D(name=[{"anything-but": {"prefix": "Acme"}}]), False),
            ("anything-but number", D(count=[{"anything-but": 4}]), True),
            ("anything-but on a missing field", D(missing=[{"anything-but": "x"}]), False),
            ("numeric >", D(amount=[{"numeric": [">", 100]}]), True),
            ("numeric > miss", D(amount=[{"numeric": [">", 300]}]), False),
            ("numeric range", D(amount=[{"numeric": [">=", 250.5, "<", 251]}]), True),
            ("numeric range miss", D(amount=[{"numeric": [">", 250.5, "<=", 300]}]), False),
            ("numeric =", D(count=[{"numeric": ["=", 3.0]}]), True),
            ("numeric on a string", D(name=[{"numeric": [">", 0]}]), False),
            ("exact number 3 == 3.0", D(count=[3.0]), True),
            ("string \"3\" is not 3", D(count=["3"]), False),
            ("exists true", D(status=[{"exists": True}]), True),
            ("exists true on null", D(note=[{"exists": True}]), True),
            ("exists false", D(missing=[{"exists": False}]), True),
            ("exists false on present", D(status=[{"exists": False}]), False),
            ("exists true on an object", D(owner=[{"exists": True}]), False),
            ("null", D(note=[None]), True),
            ("boolean", D(active=[True]), True),
            ("boolean miss", D(active=[False]), False),
            ("cidr v4", D(ip=[{"cidr": "10.1.0.0/16"}]), True),
            ("cidr v4 miss", D(ip=[{"cidr": "10.2.0.0/16"}]), False),
            ("cidr v6", D(ip6=[{"cidr": "2001:db8::/32"}]), True),
            ("cidr v6 on a v4 value", D(ip=[{"cidr": "2001:db8::/32"}]), False),
            ("wildcard", D(file=[{"wildcard": "report-*.pdf"}]), True),
            ("wildcard miss", D(file=[{"wildcard": "report-*.doc"}]), False),
            ("wildcard two stars", D(file=[{"wildcard": "*-*"}]), True),
            ("$or", {"$or": [{"subject": ["nope"]}, D(count=[3])]}, True),
            ("$or miss", {"$or": [{"subject": ["nope"]}, D(count=[4])]}, False),
            ("$or nested in data", D(**{"$or": [{"status": ["x"]}, {"name": ["Acme Trading"]}]}),
             True),
            ("array element", D(tags=["vip"]), True),
            ("array element miss", D(tags=["gold"]), False),
            ("array of objects", D(contacts={"role": ["cfo"]}), True),
            ("array of objects, fields not combined across elements",
             D(contacts={"name": ["Li"], "role": ["cfo"]}), False),
            ("array of objects, same element", D(contacts={"name": ["Li"], "role": ["buyer"]}),
             True),
            ("path to an object is not a value", D(owner=["u_1"]), False),
            ("missing field", D(missing=["x"]), False),
        ]
        fails = []
        for what, pattern, want in cases:
            code, got = rpc_code(self.match, pattern)
            if code != OK:
                fails.append("%s: %s -> %s %s" % (what, json.dumps(pattern), code, got))
            elif got != want:
                fails.append("%s: %s -> matched=%s, want %s" % (what, json.dumps(pattern), got,
                                                                want))
        self.assertEqual(fails, [], "TestEventPattern cases failed:\n  " + "\n  ".join(fails))

    def test_event_pattern_invalid_event(self):
        for what, ev in (("not JSON", "{"), ("array", "[1]"), ("string", '"x"'),
                         ("empty", "")):
            self.assertInvalid(self.a_cli.connectors.TestEventPattern,
                               pb.TestEventPatternRequest(pattern='{"type":["x"]}', event=ev),
                               "event", what="TestEventPattern event %s" % what)
        self.assertInvalid(self.a_cli.connectors.TestEventPattern,
                           pb.TestEventPatternRequest(pattern="", event="{}"),
                           what="TestEventPattern empty pattern text")

    def test_transform_table(self):
        def J(text):
            return json.loads(text)

        # (what, transform, event, expected output; compared as JSON unless a str is marked
        #  with raw=True)
        cases = [
            ("ORIGINAL", {"mode": "ORIGINAL"}, EVENT, EVENT, False),
            ("UNSPECIFIED is ORIGINAL", {}, EVENT, EVENT, False),
            ("DATA", {"mode": "DATA"}, EVENT, EVENT["data"], False),
            ("DATA without data", {"mode": "DATA"}, {"id": "1", "type": "t"}, None, False),
            ("JSONPATH string", {"mode": "JSONPATH", "value": "$.data.name"}, EVENT,
             "Acme Trading", False),
            ("JSONPATH object", {"mode": "JSONPATH", "value": "$.data.owner"}, EVENT,
             {"id": "u_1"}, False),
            ("JSONPATH index", {"mode": "JSONPATH", "value": "$.data.tags[1]"}, EVENT, "vip",
             False),
            ("JSONPATH negative index", {"mode": "JSONPATH", "value": "$.data.contacts[-1].name"},
             EVENT, "Wang", False),
            ("JSONPATH bracket name", {"mode": "JSONPATH", "value": "$['data']['count']"}, EVENT,
             3, False),
            ("JSONPATH number", {"mode": "JSONPATH", "value": "$.data.amount"}, EVENT, 250.5,
             False),
            ("JSONPATH missing gives null", {"mode": "JSONPATH", "value": "$.data.nope.deeper"},
             EVENT, None, False),
            ("JSONPATH index out of range", {"mode": "JSONPATH", "value": "$.data.tags[5]"},
             EVENT, None, False),
            ("JSONPATH mode by number", {"mode": 3, "value": "$.subject"}, EVENT, "cus_0042",
             False),
            ("JSONPATH root", {"mode": "JSONPATH", "value": "$"}, EVENT, EVENT, False),
            ("CONSTANT JSON", {"mode": "CONSTANT", "value": '{"fixed": [1, 2]}'}, EVENT,
             {"fixed": [1, 2]}, False),
            ("CONSTANT text", {"mode": "CONSTANT", "value": "hello ${not_a_var}"}, EVENT,
             "hello ${not_a_var}", True),
            ("TEMPLATE text", {"mode": "TEMPLATE", "value": "Customer ${n} is ${s}",
                               "vars": {"n": "$.data.name", "s": "$.data.status"}}, EVENT,
             "Customer Acme Trading is Active", True),
            ("TEMPLATE text with a number and a missing var",
             {"mode": "TEMPLATE", "value": "n=${c} m=[${m}]",
              "vars": {"c": "$.data.count", "m": "$.data.missing"}}, EVENT, "n=3 m=[]", True),
            ("TEMPLATE literal $${", {"mode": "TEMPLATE", "value": "cost $${x} ${c}",
                                      "vars": {"c": "$.data.count"}}, EVENT, "cost ${x} 3", True),
            ("TEMPLATE JSON, value outside strings",
             {"mode": "TEMPLATE", "value": '{"who": ${n}, "amount": ${a}, "tags": ${t}, '
                                           '"none": ${m}}',
              "vars": {"n": "$.data.name", "a": "$.data.amount", "t": "$.data.tags",
                       "m": "$.data.missing"}}, EVENT,
             {"who": "Acme Trading", "amount": 250.5, "tags": ["key-account", "vip"],
              "none": None}, False),
            ("TEMPLATE JSON escaping inside strings",
             {"mode": "TEMPLATE", "value": '{"msg": "said: ${q}", "obj": "${o}", '
                                           '"none": "[${m}]"}',
              "vars": {"q": "$.data.quote", "o": "$.data.owner", "m": "$.data.missing"}},
             EVENT, {"msg": 'said: He said "hi"\n', "obj": '{"id":"u_1"}', "none": "[]"},
             False),
        ]
        fails = []
        for what, tr, ev, want, raw in cases:
            code, out = rpc_code(self.transform, tr, ev)
            if code != OK:
                fails.append("%s: %s -> %s %s" % (what, json.dumps(tr)[:200], code, out))
                continue
            if raw:
                if out != want:
                    fails.append("%s: output %r, want %r" % (what, out, want))
                continue
            try:
                got = J(out)
            except ValueError as e:
                fails.append("%s: output is not JSON (%s): %r" % (what, e, out[:300]))
                continue
            if got != want:
                fails.append("%s: output %s, want %s" % (what, out[:400], json.dumps(want)[:400]))
        self.assertEqual(fails, [], "TestTransform cases failed:\n  " + "\n  ".join(fails))

    def test_transform_invalid(self):
        cases = [
            ("bad JSONPath", {"mode": "JSONPATH", "value": "$.data[*]"}, "transform.value"),
            ("recursive descent", {"mode": "JSONPATH", "value": "$..name"}, "transform.value"),
            ("path without $", {"mode": "JSONPATH", "value": "data.name"}, "transform.value"),
            ("undefined ${var}", {"mode": "TEMPLATE", "value": "Hi ${who}"}, "who"),
            ("bad var path", {"mode": "TEMPLATE", "value": "Hi ${who}", "vars": {"who": "$["}},
             "transform.vars.who"),
            ("over 10,240 chars", {"mode": "CONSTANT", "value": "x" * 10241}, "10240"),
            ("unknown mode name", {"mode": "UPPERCASE"}, "transform.mode"),
            ("unknown member", {"mode": "DATA", "extra": 1}, "transform"),
            ("wrong type", {"mode": "JSONPATH", "value": 5}, "transform.value"),
            ("vars with ORIGINAL", {"mode": "ORIGINAL", "vars": {"a": "$.id"}}, "transform.vars"),
        ]
        for what, tr, needle in cases:
            self.assertInvalid(self.a_cli.connectors.TestTransform,
                               pb.TestTransformRequest(transform=json.dumps(tr),
                                                       event=json.dumps(EVENT)),
                               needle, what="TestTransform %s" % what)
        for what, text in (("not JSON", "{mode"), ("an array", "[]")):
            self.assertInvalid(self.a_cli.connectors.TestTransform,
                               pb.TestTransformRequest(transform=text, event="{}"),
                               "transform", what="TestTransform transform %s" % what)
        for what, ev in (("not JSON", "{"), ("an array", "[1]"), ("duplicate keys",
                                                                   '{"a":1,"a":2}')):
            self.assertInvalid(self.a_cli.connectors.TestTransform,
                               pb.TestTransformRequest(transform='{"mode":"DATA"}', event=ev),
                               "event", what="TestTransform event %s" % what)
        # 10,240 characters exactly is accepted (characters, not bytes)
        out = self.transform({"mode": "CONSTANT", "value": "\u4e2d" * 10240})
        self.assertEqual(out, "\u4e2d" * 10240)

    def test_any_authenticated_key(self):
        for what, cli in (("admin", self.admin), ("isv", self.isv_cli),
                          ("org-admin", self.a_cli), ("subscriber", self.sub_cli),
                          ("schema-owner", self.owner_cli)):
            self.assertTrue(self.match({"type": ["com.example.crm.customer.changed"]},
                                       cli=cli), what)
            self.assertEqual(json.loads(self.transform({"mode": "JSONPATH",
                                                        "value": "$.data.count"}, cli=cli)),
                             3, what)
        nokey = Client(self.server.target, None)
        self.addCleanup(nokey.close)
        self.assertRpcError(UNAUTH, nokey.connectors.TestEventPattern,
                            pb.TestEventPatternRequest(pattern="{}", event="{}"))
        self.assertRpcError(UNAUTH, nokey.connectors.TestTransform,
                            pb.TestTransformRequest(transform="{}", event="{}"))
        bad = Client(self.server.target, "evb_not_a_real_key_0123456789")
        self.addCleanup(bad.close)
        self.assertRpcError(UNAUTH, bad.connectors.TestEventPattern,
                            pb.TestEventPatternRequest(pattern="{}", event="{}"))


# =========================================================================================
# routing and TraceEvent
# =========================================================================================

class RoutingTest(ConnectionsBase):

    def trace(self, event_id, cli=None):
        cli = cli or self.a_cli
        return cli.events.TraceEvent(events_pb2.TraceEventRequest(event_id=event_id))

    def publish(self, entries):
        r = put(self.isv_cli, self.conn_x.name, entries)
        self.assertEqual(r.failed_entry_count, 0, describe(r))
        for x in r.results:
            self.assertEqual(x.status, PUBLISHED, describe(r))
        return [x.event_id for x in r.results]

    def check_trace(self, tr, event_id, filters, deliveries, what):
        """filters: {connection id: matched}; deliveries: {connection id: outcome}.
        Returns {connection id: delivery id}."""
        ctx = "%s: trace %s" % (what, trace_text(tr))
        self.assertEqual(tr.event.id, event_id, ctx)
        stages = [s.stage for s in tr.steps]
        self.assertTrue(stages and stages[0] == RECEIVE, "%s: the first step must be RECEIVE"
                        % ctx)
        self.assertEqual(stages.count(RECEIVE), 1, ctx)
        self.assertEqual(stages, sorted(stages), "%s: steps must be RECEIVE, FILTER..., "
                                                 "DELIVER..." % ctx)
        self.assertTrue(tr.steps[0].time, ctx)
        got_f = {}
        for s in tr.steps:
            if s.stage == FILTER:
                self.assertNotIn(s.connection_id, got_f, "%s: two FILTER steps for %s"
                                 % (ctx, s.connection_id))
                got_f[s.connection_id] = s.matched
        self.assertEqual(got_f, filters, "%s: FILTER steps (connection -> matched)" % ctx)
        got_d, ids = {}, {}
        for s in tr.steps:
            if s.stage == DELIVER:
                self.assertNotIn(s.connection_id, got_d, "%s: two deliveries for %s"
                                 % (ctx, s.connection_id))
                self.assertTrue(s.delivery_id, "%s: DELIVER without delivery_id" % ctx)
                got_d[s.connection_id] = s.outcome
                ids[s.connection_id] = s.delivery_id
        self.assertEqual(got_d, deliveries, "%s: DELIVER steps (connection -> outcome)" % ctx)
        self.assertEqual(len(set(ids.values())), len(ids), "%s: delivery ids repeat" % ctx)
        return ids

    def test_routing_and_trace(self):
        X = self.conn_x.name
        act = self.route_action.name
        mk = lambda org, conn, **kw: self.create_connection(  # noqa: E731
            self.a_cli if org == self.org_a else self.b_cli,
            self.connection(org, conn, act, **kw)).id
        c_all = mk(self.org_a, X)                                       # every event
        c_cust = mk(self.org_a, X, event_types=[TYPE_CUSTOMER])         # customers only
        c_big = mk(self.org_a, X, pattern=json.dumps(
            {"data": {"amount": [{"numeric": [">", 100]}]}}))           # amount > 100
        c_acme = mk(self.org_a, X, pattern=json.dumps(
            {"data": {"name": [{"prefix": "Acme"}]}}))                  # name starts Acme
        c_prod_big = mk(self.org_a, X, event_types=[TYPE_PRODUCT], pattern=json.dumps(
            {"data": {"amount": [{"numeric": [">=", 500]}]}}))          # big products
        c_paused = mk(self.org_a, X)
        self.a_cli.connectors.PauseConnection(pb.PauseConnectionRequest(id=c_paused))
        c_other_org = mk(self.org_b, X)                                 # decoy: org B
        c_other_conn = mk(self.org_a, self.conn_y.name)                 # decoy: connector Y
        names = {c_all: "all", c_cust: "customers", c_big: "amount>100", c_acme: "Acme*",
                 c_prod_big: "products>=500", c_paused: "paused", c_other_org: "org B",
                 c_other_conn: "connector Y"}
        a_x = [c_all, c_cust, c_big, c_acme, c_prod_big, c_paused]

        events = [
            # (entry, ids of the org-A/X connections that match)
            (entry(self.org_a, TYPE_CUSTOMER, data=jb({"name": "Acme Ltd", "amount": 150})),
             {c_all, c_cust, c_big, c_acme, c_paused}),
            (entry(self.org_a, TYPE_PRODUCT, data=jb({"name": "Beta", "amount": 50})),
             {c_all, c_paused}),
            (entry(self.org_a, TYPE_PRODUCT, data=jb({"name": "Acme Widget", "amount": 600})),
             {c_all, c_big, c_acme, c_prod_big, c_paused}),
            (entry(self.org_a, TYPE_CONTRACT, data=jb({"name": "acme lowercase",
                                                       "amount": "999"})),
             {c_all, c_paused}),
            (entry(self.org_a, TYPE_PRODUCT, data=jb({"name": ["x", "Acme in array"],
                                                      "amount": [1, 500]})),
             {c_all, c_big, c_acme, c_prod_big, c_paused}),
        ]
        ids = self.publish([e for e, _ in events])
        delivery_ids = []
        for i, ((_e, want), eid) in enumerate(zip(events, ids)):
            tr = self.trace(eid)
            filters = {c: c in want for c in a_x}
            deliveries = {c: ("HELD" if c == c_paused else "PENDING") for c in want}
            delivery_ids.append(self.check_trace(
                tr, eid, filters, deliveries,
                "event %d (%s) expecting %s" % (i, _e.type, sorted(names[c] for c in want))))

        # org B's event on X goes to org B's connection only; the trace is B's alone
        (b_eid,) = put_ids = self.publish([entry(self.org_b, TYPE_CUSTOMER,
                                                 data=jb({"name": "Acme", "amount": 1000}))])
        self.check_trace(self.trace(b_eid, self.b_cli), b_eid, {c_other_org: True},
                         {c_other_org: "PENDING"}, "org B event")
        self.assertEqual(len(put_ids), 1)
        # an event on connector Y reaches only the Y connection
        ry = put(self.isv_cli, self.conn_y.name, [entry(self.org_a, TYPE_CUSTOMER)])
        self.assertEqual(ry.failed_entry_count, 0, describe(ry))
        self.check_trace(self.trace(ry.results[0].event_id), ry.results[0].event_id,
                         {c_other_conn: True}, {c_other_conn: "PENDING"}, "connector Y event")

        # another org cannot trace org A's event
        for eid in ids[:2]:
            self.assertRpcError(NOT_FOUND, self.trace, eid, self.b_cli)
        self.assertRpcError(NOT_FOUND, self.trace, b_eid, self.a_cli)
        code, det = rpc_code(self.b_cli.events.TraceEvent, events_pb2.TraceEventRequest(
            event_id=ids[0], org=self.org_a))
        self.assertIn(code, (NOT_FOUND, DENIED), "org B tracing with org=A: %s %s" % (code, det))
        for what, cli in (("isv", self.isv_cli), ("subscriber", self.sub_cli)):
            code, det = rpc_code(self.trace, ids[0], cli)
            self.assertIn(code, (DENIED, NOT_FOUND), "%s TraceEvent: %s %s" % (what, code, det))
        # admin sees the same trace
        self.check_trace(self.trace(ids[0], self.admin), ids[0],
                         {c: c in events[0][1] for c in a_x},
                         {c: ("HELD" if c == c_paused else "PENDING") for c in events[0][1]},
                         "event 0 traced by admin")
        self.assertRpcError(NOT_FOUND, self.trace, "no-such-event-id")

        # ---- changes take effect for the very next PutEvents ----
        # resume: the HELD deliveries become PENDING, same delivery ids
        r = self.a_cli.connectors.ResumeConnection(pb.ResumeConnectionRequest(id=c_paused))
        self.assertEqual(r.state, pb.ENABLED)
        for i, ((_e, want), eid) in enumerate(zip(events, ids)):
            tr = self.trace(eid)
            again = self.check_trace(tr, eid, {c: c in want for c in a_x},
                                     {c: "PENDING" for c in want},
                                     "event %d after resume" % i)
            self.assertEqual(again, delivery_ids[i],
                             "event %d: delivery ids must stay the same across resume" % i)

        # delete c_big, update c_acme's pattern to prefix "Beta", pause c_all
        self.a_cli.connectors.DeleteConnection(pb.DeleteConnectionRequest(id=c_big))
        upd = self.get_connection(self.a_cli, c_acme)
        upd.pattern = json.dumps({"data": {"name": [{"prefix": "Beta"}]}})
        self.a_cli.connectors.UpdateConnection(pb.UpdateConnectionRequest(connection=upd))
        self.a_cli.connectors.PauseConnection(pb.PauseConnectionRequest(id=c_all))
        a_x2 = [c_all, c_cust, c_acme, c_prod_big, c_paused]
        events2 = [
            (entry(self.org_a, TYPE_CUSTOMER, data=jb({"name": "Acme Ltd", "amount": 150})),
             {c_all, c_cust, c_paused}),
            (entry(self.org_a, TYPE_PRODUCT, data=jb({"name": "Beta", "amount": 700})),
             {c_all, c_acme, c_prod_big, c_paused}),
        ]
        ids2 = self.publish([e for e, _ in events2])
        for i, ((_e, want), eid) in enumerate(zip(events2, ids2)):
            self.check_trace(self.trace(eid), eid, {c: c in want for c in a_x2},
                             {c: ("HELD" if c == c_all else "PENDING") for c in want},
                             "event %d after delete/update/pause" % i)

        # a connection created now gets the next event; deleting every A/X connection
        # leaves the next event with no FILTER and no DELIVER step
        c_new = mk(self.org_a, X, event_types=[TYPE_CONTRACT])
        (eid3,) = self.publish([entry(self.org_a, TYPE_CONTRACT)])
        self.check_trace(self.trace(eid3), eid3, {c: c in (c_all, c_paused, c_new)
                                                  for c in a_x2 + [c_new]},
                         {c_all: "HELD", c_paused: "PENDING", c_new: "PENDING"},
                         "contract event after a new connection")
        for c in a_x2 + [c_new]:
            self.a_cli.connectors.DeleteConnection(pb.DeleteConnectionRequest(id=c))
        (eid4,) = self.publish([entry(self.org_a, TYPE_CUSTOMER)])
        self.check_trace(self.trace(eid4), eid4, {}, {}, "event after deleting all")
        # org B's connection is still in force
        (eid5,) = self.publish([entry(self.org_b, TYPE_PRODUCT)])
        self.check_trace(self.trace(eid5, self.b_cli), eid5, {c_other_org: True},
                         {c_other_org: "PENDING"}, "org B after org A deleted its own")

    def test_many_connections_one_batch(self):
        """20 connections keyed by a data field, 40 events in one PutEvents: each event
        goes exactly to the connections whose value it carries."""
        X = self.conn_x.name
        act = self.route_action.name
        org = unique("orgm")
        cli = Client(self.server.target, create_key(self.admin, "org-admin", org)[1])
        self.addCleanup(cli.close)
        conns = {}
        for k in range(20):
            c = self.create_connection(cli, self.connection(
                org, X, act, pattern=json.dumps({"data": {"region": ["r%d" % k]}})))
            conns[c.id] = "r%d" % k
        entries = [entry(org, TYPE_CUSTOMER, data=jb({"region": ["r%d" % (i % 20),
                                                                 "r%d" % ((i * 7) % 20)]}))
                   for i in range(40)]
        eids = self.publish(entries)
        for i, eid in enumerate(eids):
            want = {"r%d" % (i % 20), "r%d" % ((i * 7) % 20)}
            filters = {c: r in want for c, r in conns.items()}
            self.check_trace(self.trace(eid, cli), eid, filters,
                             {c: "PENDING" for c, r in conns.items() if r in want},
                             "batch event %d (regions %s)" % (i, sorted(want)))


if __name__ == "__main__":
    main()
