#!/usr/bin/env python3
"""Peak memory of `hinomi serve` for one large ingest request, as a multiple of the body.

    bench/body_memory.py BIN ROUTE MIB      e.g. bench/body_memory.py target/release/hinomi /_bulk 95

Starts a server (event store off, so indexing does not add its own memory) with the serve tests'
marker rules, waits a second, then posts one generated body of MIB MiB (JSON documents of ~360
bytes: NDJSON for /api/v1/ingest, action and document pairs for /_bulk) and samples the
server's RSS every 10 ms until a second after the answer. Prints the peak over the RSS before the
request, and that as a multiple of the body size. Generated data; one request at a time.
"""
import json, os, subprocess, sys, time, http.client, threading, tempfile, gzip
BIN = sys.argv[1]; route = sys.argv[2]; mib = int(sys.argv[3])
data = tempfile.mkdtemp(prefix="mem-")
cfg = data + ".toml"
open(cfg, "w").write('[http]\nlisten = ["127.0.0.1:0"]\nmax_body = "200 MiB"\n[store]\nenabled = false\n')
p = subprocess.Popen([BIN, "serve", "--data", data, "--config", cfg, "--rules", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "serve", "rules")], stderr=open(data + ".log", "w"))
lj = os.path.join(data, "run", "listeners.json")
while not (os.path.exists(lj) and os.path.getsize(lj)): time.sleep(0.1)
addr = next(b["address"] for b in json.load(open(lj)) if b["protocol"] == "http")
tok = subprocess.run([BIN, "token", "create", "--data", data, "--scope", "ingest"], capture_output=True, text=True).stdout.strip()
doc = json.dumps({"message": "x" * 300, "host": {"name": "h1"}, "user": {"name": "alice"}, "n": 1})
if route == "/_bulk":
    line = '{"index":{"_index":"x"}}\n' + doc + "\n"
else:
    line = doc + "\n"
body = (line * (mib * 2**20 // len(line))).encode()
def rss(k):
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(k): return int(l.split()[1]) / 1024
time.sleep(1)
base = rss("VmRSS:")
peak = [base]
stop = threading.Event()
def watch():
    while not stop.is_set():
        peak[0] = max(peak[0], rss("VmRSS:")); time.sleep(0.01)
threading.Thread(target=watch, daemon=True).start()
host, port = addr.rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), timeout=600)
c.request("POST", route, body=body, headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"})
r = c.getresponse(); r.read()
time.sleep(1); stop.set()
print(f"{route} body {len(body)/2**20:.0f} MiB -> {r.status}; rss base {base:.0f} peak {peak[0]:.0f} MiB: +{peak[0]-base:.0f} MiB = {(peak[0]-base)/(len(body)/2**20):.2f}x")
p.terminate(); p.wait()
import shutil  # noqa: E402
shutil.rmtree(data, ignore_errors=True)
