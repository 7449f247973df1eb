"""Integration tests of evbctl (clients/evbctl/) against a real evbridged.

Runs the evbctl binary from EVB_BIN_DIR with subprocess: every command group with table and
-o json output (the JSON is parsed), the documented exit codes (1 usage, 2 rejected input,
3 not found / denied, 4 unavailable), apply twice on a YAML directory, events put from JSON
lines with rejections, events tail (Subscribe) receiving and acking, and the offline
--local pattern and transform tests.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evbharness as h  # noqa: E402


def evbctl_binary():
    b = h.BIN_DIR / "evbctl"
    if not b.is_file() or not os.access(b, os.X_OK):
        raise h.HarnessError("evbctl not found at %s (set EVB_BIN_DIR, build the evbctl target)"
                             % b)
    return str(b)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class EvbctlTest(h.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = Path(tempfile.mkdtemp(prefix="evbctl-test-"))
        cls.key = cls.server.admin_key()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def run_cli(self, *args, key=h._DEFAULT, addr=None, expect=0, stdin=None, timeout=60,
                env_extra=None):
        env = dict(os.environ)
        env.pop("EVB_API_KEY", None)
        env.pop("EVB_API_KEY_FILE", None)
        env["EVB_ADDR"] = addr or self.server.target
        if key is h._DEFAULT:
            key = self.key
        if key is not None:
            env["EVB_API_KEY"] = key
        if env_extra:
            env.update(env_extra)
        p = subprocess.run([evbctl_binary()] + [str(a) for a in args], input=stdin, env=env,
                           capture_output=True, text=True, timeout=timeout)
        if expect is not None:
            self.assertEqual(p.returncode, expect,
                             "evbctl %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(map(str, args)), p.returncode, expect, p.stdout,
                                p.stderr))
        return p

    def json_of(self, *args, **kw):
        p = self.run_cli(*(list(args) + ["-o", "json"]), **kw)
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            self.fail("evbctl %s -o json printed no JSON (%s):\n%s" % (" ".join(args), e,
                                                                       p.stdout))

    def write(self, name, text):
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return str(p)

    def new_connector(self, isv="acme"):
        name = h.unique("crm")
        f = self.write(name + ".json", json.dumps({
            "name": name, "isv": isv, "display_name": "CRM",
            "event_types": [{"type": h.TYPE_CUSTOMER}, {"type": h.TYPE_PRODUCT}]}))
        self.run_cli("connectors", "create", "-f", f)
        return name

    def new_stream_connection(self, org, connector, pattern=""):
        action = h.unique("inbox")
        self.run_cli("actions", "create", "-f", self.write(action + ".yaml",
                     "name: %s\norg: %s\nkind: STREAM\n" % (action, org)))
        name = h.unique("rule")
        spec = {"org": org, "name": name, "connector": connector, "action": action}
        if pattern:
            spec["pattern"] = pattern
        c = self.json_of("connections", "create", "-f",
                         self.write(name + ".json", json.dumps(spec)))
        self.assertTrue(c["id"])
        return c["id"]

    # ---- help and usage ---------------------------------------------------------------

    def test_help_at_every_level(self):
        tree = {
            "schemas": ["register", "get", "list", "versions", "check", "compat", "validate",
                        "delete"],
            "connectors": ["create", "get", "list", "update", "delete"],
            "actions": ["create", "get", "list", "update", "delete"],
            "connections": ["create", "get", "list", "update", "delete", "pause", "resume"],
            "events": ["put", "get", "list", "trace", "tail"],
            "dead-letters": ["list", "redrive"],
            "keys": ["create", "list", "revoke"],
            "test-pattern": [], "test-transform": [], "apply": [], "health": [],
        }
        p = self.run_cli("--help", key=None)
        self.assertIn("Usage:", p.stdout)
        for group, subs in tree.items():
            self.assertIn(group, p.stdout)
            g = self.run_cli(group, "--help", key=None)
            self.assertIn("Usage: evbctl %s" % group, g.stdout)
            for s in subs:
                self.assertIn(s, g.stdout)
                c = self.run_cli(group, s, "--help", key=None)
                self.assertIn("Usage: evbctl %s %s" % (group, s), c.stdout)
        for s in ("get", "set"):
            c = self.run_cli("schemas", "compat", s, "-h", key=None)
            self.assertIn("Usage: evbctl schemas compat %s" % s, c.stdout)

    def test_exit_code_usage(self):
        self.run_cli("no-such-command", expect=1)
        self.run_cli("schemas", "list", "--no-such-option", expect=1)
        self.run_cli("schemas", "versions", expect=1)          # missing SUBJECT
        self.run_cli("connections", "get", "a", "b", expect=1)  # extra argument
        self.run_cli("-o", "xml", "schemas", "list", expect=1)
        self.run_cli("events", "put", expect=1)                 # --connector missing
        self.run_cli("schemas", expect=1)                       # no command: help on stderr

    def test_exit_code_unavailable(self):
        addr = "127.0.0.1:%d" % closed_port()
        p = self.run_cli("schemas", "list", addr=addr, expect=4)
        self.assertIn("UNAVAILABLE", p.stderr)
        self.run_cli("health", addr=addr, expect=4)

    def test_exit_code_not_found_and_denied(self):
        p = self.run_cli("schemas", "get", "no.such.subject", expect=3)
        self.assertIn("NOT_FOUND", p.stderr)
        self.run_cli("connectors", "get", "no-such-connector", expect=3)
        p = self.run_cli("keys", "list", key="evb_bad_key", expect=3)
        self.assertIn("UNAUTHENTICATED", p.stderr)
        _kid, isv_key = h.create_key(self.admin, "isv", h.unique("isv"))
        p = self.run_cli("keys", "list", key=isv_key, expect=3)
        self.assertIn("PERMISSION_DENIED", p.stderr)

    def test_exit_code_rejected(self):
        # the server refuses: an invalid schema, a duplicate connector
        bad = self.write("bad-schema.json", '{"type": 5}')
        p = self.run_cli("schemas", "register", "--subject", "acme.bad", "-f", bad, expect=2)
        self.assertIn("INVALID_ARGUMENT", p.stderr)
        name = self.new_connector()
        f = self.write(name + "-dup.json", json.dumps({"name": name, "isv": "acme"}))
        p = self.run_cli("connectors", "create", "-f", f, expect=2)
        self.assertIn("ALREADY_EXISTS", p.stderr)
        # rejected before sending: an unknown field, a bad enum name, malformed YAML
        f = self.write("typo.yaml", "name: x\nisv: acme\ndisplay_nam: typo\n")
        p = self.run_cli("connectors", "create", "-f", f, expect=2)
        self.assertIn("display_nam", p.stderr)
        f = self.write("badenum.yaml", "name: x\norg: o\nkind: CARRIER_PIGEON\n")
        p = self.run_cli("actions", "create", "-f", f, expect=2)
        self.assertIn("CARRIER_PIGEON", p.stderr)
        f = self.write("broken.yaml", "name: [unclosed\n")
        self.run_cli("connectors", "create", "-f", f, expect=2)

    # ---- health and keys --------------------------------------------------------------

    def test_health(self):
        p = self.run_cli("health", key=None)
        self.assertIn("SERVING", p.stdout)
        j = self.json_of("health")
        self.assertEqual(j["status"], "SERVING")
        self.assertEqual(j["server"]["store"], "sqlite")

    def test_keys(self):
        scope = h.unique("org")
        j = self.json_of("keys", "create", "--role", "org-admin", "--scope", scope,
                         "-d", "cli test")
        self.assertTrue(j["key"].startswith("evb_"))
        kid = j["key_id"]
        p = self.run_cli("keys", "list")
        self.assertIn("KEY ID", p.stdout)
        self.assertIn(kid, p.stdout)
        self.assertNotIn(j["key"], p.stdout)
        keys = self.json_of("keys", "list")["keys"]
        self.assertIn(kid, [k["key_id"] for k in keys])
        self.run_cli("keys", "revoke", kid)
        keys = self.json_of("keys", "list", "--all")["keys"]
        self.assertTrue([k for k in keys if k["key_id"] == kid][0]["revoked"])
        self.run_cli("keys", "revoke", "0000000000000000", expect=3)
        self.run_cli("keys", "create", "--role", "isv", expect=2)  # scope required

    # ---- schemas ----------------------------------------------------------------------

    def test_schemas(self):
        subj = "acme.%s" % h.unique("cust")
        v1 = self.write(subj + "-v1.yaml",
                        "type: object\nproperties:\n  id: {type: string}\nrequired: [id]\n")
        p = self.run_cli("schemas", "register", "--subject", subj, "-f", v1)
        self.assertIn("version 1", p.stdout)
        r = self.json_of("schemas", "register", "--subject", subj, "-f", v1)  # idempotent
        self.assertEqual(r["version"], 1)
        s = self.json_of("schemas", "get", subj)
        self.assertEqual(s["subject"], subj)
        self.assertEqual(json.loads(s["schema"])["required"], ["id"])
        p = self.run_cli("schemas", "get", subj)
        self.assertIn("subject:", p.stdout)
        self.assertIn('"required"', p.stdout)
        self.assertEqual(self.json_of("schemas", "get", "--id", r["id"])["subject"], subj)
        self.assertIn(subj, self.json_of("schemas", "list", "--prefix", "acme.")["subjects"])
        self.assertIn(subj, self.run_cli("schemas", "list").stdout)
        v2 = self.write(subj + "-v2.json", json.dumps({
            "type": "object", "description": "a customer",
            "properties": {"id": {"type": "string"}}, "required": ["id"]}))
        c = self.json_of("schemas", "check", "--subject", subj, "-f", v2)
        self.assertTrue(c["compatible"])
        self.assertIn("compatible", self.run_cli("schemas", "check", "-s", subj, "-f", v2).stdout)
        v_bad = self.write(subj + "-bad.json", json.dumps({
            "type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}))
        c = self.json_of("schemas", "check", "-s", subj, "-f", v_bad, expect=2)
        self.assertFalse(c["compatible"])
        self.assertTrue(c["messages"])
        self.assertEqual(self.json_of("schemas", "register", "-s", subj, "-f", v2)["version"], 2)
        self.assertEqual(self.json_of("schemas", "versions", subj)["versions"], [1, 2])
        self.assertIn("VERSION", self.run_cli("schemas", "versions", subj).stdout)
        self.assertEqual(self.json_of("schemas", "compat", "get", subj)["level"], "BACKWARD")
        r = self.json_of("schemas", "compat", "set", subj, "--level", "FULL")
        self.assertEqual(r["level"], "FULL")
        self.assertIn("FULL", self.run_cli("schemas", "compat", "get", subj).stdout)
        self.run_cli("schemas", "compat", "set", subj, "--level", "SOMETIMES", expect=1)
        ok = self.json_of("schemas", "validate", "-s", subj, "--data", '{"id":"c1"}')
        self.assertTrue(ok["valid"])
        bad = self.json_of("schemas", "validate", "-s", subj, "--data", '{"name":"x"}', expect=2)
        self.assertFalse(bad["valid"])
        self.assertEqual(bad["violations"][0]["keyword_location"], "/required")
        p = self.run_cli("schemas", "validate", "-s", subj, "--data", '{"id":1}', expect=2)
        self.assertIn("invalid", p.stdout)
        d = self.json_of("schemas", "delete", subj, "--version", "2")
        self.assertEqual(d["versions"], [2])
        self.assertEqual(self.json_of("schemas", "versions", subj)["versions"], [1])
        self.run_cli("schemas", "delete", subj, "--version", "1", "--permanent", expect=2)

    # ---- connectors, actions, connections --------------------------------------------

    def test_connectors(self):
        name = self.new_connector()
        j = self.json_of("connectors", "get", name)
        self.assertEqual(j["name"], name)
        self.assertEqual(j["source"], "/connectors/%s" % name)
        self.assertEqual(len(j["event_types"]), 2)
        p = self.run_cli("connectors", "get", name)
        self.assertIn("display_name:", p.stdout)
        p = self.run_cli("connectors", "list", "--isv", "acme")
        self.assertIn("NAME", p.stdout.splitlines()[0])
        self.assertIn(name, p.stdout)
        names = [c["name"] for c in self.json_of("connectors", "list")["connectors"]]
        self.assertIn(name, names)
        f = self.write(name + "-u.yaml", "name: %s\nisv: acme\ndisplay_name: CRM two\n"
                       "event_types:\n  - type: %s\n" % (name, h.TYPE_CUSTOMER))
        u = self.json_of("connectors", "update", "-f", f)
        self.assertEqual(u["display_name"], "CRM two")
        self.assertEqual(len(u["event_types"]), 1)
        y = self.run_cli("connectors", "get", name, "-o", "yaml").stdout
        self.assertIn("display_name: CRM two", y)
        self.run_cli("connectors", "delete", name)
        self.run_cli("connectors", "get", name, expect=3)

    def test_actions_secrets_never_printed(self):
        name = h.unique("hook")
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        f = self.write(name + ".yaml", "\n".join([
            "name: %s" % name, "org: org-sec", "kind: HTTP", "description: billing",
            "http:", "  url: https://billing.example.com/events",
            "  signing_secret: %s" % secret,
            "  headers: {x-team: billing}",
            "  auth: {kind: HTTP_AUTH_BEARER, token: tok-s3cret}", ""]))
        outs = [self.run_cli("actions", "create", "-f", f).stdout]
        j = self.json_of("actions", "get", name)
        self.assertEqual(j["kind"], "HTTP")
        self.assertTrue(j["http"]["has_signing_secret"])
        self.assertEqual(j["http"]["headers"], {"x-team": "billing"})
        for args in (["actions", "get", name], ["actions", "list", "--org", "org-sec"],
                     ["actions", "get", name, "-o", "json"], ["actions", "get", name, "-o", "yaml"],
                     ["actions", "update", "-f", f]):
            outs.append(self.run_cli(*args).stdout)
        self.assertIn(name, outs[2])
        for o in outs:
            self.assertNotIn(secret, o)
            self.assertNotIn("tok-s3cret", o)
        self.assertIn(name, [a["name"] for a in self.json_of("actions", "list")["actions"]])
        self.run_cli("actions", "delete", name)
        self.run_cli("actions", "get", name, expect=3)

    def test_connections(self):
        org = h.unique("org")
        connector = self.new_connector()
        cid = self.new_stream_connection(org, connector, pattern='{"data":{"level":["vip"]}}')
        j = self.json_of("connections", "get", cid)
        self.assertEqual(j["state"], "ENABLED")
        self.assertEqual(j["org"], org)
        p = self.run_cli("connections", "list", "--org", org)
        self.assertIn("STATE", p.stdout.splitlines()[0])
        self.assertIn(cid, p.stdout)
        lst = self.json_of("connections", "list", "--org", org, "--connector", connector)
        self.assertEqual([c["id"] for c in lst["connections"]], [cid])
        self.assertEqual(self.json_of("connections", "pause", cid)["state"], "PAUSED")
        self.assertIn("ENABLED", self.run_cli("connections", "resume", cid).stdout)
        j["retry"] = {"strategy": "EXPONENTIAL_DECAY_RETRY", "max_attempts": 7}
        for k in ("create_time", "update_time", "state_reason"):
            j.pop(k, None)
        u = self.json_of("connections", "update", "-f", self.write(cid + ".json", json.dumps(j)))
        self.assertEqual(u["retry"]["max_attempts"], 7)
        bad = dict(j, pattern='{"data":{"level":"vip"}}')
        p = self.run_cli("connections", "update", "-f",
                         self.write(cid + "-bad.json", json.dumps(bad)), expect=2)
        self.assertIn("pattern", p.stderr)
        self.run_cli("connections", "delete", cid)
        self.run_cli("connections", "get", cid, expect=3)

    def test_dead_letters(self):
        org = h.unique("org")
        cid = self.new_stream_connection(org, self.new_connector())
        j = self.json_of("dead-letters", "list", "--org", org, "--connection", cid)
        self.assertEqual(j["dead_letters"], [])
        self.run_cli("dead-letters", "list", "--org", org)
        r = self.json_of("dead-letters", "redrive", "--org", org, "--connection", cid)
        self.assertEqual(r["redriven"], 0)
        self.assertIn("redriven: 0",
                      self.run_cli("dead-letters", "redrive", "--org", org, "-c", cid).stdout)

    # ---- apply ------------------------------------------------------------------------

    def test_apply_twice(self):
        tag = h.unique("cfg")
        org = "org-" + tag
        d = self.tmp / ("apply-" + tag)
        d.mkdir()
        (d / "01-schemas.yaml").write_text(
            "kind: Schema\nspec:\n  subject: acme.%s\n  schema:\n    type: object\n"
            "    properties:\n      id: {type: string}\n    required: [id]\n" % tag)
        (d / "02-connector.yaml").write_text(
            "kind: Connector\nspec:\n  name: %s\n  isv: acme\n  display_name: CRM\n"
            "  event_types:\n    - type: %s\n      subject: acme.%s\n"
            % (tag, h.TYPE_CUSTOMER, tag))
        (d / "03-rules.yaml").write_text(
            "kind: Action\nspec:\n  name: %s-inbox\n  org: %s\n  kind: STREAM\n"
            "---\n"
            "kind: Connection\nspec:\n  org: %s\n  name: vip\n  connector: %s\n"
            "  action: %s-inbox\n  pattern: {data: {level: [vip]}}\n"
            "  retry: {max_attempts: 5}\n  dead_letter: true\n" % (tag, org, org, tag, tag))
        (d / "README.txt").write_text("not applied")
        first = self.run_cli("apply", "-f", d).stdout.splitlines()
        self.assertEqual(len(first), 4, first)
        self.assertTrue(all(l.startswith("created") for l in first), first)
        conn = self.json_of("connections", "list", "--org", org)["connections"]
        self.assertEqual(len(conn), 1)
        before = {
            "connector": self.json_of("connectors", "get", tag)["update_time"],
            "action": self.json_of("actions", "get", tag + "-inbox")["update_time"],
            "connection": self.json_of("connections", "get", conn[0]["id"])["update_time"],
            "versions": self.json_of("schemas", "versions", "acme." + tag)["versions"],
        }
        time.sleep(0.01)
        second = self.run_cli("apply", "-f", d).stdout.splitlines()
        self.assertEqual(len(second), 4, second)
        for line in second:
            self.assertTrue(line.startswith("unchanged"), second)
        after = {
            "connector": self.json_of("connectors", "get", tag)["update_time"],
            "action": self.json_of("actions", "get", tag + "-inbox")["update_time"],
            "connection": self.json_of("connections", "get", conn[0]["id"])["update_time"],
            "versions": self.json_of("schemas", "versions", "acme." + tag)["versions"],
        }
        self.assertEqual(before, after)
        j = self.json_of("apply", "-f", d)
        self.assertEqual({r["result"] for r in j["results"]}, {"unchanged"})
        # a change is applied, and only that object is updated
        (d / "02-connector.yaml").write_text(
            (d / "02-connector.yaml").read_text().replace("CRM", "CRM v2"))
        third = self.run_cli("apply", "-f", d).stdout.splitlines()
        changed = [l for l in third if not l.startswith("unchanged")]
        self.assertEqual(len(changed), 1, third)
        self.assertTrue(changed[0].startswith("updated") and "Connector" in changed[0])
        self.assertEqual(self.json_of("connectors", "get", tag)["display_name"], "CRM v2")
        # an invalid document changes nothing
        (d / "04-bad.yaml").write_text("kind: Connection\nspec:\n  org: %s\n  name: x\n"
                                       "  no_such_field: 1\n" % org)
        self.run_cli("apply", "-f", d, expect=2)

    # ---- events -----------------------------------------------------------------------

    def test_events_put_get_list_trace(self):
        org = h.unique("org")
        connector = self.new_connector()
        lines = [
            json.dumps({"org": org, "type": h.TYPE_CUSTOMER, "id": "e1", "subject": "c1",
                        "data": {"id": "c1", "level": "vip"}}),
            "",
            json.dumps({"org": org, "type": "com.example.unknown", "data": {"x": 1}}),
            "this is not json",
            json.dumps({"org": org, "type": h.TYPE_PRODUCT, "id": "e2",
                        "data_base64": "eyJza3UiOiJwMSJ9"}),
        ] + [json.dumps({"type": h.TYPE_CUSTOMER, "id": "b%d" % i, "data": {"n": i}})
             for i in range(7)]
        f = self.write(connector + ".jsonl", "\n".join(lines) + "\n")
        p = self.run_cli("events", "put", "-c", connector, "-f", f, "--org", org, "--batch", "3",
                         expect=2)
        self.assertIn("published 9, deduplicated 0, rejected 2", p.stdout)
        self.assertIn("line 3: REJECTED UNKNOWN_TYPE", p.stdout)
        self.assertIn("line 4: REJECTED", p.stdout)
        self.assertNotIn("\r", p.stderr)  # no progress bar when not on a terminal
        j = self.json_of("events", "put", "-c", connector, "-f", f, "--org", org, expect=2)
        self.assertEqual((j["published"], j["deduplicated"], j["rejected"]), (0, 9, 2))
        self.assertEqual(sorted(r["line"] for r in j["rejections"]), [3, 4])
        # stdin, all good
        p = self.run_cli("events", "put", "-c", connector, stdin=json.dumps(
            {"org": org, "type": h.TYPE_CUSTOMER, "id": "s1", "data": {"k": 1}}) + "\n")
        self.assertIn("published 1", p.stdout)
        ev = self.json_of("events", "get", "e1", "--org", org, "--connector", connector)
        self.assertEqual(ev["id"], "e1")
        self.assertEqual(ev["data"], {"id": "c1", "level": "vip"})
        self.assertEqual(ev["orgid"], org)
        self.assertEqual(ev["specversion"], "1.0")
        self.assertIn("data.level:", self.run_cli("events", "get", "e1", "--org", org).stdout)
        self.assertEqual(self.json_of("events", "get", "e2", "--org", org)["data"], {"sku": "p1"})
        self.run_cli("events", "get", "no-such-event", "--org", org, expect=3)
        lst = self.json_of("events", "list", "--org", org, "--connector", connector,
                           "--page-size", "4", "--all")
        self.assertEqual(len(lst["events"]), 10)
        one = self.json_of("events", "list", "--org", org, "--connector", connector,
                           "--page-size", "4")
        self.assertEqual(len(one["events"]), 4)
        self.assertTrue(one["next_page_token"])
        p = self.run_cli("events", "list", "--org", org, "--connector", connector)
        self.assertIn("TYPE", p.stdout.splitlines()[0])
        self.assertIn("e1", p.stdout)
        t = self.json_of("events", "trace", "e1", "--org", org)
        self.assertEqual(t["steps"][0]["stage"], "RECEIVE")
        self.assertIn("RECEIVE", self.run_cli("events", "trace", "e1", "--org", org).stdout)
        # the pattern works on the CloudEvents JSON form that events get prints
        evf = self.write("e1.json", json.dumps(ev))
        m = self.json_of("test-pattern", "-p", '{"data":{"level":["vip"]}}', "-e", "@" + evf)
        self.assertTrue(m["matched"])

    def test_events_tail_receives_and_acks(self):
        org = h.unique("org")
        connector = self.new_connector()
        cid = self.new_stream_connection(org, connector)
        _kid, sub_key = h.create_key(self.admin, "subscriber", org)
        entries = "".join(json.dumps({"org": org, "type": h.TYPE_CUSTOMER, "id": "t%d" % i,
                                      "data": {"i": i}}) + "\n" for i in range(3))
        self.run_cli("events", "put", "-c", connector, stdin=entries)
        p = self.run_cli("events", "tail", "-c", cid, "-n", "3", "-o", "json",
                         "--duration", "30", key=sub_key, expect=None, timeout=60)
        if "UNIMPLEMENTED" in p.stderr:
            self.fail("EventService.Subscribe answers UNIMPLEMENTED on this server: events tail "
                      "needs Subscribe (being implemented); stderr: %s" % p.stderr)
        self.assertEqual(p.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr))
        got = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        self.assertEqual(sorted(g["event"]["id"] for g in got), ["t0", "t1", "t2"])
        for g in got:
            self.assertEqual(g["attempt"], 1)
            self.assertTrue(g["delivery_id"])
        # acked: every delivery is DELIVERED in the trace, and nothing comes again
        deadline = time.monotonic() + 10
        while True:
            outcomes = []
            for i in range(3):
                t = self.json_of("events", "trace", "t%d" % i, "--org", org)
                outcomes += [s.get("outcome") for s in t["steps"] if s["stage"] == "DELIVER"]
            if outcomes == ["DELIVERED"] * 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(outcomes, ["DELIVERED"] * 3)
        p = self.run_cli("events", "tail", "-c", cid, "--duration", "1.5", key=sub_key)
        self.assertEqual(p.stdout.strip(), "")
        # table output
        self.run_cli("events", "put", "-c", connector, stdin=json.dumps(
            {"org": org, "type": h.TYPE_CUSTOMER, "id": "t9", "subject": "s9",
             "data": {"i": 9}}) + "\n")
        p = self.run_cli("events", "tail", "-c", cid, "-n", "1", "--duration", "30", key=sub_key)
        self.assertIn("t9", p.stdout)
        self.assertIn("attempt=1", p.stdout)
        # another org's subscriber is refused
        _kid, other = h.create_key(self.admin, "subscriber", h.unique("org"))
        self.run_cli("events", "tail", "-c", cid, "--duration", "5", key=other, expect=3)

    # ---- offline tests ----------------------------------------------------------------

    def test_local_pattern_and_transform_without_server(self):
        addr = "127.0.0.1:%d" % closed_port()
        ev = '{"type":"t","source":"/s","data":{"name":"Ada","level":"vip","n":300}}'
        j = self.json_of("test-pattern", "--local", "-p",
                         '{"data":{"level":["vip"],"n":[{"numeric":[">",100]}]}}', "-e", ev,
                         addr=addr, key=None)
        self.assertEqual(j, {"matched": True})
        j = self.json_of("test-pattern", "--local", "-p", '{"data":{"level":["basic"]}}',
                         "-e", ev, addr=addr, key=None)
        self.assertEqual(j, {"matched": False})
        p = self.run_cli("test-pattern", "--local", "-p", '{"data":{"level":"vip"}}', "-e", ev,
                         addr=addr, key=None, expect=2)
        self.assertIn("level", p.stderr)
        p = self.run_cli("test-transform", "--local", "-t",
                         '{"mode":"JSONPATH","value":"$.data.name"}', "-e", ev, addr=addr,
                         key=None)
        self.assertEqual(p.stdout.strip(), '"Ada"')
        tf = self.write("transform.yaml",
                        "mode: TEMPLATE\nvalue: 'Hello ${who}'\nvars: {who: $.data.name}\n")
        j = self.json_of("test-transform", "--local", "-t", "@" + tf, "-e", ev, addr=addr,
                         key=None)
        self.assertEqual(j["output"], "Hello Ada")
        self.run_cli("test-transform", "--local", "-t", '{"mode":"NOPE"}', "-e", ev, addr=addr,
                     key=None, expect=2)
        # the same answers from the server
        j = self.json_of("test-transform", "-t", "@" + tf, "-e", ev)
        self.assertEqual(j["output"], "Hello Ada")
        self.assertEqual(self.json_of("test-pattern", "-p", '{"data":{"n":[300]}}', "-e", ev),
                         {"matched": True})
        self.run_cli("test-pattern", "-p", '{"data":{"n":[300]}}', "-e", ev, addr=addr,
                     expect=4)


if __name__ == "__main__":
    h.main()
