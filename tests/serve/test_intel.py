"""Threat intelligence through a running server and real peers: the OASIS
reference TAXII 2.1 server (medallion) serves a collection that `hinomi serve`
polls; events that carry its indicators raise alerts with the indicator's
confidence and TLP; an indicator past its validity stops matching and one the
collection revokes is removed on the next poll. Feeds that hang, answer 500,
are truncated or hold patterns Hinomi cannot match are reported on the feed
with the reason, and matching goes on with what is loaded. Bundles written
with the `stix2` package and a MISP feed import with `hinomi intel import`."""
import base64
import datetime
import http.server
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import stix2

from conftest import BIN, Server, wait_for
from test_triage import call

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
TAXII = "application/taxii+json;version=2.1"
PASSWORD = "medallion-test-secret"
MISP_FEED = pathlib.Path(__file__).resolve().parents[2] / "crates/intel/test_data/misp"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Medallion:
    """medallion on a loopback port, its memory backend holding one empty
    collection that tests write to over TAXII."""

    def __init__(self, tmp):
        self.port = free_port()
        root = f"http://127.0.0.1:{self.port}/api1/"
        data = {
            "/discovery": {"title": "Hinomi test", "default": root, "api_roots": [root]},
            "api1": {
                "information": {"title": "api1", "versions": [TAXII], "max_content_length": 10_000_000},
                "status": [],
                "collections": [{
                    "id": COLLECTION, "title": "indicators", "can_read": True, "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": [],
                }],
            },
        }
        (tmp / "medallion-data.json").write_text(json.dumps(data))
        config = {
            "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                        "filename": str(tmp / "medallion-data.json")},
            "users": {"hinomi": PASSWORD},
            # Small pages, so that a poll pages through `next`.
            "taxii": {"max_page_size": 2},
        }
        (tmp / "medallion.json").write_text(json.dumps(config))
        exe = os.path.join(os.path.dirname(sys.executable), "medallion")
        self.log = open(tmp / "medallion.log", "wb")
        self.proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(self.port), str(tmp / "medallion.json")],
                                     stdout=self.log, stderr=self.log)
        self.collection = f"{root}collections/{COLLECTION}/"
        wait_for(lambda: self.request("GET", "objects/") is not None, 30, "medallion to answer")

    def request(self, method, path, body=None):
        req = urllib.request.Request(self.collection + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("Authorization", "Basic " + base64.b64encode(f"hinomi:{PASSWORD}".encode()).decode())
        req.add_header("Accept", TAXII)
        if body is not None:
            req.add_header("Content-Type", TAXII)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def add(self, *objects):
        status = self.request("POST", "objects/", {"objects": [json.loads(o.serialize()) for o in objects]})
        assert status["success_count"] == len(objects), status

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def hanging_port():
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    return listener, held


class Fails(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"upstream database unavailable"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def feeds(server):
    out = subprocess.run([BIN, "intel", "feeds", "--data", str(server.data), "--format", "jsonl"],
                         check=True, capture_output=True, text=True).stdout
    return {f["name"]: f for f in map(json.loads, out.splitlines())}


def send(server, docs):
    body = "".join(json.dumps({"index": {"_index": "netflow"}}) + "\n" + json.dumps(d) + "\n" for d in docs)
    status, answer = call(server, "POST", "/_bulk", server.ingest_token, body.encode(), "application/x-ndjson")
    assert status == 200 and not answer["errors"], answer


def intel_alerts(server):
    return [d for d in server.alerts() if d["kind"] == "intel"]


def indicators_loaded(server):
    return server.get("/api/v1/status", server.admin)["indicators"]


def test_taxii_poll_matching_expiry_revocation_and_bad_feeds(tmp_path):
    taxii = Medallion(tmp_path)
    hang, held = hanging_port()
    fails = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fails)
    threading.Thread(target=fails.serve_forever, daemon=True).start()
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "id": "indi')
    mixed = tmp_path / "mixed.json"
    good = stix2.Indicator(name="good one", pattern="[ipv4-addr:value = '198.51.100.66']", pattern_type="stix",
                           valid_from="2026-01-01T00:00:00Z")
    odd = stix2.Indicator(name="process", pattern="[process:name = 'evil.exe']", pattern_type="stix",
                          valid_from="2026-01-01T00:00:00Z")
    mixed.write_text(stix2.Bundle(good, odd).serialize())
    server = None
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        c2 = stix2.Indicator(name="C2 server", pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix",
                             valid_from=now - datetime.timedelta(days=1), confidence=85,
                             object_marking_refs=[stix2.TLP_AMBER])
        soon = now + datetime.timedelta(seconds=30)
        phish = stix2.Indicator(name="Phishing domain", pattern="[domain-name:value = 'login-taxii.example']",
                                pattern_type="stix", valid_from=now - datetime.timedelta(days=1),
                                valid_until=soon, confidence=40, object_marking_refs=[stix2.TLP_GREEN])
        dropper = stix2.Indicator(name="Dropper host", pattern="[ipv4-addr:value = '198.51.100.9']",
                                  pattern_type="stix", valid_from=now - datetime.timedelta(days=1), confidence=70,
                                  object_marking_refs=[stix2.TLP_RED])
        hashes = stix2.Indicator(name="Loader", pattern="[file:hashes.'SHA-256' = "
                                 "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
                                 pattern_type="stix", valid_from=now - datetime.timedelta(days=1), confidence=90)
        taxii.add(c2, phish, dropper, hashes)

        config = f"""
[[intel.feeds]]
name = "taxii"
url = "{taxii.collection}"
format = "taxii"
every = "1s"
user = "hinomi"
password_env = "HINOMI_TEST_TAXII_PASSWORD"
[[intel.feeds]]
name = "hangs"
url = "http://127.0.0.1:{hang.getsockname()[1]}/bundle.json"
format = "stix"
every = "2s"
timeout = "1s"
[[intel.feeds]]
name = "fails"
url = "http://127.0.0.1:{fails.server_address[1]}/bundle.json"
format = "stix"
every = "2s"
[[intel.feeds]]
name = "truncated"
url = "{truncated}"
format = "stix"
[[intel.feeds]]
name = "mixed"
url = "{mixed}"
format = "stix"
"""
        server = Server(tmp_path / "data", config, extra_env={"HINOMI_TEST_TAXII_PASSWORD": PASSWORD}).start()
        server.admin = server.token("admin")

        # Bad feeds are reported with their reason; the good ones load.
        def settled():
            f = feeds(server)
            ok = f.get("taxii", {}).get("indicators") == 4 and all(
                f.get(n, {}).get("error") for n in ("hangs", "fails", "truncated"))
            return ok and f
        f = wait_for(settled, 30, "every feed read once")
        assert "timed out" in f["hangs"]["error"].lower() or "timeout" in f["hangs"]["error"].lower(), f["hangs"]
        assert "answered 500" in f["fails"]["error"] and "upstream database unavailable" in f["fails"]["error"]
        assert "not a STIX bundle" in f["truncated"]["error"], f["truncated"]
        assert f["mixed"]["error"] is None and f["mixed"]["indicators"] == 1 and f["mixed"]["problems"] == 1
        assert f["taxii"]["error"] is None and f["taxii"]["last_ok"], f["taxii"]
        wait_for(lambda: indicators_loaded(server) == 5, 20, "the matcher to hold 5 indicators")

        send(server, [
            {"destination.ip": "198.51.100.7", "host.name": "ws1", "marker": "c2"},
            {"dns.question.name": "www.login-taxii.example", "host.name": "ws2", "marker": "phish"},
            {"destination.ip": "198.51.100.66", "host.name": "ws3", "marker": "good"},
            {"destination.ip": "198.51.100.200", "host.name": "ws4", "marker": "clean"},
        ])
        alerts = wait_for(lambda: len(a := intel_alerts(server)) >= 3 and a, 30, "three intel alerts")
        by_marker = {a["event"]["marker"]: a for a in alerts}
        assert sorted(by_marker) == ["c2", "good", "phish"], sorted(by_marker)
        c2_alert = by_marker["c2"]
        assert c2_alert["level"] == "high"
        assert c2_alert["indicator"]["confidence"] == 85 and c2_alert["indicator"]["tlp"] == "amber"
        assert c2_alert["indicator"]["id"] == c2.id and c2_alert["indicator"]["feed"] == "taxii"
        assert c2_alert["indicator"]["matched"] == [{"field": "destination.ip", "value": "198.51.100.7"}]
        assert "tlp:amber" in c2_alert["rule"]["tags"]
        phish_alert = by_marker["phish"]
        assert phish_alert["level"] == "low" and phish_alert["indicator"]["tlp"] == "green"
        assert phish_alert["indicator"]["confidence"] == 40

        check_incident_export(server, c2)

        # The collection revokes the dropper: the next poll removes it.
        taxii.add(dropper.new_version(revoked=True))
        wait_for(lambda: feeds(server)["taxii"]["indicators"] == 3, 20, "the revoked indicator removed")
        wait_for(lambda: indicators_loaded(server) == 4, 20, "the matcher without it")

        # Past its valid_until the phishing domain stops matching.
        time.sleep(max(0.0, (soon - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 1)
        send(server, [
            {"destination.ip": "198.51.100.9", "host.name": "ws5", "marker": "revoked"},
            {"dns.question.name": "login-taxii.example", "host.name": "ws6", "marker": "expired"},
            {"destination.ip": "198.51.100.7", "host.name": "ws7", "marker": "c2-again"},
        ])
        def with_control():
            got = intel_alerts(server)
            return any(a["event"]["marker"] == "c2-again" for a in got) and got
        later = wait_for(with_control, 30, "the control alert")
        markers = sorted(a["event"]["marker"] for a in later)
        assert markers == ["c2", "c2-again", "good", "phish"], markers

        # The feed's poll pages through medallion's `next` (2 objects a page)
        # and goes on from the last date added: nothing was read twice.
        f = feeds(server)
        assert f["taxii"]["indicators"] == 3 and f["taxii"]["problems"] == 0, f["taxii"]
    finally:
        if server:
            server.kill()
        taxii.stop()
        hang.close()
        for c in held:
            c.close()
        fails.shutdown()


def check_incident_export(server, c2):
    """The incident the C2 alert went to: an analyst marks a domain as an
    IOC, and its export is a STIX 2.1 bundle that `stix2` reads strictly,
    holding the matched indicator with its confidence and TLP, its
    sighting, and the marked domain."""
    def triaged():
        status, answer = call(server, "GET", "/api/v1/alerts?status=all&limit=1000", server.read_token)
        assert status == 200, answer
        hit = [a for a in answer["alerts"] if a["rule_id"] == f"intel:taxii:{c2.id}" and a.get("incident_id")]
        return hit and hit[0]
    alert = wait_for(triaged, 30, "the C2 alert triaged into an incident")
    incident = alert["incident_id"]
    analyst = server.token("analyst")
    status, answer = call(server, "POST", f"/api/v1/incidents/{incident}/iocs", analyst,
                          {"kind": "domain", "value": "C2-Panel.example.", "note": "the beacon's panel"})
    assert status == 200 and answer["ioc"] == {"kind": "domain", "value": "c2-panel.example"}, answer
    status, answer = call(server, "POST", f"/api/v1/incidents/{incident}/iocs", analyst,
                          {"kind": "domain", "value": "not a domain"})
    assert status == 400, answer
    status, bundle = call(server, "GET", f"/api/v1/incidents/{incident}/escalation?format=stix", server.read_token)
    assert status == 200, bundle
    parsed = stix2.parse(json.dumps(bundle), allow_custom=False)
    by_type = {}
    for o in parsed.objects:
        by_type.setdefault(o.type, []).append(o)
    indicators = {o.pattern: o for o in by_type["indicator"]}
    matched = indicators["[ipv4-addr:value = '198.51.100.7']"]
    assert matched.confidence == 85 and matched.object_marking_refs == [stix2.TLP_AMBER.id], matched
    assert "[domain-name:value = 'c2-panel.example']" in indicators, sorted(indicators)
    sighting = next(s for s in by_type["sighting"] if s.sighting_of_ref == matched.id)
    assert sighting.count >= 1 and sighting.where_sighted_refs == [by_type["identity"][0].id]
    group = by_type["grouping"][0]
    assert group.context == "suspicious-activity" and matched.id in group.object_refs
    # Exported again: the same ids, so a receiver updates what it has.
    _, again = call(server, "GET", f"/api/v1/incidents/{incident}/escalation?format=stix", server.read_token)
    assert sorted(o["id"] for o in again["objects"]) == sorted(o["id"] for o in bundle["objects"])
    # The command line writes the same bundle.
    out = subprocess.run([BIN, "incident", "stix", str(incident), "--data", str(server.data), "--tenant", "default"],
                         check=True, capture_output=True, text=True).stdout
    assert sorted(o["id"] for o in json.loads(out)["objects"]) == sorted(o["id"] for o in bundle["objects"])


def run_import(data, *args):
    return subprocess.run([BIN, "intel", "import", "--data", str(data), *args], capture_output=True, text=True)


def test_stix2_bundles_and_misp_feeds_import(tmp_path):
    data = tmp_path / "data"
    attack = stix2.AttackPattern(name="Phishing", external_references=[
        {"source_name": "mitre-attack", "external_id": "T1566"}])
    ind = stix2.Indicator(name="Phishing sender", pattern="[email-addr:value = 'billing@evil-stix.example'] OR "
                          "[url:value = 'https://evil-stix.example/invoice']", pattern_type="stix",
                          valid_from="2026-11-01T00:00:00Z", confidence=75, labels=["phishing"],
                          object_marking_refs=[stix2.TLP_RED])
    rel = stix2.Relationship(ind, "indicates", attack)
    cidr = stix2.Indicator(name="Scanner range", pattern="[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
                           pattern_type="stix", valid_from="2026-11-01T00:00:00Z")
    bundle = tmp_path / "bundle.json"
    bundle.write_text(stix2.Bundle(ind, attack, rel, cidr).serialize(pretty=True))
    done = run_import(data, "--tenant", "acme", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "2 indicators read: 2 added, 0 updated, 0 removed; 0 entries not read" in done.stderr, done.stderr

    done = run_import(data, "--shared", str(MISP_FEED))
    assert done.returncode == 0, done.stderr
    assert "feed misp (misp, shared): 5 indicators read" in done.stderr, done.stderr

    out = subprocess.run([BIN, "intel", "list", "--data", str(data), "--tenant", "acme", "--format", "jsonl"],
                         check=True, capture_output=True, text=True).stdout
    listed = {i["id"]: i for i in map(json.loads, out.splitlines())}
    assert listed[ind.id]["tlp"] == "red" and listed[ind.id]["attack"] == "T1566"
    assert listed[ind.id]["confidence"] == 75 and listed[ind.id]["shared"] is False
    assert listed[cidr.id]["pattern"] == "[ipv4-addr:value ISSUBSET '203.0.113.0/24']"
    shared = [i for i in listed.values() if i["shared"]]
    assert len(shared) == 5 and all(i["feed"] == "misp" for i in shared)

    # A truncated bundle is refused as a whole and says why; what the
    # feed held stays.
    broken = tmp_path / "bundle-broken.json"
    broken.write_text(bundle.read_text()[:200])
    done = run_import(data, "--tenant", "acme", "--feed", "bundle", str(broken))
    assert done.returncode != 0 and "not a STIX bundle" in done.stderr, done.stderr
    out = subprocess.run([BIN, "intel", "feeds", "--data", str(data), "--tenant", "acme", "--format", "jsonl"],
                         check=True, capture_output=True, text=True).stdout
    bundle_feed = next(f for f in map(json.loads, out.splitlines()) if f["name"] == "bundle")
    assert bundle_feed["indicators"] == 2 and "not a STIX bundle" in bundle_feed["error"], bundle_feed
