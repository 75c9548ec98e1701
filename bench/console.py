#!/usr/bin/env python3
"""Console page latency (issues 6 and 20): p50 and p95 of every page an
analyst opens, over HTTP on loopback, signed in as a console user, with
1,000,000 alerts in the state store, 10,000,000 events in the event store,
the SigmaHQ rules loaded, and both windows full: the alerts run up to the
start of the benchmark (the last 24 hours hold some 35,000 of them) and
the events cover the 10 days before it (the last 24 hours hold a tenth).
Every page is rendered in full by the server; each is fetched once, then
timed --runs times.

    bench/console.py [--alerts 1000000] [--events 10000000] [--rules ../shared/sigma/rules]
                     [--work bench/work/console] [--runs 50] [--keep]

The alerts are made by the state crate's example `triage_bench` (as in
bench/triage.py), the events by bench/store.py's generator and `hinomi
import`. With --keep, a filled work directory is reused.
"""
import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from serverlib import running_server
from store import generate

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password"
DAY = 86400


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(addr, user):
    form = urllib.parse.urlencode({"user": user, "password": PASSWORD}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(urllib.request.Request(f"http://{addr}/ui/login", data=form), timeout=30)
    except urllib.error.HTTPError as e:
        assert e.code == 303, e.code
        return e.headers["Set-Cookie"].split(";", 1)[0]
    raise SystemExit("login did not answer with a redirect")


def page(addr, cookie, path):
    req = urllib.request.Request(f"http://{addr}{path}")
    req.add_header("Cookie", cookie)
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200, (path, resp.status)
        return resp.read().decode()


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def fill(args, work, data):
    """The state store's alerts (ending now), then the events (the 10 days
    before now), unless --keep finds them."""
    marker = work / "filled.json"
    if args.keep and marker.exists():
        return json.loads(marker.read_text())
    subprocess.run(["rm", "-rf", str(data)], check=True)
    data.mkdir(parents=True)
    now = int(time.time())
    # ~1.3 detections per open alert; their event times spread over 30
    # days ending an hour before now.
    step_ms = (30 * DAY * 1000) // int(args.alerts * 1.35)
    start = now - 30 * DAY - 3600
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "state", "--example", "triage_bench"], cwd=ROOT, check=True)
    t = time.perf_counter()
    subprocess.run([str(ROOT / "target/release/examples/triage_bench"), str(data / "state.db"), str(args.alerts),
                    str(start), str(step_ms)], check=True, stdout=subprocess.DEVNULL)
    alert_secs = time.perf_counter() - t
    raw = work / f"events-{args.events}.ndjson"
    t = time.perf_counter()
    generate(raw, args.events, start=now - 10 * DAY)
    gen_secs = time.perf_counter() - t
    t = time.perf_counter()
    with open(work / "import.log", "w") as log:
        subprocess.run([args.bin, "import", "--data", str(data), str(raw)], check=True, stderr=log)
    import_secs = time.perf_counter() - t
    raw.unlink()
    filled = {"now": now, "alert_secs": alert_secs, "generate_secs": gen_secs, "import_secs": import_secs}
    marker.write_text(json.dumps(filled))
    return filled


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--rules", default=str(ROOT.parent / "shared/sigma/rules"))
    ap.add_argument("--work", default=str(ROOT / "bench/work/console"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--bin", default=str(ROOT / "target/release/hinomi"))
    ap.add_argument("--keep", action="store_true", help="reuse a filled work directory")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    filled = fill(args, work, data)
    db = data / "state.db"
    con = sqlite3.connect(db)
    open_alerts = con.execute("SELECT COUNT(*) FROM alerts WHERE status = 'open'").fetchone()[0]
    day_us = (int(time.time()) - DAY) * 1_000_000
    last_day = con.execute("SELECT COUNT(*) FROM alerts WHERE last_seen >= ?", (day_us,)).fetchone()[0]
    biggest = con.execute("SELECT id, alert_count FROM incidents ORDER BY alert_count DESC LIMIT 1").fetchone()
    alert_id = con.execute("SELECT id FROM alerts ORDER BY last_seen DESC LIMIT 1").fetchone()[0]
    con.close()
    subprocess.run([args.bin, "user", "add", "--data", str(data), "bench-analyst", "--role", "analyst", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, capture_output=True)
    print(f"# bench/console.py --alerts {args.alerts} --events {args.events} --runs {args.runs} "
          f"--rules {args.rules}, {os.uname().nodename}, {os.cpu_count()} cores", flush=True)
    print(f"# filled {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(filled['now']))}: alerts in "
          f"{filled['alert_secs']:.0f} s, events generated in {filled['generate_secs']:.0f} s and imported "
          f"(searchable) in {filled['import_secs']:.0f} s{filled.get('note', '')}", flush=True)
    print(f"open alerts: {open_alerts}; seen in the last 24 hours: {last_day}; "
          f"largest incident: #{biggest[0]} with {biggest[1]} alerts", flush=True)
    with running_server(args.bin, data, args=["--rules", args.rules]) as (addr, _token):
        cookie = login(addr, "bench-analyst")
        rules_page = page(addr, cookie, "/ui/default/rules")
        loaded = re.search(r'<h2 id="rules-title">Rules \((\d+)\)</h2>', rules_page)
        print(f"rules loaded: {loaded.group(1) if loaded else '?'}", flush=True)
        queue = page(addr, cookie, "/ui/default/alerts")
        older = re.search(r'href="(/ui/default/alerts\?[^"]*before=[^"]+)"', queue).group(1).replace("&amp;", "&")
        incidents = page(addr, cookie, "/ui/default/incidents")
        first = re.search(r'href="/ui/default/incidents/(\d+)"', incidents).group(1)
        found = page(addr, cookie, "/ui/default/search?q=EventID%3A4624&from=-24h")
        event = re.search(r'href="(/ui/default/events/[^"]+)"', found)
        event = event.group(1) if event else None
        q = lambda query: "/ui/default/search?from=-24h&q=" + urllib.parse.quote(query)
        pages = [
            ("overview (dashboard)", "/ui/default/"),
            ("alert queue, first page", "/ui/default/alerts"),
            ("alert queue, second page", older),
            ("alert queue, high and above", "/ui/default/alerts?min_severity=high"),
            ("alert queue, one rule", "/ui/default/alerts?rule=r7"),
            ("alert page", f"/ui/default/alerts/{alert_id}"),
            ("incident list", "/ui/default/incidents"),
            ("incident page, newest", f"/ui/default/incidents/{first}"),
            (f"incident page, {biggest[1]} alerts", f"/ui/default/incidents/{biggest[0]}"),
            ("entity page (host)", "/ui/default/entities/host?value=ws-0042"),
            ("search, empty form", "/ui/default/search"),
            ("search 24h: user (200 rows, sidebar)", q("user.name:user0042")),
            ("search 24h: EventID:4624", q("EventID:4624")),
            ("search 24h: stats by host", q("* | stats count() by host.name | sort -count() | head 20")),
            ("search 24h: timechart by action", q("event.action:* | timechart span=1h count() by event.action")),
            ("event page", event),
            ("rules page", "/ui/default/rules"),
            ("sources page", "/ui/default/sources"),
        ]
        worst = 0.0
        for name, path in pages:
            if path is None:
                print(f"{name:<40} (nothing to open)", flush=True)
                continue
            body = page(addr, cookie, path)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                page(addr, cookie, path)
                times.append(time.perf_counter() - t)
            p95 = quantile(times, 0.95)
            worst = max(worst, p95)
            rows = body.count("<tr")
            print(f"{name:<40} p50 {statistics.median(times) * 1000:>8.2f} ms   p95 {p95 * 1000:>8.2f} ms"
                  f"   ({len(body)} bytes, {rows} table rows, {args.runs} runs)", flush=True)
        print(f"slowest p95: {worst * 1000:.1f} ms (target < 150 ms)", flush=True)
    return 0 if worst < 0.150 else 1


if __name__ == "__main__":
    sys.exit(main())
