"""`python -m bench.instructions` counts the instructions of each configuration's requests."""

import json
import os
import shutil
from pathlib import Path

from tests.bench.conftest import CHEAP_HASHING, bench_run
from tests.conftest import require_service

CONFIGS = ("jwt-header", "jwt-header-push")


def test_instructions_are_counted_per_request_and_push_runs_fewer_than_strict(
    tmp_path: Path,
) -> None:
    require_service(shutil.which("valgrind") is not None, "callgrind counts the instructions")
    require_service(bool(os.environ.get("REDIS_URL")), "the push level needs Redis")
    args = ("--configs", ",".join(CONFIGS), "--users", "5", "--requests", "10")
    bench_run("bench.instructions", *args, "--out", str(tmp_path), env=CHEAP_HASHING)
    result = json.loads((tmp_path / "instructions.json").read_text())
    configs = result["configs"]
    assert set(configs) == set(CONFIGS)
    strict, push = (configs[name]["instructions_per_request"] for name in CONFIGS)
    # A request runs one to two million; a count that took in the start-up, or missed the
    # requests, would be far off.
    assert 1e6 < push < strict < 3e6
    assert configs["jwt-header"]["redis_per_request"] == 1
    # The push channel stayed trusted under valgrind: the count is of requests from memory.
    assert configs["jwt-header-push"]["redis_per_request"] == 0
    assert "| jwt-header-push |" in (tmp_path / "instructions.md").read_text()
