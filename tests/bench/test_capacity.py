"""`python -m bench.capacity` runs on a few logins and reports every documented figure."""

import json
import os
from pathlib import Path

from tests.bench.conftest import bench_run
from tests.conftest import require_service

MODES = ("session", "jwt-header", "jwt-cookie")
OPERATIONS = {"login", "authenticate_miss", "authenticate", "touch", "logout"}


def test_capacity_reports_bytes_and_round_trips_per_login(tmp_path: Path) -> None:
    database = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    require_service(database and bool(os.environ.get("REDIS_URL")), "PostgreSQL and Redis")
    bench_run("bench.capacity", "--logins", "200", "--out", str(tmp_path))
    result = json.loads((tmp_path / "capacity.json").read_text())
    assert result["logins"] == 200
    for mode in MODES:
        figures = result["modes"][mode]
        family = figures["postgres"]["common_loginfamily"]
        assert family["rows"] == 200
        assert family["bytes_per_login"] > 0
        assert family["row_bytes"] > 0
        assert figures["redis"]["family"]["keys"] == 200
        assert figures["redis"]["family"]["bytes_per_key"] > 0
        assert figures["redis_keys_bytes_per_login"] > 0
        assert figures["revoked_marker_bytes"] > 0
        assert {"redis_used_memory_per_login", "redis_overhead_factor"} <= figures.keys()
        # The steady state: one Redis round trip, no SQL.
        assert figures["operations"]["authenticate"] == {
            "sql_reads": 0,
            "sql_writes": 0,
            "redis": 1,
        }
        assert figures["operations"].keys() >= OPERATIONS
        assert figures["cpu"]["login_service_ms"] > 0
    assert result["modes"]["session"]["postgres"]["django_session"]["rows"] == 200
    for mode in MODES[1:]:
        assert result["modes"][mode]["operations"]["refresh"]["sql_writes"] == 1
        assert result["modes"][mode]["cpu"]["refresh_service_ms"] > 0
