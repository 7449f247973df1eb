#!/usr/bin/python3
"""docs/walkthrough.md as a test: the DingTalk-connector scenario, end to end.

Runs the walk-through's evbctl commands (each one is checked to appear verbatim in the
doc) against a real evbridged started with --allow-target-cidr 127.0.0.0/8, with the doc's
receivers (docs/walkthrough/boss_receiver.py: Standard Webhooks HMAC check;
docs/walkthrough/dingtalk_robot.py: timestamp/sign check, errcode 0) on free ports. The
YAML files of docs/walkthrough/ are used as they are, except that the fixed ports of the
doc (18081 BOSS, 18082 robot, 18083 the legacy ERP that is down) are replaced by the test's.

Asserts: keys per party; apply creates, then a second apply is all "unchanged"; the three
events are published; BOSS receives them as binary CloudEvents with valid signatures; the
robot receives the active contract's markdown with a valid signature; the bad payload is
rejected (exit 2) with its violation printed; the contract's trace shows Receive -> Filter
(3 connections, legacy false) -> Deliver (2 DELIVERED); the customer's legacy-ERP delivery
is retried per its CUSTOM policy and dead-lettered after 3 attempts (trace and
dead-letters list).
"""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evbharness as h  # noqa: E402

DOC = h.REPO / "docs" / "walkthrough.md"
WT = h.REPO / "docs" / "walkthrough"
BOSS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROBOT_TOKEN = "acme-sales"
ROBOT_SECRET = "SEC5e3b8f0c6d2a4b1e9f7c3a5d8b0e2f4a6c"
CONNECTOR = "xbongbong-crm"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WalkthroughTest(h.ServerTestCase):
    SERVER_ARGS = ("--allow-target-cidr", "127.0.0.0/8")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.procs = []
        try:
            cls.tmp = Path(tempfile.mkdtemp(prefix="evb-walkthrough-"))
            cls.doc = DOC.read_text()
            cls.boss_log = cls.tmp / "boss.log"
            cls.robot_log = cls.tmp / "robot.log"
            boss_port = cls.start_receiver(
                "boss_receiver.py", cls.boss_log, "--secret", BOSS_SECRET)
            robot_port = cls.start_receiver(
                "dingtalk_robot.py", cls.robot_log, "--token", ROBOT_TOKEN, "--secret",
                ROBOT_SECRET)
            cls.erp_port = free_port()  # nothing listens: the legacy ERP is down
            # the doc's files, on this test's ports
            cls.files = cls.tmp / "walkthrough"
            cls.files.mkdir()
            for f in WT.iterdir():
                if f.suffix in (".yaml", ".jsonl"):
                    text = f.read_text()
                    text = (text.replace("127.0.0.1:18081", "127.0.0.1:%d" % boss_port)
                                .replace("127.0.0.1:18082", "127.0.0.1:%d" % robot_port)
                                .replace("127.0.0.1:18083", "127.0.0.1:%d" % cls.erp_port))
                    (cls.files / f.name).write_text(text)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start_receiver(cls, script, log, *args):
        port_file = cls.tmp / (script + ".port")
        out = open(log, "w")
        p = subprocess.Popen(["/usr/bin/python3", str(WT / script), "--port", "0",
                              "--port-file", str(port_file)] + list(args),
                             stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
        out.close()
        cls.procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if port_file.exists():
                return int(port_file.read_text())
            if p.poll() is not None:
                raise h.HarnessError("%s exited with %d" % (script, p.returncode))
            time.sleep(0.05)
        raise h.HarnessError("%s did not start" % script)

    @classmethod
    def tearDownClass(cls):
        for p in getattr(cls, "procs", []):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if hasattr(cls, "tmp"):
            shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # -- running the doc's commands --

    def evbctl(self, command, key, expect=0):
        """Runs one command line of the doc ("evbctl ..."), with `key` as EVB_API_KEY."""
        self.assertIn(command, self.doc, "the command is not in docs/walkthrough.md")
        argv = shlex.split(command)
        self.assertEqual(argv[0], "evbctl")
        argv = [str(h.BIN_DIR / "evbctl")] + [
            str(self.files / a[len("docs/walkthrough/"):]) if a.startswith("docs/walkthrough/")
            else a for a in argv[1:]]
        env = dict(os.environ, EVB_ADDR=self.server.target, EVB_API_KEY=key)
        env.pop("EVB_API_KEY_FILE", None)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        if expect is not None:
            self.assertEqual(p.returncode, expect, "%s: exit %d\nstdout:\n%s\nstderr:\n%s"
                             % (command, p.returncode, p.stdout, p.stderr))
        return p

    def log_lines(self, path):
        text = path.read_text()
        complete = text[:text.rfind("\n") + 1]  # a line being written is not read yet
        return [json.loads(l) for l in complete.splitlines() if l.strip()]

    def wait_for(self, what, fn, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(0.1)

    def evbctl_json(self, command, key):
        """The doc's command with -o json appended (for the assertions)."""
        self.assertIn(command, self.doc)
        argv = [str(h.BIN_DIR / "evbctl")] + shlex.split(command)[1:] + ["-o", "json"]
        env = dict(os.environ, EVB_ADDR=self.server.target, EVB_API_KEY=key)
        env.pop("EVB_API_KEY_FILE", None)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    # -- the walk-through, step by step --

    def test_walkthrough(self):
        admin = self.server.admin_key()

        # 2. keys
        def key(cmd):
            self.assertIn(cmd + " -o json | jq -r .key", self.doc)
            return json.loads(self.evbctl_json(cmd, admin))["key"]
        xbb = key('evbctl keys create -r isv --scope xbongbong -d "Xbongbong CRM"')
        boss = key('evbctl keys create -r isv --scope boss -d "BOSS accounting"')
        acme = key('evbctl keys create -r org-admin --scope acme -d "Acme IT"')

        # 3-5. config as code
        p = self.evbctl("evbctl apply -f docs/walkthrough/crm.yaml", xbb)
        self.assertEqual(p.stdout.split(), ["created", "Connector", CONNECTOR])
        p = self.evbctl("evbctl apply -f docs/walkthrough/boss.yaml", boss)
        self.assertEqual(p.stdout.split(), ["created", "Action", "boss-accounting-sync"])
        p = self.evbctl("evbctl apply -f docs/walkthrough/acme.yaml", acme)
        lines = p.stdout.splitlines()
        self.assertEqual([l.split()[:3] for l in lines], [
            ["created", "Action", "acme-sales-robot"],
            ["created", "Action", "acme-legacy-erp"],
            ["created", "Connection", "crm-to-boss"],
            ["created", "Connection", "active-contracts-to-robot"],
            ["created", "Connection", "customers-to-legacy-erp"]], p.stdout)
        conn_ids = {l.split()[2]: re.search(r"\(id (\S+)\)", l).group(1) for l in lines[2:]}
        p = self.evbctl("evbctl apply -f docs/walkthrough/acme.yaml", acme)
        self.assertEqual({l.split()[0] for l in p.stdout.splitlines()}, {"unchanged"},
                         p.stdout)
        self.assertEqual(len(p.stdout.splitlines()), 5, p.stdout)
        p = self.evbctl("evbctl connections list --org acme", acme)
        for name in conn_ids:
            self.assertIn(name, p.stdout)
        # the signing secret is write-only
        act = json.loads(self.evbctl_json("evbctl actions get boss-accounting-sync", boss))
        self.assertTrue(act["http"]["has_signing_secret"])
        self.assertNotIn(BOSS_SECRET, json.dumps(act))

        # 6. publish
        p = self.evbctl("evbctl events put -c xbongbong-crm -f docs/walkthrough/events.jsonl",
                        xbb)
        self.assertRegex(p.stdout + p.stderr, r"published 3, deduplicated 0, rejected 0")

        # 7. BOSS receives three signed binary CloudEvents
        boss_got = self.wait_for("3 deliveries at BOSS",
                                 lambda: (lambda l: l if len(l) >= 3 else None)(
                                     self.log_lines(self.boss_log)))
        self.assertEqual(len(boss_got), 3, boss_got)
        by_id = {r["ce"]["id"]: r for r in boss_got}
        self.assertEqual(set(by_id), {"xbb-customer-88231-7", "xbb-product-5531-3",
                                      "xbb-contract-0042-2"})
        for r in boss_got:
            self.assertTrue(r["signature_ok"], r)
            self.assertEqual(r["path"], "/boss/events")
            self.assertTrue(r["webhook_id"])
            self.assertTrue(r["content_type"].startswith("application/json"), r)
            ce = r["ce"]
            self.assertEqual(ce["specversion"], "1.0")
            self.assertEqual(ce["source"], "/connectors/xbongbong-crm")
            self.assertEqual(ce["orgid"], "acme")
            self.assertEqual(ce["connector"], CONNECTOR)
            self.assertTrue(ce["dataschema"].startswith("evb://registry/"), ce)
        self.assertEqual(by_id["xbb-contract-0042-2"]["data"]["total_value"],
                         {"amount": "1194000.00", "currency": "CNY"})
        self.assertEqual(by_id["xbb-customer-88231-7"]["ce"]["type"],
                         "com.xbongbong.crm.customer.changed")
        # the robot: one signed markdown message, errcode 0
        robot_got = self.wait_for("the robot message",
                                  lambda: self.log_lines(self.robot_log))
        self.assertEqual(len(robot_got), 1, robot_got)
        self.assertEqual(robot_got[0], {"errcode": 0, "msgtype": "markdown", "message": {
            "title": "Contract HT-2026-0042 is active",
            "text": "### Contract HT-2026-0042 is active\n- customer: cus_88231\n"
                    "- value: 1194000.00 CNY"}})

        # 8. the bad payload: rejected with its violation, exit 2
        p = self.evbctl("evbctl events put -c xbongbong-crm -f docs/walkthrough/bad-event.jsonl",
                        xbb, expect=2)
        self.assertIn("line 2: REJECTED SCHEMA_VIOLATION", p.stdout + p.stderr)
        self.assertRegex(p.stdout + p.stderr,
                         r"(?m)^  /total_value/amount: must be of type string.*/type\)$")
        self.assertIn("published 0, deduplicated 0, rejected 1", p.stdout + p.stderr)

        # 9. the contract's trace: Receive -> Filter -> Deliver
        trace_cmd = "evbctl events trace xbb-contract-0042-2 --org acme --connector xbongbong-crm"
        p = self.evbctl(trace_cmd, acme)
        stages = [l.split()[0] for l in p.stdout.splitlines()[2:]]
        self.assertEqual(stages, ["RECEIVE", "FILTER", "FILTER", "FILTER", "DELIVER",
                                  "DELIVER"], p.stdout)
        steps = json.loads(self.evbctl_json(trace_cmd, acme))["steps"]
        self.assertIn("connector xbongbong-crm", steps[0]["detail"])
        matched = {s["connection_id"]: s["matched"] for s in steps if s["stage"] == "FILTER"}
        self.assertEqual(matched, {conn_ids["crm-to-boss"]: True,
                                   conn_ids["active-contracts-to-robot"]: True,
                                   conn_ids["customers-to-legacy-erp"]: False})
        delivered = {s["connection_id"]: (s["outcome"], s["http_status"])
                     for s in steps if s["stage"] == "DELIVER"}
        self.assertEqual(delivered, {conn_ids["crm-to-boss"]: ("DELIVERED", 200),
                                     conn_ids["active-contracts-to-robot"]: ("DELIVERED", 200)})
        self.assertEqual(
            [s["delivery_id"] for s in steps if s["connection_id"] == conn_ids["crm-to-boss"]
             and s["stage"] == "DELIVER"], [by_id["xbb-contract-0042-2"]["webhook_id"]])

        # 10. the legacy ERP: CUSTOM retries, then the dead letter
        trace_cmd = "evbctl events trace xbb-customer-88231-7 --org acme --connector xbongbong-crm"
        legacy = conn_ids["customers-to-legacy-erp"]

        def dead():
            st = json.loads(self.evbctl_json(trace_cmd, acme))["steps"]
            att = [s for s in st if s["stage"] == "DELIVER" and s["connection_id"] == legacy]
            return att if att and att[-1]["outcome"] == "DEAD" else None
        attempts = self.wait_for("the legacy delivery to die", dead, timeout=30)
        self.assertEqual([(s["attempt"], s["outcome"]) for s in attempts],
                         [(1, "RETRY"), (2, "RETRY"), (3, "DEAD")], attempts)
        for s in attempts:
            self.assertIn("port %d" % self.erp_port, s["error"])
        p = self.evbctl(trace_cmd, acme)
        self.assertEqual(p.stdout.count(" DEAD "), 1, p.stdout)
        # the CUSTOM policy's delays: 200 ms, then 400 ms (jitter 0); allow for scheduling
        t = [self.parse_time(s["time"]) for s in attempts]
        self.gaps = [round(b - a, 3) for a, b in zip(t, t[1:])]
        sys.stderr.write("legacy ERP retry gaps: %s s\n" % self.gaps)
        self.assertGreaterEqual(self.gaps[0], 0.19, self.gaps)
        self.assertGreaterEqual(self.gaps[1], 0.39, self.gaps)
        self.assertLess(sum(self.gaps), 5, self.gaps)

        p = self.evbctl("evbctl dead-letters list --org acme", acme)
        rows = p.stdout.splitlines()[1:]
        self.assertEqual(len(rows), 1, p.stdout)
        self.assertEqual(rows[0].split()[1:4], [legacy, "xbb-customer-88231-7", "3"], p.stdout)

    @staticmethod
    def parse_time(s):
        from datetime import datetime
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    h.main()
