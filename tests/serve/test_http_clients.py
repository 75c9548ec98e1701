"""The Python clients users already have, pointed at `hinomi serve`:
elasticsearch and opensearch-py `helpers.bulk`, splunk-handler (HEC) and
the OpenTelemetry SDK's OTLP/HTTP log exporter."""
import json
import logging
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import wait_for


def winlogbeat_doc(marker):
    return {
        "@timestamp": "2026-11-22T08:00:03Z",
        "winlog": {
            "channel": "Security",
            "event_id": "4688",
            "computer_name": "ws01",
            "event_data": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe", "CommandLine": f"cmd /c {marker}"},
        },
    }


def check_process_alert(server, marker):
    event = wait_for(lambda: next((e for e in server.events() if marker in e["event.original"]), None), what="event")
    assert event["fields"]["EventID"] == 4688
    assert event["fields"]["process.command_line"] == f"cmd /c {marker}"
    assert "windows/process_creation/security" in event["log_source"]
    alert = wait_for(lambda: next((a for a in server.alerts() if a["event_id"] == event["id"]), None), what="alert")
    assert alert["rule"]["title"] == "Hinomi test marker in a Windows command line"
    return event


def test_elasticsearch_client_bulk(server):
    from elasticsearch import Elasticsearch, helpers

    marker = f"hinomi-cmd-marker-{uuid.uuid4()}"
    es = Elasticsearch(server.http, api_key=server.ingest_token)
    actions = [{"_index": "winlogbeat", "_source": winlogbeat_doc(marker)}]
    actions += [{"_index": "logs", "_source": {"message": f"filler {i}"}} for i in range(99)]
    ok, errors = helpers.bulk(es, actions)
    assert (ok, errors) == (100, [])
    check_process_alert(server, marker)
    assert wait_for(lambda: sum(e["source"] == "bulk" for e in server.events()) == 100, what="100 events")


def test_a_bad_bulk_document_fails_alone(server):
    """One document of 1,000 with an invalid UTF-8 byte: its item's error
    and a dead letter; the 999 others are stored and searchable, as
    Elasticsearch would store them. A document that is not JSON likewise."""
    from elasticsearch import Elasticsearch

    marker = f"hinomi-bulk-{uuid.uuid4().hex}"
    es = Elasticsearch(server.http, api_key=server.ingest_token)
    ops = []
    for i in range(1000):
        ops.append({"index": {"_index": "logs", "_id": f"doc-{i}"}})
        if i == 500:
            ops.append(b'{"message": "' + marker.encode() + b' bad \xff byte"}')
        else:
            ops.append({"message": f"{marker} good {i}"})
    answer = es.bulk(operations=ops).body
    assert answer["errors"] is True
    failed = {i: item["index"] for i, item in enumerate(answer["items"]) if item["index"]["status"] != 201}
    assert sorted(failed) == [500]
    assert failed[500]["_id"] == "doc-500"
    assert failed[500]["error"]["type"] == "document_parsing_exception"
    assert failed[500]["error"]["reason"].startswith("document [1002]: not UTF-8")

    def stored():
        req = urllib.request.Request(
            server.http + "/api/v1/search",
            data=json.dumps({"query": f'"{marker}" | stats count()', "from": "-30d"}).encode(),
            headers={"Authorization": f"Bearer {server.read_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            rows = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
        return rows[0]["count()"] if rows else 0

    assert wait_for(lambda: stored() == 999, what="999 searchable events")
    answer = es.bulk(operations=[{"index": {"_index": "logs"}}, b"not json " + marker.encode(),
                                 {"index": {"_index": "logs"}}, {"message": f"{marker} after"}]).body
    assert [item["index"]["status"] for item in answer["items"]] == [400, 201]
    assert answer["items"][0]["index"]["error"]["reason"] == "document [2]: not a JSON object"
    assert wait_for(lambda: stored() == 1000, what="1,000 searchable events")
    dead = wait_for(
        lambda: [d for d in server.get("/api/v1/deadletter")["deadletter"] if marker in d["raw"]] or None,
        what="dead letters",
    )
    reasons = sorted(d["reason"] for d in dead)
    assert len(reasons) == 2 and reasons[0].startswith("bulk document [1002]: not UTF-8"), reasons
    assert reasons[1] == "bulk document [2]: not a JSON object"
    assert "\ufffd" in next(d["raw"] for d in dead if "UTF-8" in d["reason"])


def test_opensearch_client_bulk(server):
    from opensearchpy import OpenSearch, helpers

    marker = f"hinomi-cmd-marker-{uuid.uuid4()}"
    client = OpenSearch([server.http], http_auth=("hinomi", server.ingest_token))
    ok, errors = helpers.bulk(client, [{"_index": "logs", "_source": winlogbeat_doc(marker)}])
    assert (ok, errors) == (1, [])
    check_process_alert(server, marker)


def test_splunk_handler(server):
    from splunk_handler import SplunkHandler

    marker = f"hinomi-marker {uuid.uuid4()}"
    handler = SplunkHandler(
        host="127.0.0.1",
        port=server.port("http"),
        protocol="http",
        token=server.ingest_token,
        index="main",
        sourcetype="python",
        flush_interval=0,
        verify=False,
        force_keep_ahead=True,
    )
    log = logging.getLogger("hinomi-hec-test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.warning("user %s logged in %s", "hinomi-test-user", marker)
    handler.close()
    event = wait_for(lambda: next((e for e in server.events() if marker in e["event.original"]), None), what="event")
    assert event["source"] == "hec"
    assert marker in event["fields"]["message"]
    assert event["fields"]["sourcetype"] == "python"
    assert event["fields"]["host.name"]
    alert = wait_for(lambda: next((a for a in server.alerts() if a["event_id"] == event["id"]), None), what="alert")
    assert alert["rule"]["title"] == "Hinomi test marker in a log line"


def test_opentelemetry_sdk_otlp_http(server):
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    marker = f"otel-{uuid.uuid4()}"
    provider = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
    exporter = OTLPLogExporter(
        endpoint=server.http + "/v1/logs", headers={"Authorization": f"Bearer {server.ingest_token}"}
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    log = logging.getLogger("hinomi-otel-test")
    log.addHandler(LoggingHandler(logger_provider=provider))
    log.setLevel(logging.INFO)
    log.warning("login %s", marker, extra={"user.name": "hinomi-test-user"})
    provider.shutdown()
    event = wait_for(lambda: next((e for e in server.events() if marker in e["event.original"]), None), what="event")
    fields = event["fields"]
    assert event["source"] == "otlp"
    assert fields["message"] == f"login {marker}"
    assert fields["severity_text"] == "WARN" or fields["severity_text"] == "WARNING"
    assert fields["service.name"] == "shop"
    assert fields["user.name"] == "hinomi-test-user"
    alert = wait_for(lambda: next((a for a in server.alerts() if a["event_id"] == event["id"]), None), what="alert")
    assert alert["rule"]["title"] == "Hinomi test user in a normalized event"


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize(
    "path,body",
    [
        ("/_bulk", b'{"index":{"_index":"x"}}\n{"message":"hinomi-marker denied"}\n'),
        ("/services/collector/event", b'{"event":"hinomi-marker denied"}'),
        ("/services/collector/raw", b"hinomi-marker denied\n"),
        ("/api/v1/ingest", b'{"message":"hinomi-marker denied"}\n'),
        (
            "/v1/logs",
            b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hinomi-marker denied"}}]}]}]}',
        ),
    ],
)
def test_wrong_tokens_store_nothing(server, path, body):
    read_only = server.read_token
    for headers, want in [
        ({}, 401),
        ({"Authorization": "Bearer hinomi_not_a_token"}, (401, 403)),
        ({"Authorization": f"Bearer {read_only}"}, (401, 403)),
    ]:
        status, _ = post(server.http + path, body, {"Content-Type": "application/json", **headers})
        assert status == want or status in (want if isinstance(want, tuple) else ()), (headers, status)
    # The same request with the ingest token goes through, so the refusals
    # above were about the token, and nothing from them was stored.
    ok, _ = post(server.http + path, body, {"Content-Type": "application/json", "Authorization": f"Bearer {server.ingest_token}"})
    assert ok == 200
    wait_for(lambda: server.get("/api/v1/status", server.token("admin"))["lag_bytes"] == 0, what="pipeline idle")
    assert sum("denied" in e["event.original"] for e in server.events()) == 1


def test_tenants_see_only_their_alerts(server):
    other_ingest = server.token("ingest", tenant="acme")
    other_read = server.token("read", tenant="acme")
    body = b'{"message":"hinomi-marker for acme"}\n'
    status, _ = post(server.http + "/api/v1/ingest", body, {"Authorization": f"Bearer {other_ingest}"})
    assert status == 200
    mine = wait_for(lambda: server.alerts(other_read), what="acme alert")
    assert all(a["tenant"] == "acme" for a in mine)
    assert all(a["tenant"] == "default" for a in server.alerts())
    assert not any("acme" in json.dumps(a) for a in server.alerts())


def test_unauthenticated_bodies_are_not_read(server):
    """The token is checked before the body is read: a client that
    announces 50 MB without a valid token and sends none is answered
    within about a second, without the server waiting for the body."""
    import socket

    for auth in ["", "Authorization: Bearer hinomi_wrong\r\n"]:
        with socket.create_connection(("127.0.0.1", server.port("http")), timeout=5) as s:
            s.sendall(
                f"POST /_bulk HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/x-ndjson\r\n"
                "Content-Length: 50000000\r\n\r\n".encode()
            )
            status_line = s.recv(200).split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 401"), status_line


def test_a_cloudtrail_envelope_is_split_into_records(server):
    trail = {
        "Records": [
            {"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "eu-west-1"}
            for name in ["CreateAccessKey", "ListUsers"]
        ]
    }
    status, body = post(
        server.http + "/api/v1/ingest", json.dumps(trail).encode(), {"Authorization": f"Bearer {server.ingest_token}"}
    )
    assert status == 200 and json.loads(body) == {"accepted": 2}
    events = wait_for(lambda: [e for e in server.events() if e["log_source"] == ["aws/*/cloudtrail"]], what="events")
    assert sorted(e["fields"]["eventName"] for e in events) == ["CreateAccessKey", "ListUsers"]
    alert = wait_for(lambda: server.alerts(), what="alert")
    assert alert[0]["rule"]["title"] == "Hinomi test CloudTrail access key creation"
