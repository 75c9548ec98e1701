"""Crash test: senders push events over syslog TCP and HTTP while the
server is killed with SIGKILL again and again. After the last restart:

- every event acknowledged over HTTP (a 200 answer) is stored exactly once;
- no event is stored twice, acknowledged or not;
- on every TCP connection the stored events are a gap-free prefix of what
  was sent (the server reads on only after what it read is durable, so a
  kill can cut the tail of a connection, never its middle);
- every stored event carrying the marker has exactly one alert, and no
  alert id repeats.

HINOMI_CRASH_EVENTS sets the total (default 1,000,000, as the acceptance
asks); HINOMI_CRASH_KILLS the number of kills (default 5).
"""
import collections
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request

from conftest import Server, wait_for

TOTAL = int(os.environ.get("HINOMI_CRASH_EVENTS", "1000000"))
KILLS = int(os.environ.get("HINOMI_CRASH_KILLS", "5"))
BATCH = 2000
MARK_EVERY = 1000


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def line(kind, conn, seq):
    mark = " hinomi-marker" if seq % MARK_EVERY == 0 else ""
    return f"<13>Nov 22 10:00:00 crash app: id={kind}-{conn}-{seq}{mark}"


class HttpSender(threading.Thread):
    def __init__(self, url, token, count):
        super().__init__(daemon=True)
        self.url, self.token, self.count = url, token, count
        self.acked, self.unacked, self.sent = set(), set(), 0

    def run(self):
        batch_no = 0
        while self.sent < self.count:
            n = min(BATCH, self.count - self.sent)
            ids = [f"http-{batch_no}-{i}" for i in range(n)]
            body = "\n".join(line("http", batch_no, i) for i in range(n)).encode()
            req = urllib.request.Request(self.url, data=body, method="POST")
            req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    ok = resp.status == 200
            except (urllib.error.URLError, ConnectionError, OSError):
                ok = False
            # A batch without an answer is never resent under the same ids:
            # it may or may not be stored, but never twice.
            (self.acked if ok else self.unacked).update(ids)
            self.sent += n
            batch_no += 1
            if not ok:
                time.sleep(0.2)


class TcpSender(threading.Thread):
    """Keeps pace with `peer` so that kills land while both are sending."""

    def __init__(self, port, count, peer):
        super().__init__(daemon=True)
        self.port, self.count, self.peer = port, count, peer
        self.sent_per_conn = {}
        self.sent = 0

    def run(self):
        conn, sent = 0, 0
        while sent < self.count:
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                time.sleep(0.1)
                continue
            seq = 0
            try:
                while sent < self.count:
                    while sent > self.peer.sent + 20_000 and self.peer.is_alive():
                        time.sleep(0.01)
                    n = min(500, self.count - sent)
                    chunk = "".join(line("tcp", conn, seq + i) + "\n" for i in range(n)).encode()
                    s.sendall(chunk)
                    seq += n
                    sent += n
                    self.sent = sent
                    self.sent_per_conn[conn] = seq
            except OSError:
                pass
            finally:
                s.close()
            conn += 1


def test_kill_9_loses_nothing_acknowledged_and_duplicates_nothing(tmp_path):
    http_port, tcp_port = free_port(), free_port()
    config = (
        "#full\n"
        f'[http]\nlisten = ["127.0.0.1:{http_port}"]\n'
        f'[[syslog]]\nprotocol = "tcp"\nlisten = "127.0.0.1:{tcp_port}"\n'
        "[engine]\ncheckpoint_interval_ms = 200\n"
    )
    server = Server(tmp_path / "data", config).start()
    try:
        http = HttpSender(server.http + "/api/v1/ingest", server.ingest_token, TOTAL // 2)
        tcp = TcpSender(tcp_port, TOTAL - TOTAL // 2, http)
        started = time.time()
        http.start()
        tcp.start()
        for k in range(KILLS):
            # Kill while both senders are mid-stream, at a different point each time.
            goal = TOTAL * (k + 1) // (KILLS + 2)
            wait_for(lambda: http.sent + tcp.sent >= goal or not (http.is_alive() or tcp.is_alive()), 1800, "progress")
            server.kill(signal.SIGKILL)
            time.sleep(0.2)
            server.start()
        http.join(timeout=1800)
        tcp.join(timeout=1800)
        assert not http.is_alive() and not tcp.is_alive(), "senders did not finish"
        # Let the pipeline catch up, then stop cleanly and read the journals.
        admin = server.token("admin")
        wait_for(lambda: server.get("/api/v1/status", admin)["lag_bytes"] == 0, 600, "pipeline idle")
    finally:
        # Also when a check above failed: no server may outlive the test.
        server.kill(signal.SIGTERM)
    elapsed = time.time() - started

    counts = collections.Counter()
    event_of = {}
    for e in server.events():
        text = e["event.original"]
        i = text.index("id=") + 3
        eid = text[i:].split(" ", 1)[0]
        counts[eid] += 1
        event_of[e["id"]] = eid
    dupes = [k for k, v in counts.items() if v > 1]
    assert not dupes, f"{len(dupes)} events stored twice, e.g. {dupes[:5]}"
    missing = [i for i in http.acked if counts[i] != 1]
    assert not missing, f"{len(missing)} acknowledged HTTP events lost, e.g. {missing[:5]}"
    for conn, sent in tcp.sent_per_conn.items():
        got = sorted(int(k.rsplit("-", 1)[1]) for k in counts if k.startswith(f"tcp-{conn}-"))
        assert got == list(range(len(got))), f"connection {conn}: stored events are not a gap-free prefix"
        assert len(got) <= sent
    alerts = server.journal("alerts")
    alert_ids = collections.Counter(a["id"] for a in alerts)
    assert all(v == 1 for v in alert_ids.values()), "an alert id repeats"
    per_event = collections.Counter(a["event_id"] for a in alerts)
    marked = [eid for eid, key in event_of.items() if int(key.rsplit("-", 1)[1]) % MARK_EVERY == 0]
    assert all(per_event[eid] == 1 for eid in marked), "a marked event has no alert or two"
    assert len(per_event) == len(marked)
    stored = sum(counts.values())
    report = {
        "events_sent": TOTAL,
        "stored": stored,
        "http_acked": len(http.acked),
        "http_unacked_stored": sum(counts[i] for i in http.unacked),
        "tcp_connections": len(tcp.sent_per_conn),
        "tcp_sent_not_stored": tcp.sent - sum(counts[k] for k in counts if k.startswith("tcp-")),
        "kills": KILLS,
        "alerts": len(alerts),
        "seconds": round(elapsed, 1),
    }
    print("crash test:", json.dumps(report))
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert len(http.acked) > 0 and stored >= len(http.acked)
    # The kills must have hit the senders, or this test proved nothing.
    assert len(tcp.sent_per_conn) > KILLS // 2, "the kills did not interrupt the TCP sender"
