"""`hinomi import`: EVTX, CloudTrail `.json.gz` and a syslog file, straight
into a data directory and into a running server."""
import gzip
import json
import pathlib
import subprocess

from conftest import BIN, RULES, ROOT, Server, wait_for

SIGMA = pathlib.Path(__import__("os").environ.get("HINOMI_SIGMA_DIR", ROOT.parent / "shared" / "sigma"))


def make_inputs(dir):
    dir.mkdir()
    trail = {
        "Records": [
            {
                "eventVersion": "1.08",
                "eventTime": "2026-11-22T08:00:00Z",
                "eventSource": "iam.amazonaws.com",
                "eventName": name,
                "awsRegion": "us-east-1",
                "sourceIPAddress": "198.51.100.1",
                "userIdentity": {"type": "IAMUser", "userName": "alice"},
            }
            for name in ["CreateAccessKey", "ListUsers", "GetUser"]
        ]
    }
    with gzip.open(dir / "trail.json.gz", "wt") as f:
        json.dump(trail, f)
    (dir / "auth.log").write_text(
        "Nov 22 10:00:01 bastion sshd[1]: Failed password for root from 203.0.113.5 port 2222 ssh2\n"
        "Nov 22 10:00:02 bastion sudo: alice : hinomi-marker USER=root ; COMMAND=/bin/sh\n"
    )
    evtx = sorted(SIGMA.glob("regression_data/**/*.evtx"))[0]
    (dir / "sample.evtx").write_bytes(evtx.read_bytes())
    return dir


def stored(data):
    """The events of a data directory as `hinomi search` reads them back,
    in the journal's shape (`fields`, `log_source`)."""
    out = subprocess.run([BIN, "search", "--data", str(data), "--format", "jsonl", "--limit", "1000", ""],
                         capture_output=True, text=True, check=True)
    rows = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    return [{"fields": {k: v for k, v in r.items() if not k.startswith("_") and k != "@timestamp"},
             "log_source": r["_logsource"]} for r in rows]


def check(events, alerts):
    trail = [e for e in events if e["fields"].get("eventSource") == "iam.amazonaws.com"]
    assert len(trail) == 3
    assert all(e["log_source"] == ["aws/*/cloudtrail"] for e in trail)
    assert trail[0]["fields"]["user.name"] == "alice"
    syslog = [e for e in events if e["fields"].get("host.name") == "bastion"]
    assert len(syslog) == 2
    windows = [e for e in events if "EventID" in e["fields"]]
    assert windows and all(any(s.startswith("windows/") for s in e["log_source"]) for e in windows)
    titles = sorted(a["rule"]["title"] for a in alerts)
    assert titles == ["Hinomi test CloudTrail access key creation", "Hinomi test marker in a log line"], titles


def test_import_into_a_data_directory(tmp_path):
    inputs = make_inputs(tmp_path / "in")
    data = tmp_path / "data"
    out = subprocess.run(
        [BIN, "import", "--data", str(data), "--rules", str(RULES), str(inputs)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "2 alerts" in out.stderr
    server = Server(data)
    # Like the server's, an import keeps events in the store only.
    assert server.journal("events") == []
    check(stored(data), server.journal("alerts"))


def test_import_into_a_running_server(tmp_path):
    inputs = make_inputs(tmp_path / "in")
    server = Server(tmp_path / "data").start()
    try:
        # The server holds the data directory: a direct import must refuse.
        direct = subprocess.run([BIN, "import", "--data", str(server.data), str(inputs)], capture_output=True, text=True)
        assert direct.returncode != 0 and "in use by another hinomi process" in direct.stderr
        out = subprocess.run(
            [BIN, "import", "--server", server.http, "--token", server.ingest_token, str(inputs)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        wait_for(lambda: len(server.alerts()) == 2, what="two alerts")
        check(server.events(), server.alerts())
        bad = subprocess.run(
            [BIN, "import", "--server", server.http, "--token", "hinomi_wrong", str(inputs)], capture_output=True, text=True
        )
        assert bad.returncode != 0 and "refused the token" in bad.stderr
    finally:
        server.kill()
