"""`hinomi export`: closed partitions become Parquet files that DuckDB
(from PyPI) reads back with the same events and the same answers as
Hinomi's own search."""
import datetime
import json
import subprocess
import uuid

from conftest import BIN, Server, wait_for
from test_search import rows


def test_export_reads_back_in_duckdb(tmp_path):
    import duckdb
    from elasticsearch import Elasticsearch, helpers

    server = Server(tmp_path / "data", "[store]\ncommit_interval_ms = 200\n").start()
    try:
        marker = "x" + uuid.uuid4().hex[:12]
        now = datetime.datetime.now(datetime.timezone.utc)
        docs = []
        for days_ago, n in [(3, 40), (1, 60), (0, 5)]:
            for i in range(n):
                t = (now - datetime.timedelta(days=days_ago)).replace(hour=12, minute=0, second=i % 60)
                docs.append({"@timestamp": t.isoformat(), "message": f"{marker} event {i}",
                             "host": {"name": f"h{i % 4}"}, "user": {"name": f"u{i % 3}"}})
        es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=10)
        ok, _ = helpers.bulk(es, ({"_index": "logs", "_source": d} for d in docs))
        assert ok == 105
        wait_for(lambda: len(rows(server, f"{marker} | stats count()")) == 1
                 and rows(server, f"{marker} | stats count()")[0]["count()"] == 105, what="all indexed")

        out = tmp_path / "lake"
        run = subprocess.run([BIN, "export", "--data", str(server.data), "--out", str(out)],
                             capture_output=True, text=True, check=True)
        assert "exported 100 events to 2 Parquet files" in run.stderr, run.stderr
        files = sorted(p.name for p in (out / "default").glob("*.parquet"))
        assert len(files) == 2 and now.date().isoformat() + ".parquet" not in files, "today's partition stays open"

        glob = str(out / "default" / "*.parquet")
        lake = duckdb.sql(f"select count(*), count(distinct id) from '{glob}' where raw like '%{marker}%'").fetchall()
        assert lake == [(100, 100)]
        by_host = duckdb.sql(f"select host_name, count(*) from '{glob}' group by host_name order by host_name").fetchall()
        ours = rows(server, f"{marker} @timestamp<{now.date().isoformat()} | stats count() by host.name")
        assert by_host == [(r["host.name"], r["count()"]) for r in ours]
        user = duckdb.sql(f"select json_extract_string(fields, '$.\"user.name\"') from '{glob}' limit 1").fetchall()
        assert user[0][0] in ("u0", "u1", "u2")
        # Each exported partition is in the tenant's audit trail.
        audit = subprocess.run([BIN, "audit", "list", "--data", str(server.data), "--format", "jsonl"],
                               capture_output=True, text=True, check=True).stdout
        exports = [json.loads(l) for l in audit.splitlines() if '"export"' in l]
        assert len(exports) == 2 and sum(json.loads(e["data"])["events"] for e in exports) == 100, exports
        # Again: files that exist are kept unless --force.
        run = subprocess.run([BIN, "export", "--data", str(server.data), "--out", str(out)],
                             capture_output=True, text=True, check=True)
        assert "exported 0 events" in run.stderr
    finally:
        server.kill()
