"""`python -m bench` and `python -m bench.compare` run end to end and write every figure.

No timing is asserted: only that every configuration and every cell was measured, and the
counts that do not depend on the machine. Both run at once, to keep the suite short.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import ROOT

# One xdist worker runs the module: its fixture starts both benches once, not once a worker.
pytestmark = [pytest.mark.server, pytest.mark.xdist_group("bench-smoke")]

CONFIGS = {
    "baseline",
    "stock-jwt-stateless",
    "stock-jwt",
    "stock-token",
    "stock-session-db",
    "stock-session-cached-db",
    "session",
    "jwt-header",
    "jwt-cookie",
}
REDIS = bool(os.environ.get("REDIS_URL"))
if REDIS:
    CONFIGS.add("stock-session-cache")
COSTS = {"login-session", "login-jwt", "login-jwt-cookie", "refresh-jwt", "refresh-jwt-cookie"}
DUALAUTH = ("session", "jwt-header", "jwt-cookie")
COMPARE_MODES = (*DUALAUTH, "stock-session", "stock-jwt")
# SQL queries per request once warm (bench/README.md): dualauth's read paths are served
# from the cache; stock code reads the session, the user and the profile every time.
SQL_PER_REQUEST = {
    "baseline": 0,
    "stock-jwt-stateless": 0,
    "stock-jwt": 2,
    "stock-token": 2,
    "stock-session-db": 3,
    "stock-session-cache": 2,
    "stock-session-cached-db": 2,
    "session": 0,
    "jwt-header": 0,
    "jwt-cookie": 0,
    "stock-session": 3,
}
# Rows that read Redis on every request: dualauth's, and the stock sessions kept there.
REDIS_ROWS = {*DUALAUTH, "stock-session-cache", "stock-session-cached-db"}
USERS = 20


BENCH_ARGS = (
    *("--duration", "1", "--repeats", "1", "--warmup", "0", "--calls", "1"),
    *("--users", str(USERS), "--hashers", "argon2", "--login-duration", "1"),
    *("--flood-rate", "2", "--profile-requests", "5"),
    *("--sizes", "200,400", "--sweep-duration", "1"),
)
COMPARE_ARGS = ("--duration", "1", "--timeout", "3")


@dataclass
class Command:
    """A bench command running in the background, writing into `out`."""

    process: subprocess.Popen[bytes]
    out: Path
    log: Path

    def finished(self) -> Path:
        """Wait for the command; its output directory, once it has succeeded."""
        code = self.process.wait(timeout=180)
        assert code == 0, self.log.read_text(errors="replace")[-6000:]
        return self.out


def _start(module: str, out: Path, *args: str) -> Command:
    env = {
        **os.environ,
        # The figures are not the point here: cheap hashing keeps the logins fast.
        "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    }
    log = out / "command.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--quick", *args, "--out", str(out)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Command(process, out, log)


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Command]]:
    """Both commands, started together: their servers mostly wait, so they share the cores."""
    started = {
        "bench": _start("bench", tmp_path_factory.mktemp("bench"), *BENCH_ARGS),
        "compare": _start("bench.compare", tmp_path_factory.mktemp("compare"), *COMPARE_ARGS),
    }
    yield started
    for command in started.values():
        if command.process.poll() is None:
            command.process.kill()
            command.process.wait()


def _redis_count_is_right(name: str, value: float | None) -> bool:
    """Whoever keeps state in Redis reads it on every request; nobody else touches it."""
    if not REDIS:
        return value is None
    return value is not None and (value > 0 if name in REDIS_ROWS else value == 0)


def test_bench_measures_every_configuration_and_writes_its_outputs(commands):
    tmp_path = commands["bench"].finished()
    result = json.loads((tmp_path / "latest.json").read_text())
    assert set(result["configs"]) == CONFIGS
    for name, config in result["configs"].items():
        assert config["rps"] > 0, name
        assert config["ratio_to_baseline"] > 0, name
        assert 0 < config["p50_ms"] <= config["p99_ms"], name
        assert config["cpu_ms_per_request"] > 0, name
        assert config["cpu_ratio_to_baseline"] > 0, name
        assert config["errors"] == 0, name
        assert config["sql_per_request"] == SQL_PER_REQUEST[name], name
        assert _redis_count_is_right(name, config["redis_per_request"]), name
        assert (config["credential_bytes"] > 0) == (name != "baseline"), name
        assert config["users"] == (1 if name == "baseline" else USERS), name
        assert config["revocation"], name
    for name in DUALAUTH:
        memo = result["configs"][name]["memo"]
        looked_up = {m for m, counts in memo.items() if counts["hits"] + counts["misses"]}
        assert looked_up == ({"sessions", "seen"} if name == "session" else {"tokens", "seen"})
        assert all(memo[m]["hits"] > 0 for m in looked_up), (name, memo)
    assert all(result["configs"][n]["memo"] is None for n in CONFIGS - set(DUALAUTH))
    assert set(result["peers"]) == set(DUALAUTH)
    assert set(result["costs"]) == COSTS
    assert all(cost["median_ms"] > 0 and cost["per_s"] > 0 for cost in result["costs"].values())
    argon2 = result["logins"]["argon2"]
    assert argon2["login_median_ms"] > 0
    assert argon2["cpu_ms_per_login"] > 0
    assert argon2["reads_alone"]["rps"] > 0
    assert argon2["reads_flooded"]["rps"] > 0
    assert argon2["flood"]["offered_per_s"] > 0
    profile = result["profile"]["configs"]
    assert set(profile) == CONFIGS
    for name, layers in profile.items():
        assert layers["us_per_request"] > 0, name
        if name != "baseline":
            assert (
                layers["profiled"]["authentication"]
                > profile["baseline"]["profiled"]["authentication"]
            ), name
        assert (layers["profiled"]["sql"] > 0) == (SQL_PER_REQUEST[name] > 0), name
    sweep = result["sweep"]
    assert sweep["sizes"] == [200, 400]
    assert set(sweep["modes"]) == set(DUALAUTH)
    assert all(point["rps"] > 0 for points in sweep["modes"].values() for point in points)
    assert all(ratio > 0 for ratio in sweep["ratio"].values())
    assert all(cold["family_us"] > 0 and cold["session_us"] > 0 for cold in sweep["cold"])
    for output in ("latest.md", "latest.png", "scaling.png"):
        assert (tmp_path / output).stat().st_size > 0
    assert "| stock-jwt-stateless |" in (tmp_path / "latest.md").read_text()
    assert len(list(tmp_path.glob("run-*.json"))) == 1


def test_compare_measures_every_cell_of_every_mode(commands):
    tmp_path = commands["compare"].finished()
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
