"""Back-pressure: with a deliberately slow pipeline (`engine.slow_down_ms`)
and a small lag limit, HTTP senders get 429 (HEC: 503) with Retry-After,
a TCP sender blocks because the server stops reading, and the server's
memory stays bounded while they push. Everything that was accepted is
stored once the pipeline catches up."""
import socket
import threading
import time
import urllib.error
import urllib.request

from conftest import Server, wait_for

RSS_LIMIT_MIB = 300


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def post(url, body, token, scheme="Bearer"):
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Authorization", f"{scheme} {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def test_slow_downstream_pushes_back(tmp_path):
    config = "[engine]\nslow_down_ms = 3000\nmax_lag_bytes = 1000000\n"
    server = Server(tmp_path / "data", config).start()
    try:
        pid = server.proc.pid
        peak = [rss_mib(pid)]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], rss_mib(pid))
                except OSError:
                    return  # the server is gone; the test says why
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
        line = "<13>Nov 22 10:00:00 bp app: " + "x" * 400 + " n={}\n"

        # HTTP: push until refused. The pipeline reads everything unread in
        # one gulp and then sleeps, so each route pushes until it builds its
        # own backlog: a single late request can land just after a gulp.
        def push_until_refused(path, make_body, scheme):
            accepted = 0
            for i in range(2000):
                status, headers = post(server.http + path, make_body(i), server.ingest_token, scheme)
                if status == 200:
                    accepted += 200
                    continue
                return accepted, status, headers
            raise AssertionError(f"{path} was never refused")

        accepted_http, status, headers = push_until_refused(
            "/api/v1/ingest", lambda i: "".join(line.format(f"h{i}-{j}") for j in range(200)).encode(), "Bearer"
        )
        assert status == 429 and headers.get("Retry-After") == "1", (status, headers)
        filler = "y" * 400
        _, status, headers = push_until_refused(
            "/services/collector/event",
            lambda i: "".join(f'{{"event":"hec {i}-{j} {filler}"}}' for j in range(200)).encode(),
            "Splunk",
        )
        assert status == 503 and headers.get("Retry-After") == "1", (status, headers)
        _, status, headers = push_until_refused(
            "/_bulk",
            lambda i: "".join(f'{{"index":{{"_index":"bp"}}}}\n{{"msg":"bulk {i}-{j} {filler}"}}\n' for j in range(200)).encode(),
            "ApiKey",
        )
        assert status == 429 and headers.get("X-Elastic-Product") == "Elasticsearch", (status, headers)

        # TCP: the server stops reading, so a sender's writes stop completing.
        sent = [0]
        blocked = threading.Event()

        def tcp_sender():
            s = socket.create_connection(("127.0.0.1", server.port("syslog-tcp")))
            s.settimeout(1.5)
            chunk = "".join(line.format(f"t{k}") for k in range(100)).encode()
            until = time.time() + 60
            try:
                while time.time() < until:
                    s.sendall(chunk)
                    sent[0] += 100
            except socket.timeout:
                blocked.set()
            finally:
                s.close()

        t = threading.Thread(target=tcp_sender, daemon=True)
        t.start()
        t.join(timeout=120)
        assert blocked.is_set(), f"the TCP sender never blocked ({sent[0]} lines written)"
        # Unblocked, a local sender writes hundreds of thousands of lines a second.
        assert sent[0] < 200_000
        stop.set()
        assert peak[0] < RSS_LIMIT_MIB, f"server RSS peaked at {peak[0]:.0f} MiB"

        # Once the pipeline catches up, everything accepted over HTTP is there.
        admin = server.token("admin")
        wait_for(lambda: server.get("/api/v1/status", admin)["lag_bytes"] == 0, 300, "pipeline idle")
        stored_http = sum(1 for e in server.events() if " n=h" in e["event.original"])
        assert stored_http == accepted_http
        print(f"backpressure: http accepted {accepted_http}, tcp written {sent[0]}, peak RSS {peak[0]:.0f} MiB")
    finally:
        server.kill()
