#!/usr/bin/python3
"""Operability: /metrics, /healthz, /readyz, trace context and secret-free logs.

A real evbridged (--allow-target-cidr 127.0.0.0/8, --log-level debug) with its admin
listener on a free port (the harness passes --admin-listen 127.0.0.1:0 and
--admin-port-file). A Python http.server on 127.0.0.1 is the receiver: /ok answers 204,
/flaky 500 once then 200, /dead always 500. /metrics is scraped before and after a scripted
scenario — PutEvents with published, deduplicated and rejected entries (per-entry codes and
a whole request to an unknown connector), a retried delivery, a dead letter, a redrive and a
second dead letter — and every counter must have moved by exactly the expected amount. The
exposition must pass `promtool check metrics` (Debian's prometheus package) and parse with
the npm parse-prometheus-text-format (tests/integration/node/check_metrics.js) into the
same samples. A traceparent sent as gRPC metadata with PutEvents reaches the HTTP receiver
with the same trace id (an entry's own traceparent extension wins) and shows in TraceEvent.
No API key, signing secret or credential appears in the server's log. After SIGTERM,
/readyz answers 503 while in-flight calls drain, /healthz still 200.
"""

import collections
import http.server
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    DEDUPLICATED, PUBLISHED, REJECTED, TYPE_CUSTOMER, Client, ServerTestCase,
    connector_pb2, create_connector, create_key, describe, entry, events_pb2, main, put,
    unique)

pb = connector_pb2
HERE = Path(__file__).resolve().parent
NODE_DIR = HERE.parent / "node"
SIGNING = "whsec_" + "bWV0cmljcy10ZXN0LXNpZ25pbmctc2VjcmV0LTk5"
TOKEN = "metrics-bearer-token-5c1e7a"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = "00-%s-00f067aa0ba902b7-01" % TRACE_ID
TRACESTATE = "evb=t61rcWkgMzE,other=x"
OWN_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
OWN_TRACEPARENT = "00-%s-b7ad6b7169203331-01" % OWN_TRACE_ID
PUT = "/evbridge.v1.EventService/PutEvents"
REDRIVE = "/evbridge.v1.EventService/RedriveDeadLetters"


# ---- exposition parsing (our own; the npm parser checks it independently) ----

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{(name, frozenset(labels.items())): float} plus {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError("unparsable exposition line: %r" % line)
        labels = dict(_LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """Sum over every series of name whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


# ---- receiver ----

class Receiver:
    def __init__(self):
        self.requests = []  # (path, headers dict, body)
        self.lock = threading.Lock()
        self.flaky_seen = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers.items()), body))
                    kind = self.path.rsplit("/", 1)[-1]
                    if kind == "flaky":
                        outer.flaky_seen += 1
                        code = 500 if outer.flaky_seen == 1 else 200
                    elif kind == "dead":
                        code = 500
                    else:
                        code = 204
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path):
        with self.lock:
            return sum(1 for p, _h, _b in self.requests if p == path)

    def headers(self, path):
        with self.lock:
            return [h for p, h, _b in self.requests if p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def admin_get(port, path, timeout=5):
    """(status, body text) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode("utf-8"), r.headers.get("Content-Type")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), e.headers.get("Content-Type")


def admin_port(server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            text = server.admin_port_file.read_text()
            if text.endswith("\n") and text.strip().isdigit():
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("no admin port file\n" + server.log_text())


def wait_for(what, cond, timeout=30, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s%s" % (what, "\n" + log() if log else ""))


class MetricsTest(ServerTestCase):
    SERVER_ARGS = ("--allow-target-cidr", "127.0.0.0/8", "--log-level", "debug")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = Receiver()
        cls.port = admin_port(cls.server)
        cls.secrets = [cls.server.admin_key(), SIGNING, TOKEN]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()  # stops the server: its log is complete now
        finally:
            cls.receiver.close()

    def scrape(self):
        status, text, ctype = admin_get(self.port, "/metrics")
        self.assertEqual(status, 200, text)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        return text

    # ---- health ----

    def test_health_endpoints(self):
        self.assertEqual(admin_get(self.port, "/healthz")[:2], (200, "ok\n"))
        self.assertEqual(admin_get(self.port, "/readyz")[:2], (200, "ready\n"))
        self.assertEqual(admin_get(self.port, "/nope")[0], 404)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.port, data=b"x",
                                     method="POST")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(cm.exception.code, 405)
        samples, _ = parse_exposition(self.scrape())
        self.assertEqual(value(samples, "evb_ready"), 1.0)
        self.assertGreater(value(samples, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(value(samples, "process_threads"), 1)
        self.assertGreater(value(samples, "process_open_fds"), 3)

    # ---- the scenario ----

    def _setup_targets(self, tag):
        """Connections of three fresh orgs to /<tag>/ok, /<tag>/flaky, /<tag>/dead."""
        isv = unique("isv")
        _kid, isv_key = create_key(self.admin, "isv", isv)
        self.secrets.append(isv_key)
        isv_cli = Client(self.server.target, isv_key)
        self.addCleanup(isv_cli.close)
        connector = create_connector(isv_cli, isv, types=(TYPE_CUSTOMER,)).name
        orgs = {}
        retry = pb.RetryPolicy(strategy=pb.CUSTOM, max_attempts=2, base_delay_ms=100,
                               max_delay_ms=200, jitter=0)
        for path in ("ok", "flaky", "dead"):
            org = unique("org-" + path)
            _kid, org_key = create_key(self.admin, "org-admin", org)
            self.secrets.append(org_key)
            a = self.admin.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
                name=unique("act-" + path), org=org, kind=pb.HTTP, http=pb.HttpTarget(
                    url="http://127.0.0.1:%d/%s/%s" % (self.receiver.port, tag, path),
                    timeout_ms=5000, signing_secret=SIGNING,
                    auth=pb.HttpAuth(kind=pb.HTTP_AUTH_BEARER, token=TOKEN)))))
            c = self.admin.connectors.CreateConnection(pb.CreateConnectionRequest(
                connection=pb.Connection(org=org, name=path, connector=connector,
                                         action=a.name, retry=retry, dead_letter=True)))
            orgs[path] = (org, c.id)
        return isv_cli, connector, orgs

    def _dead_letters(self, org, conn_id):
        r = self.admin.events.ListDeadLetters(events_pb2.ListDeadLettersRequest(
            org=org, connection_id=conn_id))
        return list(r.dead_letters)

    def test_scenario_moves_counters_exactly(self):
        isv_cli, connector, orgs = self._setup_targets("scenario")
        before_text = self.scrape()
        before, _ = parse_exposition(before_text)

        # 1. one request: 3 publishable entries (one with its own traceparent), an unknown
        #    type and a missing org; traceparent/tracestate as gRPC metadata
        req = events_pb2.PutEventsRequest(connector=connector)
        req.entries.extend([
            entry(orgs["ok"][0], id_="m-ok-1"),
            entry(orgs["flaky"][0], id_="m-flaky-1",
                  extensions={"traceparent": OWN_TRACEPARENT}),
            entry(orgs["dead"][0], id_="m-dead-1"),
            entry(orgs["ok"][0], type_="com.example.unknown.type", id_="m-bad-1"),
            entry("", id_="m-bad-2"),
        ])
        md = (("authorization", "Bearer %s" % isv_cli.key), ("traceparent", TRACEPARENT),
              ("tracestate", TRACESTATE))
        r1 = isv_cli.events._callable("PutEvents")(req, metadata=md, timeout=30)
        st = [x.status for x in r1.results]
        self.assertEqual(st, [PUBLISHED, PUBLISHED, PUBLISHED, REJECTED, REJECTED],
                         describe(r1))
        reject_codes = collections.Counter(x.error_code for x in r1.results
                                           if x.status == REJECTED)
        # 2. a duplicate
        r2 = put(isv_cli, connector, [entry(orgs["ok"][0], id_="m-ok-1")])
        self.assertEqual(r2.results[0].status, DEDUPLICATED, describe(r2))
        # 3. a whole request to an unknown connector (2 entries)
        code = None
        try:
            put(isv_cli, "no-such-connector-" + unique("x"), [entry("o1"), entry("o2")])
        except grpc.RpcError as e:
            code = e.code()
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)

        # deliveries: ok once, flaky twice (500 then 200), dead twice then dead-lettered
        org_dead, conn_dead = orgs["dead"]
        wait_for("the dead letter", lambda: len(self._dead_letters(org_dead, conn_dead)) == 1,
                 log=self.server.log_text)
        wait_for("the flaky delivery", lambda: self.receiver.count("/scenario/flaky") == 2)
        wait_for("the ok delivery", lambda: self.receiver.count("/scenario/ok") == 1)
        # 4. redrive: two more attempts, dead again
        rr = self.admin.events.RedriveDeadLetters(events_pb2.RedriveDeadLettersRequest(
            org=org_dead, connection_id=conn_dead))
        self.assertEqual(rr.redriven, 1)
        wait_for("the redriven delivery to die again",
                 lambda: self.receiver.count("/scenario/dead") == 4 and
                 len(self._dead_letters(org_dead, conn_dead)) == 1)

        def settled():
            s, _ = parse_exposition(self.scrape())
            return (total(s, "evb_deliveries_total") - total(before, "evb_deliveries_total")
                    == 4 and value(s, "evb_deliveries_pending") == 0 and
                    value(s, "evb_deliveries_in_flight") == 0)
        wait_for("the delivery counters to settle", settled, log=self.server.log_text)
        after_text = self.scrape()
        after, types = parse_exposition(after_text)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        c = connector
        self.assertEqual(delta("evb_events_received_total", connector=c), 6)
        self.assertEqual(delta("evb_events_published_total", connector=c), 3)
        self.assertEqual(delta("evb_events_deduplicated_total", connector=c), 1)
        for reason, n in reject_codes.items():
            self.assertEqual(delta("evb_events_rejected_total", connector=c, reason=reason), n,
                             reason)
        self.assertEqual(total(after, "evb_events_rejected_total", connector=c) -
                         total(before, "evb_events_rejected_total", connector=c), 2)
        self.assertEqual(delta("evb_events_received_total", connector="_unknown"), 2)
        self.assertEqual(delta("evb_events_rejected_total", connector="_unknown",
                               reason="NOT_FOUND"), 2)
        self.assertEqual(delta("evb_rpc_handled_total", method=PUT, code="OK"), 2)
        self.assertEqual(delta("evb_rpc_handled_total", method=PUT, code="NOT_FOUND"), 1)
        self.assertEqual(delta("evb_rpc_handled_total", method=REDRIVE, code="OK"), 1)
        self.assertEqual(delta("evb_rpc_handling_seconds_count", method=PUT), 3)
        # deliveries (HTTP): attempts ok 1 + flaky 2 + dead 2 + redriven 2
        self.assertEqual(delta("evb_delivery_attempts_total", kind="http", outcome="delivered"),
                         2)
        self.assertEqual(delta("evb_delivery_attempts_total", kind="http", outcome="retry"), 3)
        self.assertEqual(delta("evb_delivery_attempts_total", kind="http", outcome="dead"), 2)
        self.assertEqual(delta("evb_delivery_retries_total", kind="http"), 3)
        self.assertEqual(delta("evb_deliveries_total", kind="http", outcome="delivered"), 2)
        self.assertEqual(delta("evb_deliveries_total", kind="http", outcome="dead"), 2)
        self.assertEqual(delta("evb_dead_letters_total", kind="http"), 2)
        self.assertEqual(delta("evb_redrives_total"), 1)
        self.assertEqual(delta("evb_delivery_latency_seconds_count", kind="http"), 2)
        self.assertEqual(delta("evb_delivery_attempt_seconds_count", kind="http"), 7)
        self.assertGreaterEqual(delta("evb_store_commits_total", outcome="ok"), 1)
        self.assertGreaterEqual(delta("evb_store_commit_batch_size_count"), 1)
        self.assertEqual(value(after, "evb_deliveries_dead"), 1)
        self.assertEqual(value(after, "evb_delivery_oldest_due_age_seconds"), 0)
        # histogram invariants: +Inf bucket == _count, buckets cumulative
        for name in ("evb_rpc_handling_seconds", "evb_delivery_latency_seconds",
                     "evb_store_commit_seconds"):
            self.assertEqual(types.get(name), "histogram")
        self.assertEqual(value(after, "evb_rpc_handling_seconds_bucket", method=PUT, le="+Inf"),
                         value(after, "evb_rpc_handling_seconds_count", method=PUT))

        self._check_promtool(after_text)
        self._check_node_parser(after_text, after, types)
        self._check_trace(orgs)

    # ---- independent checks of the exposition ----

    def _check_promtool(self, text):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.fail("promtool not found: install Debian's prometheus package "
                      "(scripts/install-deps.sh)")
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s" % (r.stdout, r.stderr))

    def _check_node_parser(self, text, ours, types):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node not found")
        if not (NODE_DIR / "node_modules" / "parse-prometheus-text-format").is_dir():
            self.fail("parse-prometheus-text-format missing: run npm ci in %s" % NODE_DIR)
        with tempfile.NamedTemporaryFile("w", suffix=".prom", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            r = subprocess.run([node, str(NODE_DIR / "check_metrics.js"), path],
                               capture_output=True, text=True, timeout=60, cwd=str(NODE_DIR))
        finally:
            Path(path).unlink()
        self.assertEqual(r.returncode, 0, r.stderr)
        families = {f["name"]: f for f in json.loads(r.stdout)}
        self.assertLessEqual(set(families), set(types))
        # every counter and gauge sample agrees with our parse
        for name, fam in families.items():
            self.assertIn(fam["type"], ("COUNTER", "GAUGE", "HISTOGRAM"), name)
            for m in fam["metrics"]:
                labels = frozenset((m.get("labels") or {}).items())
                if fam["type"] == "HISTOGRAM":
                    # parse-prometheus-text-format 1.1.1 folds the series of a labelled
                    # histogram into one bucket map and drops their count and sum
                    # (flattenMetrics); only unlabelled histograms come back whole
                    self.assertIn("+Inf", m["buckets"], name)
                    if "count" in m:
                        self.assertEqual(float(m["count"]), ours[(name + "_count", labels)],
                                         name)
                        self.assertEqual(float(m["buckets"]["+Inf"]), float(m["count"]), name)
                else:
                    self.assertEqual(float(m["value"]), ours[(name, labels)], name)
        for must in ("evb_events_received_total", "evb_rpc_handled_total",
                     "evb_delivery_latency_seconds", "evb_deliveries_pending",
                     "process_open_fds", "evb_stream_subscribers"):
            self.assertIn(must, families)

    def _check_trace(self, orgs):
        ok = self.receiver.headers("/scenario/ok")
        self.assertEqual(len(ok), 1)
        tp = ok[0].get("traceparent") or ok[0].get("Traceparent")
        self.assertIsNotNone(tp, "no traceparent header at the receiver: %s" % ok[0])
        self.assertEqual(tp.split("-")[1], TRACE_ID)
        self.assertEqual(tp, TRACEPARENT)
        self.assertEqual(ok[0].get("tracestate") or ok[0].get("Tracestate"), TRACESTATE)
        flaky = self.receiver.headers("/scenario/flaky")
        self.assertTrue(flaky)
        for h in flaky:  # its own extension wins over the call's metadata
            self.assertEqual((h.get("traceparent") or h.get("Traceparent")).split("-")[1],
                             OWN_TRACE_ID)
        t = self.admin.events.TraceEvent(events_pb2.TraceEventRequest(
            event_id="m-ok-1", org=orgs["ok"][0]))
        self.assertEqual(t.event.attributes["traceparent"].ce_string, TRACEPARENT)
        receive = [s for s in t.steps if s.stage == events_pb2.RECEIVE]
        self.assertEqual(len(receive), 1)
        self.assertIn("traceparent " + TRACEPARENT, receive[0].detail)

    def test_invalid_traceparent_metadata_is_ignored(self):
        isv_cli, connector, orgs = self._setup_targets("badtp")
        req = events_pb2.PutEventsRequest(connector=connector)
        req.entries.extend([entry(orgs["ok"][0], id_="m-badtp-1")])
        md = (("authorization", "Bearer %s" % isv_cli.key),
              ("traceparent", "00-%s-00f067aa0ba902b7-01" % ("0" * 32)))
        r = isv_cli.events._callable("PutEvents")(req, metadata=md, timeout=30)
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        t = self.admin.events.TraceEvent(events_pb2.TraceEventRequest(
            event_id="m-badtp-1", org=orgs["ok"][0]))
        self.assertNotIn("traceparent", t.event.attributes)

    # runs last (unittest sorts by name): every secret used above, in the whole log
    def test_zz_no_secret_in_logs(self):
        log = self.server.log_text(limit=10 ** 9)
        self.assertIn("listening on", log)
        for s in self.secrets:
            self.assertNotIn(s, log, "a secret appears in the server log")
            self.assertNotIn(s[-16:], log, "part of a secret appears in the server log")


class ReadyzShutdownTest(ServerTestCase):
    """SIGTERM: /readyz turns 503 at once while in-flight calls drain; /healthz stays 200."""
    SERVER_ARGS = ("--grace-ms", "4000")

    def test_readyz_503_while_draining(self):
        port = admin_port(self.server)
        self.assertEqual(admin_get(port, "/readyz")[0], 200)
        release = threading.Event()

        def requests():  # a PublishStream that stays open until released
            release.wait(10)
            return
            yield  # noqa: unreachable - makes this a generator

        cli = self.server.client()
        stream = cli.events._callable("PublishStream")(requests(), metadata=cli.metadata(),
                                                       timeout=30)
        consumer = threading.Thread(target=lambda: [x for x in self._drain(stream)],
                                    daemon=True)
        consumer.start()
        time.sleep(0.5)  # the stream is in flight
        self.server.proc.send_signal(signal.SIGTERM)
        statuses = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                statuses.append((admin_get(port, "/readyz", timeout=1)[0],
                                 admin_get(port, "/healthz", timeout=1)[0]))
            except OSError:
                break
            if statuses[-1][0] == 503:
                break
            time.sleep(0.05)
        release.set()
        consumer.join(10)
        cli.close()
        self.assertIn((503, 200), statuses, "readyz/healthz after SIGTERM: %s" % statuses)

    @staticmethod
    def _drain(stream):
        try:
            for x in stream:
                yield x
        except grpc.RpcError:
            return


if __name__ == "__main__":
    main()
