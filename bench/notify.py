#!/usr/bin/env python3
"""Notifications through the outbox (issue 21): how many mails per second
reach a real SMTP server (aiosmtpd, on loopback) when many incidents open
at once, and how long from a triggering event's arrival to its incident's
first mail (p50, p99), with the rest of the pipeline running: ingest over
`_bulk`, detection, triage, the outbox, SMTP.

    target/pyenv/bin/python bench/notify.py [--binary target/release/hinomi]
        [--incidents 2000] [--samples 100] [--work bench/work/notify]

Phase 1 sends --incidents failed logons of distinct accounts on distinct
hosts in one `_bulk` request: each opens an incident and makes one mail;
the rate is mails over the time from the first mail to the last. Phase 2
sends --samples single events one at a time, 0.5 s apart, each for a new
account, and times each from the request's answer (the event is accepted)
to its mail at the SMTP server.
"""
import argparse
import email
import json
import shutil
import socket
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serverlib import running_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "crates/hinomi/tests/data/triage/rules"


class Box:
    def __init__(self):
        self.arrived = {}  # account -> monotonic time of the first mail about it
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        now = time.monotonic()
        msg = email.message_from_bytes(envelope.content)
        body = msg.get_payload(decode=True).decode(errors="replace")
        account = next((w for w in body.split() if w.startswith("bench-")), None)
        with self.lock:
            self.count += 1
            if account and account not in self.arrived:
                self.arrived[account] = now
        return "250 OK"


def event(account, host, n):
    """A failed logon; account, host and source address all its own, so
    that triage makes each its own incident."""
    ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    return {"EventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "Channel": "Security",
            "Computer": f"{host}.corp.example", "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "EventID": 4625, "LogonType": 3, "TargetUserName": account, "IpAddress": ip,
            "Status": "0xc000006d"}


def bulk(addr, token, docs):
    body = "".join(json.dumps({"index": {"_index": "winlogbeat"}}) + "\n" + json.dumps(d) + "\n" for d in docs)
    req = urllib.request.Request(f"http://{addr}/_bulk", data=body.encode(), method="POST")
    req.add_header("Authorization", f"ApiKey {token}")
    req.add_header("Content-Type", "application/x-ndjson")
    with urllib.request.urlopen(req, timeout=120) as resp:
        answer = json.loads(resp.read())
        assert not answer.get("errors"), answer


def wait(predicate, timeout, what, box=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    got = f" ({len(box.arrived)} accounts mailed, {box.count} mails)" if box else ""
    raise SystemExit(f"timed out waiting for {what}{got}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "target/release/hinomi"))
    ap.add_argument("--incidents", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--work", default=str(ROOT / "bench/work/notify"))
    a = ap.parse_args()
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    data = work / "data"
    data.mkdir(parents=True)
    box = Box()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(box, hostname="127.0.0.1", port=port)
    smtp.start()
    ingest = __import__("subprocess").run(
        [a.binary, "token", "create", "--data", str(data), "--scope", "ingest"],
        check=True, capture_output=True, text=True).stdout.strip()
    config = f"""
[engine]
rule_alerts = 1000000
[notify]
[[notify.channels]]
name = "mail"
kind = "email"
server = "127.0.0.1:{port}"
from = "hinomi@soc.example"
to = ["soc@soc.example"]
starttls = "never"
[[notify.routes]]
channels = ["mail"]
triggers = ["incident_opened"]
"""
    try:
        with running_server(a.binary, data, config, args=["--rules", str(RULES)]) as (addr, _read):
            # Phase 1: many incidents at once.
            docs = [event(f"bench-{i:06d}", f"ws-{i:06d}", i) for i in range(a.incidents)]
            sent = time.monotonic()
            bulk(addr, ingest, docs)
            wait(lambda: len(box.arrived) >= a.incidents, 600, f"{a.incidents} mails", box)
            times = sorted(box.arrived.values())
            first, last = times[0], times[-1]
            rate = (len(times) - 1) / (last - first) if last > first else float("inf")
            print(f"# bench/notify.py --incidents {a.incidents} --samples {a.samples}")
            print(f"throughput: {a.incidents} incidents opened by one _bulk request -> {box.count} mails")
            print(f"  first mail {first - sent:.2f} s after the request, last {last - sent:.2f} s after")
            print(f"  {rate:.0f} mails/s through the outbox (first to last mail)")
            # Phase 2: one event at a time, its first mail timed.
            latencies = []
            for i in range(a.samples):
                account = f"bench-lat-{i:04d}"
                bulk(addr, ingest, [event(account, f"lat-{i:04d}", 100_000 + i)])
                accepted = time.monotonic()
                wait(lambda: account in box.arrived, 60, f"the mail for {account}")
                latencies.append(box.arrived[account] - accepted)
                time.sleep(0.5)
            latencies.sort()
            p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
            print(f"latency: event accepted -> first mail at the SMTP server, {len(latencies)} samples")
            print(f"  p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p(0.99) * 1000:.0f} ms, "
                  f"max {latencies[-1] * 1000:.0f} ms")
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
