"""Exhausted resources: a full disk and a low descriptor limit.

The data directory is a small tmpfs the test mounts (root, or `sudo -n`;
without either the test fails and says so). While it is full, requests are
refused with 5xx and store nothing, however many log batches they span;
detection and indexing stop and say why in `/api/v1/status`. Once space is
freed they resume by themselves, and every acknowledged event is detected
and searchable exactly once.

With a low RLIMIT_NOFILE the connection budget keeps the descriptors the
log and the journals need: a connection flood is refused at the door, and
a sender beside it goes on being accepted and detected.
"""
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import subprocess
import threading
import time

from conftest import Server, wait_for
from test_hostile import connect
from test_search import rows

MARK = re.compile(r"hinomi-marker (\w+-\d+)\b")


@contextlib.contextmanager
def tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and not shutil.which("sudo"):
        raise AssertionError("mounting a tmpfs needs root or password-less sudo; this test does not skip")
    subprocess.run(sudo + ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(sudo + ["umount", "-l", str(path)], check=False)


def fill(path, leave=0):
    """Writes a file until the file system is full, then gives `leave`
    bytes back; returns its path."""
    filler = path / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        # What a partial page leaves, byte by byte down to nothing.
        for size in (4096, 512, 64, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
        if leave:
            f.truncate(max(0, f.tell() - leave))
    return filler


def lines(tag, n, pad):
    now = time.strftime("%b %d %H:%M:%S", time.localtime())
    return "".join(f"<13>{now} host app: hinomi-marker {tag}-{i} {'p' * pad}\n" for i in range(n)).encode()


def send(server, tag, n, pad=0, source="127.0.0.1"):
    """Posts `n` syslog lines tagged `tag`; returns the status (0 when the
    connection failed: nothing is known of it, like a 5xx)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port("http"), timeout=60, source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/ingest", lines(tag, n, pad), {"Authorization": f"Bearer {server.ingest_token}"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def settled(server, admin):
    """The status once nothing is stopped and detection and search are
    caught up with the log."""
    def caught_up():
        s = server.get("/api/v1/status", admin)
        done = not s["stopped"] and s["lag_bytes"] == 0 and s["index_lag_bytes"] == 0
        return s if done else None

    return wait_for(caught_up, timeout=120, what="detection and indexing caught up with nothing stopped")


def check_stored_once(server, acked, refused):
    """Every event of an acknowledged request is detected, searchable and in
    the events journal exactly once; nothing of a refused request is."""
    want = {f"{tag}-{i}" for tag, n in acked.items() for i in range(n)}
    gone = {f"{tag}-{i}" for tag, n in refused.items() for i in range(n)}

    def ids(records):
        # An id may show in several fields of one record: counted once.
        out = {}
        for record in records:
            for m in set(MARK.findall(json.dumps(record))):
                out[m] = out.get(m, 0) + 1
        return out

    detected = ids(server.alerts())
    searched = ids(rows(server, "hinomi-marker", limit=10000, **{"from": "-1d"}))
    journaled = ids(server.events())
    for name, found in (("detections", detected), ("search", searched), ("events journal", journaled)):
        missing = want - found.keys()
        twice = sorted(k for k, c in found.items() if c > 1)
        stored_refused = sorted(gone & found.keys())
        assert not missing, f"{name}: {len(missing)} acknowledged events missing, e.g. {sorted(missing)[:5]}"
        assert not twice, f"{name}: stored twice: {twice[:5]}"
        assert not stored_refused, f"{name}: {len(stored_refused)} events of refused requests stored: {stored_refused[:5]}"


def test_a_full_disk_refuses_requests_whole_and_processing_resumes_by_itself(tmp_path):
    data = tmp_path / "data"
    with tmpfs(data, "160m"):
        # A slow pipeline: the first requests are still to be detected and
        # indexed when the disk fills, so the journals and the index fail too.
        # Every acknowledged event must raise its alert: no rate limit.
        config = "[engine]\nslow_down_ms = 1500\nrule_alerts = 0\n[store]\ncommit_interval_ms = 200\n"
        server = Server(data, config).start()
        try:
            admin = server.token("admin")
            acked, refused = {}, {}

            def sending(tag, n, pad=0):
                status = send(server, tag, n, pad)
                (acked if status == 200 else refused)[tag] = n
                return status

            # 1. The disk fills while everything is caught up, up to 4 MiB:
            # a 6 MiB request (two log batches) gets its first batch in and
            # fails on the second. It must be cut whole; then the next
            # one finds the same room and fails the same way.
            for r in range(3):
                assert sending(f"a{r}", 100) == 200
            settled(server, admin)
            filler = fill(data, leave=4 << 20)
            statuses = [sending(f"b{r}", 300, 20_000) for r in range(4)]
            print("log full:", statuses)
            assert statuses == [500] * 4, statuses
            filler.unlink()
            settled(server, admin)

            # 2. The disk fills while detection and indexing have work (the
            # pipeline is slow): they stop, ingest refuses, they resume.
            for r in range(10):
                assert sending(f"c{r}", 100) == 200
            filler = fill(data)
            statuses, stopped_seen = [], set()
            deadline = time.time() + 15
            r = 0
            while time.time() < deadline or not stopped_seen:
                assert time.time() < deadline + 60, f"nothing stopped; statuses {statuses}"
                statuses.append(sending(f"d{r}", 300 if r % 2 == 0 else 100, 20_000 if r % 2 == 0 else 0))
                stopped_seen.update(server.get("/api/v1/status", admin)["stopped"])
                r += 1
                time.sleep(0.5)
            s = server.get("/api/v1/status", admin)
            print("journals full:", statuses, "stopped:", stopped_seen, "problem:", s["problem"])
            assert 200 not in statuses, statuses
            assert {"detection", "indexing"} & stopped_seen, stopped_seen

            # Space again: no restart, no operator.
            filler.unlink()
            s = settled(server, admin)
            assert s["problem"] is None, s
            for r in range(5):
                assert sending(f"e{r}", 100) == 200
            settled(server, admin)
            wait_for(lambda: len(rows(server, "hinomi-marker", limit=10000, **{"from": "-1d"}))
                     >= sum(acked.values()), timeout=60, what="every acknowledged event searchable")
            check_stored_once(server, acked, refused)
        finally:
            server.kill()


def test_a_connection_flood_under_a_low_descriptor_limit_leaves_the_log_its_files(tmp_path):
    # 640 descriptors: the budget keeps 512 for the log, the journals and
    # the index, which leaves 128 connections; an address may hold 48.
    def low_nofile():
        resource.setrlimit(resource.RLIMIT_NOFILE, (640, 640))

    config = "[connections]\nper_address = 48\n[engine]\nrule_alerts = 0\n[store]\ncommit_interval_ms = 200\n"
    server = Server(tmp_path / "data", config)
    server.preexec = low_nofile
    server.start()
    held, stop = [], threading.Event()
    try:
        admin = server.token("admin")

        def flood(port, source):
            for _ in range(2000):
                if stop.is_set():
                    return
                sock = connect(port, source)
                if sock:
                    held.append(sock)

        floods = [threading.Thread(target=flood, args=(server.port("http"), "127.0.0.2"), daemon=True),
                  threading.Thread(target=flood, args=(server.port("syslog-tcp"), "127.0.0.3"), daemon=True)]
        for t in floods:
            t.start()
        acked = {}
        for r in range(20):
            status = send(server, f"d{r}", 100)
            assert status == 200, f"request {r} beside the flood: {status}"
            acked[f"d{r}"] = 100
        for t in floods:
            t.join()
        s = server.get("/api/v1/status", admin)
        assert s["connections"]["refused"] > 0 and s["connections"]["limit"] == 128, s["connections"]
        stop.set()
        for sock in held:
            sock.close()
        s = settled(server, admin)
        assert s["problem"] is None and s["errors"] == 0, s
        log = server.log.read_text(errors="replace")
        assert "Too many open files" not in log, "the server ran out of descriptors"
        check_stored_once(server, acked, {})
    finally:
        stop.set()
        for sock in held:
            sock.close()
        server.kill()
