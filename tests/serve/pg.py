"""With HINOMI_TEST_DATABASE=postgres, one PostgreSQL server for the whole
run, started here on a free loopback port (initdb and pg_ctl from
/usr/lib/postgresql/*/bin, as the `postgres` user when run as root), and a
fresh database for every test server. Without it: SQLite, nothing started."""
import atexit
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile

_server = None
_names = itertools.count(1)


class _PgServer:
    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("HINOMI_TEST_DATABASE=postgres needs postgresql-15 (apt-get install postgresql-15)")
        self.bin = os.path.dirname(found[-1])
        self.as_postgres = os.getuid() == 0
        self.dir = tempfile.mkdtemp(prefix="hinomi-serve-pg-")
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        data = os.path.join(self.dir, "data")
        self.run("initdb", "-D", data, "-U", "hinomi", "-A", "trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c fsync=off " \
               "-c max_connections=500"
        self.run("pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"), "-o", opts, "-w", "start")
        atexit.register(self.stop)

    def run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)

    def create(self, name):
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "hinomi", name)
        return f"host=127.0.0.1 port={self.port} user=hinomi dbname={name}"

    def stop(self):
        self.run("pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def database_for(data):
    """The `[triage] database` for a test server on `data`: a new
    PostgreSQL database in PostgreSQL runs, None (SQLite) otherwise."""
    global _server
    if os.environ.get("HINOMI_TEST_DATABASE", "sqlite") != "postgres":
        return None
    if _server is None:
        _server = _PgServer()
    return _server.create(f"serve_{next(_names)}")
