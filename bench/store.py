#!/usr/bin/env python3
"""Event store benchmark (issue 4): index N generated events of realistic
shape (Windows, syslog, firewall, web proxy) with `hinomi import`, then
measure the store on disk against the raw NDJSON and `zstd -3` of it,
needle queries against `rg` over the raw file, and aggregations.

    bench/store.py --events 10000000 [--work bench/work/store] [--runs 5]

Needs `zstd` and `rg` (ripgrep) on the PATH (`apt-get install zstd ripgrep`).
Times are medians of --runs runs, warm page cache for both sides.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path

from serverlib import request, running_server

ROOT = Path(__file__).resolve().parents[1]
NEEDLE_IP = "10.77.12.34"
NEEDLE_USER = "zz-needle-user"
DAYS = 10


# The text Windows renders for an event, as NXLog's im_msvistalog sends it in
# `Message` (Winlogbeat's `message` is the same text). Written for this
# benchmark after the layout of the Security and Sysmon messages: a header
# line, then the event's data as tab-indented label/value pairs.
SECURITY_TEXT = {
    4624: ("An account was successfully logged on.",
           [("Subject", ["Security ID:\tS-1-5-18", "Account Name:\t{HOST}$", "Account Domain:\tCORP", "Logon ID:\t0x3E7"]),
            ("Logon Information", ["Logon Type:\t{LogonType}", "Restricted Admin Mode:\t-", "Virtual Account:\tNo",
                                   "Elevated Token:\tYes"]),
            ("Impersonation Level", ["Impersonation"]),
            ("New Logon", ["Security ID:\tS-1-5-21-1004336348-1177238915-682003330-{rid}", "Account Name:\t{TargetUserName}",
                           "Account Domain:\tCORP", "Logon ID:\t{TargetLogonId}", "Linked Logon ID:\t0x0",
                           "Network Account Name:\t-", "Network Account Domain:\t-",
                           "Logon GUID:\t{{00000000-0000-0000-0000-000000000000}}"]),
            ("Process Information", ["Process ID:\t0x2b4", "Process Name:\tC:\\Windows\\System32\\lsass.exe"]),
            ("Network Information", ["Workstation Name:\t{WorkstationName}", "Source Network Address:\t{IpAddress}",
                                     "Source Port:\t0"]),
            ("Detailed Authentication Information", ["Logon Process:\tKerberos", "Authentication Package:\tKerberos",
                                                     "Transited Services:\t-", "Package Name (NTLM only):\t-",
                                                     "Key Length:\t0"])],
           "This event is generated when a logon session is created. It is generated on the computer that was accessed."),
    4625: ("An account failed to log on.",
           [("Subject", ["Security ID:\tS-1-0-0", "Account Name:\t-", "Account Domain:\t-", "Logon ID:\t0x0"]),
            ("Logon Type", ["{LogonType}"]),
            ("Account For Which Logon Failed", ["Security ID:\tS-1-0-0", "Account Name:\t{TargetUserName}",
                                                "Account Domain:\tCORP"]),
            ("Failure Information", ["Failure Reason:\tUnknown user name or bad password.", "Status:\t0xC000006D",
                                     "Sub Status:\t0xC000006A"]),
            ("Process Information", ["Caller Process ID:\t0x0", "Caller Process Name:\t-"]),
            ("Network Information", ["Workstation Name:\t{WorkstationName}", "Source Network Address:\t{IpAddress}",
                                     "Source Port:\t0"]),
            ("Detailed Authentication Information", ["Logon Process:\tNtLmSsp", "Authentication Package:\tNTLM",
                                                     "Transited Services:\t-", "Package Name (NTLM only):\t-",
                                                     "Key Length:\t0"])],
           "This event is generated when a logon request fails. It is generated on the computer where access was attempted."),
    4672: ("Special privileges assigned to new logon.",
           [("Subject", ["Security ID:\tS-1-5-21-1004336348-1177238915-682003330-{rid}", "Account Name:\t{TargetUserName}",
                         "Account Domain:\tCORP", "Logon ID:\t{TargetLogonId}"]),
            ("Privileges", ["SeSecurityPrivilege", "SeBackupPrivilege", "SeRestorePrivilege", "SeTakeOwnershipPrivilege",
                            "SeDebugPrivilege", "SeSystemEnvironmentPrivilege", "SeLoadDriverPrivilege",
                            "SeImpersonatePrivilege", "SeDelegateSessionUserImpersonatePrivilege"])],
           ""),
    4688: ("A new process has been created.",
           [("Creator Subject", ["Security ID:\tS-1-5-21-1004336348-1177238915-682003330-{rid}",
                                 "Account Name:\t{TargetUserName}", "Account Domain:\tCORP", "Logon ID:\t{TargetLogonId}"]),
            ("Target Subject", ["Security ID:\tS-1-0-0", "Account Name:\t-", "Account Domain:\t-", "Logon ID:\t0x0"]),
            ("Process Information", ["New Process ID:\t0x{pid:x}", "New Process Name:\t{NewProcessName}",
                                     "Token Elevation Type:\t%%1938", "Mandatory Label:\tMandatory Label\\Medium Mandatory Level",
                                     "Creator Process ID:\t0x{ppid:x}", "Creator Process Name:\tC:\\Windows\\explorer.exe",
                                     "Process Command Line:\t"])],
           "Token Elevation Type indicates the type of token that was assigned to the new process in accordance with "
           "User Account Control policy."),
}
SYSMON_HEADER = {1: "Process Create:", 3: "Network connection detected:", 11: "File created:"}


def security_message(doc, rng):
    header, sections, footer = SECURITY_TEXT[doc["EventID"]]
    values = dict(doc, HOST=doc["WorkstationName"], rid=1000 + zlib.crc32(doc["TargetUserName"].encode()) % 9000,
                  pid=rng.randrange(0x100, 0x8000), ppid=rng.randrange(0x100, 0x8000))
    out = [header, ""]
    for title, lines in sections:
        out.append(f"{title}:")
        out.extend("\t" + line.format(**values) for line in lines)
        out.append("")
    if footer:
        out.append(footer)
    return "\r\n".join(out)


def sysmon_message(doc):
    skip = {"EventTime", "Hostname", "Channel", "EventID", "ProviderName"}
    return "\r\n".join([SYSMON_HEADER[doc["EventID"]], "RuleName: -"] +
                        [f"{k}: {v}" for k, v in doc.items() if k not in skip])


def nxlog_envelope(doc, i, received):
    """The fields NXLog's im_msvistalog adds to every Windows event."""
    security = doc["Channel"] == "Security"
    doc.update({"EventType": "AUDIT_SUCCESS" if security and doc["EventID"] != 4625 else
                ("AUDIT_FAILURE" if security else "INFO"),
                "SeverityValue": 2, "Severity": "INFO",
                "SourceName": doc["ProviderName"],
                "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}" if security else
                "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
                "Version": 2 if security else 5, "Task": 12544 if security else doc["EventID"], "OpcodeValue": 0,
                "RecordNumber": 1_000_000 + i, "ExecutionProcessID": 716 if security else 3308,
                "ExecutionThreadID": 1000 + i % 4000,
                "Domain": "NT AUTHORITY", "AccountName": "SYSTEM", "UserID": "S-1-5-18", "AccountType": "User",
                "Category": "Logon" if security else "Process Create (rule: ProcessCreate)", "Opcode": "Info",
                "EventReceivedTime": received, "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog"})


def generate(path, n, seed=7, windows="full", start=1_793_491_200):
    """Writes n JSON lines: 40% Windows (Sysmon and Security), 25% syslog
    as a shipper sends it, 20% firewall, 15% web proxy, over DAYS days, with
    a few hundred hosts and users; NEEDLE_IP and NEEDLE_USER occur ~50 times.
    Windows events are as NXLog sends them, with the rendered `Message` and
    NXLog's envelope (`windows="full"`), or their data fields alone
    (`"compact"`, the shape measured before 2026-11-23). The events start at
    `start` (seconds; 2026-11-01T00:00:00Z unless told)."""
    rng = random.Random(seed)
    hosts = [f"ws-{i:04d}" for i in range(300)] + [f"srv-{i:03d}" for i in range(60)]
    users = [f"user{i:04d}" for i in range(800)] + ["administrator", "svc_backup", "svc_sql"]
    domains = ["example.com", "office365.com", "github.com", "pypi.org", "windowsupdate.com", "slack.com",
               "zoom.us", "salesforce.com", "cdn.jsdelivr.net", "googleapis.com"] + [f"site{i}.net" for i in range(400)]
    images = ["C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\explorer.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
              "C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
              "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "C:\\Windows\\System32\\RuntimeBroker.exe",
              "C:\\Windows\\System32\\conhost.exe", "C:\\Windows\\System32\\taskhostw.exe", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe"]
    cmds = ["{img} -k netsvcs -p -s Schedule", "\"{img}\"", "{img} /c echo ok > nul", "{img} -NoProfile -Command Get-Date",
            "\"{img}\" --type=renderer --field-trial-handle={n}", "{img} -Embedding"]
    span = DAYS * 86400
    needle_every = max(n // 50, 1)
    guids = [f"{{{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4a5b-{rng.getrandbits(16):04x}-{rng.getrandbits(48):012x}}}"
             for _ in range(20000)]

    def ts(i):
        t = start + (i * span) // n + rng.random()
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e6):06d}Z"

    # Each host keeps its address; remote peers and destinations are drawn
    # from pools with a long tail (a few are very common, most are rare).
    host_ip = {h: f"10.{rng.randrange(1, 40)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for h in hosts}
    peers = [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(5000)]
    dests = [f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(20000)]
    zipf = lambda pool: list(__import__("itertools").accumulate(1.0 / (k + 1) for k in range(len(pool))))
    peer_w, dest_w = zipf(peers), zipf(dests)

    def ip10():
        return host_ip[host]

    with open(path, "w") as f:
        for i in range(n):
            needle = i % needle_every == needle_every // 2
            r = rng.random()
            host = rng.choice(hosts)
            peer = rng.choices(peers, cum_weights=peer_w)[0]
            dest = rng.choices(dests, cum_weights=dest_w)[0]
            user = NEEDLE_USER if needle and (i // needle_every) % 2 else rng.choice(users)
            src = NEEDLE_IP if needle else ip10()
            if r < 0.40:
                img = rng.choice(images)
                eid = rng.choice([1, 1, 1, 3, 3, 11, 4624, 4625, 4688, 4672])
                if eid in (4624, 4625, 4688, 4672):
                    doc = {"EventTime": ts(i), "Hostname": f"{host}.corp.example", "Channel": "Security", "EventID": eid,
                           "ProviderName": "Microsoft-Windows-Security-Auditing", "TargetUserName": user,
                           "TargetDomainName": "CORP", "LogonType": rng.choice([2, 3, 10]), "IpAddress": src,
                           "TargetLogonId": f"0x{rng.getrandbits(24):x}", "WorkstationName": host.upper(),
                           "NewProcessName": img if eid == 4688 else None, "Keywords": "0x8020000000000000"}
                    doc = {k: v for k, v in doc.items() if v is not None}
                else:
                    doc = {"EventTime": ts(i), "Hostname": f"{host}.corp.example", "Channel": "Microsoft-Windows-Sysmon/Operational",
                           "EventID": eid, "ProviderName": "Microsoft-Windows-Sysmon", "UtcTime": ts(i)[:-1].replace("T", " "),
                           "ProcessGuid": rng.choice(guids), "ProcessId": rng.randrange(400, 30000), "Image": img,
                           "User": f"CORP\\{user}"}
                    if eid == 1:
                        doc.update({"CommandLine": rng.choice(cmds).format(img=img, n=rng.randrange(100)),
                                    "CurrentDirectory": "C:\\Windows\\system32\\", "IntegrityLevel": "Medium",
                                    "Hashes": "SHA256=" + "%064x" % rng.getrandbits(256) if rng.random() < 0.05 else
                                    "SHA256=4D89FC34D5F0F9BABD022271C585A9477BF41E834E46B991DEAA0530FDB25E22",
                                    "ParentProcessGuid": rng.choice(guids), "ParentImage": "C:\\Windows\\explorer.exe"})
                    elif eid == 3:
                        doc.update({"Protocol": "tcp", "Initiated": "true", "SourceIp": src, "SourcePort": rng.randrange(49152, 65535),
                                    "DestinationIp": dest,
                                    "DestinationPort": rng.choice([443, 443, 80, 53, 445])})
                    else:
                        doc.update({"TargetFilename": f"C:\\Users\\{user}\\AppData\\Local\\Temp\\tmp{rng.randrange(10**5)}.tmp"})
                if windows == "full":
                    doc["Message"] = security_message(doc, rng) if doc["Channel"] == "Security" else sysmon_message(doc)
                    nxlog_envelope(doc, i, doc["EventTime"][:19].replace("T", " "))
            elif r < 0.65:
                t = ts(i)
                msg = rng.choice([
                    f"Accepted publickey for {user} from {src} port {rng.randrange(1024, 65535)} ssh2",
                    f"Failed password for {user} from {NEEDLE_IP if needle else peer} port {rng.randrange(1024, 65535)} ssh2",
                    f"pam_unix(sudo:session): session opened for user root by {user}(uid=0)",
                    f"({user}) CMD (/usr/local/bin/backup.sh --quick)",
                    f"Started Session {rng.randrange(10**5)} of user {user}.",
                ])
                doc = {"@timestamp": t, "host": {"name": host}, "log": {"syslog": {"appname": "sshd"}},
                       "message": f"<38>{t} {host} sshd[{rng.randrange(100, 60000)}]: {msg}"}
            elif r < 0.85:
                doc = {"@timestamp": ts(i), "observer": {"product": "PAN-OS", "vendor": "Palo Alto Networks", "hostname": "fw-edge-01"},
                       "event": {"action": rng.choice(["allow", "allow", "allow", "deny"])},
                       "source": {"ip": src, "port": rng.randrange(1024, 65535)},
                       "destination": {"ip": dest, "port": rng.choice([443, 443, 80, 53, 22, 3389, 8080])},
                       "network": {"transport": rng.choice(["tcp", "tcp", "udp"]), "bytes": rng.randrange(60, 10**6)},
                       "rule": {"name": rng.choice(["allow-web", "allow-dns", "deny-all", "allow-vpn"])}}
            else:
                d = rng.choice(domains)
                doc = {"@timestamp": ts(i), "observer": {"product": "squid"}, "user": {"name": user}, "source": {"ip": src},
                       "url": {"original": f"https://{d}/{rng.choice(['', 'api/v2/', 'static/js/', 'login'])}{rng.randrange(1000)}",
                               "domain": d},
                       "http": {"request": {"method": rng.choice(["GET", "GET", "POST"])},
                                "response": {"status_code": rng.choice([200, 200, 200, 304, 404, 403])}},
                       "user_agent": {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0 Safari/537.36"},
                       "event": {"action": rng.choice(["allowed", "allowed", "blocked"])}, "bytes": rng.randrange(200, 10**6)}
            f.write(json.dumps(doc, separators=(",", ":")))
            f.write("\n")
            if i % 1_000_000 == 0 and i:
                print(f"  generated {i:,}", file=sys.stderr)


def timed(cmd, runs, **kw):
    """Median wall time of `cmd` over `runs` runs (after one warm-up run), and its last output."""
    subprocess.run(cmd, capture_output=True, **kw)
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, **kw)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def du(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def api_timings(args, data):
    """The same searches through `POST /api/v1/search` of a running server
    (partitions already open, as an analyst's console sees it)."""
    with running_server(args.bin, data) as (addr, token):
        def post(q):
            return request(addr, token, "/api/v1/search", {"query": q, "limit": 10000}).splitlines()

        out = {}
        for name, q in [("API needle ip (field)", f"source.ip:{NEEDLE_IP}"), ("API needle ip (word)", NEEDLE_IP),
                        ("API needle user (field)", f"user.name:{NEEDLE_USER}"), ("API needle user (word)", NEEDLE_USER),
                        ("API stats count() by host.name", "| stats count() by host.name")]:
            post(q)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                lines = post(q)
                times.append(time.perf_counter() - t)
            out[name] = (statistics.median(times), len(lines) - 1)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--work", default=str(ROOT / "bench/work/store"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=str(ROOT / "target/release/hinomi"))
    ap.add_argument("--keep", action="store_true", help="reuse generated events and the indexed store")
    ap.add_argument("--windows", choices=["full", "compact"], default="full",
                    help="Windows events as NXLog sends them (full) or their data fields alone (compact)")
    args = ap.parse_args()
    for tool in ("zstd", "rg"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install zstd ripgrep)")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.windows == "full" else "-compact"
    raw = work / f"events-{args.events}{suffix}.ndjson"
    data = work / f"data-{args.events}{suffix}"
    if not (args.keep and raw.exists()):
        print(f"generating {args.events:,} events", file=sys.stderr)
        generate(raw, args.events, windows=args.windows)
    raw_bytes = raw.stat().st_size
    t = time.perf_counter()
    zst = subprocess.run(f"zstd -3 -T1 -c {raw} | wc -c", shell=True, capture_output=True, text=True, check=True)
    zstd_secs = time.perf_counter() - t
    zstd_bytes = int(zst.stdout)

    if not (args.keep and data.exists()):
        shutil.rmtree(data, ignore_errors=True)
        t = time.perf_counter()
        subprocess.run([args.bin, "import", "--data", str(data), str(raw)], check=True, stderr=subprocess.DEVNULL)
        index_secs = time.perf_counter() - t
    else:
        index_secs = float("nan")
    store_bytes = du(data / "store")

    s = lambda q, extra=(): [args.bin, "search", "--data", str(data), "--format", "jsonl", "--limit", "10000", *extra, q]
    results = {}
    for name, cmd in [
        ("needle ip (field)", s(f"source.ip:{NEEDLE_IP}")),
        ("needle ip (word)", s(NEEDLE_IP)),
        ("needle user (field)", s(f"user.name:{NEEDLE_USER}")),
        ("needle user (word)", s(NEEDLE_USER)),
        ("stats count() by host.name", s("| stats count() by host.name")),
        ("stats deny by source.ip top 10", s("event.action:deny | stats count() by source.ip | sort -count() | head 10")),
        ("timechart span=1h count()", s("| timechart span=1h count()")),
        ("rg needle ip", ["rg", "-c", "-F", NEEDLE_IP, str(raw)]),
        ("rg needle user", ["rg", "-c", "-F", NEEDLE_USER, str(raw)]),
    ]:
        secs, out = timed(cmd, args.runs)
        lines = out.stdout.strip().splitlines()
        results[name] = (secs, len(lines) if not name.startswith("rg") else int(lines[0] if lines else 0))

    api = api_timings(args, data)

    print(f"# bench/store.py --events {args.events} --runs {args.runs} --windows {args.windows}, "
          f"{os.uname().nodename}, {os.cpu_count()} cores")
    print(f"raw NDJSON          {raw_bytes / 2**20:10.1f} MiB")
    print(f"zstd -3 of raw      {zstd_bytes / 2**20:10.1f} MiB  ({raw_bytes / zstd_bytes:.1f}x, {zstd_secs:.1f}s single thread)")
    print(f"hinomi store        {store_bytes / 2**20:10.1f} MiB  ({store_bytes / zstd_bytes:.2f}x zstd -3, 1/{raw_bytes / store_bytes:.1f} of raw)")
    print(f"indexing (import)   {index_secs:10.1f} s    ({args.events / index_secs:,.0f} events/s end to end: log, normalize, index)")
    for name, (secs, n) in results.items():
        print(f"{name:<34} {secs * 1000:9.1f} ms  ({n} lines)")
    for name, (secs, n) in api.items():
        print(f"{name:<34} {secs * 1000:9.1f} ms  ({n} rows)")
    rg_ip, rg_user = results["rg needle ip"][0], results["rg needle user"][0]
    print(f"needle ip via API: {rg_ip / api['API needle ip (field)'][0]:.0f}x faster than rg (field), "
          f"{rg_ip / api['API needle ip (word)'][0]:.0f}x (word); "
          f"user: {rg_user / api['API needle user (field)'][0]:.0f}x (field), {rg_user / api['API needle user (word)'][0]:.0f}x (word)")
    print(f"needle ip: {rg_ip / results['needle ip (field)'][0]:.0f}x faster than rg (field), "
          f"{rg_ip / results['needle ip (word)'][0]:.0f}x (word)")
    print(f"needle user: {rg_user / results['needle user (field)'][0]:.0f}x faster than rg (field), "
          f"{rg_user / results['needle user (word)'][0]:.0f}x (word)")


if __name__ == "__main__":
    main()
