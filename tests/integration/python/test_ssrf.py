#!/usr/bin/python3
"""SSRF guard: deliveries to internal addresses, in every spelling, die at once.

The server runs WITHOUT --allow-target-cidr. A listener on 127.0.0.1 (and ::1 when the
host has IPv6) records every connection. HTTP actions (each with credentials and a
signing secret) point at the listener by plain IPv4, decimal (2130706433), octal
(0177.0.0.1), hex (0x7f000001), short (127.1), IPv4-mapped IPv6 ([::ffff:127.0.0.1]),
::1, 0.0.0.0, [::], `localhost` (resolved through /etc/hosts), at 10.0.0.1, 169.254.169.254
(cloud metadata), 100.100.100.200 (Alibaba Cloud metadata), [fd00:ec2::254] (AWS IPv6
metadata), and a DingTalk robot webhook on 127.0.0.1. When unprivileged user namespaces
are available, the server runs in its own mount namespace with a private /etc/hosts in
which `loop.evb.test` is 127.0.0.1 and `intranet.evb.test` is 10.1.2.3: names resolving
to private addresses are caught on the resolved address, not the name.

Every delivery must end DEAD after one attempt, with an error naming the SSRF guard and
the rule (TraceEvent and ListDeadLetters), and the listener must never see a connection.
URLs with other schemes are refused when the action is saved. Finally no credential,
signing secret, robot secret, access_token or API key appears in the server's log.
A control server with --allow-target-cidr 127.0.0.0/8 does reach the same kind of listener.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

import evbharness  # noqa: E402
from evbharness import (  # noqa: E402
    PUBLISHED, TYPE_CUSTOMER, Client, Server, ServerTestCase, connector_pb2, create_connector,
    create_key, describe, entry, events_pb2, main, put, unique)

pb = connector_pb2
S = grpc.StatusCode
SIGNING = "whsec_" + "c3NyZi10ZXN0LXNpZ25pbmctc2VjcmV0LTIwMjY="
PASSWORD = "ssrf-basic-password-9d1c"
TOKEN = "ssrf-bearer-token-41aa"
APIKEY = "ssrf-api-key-value-77e0"
ROBOT_SECRET = "SECssrfrobotsecret0123456789abcdef"
ACCESS_TOKEN = "ssrfaccesstoken5b2f9e"
HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.1 loop.evb.test\n" \
        "10.1.2.3 intranet.evb.test\n"


class Listener:
    """Accepts (and records) connections on 127.0.0.1 and, if possible, ::1."""

    def __init__(self):
        self.connections = []
        self.socks = []
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s4.bind(("127.0.0.1", 0))
        s4.listen(16)
        self.port = s4.getsockname()[1]
        self.socks.append(s4)
        self.ipv6 = False
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s6.bind(("::1", self.port))
            s6.listen(16)
            self.socks.append(s6)
            self.ipv6 = True
        except OSError:
            pass
        self._stop = False
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True)
                        for s in self.socks]
        for t in self.threads:
            t.start()

    def _accept(self, s):
        s.settimeout(0.2)
        while not self._stop:
            try:
                c, addr = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(addr)
            c.close()

    def close(self):
        self._stop = True
        for t in self.threads:
            t.join(2)
        for s in self.socks:
            s.close()


def userns_available():
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True)
    return r.returncode == 0


class NsServer(Server):
    """evbridged in its own user+mount namespace whose /etc/hosts is HOSTS."""

    def __init__(self, extra_args=(), name="ssrf"):
        super().__init__(extra_args, name=name)
        hosts = self.root / "hosts"
        hosts.write_text(HOSTS)
        self.wrapper = self.root / "evbridged-ns"
        self.wrapper.write_text(
            "#!/bin/sh\nexec unshare -r -m sh -c 'mount --bind \"$0\" /etc/hosts && exec \"$@\"' "
            "'%s' '%s' \"$@\"\n" % (hosts, evbharness.server_binary()))
        os.chmod(self.wrapper, 0o700)

    def start(self, timeout=evbharness.READY_TIMEOUT):
        orig = evbharness.server_binary
        evbharness.server_binary = lambda: self.wrapper
        try:
            return super().start(timeout)
        finally:
            evbharness.server_binary = orig


class SsrfTest(ServerTestCase):
    SERVER_ARGS = ("--log-level", "debug")

    @classmethod
    def setUpClass(cls):
        cls.listener = Listener()
        cls.namespaced = userns_available()
        if cls.namespaced:
            orig = evbharness.Server
            evbharness.Server = NsServer
            try:
                super().setUpClass()
            finally:
                evbharness.Server = orig
        else:
            super().setUpClass()
        cls.secrets = [cls.server.admin_key(), SIGNING, PASSWORD, TOKEN, APIKEY, ROBOT_SECRET,
                       ACCESS_TOKEN]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.listener.close()

    def _targets(self):
        p = self.listener.port
        t = [
            ("ipv4", "http://127.0.0.1:%d/hook" % p, "loopback"),
            ("decimal", "http://2130706433:%d/hook" % p, "loopback"),
            ("octal", "http://0177.0.0.1:%d/hook" % p, "loopback"),
            ("hex", "http://0x7f000001:%d/hook" % p, "loopback"),
            ("short", "http://127.1:%d/hook" % p, "loopback"),
            ("mapped", "http://[::ffff:127.0.0.1]:%d/hook" % p, "loopback"),
            ("https", "https://127.0.0.1:%d/hook" % p, "loopback"),
            ("this-network", "http://0.0.0.0:%d/hook" % p, "this-network"),
            ("unspecified6", "http://[::]:%d/hook" % p, "unspecified"),
            ("localhost", "http://localhost:%d/hook" % p, "loopback"),
            ("private", "http://10.0.0.1/hook", "private"),
            ("metadata", "http://169.254.169.254/latest/meta-data/", "metadata"),
            ("alibaba-metadata", "http://100.100.100.200/latest/meta-data/", "metadata"),
            ("aws-metadata6", "http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ]
        if self.listener.ipv6:
            t.append(("ipv6-loopback", "http://[::1]:%d/hook" % p, "loopback"))
        if self.namespaced:
            t.append(("name-loopback", "http://loop.evb.test:%d/hook" % p, "loopback"))
            t.append(("name-private", "http://intranet.evb.test/hook", "private"))
        return t

    def test_deliveries_to_internal_addresses_die(self):
        if not self.namespaced:
            sys.stderr.write("NOTE: unprivileged user namespaces unavailable: the private "
                             "/etc/hosts names are not tested (localhost still is)\n")
        isv = unique("isv")
        _kid, isv_key = create_key(self.admin, "isv", isv)
        org = unique("org")
        _kid, org_key = create_key(self.admin, "org-admin", org)
        self.secrets += [isv_key, org_key]
        isv_cli, org_cli = Client(self.server.target, isv_key), Client(self.server.target,
                                                                         org_key)
        self.addCleanup(isv_cli.close)
        self.addCleanup(org_cli.close)
        connector = create_connector(isv_cli, isv, types=(TYPE_CUSTOMER,)).name
        auths = [pb.HttpAuth(kind=pb.HTTP_AUTH_BASIC, username="user", password=PASSWORD),
                 pb.HttpAuth(kind=pb.HTTP_AUTH_BEARER, token=TOKEN),
                 pb.HttpAuth(kind=pb.HTTP_AUTH_API_KEY, header="x-api-key", api_key=APIKEY)]
        by_conn = {}
        for i, (label, url, reason) in enumerate(self._targets()):
            a = org_cli.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
                name=unique("ssrf-" + label), kind=pb.HTTP, http=pb.HttpTarget(
                    url=url, signing_secret=SIGNING, auth=auths[i % len(auths)],
                    timeout_ms=3000))))
            c = org_cli.connectors.CreateConnection(pb.CreateConnectionRequest(
                connection=pb.Connection(name="ssrf-" + label, connector=connector,
                                         action=a.name)))
            by_conn[c.id] = (label, url, reason)
        robot = org_cli.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("ssrf-robot"), kind=pb.DINGTALK_ROBOT, robot=pb.RobotTarget(
                webhook_url="http://127.0.0.1:%d/robot/send?access_token=%s"
                            % (self.listener.port, ACCESS_TOKEN),
                secret=ROBOT_SECRET, template="hello ${name}", vars={"name": "$.data.k"}))))
        for field in (robot.robot.webhook_url, robot.robot.secret):
            self.assertNotIn(ACCESS_TOKEN, field)
            self.assertNotIn(ROBOT_SECRET, field)
        c = org_cli.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(name="ssrf-robot", connector=connector,
                                     action=robot.name)))
        by_conn[c.id] = ("robot", "http://127.0.0.1/robot/send", "loopback")

        r = put(isv_cli, connector, [entry(org, data=b'{"k":"v"}')])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        event_id = r.results[0].event_id

        deadline = time.monotonic() + 60
        while True:
            tr = org_cli.events.TraceEvent(events_pb2.TraceEventRequest(event_id=event_id))
            steps = [s for s in tr.steps if s.delivery_id]
            if len(steps) == len(by_conn) and all(s.outcome == "DEAD" for s in steps):
                break
            if time.monotonic() > deadline:
                self.fail("deliveries not all DEAD after 60 s: %s" % [
                    (by_conn.get(s.connection_id, ("?",))[0], s.outcome, s.attempt, s.error)
                    for s in steps])
            time.sleep(0.2)
        sys.stdout.write("\n")
        for s in steps:
            label, url, reason = by_conn[s.connection_id]
            sys.stdout.write("  %-16s %-48s DEAD after %d attempt: %s\n"
                             % (label, url, s.attempt, s.error))
            self.assertIn("SSRF guard", s.error, "%s (%s): %s" % (label, url, s.error))
            self.assertIn(reason, s.error, "%s (%s): %s" % (label, url, s.error))
            self.assertEqual(s.attempt, 1, "%s retried" % label)
        dls = org_cli.events.ListDeadLetters(events_pb2.ListDeadLettersRequest(
            page_size=1000)).dead_letters
        self.assertEqual({d.connection_id for d in dls}, set(by_conn))
        for d in dls:
            self.assertIn("SSRF guard", d.last_error)
            self.assertEqual(d.last_http_status, 0)
        time.sleep(0.5)
        self.assertEqual(self.listener.connections, [],
                         "the SSRF guard let a connection through")
        # redriving does not get through either
        r = org_cli.events.RedriveDeadLetters(events_pb2.RedriveDeadLettersRequest(
            delivery_ids=[d.delivery_id for d in dls]))
        self.assertEqual(r.redriven, len(dls))
        deadline = time.monotonic() + 30
        while len(org_cli.events.ListDeadLetters(events_pb2.ListDeadLettersRequest(
                page_size=1000)).dead_letters) < len(dls):
            self.assertLess(time.monotonic(), deadline, "redriven deliveries did not die")
            time.sleep(0.2)
        self.assertEqual(self.listener.connections, [])

    def test_other_schemes_refused(self):
        org = unique("org")
        _kid, key = create_key(self.admin, "org-admin", org)
        self.secrets.append(key)
        cli = Client(self.server.target, key)
        self.addCleanup(cli.close)
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/_x", "dict://127.0.0.1:11211/",
                    "ftp://127.0.0.1/", "ldap://127.0.0.1/", "127.0.0.1:80/hook", "//127.0.0.1/",
                    "http://", "http://127.0.0.1/\r\nX-Injected: 1", "javascript:alert(1)"):
            self.assertRpcError(S.INVALID_ARGUMENT, cli.connectors.CreateAction,
                                pb.CreateActionRequest(action=pb.Action(
                                    name=unique("bad"), kind=pb.HTTP,
                                    http=pb.HttpTarget(url=url))))
            self.assertRpcError(S.INVALID_ARGUMENT, cli.connectors.CreateAction,
                                pb.CreateActionRequest(action=pb.Action(
                                    name=unique("bad"), kind=pb.DINGTALK_ROBOT,
                                    robot=pb.RobotTarget(webhook_url=url, template="x"))))

    def test_z_no_secret_in_log(self):
        """Runs last (names sort): no key or secret in the whole debug log."""
        log = self.server.log_text(limit=10 ** 9)
        self.assertIn("listening on", log)
        for s in self.secrets:
            self.assertNotIn(s, log, "a secret appears in the server log")
            if s.startswith("evb_"):
                self.assertNotIn(s.split("_")[-1], log)
        self.assertNotIn(SIGNING[len("whsec_"):], log)


class AllowListControlTest(ServerTestCase):
    """Control: the same listener is reached once 127.0.0.0/8 is allow-listed, so the
    silence above is the guard's doing."""
    SERVER_ARGS = ("--allow-target-cidr", "127.0.0.0/8")

    def test_allow_listed_loopback_is_reached(self):
        listener = Listener()
        self.addCleanup(listener.close)
        isv, org = unique("isv"), unique("org")
        isv_cli = Client(self.server.target, create_key(self.admin, "isv", isv)[1])
        self.addCleanup(isv_cli.close)
        connector = create_connector(isv_cli, isv, types=(TYPE_CUSTOMER,)).name
        a = self.admin.connectors.CreateAction(pb.CreateActionRequest(action=pb.Action(
            name=unique("ctl"), org=org, kind=pb.HTTP, http=pb.HttpTarget(
                url="http://2130706433:%d/hook" % listener.port, timeout_ms=2000))))
        self.admin.connectors.CreateConnection(pb.CreateConnectionRequest(
            connection=pb.Connection(org=org, name="ctl", connector=connector, action=a.name)))
        r = put(isv_cli, connector, [entry(org)])
        self.assertEqual(r.results[0].status, PUBLISHED, describe(r))
        deadline = time.monotonic() + 30
        while not listener.connections:
            self.assertLess(time.monotonic(), deadline, "allow-listed target never reached")
            time.sleep(0.1)


if __name__ == "__main__":
    main()
