"""Search: events sent with a real client are found through
`POST /api/v1/search` (events, stats, errors, tenants, scopes) and through
`hinomi search` on the same data directory."""
import csv
import io
import json
import subprocess
import urllib.error
import urllib.request
import uuid

from conftest import BIN, Server, wait_for


def search(server, body, token=None):
    """Posts a search; returns (status, lines as JSON)."""
    return search_path(server, "/api/v1/search", body, token or server.read_token)


def rows(server, query, **kw):
    status, lines = search(server, dict(query=query, **kw))
    assert status == 200, lines
    assert "summary" in lines[-1], lines[-1]
    return lines[:-1]


def test_search_api_and_cli(tmp_path):
    # events_journal is left unset (the conftest sets it otherwise): the default.
    server = Server(tmp_path / "data", "# events_journal: default\n[store]\ncommit_interval_ms = 200\n").start()
    try:
        from elasticsearch import Elasticsearch, helpers

        marker = "m" + uuid.uuid4().hex[:12]
        es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=10)
        docs = [
            {"@timestamp": f"2026-11-01T00:0{i}:00Z", "message": f"{marker} login failed", "user": {"name": u},
             "source": {"ip": f"10.0.0.{i}"}, "host": {"name": "web01"}}
            for i, u in enumerate(["alice", "bob", "alice", "carol"])
        ]
        ok, _ = helpers.bulk(es, ({"_index": "logs", "_source": d} for d in docs))
        assert ok == 4
        acme = server.token("ingest", tenant="acme")
        acme_read = server.token("read", tenant="acme")
        es_acme = Elasticsearch(server.http, api_key=acme, request_timeout=10)
        helpers.bulk(es_acme, [{"_index": "logs", "_source": {"message": f"{marker} acme only"}}])

        found = wait_for(lambda: len(rows(server, marker)) == 4 and rows(server, marker), what="indexed events")
        # Newest first, with the raw record and the normalized fields.
        assert [r["source.ip"] for r in found] == ["10.0.0.3", "10.0.0.2", "10.0.0.1", "10.0.0.0"]
        assert marker in found[0]["_raw"] and found[0]["_tenant"] == "default"
        assert rows(server, f"{marker} user.name:ALICE | fields source.ip") == [
            {"source.ip": "10.0.0.2"}, {"source.ip": "10.0.0.0"}]
        assert rows(server, f"{marker} source.ip:10.0.0.0/30 | stats count() by user.name") == [
            {"user.name": "alice", "count()": 2}, {"user.name": "bob", "count()": 1}, {"user.name": "carol", "count()": 1}]
        assert len(rows(server, marker, limit=2)) == 2
        assert rows(server, marker, **{"from": "2026-11-01T00:02:00Z", "to": "2026-11-01T00:03:00Z"})[0]["user.name"] == "alice"

        # A query that does not parse: 400 with the column.
        status, lines = search(server, {"query": "user.name:(alice"})
        assert status == 400 and lines[0]["column"] == 17, lines
        status, lines = search(server, {"query": "x", "from": "yesterday-ish"})
        assert status == 400 and "from" in lines[0]["error"]

        # Tenants and scopes.
        acme_rows = wait_for(lambda: search(server, {"query": marker}, acme_read)[1][:-1], what="acme's event")
        assert [r["_tenant"] for r in acme_rows] == ["acme"]
        assert rows(server, f"{marker} acme") == []
        status, _ = search(server, {"query": marker}, server.ingest_token)
        assert status == 403
        status, _ = search(server, {"query": marker}, "not-a-token")
        assert status in (401, 403)

        # The command line reads the same store while the server runs.
        out = subprocess.run([BIN, "search", "--data", str(server.data), "--format", "jsonl",
                              f"{marker} | stats count() by user.name | sort -count()"],
                             check=True, capture_output=True, text=True)
        assert [json.loads(l) for l in out.stdout.splitlines()][0] == {"user.name": "alice", "count()": 2}
        out = subprocess.run([BIN, "search", "--data", str(server.data), "--format", "csv", "--tenant", "acme", marker],
                             check=True, capture_output=True, text=True)
        table = list(csv.reader(io.StringIO(out.stdout)))
        # A spreadsheet takes a cell starting with @ for a formula: the
        # header is quoted too (column names come from log data).
        assert table[0] == ["'@timestamp", "_source", "_raw"] and marker in table[1][2], table
        out = subprocess.run([BIN, "search", "--data", str(server.data), "user.name:(alice"], capture_output=True, text=True)
        assert out.returncode == 2 and "^" in out.stderr

        # With the store on, events are kept there only: no second copy in
        # the events/ journal by default. The status counts the records.
        assert server.journal("events") == []
        status = server.get("/api/v1/status", server.token("admin"))
        assert status["records"] == 5 and status["lag_bytes"] == 0, status
    finally:
        server.kill()


NEW_RULE = """
title: Retro marker
id: 5e1f0c9a-0000-4000-8000-00000000beef
status: experimental
author: Hinomi tests
level: high
logsource:
    product: linux
detection:
    keywords:
        - '{marker}'
    condition: keywords
"""


def test_retro_hunt_api_runs_a_new_rule_over_history(tmp_path):
    server = Server(tmp_path / "data", "[store]\ncommit_interval_ms = 200\n").start()
    try:
        marker = "r" + uuid.uuid4().hex[:12]
        subprocess.run(["logger", "--tcp", "--rfc5424", "-n", "127.0.0.1", "-P", str(server.port("syslog-tcp")),
                        "-t", "sshd", f"Accepted password for {marker} from 10.9.8.7 port 22 ssh2"], check=True)
        wait_for(lambda: rows(server, marker), what="the event indexed")
        assert not [a for a in server.alerts() if marker in json.dumps(a)], "no stream rule knows the marker"

        admin = server.token("admin")
        status, lines = search_path(server, "/api/v1/hunt", {"rules": NEW_RULE.format(marker=marker), "from": "-1h"}, admin)
        assert status == 200, lines
        assert lines[0]["progress"]["total"] >= 1 and lines[-1]["summary"]["alerts"] == 1, lines
        finding = next(l for l in lines if "rule" in l)
        assert finding["origin"] == "retro-hunt" and finding["rule"]["author"] == "Hinomi tests"
        # The finding is an alert like any other, marked as retro-hunt.
        alert = wait_for(lambda: next((a for a in server.alerts() if a.get("origin") == "retro-hunt"), None))
        assert alert["id"] == finding["id"] and marker in json.dumps(alert["event"])

        status, lines = search_path(server, "/api/v1/hunt", {"rules": "title: [broken"}, admin)
        assert status == 400 and "rule" in lines[0]["error"]
        status, _ = search_path(server, "/api/v1/hunt", {}, server.read_token)
        assert status == 403
    finally:
        server.kill()


def search_path(server, path, body, token):
    """Posts to a JSON-lines endpoint; returns (status, lines as JSON)."""
    req = urllib.request.Request(server.http + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.headers["Content-Type"] == "application/x-ndjson"
            return resp.status, [json.loads(l) for l in resp.read().decode().splitlines()]
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, [json.loads(text)] if text.startswith("{") else [text]
