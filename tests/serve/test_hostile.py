"""Hostile senders beside a tenant that must go on being watched.

While one tenant's senders (and unauthenticated clients) do what an
attacker impairing the defences would do -- thousands of idle HTTP and
syslog connections, headers and bodies trickled a byte at a time on every
ingest route, records as wide, deep and large as the body limit allows --
another tenant's canary events must still be detected within 2 s, every
one of them.

The attackers connect from other loopback addresses (127.0.0.2-5) than the
canary (127.0.0.1), as they would from other hosts: the per-address budget
is what keeps their connections from taking the canary's places.
"""
import http.client
import json
import resource
import socket
import threading
import time
import uuid

from conftest import Server, wait_for
from test_http_clients import winlogbeat_doc

IDLE = 5000
ROUTES = ["/_bulk", "/services/collector/event", "/services/collector/raw", "/v1/logs", "/api/v1/ingest"]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 1 << 16), hard))


def connect(port, source):
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(2)
    try:
        sock.connect(("127.0.0.1", port))
        return sock
    except OSError:
        sock.close()
        return None


def idle_connections(port, source, held, stop):
    for _ in range(IDLE):
        if stop.is_set():
            return
        sock = connect(port, source)
        if sock:
            held.append(sock)


def trickle(port, source, head, stop, held):
    """Sends `head` a byte a second, until stopped or refused."""
    sock = connect(port, source)
    if not sock:
        return
    held.append(sock)
    for b in head:
        if stop.wait(1.0):
            return
        try:
            sock.send(bytes([b]))
        except OSError:
            return


def post(port, path, token, body, source="127.0.0.1", content_type="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(source, 0))
    try:
        conn.request("POST", path, body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def hostile_records(port, token, stop):
    """Records at the limits, and past them, until stopped."""
    wide = "{" + ",".join(f'"k{i}":{i}' for i in range(9_000)) + "}"
    too_wide = "{" + ",".join(f'"k{i}":{i}' for i in range(50_000)) + "}"
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000
    huge = json.dumps({"message": "x" * (8 << 20)})
    while not stop.is_set():
        for record in (wide, too_wide, deep, huge):
            try:
                post(port, "/api/v1/ingest", token, (record + "\n").encode(), source="127.0.0.4",
                     content_type="application/x-ndjson")
            except OSError:
                pass
            if stop.is_set():
                return


def test_hostile_senders_do_not_blind_another_tenant(tmp_path):
    raise_nofile()
    server = Server(tmp_path / "data").start()
    try:
        http, syslog = server.port("http"), server.port("syslog-tcp")
        canary_ingest = server.token("ingest", tenant="canary")
        canary_read = server.token("read", tenant="canary")
        hostile = server.token("ingest", tenant="hostile")
        stop, held, threads = threading.Event(), [], []

        def start(target, *args):
            t = threading.Thread(target=target, args=args, daemon=True)
            t.start()
            threads.append(t)

        start(idle_connections, http, "127.0.0.2", held, stop)
        start(idle_connections, syslog, "127.0.0.5", held, stop)
        for i in range(40):
            start(trickle, http, "127.0.0.3", f"POST /_bulk HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ".encode() * 4, stop, held)
        for route in ROUTES:
            for _ in range(10):
                head = (f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hostile}\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
                sock = connect(http, "127.0.0.4")
                if sock:
                    held.append(sock)
                    sock.sendall(head)
                    start(trickle_body, sock, stop)
        # Another hostile tenant's records: the body slots of the first are
        # taken by its own trickling senders.
        start(hostile_records, http, server.token("ingest", tenant="hostile-records"), stop)
        time.sleep(3)  # let the attack take hold

        latencies = []
        for n in range(20):
            marker = f"hinomi-cmd-marker-canary-{uuid.uuid4().hex}"
            body = json.dumps({"index": {"_index": "winlogbeat"}}) + "\n" + json.dumps(winlogbeat_doc(marker)) + "\n"
            sent = time.monotonic()
            assert post(http, "/_bulk", canary_ingest, body.encode(), content_type="application/x-ndjson") == 200

            def detected():
                return any(marker in json.dumps(d) for d in server.alerts(canary_read))

            wait_for(detected, timeout=30, what=f"canary {n} detected")
            latencies.append(time.monotonic() - sent)
            time.sleep(0.2)
        latencies.sort()
        status = server.get("/api/v1/status", server.token("admin"))
        stop.set()
        print("canary detection latency, s:", [round(x, 2) for x in latencies], "connections:", status["connections"])
        assert latencies[-1] < 2.0, latencies
        # The budget did refuse the flood; the canary's connections were let in.
        assert status["connections"]["refused"] > 0, status["connections"]
        # The records past the limits are dead letters that say why.
        def reasons():
            said = {d["reason"].split(":")[1].strip().split(" ")[0] for d in server.journal("deadletter")}
            return said if {"50000", "nested", "field"} <= said else None

        wait_for(reasons, timeout=60, what="the hostile records' dead letters")
    finally:
        stop.set()
        for sock in held:
            sock.close()
        server.kill()


def trickle_body(sock, stop):
    while not stop.wait(1.0):
        try:
            sock.send(b" ")
        except OSError:
            return


def test_idle_and_silent_connections_are_closed(tmp_path):
    """A kept-alive connection left idle, and one that never sends a
    header, are closed at `header_timeout`; a body that does not arrive
    within `body_timeout` is answered 408."""
    server = Server(tmp_path / "data", '[connections]\nheader_timeout = "1s"\nbody_timeout = "2s"\n').start()
    try:
        http = server.port("http")
        kept = connect(http, "127.0.0.1")
        kept.settimeout(10)
        started = time.monotonic()
        kept.sendall(b"GET /services/collector/health HTTP/1.1\r\nHost: x\r\n\r\n")
        silent = connect(http, "127.0.0.1")
        silent.settimeout(10)
        assert until_closed(kept).startswith(b"HTTP/1.1 200") and until_closed(silent) == b""
        assert time.monotonic() - started < 5
        slow = connect(http, "127.0.0.1")
        slow.settimeout(10)
        slow.sendall((f"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.ingest_token}\r\n"
                      "Content-Length: 1000\r\n\r\n{").encode())
        assert slow.recv(200).startswith(b"HTTP/1.1 408")
    finally:
        server.kill()


def until_closed(sock):
    """Everything `sock` receives until the server closes it."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_ingest_bodies_together_wait_for_room(tmp_path):
    """`max_inflight` bounds the bytes of bodies held at once: while one
    sender's announced megabyte takes all the room, another tenant's small
    request waits for it (unread), and goes through once the room is free."""
    config = '#full\n[http]\nlisten = ["127.0.0.1:0"]\nmax_body = "1 MiB"\nmax_inflight = "1 MiB"\n'
    server = Server(tmp_path / "data", config).start()
    held = None
    try:
        http = server.port("http")
        big = server.token("ingest", tenant="big")
        held = connect(http, "127.0.0.2")
        held.sendall((f"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {big}\r\n"
                      f"Content-Type: application/x-ndjson\r\nContent-Length: {1 << 20}\r\n\r\n").encode() + b'{"a":1')
        time.sleep(0.5)  # its room is taken

        answers = []
        small = server.token("ingest", tenant="small")
        marker = uuid.uuid4().hex
        body = (json.dumps({"message": marker}) + "\n").encode() * 100
        t = threading.Thread(target=lambda: answers.append(post(http, "/api/v1/ingest", small, body,
                                                                    content_type="application/x-ndjson")))
        t.start()
        t.join(3)
        assert t.is_alive() and not answers, "the second body was read while the first held all the room"
        held.close()
        held = None
        t.join(10)
        assert answers == [200]
        wait_for(lambda: sum(marker in e["event.original"] for e in server.events()) == 100, what="the small request stored")
    finally:
        if held:
            held.close()
        server.kill()
