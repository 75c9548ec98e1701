"""Starts a real `hinomi serve` on loopback ports for the tests.

The binary comes from HINOMI_BIN (default target/debug/hinomi); every
listener binds port 0 and the test reads the ports the server wrote to
DATA/run/listeners.json.
"""
import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from pg import database_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("HINOMI_BIN", str(ROOT / "target/debug/hinomi"))
RULES = pathlib.Path(__file__).parent / "rules"


def wait_for(predicate, timeout=20.0, what="condition"):
    """Polls `predicate` until it returns something truthy. Errors while
    polling (the server still starting, a list still empty) count as "not
    yet"; the last one is reported on timeout."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
        except (OSError, LookupError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


class Server:
    def __init__(self, data, config_text="", rules=RULES, extra_env=None, args=()):
        self.data = pathlib.Path(data)
        self.config = self.data.parent / (self.data.name + ".toml")
        base = (
            '[http]\nlisten = ["127.0.0.1:0"]\n'
            '[[syslog]]\nprotocol = "udp"\nlisten = "127.0.0.1:0"\n'
            '[[syslog]]\nprotocol = "tcp"\nlisten = "127.0.0.1:0"\n'
        )
        text = config_text if config_text.startswith("#full\n") else base + config_text
        # The tests read every event back from the events/ journal, which
        # serve only writes by default when the event store is off.
        if "events_journal" not in text:
            text = text.replace("[engine]\n", "[engine]\nevents_journal = true\n") if "[engine]\n" in text \
                else text + "[engine]\nevents_journal = true\n"
        # HINOMI_TEST_DATABASE=postgres: the SOC state of every server in a
        # fresh database of one PostgreSQL server the run starts. The data
        # directory holds the configuration too, so the CLI commands the
        # tests run on it reach the same database.
        url = self.database = database_for(self.data)
        if url:
            line = f'database = "{url}"\n'
            text = text.replace("[triage]\n", "[triage]\n" + line) if "[triage]\n" in text \
                else text + "[triage]\n" + line
            self.data.mkdir(parents=True, exist_ok=True)
            (self.data / "hinomi.toml").write_text(text)
        self.config.write_text(text)
        self.rules = rules
        self.env = dict(os.environ, **(extra_env or {}))
        self.args = list(args)
        self.proc = None
        self.preexec = None  # runs in the child before exec (limits)
        self.log = self.data.parent / (self.data.name + ".log")
        self.ingest_token = None
        self.read_token = None

    def start(self):
        listeners = self.data / "run" / "listeners.json"
        if listeners.exists():
            listeners.unlink()
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", str(self.data), "--config", str(self.config), "--rules", str(self.rules), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),
            env=self.env,
            preexec_fn=self.preexec,
        )
        bound = wait_for(lambda: listeners.exists() and json.loads(listeners.read_text() or "[]"), 60, "listeners")
        self.addr = {b["protocol"]: b["address"] for b in bound}
        if self.ingest_token is None:
            self.ingest_token = self.token("ingest")
            self.read_token = self.token("read")
        return self

    def token(self, scope, tenant="default", source=None):
        cmd = [BIN, "token", "create", "--data", str(self.data), "--tenant", tenant, "--scope", scope]
        if source:
            cmd += ["--source", source]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    def port(self, protocol):
        return int(self.addr[protocol].rsplit(":", 1)[1])

    @property
    def http(self):
        return "http://" + self.addr["http"]

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        # In a PostgreSQL run nothing (server or command) fell back to SQLite.
        assert not (self.database and (self.data / "state.db").exists()), "state.db written in a PostgreSQL run"

    def get(self, path, token=None):
        req = urllib.request.Request(self.http + path)
        req.add_header("Authorization", f"Bearer {token or self.read_token}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def alerts(self, token=None):
        return self.get("/api/v1/detections?limit=100000", token)["detections"]

    def journal(self, name):
        out = []
        for f in sorted((self.data / name).glob("*.jsonl")):
            for line in f.read_text().splitlines():
                if line.strip():
                    out.append(json.loads(line))
        return out

    def events(self):
        return self.journal("events")


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data").start()
    yield s
    s.kill(signal.SIGTERM)
