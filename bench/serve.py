#!/usr/bin/env python3
"""Sustained ingest -> normalize -> detect through `hinomi serve` with the full SigmaHQ rule set.

    bench/serve.py [--events 1000000] [--senders 2] [--runs 3] [--store on|off] [--events-journal on|off] [--bin PATH]

Two scenarios, each on a fresh data directory and a release build:
  - syslog TCP: RFC 3164 lines of a Linux estate (sshd, sudo, cron, systemd, kernel) from
    --senders connections; one line in 1000 matches a SigmaHQ sshd rule;
  - _bulk: Windows events as a shipper sends them (flat, `EventID` + `Channel`, generated like
    bench/run.py's events: copies of the SigmaHQ regression events, of which --attack-share keep
    their attack values and the rest get consistent benign processes, files and keys; event times
    of now, as a live stream has), posted in
    bodies of 2000 documents from --senders connections.
Senders are separate processes replaying pre-built bytes, so the clients cost as little CPU
as possible; they still share the machine's 2 cores with the server.

Each scenario runs twice: saturated (senders as fast as they can: throughput) and paced at a
fixed rate (--rate-*: latency at a sustained load; under saturation latency only measures the
backlog the senders built). Figures per run:
  - events/s (detected): events / (first byte sent -> the pipeline has written out the last event);
  - searchable/s: events / (first byte sent -> the event store has committed the last event,
    its position at the log's end), with --store on;
  - triaged/s: events / (first byte sent -> the triage reader has applied the last detection:
    the checkpoint covers the log's end and triage has nothing left of it);
  - p50/p99 latency: detected - received over every alert (received is stamped by the listener
    before the write-ahead log, detected by the pipeline after the rules ran);
  - search p99 s: how long after the log held an event (acknowledged) the store had committed
    it, at p99, from /api/v1/status sampled every 0.2 s (each sample of the log's end is matched
    with the first sample whose index position is past it; granularity 0.2 s);
  - log MiB: the write-ahead log on disk, the largest and at the end (the log's size over the
    run is printed every 10 s of it with --log-every);
  - 429s: requests refused (429/503) and tried again by the senders;
  - peak RSS of the server (VmHWM).
Medians of --runs are printed; the machine is noisy. With --store on (serve's default) the
event store indexes the same events meanwhile and competes for the cores; --store off measures
ingest -> normalize -> detect alone (with --events-journal off: nothing but the alerts written).
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
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as hunt_bench  # noqa: E402  (the event generator of bench/run.py)

ROOT = hunt_bench.ROOT
SIGMA = hunt_bench.SIGMA
BIN = os.path.join(ROOT, "target", "release", "hinomi")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def syslog_lines(n, rng):
    hosts = [f"web{i:02d}" for i in range(40)] + [f"db{i:02d}" for i in range(10)]
    users = ["alice", "bob", "carol", "deploy", "backup", "root"]
    templates = [
        "<38>Nov 22 {t} {h} sshd[{p}]: Accepted publickey for {u} from 10.{a}.{b}.{c} port {port} ssh2",
        "<38>Nov 22 {t} {h} sshd[{p}]: Failed password for {u} from 198.51.{b}.{c} port {port} ssh2",
        "<86>Nov 22 {t} {h} sudo:    {u} : TTY=pts/{b} ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
        "<78>Nov 22 {t} {h} CRON[{p}]: ({u}) CMD (/usr/local/bin/backup.sh --quick)",
        "<30>Nov 22 {t} {h} systemd[1]: Started Session {p} of user {u}.",
        "<6>Nov 22 {t} {h} kernel: [{p}.{c}] eth0: link up, 1000Mbps, full-duplex",
        "<13>Nov 22 {t} {h} app[{p}]: GET /api/v1/items/{c} 200 {port}ms user={u}",
    ]
    out = []
    for i in range(n):
        t = f"{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
        if i % 1000 == 0:
            line = f"<38>Nov 22 {t} {rng.choice(hosts)} sshd[{i % 30000}]: Corrupted MAC on input."
        else:
            line = rng.choice(templates).format(
                t=t, h=rng.choice(hosts), p=rng.randrange(100, 60000), u=rng.choice(users),
                a=rng.randrange(256), b=rng.randrange(256), c=rng.randrange(256), port=rng.randrange(1024, 65535),
            )
        out.append(line)
    return out


# Benign processes as (image, original file name, parent image, command line, parent command line),
# consistent with each other so that benign events look like a quiet Windows estate.
BENIGN_PROCS = [
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe", "C:\\Windows\\System32\\services.exe",
     "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "C:\\Windows\\system32\\services.exe"),
    ("C:\\Program Files\\Mozilla Firefox\\firefox.exe", "firefox.exe", "C:\\Windows\\explorer.exe",
     "\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" -contentproc --channel=1", "C:\\Windows\\Explorer.EXE"),
    ("C:\\Windows\\System32\\SearchProtocolHost.exe", "SearchProtocolHost.exe", "C:\\Windows\\System32\\SearchIndexer.exe",
     "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe1",
     "C:\\Windows\\system32\\SearchIndexer.exe /Embedding"),
    ("C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "Outlook.exe", "C:\\Windows\\explorer.exe",
     "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\"", "C:\\Windows\\Explorer.EXE"),
    ("C:\\Windows\\System32\\RuntimeBroker.exe", "RuntimeBroker.exe", "C:\\Windows\\System32\\svchost.exe",
     "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding", "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p"),
]


def windows_docs(n, rng, attack_share):
    """Copies of the SigmaHQ regression events. A share `attack_share` keeps its attack values;
    the rest get a consistent benign process (image, original name, parent, command lines),
    benign files, keys and hashes."""
    _, flat = hunt_bench.regression_events()
    now = time.time()
    out = []
    for ev in hunt_bench.generate(flat, n, rng, benign=0.0):
        if rng.random() >= attack_share:
            image, original, parent, cmd, parent_cmd = rng.choice(BENIGN_PROCS)
            for field, value in [("Image", image), ("OriginalFileName", original), ("ParentImage", parent),
                                 ("CommandLine", cmd), ("ParentCommandLine", parent_cmd), ("SourceImage", parent),
                                 ("TargetImage", image)]:
                if field in ev:
                    ev[field] = value
            for field in ("Description", "Product", "Company", "FileVersion"):
                if field in ev:
                    ev[field] = "Microsoft Windows" if field != "FileVersion" else "10.0.19041.1"
            if "Hashes" in ev:
                ev["Hashes"] = "SHA256=" + "%064x" % rng.getrandbits(256)
            if "TargetFilename" in ev:
                ev["TargetFilename"] = rng.choice(hunt_bench.BENIGN_FILES).format(n=rng.randrange(10**6))
            if "TargetObject" in ev:
                ev["TargetObject"] = rng.choice(hunt_bench.BENIGN_KEYS).format(n=rng.randrange(10**6))
            for f in ("ImageLoaded", "Details", "PipeName", "QueryName", "ScriptBlockText", "CallTrace",
                      "GrantedAccess", "StartAddress", "StartModule", "Signature", "ServiceName", "ImagePath"):
                if f in ev:
                    ev[f] = f"benign-{rng.randrange(1000)}"
        # A live stream: event times of now, not of the samples (which spread
        # over many days, as a backfill would).
        if "TimeCreated_SystemTime" in ev:
            ev["TimeCreated_SystemTime"] = live(now, len(out))
        if "UtcTime" in ev:
            ev["UtcTime"] = live(now, len(out)).replace("T", " ")[:23]
        out.append(json.dumps(ev, separators=(",", ":")))
    return out


def live(start, i):
    """RFC 3339 time of the i-th event of a stream at 100k events/s from `start`."""
    t = start + i / 100_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def pace(start, done, rate):
    """Sleeps until `done` events are due at `rate` events/s (no-op when rate is 0)."""
    if rate:
        ahead = done / rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)


def send_tcp(port, payload, rate=0):
    with socket.create_connection(("127.0.0.1", port)) as s:
        if not rate:
            s.sendall(payload)
            return
        lines = payload.splitlines(keepends=True)
        start, step = time.time(), max(1, rate // 100)
        for i in range(0, len(lines), step):
            s.sendall(b"".join(lines[i : i + step]))
            pace(start, i + step, rate)


# What analysts ask while the events stream in: needles and aggregations over all stored events.
SEARCHES = ["ws001", "| stats count() by host.name", "EventID:1 | stats count() by user.name", "whoami"]


def search_loop(port, token, interval, stop, out):
    """One analyst: a search every `interval` seconds until `stop` is set; puts the latencies on `out`."""
    latencies, i = [], 0
    while not stop.is_set():
        t0 = time.time()
        body = json.dumps({"query": SEARCHES[i % len(SEARCHES)], "limit": 100}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/search", data=body, method="POST")
        req.add_header("Authorization", f"Bearer {token}")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as resp:
            resp.read()
        latencies.append((time.time() - t0) * 1000)
        i += 1
        stop.wait(max(0.0, interval - (time.time() - t0)))
    out.put(latencies)


def post_until_taken(conn, path, body, headers):
    """Posts until the server takes it, as a shipper does: a refusal (429,
    503) or a connection the server closed is tried again after a pause.
    Returns how many tries were refused."""
    refused = 0
    while True:
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            # The server may answer a refusal early and close; so may its
            # idle timeout between two requests.
            conn.close()
            refused += 1
            time.sleep(0.2)
            continue
        if resp.status == 200:
            return refused
        if resp.status not in (429, 503):
            raise SystemExit(f"{path} answered {resp.status}")
        refused += 1
        time.sleep(0.2)


def send_bulk(port, token, bodies, rate=0, out=None, duration=0):
    """Posts the bodies (over and over for `duration` seconds when set); puts (events, refused tries) on `out`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"ApiKey {token}", "Content-Type": "application/x-ndjson"}
    start, done, tries = time.time(), 0, 0
    while True:
        for body in bodies:
            if duration and time.time() - start >= duration:
                break
            pace(start, done, rate)
            done += body.count(b"\n") // 2
            tries += post_until_taken(conn, "/_bulk", body, headers)
        if not duration or time.time() - start >= duration:
            break
    if out is not None:
        out.put((done, tries))


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run_once(scenario, payloads, n, rules, rate=0, store=True, journal="default", searchers=0, interval=1.0,
             prefill=None, duration=0):
    data = tempfile.mkdtemp(prefix="hinomi-bench-")
    if prefill:
        # History to search: imported (indexed, no detection) before the server starts.
        subprocess.run([BIN, "import", "--data", data, prefill], check=True, stderr=subprocess.DEVNULL)
    http_port, tcp_port = free_port(), free_port()
    config = os.path.join(data + ".toml")
    with open(config, "w") as f:
        f.write(f'[http]\nlisten = ["127.0.0.1:{http_port}"]\n[[syslog]]\nprotocol = "tcp"\nlisten = "127.0.0.1:{tcp_port}"\n')
        f.write(f"[store]\nenabled = {'true' if store else 'false'}\n")
        if journal != "default":
            f.write(f"[engine]\nevents_journal = {'true' if journal == 'on' else 'false'}\n")
    cmd = [BIN, "serve", "--data", data, "--config", config]
    for r in rules:
        cmd += ["--rules", r]
    log = open(data + ".log", "w")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    try:
        listeners = os.path.join(data, "run", "listeners.json")
        for _ in range(1200):
            if os.path.exists(listeners) and os.path.getsize(listeners) > 0:
                break
            time.sleep(0.1)
        token = subprocess.run(
            [BIN, "token", "create", "--data", data, "--scope", "admin"], check=True, capture_output=True, text=True
        ).stdout.strip()
        start = time.time()
        refused = multiprocessing.Queue()
        if scenario == "syslog-tcp":
            procs = [multiprocessing.Process(target=send_tcp, args=(tcp_port, p, rate)) for p in payloads]
        else:
            procs = [multiprocessing.Process(target=send_bulk, args=(http_port, token, p, rate, refused, duration))
                     for p in payloads]
        samples, sampling = [], multiprocessing.Event()

        def get_status():
            req = urllib.request.Request(f"http://127.0.0.1:{http_port}/api/v1/status")
            req.add_header("Authorization", f"Bearer {token}")
            return json.loads(urllib.request.urlopen(req, timeout=30).read())

        def sample():
            # (time, log end, detection's position, the store's position, triage's lag, log bytes)
            while not sampling.is_set():
                s = get_status()
                triage = next((b["lag_bytes"] for b in s.get("behind", []) if b["name"] == "triage"), 0)
                samples.append((time.time(), s["wal_end"], s.get("checkpointed", 0), s.get("indexed") or 0, triage,
                                s.get("log_bytes", 0), s["records"], s["lag_bytes"], s.get("index_lag_bytes") or 0))
                time.sleep(0.2)

        import threading
        sampler = threading.Thread(target=sample, daemon=True)
        stop, found = multiprocessing.Event(), multiprocessing.Queue()
        analysts = [multiprocessing.Process(target=search_loop, args=(http_port, token, interval, stop, found))
                    for _ in range(searchers)]
        for p in procs + analysts:
            p.start()
        # After the forks: a process forked while this thread holds a lock
        # (a socket's, the import lock) waits on it forever.
        sampler.start()
        for p in procs:
            p.join()
        if any(p.exitcode != 0 for p in procs):
            raise SystemExit(f"a sender failed (see above); server log: {data}.log")
        sent = time.time() - start
        counts = [refused.get(timeout=60) for _ in procs] if scenario != "syslog-tcp" else []
        if duration:
            n = sum(c[0] for c in counts)
        deadline = time.time() + 3600
        detected = searchable = triaged = checkpointed = None
        said = 0.0
        while time.time() < deadline:
            # The sampler's view, so that every figure comes from one series.
            if samples:
                t, end, covered, indexed, triage_lag, _, records, lag, index_lag = samples[-1]
                if detected is None and lag == 0 and records >= n:
                    detected = t
                if detected is not None and searchable is None and (not store or index_lag == 0):
                    searchable = t
                # Triage reads the alerts a checkpoint covers; its lag is
                # counted against the checkpoint it last saw (it looks every
                # 0.2 s), so it is done at a lag of 0 sampled 0.5 s after the
                # checkpoint covered the log's end.
                if detected is not None and checkpointed is None and covered >= end:
                    checkpointed = t
                if checkpointed is not None and triaged is None and triage_lag == 0 and t >= checkpointed + 0.5:
                    triaged = t
                if detected and searchable and triaged:
                    break
            # A long drain says where it stands, every 30 s after the first two minutes.
            if time.time() - sent - start > 120 and time.time() - said > 30:
                said = time.time()
                print("waiting:", samples[-1] if samples else None, detected, searchable, checkpointed, file=sys.stderr)
            time.sleep(0.2)
        else:
            raise SystemExit(f"the server did not store {n} events in time; log: {data}.log")
        sampling.set()
        sampler.join()
        elapsed = detected - start
        stop.set()
        searches = sorted(x for _ in analysts for x in found.get(timeout=300))
        for p in analysts:
            p.join()
        rss = peak_rss_mib(proc.pid)
        latencies = alert_latencies(data)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    shutil.rmtree(data, ignore_errors=True)
    delays = searchable_delays(samples) if store else []
    logs = [x[5] for x in samples]
    return {
        "events_per_s": n / elapsed,
        "searchable_per_s": n / (searchable - start),
        "triaged_per_s": n / (triaged - start),
        "search_p99_s": percentile(delays, 99) if delays else float("nan"),
        "log_max_mib": max(logs) / 2**20 if logs else 0.0,
        "log_end_mib": logs[-1] / 2**20 if logs else 0.0,
        "refused": sum(c[1] for c in counts),
        "events": n,
        "send_s": sent,
        "total_s": elapsed,
        "alerts": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "peak_rss_mib": rss,
        **({"searches": len(searches), "search_p50_ms": percentile(searches, 50)} if searchers else {}),
    }, log_series(samples, start)


def log_series(samples, start):
    """The log's size in MiB every 10 s of the run."""
    out, next_at = [], 0.0
    for t, *rest in samples:
        if t - start >= next_at:
            out.append(round(rest[4] / 2**20))
            next_at += 10.0
    return out


def searchable_delays(samples):
    """For each sample of the log's end, the seconds until the store's position passed it."""
    out, j = [], 0
    for t, end, *_ in samples:
        while j < len(samples) and samples[j][3] < end:
            j += 1
        if j == len(samples):
            break
        out.append(max(0.0, samples[j][0] - t))
    return out


def ts_ns(text):
    # 2026-11-22T17:24:37.903914972Z
    date, clock = text.rstrip("Z").split("T")
    hms, _, frac = clock.partition(".")
    h, m, s = (int(x) for x in hms.split(":"))
    days = int(date.replace("-", ""))  # same day in a run: only the clock matters
    return ((days * 86400 + h * 3600 + m * 60 + s) * 10**9) + int((frac + "000000000")[:9])


def alert_latencies(data):
    out = []
    d = os.path.join(data, "alerts")
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name)) as f:
            for line in f:
                a = json.loads(line)
                if a.get("received"):
                    out.append((ts_ns(a["detected"]) - ts_ns(a["received"])) / 1e6)
    return out


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenarios", default="syslog-tcp,bulk")
    ap.add_argument("--attack-share", type=float, default=0.001,
                    help="share of _bulk events that keep the attack values of the regression samples")
    ap.add_argument("--rate-syslog-tcp", type=int, default=100_000, help="paced run for latency, events/s")
    ap.add_argument("--rate-bulk", type=int, default=100_000, help="paced run for latency, events/s")
    ap.add_argument("--store", choices=["on", "off"], default="on",
                    help="the event store (indexing for search) beside detection; on is serve's default")
    ap.add_argument("--searchers", type=int, default=0,
                    help="analysts searching through the API meanwhile (needles and stats), each one search per --search-interval")
    ap.add_argument("--search-interval", type=float, default=1.0)
    ap.add_argument("--prefill", type=int, default=0,
                    help="Windows events imported into each data directory first, for the searches to go through")
    ap.add_argument("--events-journal", choices=["on", "off", "default"], default="default",
                    help="the events/ journal (default: on only with the store off)")
    ap.add_argument("--duration", type=int, default=0,
                    help="_bulk senders repeat their bodies for this many seconds (runs of 10 minutes and more "
                         "without holding 60M events in memory); --events is then the set they repeat")
    ap.add_argument("--modes", default="saturated,paced")
    ap.add_argument("--bin", help="a hinomi binary to measure instead of building this tree's (to compare commits)")
    args = ap.parse_args()
    global BIN
    if args.bin:
        BIN = os.path.abspath(args.bin)
    else:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "hinomi"], cwd=ROOT, check=True)
    rules = [os.path.join(SIGMA, f) for f in hunt_bench.FOLDERS if os.path.isdir(os.path.join(SIGMA, f))]
    rng = random.Random(7)
    prefill = None
    if args.prefill:
        prefill = os.path.join(tempfile.mkdtemp(prefix="hinomi-prefill-"), "history.ndjson")
        with open(prefill, "w") as f:
            f.writelines(d + "\n" for d in windows_docs(args.prefill, random.Random(8), args.attack_share))
    print(f"# bench/serve.py --events {args.events} --duration {args.duration} --modes {args.modes}"
          f" --senders {args.senders} --runs {args.runs}"
          f" --attack-share {args.attack_share} --store {args.store} --events-journal {args.events_journal}"
          f" --searchers {args.searchers} --search-interval {args.search_interval} --prefill {args.prefill}")
    print("scenario      mode            events/s searchable/s triaged/s search p99 s   p50 ms   p99 ms"
          "  log max MiB  log end MiB  refused  peak MiB  alerts   (median of runs)")
    for scenario in args.scenarios.split(","):
        n = args.events
        if scenario == "syslog-tcp":
            lines = syslog_lines(n, rng)
            payloads = ["".join(l + "\n" for l in lines[i :: args.senders]).encode() for i in range(args.senders)]
        else:
            docs = windows_docs(n, rng, args.attack_share)
            per = [docs[i :: args.senders] for i in range(args.senders)]
            payloads = [
                [
                    "".join('{"index":{"_index":"winlogbeat"}}\n' + d + "\n" for d in part[j : j + 2000]).encode()
                    for j in range(0, len(part), 2000)
                ]
                for part in per
            ]
        rate = getattr(args, "rate_" + scenario.replace("-", "_"))
        modes = [("saturated", 0), (f"paced {rate // 1000}k/s", rate // args.senders)]
        for mode, r in [m for m in modes if m[0].split()[0] in args.modes.split(",")]:
            runs = [
                run_once(scenario, payloads, n, rules, r, args.store == "on", args.events_journal,
                         args.searchers, args.search_interval, prefill, args.duration)
                for _ in range(args.runs)
            ]
            results = [x for x, _ in runs]
            med = {k: statistics.median(x[k] for x in results) for k in results[0]}
            print(
                f"{scenario:<12}  {mode:<14} {med['events_per_s']:>9.0f} {med['searchable_per_s']:>12.0f}"
                f" {med['triaged_per_s']:>9.0f} {med['search_p99_s']:>12.1f} {med['p50_ms']:>8.0f} {med['p99_ms']:>8.0f}"
                f" {med['log_max_mib']:>12.0f} {med['log_end_mib']:>12.0f} {med['refused']:>8.0f}"
                f" {med['peak_rss_mib']:>9.0f} {med['alerts']:>7.0f}"
            )
            for x, series in runs:
                print("   run:", json.dumps({k: round(v, 1) for k, v in x.items()}))
                print("   log MiB every 10 s:", " ".join(map(str, series)))
            sys.stdout.flush()
    if prefill:
        shutil.rmtree(os.path.dirname(prefill), ignore_errors=True)


if __name__ == "__main__":
    main()
