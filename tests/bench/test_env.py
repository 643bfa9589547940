"""Results in bench/results come from a clean tree: a scratch copy of bench/ under git, made
to write its results there, writes them when clean and refuses (writing elsewhere) when not.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live import ROOT

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench test",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench test",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
# The comparative tests' report that `bench.compare` reads besides the committed results.
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="t" name="test_every_mode_reads_the_identical_profile[runserver]"/>
</testsuite></testsuites>
"""


def _git(scratch: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=scratch,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """bench/ as committed here, alone in a repository of its own, and a tests' report."""
    copy = tmp_path / "copy"
    tracked = _git(ROOT, "ls-files", "bench").splitlines()
    for name in tracked:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((ROOT / name).read_bytes())
    _git(copy, "init", "--quiet")
    _git(copy, "add", ".")
    _git(copy, "commit", "--quiet", "--message", "scratch")
    (tmp_path / "junit.xml").write_text(JUNIT)
    return copy


def _compare(scratch: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bench.compare` of the copy, into its bench/results (the default)."""
    return subprocess.run(
        [sys.executable, "-m", "bench.compare", "--junit", str(scratch.parent / "junit.xml")],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_clean_tree_writes_into_bench_results_and_records_its_commit(scratch):
    _compare(scratch)

    assert (scratch / "bench/results/dial.png").exists()
    written = (scratch / "bench/results/compare.md").read_text()
    assert f"Made at {_git(scratch, 'rev-parse', '--short', 'HEAD')} from:" in written
    assert "uncommitted" not in written


def test_a_changed_tree_writes_nothing_into_bench_results(scratch):
    results = scratch / "bench/results"
    committed = {path.name: path.read_bytes() for path in results.iterdir()}
    with (scratch / "bench/README.md").open("a") as readme:
        readme.write("\nan uncommitted line\n")

    done = _compare(scratch)

    assert {path.name: path.read_bytes() for path in results.iterdir()} == committed
    elsewhere = Path(done.stderr.rsplit("writing to ", 1)[1].split()[0])
    assert "clean tree only" in done.stderr
    assert "with uncommitted changes" in (elsewhere / "compare.md").read_text()
    for written in ("compare.md", "dial.png"):
        (elsewhere / written).unlink()
    elsewhere.rmdir()
