#!/usr/bin/env python3
"""Correlation benchmark (issue 7): events/s of `hinomi hunt` with the full
SigmaHQ rule set alone, and with Hinomi's rule pack plus 50 generated
correlation rules beside it, on the same generated Windows Security
events; and memory per 100,000 active correlation groups.

    bench/correlation.py [--events 500000] [--runs 3] [--sigma ../shared/sigma]

Events: logons, failures, special privileges and logoffs of 2,000 people on
500 hosts over a day, with brute forces and sprays sprinkled in. The 50
correlations are every type over the pack's building blocks, with
different groupings and windows. Figures are medians of --runs runs; the
machine is noisy, so compare the two rows of one run.
"""
import argparse
import json
import random
import re
import resource
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def events(path, n):
    rnd = random.Random(7)
    start = 1_795_000_000
    with open(path, "w") as f:
        for i in range(n):
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * 86_400 // n))
            user = f"user{rnd.randrange(2000):04d}"
            host = f"WS-{rnd.randrange(500):03d}.corp.example"
            kind = rnd.random()
            e = {"EventTime": t, "Channel": "Security", "Computer": host, "Provider_Name": "Microsoft-Windows-Security-Auditing"}
            if kind < 0.55:
                e.update(EventID=4624, LogonType=rnd.choice([2, 3, 3, 5, 10]), TargetUserName=user,
                         IpAddress=f"10.{rnd.randrange(4)}.{rnd.randrange(250)}.{rnd.randrange(250)}")
            elif kind < 0.70:
                e.update(EventID=4625, LogonType=3, TargetUserName=user if rnd.random() < 0.9 else f"user{rnd.randrange(30):04d}",
                         IpAddress=f"203.0.113.{rnd.randrange(40)}", Status="0xc000006d")
            elif kind < 0.85:
                e.update(EventID=4672, SubjectUserName=rnd.choice([user, host.split(".")[0] + "$"]))
            else:
                e.update(EventID=4634, TargetUserName=user)
            f.write(json.dumps(e) + "\n")


def correlations(path):
    blocks = ["hinomi_failed_logon", "hinomi_failed_network_logon", "hinomi_network_logon", "hinomi_admin_privileges"]
    groups = [["TargetUserName"], ["IpAddress"], ["Computer"], ["TargetUserName", "Computer"]]
    spans = ["1m", "5m", "15m", "1h"]
    # Thresholds a SOC would set: they fire now and then, not on every event.
    docs = []
    for i in range(50):
        kind = ["event_count", "value_count", "temporal", "temporal_ordered", "value_sum"][i % 5]
        block = blocks[i % len(blocks)]
        c = {"type": kind, "group-by": groups[(i // 5) % len(groups)], "timespan": spans[(i // 3) % len(spans)]}
        if kind == "event_count":
            c.update(rules=[block], condition={"gte": 200 + i})
        elif kind == "value_count":
            c.update(rules=[block], condition={"field": "Computer" if "Computer" not in c["group-by"] else "IpAddress", "gte": 50 + i})
        elif kind == "value_sum":
            c.update(rules=[block], condition={"field": "LogonType", "gt": 2000 + i})
        else:
            c.update(rules=["hinomi_failed_network_logon", "hinomi_admin_privileges"], timespan="1m",
                     **{"group-by": ["TargetUserName", "Computer"]})
        docs.append({"title": f"Bench correlation {i}", "id": f"00000000-bench-0000-0000-{i:012d}", "level": "low",
                     "author": "Hinomi bench", "correlation": c})
    path.write_text("---\n".join(json.dumps(d) + "\n" for d in docs))


def hunt(binary, events_file, rule_dirs):
    args = [binary, "hunt", str(events_file), "--format", "jsonl"]
    for r in rule_dirs:
        args += ["--rules", str(r)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m = re.search(r"; ([0-9.]+)s, ([0-9]+) events/s", done.stderr)
    dets = re.search(r"(\d+) detections", done.stderr)
    return float(m.group(2)), int(dets.group(1)), max(rss, before)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sigma", default=str(ROOT / "../shared/sigma"))
    ap.add_argument("--bin", default=str(ROOT / "target/release/hinomi"))
    args = ap.parse_args()
    work = ROOT / "bench/work/correlation"
    work.mkdir(parents=True, exist_ok=True)
    ev = work / f"events-{args.events}.jsonl"
    if not ev.exists():
        events(ev, args.events)
    corr_dir = work / "rules50"
    corr_dir.mkdir(exist_ok=True)
    correlations(corr_dir / "bench_correlations.yml")
    sigma = Path(args.sigma) / "rules"
    print(f"# bench/correlation.py --events {args.events} --runs {args.runs}", flush=True)
    rows = [("SigmaHQ rules only", [sigma]),
            ("SigmaHQ + rule pack + 50 correlations", [sigma, ROOT / "rules/hinomi", corr_dir])]
    for name, dirs in rows:
        results = [hunt(args.bin, ev, dirs) for _ in range(args.runs)]
        eps = statistics.median(r[0] for r in results)
        print(f"{name:<40} {eps:>9.0f} events/s (median of {args.runs})  detections {results[0][1]:>7}  "
              f"peak RSS of the runs so far {results[-1][2] // 1024} MiB", flush=True)
    for kind in ["event_count", "value_count", "temporal_ordered", "value_sum"]:
        out = subprocess.run(["cargo", "run", "-q", "--release", "-p", "correlate", "--example", "group_memory", "100000", kind],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        print(out, flush=True)


if __name__ == "__main__":
    main()
