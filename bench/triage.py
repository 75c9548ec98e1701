#!/usr/bin/env python3
"""Triage benchmark (issue 5): the detections per second triage sustains
with deduplication, grouping and risk at N open alerts, and the latency
of the alert and incident queue queries at that size, directly and
through the API of a running server.

    bench/triage.py [--alerts 1000000] [--work bench/work/triage] [--runs 50]

The fill and the direct figures come from the store crate's example
`triage_bench` (SQLite, the embedded default); the API figures are
medians of --runs GET requests against `hinomi serve` on the same data.
"""
import argparse
import statistics
import subprocess
import time
from pathlib import Path

from serverlib import request, running_server

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--work", default=str(ROOT / "bench/work/triage"))
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--bin", default=str(ROOT / "target/release/hinomi"))
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "state", "--example", "triage_bench"], cwd=ROOT, check=True)
    data = Path(args.work) / "data"
    data.mkdir(parents=True, exist_ok=True)
    print(f"# bench/triage.py --alerts {args.alerts} --runs {args.runs}", flush=True)
    subprocess.run([str(ROOT / "target/release/examples/triage_bench"), str(data / "state.db"), str(args.alerts)], check=True)
    with running_server(args.bin, data) as (addr, token):
        for name, path in [
            ("API alert queue, first page of 50", "/api/v1/alerts?limit=50"),
            ("API alert queue, high and above", "/api/v1/alerts?limit=50&min_severity=high"),
            ("API alert queue, one rule", "/api/v1/alerts?limit=50&rule=r7"),
            ("API incident queue, first page", "/api/v1/incidents?limit=50"),
        ]:
            request(addr, token, path)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                body = request(addr, token, path)
                times.append(time.perf_counter() - t)
            print(f"{name:<36} {statistics.median(times) * 1000:>8.2f} ms  ({len(body)} bytes, median of {args.runs})", flush=True)


if __name__ == "__main__":
    main()
