#!/usr/bin/env python3
"""Writes crates/geo/tests/data/test-city.mmdb, the small City-layout
database the geo tests and the serve tests read, with an independent
MaxMind DB writer (PyPI mmdb-writer 0.2.7, netaddr). Documentation address
ranges only (RFC 5737, RFC 3849), placed in made-up but plausible spots.

    pip install mmdb-writer==0.2.7 && scripts/geo-test-db.py
"""
from pathlib import Path

from mmdb_writer import MMDBWriter, MmdbF64
from netaddr import IPSet

OUT = Path(__file__).resolve().parents[1] / "crates/geo/tests/data/test-city.mmdb"


def city(iso, country, continent, name=None, lat=None, lon=None):
    record = {"country": {"iso_code": iso, "names": {"en": country, "ja": country + " (ja)"}},
              "continent": {"code": continent, "names": {"en": continent}}}
    if name:
        record["city"] = {"names": {"en": name}}
    if lat is not None:
        record["location"] = {"latitude": MmdbF64(lat), "longitude": MmdbF64(lon), "accuracy_radius": 20}
    return record


w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="Hinomi-Test-City", languages=["en", "ja"],
               description="Hinomi's test database: documentation ranges only")
w.insert_network(IPSet(["198.51.100.0/24"]), city("JP", "Japan", "AS", "Tokyo", 35.6895, 139.6917))
w.insert_network(IPSet(["203.0.113.0/25"]), city("US", "United States", "NA"))
w.insert_network(IPSet(["203.0.113.128/25"]), city("BR", "Brazil", "SA", "São Paulo", -23.5505, -46.6333))
w.insert_network(IPSet(["2001:db8::/32"]), city("DE", "Germany", "EU", "Berlin", 52.52, 13.405))
w.insert_network(IPSet(["192.0.2.0/24"]), {})
w.to_db_file(str(OUT))
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
