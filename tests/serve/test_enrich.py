"""Geolocation at ingest: `[enrich] geoip` with a MaxMind-format database
(crates/geo/tests/data/test-city.mmdb, written by an independent writer,
scripts/geo-test-db.py). Sign-ins sent with the Elasticsearch client gain
their country, the rule pack's impossible travel fires on them, and the
search API finds them by country."""
import json
import signal
import subprocess
import urllib.request

from conftest import BIN, ROOT, Server, wait_for

DB = ROOT / "crates/geo/tests/data/test-city.mmdb"
PACK = ROOT / "rules/hinomi"


def signin(ip, minute):
    return {"@timestamp": f"2026-11-20T01:{minute:02d}:00Z", "event.category": "authentication",
            "event.outcome": "success", "user.name": "alice", "source.ip": ip}


def search(server, query):
    body = json.dumps({"query": query}).encode()
    req = urllib.request.Request(server.http + "/api/v1/search", data=body, method="POST")
    req.add_header("Authorization", f"Bearer {server.read_token}")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        lines = [json.loads(l) for l in resp.read().decode().splitlines() if l.strip()]
    return [l for l in lines if "_id" in l]


def test_signins_are_placed_and_impossible_travel_fires(tmp_path):
    from elasticsearch import Elasticsearch, helpers

    server = Server(tmp_path / "data", f'[enrich]\ngeoip = "{DB}"\n', rules=PACK).start()
    try:
        es = Elasticsearch(server.http, api_key=server.ingest_token)
        # Tokyo, then fifty minutes later an address in the United States.
        actions = [{"_index": "signin", "_source": signin(ip, minute)} for ip, minute in
                   [("198.51.100.7", 0), ("203.0.113.5", 50)]]
        assert helpers.bulk(es, actions) == (2, [])
        alert = wait_for(lambda: next((a for a in server.alerts() if a["rule"]["title"] == "Impossible Travel"), None),
                         what="the impossible travel alert")
        assert alert["event"]["user.name"] == "alice"
        assert alert["event"]["correlation.value"] == 2
        events = wait_for(lambda: len(server.events()) == 2 and server.events(), what="both events")
        placed = sorted((e["fields"]["source.geo.country_iso_code"], e["fields"].get("source.geo.city_name"))
                        for e in events)
        assert placed == [("JP", "Tokyo"), ("US", None)]
        rows = wait_for(lambda: search(server, "source.geo.country_name:Japan"), what="the search")
        assert [r["source.ip"] for r in rows] == ["198.51.100.7"]
        assert "geolocation from" in server.log.read_text()
    finally:
        server.kill(signal.SIGTERM)


def test_a_database_that_does_not_open_stops_the_start_and_says_why(tmp_path):
    bad = tmp_path / "GeoLite2-City.mmdb"
    bad.write_text("not a database\n")
    config = tmp_path / "hinomi.toml"
    config.write_text(f'[http]\nlisten = ["127.0.0.1:0"]\n[enrich]\ngeoip = "{bad}"\n')
    out = subprocess.run([BIN, "serve", "--data", str(tmp_path / "data"), "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert str(bad) in out.stderr and "not a MaxMind database" in out.stderr, out.stderr
    missing = tmp_path / "missing.mmdb"
    config.write_text(f'[http]\nlisten = ["127.0.0.1:0"]\n[enrich]\ngeoip = "{missing}"\n')
    out = subprocess.run([BIN, "serve", "--data", str(tmp_path / "data"), "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and f"reading the geolocation database {missing}" in out.stderr, out.stderr
