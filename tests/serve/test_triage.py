"""Triage through a running server: Windows events sent with the Python
Elasticsearch client become deduplicated alerts grouped into incidents,
which analysts work through `/api/v1/incidents` (versions, tenants,
scopes, the CSIRT hand-off), and nothing is triaged twice after a crash."""
import json
import pathlib
import signal
import urllib.error
import urllib.request

from conftest import Server, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
TRIAGE = ROOT / "crates/hinomi/tests/data/triage"


def call(server, method, path, token, body=None, content_type="application/json"):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(server.http + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if resp.headers.get_content_type() == "application/json" else raw.decode())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode()


def send_scenario(server):
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=10)
    docs = [json.loads(l) for l in (TRIAGE / "scenario.jsonl").read_text().splitlines() if l.strip()]
    ok, _ = helpers.bulk(es, ({"_index": "winlogbeat", "_source": d} for d in docs))
    assert ok == len(docs)


def test_incidents_through_the_api(tmp_path):
    config = "[triage]\nsla_check_seconds = 1\n[store]\ncommit_interval_ms = 200\n"
    server = Server(tmp_path / "data", config, rules=TRIAGE / "rules").start()
    try:
        admin = server.token("admin")
        send_scenario(server)
        incidents = wait_for(
            lambda: (l := call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"]) and len(l) == 2 and l,
            what="two incidents")
        alice = next(i for i in incidents if any(e["value"] == "alice" for e in i["entities"]))
        assert (alice["severity"], alice["alert_count"], alice["status"]) == ("high", 3, "new")
        status, detail = call(server, "GET", f"/api/v1/incidents/{alice['id']}", server.read_token)
        assert status == 200 and len(detail["alerts"]) == 3
        assert {a["title"]: a["count"] for a in detail["alerts"]}["Failed Logon"] == 8
        # The timeline has the alerts and, from the event store, their evidence events.
        def events_in_timeline():
            t = call(server, "GET", f"/api/v1/incidents/{alice['id']}/timeline", server.read_token)[1]
            return len([e for e in t if e["kind"] == "event"]) == 10 and t
        timeline = wait_for(events_in_timeline, what="evidence events in the timeline")
        assert [e["kind"] for e in timeline if e["kind"] != "action"][:2] == ["alert", "event"]
        evidence = {i for a in detail["alerts"] for i in a["evidence"]}
        assert {e["data"]["_id"] for e in timeline if e["kind"] == "event"} == evidence
        assert all(e["data"]["user.name"] == "alice" for e in timeline if e["kind"] == "event")

        # Reading is not changing; another tenant sees nothing.
        path = f"/api/v1/incidents/{alice['id']}/status"
        assert call(server, "POST", path, server.read_token, {"version": alice["version"], "status": "acknowledged"})[0] == 403
        other = server.token("read", tenant="acme")
        assert call(server, "GET", "/api/v1/incidents", other)[1]["incidents"] == []
        assert call(server, "GET", f"/api/v1/incidents/{alice['id']}", other)[0] == 404

        # Two analysts on one version: the second is told, not overwritten.
        v = alice["version"]
        status, after = call(server, "POST", path, admin, {"version": v, "status": "investigating"})
        assert status == 200 and after["status"] == "investigating" and after["acknowledged"]
        status, conflict = call(server, "POST", f"/api/v1/incidents/{alice['id']}/assign", admin, {"version": v, "assignee": "frank"})
        assert status == 409 and conflict["version"] == after["version"], conflict
        status, _ = call(server, "POST", path, admin, {"version": after["version"], "status": "closed"})
        assert status == 400, "closing needs a disposition"
        assert call(server, "POST", f"/api/v1/incidents/{alice['id']}/notes", admin, {"body": "Reset the password."})[0] == 200

        # SLA policy and asset inventory per tenant.
        policy = {"severity": "high", "acknowledge_minutes": 15, "resolve_minutes": 240, "calendar": {"always": True}}
        assert call(server, "PUT", "/api/v1/sla-policies", admin, policy)[0] == 200
        sla = call(server, "GET", f"/api/v1/incidents/{alice['id']}", server.read_token)[1]["sla"]
        assert sla["acknowledge"]["state"] == "met" and sla["resolve"]["state"] == "running", sla
        csv = b"kind,match,criticality,owner,business_unit\nhost,ws-042*,critical,IT,HQ\n"
        assert call(server, "PUT", "/api/v1/assets", admin, csv, "text/csv")[1] == {"assets": 1}
        assert call(server, "PUT", "/api/v1/assets", admin, b"kind,match\n", "text/csv")[0] == 400

        # The hand-off package, as data and as a page.
        cur = call(server, "GET", f"/api/v1/incidents/{alice['id']}", server.read_token)[1]["incident"]
        status, pkg = call(server, "POST", f"/api/v1/incidents/{alice['id']}/escalate", admin,
                           {"version": cur["version"], "to": "csirt@example.org"})
        assert status == 200 and pkg["incident"]["escalated_to"] == "csirt@example.org"
        assert pkg["scope"]["users"] == ["alice"] and len(pkg["timeline"]) >= 3
        status, page = call(server, "GET", f"/api/v1/incidents/{alice['id']}/escalation?format=html", server.read_token)
        assert status == 200 and "csirt@example.org" in page and "Failed Logon" in page
        # Served from the console's origin, so with the console's headers.
        req = urllib.request.Request(server.http + f"/api/v1/incidents/{alice['id']}/escalation?format=html")
        req.add_header("Authorization", f"Bearer {server.read_token}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            h = resp.headers
        assert (h["X-Frame-Options"], h["X-Content-Type-Options"], h["Cache-Control"]) == ("DENY", "nosniff", "no-store")
        assert "script-src" not in h["Content-Security-Policy"] and "default-src 'none'" in h["Content-Security-Policy"]

        cur = call(server, "GET", f"/api/v1/incidents/{alice['id']}", server.read_token)[1]["incident"]
        status, closed = call(server, "POST", path, admin, {"version": cur["version"], "status": "closed", "disposition": "true_positive"})
        assert status == 200 and closed["disposition"] == "true_positive"
        stats = {r["title"]: r for r in call(server, "GET", "/api/v1/rules/stats", server.read_token)[1]["rules"]}
        assert stats["Special Privileges Assigned"]["true_positive"] == 1

        # A suppression, then a crash: nothing is triaged twice on restart.
        status, _ = call(server, "POST", "/api/v1/suppressions", admin,
                         {"rule": "*", "conditions": {"user": "carol"}, "reason": "pentest", "expires": "+7d"})
        assert status == 200
        assert call(server, "POST", "/api/v1/suppressions", admin, {"rule": "*", "reason": "x", "expires": "+1d"})[0] == 400
        before = call(server, "GET", "/api/v1/alerts?status=all&limit=1000", server.read_token)[1]["alerts"]
        server.kill(signal.SIGKILL)
        server.start()
        send_scenario(server)
        def counted():
            alerts = call(server, "GET", "/api/v1/alerts?status=all&limit=1000", server.read_token)[1]["alerts"]
            total = sum(a["count"] for a in alerts)
            return total == sum(a["count"] for a in before) + 11 and alerts
        after = wait_for(counted, what="the second batch triaged once")
        carol = [a for a in after if any(e["value"] == "carol" for e in a["entities"])]
        assert {a["status"]: a["count"] for a in carol} == {"open": 1, "suppressed": 1}
        # Alice's repeat came after her incident was closed: new alerts, a new incident.
        assert sorted(a["status"] for a in after if a["title"] == "Failed Logon" and a["count"] == 8) == ["closed", "open"]
        assert len(call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"]) == 2
    finally:
        server.kill()
