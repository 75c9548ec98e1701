#!/usr/bin/env python3
"""Console page latency (issue 6): p50 and p95 of the pages an analyst
opens most (overview, alert queue, incident list, incident page) with
1,000,000 alerts in the state store, signed in as a console user, over
HTTP on loopback. Every page is rendered in full by the server.

    bench/console.py [--alerts 1000000] [--work bench/work/triage] [--runs 100]

The state is filled by the state crate's example `triage_bench` (as in
bench/triage.py); an existing state.db with enough alerts is reused.
"""
import argparse
import re
import sqlite3
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from serverlib import running_server

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password"


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
        assert resp.status == 200
        return resp.read().decode()


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--work", default=str(ROOT / "bench/work/triage"))
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--bin", default=str(ROOT / "target/release/hinomi"))
    args = ap.parse_args()
    data = Path(args.work) / "data"
    data.mkdir(parents=True, exist_ok=True)
    db = data / "state.db"
    have = 0
    if db.exists():
        have = sqlite3.connect(db).execute("SELECT COUNT(*) FROM alerts WHERE status = 'open'").fetchone()[0]
    if have < args.alerts:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "state", "--example", "triage_bench"], cwd=ROOT, check=True)
        subprocess.run([str(ROOT / "target/release/examples/triage_bench"), str(db), str(args.alerts)], check=True)
    print(f"# bench/console.py --alerts {args.alerts} --runs {args.runs}", flush=True)
    subprocess.run([args.bin, "user", "add", "--data", str(data), "bench-analyst", "--role", "analyst", "--password-stdin"],
                   input=PASSWORD + "\n", text=True, capture_output=True)
    with running_server(args.bin, data) as (addr, _token):
        cookie = login(addr, "bench-analyst")
        queue = page(addr, cookie, "/ui/default/alerts")
        older = re.search(r'href="(/ui/default/alerts\?[^"]*before=[^"]+)"', queue).group(1).replace("&amp;", "&")
        incidents = page(addr, cookie, "/ui/default/incidents")
        first = re.search(r'href="/ui/default/incidents/(\d+)"', incidents).group(1)
        open_alerts = sqlite3.connect(db).execute("SELECT COUNT(*) FROM alerts WHERE status = 'open'").fetchone()[0]
        biggest = sqlite3.connect(db).execute(
            "SELECT id, alert_count FROM incidents ORDER BY alert_count DESC LIMIT 1").fetchone()
        print(f"open alerts: {open_alerts}; largest incident: #{biggest[0]} with {biggest[1]} alerts", flush=True)
        print("(the generated alerts are days old: the overview's 24-hour chart and top rules read an empty window)",
              flush=True)
        for name, path in [
            ("overview (dashboard)", "/ui/default/"),
            ("alert queue, first page", "/ui/default/alerts"),
            ("alert queue, second page", older),
            ("alert queue, high and above", "/ui/default/alerts?min_severity=high"),
            ("alert queue, one rule", "/ui/default/alerts?rule=r7"),
            ("incident list", "/ui/default/incidents"),
            ("incident page, newest", f"/ui/default/incidents/{first}"),
            (f"incident page, {biggest[1]} alerts", f"/ui/default/incidents/{biggest[0]}"),
            ("rules page (per-rule statistics)", "/ui/default/rules"),
        ]:
            body = page(addr, cookie, path)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                page(addr, cookie, path)
                times.append(time.perf_counter() - t)
            print(f"{name:<34} p50 {statistics.median(times) * 1000:>8.2f} ms   p95 {quantile(times, 0.95) * 1000:>8.2f} ms"
                  f"   ({len(body)} bytes, {args.runs} runs)", flush=True)


if __name__ == "__main__":
    main()
