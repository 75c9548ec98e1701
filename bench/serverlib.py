"""A `hinomi serve` on a prepared data directory, for benchmarks that
measure the API as a console sees it."""
import contextlib
import json
import subprocess
import time
import urllib.request


@contextlib.contextmanager
def running_server(binary, data, config_text="", args=()):
    """Starts `hinomi serve` on `data` (HTTP on an ephemeral loopback port);
    yields (address, read token); stops it on exit."""
    token = subprocess.run([binary, "token", "create", "--data", str(data), "--scope", "read"],
                           check=True, capture_output=True, text=True).stdout.strip()
    config = data.parent / "bench-serve.toml"
    config.write_text('[http]\nlisten = ["127.0.0.1:0"]\n[[syslog]]\nprotocol = "udp"\nlisten = "127.0.0.1:0"\n' + config_text)
    listeners = data / "run" / "listeners.json"
    if listeners.exists():
        listeners.unlink()
    proc = subprocess.Popen([binary, "serve", "--data", str(data), "--config", str(config), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not (listeners.exists() and listeners.read_text().strip()):
            if time.time() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        addr = next(b["address"] for b in json.loads(listeners.read_text()) if b["protocol"] == "http")
        yield addr, token
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def request(addr, token, path, body=None):
    """One API call; returns the body text."""
    req = urllib.request.Request(f"http://{addr}{path}", method="POST" if body is not None else "GET",
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.read().decode()
