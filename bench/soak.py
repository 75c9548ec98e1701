#!/usr/bin/env python3
"""A long run of `hinomi serve` under mixed ingest with the hostile senders beside it.

    bench/soak.py [--minutes 30] [--share 0.5] [--saturated EPS] [--bin PATH] [--out bench/results/DATE-soak]

Needs matplotlib for the plot (`pip install matplotlib`); the hostile senders come from
tests/serve/test_hostile.py, so run it with the Python of the serve tests (target/pyenv).

1. Calibration (unless --saturated is given): a fresh server with the SigmaHQ rules and the event
   store, and the load's senders as fast as they can for --calibrate seconds; the saturated rate
   is the events sent over the time until they were all detected and indexed (searchable).
2. The soak: a fresh server, the same senders paced at --share of that rate for --minutes:
   Windows events over `_bulk` (half), syslog lines over TCP (three tenths) and over HEC raw (a
   fifth), each in its own process. Beside them, all the time, what tests/serve/test_hostile.py
   does once: 5,000 idle HTTP and 5,000 idle syslog connections (opened again as the server
   closes them), headers and bodies trickled a byte a second on every ingest route, records as
   wide, deep and large as the limits allow and past them. A canary tenant sends one marked event
   every 2 s; its detection latency is measured twice: by the server (detected - received, from
   the alert line) and as a client sees it (sent -> listed by /api/v1/detections).
3. Every 5 s: the server's RSS, open descriptors, write-ahead log size, store size, detection and
   index lag, and the connections held. Written to OUT.jsonl, plotted to OUT.png, summed up in
   OUT.txt: medians of the first and last third of the run (after a warm-up) and their ratio.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "serve"))
import run as hunt_bench  # noqa: E402
import serve as serve_bench  # noqa: E402
import test_hostile as hostile  # noqa: E402
from test_http_clients import winlogbeat_doc  # noqa: E402

ROOT = hunt_bench.ROOT
MARKER_RULES = os.path.join(ROOT, "tests", "serve", "rules")
# The run stops when the disk has less than this left: what grows is a finding, not a reason
# to fill the machine.
MIN_FREE_GIB = 5
# Shares of the load by route.
MIX = {"bulk": 0.5, "syslog": 0.3, "hec": 0.2}


class Server:
    def __init__(self, binary, rules):
        self.data = tempfile.mkdtemp(prefix="hinomi-soak-")
        self.http, self.tcp = serve_bench.free_port(), serve_bench.free_port()
        config = self.data + ".toml"
        with open(config, "w") as f:
            f.write(f'[http]\nlisten = ["127.0.0.1:{self.http}"]\n'
                    f'[[syslog]]\nprotocol = "tcp"\nlisten = "127.0.0.1:{self.tcp}"\n')
        cmd = [binary, "serve", "--data", self.data, "--config", config]
        for r in rules:
            cmd += ["--rules", r]
        self.log = open(self.data + ".log", "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=hostile.raise_nofile)
        listeners = os.path.join(self.data, "run", "listeners.json")
        deadline = time.time() + 300
        while not (os.path.exists(listeners) and os.path.getsize(listeners) > 0):
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the server did not start; log: {self.data}.log")
            time.sleep(0.2)
        self.binary = binary
        self.admin = self.token("admin", "load")

    def token(self, scope, tenant):
        return subprocess.run([self.binary, "token", "create", "--data", self.data, "--tenant", tenant, "--scope", scope],
                              check=True, capture_output=True, text=True).stdout.strip()

    def get(self, path, token):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}")
        req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def status(self):
        return self.get("/api/v1/status", self.admin)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.log.close()


def http_sender(port, path, headers, bodies, per_body, rate, until, sent):
    """Loops over `bodies` (`per_body` events each) at `rate` events/s until `until`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start, done = time.time(), 0
    while time.time() < until:
        for body in bodies:
            if time.time() >= until:
                break
            serve_bench.pace(start, done, rate)
            serve_bench.post_until_taken(conn, path, body, headers)
            done += per_body
            with sent.get_lock():
                sent.value += per_body


def tcp_sender(port, lines, rate, until, sent):
    with socket.create_connection(("127.0.0.1", port)) as s:
        start, done, step = time.time(), 0, max(1, int(rate) // 50) if rate else 1000
        while time.time() < until:
            for i in range(0, len(lines), step):
                if time.time() >= until:
                    break
                s.sendall(b"".join(lines[i : i + step]))
                done += len(lines[i : i + step])
                with sent.get_lock():
                    sent.value += len(lines[i : i + step])
                serve_bench.pace(start, done, rate)


def load(server, rate, seconds):
    """Starts the load's senders; returns (processes, shared sent counter)."""
    rng = random.Random(7)
    docs = serve_bench.windows_docs(20_000, rng, 0.001)
    bulk = ["".join('{"index":{"_index":"winlogbeat"}}\n' + d + "\n" for d in docs[j : j + 1000]).encode()
            for j in range(0, len(docs), 1000)]
    lines = [(l + "\n").encode() for l in serve_bench.syslog_lines(50_000, rng)]
    hec = [b"".join(lines[j : j + 500]) for j in range(0, len(lines), 500)]
    until = time.time() + seconds
    sent = multiprocessing.Value("q", 0)
    token = server.token("ingest", "load")
    procs = [
        multiprocessing.Process(target=http_sender, args=(
            server.http, "/_bulk", {"Authorization": f"ApiKey {token}", "Content-Type": "application/x-ndjson"},
            bulk, 1000, rate * MIX["bulk"], until, sent)),
        multiprocessing.Process(target=tcp_sender, args=(server.tcp, lines, rate * MIX["syslog"], until, sent)),
        multiprocessing.Process(target=http_sender, args=(
            server.http, "/services/collector/raw", {"Authorization": f"Splunk {token}"},
            hec, 500, rate * MIX["hec"], until, sent)),
    ]
    for p in procs:
        p.start()
    return procs, sent


def drained(server, timeout=1800):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = server.status()
        if s["lag_bytes"] == 0 and not s.get("index_lag_bytes"):
            return s
        time.sleep(0.5)
    raise SystemExit("the server did not catch up in time")


def calibrate(binary, rules, seconds):
    server = Server(binary, rules)
    try:
        start = time.time()
        procs, sent = load(server, 0, seconds)
        for p in procs:
            p.join()
        status = drained(server)
        elapsed = time.time() - start
        print(f"calibration: {sent.value} events sent in {seconds} s, all searchable after {elapsed:.1f} s;"
              f" records counted {status['records']}")
        return sent.value / elapsed
    finally:
        server.stop()
        shutil.rmtree(server.data, ignore_errors=True)


def attack(server, stop, held):
    """The hostile suite of tests/serve/test_hostile.py, kept up until `stop`."""
    hostile_token = server.token("ingest", "hostile")

    def forever(target, *args):
        def loop():
            while not stop.is_set():
                target(*args)
                stop.wait(5)
        threading.Thread(target=loop, daemon=True).start()

    def idle(port, source):
        # The server closes idle connections; open new ones as it does.
        mine = []
        while not stop.is_set():
            mine[:] = [s for s in mine if still_open(s)]
            for _ in range(hostile.IDLE - len(mine)):
                sock = None if stop.is_set() else hostile.connect(port, source)
                if sock:
                    mine.append(sock)
            held[source] = len(mine)
            stop.wait(10)
        for s in mine:
            s.close()

    threading.Thread(target=idle, args=(server.http, "127.0.0.2"), daemon=True).start()
    threading.Thread(target=idle, args=(server.tcp, "127.0.0.5"), daemon=True).start()
    socks = []
    for i in range(40):
        forever(hostile.trickle, server.http, "127.0.0.3",
                f"POST /_bulk HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ".encode() * 4, stop, socks)
    for route in hostile.ROUTES:
        for _ in range(10):
            def body(route=route):
                head = (f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {hostile_token}\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n").encode()
                sock = hostile.connect(server.http, "127.0.0.4")
                if sock:
                    try:
                        sock.sendall(head)
                        hostile.trickle_body(sock, stop)
                    except OSError:
                        pass
                    sock.close()
            forever(body)
    forever(hostile.hostile_records, server.http, server.token("ingest", "hostile-records"), stop)


def still_open(sock):
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        try:
            sock.setblocking(True)
        except OSError:
            pass


def canaries(server, stop, out):
    """A marked event every 2 s from the canary tenant; (t, server s, client s) per detection."""
    ingest, read = server.token("ingest", "canary"), server.token("read", "canary")
    pending, t0 = {}, time.time()
    conn = None
    while not stop.is_set():
        marker = f"hinomi-cmd-marker-soak-{uuid.uuid4().hex}"
        body = json.dumps({"index": {"_index": "winlogbeat"}}) + "\n" + json.dumps(winlogbeat_doc(marker)) + "\n"
        try:
            conn = conn or http.client.HTTPConnection("127.0.0.1", server.http, timeout=30)
            serve_bench.post_until_taken(conn, "/_bulk", body.encode(), {"Authorization": f"Bearer {ingest}",
                                                              "Content-Type": "application/x-ndjson"})
            pending[marker] = time.time()
        except (OSError, http.client.HTTPException):
            conn = None
        next_send = time.time() + 2
        while time.time() < next_send and pending and not stop.is_set():
            try:
                listed = server.get("/api/v1/detections?limit=200", read)["detections"]
            except (OSError, urllib.error.URLError):
                listed = []
            for d in listed:
                cmd = json.dumps(d.get("event", {}))
                for m in [m for m in pending if m in cmd]:
                    seen = time.time()
                    detected = serve_bench.ts_ns(d["detected"]) - serve_bench.ts_ns(d["received"])
                    out.append((seen - t0, detected / 1e9, seen - pending.pop(m)))
            time.sleep(0.25)
        stop.wait(max(0.0, next_send - time.time()))


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def sample(server, t0):
    pid = server.proc.pid
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS:"))
    status = server.status()
    return {
        "t": time.time() - t0,
        "rss_mib": rss,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "wal_mib": dir_bytes(os.path.join(server.data, "wal")) / 2**20,
        "store_mib": dir_bytes(os.path.join(server.data, "store")) / 2**20,
        "alerts_mib": dir_bytes(os.path.join(server.data, "alerts")) / 2**20,
        "deadletter_mib": dir_bytes(os.path.join(server.data, "deadletter")) / 2**20,
        "disk_free_gib": shutil.disk_usage(server.data).free / 2**30,
        "lag_mib": status["lag_bytes"] / 2**20,
        "index_lag_mib": (status.get("index_lag_bytes") or 0) / 2**20,
        "records": status["records"],
        "connections": status["connections"]["open"],
        "refused": status["connections"]["refused"],
        "stopped": status["stopped"],
    }


def thirds(values, warmup):
    """Medians of the first and last third after the warm-up."""
    kept = [v for t, v in values if t >= warmup]
    if len(kept) < 3:
        return float("nan"), float("nan")
    n = len(kept) // 3
    return statistics.median(kept[:n]), statistics.median(kept[-n:])


def plot(samples, latencies, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    minutes = [s["t"] / 60 for s in samples]
    fig, axes = plt.subplots(5, 1, figsize=(10, 14), sharex=True)
    series = [
        ("RSS (MiB)", [("rss", [s["rss_mib"] for s in samples])]),
        ("open descriptors", [("fds", [s["fds"] for s in samples]), ("connections", [s["connections"] for s in samples])]),
        ("log (MiB)", [("write-ahead log", [s["wal_mib"] for s in samples]), ("detection lag", [s["lag_mib"] for s in samples]),
                       ("index lag", [s["index_lag_mib"] for s in samples])]),
        ("stored (MiB)", [("event store", [s["store_mib"] for s in samples]), ("alert journal", [s["alerts_mib"] for s in samples]),
                          ("dead letters", [s["deadletter_mib"] for s in samples])]),
    ]
    for ax, (label, lines) in zip(axes, series):
        for name, ys in lines:
            ax.plot(minutes, ys, label=name)
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    ax.plot([t / 60 for t, _, _ in latencies], [d for _, d, _ in latencies], ".", label="canary: detected - received (server)")
    ax.plot([t / 60 for t, _, _ in latencies], [c for _, _, c in latencies], ".", alpha=0.5, label="canary: sent -> listed (client)")
    ax.axhline(2.0, color="red", linewidth=0.8, label="2 s")
    ax.set_ylabel("latency (s)")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("minutes")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--share", type=float, default=0.5, help="of the saturated rate")
    ap.add_argument("--saturated", type=float, help="events/s; measured by a calibration run when not given")
    ap.add_argument("--calibrate", type=int, default=60, help="seconds of saturated sending")
    ap.add_argument("--warmup", type=float, default=180, help="seconds left out of the flatness figures")
    ap.add_argument("--bin", help="a hinomi binary (default: this tree's release build)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", time.strftime("%Y-%m-%d") + "-soak"))
    args = ap.parse_args()
    binary = os.path.abspath(args.bin) if args.bin else os.path.join(ROOT, "target", "release", "hinomi")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "hinomi"], cwd=ROOT, check=True)
    hostile.raise_nofile()
    sigma = [os.path.join(hunt_bench.SIGMA, f) for f in hunt_bench.FOLDERS if os.path.isdir(os.path.join(hunt_bench.SIGMA, f))]
    rules = sigma + [MARKER_RULES]
    saturated = args.saturated or calibrate(binary, rules, args.calibrate)
    rate = saturated * args.share
    print(f"saturated {saturated:.0f} events/s; soak at {rate:.0f} events/s for {args.minutes} min")

    server = Server(binary, rules)
    stop, held, latencies, samples = threading.Event(), {}, [], []
    t0 = time.time()
    try:
        procs, sent = load(server, rate, args.minutes * 60)
        attack(server, stop, held)
        threading.Thread(target=canaries, args=(server, stop, latencies), daemon=True).start()
        with open(args.out + ".jsonl", "w") as f:
            while any(p.is_alive() for p in procs):
                s = sample(server, t0)
                s["held_idle"] = dict(held)
                s["sent"] = sent.value
                s["canaries"] = len(latencies)
                samples.append(s)
                f.write(json.dumps(s) + "\n")
                f.flush()
                if s["disk_free_gib"] < MIN_FREE_GIB:
                    raise SystemExit(f"stopped: {s['disk_free_gib']:.1f} GiB of disk left ({server.data})")
                if len(samples) % 12 == 0:
                    print(f"{s['t'] / 60:5.1f} min  rss {s['rss_mib']:.0f} MiB  fds {s['fds']}  wal {s['wal_mib']:.0f} MiB"
                          f"  lag {s['lag_mib']:.1f} MiB  sent {s['sent']}  canaries {len(latencies)}"
                          f"  held {held}", flush=True)
                time.sleep(5)
        if any(p.exitcode != 0 for p in procs):
            raise SystemExit(f"a sender failed; server log: {server.data}.log")
        stop.set()  # the attack ends with the load; then the backlog drains
        final = drained(server, 600)
    finally:
        stop.set()
        server.stop()
        shutil.rmtree(server.data, ignore_errors=True)
    elapsed = samples[-1]["t"] if samples else 0
    lines = [
        f"# bench/soak.py --minutes {args.minutes} --share {args.share} (saturated {saturated:.0f} events/s)",
        f"load: {sent.value} events in {elapsed / 60:.1f} min = {sent.value / max(elapsed, 1):.0f} events/s"
        f" (target {rate:.0f}); records counted {final['records']}",
        f"canaries detected: {len(latencies)}; connections refused by the budget: {samples[-1]['refused']}",
        f"parts stopped at any sample: {sorted({p for s in samples for p in s['stopped']}) or 'none'}",
        "",
        f"{'series':<28} {'first third':>12} {'last third':>12} {'ratio':>7}  (medians after {args.warmup:.0f} s)",
    ]
    for key in ["rss_mib", "fds", "wal_mib", "lag_mib", "index_lag_mib", "connections"]:
        a, b = thirds([(s["t"], s[key]) for s in samples], args.warmup)
        lines.append(f"{key:<28} {a:>12.1f} {b:>12.1f} {b / a if a else float('nan'):>7.2f}")
    for i, name in [(1, "canary detected-received s"), (2, "canary sent->listed s")]:
        a, b = thirds([(x[0], x[i]) for x in latencies], args.warmup)
        lines.append(f"{name:<28} {a:>12.3f} {b:>12.3f} {b / a if a else float('nan'):>7.2f}")
    after = sorted(x[1] for x in latencies if x[0] >= args.warmup)
    if after:
        lines.append(f"canary detected-received after warm-up: p50 {serve_bench.percentile(after, 50):.3f} s,"
                     f" p99 {serve_bench.percentile(after, 99):.3f} s, max {after[-1]:.3f} s")
    client = sorted(x[2] for x in latencies if x[0] >= args.warmup)
    if client:
        lines.append(f"canary sent->listed after warm-up: p50 {serve_bench.percentile(client, 50):.3f} s,"
                     f" p99 {serve_bench.percentile(client, 99):.3f} s, max {client[-1]:.3f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out + ".txt", "w") as f:
        f.write(text)
    plot(samples, latencies, args.out + ".png", lines[0].lstrip("# "))
    print(f"wrote {args.out}.txt, .jsonl, .png")


if __name__ == "__main__":
    main()
