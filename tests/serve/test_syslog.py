"""util-linux `logger` over UDP and TCP, RFC 3164 and 5424, with and
without RFC 6587 octet counting: each line arrives normalized and the
marker rule fires on it."""
import subprocess
import uuid

import pytest

from conftest import wait_for

CASES = [
    ("udp", "--rfc3164", []),
    ("udp", "--rfc5424", []),
    ("tcp", "--rfc3164", []),
    ("tcp", "--rfc5424", []),
    ("tcp", "--rfc3164", ["--octet-count"]),
    ("tcp", "--rfc5424", ["--octet-count"]),
]


@pytest.mark.parametrize("proto,rfc,extra", CASES)
def test_logger(server, proto, rfc, extra):
    marker = f"hinomi-marker {uuid.uuid4()}"
    flag = "-d" if proto == "udp" else "-T"
    port = server.port(f"syslog-{proto}")
    subprocess.run(
        ["logger", flag, "-n", "127.0.0.1", "-P", str(port), rfc, *extra, "-t", "sshd", "-p", "auth.warning", marker],
        check=True,
    )
    event = wait_for(lambda: next((e for e in server.events() if marker in e["event.original"]), None), what="event")
    fields = event["fields"]
    assert fields["message"] == marker
    assert fields["log.syslog.appname"] == "sshd"
    assert fields["log.syslog.severity.name"] == "warning"
    assert fields["log.syslog.facility.name"] == "auth"
    assert fields["host.name"]
    if rfc == "--rfc5424":
        assert fields["log.syslog.version"] == 1
    assert "linux/*/sshd" in event["log_source"] and "linux/*/auth" in event["log_source"]
    alert = wait_for(lambda: next((a for a in server.alerts() if a["event_id"] == event["id"]), None), what="alert")
    assert alert["rule"]["title"] == "Hinomi test marker in a log line"
    assert alert["tenant"] == "default" and alert["source"] == "syslog"


def test_one_bad_line_does_not_block_the_stream(server):
    """A malformed record goes to the dead letter with its reason; the
    lines around it on the same connection still arrive."""
    import socket

    marker = f"hinomi-marker {uuid.uuid4()}"
    with socket.create_connection(("127.0.0.1", server.port("syslog-tcp"))) as s:
        s.sendall(f"<13>Nov 22 10:00:00 h app: before {marker}\n<999>broken\n<13>Nov 22 10:00:00 h app: after {marker}\n".encode())
    wait_for(lambda: sum(marker in e["event.original"] for e in server.events()) == 2, what="both good lines")
    dead = wait_for(lambda: server.get("/api/v1/deadletter")["deadletter"], what="dead letter")
    assert dead[0]["reason"] == "syslog: priority 999 is out of range 0-191"
    assert dead[0]["raw"] == "<999>broken"
    sources = {s["source"]: s for s in server.get("/api/v1/sources")["sources"]}
    assert sources["syslog"]["parse_errors"] == 1
