"""The server is killed (SIGKILL) while the indexer is behind detection:
after a restart every acknowledged event is searchable, once.

Round one: the indexer commits nothing before the kill (its commit interval
is an hour), so everything acknowledged is only in the write-ahead log.
Round two: it commits every 200 ms and the kill lands while it is still
behind a burst, between commits. Events are sent with the Python
`elasticsearch` client over `_bulk`.
"""
import uuid

from conftest import Server, wait_for
from test_search import rows

PER_ROUND = 20_000


def send(server, marker, round_no):
    from elasticsearch import Elasticsearch, helpers

    es = Elasticsearch(server.http, api_key=server.ingest_token, request_timeout=60)
    docs = ({"_index": "logs", "_source": {"message": f"{marker} round{round_no} n={i}",
                                           "@timestamp": "2026-11-01T00:00:00Z", "seq": i}}
            for i in range(PER_ROUND))
    ok, errors = helpers.bulk(es, docs, chunk_size=2000, raise_on_error=True)
    assert ok == PER_ROUND and not errors


def status(server):
    return server.get("/api/v1/status", server.token("admin"))


def count(server, query):
    found = rows(server, f"{query} | stats count(), dc(_id)")
    return (found[0]["count()"], found[0]["dc(_id)"]) if found else (0, 0)


def test_a_kill_while_the_indexer_is_behind_loses_no_acknowledged_event(tmp_path):
    data = tmp_path / "data"
    marker = "k" + uuid.uuid4().hex[:12]

    slow = Server(data, "[store]\ncommit_interval = \"1h\"\n").start()
    try:
        send(slow, marker, 1)
        wait_for(lambda: status(slow)["lag_bytes"] == 0, 120, "detection done")
        s = status(slow)
        # Behind: detection has it all, the store nothing of it.
        assert s["index_lag_bytes"] > 0, s
        assert count(slow, marker) == (0, 0)
    finally:
        slow.kill()

    fast = Server(data, "[store]\ncommit_interval = \"200ms\"\n").start()
    try:
        wait_for(lambda: status(fast)["index_lag_bytes"] == 0, 300, "the log indexed after the restart")
        assert count(fast, marker) == (PER_ROUND, PER_ROUND)
        before = status(fast)["indexed"]
        send(fast, marker, 2)
        # Killed while still behind, after at least one commit of the burst.
        s = wait_for(lambda: (lambda s: s["indexed"] > before and s["index_lag_bytes"] > 0 and s)(status(fast)),
                     120, "a commit while behind")
        assert s["index_lag_bytes"] > 0
    finally:
        fast.kill()

    again = Server(data, "[store]\ncommit_interval = \"200ms\"\n").start()
    try:
        wait_for(lambda: status(again)["index_lag_bytes"] == 0, 300, "the log indexed after the second restart")
        assert count(again, marker) == (2 * PER_ROUND, 2 * PER_ROUND)
        assert count(again, f"{marker} round2") == (PER_ROUND, PER_ROUND)
    finally:
        again.kill()
