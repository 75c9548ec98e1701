"""Per-rule rate limits through a running server: a rule that matches a
flood raises its limit of alerts and one that says it is limited; the rest
are counted (rules statistics, status), and every event is still stored and
searchable. Another tenant's alerts from the same rule are not held back."""
import json

from conftest import Server, wait_for
from test_http_clients import winlogbeat_doc
from test_search import rows
from test_triage import call

LIMIT = 5
FLOOD = 60
RULE = "6f1f2f0e-4d7a-4c52-9c55-5b1c8f2a0002"


def bulk(server, token, markers):
    body = "".join(
        json.dumps({"index": {"_index": "winlogbeat"}}) + "\n" + json.dumps(winlogbeat_doc(m)) + "\n" for m in markers
    )
    status, answer = call(server, "POST", "/_bulk", token, body.encode(), "application/x-ndjson")
    assert status == 200 and not answer["errors"], answer


def test_a_flooding_rule_is_limited_and_counted_and_its_events_kept(tmp_path):
    config = f'[engine]\nrule_alerts = {LIMIT}\nrule_window = "1h"\n[store]\ncommit_interval = "200ms"\n'
    server = Server(tmp_path / "data", config).start()
    try:
        bulk(server, server.ingest_token, [f"hinomi-cmd-marker-flood-{i}" for i in range(FLOOD)])
        other_ingest, other_read = server.token("ingest", "acme"), server.token("read", "acme")
        bulk(server, other_ingest, ["hinomi-cmd-marker-acme-0", "hinomi-cmd-marker-acme-1"])

        # Every event is stored and searchable, limited or not.
        found = wait_for(lambda: len(rows(server, "hinomi-cmd-marker-flood-*", limit=1000)) == FLOOD and True,
                         what="every flooded event searchable")
        assert found
        stats = wait_for(lambda: (s := call(server, "GET", "/api/v1/rules/stats", server.read_token)[1])
                         and s["rate_limited"] and s, what="the rate limit counted")
        assert [(r["rule_id"], r["suppressed"]) for r in stats["rate_limited"]] == [(RULE, FLOOD - LIMIT)]

        detections = wait_for(lambda: len(d := server.alerts()) == LIMIT + 1 and d, what="the limit and one notice")
        kinds = [d["kind"] for d in detections]
        assert kinds == ["sigma"] * LIMIT + ["rate_limit"], kinds
        notice = detections[-1]
        assert notice["limited_rule"]["id"] == RULE and "rule" not in notice
        assert f"raised {LIMIT} alerts within 3600 s" in notice["title"], notice["title"]

        # The other tenant's matches of the same rule are its own.
        theirs = wait_for(lambda: len(d := server.alerts(other_read)) == 2 and d, what="the other tenant's alerts")
        assert {d["kind"] for d in theirs} == {"sigma"}
        assert call(server, "GET", "/api/v1/rules/stats", other_read)[1]["rate_limited"] == []

        # Operators see it across tenants in the status.
        status = server.get("/api/v1/status", server.token("admin"))
        assert [(r["tenant"], r["suppressed"]) for r in status["rate_limited"]] == [("default", FLOOD - LIMIT)]

        # Triage keeps the notice apart from the rule's own alerts.
        def alert_rules():
            listed = call(server, "GET", "/api/v1/alerts?limit=500", server.read_token)[1]["alerts"]
            return sorted({a["rule_id"] for a in listed}) if len(listed) >= 2 else None
        assert wait_for(alert_rules, what="triaged alerts") == sorted({RULE, "hinomi.rate_limit"})
    finally:
        server.kill()
