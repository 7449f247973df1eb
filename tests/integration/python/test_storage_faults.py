#!/usr/bin/python3
"""Storage-fault campaign (issue 8; docs/reliability.md, "Storage faults").

A real evbridged whose data directory breaks underneath it. In every scenario a ledger
records what the server answered for each event id, and at the end the store must hold
exactly the events answered PUBLISHED: every one is retrievable (GetEvent, ListEvents) and
none that was answered UNAVAILABLE is stored — publishing those ids again after recovery
answers PUBLISHED, not DEDUPLICATED. A storage failure must reach a unary publisher as the
RPC status UNAVAILABLE and a PublishStream publisher as every entry REJECTED with
error_code "UNAVAILABLE" on a stream that stays open (docs/api.md).

1. Disk full: the data dir is a size-limited tmpfs (`mount -t tmpfs -o size=16m`). A filler
   file takes the free space; publishes answer UNAVAILABLE (some may still commit into WAL
   space SQLite had already allocated: those are PUBLISHED and must be stored), Health,
   GetEvent, ListEvents and /healthz keep answering. The filler is deleted: the next
   publish answers PUBLISHED (on the same stream too) and /readyz is 200.
2. Read-only:
   a. Start-up on a read-only data dir (a read-only bind mount of it; once with an existing
      database, once empty): evbridged exits non-zero at once with a message naming the
      directory. After the remount read-write it starts and serves the old events.
   b. At run time. The kernel refuses to make a mount read-only while a process holds files
      on it open for writing (`mount -o remount,ro` and `remount,bind,ro` both fail with
      EBUSY, "mount point is busy", while evbridged runs), and root ignores permissions, so
      chmod proves nothing. What does turn a file system read-only under a running process
      is the file system itself: ext4 mounted with errors=remount-ro goes read-only on its
      first error. The data dir is an ext4 image on a loop device and the test triggers an
      ext4 error through /sys/fs/ext4/<dev>/trigger_fs_error. Publishes answer UNAVAILABLE,
      reads keep working. Such a file system stays read-only until it is unmounted (the
      kernel keeps emergency_ro through a remount), so recovery is the operator's: stop
      evbridged, unmount, e2fsck, mount, start — and every PUBLISHED event is there.
   c. At run time, and cleared while evbridged keeps running: the database file, its WAL
      and the data directory get the immutable attribute (`chattr +i`; not the -shm file,
      see the test). Since Linux 5.3 that makes
      write(2) fail with EPERM even on descriptors opened before, for root too — the store
      sees the same write errors as on a read-only file system. Publishes answer
      UNAVAILABLE, reads keep working; `chattr -i` and, with nobody publishing, /readyz is
      200 again, the next publish PUBLISHED, without a restart. Skipped (with the reason)
      where the file system does not take the attribute (e.g. tmpfs, overlay).
3. Locked database: another process (Python sqlite3) holds BEGIN EXCLUSIVE on
   <data>/evbridge.db for longer than the store's 5 s busy timeout. Three concurrent
   publishes during the lock answer UNAVAILABLE; GetEvent and Health keep answering;
   /readyz turns 503. After the lock is released: PUBLISHED again and /readyz back to 200.

Scenarios 1 and 2 need mount (root, CAP_SYS_ADMIN), 2b also loop devices, mkfs.ext4 and
e2fsck; without them the scenario prints "SKIPPED: <reason>" and is reported as skipped,
the others still run.
"""

import errno
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from evbharness import (  # noqa: E402
    PUBLISHED, REJECTED, SQLITE_LOCKER, STATUS_NAME, TYPE_CUSTOMER, Client, HarnessError, Server,
    create_connector, create_key, entry, events_pb2, health_pb2, main, put, unique)

BUSY_TIMEOUT_S = 5.0          # STORE_BUSY_TIMEOUT_MS in server/store/store_int.h
TMPFS_SIZE = "16m"
EXT4_IMAGE_MB = 32
PAD = 4096                    # payload bytes per event while filling the disk
BATCH = 20
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


def log(msg):
    sys.stderr.write("storage-faults: %s\n" % msg)
    sys.stderr.flush()


def sh(*cmd, timeout=60):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)


def mount_error(r):
    return (r.stderr or r.stdout).strip().splitlines()[0] if (r.stderr or r.stdout).strip() \
        else "exit %d" % r.returncode


def umount(path):
    """Unmounts path; falls back to a lazy unmount so a failed test leaves no mount."""
    r = sh("umount", str(path))
    if r.returncode != 0:
        log("umount %s failed (%s); lazy unmount" % (path, mount_error(r)))
        sh("umount", "-l", str(path))


def is_mountpoint(path):
    return sh("mountpoint", "-q", str(path)).returncode == 0


def statvfs_free(path):
    st = os.statvfs(str(path))
    return st.f_bavail * st.f_frsize


def fill(path):
    """Writes zeros to `path` until the file system is full. Returns the bytes written."""
    n = 0
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            buf = b"\0" * chunk
            while True:
                try:
                    n += os.write(fd, buf)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return n


def error_message(log_text, needle):
    """The msg of the first JSON log line that mentions needle (else the raw line)."""
    for line in log_text.splitlines():
        if needle in line:
            try:
                return json.loads(line)["msg"]
            except (ValueError, KeyError, TypeError):
                return line.strip()
    return "(no line mentions %s)" % needle


def http_status(srv, path):
    """The HTTP status of GET path on the admin listener (None when unreachable)."""
    try:
        port = int(srv.admin_port_file.read_text().strip())
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def wait_for(what, cond, timeout, log_text=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %.0fs waiting for %s%s"
                         % (timeout, what, "\n" + log_text() if log_text else ""))


class Stream:
    """A PublishStream call driven one request at a time."""

    def __init__(self, cli):
        self.q = queue.Queue()
        self.call = cli.events.PublishStream(iter(self.q.get, None), timeout=300)

    def send(self, req):
        self.q.put(req)
        return next(self.call)

    def close(self):
        self.q.put(None)
        for _ in self.call:
            pass


class Ledger:
    """What the server answered for each event id of one org on one connector."""

    def __init__(self, test, org, conn):
        self.t, self.org, self.conn = test, org, conn
        self.published = set()
        self.unavailable = set()
        self.n = 0

    def ids(self, tag, n=BATCH):
        out = ["%s-%05d" % (tag, self.n + k) for k in range(n)]
        self.n += n
        return out

    def _entries(self, ids, pad):
        body = b'{"pad":"%s"}' % (b"x" * pad)
        return [entry(self.org, id_=i, data=body) for i in ids]

    def _record(self, ids, results, how):
        """Records per-entry results; returns 'PUBLISHED' or 'UNAVAILABLE'."""
        t = self.t
        t.assertEqual(len(results), len(ids))
        kinds = set()
        for i, r in zip(ids, results):
            if r.status == PUBLISHED:
                t.assertEqual(r.event_id, i)
                t.assertNotIn(i, self.published, "%s: %s PUBLISHED twice" % (how, i))
                self.published.add(i)
                kinds.add("PUBLISHED")
            elif r.status == REJECTED and r.error_code == "UNAVAILABLE":
                self.unavailable.add(i)
                kinds.add("UNAVAILABLE")
            else:
                t.fail("%s: entry %s answered %s %s %s" % (how, i, STATUS_NAME.get(r.status),
                                                           r.error_code, r.error_message))
        # one request is one store job: it commits as a whole or not at all
        t.assertEqual(len(kinds), 1, "%s: a request partly committed: %s" % (how, kinds))
        return kinds.pop()

    def publish(self, cli, tag, n=BATCH, pad=0, ids=None, timeout=30):
        """One unary PutEvents. Returns (outcome, seconds): outcome is PUBLISHED, or
        UNAVAILABLE when the RPC failed with that status (any other error fails)."""
        ids = ids if ids is not None else self.ids(tag, n)
        t0 = time.monotonic()
        try:
            r = put(cli, self.conn, self._entries(ids, pad), timeout=timeout)
        except grpc.RpcError as e:
            took = time.monotonic() - t0
            self.t.assertEqual(e.code(), UNAVAILABLE, "PutEvents: %s: %s"
                               % (e.code(), e.details()))
            self.t.assertIn("storage", e.details())
            self.unavailable.update(ids)
            return "UNAVAILABLE", took
        took = time.monotonic() - t0
        self.t.assertEqual(r.failed_entry_count, 0)
        return self._record(ids, r.results, "PutEvents"), took

    def stream_publish(self, stream, tag, n=BATCH, pad=0):
        ids = self.ids(tag, n)
        req = events_pb2.PutEventsRequest(connector=self.conn, request_id="rq-" + ids[0],
                                          entries=self._entries(ids, pad))
        resp = stream.send(req)
        self.t.assertEqual(resp.request_id, req.request_id)
        return self._record(ids, resp.results, "PublishStream")

    def republish_unavailable(self, cli):
        """After recovery: the ids answered UNAVAILABLE are new to the store."""
        todo = sorted(self.unavailable - self.published)
        for k in range(0, len(todo), 100):
            outcome, _ = self.publish(cli, "", ids=todo[k:k + 100])
            self.t.assertEqual(outcome, "PUBLISHED")
        return len(todo)

    def verify(self, admin):
        """The store holds exactly the events answered PUBLISHED."""
        t = self.t
        missing = []
        for i in sorted(self.published):
            try:
                ev = admin.events.GetEvent(events_pb2.GetEventRequest(
                    event_id=i, org=self.org, connector=self.conn), timeout=30)
                if ev.id != i:
                    missing.append((i, ev.id))
            except grpc.RpcError as e:
                missing.append((i, str(e.code())))
        t.assertFalse(missing, "PUBLISHED but not stored: %s" % missing[:10])
        for i in sorted(self.unavailable - self.published)[:50]:
            try:
                admin.events.GetEvent(events_pb2.GetEventRequest(
                    event_id=i, org=self.org, connector=self.conn), timeout=30)
                t.fail("%s was answered UNAVAILABLE but is stored" % i)
            except grpc.RpcError as e:
                t.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
        stored, token = set(), ""
        while True:
            r = admin.events.ListEvents(events_pb2.ListEventsRequest(
                org=self.org, connector=self.conn, page_size=1000, page_token=token))
            stored.update(e.id for e in r.events)
            token = r.next_page_token
            if not token:
                break
        t.assertEqual(stored, self.published,
                      "stored but not PUBLISHED: %s; PUBLISHED but not listed: %s"
                      % (sorted(stored - self.published)[:10],
                         sorted(self.published - stored)[:10]))
        return len(stored)


class StorageFaultsTest(unittest.TestCase):

    # ---- helpers ----

    def skip(self, reason):
        log("SKIPPED: %s: %s" % (self._testMethodName, reason))
        self.skipTest(reason)

    def need_mount(self, path):
        """Mounts a 1 MiB tmpfs on path and unmounts it: skips when mounting is refused."""
        if os.geteuid() != 0:
            self.skip("not root (mount needs CAP_SYS_ADMIN)")
        if shutil.which("mount") is None or shutil.which("umount") is None:
            self.skip("mount/umount not installed")
        r = sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path))
        if r.returncode != 0:
            self.skip("mount refused: %s" % mount_error(r))
        umount(path)

    def setup_isv(self, srv):
        admin = srv.client()
        self.addCleanup(admin.close)
        isv = unique("isv")
        _kid, key = create_key(admin, "isv", isv)
        cli = Client(srv.target, key)
        self.addCleanup(cli.close)
        conn = create_connector(cli, isv, types=(TYPE_CUSTOMER,)).name
        return admin, cli, conn

    def assert_reads(self, srv, admin, ledger, timeout):
        """Health, GetEvent and ListEvents of an already stored event answer in time."""
        c = Client(srv.target, None)
        try:
            h = c.health.Check(health_pb2.HealthCheckRequest(), timeout=timeout)
            self.assertEqual(h.status, health_pb2.HealthCheckResponse.SERVING)
        finally:
            c.close()
        some = sorted(ledger.published)[0]
        ev = admin.events.GetEvent(events_pb2.GetEventRequest(
            event_id=some, org=ledger.org, connector=ledger.conn), timeout=timeout)
        self.assertEqual(ev.id, some)
        r = admin.events.ListEvents(events_pb2.ListEventsRequest(
            org=ledger.org, connector=ledger.conn, page_size=5), timeout=timeout)
        self.assertTrue(r.events)
        self.assertEqual(http_status(srv, "/healthz"), 200)
        self.assertIsNone(srv.proc.poll(), "evbridged died\n" + srv.log_text())

    def sample_readyz(self, srv, seconds=2.5):
        """/readyz sampled every 50 ms for `seconds` (the dispatcher commits every second):
        the distinct answers, e.g. [503]."""
        seen = set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            seen.add(http_status(srv, "/readyz"))
            time.sleep(0.05)
        return sorted(seen, key=str)

    def logged_reason(self, srv):
        """The store's one warning for the fault: the state change is logged once, with
        SQLite's reason, not once per failed write. Returns the reason."""
        text = srv.log_text()
        self.assertEqual(text.count("cannot take writes"), 1, text)
        msg = error_message(text, "cannot take writes")
        return msg.split("cannot take writes: ", 1)[1].split(";", 1)[0]

    def wait_ready_without_traffic(self, srv, timeout=5):
        """Seconds until /readyz answers 200 with nobody publishing (the store's probe:
        a load balancer that gates on /readyz sends no traffic before that)."""
        t0 = time.monotonic()
        wait_for("/readyz 200 without traffic", lambda: http_status(srv, "/readyz") == 200,
                 timeout, srv.log_text)
        return time.monotonic() - t0

    def recover_publish(self, cli, ledger, srv, timeout=10):
        """Publishes until PUBLISHED; returns (seconds, UNAVAILABLE answers on the way)."""
        t0 = time.monotonic()
        fails = 0
        while True:
            outcome, _ = ledger.publish(cli, "after")
            if outcome == "PUBLISHED":
                return time.monotonic() - t0, fails
            fails += 1
            if time.monotonic() - t0 > timeout:
                self.fail("no PUBLISHED %.0f s after the fault cleared\n%s"
                          % (timeout, srv.log_text()))
            time.sleep(0.1)

    # ---- 1. disk full ----

    def test_1_disk_full(self):
        srv = Server(name="sf-full")
        self.addCleanup(srv.cleanup)
        self.need_mount(srv.data_dir)
        r = sh("mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE, "tmpfs",
               str(srv.data_dir))
        self.assertEqual(r.returncode, 0, mount_error(r))
        try:
            self._disk_full(srv)
        finally:
            srv.kill()
            umount(srv.data_dir)

    def _disk_full(self, srv):
        srv.start()
        admin, cli, conn = self.setup_isv(srv)
        ledger = Ledger(self, unique("org"), conn)
        for _ in range(3):
            self.assertEqual(ledger.publish(cli, "base")[0], "PUBLISHED")
        stream = Stream(cli)
        self.assertEqual(ledger.stream_publish(stream, "sbase"), "PUBLISHED")

        filler = srv.data_dir / "filler"
        free_before = statvfs_free(srv.data_dir)
        filled = fill(filler)
        self.assertLess(statvfs_free(srv.data_dir), 4096)
        outcomes = []
        for _ in range(40):
            outcome, took = ledger.publish(cli, "full", pad=PAD)
            outcomes.append((outcome, took))
            if [o for o, _t in outcomes[-3:]] == ["UNAVAILABLE"] * 3:
                break
        n_unavail = sum(1 for o, _t in outcomes if o == "UNAVAILABLE")
        self.assertGreater(n_unavail, 0, "a full disk never answered UNAVAILABLE: %s\n%s"
                           % (outcomes, srv.log_text()))
        slowest = max(t for o, t in outcomes if o == "UNAVAILABLE")
        # the stream: every entry REJECTED/UNAVAILABLE, the stream stays open
        stream_outcomes = []
        for _ in range(5):
            stream_outcomes.append(ledger.stream_publish(stream, "sfull", pad=PAD))
            if stream_outcomes[-1] == "UNAVAILABLE":
                break
        self.assertIn("UNAVAILABLE", stream_outcomes, srv.log_text())
        self.assert_reads(srv, admin, ledger, timeout=5)
        ready_during = self.sample_readyz(srv)

        self.assertEqual(ready_during, [503], "/readyz while every commit fails")
        reason = self.logged_reason(srv)

        filler.unlink()
        ready_s = self.wait_ready_without_traffic(srv)
        took, fails = self.recover_publish(cli, ledger, srv)
        self.assertEqual(ledger.stream_publish(stream, "safter"), "PUBLISHED")
        stream.close()
        n_before = ledger.verify(admin)
        n_retried = ledger.republish_unavailable(cli)
        n_after = ledger.verify(admin)
        log("disk full: tmpfs %s, %d KiB free before the filler (%d KiB written); %d of %d "
            "publishes UNAVAILABLE (slowest %.2f s), %d PUBLISHED while full; stream: %s; "
            "logged once: \"%s\"; "
            "/readyz during the fault %s, 200 %.2f s after the filler went (no publish); "
            "then first publish PUBLISHED in %.2f s (%d UNAVAILABLE before it); %d events "
            "stored, none of the %d UNAVAILABLE ones; those republished: PUBLISHED (%d stored)"
            % (TMPFS_SIZE, free_before // 1024, filled // 1024, n_unavail, len(outcomes),
               slowest, len(outcomes) - n_unavail, stream_outcomes, reason, ready_during,
               ready_s, took,
               fails, n_before, n_retried, n_after))
        self.assertEqual(srv.stop(), 0, srv.log_text())

    # ---- 2. read-only ----

    def test_2a_read_only_at_start(self):
        srv = Server(name="sf-ro-start")
        self.addCleanup(srv.cleanup)
        self.need_mount(srv.data_dir)
        empty = srv.root / "empty"
        empty.mkdir(mode=0o700)
        srv.start()
        admin, cli, conn = self.setup_isv(srv)
        ledger = Ledger(self, unique("org"), conn)
        self.assertEqual(ledger.publish(cli, "base")[0], "PUBLISHED")
        admin.close()
        cli.close()
        self.assertEqual(srv.stop(), 0, srv.log_text())

        figures = []
        for label, d in (("existing database", srv.data_dir), ("empty", empty)):
            mounted = False
            try:
                r = sh("mount", "--bind", str(d), str(d))
                self.assertEqual(r.returncode, 0, mount_error(r))
                mounted = True
                r = sh("mount", "-o", "remount,bind,ro", str(d))
                self.assertEqual(r.returncode, 0, mount_error(r))
                probe = Server(name="sf-ro-probe")
                self.addCleanup(probe.cleanup)
                probe.data_dir = d
                t0 = time.monotonic()
                with self.assertRaises(HarnessError, msg="started on a read-only data dir"):
                    probe.start()
                took = time.monotonic() - t0
                rc = probe.proc.returncode
                text = probe.log_text()
                self.assertNotEqual(rc, 0, text)
                self.assertIsNotNone(rc, text)
                self.assertIn(str(d), text)
                self.assertRegex(text, "not writable|read-only|Read-only", text)
                figures.append("%s: exit %d after %.2f s: %s"
                               % (label, rc, took, error_message(text, str(d))))
            finally:
                if mounted:
                    umount(d)
        srv.start()
        admin = srv.client()
        self.addCleanup(admin.close)
        cli = Client(srv.target, cli.key)
        self.addCleanup(cli.close)
        self.assertEqual(ledger.publish(cli, "again")[0], "PUBLISHED")
        n = ledger.verify(admin)
        log("read-only at start: " + " | ".join(figures))
        log("read-only at start: after the remount read-write the server starts, %d events "
            "stored" % n)
        self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_2b_read_only_at_run_time(self):
        srv = Server(name="sf-ro-run")
        self.addCleanup(srv.cleanup)
        self.need_mount(srv.data_dir)
        for tool in ("mkfs.ext4", "e2fsck", "losetup", "findmnt"):
            if shutil.which(tool) is None:
                self.skip("%s not installed (e2fsprogs, util-linux)" % tool)
        image = srv.root / "ext4.img"
        with open(image, "wb") as f:
            f.truncate(EXT4_IMAGE_MB << 20)
        r = sh("mkfs.ext4", "-q", "-F", str(image))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sh("mount", "-o", "loop,errors=remount-ro", str(image), str(srv.data_dir))
        if r.returncode != 0:
            self.skip("cannot mount an ext4 image on a loop device: %s" % mount_error(r))
        try:
            dev = sh("findmnt", "-no", "SOURCE", str(srv.data_dir)).stdout.strip()
            trigger = Path("/sys/fs/ext4") / os.path.basename(dev) / "trigger_fs_error"
            if not trigger.exists():
                self.skip("%s does not exist (kernel without ext4 error injection)" % trigger)
            os.chmod(srv.data_dir, 0o700)
            self._read_only_at_run_time(srv, image, trigger)
        finally:
            srv.kill()
            if is_mountpoint(srv.data_dir):
                umount(srv.data_dir)

    def _read_only_at_run_time(self, srv, image, trigger):
        srv.start()
        admin, cli, conn = self.setup_isv(srv)
        ledger = Ledger(self, unique("org"), conn)
        for _ in range(3):
            self.assertEqual(ledger.publish(cli, "base")[0], "PUBLISHED")
        stream = Stream(cli)
        self.assertEqual(ledger.stream_publish(stream, "sbase"), "PUBLISHED")

        trigger.write_text("evbridge storage-fault test\n")
        with self.assertRaises(OSError, msg="ext4 did not turn read-only") as cm:
            (srv.data_dir / "probe").write_text("x")
        self.assertEqual(cm.exception.errno, errno.EROFS)
        outcomes = [ledger.publish(cli, "ro") for _ in range(3)]
        self.assertEqual([o for o, _t in outcomes], ["UNAVAILABLE"] * 3, srv.log_text())
        self.assertEqual(ledger.stream_publish(stream, "sro"), "UNAVAILABLE")
        self.assert_reads(srv, admin, ledger, timeout=5)
        ready_during = self.sample_readyz(srv)
        self.assertEqual(ready_during, [503], "/readyz while every commit fails")
        reason = self.logged_reason(srv)
        stream.close()
        admin.close()
        cli.close()

        # recovery is the operator's: stop, unmount, fsck, mount, start
        t0 = time.monotonic()
        rc = srv.stop()
        stop_s = time.monotonic() - t0
        self.assertIsNotNone(rc, "evbridged did not stop on SIGTERM\n" + srv.log_text())
        umount(srv.data_dir)
        fsck = sh("e2fsck", "-f", "-y", str(image))
        self.assertIn(fsck.returncode, (0, 1), fsck.stdout + fsck.stderr)
        r = sh("mount", "-o", "loop,errors=remount-ro", str(image), str(srv.data_dir))
        self.assertEqual(r.returncode, 0, mount_error(r))
        srv.start()
        admin = srv.client()
        self.addCleanup(admin.close)
        cli = Client(srv.target, cli.key)
        self.addCleanup(cli.close)
        self.assertEqual(ledger.publish(cli, "after")[0], "PUBLISHED")
        n_before = ledger.verify(admin)
        n_retried = ledger.republish_unavailable(cli)
        n_after = ledger.verify(admin)
        log("read-only at run time: ext4 errors=remount-ro, error injected; 3 of 3 publishes "
            "UNAVAILABLE in %s s, stream entries REJECTED/UNAVAILABLE, reads served, logged "
            "once: \"%s\", /readyz %s; SIGTERM exit %s after %.2f s; e2fsck exit %d; after "
            "remount and restart %d "
            "events stored (every PUBLISHED one), the %d UNAVAILABLE ones republished: "
            "PUBLISHED (%d stored)"
            % ("/".join("%.2f" % t for _o, t in outcomes), reason, ready_during, rc, stop_s,
               fsck.returncode, n_before, n_retried, n_after))
        self.assertEqual(srv.stop(), 0, srv.log_text())

    # ---- 3. locked database ----

    def test_2c_read_only_files_at_run_time(self):
        srv = Server(name="sf-ro-files")
        self.addCleanup(srv.cleanup)
        if os.geteuid() != 0 or shutil.which("chattr") is None:
            self.skip("chattr +i needs root and e2fsprogs' chattr")
        probe = srv.root / "chattr-probe"
        probe.write_bytes(b"x")
        r = sh("chattr", "+i", str(probe))
        if r.returncode != 0:
            self.skip("the file system refuses the immutable attribute: %s"
                      % (r.stderr or r.stdout).strip())
        sh("chattr", "-i", str(probe))
        probe.unlink()
        srv.start()
        admin, cli, conn = self.setup_isv(srv)
        ledger = Ledger(self, unique("org"), conn)
        for _ in range(3):
            self.assertEqual(ledger.publish(cli, "base")[0], "PUBLISHED")
        # Not evbridge.db-shm: SQLite maps it into memory, and a store through such a
        # mapping to an immutable file is a SIGBUS — a fault no real read-only file system
        # produces (the kernel cannot make a mount read-only under open writers, and an
        # ext4 error remount keeps the mapping's pages, scenario 2b).
        targets = [str(srv.data_dir), str(srv.data_dir / "evbridge.db"),
                   str(srv.data_dir / "evbridge.db-wal")]

        def clear():
            sh("chattr", "-i", *targets)
        self.addCleanup(clear)  # also when an assertion fails: cleanup must delete them
        r = sh("chattr", "+i", *targets)
        self.assertEqual(r.returncode, 0, r.stderr)
        outcomes = []
        for _ in range(10):
            outcomes.append(ledger.publish(cli, "ro")[0])
            if outcomes[-3:] == ["UNAVAILABLE"] * 3:
                break
        self.assertEqual(outcomes[-3:], ["UNAVAILABLE"] * 3,
                         "%s\n%s" % (outcomes, srv.log_text()))
        self.assert_reads(srv, admin, ledger, timeout=5)
        ready_during = self.sample_readyz(srv)
        self.assertEqual(ready_during, [503], "/readyz while every commit fails")
        reason = self.logged_reason(srv)
        clear()
        ready_s = self.wait_ready_without_traffic(srv)
        took, fails = self.recover_publish(cli, ledger, srv)
        n_before = ledger.verify(admin)
        n_retried = ledger.republish_unavailable(cli)
        n_after = ledger.verify(admin)
        log("read-only files at run time (chattr +i on %d paths): publishes %s; logged once: "
            "\"%s\"; /readyz %s during, 200 %.2f s after chattr -i (no publish, no restart); "
            "then first publish PUBLISHED in %.2f s (%d UNAVAILABLE before it); %d events "
            "stored, the %d UNAVAILABLE ones republished: PUBLISHED (%d stored)"
            % (len(targets), outcomes, reason, ready_during, ready_s, took, fails, n_before,
               n_retried, n_after))
        self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_3_locked_database(self):
        srv = Server(name="sf-lock")
        self.addCleanup(srv.cleanup)
        srv.start()
        admin, cli, conn = self.setup_isv(srv)
        ledger = Ledger(self, unique("org"), conn)
        for _ in range(3):
            self.assertEqual(ledger.publish(cli, "base")[0], "PUBLISHED")
        self.assertEqual(http_status(srv, "/readyz"), 200)

        locker = subprocess.Popen([sys.executable, "-c", SQLITE_LOCKER,
                                   str(srv.data_dir / "evbridge.db")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(locker.stdout.readline().strip(), "locked")
            t_lock = time.monotonic()
            results = [None] * 3

            def one(k):
                c = Client(srv.target, cli.key)
                try:
                    results[k] = ledger.publish(c, "locked%d" % k, timeout=60)
                except BaseException as e:  # noqa: BLE001 - reported below
                    results[k] = ("exception %r" % e, 0)
                finally:
                    c.close()
            threads = [threading.Thread(target=one, args=(k,)) for k in range(3)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            self.assert_reads(srv, admin, ledger, timeout=3)
            reads_s = time.monotonic() - t0
            for t in threads:
                t.join(60)
                self.assertFalse(t.is_alive(), "a publish hangs\n" + srv.log_text())
            self.assertEqual([o for o, _t in results], ["UNAVAILABLE"] * 3,
                             "%s\n%s" % (results, srv.log_text()))
            ready_during = self.sample_readyz(srv)
            self.assertEqual(ready_during, [503], "/readyz while every commit fails")
            reason = self.logged_reason(srv)
            self.assertIsNone(locker.poll(), "the locker ended before the publishes")
            held = time.monotonic() - t_lock
            locker.stdin.write("\n")
            locker.stdin.flush()
            self.assertEqual(locker.stdout.readline().strip(), "released")
            self.assertEqual(locker.wait(10), 0)
        finally:
            if locker.poll() is None:
                locker.kill()
                locker.wait()
            locker.stdin.close()
            locker.stdout.close()
        ready_s = self.wait_ready_without_traffic(srv)
        took, fails = self.recover_publish(cli, ledger, srv)
        n_before = ledger.verify(admin)
        n_retried = ledger.republish_unavailable(cli)
        n_after = ledger.verify(admin)
        log("locked database: BEGIN EXCLUSIVE held %.1f s (busy timeout %.0f s); 3 concurrent "
            "publishes UNAVAILABLE after %s s; Health/GetEvent/ListEvents answered in %.2f s "
            "during the lock; logged once: \"%s\"; /readyz %s during, 200 %.2f s after the "
            "release (no publish); "
            "then first publish PUBLISHED in %.2f s (%d UNAVAILABLE before it); %d events "
            "stored, the %d "
            "UNAVAILABLE ones republished: PUBLISHED (%d stored)"
            % (held, BUSY_TIMEOUT_S, "/".join("%.1f" % t for _o, t in results), reads_s,
               reason, ready_during, ready_s, took, fails, n_before, n_retried, n_after))
        self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    main()
