"""`python -m bench` and `python -m bench.compare` run end to end and write every figure.

No timing is asserted: only that every configuration and every cell was measured, and the
counts that do not depend on the machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT

pytestmark = pytest.mark.server

CONFIGS = {
    "baseline",
    "stock-jwt",
    "stock-session",
    "session",
    "jwt-header",
    "jwt-cookie",
    "jwt-stateless",
}
COSTS = {"login-session", "login-jwt", "login-jwt-cookie", "refresh-jwt", "refresh-jwt-cookie"}
DUALAUTH = ("session", "jwt-header", "jwt-cookie")
COMPARE_MODES = (*DUALAUTH, "stock-session", "stock-jwt")
REDIS = bool(os.environ.get("REDIS_URL"))
# SQL queries per request once warm (bench/README.md): dualauth's read paths are served
# from the cache; stock code reads the session, the user and the profile every time.
SQL_PER_REQUEST = {
    "baseline": 0,
    "session": 0,
    "jwt-header": 0,
    "jwt-cookie": 0,
    "jwt-stateless": 1,
    "stock-jwt": 2,
    "stock-session": 3,
}


def _run(module: str, *args: str) -> None:
    env = {
        **os.environ,
        # The figures are not the point here: cheap hashing keeps the logins fast.
        "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    }
    done = subprocess.run(
        [sys.executable, "-m", module, "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _redis_count_is_right(name: str, value: float | None) -> bool:
    """Dualauth checks revocation in Redis on every request; nothing else touches it."""
    if not REDIS:
        return value is None
    return value is not None and (value > 0 if name in DUALAUTH else value == 0)


def test_bench_measures_every_configuration_and_writes_its_outputs(tmp_path: Path):
    _run(
        "bench",
        *("--duration", "1", "--repeats", "1", "--warmup", "0", "--calls", "1"),
        *("--sizes", "200,400", "--sweep-duration", "1", "--out", str(tmp_path)),
    )
    result = json.loads((tmp_path / "latest.json").read_text())
    assert set(result["configs"]) == CONFIGS
    for name, config in result["configs"].items():
        assert config["rps"] > 0, name
        assert config["ratio_to_baseline"] > 0, name
        assert 0 < config["p50_ms"] <= config["p99_ms"], name
        assert config["errors"] == 0, name
        assert config["sql_per_request"] == SQL_PER_REQUEST[name], name
        assert _redis_count_is_right(name, config["redis_per_request"]), name
        assert (config["credential_bytes"] > 0) == (name != "baseline"), name
    assert set(result["costs"]) == COSTS
    assert all(cost["median_ms"] > 0 and cost["per_s"] > 0 for cost in result["costs"].values())
    sweep = result["sweep"]
    assert sweep["sizes"] == [200, 400]
    assert set(sweep["modes"]) == set(DUALAUTH)
    assert all(point["rps"] > 0 for points in sweep["modes"].values() for point in points)
    assert all(ratio > 0 for ratio in sweep["ratio"].values())
    assert all(cold["family_us"] > 0 and cold["session_us"] > 0 for cold in sweep["cold"])
    for output in ("latest.md", "latest.png", "scaling.png"):
        assert (tmp_path / output).stat().st_size > 0
    assert "| jwt-stateless |" in (tmp_path / "latest.md").read_text()
    assert len(list(tmp_path.glob("run-*.json"))) == 1


def test_compare_measures_every_cell_of_every_mode(tmp_path: Path):
    _run("bench.compare", "--duration", "1", "--timeout", "3", "--out", str(tmp_path))
    result = json.loads((tmp_path / "compare.json").read_text())
    cells = result["cells"]
    assert set(cells) == set(COMPARE_MODES)
    for mode, row in cells.items():
        assert row["rps"] > 0, mode
        assert row["credential_bytes"] > 0, mode
        assert row["sql_per_request"] == SQL_PER_REQUEST[mode], mode
        assert _redis_count_is_right(mode, row["redis_per_request"]), mode
    for mode in (*DUALAUTH, "stock-session"):
        assert cells[mode]["storage_bytes"] > 0, mode
        if REDIS:
            assert cells[mode]["logout_ms"] > 0, mode
            assert cells[mode]["cross_instance_ms"] > 0, mode
    # Stock simplejwt never looks at revocation: the token outlives the logout.
    assert cells["stock-jwt"]["logout_ms"] is None
    assert cells["stock-jwt"]["storage_bytes"] == 0
    assert {mode: row["csrf_needed"] for mode, row in cells.items()} == {
        "session": True,
        "jwt-header": False,
        "jwt-cookie": True,
        "stock-session": True,
        "stock-jwt": False,
    }
    assert {mode: row["works_without_cookies"] for mode, row in cells.items()} == {
        "session": False,
        "jwt-header": True,
        "jwt-cookie": False,
        "stock-session": False,
        "stock-jwt": True,
    }
    assert (tmp_path / "compare.md").read_text().count("\n|") >= 10
