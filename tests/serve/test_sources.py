"""Sources: a silent source raises a source-health alert, a configured log
source replaces the recognised one, and UDP datagrams refused under load are
counted, never silent."""
import socket
import threading
import time
import urllib.error
import uuid

from conftest import Server, wait_for


def test_a_silent_source_raises_one_health_alert(tmp_path):
    config = (
        "[engine]\nhealth_check_seconds = 1\n"
        '[[sources]]\nname = "firewall"\nsilent_after_seconds = 2\n'
        '[[sources]]\nname = "syslog"\nsilent_after_seconds = 2\n'
    )
    server = Server(tmp_path / "data", config).start()
    stop = threading.Event()
    try:
        # `syslog` keeps talking (every 0.3 s, until the end); `firewall` never does.
        def keepalive():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                while not stop.is_set():
                    s.sendto(b"<13>Nov 22 10:00:00 h app: keepalive", ("127.0.0.1", server.port("syslog-udp")))
                    time.sleep(0.3)

        threading.Thread(target=keepalive, daemon=True).start()
        time.sleep(4)
        health = wait_for(
            lambda: [a for a in server.alerts() if a["kind"] == "source_health"], 10, "a source-health alert"
        )
        assert [a["source"] for a in health] == ["firewall"]
        assert health[0]["level"] == "high" and "firewall" in health[0]["title"]
        sources = {s["source"]: s for s in server.get("/api/v1/sources")["sources"]}
        assert sources["firewall"]["silent"] is True and sources["firewall"]["last_seen"] is None
        assert sources["syslog"]["silent"] is False and sources["syslog"]["events"] >= 5
        time.sleep(2.5)
        assert len([a for a in server.alerts() if a["kind"] == "source_health"]) == 1, "raised once"
    finally:
        stop.set()
        server.kill()


def test_a_configured_log_source_replaces_the_recognised_one(tmp_path):
    config = (
        "#full\n"
        '[http]\nlisten = ["127.0.0.1:0"]\n'
        '[[syslog]]\nprotocol = "udp"\nlisten = "127.0.0.1:0"\nsource = "fw"\nformat = "cef"\n'
        '[[sources]]\nname = "fw"\nproduct = "paloalto"\ncategory = "firewall"\n'
    )
    server = Server(tmp_path / "data", config).start()
    try:
        marker = str(uuid.uuid4())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(f"CEF:0|PAN|FW|10|1|deny|5|src=10.0.0.1 dst=10.0.0.2 msg={marker}".encode(),
                     ("127.0.0.1", server.port("syslog-udp")))
        event = wait_for(lambda: next((e for e in server.events() if marker in e["event.original"]), None))
        assert event["log_source"] == ["paloalto/firewall/*"]
        assert event["fields"]["source.ip"] == "10.0.0.1"
    finally:
        server.kill()


def test_udp_drops_under_load_are_counted(tmp_path):
    config = "[engine]\nslow_down_ms = 3000\nmax_lag_bytes = 10000\n"
    server = Server(tmp_path / "data", config).start()
    try:
        port = server.port("syslog-udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(3000):
                s.sendto(f"<13>Nov 22 10:00:00 h app: udp flood {i} {'x' * 200}".encode(), ("127.0.0.1", port))
        wait_for(lambda: server.get("/api/v1/sources")["sources"][0]["dropped"] > 0, 30, "dropped datagrams")
        s = server.get("/api/v1/sources")["sources"][0]
        assert s["events"] + s["dropped"] <= 3000
        assert s["dropped"] > 0
    finally:
        server.kill()


def test_ingest_tokens_cannot_read(server):
    try:
        server.get("/api/v1/detections", server.ingest_token)
    except urllib.error.HTTPError as e:
        assert e.code == 403
    else:
        raise AssertionError("an ingest token read alerts")
