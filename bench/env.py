"""The bench's own database and cache namespace, and Django set up on them.

The bench never writes into the database it is pointed at: with DATABASE_URL set it
uses (and recreates at every run) a database whose name ends in `_bench` (or
`_<suffix>`); without it, an SQLite file in a temporary directory. The bench process
itself runs dualauth's production settings (`project.settings`).
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DUALAUTH_SETTINGS = "project.settings"
# Access tokens outlive any run (the lifetime costs nothing per request): production's
# own setting, read from the environment.
ACCESS_TOKEN_SECONDS = "10800"


def arguments_parser(prog: str, doc: str | None, *, quick: bool = False) -> argparse.ArgumentParser:
    """A bench command's parser: `--out`, and `--quick`."""
    parser = argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    if quick:
        parser.add_argument("--quick", action="store_true")
    return parser


def tree_state() -> dict[str, str | bool]:
    """The commit checked out, and whether the tracked files (results aside) are as it has them."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
        return done.stdout.strip()

    # What the commands write is no change to what made it.
    changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")
    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown", "clean": not changed}


def tree_label(meta: dict[str, Any]) -> str:
    """The commit a result comes from, and whether from a tree that differed from it."""
    changed = meta.get("clean") is False
    return f"{meta['commit']} with uncommitted changes" if changed else str(meta["commit"])


def results_dir(out: Path, started: dict[str, str | bool]) -> tuple[Path, dict[str, str | bool]]:
    """Where a command that began at tree state `started` writes, and the state it records.

    Results in bench/results come from a clean tree only, unchanged from start to end:
    from any other, the command writes into a new temporary directory and says so.
    """
    tree = tree_state()
    tree["clean"] = bool(tree["clean"] and tree == started)
    if out.resolve() == RESULTS.resolve() and not tree["clean"]:
        out = Path(tempfile.mkdtemp(prefix="dualauth-results-"))
        print(
            f"bench/results takes results of a clean tree only, and the tracked files differ "
            f"from {tree['commit']} (or changed during the run): writing to {out} instead",
            file=sys.stderr,
        )
    out.mkdir(parents=True, exist_ok=True)
    return out, tree


@dataclass
class BenchEnv:
    """What every bench process and server of one run shares."""

    database_url: str
    redis_url: str
    cache_prefix: str
    tmpdir: Path

    @property
    def postgres(self) -> bool:
        """Whether the run uses PostgreSQL."""
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def meta(self) -> dict[str, str]:
        """What the run's database and cache are."""
        return {
            "database": "postgresql" if self.postgres else "sqlite",
            "cache": "redis" if self.redis_url else "locmem (per process)",
        }

    def server_env(self, settings_module: str = DUALAUTH_SETTINGS, **extra: str) -> dict[str, str]:
        """The environment of a process of this run serving `settings_module`."""
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CACHE_KEY_PREFIX": self.cache_prefix,
            "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_SECONDS,
            "DEBUG": "false",
            "LOG_LEVEL": "ERROR",
            "AUDIT_LOG_LEVEL": "WARNING",
            **extra,
        }

    def module_run(
        self, module: str, settings_module: str, *args: str, wrap: Sequence[str] = (), **extra: str
    ) -> str:
        """What `python -m module args` prints, run with this run's `settings_module` (and
        the environment variables `extra`), under the command `wrap` if given.
        """
        command = [*wrap, sys.executable, "-m", module, *args]
        env = self.server_env(settings_module, **extra)
        done = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} ({settings_module}) failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def cleanup(self) -> None:
        """Forget this run's cache keys (dualauth's and the stock project's), database, files."""
        from django.db import connections

        if self.redis_url:
            import redis

            with redis.Redis.from_url(self.redis_url) as client:
                for key in client.scan_iter(match=f"*{self.cache_prefix}*", count=1000):
                    client.delete(key)
        connections.close_all()
        if self.postgres:
            _postgres(self.database_url, create=False)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _postgres(url: str, *, create: bool) -> None:
    """Drop the database of `url`, and with `create` make it anew."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = sql.Identifier(parts.path.lstrip("/"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def bench_env_setup(suffix: str) -> BenchEnv:
    """Create this run's database, point Django at it with dualauth's settings, migrate."""
    tmpdir = Path(tempfile.mkdtemp(prefix=f"dualauth-{suffix}-"))
    base_url = os.environ.get("DATABASE_URL", "").strip()
    if base_url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(base_url)
        name = parts.path.lstrip("/") or "dualauth"
        name = name if name.endswith(f"_{suffix}") else f"{name}_{suffix}"
        # Runs started by the tests' xdist workers at once each drop and make their own.
        if worker := os.environ.get("PYTEST_XDIST_WORKER", ""):
            name = f"{name}_{worker}"
        database_url = urlunsplit(parts._replace(path=f"/{name}"))
        _postgres(database_url, create=True)
    elif base_url:
        raise SystemExit("the bench runs on PostgreSQL (DATABASE_URL=postgres://...) or SQLite")
    else:
        database_url = f"sqlite:///{tmpdir / 'bench.sqlite3'}"
    prefix = (os.environ.get("CACHE_KEY_PREFIX", "").strip(), suffix, secrets.token_hex(3))
    redis_url = os.environ.get("REDIS_URL", "").strip()
    env = BenchEnv(database_url, redis_url, "-".join(part for part in prefix if part), tmpdir)
    os.environ.update(env.server_env())
    os.chdir(ROOT)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return env


def measured(
    suffix: str, measure: Callable[[BenchEnv], dict[str, Any]], out: Path, written: str
) -> tuple[dict[str, Any], Path]:
    """`measure(env)` in a bench environment of its own, cleaned up after; its result, with
    when and at which tree state it was made (`meta`), written as JSON into `out / written`
    (or where `results_dir` says); the result, and the directory it went to.
    """
    tree = tree_state()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    env = bench_env_setup(suffix)
    try:
        result = measure(env)
    finally:
        env.cleanup()
    out, provenance = results_dir(out, tree)
    finished = datetime.now(UTC).isoformat(timespec="seconds")
    result["meta"] = {
        "started_at": started,
        "finished_at": finished,
        **result["meta"],
        **provenance,
    }
    (out / written).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    return result, out
