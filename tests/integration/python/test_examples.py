#!/usr/bin/python3
"""The client examples of clients/examples/ against a real evbridged.

Python (clients/examples/python: gen.sh, publish.py, subscribe.py, run with
/usr/bin/python3) and Node (clients/examples/node: publish.js, subscribe.js, after
`npm ci` there -- scripts/test-deps.sh). For each language, on its own connector and STREAM
connection of one org: publish JSON lines (two good entries, one schema violation, one
unknown type) and check the per-entry lines and the exit code 2, that the published events
are stored (GetEvent, data as sent) and the rejected ones are not; then subscribe with
--count 2 and check the printed CloudEvents and that TraceEvent shows each delivery
DELIVERED (acked). Also: a bad key is reported with exit 1.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evbharness as h  # noqa: E402

EXAMPLES = h.REPO / "clients" / "examples"
PY_DIR = EXAMPLES / "python"
NODE_DIR = EXAMPLES / "node"
PYTHON = "/usr/bin/python3"
CUSTOMER = "com.xbongbong.crm.customer.changed"
LINE_RE = re.compile(r"^line (\d+): (PUBLISHED|DEDUPLICATED|REJECTED) (\S+)")


class ExamplesTest(h.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.tmp = Path(tempfile.mkdtemp(prefix="evb-examples-"))
            cls.gen = cls.tmp / "gen"
            r = subprocess.run([str(PY_DIR / "gen.sh"), str(cls.gen)], capture_output=True,
                               text=True, timeout=120,
                               env=dict(os.environ, EVB_PROTO_DIR=str(h.PROTO_DIR)))
            if r.returncode != 0:
                raise h.HarnessError("gen.sh failed (%d): %s%s" % (r.returncode, r.stdout,
                                                                    r.stderr))
            cls.isv = h.unique("isv")
            cls.org = h.unique("org")
            cls.isv_key = h.create_key(cls.admin, "isv", cls.isv)[1]
            cls.org_key = h.create_key(cls.admin, "org-admin", cls.org)[1]
            cls.sub_key = h.create_key(cls.admin, "subscriber", cls.org)[1]
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "tmp"):
            shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # -- set-up with the harness: connector on std.customer, STREAM action, connection --

    def setup_route(self):
        pb = h.connector_pb2
        isv = h.Client(self.server.target, self.isv_key)
        org = h.Client(self.server.target, self.org_key)
        self.addCleanup(isv.close)
        self.addCleanup(org.close)
        c = pb.Connector(name=h.unique("crm"), isv=self.isv, display_name="Xbongbong CRM")
        c.event_types.add(type=CUSTOMER, subject="std.customer")
        connector = isv.connectors.CreateConnector(pb.CreateConnectorRequest(connector=c)).name
        action = org.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=h.unique("inbox"), org=self.org, kind=pb.STREAM))).name
        conn_id = org.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(org=self.org, name=h.unique("c"), connector=connector,
                                     action=action))).id
        return connector, conn_id

    def events_file(self, tag):
        lines = [
            {"org": self.org, "type": CUSTOMER, "subject": "customer/%s-1" % tag,
             "data": {"id": "%s-1" % tag, "name": "Acme Trading", "status": "active"}},
            "# a comment line",
            {"org": self.org, "type": CUSTOMER, "data": {"id": "%s-2" % tag, "nmae": "typo"}},
            {"org": self.org, "type": "com.xbongbong.crm.unknown", "data": {}},
            {"type": CUSTOMER, "subject": "customer/%s-5" % tag,  # org from --org
             "data": {"id": "%s-5" % tag, "name": "Globex"}},
        ]
        p = self.tmp / ("%s.jsonl" % tag)
        p.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                             for x in lines))
        return p

    def run_example(self, argv, key, timeout=60, cwd=None):
        env = dict(os.environ, EVB_ADDR=self.server.target, EVB_API_KEY=key,
                   EVB_PY_GEN=str(self.gen), EVB_PROTO_DIR=str(h.PROTO_DIR))
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=cwd)

    # -- the checks both languages share --

    def check_publish(self, p, connector, tag):
        out = "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr)
        self.assertEqual(p.returncode, 2, "publish should exit 2 (one entry rejected)\n" + out)
        results = {}
        for line in p.stdout.splitlines():
            m = LINE_RE.match(line)
            if m:
                results[int(m.group(1))] = (m.group(2), m.group(3))
        self.assertEqual(sorted(results), [1, 3, 4, 5], out)
        self.assertEqual(results[1][0], "PUBLISHED", out)
        self.assertEqual(results[5][0], "PUBLISHED", out)
        self.assertEqual(results[3], ("REJECTED", "SCHEMA_VIOLATION:"), out)
        self.assertEqual(results[4], ("REJECTED", "UNKNOWN_TYPE:"), out)
        # the violations of line 3 are printed with their JSON pointers
        self.assertRegex(p.stdout, r"(?m)^  /nmae: .*additionalProperties", out)
        self.assertRegex(p.stdout, r"(?m)^  /: .*\"name\".*required", out)
        self.assertIn("2 published or deduplicated, 2 rejected", p.stdout)
        # stored, as sent
        ids = {1: results[1][1], 5: results[5][1]}
        for line, eid in ids.items():
            ev = self.admin.events.GetEvent(h.events_pb2.GetEventRequest(
                event_id=eid, org=self.org, connector=connector))
            self.assertEqual(ev.type, CUSTOMER)
            self.assertEqual(ev.attributes["orgid"].ce_string, self.org)
            self.assertEqual(json.loads(ev.text_data)["id"], "%s-%d" % (tag, line))
        listed = self.admin.events.ListEvents(h.events_pb2.ListEventsRequest(
            org=self.org, connector=connector))
        self.assertEqual(sorted(e.id for e in listed.events), sorted(ids.values()),
                         "only the accepted entries are stored")
        return ids

    def check_subscribe(self, p, connector, ids, tag):
        out = "stdout:\n%s\nstderr:\n%s" % (p.stdout, p.stderr)
        self.assertEqual(p.returncode, 0, "subscribe failed\n" + out)
        got = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        self.assertEqual(len(got), 2, out)
        self.assertIn("received and acked 2 events", p.stderr)
        by_id = {g["event"]["id"]: g for g in got}
        self.assertEqual(set(by_id), set(ids.values()), out)
        for line, eid in ids.items():
            g = by_id[eid]
            ev = g["event"]
            self.assertEqual(g["attempt"], 1)
            self.assertTrue(g["delivery_id"])
            self.assertEqual(ev["specversion"], "1.0")
            self.assertEqual(ev["type"], CUSTOMER)
            self.assertEqual(ev["source"], "/connectors/%s" % connector)
            self.assertEqual(ev["orgid"], self.org)
            self.assertEqual(ev["connector"], connector)
            self.assertEqual(ev["subject"], "customer/%s-%d" % (tag, line))
            self.assertEqual(ev["data"]["id"], "%s-%d" % (tag, line))
            self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT")
        # acked: the trace shows each delivery DELIVERED (the ack is processed right after
        # the stream ends, so allow a moment)
        for eid, g in by_id.items():
            deadline = time.monotonic() + 10
            while True:
                tr = self.admin.events.TraceEvent(h.events_pb2.TraceEventRequest(
                    event_id=eid, org=self.org, connector=connector))
                steps = [s for s in tr.steps if s.stage == h.events_pb2.DELIVER]
                if steps and all(s.outcome == "DELIVERED" for s in steps):
                    break
                if time.monotonic() > deadline:
                    self.fail("delivery of %s not DELIVERED: %s" % (eid, tr.steps))
                time.sleep(0.1)
            self.assertEqual([s.delivery_id for s in steps], [g["delivery_id"]])

    # -- Python --

    def test_python_publish_and_subscribe(self):
        connector, conn_id = self.setup_route()
        p = self.run_example([PYTHON, str(PY_DIR / "publish.py"), "-c", connector,
                              "--org", self.org, str(self.events_file("py"))], self.isv_key)
        ids = self.check_publish(p, connector, "py")
        p = self.run_example([PYTHON, str(PY_DIR / "subscribe.py"), "-c", conn_id,
                              "--count", "2", "--timeout", "30"], self.sub_key)
        self.check_subscribe(p, connector, ids, "py")

    def test_python_stdin_and_key_flag(self):
        connector, _ = self.setup_route()
        line = json.dumps({"org": self.org, "type": CUSTOMER,
                           "data": {"id": "in-1", "name": "Initech"}})
        env = dict(os.environ, EVB_PY_GEN=str(self.gen))
        env.pop("EVB_API_KEY", None)
        p = subprocess.run([PYTHON, str(PY_DIR / "publish.py"), "-c", connector, "--addr",
                            self.server.target, "--key", self.isv_key], input=line + "\n",
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"(?m)^line 1: PUBLISHED \S+$")
        p = subprocess.run([PYTHON, str(PY_DIR / "publish.py"), "-c", connector, "--addr",
                            self.server.target, "--key", "evb_0000_bad"], input=line + "\n",
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("publish failed: UNAUTHENTICATED", p.stderr)

    # -- Node --

    def node_ready(self):
        node = shutil.which("node")
        if node is None:
            self.fail("node not found; install nodejs")
        if not (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
            self.fail("%s/node_modules missing: run scripts/test-deps.sh (npm ci)" % NODE_DIR)
        return node

    def test_node_publish_and_subscribe(self):
        node = self.node_ready()
        connector, conn_id = self.setup_route()
        p = self.run_example([node, str(NODE_DIR / "publish.js"), "-c", connector,
                              "--org", self.org, str(self.events_file("js"))], self.isv_key)
        ids = self.check_publish(p, connector, "js")
        p = self.run_example([node, str(NODE_DIR / "subscribe.js"), "-c", conn_id,
                              "--count", "2", "--timeout", "30"], self.sub_key)
        self.check_subscribe(p, connector, ids, "js")

    def test_node_bad_key(self):
        node = self.node_ready()
        connector, _ = self.setup_route()
        f = self.events_file("bad")
        p = self.run_example([node, str(NODE_DIR / "publish.js"), "-c", connector,
                              "--org", self.org, str(f)], "evb_0000_bad")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("publish failed: UNAUTHENTICATED", p.stderr)


if __name__ == "__main__":
    h.main()
