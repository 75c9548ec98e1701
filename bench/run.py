#!/usr/bin/env python3
"""Detection throughput: Hinomi side by side with rsigma 0.23, same rules and events.

    bench/run.py [--events 1000000] [--runs 3] [--rsigma PATH]

Builds (into bench/work, not committed):
  - the full SigmaHQ rule set from ../shared/sigma in one directory (rsigma takes one --rules path);
  - the regression events (every event of the SigmaHQ regression samples, flattened to the
    field names Sigma uses) and a generated set of N events of the same shape: each is a copy
    of a random regression event whose process, file and registry values are, 9 times in 10,
    replaced by benign values, with fresh host names and ids.
Both engines read the same flat NDJSON, so neither routes by log source: every rule is tried
on every event. Hinomi additionally runs on the regression events in their EVTX-JSON form,
routed by log source (its normal mode).

Timed runs write their output to /dev/null, so that the disk is not what is measured (Hinomi's
jsonl carries the whole event, several GB here); one more, untimed, run of each writes the
output that the match counts come from.

Single thread: one process over all events. All threads: Hinomi with one worker per core over
the events split in files; rsigma as one process per core over the same split (it has no
threads of its own for `eval`). Wall time and peak RSS from /usr/bin/time; medians of --runs.
"""

import argparse
import glob
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", "work")
SIGMA = os.environ.get("HINOMI_SIGMA_DIR", os.path.join(ROOT, "..", "shared", "sigma"))
FOLDERS = ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"]


def flatten_windows(obj):
    """The evtx_dump JSON layout flattened to Sigma field names (as Hinomi's normalizer does)."""
    ev = obj["Event"]
    out = {}
    for k, v in ev.get("System", {}).items():
        if isinstance(v, dict):
            for ak, av in (v.get("#attributes") or {}).items():
                out[f"{k}_{ak}"] = av
            if "#text" in v:
                out[k] = v["#text"]
        else:
            out[k] = v
    data = ev.get("EventData") or {}
    if isinstance(data, dict):
        for k, v in data.items():
            if k != "#attributes" and not isinstance(v, dict):
                out[k.replace(" ", "")] = v
    return out


def regression_events():
    raw, flat = [], []
    dec = json.JSONDecoder()
    for path in sorted(glob.glob(os.path.join(SIGMA, "regression_data", "**", "*.json"), recursive=True)):
        text = open(path, encoding="utf-8").read()
        i = 0
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            obj, i = dec.raw_decode(text, i)
            raw.append(obj)
            flat.append(flatten_windows(obj))
    return raw, flat


BENIGN_IMAGES = [
    "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe", "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
    "C:\\Windows\\System32\\SearchIndexer.exe", "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
    "C:\\Windows\\System32\\backgroundTaskHost.exe", "C:\\Windows\\System32\\RuntimeBroker.exe",
]
BENIGN_CMDS = [
    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\" -contentproc",
    "C:\\Windows\\Explorer.EXE", "\"C:\\Windows\\System32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe1",
    "backgroundTaskHost.exe -ServerName:BackgroundTaskHost.WebAccountProvider",
]
BENIGN_FILES = ["C:\\Users\\alice\\AppData\\Local\\Temp\\tmp{n}.tmp", "C:\\ProgramData\\Microsoft\\Windows\\WER\\Temp\\r{n}.xml"]
BENIGN_KEYS = ["HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Explorer\\Cache\\{n}", "HKU\\S-1-5-21-1\\Software\\App\\Setting{n}"]


def generate(flat, n, rng, benign=0.9):
    for i in range(n):
        ev = dict(rng.choice(flat))
        ev["Computer"] = f"ws{rng.randrange(500):03d}.corp.example"
        ev["EventRecordID"] = i + 1
        if "ProcessId" in ev:
            ev["ProcessId"] = rng.randrange(100, 60000)
        if rng.random() < benign:
            for f in ("Image", "ParentImage", "SourceImage", "TargetImage"):
                if f in ev:
                    ev[f] = rng.choice(BENIGN_IMAGES)
            for f in ("CommandLine", "ParentCommandLine"):
                if f in ev:
                    ev[f] = rng.choice(BENIGN_CMDS)
            if "TargetFilename" in ev:
                ev["TargetFilename"] = rng.choice(BENIGN_FILES).format(n=rng.randrange(10**6))
            if "TargetObject" in ev:
                ev["TargetObject"] = rng.choice(BENIGN_KEYS).format(n=rng.randrange(10**6))
            for f in ("ImageLoaded", "OriginalFileName", "Details", "PipeName", "QueryName", "ScriptBlockText"):
                if f in ev:
                    ev[f] = f"benign-{rng.randrange(1000)}"
        yield ev


def write_jsonl(path, events):
    with open(path, "w", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


def timed(cmd, out_path=None):
    """Runs cmd; returns (wall seconds, peak RSS MiB, stdout path)."""
    with tempfile.NamedTemporaryFile("w+", delete=False) as tf:
        tname = tf.name
    out = open(out_path or os.devnull, "w")
    subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tname] + cmd, stdout=out, stderr=subprocess.DEVNULL, check=True)
    out.close()
    wall, rss = open(tname).read().split()[-2:]
    os.unlink(tname)
    return float(wall), int(rss) / 1024


def timed_parallel(cmds, out_paths):
    """Runs cmds at once; returns (wall seconds, summed peak RSS MiB)."""
    import time
    start = time.monotonic()
    procs = []
    for cmd, op in zip(cmds, out_paths):
        tf = tempfile.NamedTemporaryFile("w+", delete=False)
        tf.close()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%e %M", "-o", tf.name] + cmd, stdout=open(op, "w"), stderr=subprocess.DEVNULL)
        procs.append((p, tf.name))
    rss = 0.0
    for p, name in procs:
        if p.wait() != 0:
            sys.exit(f"command failed: {p.args}")
        rss += int(open(name).read().split()[-1]) / 1024
        os.unlink(name)
    return time.monotonic() - start, rss


def count_hinomi(path):
    per_rule = {}
    for line in open(path, encoding="utf-8"):
        rid = json.loads(line)["rule_id"]
        per_rule[rid] = per_rule.get(rid, 0) + 1
    return per_rule


def count_rsigma(path):
    per_rule = {}
    for line in open(path, encoding="utf-8"):
        if line.startswith("{"):
            rid = json.loads(line).get("rule_id")
            if rid:
                per_rule[rid] = per_rule.get(rid, 0) + 1
    return per_rule


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rsigma", default=os.path.join(WORK, "tools", "bin", "rsigma"))
    ap.add_argument("--hinomi", default=os.path.join(ROOT, "target", "release", "hinomi"))
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    os.makedirs(WORK, exist_ok=True)

    rules = os.path.join(WORK, "rules")
    if not os.path.isdir(rules):
        for folder in FOLDERS:
            shutil.copytree(os.path.join(SIGMA, folder), os.path.join(rules, folder))

    raw, flat = regression_events()
    sets = {}
    reg = os.path.join(WORK, "regression.jsonl")
    write_jsonl(reg, flat)
    sets["regression"] = ([reg], len(flat))
    big_dir = os.path.join(WORK, f"generated-{args.events}")
    parts = sorted(glob.glob(os.path.join(big_dir, "part-*.jsonl")))
    if len(parts) != cores * 4:
        shutil.rmtree(big_dir, ignore_errors=True)
        os.makedirs(big_dir)
        rng = random.Random(7)
        gen = generate(flat, args.events, rng)
        per = args.events // (cores * 4)
        parts = []
        for p in range(cores * 4):
            path = os.path.join(big_dir, f"part-{p:02d}.jsonl")
            count = per if p < cores * 4 - 1 else args.events - per * (cores * 4 - 1)
            write_jsonl(path, (next(gen) for _ in range(count)))
            parts.append(path)
    sets["generated"] = (parts, args.events)
    routed = os.path.join(WORK, "regression-evtxjson.jsonl")
    write_jsonl(routed, raw)

    print(f"machine: {cores} cores; rules: full SigmaHQ snapshot ({', '.join(FOLDERS)}); median of {args.runs} runs")
    print(f"{'events':<22}{'engine':<10}{'threads':>8}{'wall s':>10}{'events/s':>12}{'peak MiB':>10}{'matches':>10}")
    rows = []
    for name, (files, n) in sets.items():
        results = {}
        for threads in (1, cores):
            # Hinomi: one process, N workers over the files.
            out = os.path.join(WORK, f"hinomi-{name}-{threads}.jsonl")
            cmd = [args.hinomi, "hunt", *files, "--rules", rules, "--format", "jsonl", "-j", str(threads)]
            runs = [timed(cmd) for _ in range(args.runs)]
            timed(cmd, out)
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            h = count_hinomi(out)
            os.unlink(out)
            results[("hinomi", threads)] = (wall, rss, h)
            # rsigma: `eval` is single-threaded; N processes over the split files.
            groups = [files[i::threads] for i in range(threads)]
            cat_files = []
            for gi, g in enumerate(groups):
                cat = os.path.join(WORK, f"rsigma-in-{name}-{threads}-{gi}.jsonl")
                if not os.path.exists(cat):
                    with open(cat, "w") as o:
                        for f in g:
                            o.write(open(f).read())
                cat_files.append(cat)
            outs = [os.path.join(WORK, f"rsigma-{name}-{threads}-{gi}.out") for gi in range(threads)]
            cmds = [[args.rsigma, "engine", "eval", "--rules", rules, "--event", "@" + c] for c in cat_files]
            rruns = [timed_parallel(cmds, [os.devnull] * len(cmds)) for _ in range(args.runs)]
            timed_parallel(cmds, outs)
            rwall = statistics.median(r[0] for r in rruns)
            rrss = max(r[1] for r in rruns)
            r = {}
            for o in outs:
                for k, v in count_rsigma(o).items():
                    r[k] = r.get(k, 0) + v
                os.unlink(o)
            results[("rsigma", threads)] = (rwall, rrss, r)
            for engine in ("hinomi", "rsigma"):
                wall, rss, counts = results[(engine, threads)]
                print(f"{name + f' ({n})':<22}{engine:<10}{threads:>8}{wall:>10.2f}{n / wall:>12.0f}{rss:>10.0f}{sum(counts.values()):>10}")
                rows.append((name, engine, threads, wall, n / wall, rss, sum(counts.values())))
        h, r = results[("hinomi", 1)][2], results[("rsigma", 1)][2]
        diff = {k: (h.get(k, 0), r.get(k, 0)) for k in set(h) | set(r) if h.get(k, 0) != r.get(k, 0)}
        print(f"  {name}: rules with different match counts: {len(diff)}")
        for k, (a, b) in sorted(diff.items())[:15]:
            print(f"    {k}: hinomi {a}, rsigma {b}")
        for threads in (1, cores):
            ratio = results[("rsigma", threads)][0] / results[("hinomi", threads)][0]
            print(f"  {name}: hinomi/rsigma speed ratio at {threads} thread(s): {ratio:.2f}x")
    out = os.path.join(WORK, "hinomi-routed.jsonl")
    runs = [timed([args.hinomi, "hunt", routed, "--rules", rules, "--format", "jsonl", "-j", "1"], out) for _ in range(args.runs)]
    print(f"regression events in EVTX-JSON form, routed by log source (hinomi only): {statistics.median(r[0] for r in runs):.2f}s, {sum(count_hinomi(out).values())} matches")


if __name__ == "__main__":
    main()
