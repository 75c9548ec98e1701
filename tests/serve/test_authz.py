"""The authorization matrix: every API route, called with a token of
every scope, and with tokens of another tenant. A scope is refused (403)
(401 on the HEC route, as Splunk does) exactly where the table below says so; a token never reads or changes
anything of another tenant (404, or an empty list). The table is written
here by hand from docs/triage.md, not read from the code it checks."""
import hashlib
import json
import subprocess

from conftest import BIN, Server, wait_for
from test_triage import TRIAGE, call, send_scenario

SCOPES = ["ingest", "read", "analyst", "responder", "lead", "admin"]
# Which scopes may call each kind of route.
MAY = {
    "ingest": {"ingest", "admin"},
    "read": {"read", "analyst", "responder", "lead", "admin"},
    "triage": {"analyst", "responder", "lead", "admin"},
    "escalate": {"responder", "lead", "admin"},
    "hunt": {"responder", "lead", "admin"},
    "suppress": {"lead", "admin"},
    "configure": {"lead", "admin"},
    "audit": {"lead", "admin"},
    "operate": {"admin"},
}


def routes(incident, alert):
    """(kind, method, path, body) for every API route."""
    i = f"/api/v1/incidents/{incident}"
    return [
        ("ingest", "POST", "/api/v1/ingest", b'{"message": "authz probe"}\n'),
        ("ingest", "POST", "/_bulk", b'{"index": {}}\n{"message": "authz probe"}\n'),
        ("ingest", "POST", "/services/collector/event", b'{"event": "authz probe"}'),
        ("read", "GET", "/api/v1/detections", None),
        ("read", "GET", "/api/v1/deadletter", None),
        ("read", "GET", "/api/v1/sources", None),
        ("read", "POST", "/api/v1/search", {"query": "authz"}),
        ("read", "GET", "/api/v1/alerts", None),
        ("read", "GET", f"/api/v1/alerts/{alert}", None),
        ("read", "GET", "/api/v1/incidents", None),
        ("read", "GET", i, None),
        ("read", "GET", f"{i}/timeline", None),
        ("read", "GET", f"{i}/escalation", None),
        ("read", "GET", "/api/v1/suppressions", None),
        ("read", "GET", "/api/v1/assets", None),
        ("read", "GET", "/api/v1/rules/stats", None),
        ("read", "GET", "/api/v1/notifications", None),
        ("read", "GET", "/api/v1/deliveries", None),
        ("triage", "POST", f"{i}/notes", {"body": "authz probe"}),
        ("triage", "POST", f"{i}/tasks", {"title": "authz probe"}),
        ("triage", "POST", f"{i}/tasks/1/done", None),
        ("triage", "POST", f"{i}/evidence", {"kind": "file", "ref": "probe"}),
        ("triage", "POST", f"{i}/iocs", {"kind": "domain", "value": "probe.example"}),
        ("triage", "POST", f"{i}/assign", {"version": 1, "assignee": "probe"}),
        ("triage", "POST", f"{i}/status", {"version": 1, "status": "investigating"}),
        ("triage", "POST", f"{i}/edit", {"version": 1, "title": "probe"}),
        ("triage", "POST", f"{i}/waiting", {"version": 1, "waiting": True}),
        ("triage", "POST", f"{i}/merge", {"from": 999999}),
        ("triage", "POST", f"{i}/split", {"alerts": [999999]}),
        ("escalate", "POST", f"{i}/escalate", {"version": 1, "to": "csirt"}),
        ("hunt", "POST", "/api/v1/hunt", {"from": "-1h"}),
        ("suppress", "POST", "/api/v1/suppressions", {"rule": "x", "reason": "probe", "expires": "+1h"}),
        ("configure", "PUT", "/api/v1/assets", []),
        ("configure", "PUT", "/api/v1/sla-policies", {"severity": "low", "acknowledge_minutes": 60, "resolve_minutes": 600}),
        ("audit", "GET", "/api/v1/audit", None),
        ("operate", "GET", "/api/v1/status", None),
    ]


def test_every_route_every_scope_every_tenant(tmp_path):
    server = Server(tmp_path / "data", "[store]\ncommit_interval_ms = 200\n", rules=TRIAGE / "rules").start()
    try:
        send_scenario(server)
        incidents = wait_for(lambda: call(server, "GET", "/api/v1/incidents", server.read_token)[1]["incidents"],
                             what="an incident")
        incident = incidents[0]["id"]
        alert = call(server, "GET", "/api/v1/alerts", server.read_token)[1]["alerts"][0]["id"]
        mine = {s: server.token(s) for s in SCOPES}
        theirs = {s: server.token(s, tenant="acme") for s in SCOPES}
        table = routes(incident, alert)
        assert len(table) >= 34
        for kind, method, path, body in table:
            for scope in SCOPES:
                status, answer = call(server, method, path, mine[scope], body)
                if scope in MAY[kind]:
                    assert status not in (401, 403), (scope, method, path, status, answer)
                else:
                    # HEC answers a refused token the way Splunk does: 401 with its code.
                    assert status in (401, 403), (scope, method, path, status, answer)
        # Another tenant's tokens: refused by scope as above, and where the
        # scope allows the call, nothing of the default tenant is reached.
        for kind, method, path, body in table:
            for scope in SCOPES:
                status, answer = call(server, method, path, theirs[scope], body)
                if scope not in MAY[kind]:
                    assert status in (401, 403), (scope, method, path, status)
                elif f"/{incident}" in path or f"/alerts/{alert}" in path:
                    assert status == 404, ("acme", scope, method, path, status, answer)
        for path, key in [("/api/v1/incidents?status=all", "incidents"), ("/api/v1/alerts?status=all", "alerts"),
                          ("/api/v1/detections", "detections")]:
            assert call(server, "GET", path, theirs["read"])[1][key] == [], path
        # Nothing the other tenant did landed on the default tenant's incident.
        log = call(server, "GET", f"/api/v1/incidents/{incident}/timeline", server.read_token)[1]
        actors = {e["actor"] for e in log if e["kind"] == "action"}
        acme_ids = set()
        for line in (server.data / "tokens.jsonl").read_text().splitlines():
            record = json.loads(line)
            if record["tenant"] == "acme":
                acme_ids.add(record["id"])
        assert not actors & acme_ids, actors

        # A revoked token stops working at once; the revocation is audited.
        token_id = hashlib.sha256(theirs["admin"].encode()).hexdigest()[:12]
        assert call(server, "GET", "/api/v1/alerts", theirs["admin"])[0] == 200
        subprocess.run([BIN, "token", "revoke", "--data", str(server.data), "--as", "lead", token_id], check=True)
        assert call(server, "GET", "/api/v1/alerts", theirs["admin"])[0] == 403
        assert call(server, "GET", "/api/v1/alerts", theirs["read"])[0] == 200
        audit = subprocess.run([BIN, "audit", "list", "--data", str(server.data), "--tenant", "acme", "--format", "jsonl"],
                               check=True, capture_output=True, text=True).stdout
        actions = [json.loads(l)["action"] for l in audit.splitlines() if l.strip()]
        assert actions.count("token_create") == len(SCOPES) and actions[-1] == "token_revoke", actions
        # The API shows a tenant its own trail only.
        mine_trail = call(server, "GET", "/api/v1/audit", mine["lead"])[1]["entries"]
        assert mine_trail and all(e["tenant"] == "default" for e in mine_trail)
        acme_trail = call(server, "GET", "/api/v1/audit", theirs["lead"])[1]["entries"]
        assert [e["action"] for e in acme_trail] == actions
    finally:
        server.kill()
