"""`python -m bench` runs end to end, `wrk` against real gunicorn servers, and writes every figure.

No timing is asserted: only that every configuration and login figure was measured,
and the counts that do not depend on the machine.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.bench.conftest import CHEAP_HASHING, bench_run
from tests.conftest import require_service
from tests.live import ROOT

# One xdist worker runs the module: its fixture runs the bench once, not once a worker.
pytestmark = pytest.mark.server

DUALAUTH = ("session", "jwt-header", "jwt-cookie")
REDIS = bool(os.environ.get("REDIS_URL"))
# The `push` level's rows: a server of their own, where Redis is.
PUSH = tuple(f"{mode}-push" for mode in DUALAUTH) if REDIS else ()
# SQL queries per request once warm (bench/README.md): dualauth's read paths are served
# from the cache; stock code reads the session, the user and the profile every time.
SQL_PER_REQUEST = {
    "baseline": 0,
    "stock-jwt-stateless": 0,
    "stock-jwt": 2,
    "stock-token": 2,
    "stock-session-db": 3,
    "stock-session-cached-db": 2,
    **({"stock-session-cache": 2} if REDIS else {}),
    "session": 0,
    "jwt-header": 0,
    "jwt-cookie": 0,
    **dict.fromkeys(PUSH, 0),
    "jwt-header+dpop": 0,
}
# Rows that read Redis on every request, one round trip: dualauth's strict ones (a DPoP
# proof's jti rides in it), and the stock sessions kept there. The `push` rows ask it nothing.
REDIS_ROWS = {*DUALAUTH, "jwt-header+dpop", "stock-session-cache", "stock-session-cached-db"}
USERS = 20
BENCH_ARGS = (
    *("--quick", "--duration", "1", "--repeats", "1", "--users", str(USERS)),
    # One worker a server: seven servers boot at once.
    *("--workers", "1", "--threads", "2"),
    *("--hashers", "argon2", "--calls", "1", "--login-duration", "1"),
    *("--profile-requests", "5"),
)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The smallest run of every part of the bench, and where it wrote."""
    require_service(shutil.which("wrk") is not None, "the bench loads its servers with wrk")
    out = tmp_path_factory.mktemp("bench")
    bench_run("bench", *BENCH_ARGS, "--out", str(out), env=CHEAP_HASHING, timeout=600)
    return json.loads((out / "latest.json").read_text()), out


def test_every_configuration_is_loaded_by_wrk_and_counted(result):
    latest, _ = result
    assert latest["meta"]["load_generator"].startswith("wrk")
    assert latest["configs"].keys() == SQL_PER_REQUEST.keys()
    for name, config in latest["configs"].items():
        assert config["rps"] > 0, name
        assert config["ratio_to_baseline"] > 0, name
        assert 0 < config["p50_ms"] <= config["p99_ms"], name
        assert config["cpu_ms_per_request"] > 0, name
        assert config["errors"] == 0, name
        assert config["sql_per_request"] == SQL_PER_REQUEST[name], name
        assert config["redis_per_request"] == (1 if REDIS and name in REDIS_ROWS else 0), name
        assert (config["credential_bytes"] > 0) == (name != "baseline"), name
        assert config["users"] == (1 if name == "baseline" else USERS), name


def test_each_dpop_request_carries_a_proof_of_its_own_which_the_server_accepts(result):
    configs = result[0]["configs"]
    dpop, bearer = configs["jwt-header+dpop"], configs["jwt-header"]
    # Every proof answered 200: a replayed jti would have been refused (401).
    assert dpop["errors"] == 0
    assert dpop["credential_bytes"] > bearer["credential_bytes"] + len("DPoP: \r\n")


def test_every_configuration_is_profiled_layer_by_layer(result):
    profile = result[0]["profile"]["configs"]
    assert profile.keys() == SQL_PER_REQUEST.keys()
    baseline = profile["baseline"]["profiled"]["authentication"]
    for name, layers in profile.items():
        assert layers["us_per_request"] > 0, name
        assert (layers["profiled"]["authentication"] > baseline) == (name != "baseline"), name
        assert (layers["profiled"]["sql"] > 0) == (SQL_PER_REQUEST[name] > 0), name


def test_logins_are_measured_one_at_a_time_and_saturated(result):
    argon2 = result[0]["logins"]["argon2"]
    assert argon2["login_median_ms"] > 0
    assert argon2["cpu_ms_per_login"] > 0
    assert argon2["login_errors"] == 0


def test_the_outputs_record_the_commit_they_were_made_at(result):
    latest, out = result
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    assert latest["meta"]["commit"] == head.stdout.strip()
    assert isinstance(latest["meta"]["clean"], bool)
    assert latest["meta"]["commit"] in (out / "latest.md").read_text()


def test_compare_sets_the_runs_rows_side_by_side_and_draws_the_dial(result, tmp_path):
    latest, out = result
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite name="none"/></testsuites>')
    command = [sys.executable, "-m", "bench.compare", "--results", str(out), "--junit", str(junit)]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "compare.md").read_text()
    head = next(line for line in table.splitlines() if line.startswith("|  |"))
    # A column for every configuration the run measured but the constant endpoint.
    assert {c.strip() for c in head.strip("|").split("|")[1:]} == latest["configs"].keys() - {
        "baseline"
    }
    assert (tmp_path / "dial.png").read_bytes()[:4] == b"\x89PNG"
