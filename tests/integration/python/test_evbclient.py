#!/usr/bin/python3
"""libevbclient (clients/c) against a real server: the example program publishes with
PutEvents and PublishStream and the events are stored (GetEvent); the C library's live
checks (evbclient_live: errors, threads, a pipelined stream); and the installed library
(cmake --install --component evbclient) builds the example through pkg-config; the example
over TLS and mutual TLS."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evbharness import (  # noqa: E402
    BIN_DIR, REPO, TYPE_CUSTOMER, ServerTestCase, create_connector, create_key, events_pb2, main,
    unique)
from test_tls import TlsServer, make_pki  # noqa: E402  (the TLS suite's openssl PKI)

EXAMPLE = BIN_DIR / "evbclient-publish"
LIVE = BIN_DIR / "evbclient_live"
BUILD_DIR = BIN_DIR.parent
LINE = re.compile(r"^(put|stream (\S+)) (\d+) (PUBLISHED|DEDUPLICATED|REJECTED) (\S+)(?: (.*))?$")


def run(cmd, env=None, timeout=120):
    return subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True,
                          timeout=timeout)


class EvbClientTest(ServerTestCase):

    # no /metrics listener: its fixed default port would collide with parallel servers
    SERVER_ARGS = ("--admin-listen", "off")

    def setUp(self):
        for b in (EXAMPLE, LIVE):
            if not b.is_file():
                self.fail("%s not built (cmake --build the tree that holds %s)" % (b, BIN_DIR))
        self.isv, self.cli, self.conn = self.new_isv()
        self.key = self.cli.key
        self.org = unique("org")

    def example_env(self, **extra):
        env = dict(os.environ)
        env.update(EVB_ADDR=self.server.target, EVB_API_KEY=self.key, **extra)
        return env

    def check_example_output(self, out):
        lines = [m for m in (LINE.match(x) for x in out.splitlines()) if m]
        put = [m for m in lines if m.group(1) == "put"]
        stream = [m for m in lines if m.group(1) != "put"]
        self.assertEqual(len(put), 3, out)
        self.assertEqual(len(stream), 3, out)
        self.assertEqual([m.group(2) for m in stream],
                         ["example-stream-0", "example-stream-1", "example-stream-2"], out)
        ids = []
        for m in lines:
            self.assertEqual(m.group(4), "PUBLISHED", out)
            ids.append(m.group(5))
        self.assertEqual(len(set(ids)), 6, out)
        return ids

    def test_example_publishes_and_events_are_stored(self):
        r = run([EXAMPLE, self.conn.name, self.org, TYPE_CUSTOMER], env=self.example_env())
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        ids = self.check_example_output(r.stdout)
        for eid in ids:
            ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
                event_id=eid, org=self.org, connector=self.conn.name))
            self.assertEqual(ev.id, eid)
            self.assertEqual(ev.type, TYPE_CUSTOMER)
        ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
            event_id=ids[1], org=self.org, connector=self.conn.name))
        self.assertEqual(ev.attributes["region"].ce_string, "cn")
        self.assertEqual(ev.attributes["subject"].ce_string, "customer")
        self.assertIn('"name":"Grace"', ev.text_data.replace(" ", ""))

    def test_example_env_only_and_rejection(self):
        # arguments from the environment; an undeclared type is rejected per entry (exit 1)
        env = self.example_env(EVB_CONNECTOR=self.conn.name, EVB_ORG=self.org,
                               EVB_TYPE="com.example.crm.undeclared")
        r = run([EXAMPLE], env=env)
        self.assertEqual(r.returncode, 1, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        self.assertIn("REJECTED UNKNOWN_TYPE", r.stdout)

    def test_example_bad_key_fails(self):
        env = self.example_env()
        env["EVB_API_KEY"] = "wrong"
        r = run([EXAMPLE, self.conn.name, self.org], env=env)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("gRPC status 16", r.stderr)

    def test_library_live_checks(self):
        r = run([LIVE, self.server.target, self.key, self.conn.name, self.org, TYPE_CUSTOMER],
                timeout=240)
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        self.assertIn("PASSED", r.stdout)
        # the events of the batch, the threads and the stream were stored
        tag = re.search(r"^tag (\S+)$", r.stdout, re.M).group(1)
        for suffix in ("0", "99", "partial", "t3-24-3", "s0", "s199"):
            eid = "live-%s-%s" % (tag, suffix)
            ev = self.admin.events.GetEvent(events_pb2.GetEventRequest(
                event_id=eid, org=self.org, connector=self.conn.name))
            self.assertEqual(ev.id, eid)
        listed = self.admin.events.ListEvents(events_pb2.ListEventsRequest(
            org=self.org, connector=self.conn.name, page_size=1000))
        # 100 (batch) + 1 (partial) + 400 (4 threads x 25 x 4) + 200 (stream) + 1 (after
        # the unknown connector) + 0..1 (the cancelled stream's request)
        self.assertGreaterEqual(len(listed.events), 702)
        self.assertLessEqual(len(listed.events), 703)

    def test_installed_library_builds_the_example(self):
        cache = BUILD_DIR / "CMakeCache.txt"
        if not cache.is_file():
            self.skipTest("no CMakeCache.txt next to %s" % BIN_DIR)
        text = cache.read_text()
        if "EVB_SANITIZE:BOOL=ON" in text:
            self.skipTest("sanitizer build: the installed static library needs -fsanitize")
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None or shutil.which("pkg-config") is None:
            self.fail("cc and pkg-config are needed")
        tmp = Path(tempfile.mkdtemp(prefix="evbclient-install-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        r = run(["cmake", "--install", BUILD_DIR, "--component", "evbclient",
                 "--prefix", tmp / "prefix"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pcs = list((tmp / "prefix").glob("lib*/pkgconfig/evbclient.pc"))
        self.assertEqual(len(pcs), 1, "evbclient.pc not installed")
        self.assertTrue((tmp / "prefix/include/evbclient.h").is_file())
        env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
        flags = run(["pkg-config", "--cflags", "--libs", "evbclient"], env=env)
        self.assertEqual(flags.returncode, 0, flags.stderr)
        exe = tmp / "publish"
        r = run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
                 REPO / "clients/c/examples/publish.c", "-o", exe] + flags.stdout.split())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run([exe, self.conn.name, self.org], env=self.example_env())
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        self.check_example_output(r.stdout)


class EvbClientTlsTest(unittest.TestCase):
    """The example over TLS and mutual TLS (PEM files from EVB_CA_FILE, EVB_CERT_FILE,
    EVB_KEY_FILE; the library takes their contents)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise AssertionError("openssl not found (Debian package openssl)")
        cls.pki = Path(tempfile.mkdtemp(prefix="evbclient-pki-"))
        make_pki(cls.pki)
        cls.servers = []

    @classmethod
    def tearDownClass(cls):
        try:
            for s in cls.servers:
                rc = s.stop()
                if rc != 0:
                    raise AssertionError("evbridged exit %r\n%s" % (rc, s.log_text()))
        finally:
            for s in cls.servers:
                s.cleanup()
            shutil.rmtree(cls.pki, ignore_errors=True)

    def start(self, mutual, name):
        srv = TlsServer(self.pki, mutual, name)
        srv.extra_args += ["--admin-listen", "off"]
        self.servers.append(srv)
        srv.start()
        adm = srv.tls_client(srv.admin_key())
        self.addCleanup(adm.close)
        isv = unique("isv")
        _kid, key = create_key(adm, "isv", isv)
        cli = srv.tls_client(key)
        self.addCleanup(cli.close)
        conn = create_connector(cli, isv)
        return srv, key, conn.name

    def example(self, srv, key, conn, **files):
        env = dict(os.environ, EVB_ADDR=srv.target, EVB_API_KEY=key)
        for var, name in files.items():
            env[var] = str(self.pki / name)
        return run([EXAMPLE, conn, unique("org")], env=env)

    def test_tls_and_mutual_tls(self):
        srv, key, conn = self.start(False, "ctls")
        r = self.example(srv, key, conn, EVB_CA_FILE="ca.crt")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(" PUBLISHED "), 6, r.stdout)
        # an untrusted server certificate fails the call
        r = self.example(srv, key, conn, EVB_CA_FILE="rogue-ca.crt")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("gRPC status 14", r.stderr)

        srv, key, conn = self.start(True, "cmtls")
        r = self.example(srv, key, conn, EVB_CA_FILE="ca.crt", EVB_CERT_FILE="client.crt",
                         EVB_KEY_FILE="client.key")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count(" PUBLISHED "), 6, r.stdout)
        # no client certificate: refused
        r = self.example(srv, key, conn, EVB_CA_FILE="ca.crt")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)


if __name__ == "__main__":
    main()
