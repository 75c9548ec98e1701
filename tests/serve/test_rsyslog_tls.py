"""rsyslog (the Debian package, with rsyslog-gnutls) forwarding over
syslog/TLS (RFC 5425) to `hinomi serve`, verifying the server certificate
made by `hinomi tls selfsigned`."""
import shutil
import signal
import socket
import subprocess
import uuid

import pytest

from conftest import BIN, Server, wait_for

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rsyslog_forwards_over_tls(tmp_path):
    assert shutil.which(RSYSLOGD), "rsyslogd is required (apt-get install rsyslog rsyslog-gnutls)"
    certs = tmp_path / "certs"
    subprocess.run([BIN, "tls", "selfsigned", "--out", str(certs)], check=True, capture_output=True)
    assert (certs / "key.pem").stat().st_mode & 0o077 == 0, "the key must not be readable by others"
    config = (
        f'[tls]\ncert = "{certs / "cert.pem"}"\nkey = "{certs / "key.pem"}"\n'
        '[[syslog]]\nprotocol = "tls"\nlisten = "127.0.0.1:0"\nsource = "rsyslog"\n'
    )
    server = Server(tmp_path / "data", config).start()
    try:
        work = tmp_path / "rsyslog"
        work.mkdir()
        udp_in = free_udp_port()
        conf = work / "rsyslog.conf"
        conf.write_text(
            f"""
global(workDirectory="{work}"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="{certs / 'cert.pem'}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_in}")
action(type="omfwd" target="127.0.0.1" port="{server.port('syslog-tls')}" protocol="tcp"
       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="localhost"
       template="RSYSLOG_SyslogProtocol23Format")
"""
        )
        rsyslog = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "pid")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            marker = f"hinomi-marker {uuid.uuid4()}"

            def sent_and_arrived():
                subprocess.run(
                    ["logger", "-d", "-n", "127.0.0.1", "-P", str(udp_in), "--rfc3164", "-t", "sudo", marker],
                    check=True,
                )
                return next((e for e in server.events() if marker in e["event.original"]), None)

            # rsyslog needs a moment to start; resend until one arrives.
            event = wait_for(sent_and_arrived, 30, "an event forwarded by rsyslog")
            assert event["source"] == "rsyslog"
            assert event["fields"]["log.syslog.version"] == 1, "RFC 5424 from RSYSLOG_SyslogProtocol23Format"
            assert event["fields"]["log.syslog.appname"] == "sudo"
            assert "linux/*/sudo" in event["log_source"]
            alert = wait_for(lambda: next((a for a in server.alerts() if a["event_id"] == event["id"]), None))
            assert alert["rule"]["title"] == "Hinomi test marker in a log line"
        finally:
            rsyslog.send_signal(signal.SIGTERM)
            out, _ = rsyslog.communicate(timeout=10)
    finally:
        server.kill(signal.SIGTERM)


def test_plain_tcp_to_the_tls_port_is_refused_without_harm(tmp_path):
    certs = tmp_path / "certs"
    subprocess.run([BIN, "tls", "selfsigned", "--out", str(certs)], check=True, capture_output=True)
    config = f'[tls]\ncert = "{certs / "cert.pem"}"\nkey = "{certs / "key.pem"}"\n[[syslog]]\nprotocol = "tls"\nlisten = "127.0.0.1:0"\n'
    server = Server(tmp_path / "data", config).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port("syslog-tls"))) as s:
            s.sendall(b"<13>Nov 22 10:00:00 h app: plaintext hinomi-marker\n")
            s.settimeout(5)
            try:
                s.recv(100)
            except (ConnectionResetError, socket.timeout):
                pass
        assert server.proc.poll() is None, "the server must survive a bad handshake"
        assert not any("plaintext" in e["event.original"] for e in server.events())
    finally:
        server.kill(signal.SIGTERM)
