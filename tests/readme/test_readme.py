"""The README, run: `make run` on a fresh clone, every command it prints, every walk-through.

Nothing the README tells a newcomer to type is copied here: the blocks are read from the
README and run as written (tests/readme/readme.py says how its answers are written), so a
change to the README changes what runs, and a README that stops working fails.
"""

import json
import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_service
from tests.readme.conftest import (
    COMPOSE,
    README,
    WALK_THROUGHS,
    MadeRun,
    Terminal,
    walk_throughs_follow,
)
from tests.readme.readme import Block, Command, answer_parse, blocks

# The walk-throughs run in order in one newcomer's shell, as a reader runs them: on one
# xdist worker (tests/conftest.py, CORES_BOUND), with the README's SPA tests and their `make run`.
pytestmark = pytest.mark.server


# What `make run` prints after the server is up: blocks titled "Name:" of indented commands.
PRINTED_BLOCK = re.compile(r"\n(\S[^\n]*):\n((?:[ \t]+[^\n]*\n)+)")
COMPOSE_BLOCKS = [b for b in blocks(README) if b.language == "sh" and COMPOSE.search(b.text)]


def block_id(block: Block) -> str:
    """A block's name in test ids: its section and line."""
    return f"{block.section}@{block.line}"


def test_make_run_serves_a_fresh_clone_with_sqlite_an_in_process_cache_and_runserver(
    made_run: MadeRun,
) -> None:
    health = httpx.get(f"{made_run.url}/api/health/")
    assert health.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}
    assert health.headers["Server"].startswith("WSGIServer/")
    assert (made_run.clone / "db.sqlite3").is_file()
    written = (made_run.clone / ".env").read_text()
    for name in ("SECRET_KEY", "JWT_SIGNING_KEY", "MFA_ENCRYPTION_KEY", "DEMO_PASSWORD"):
        assert re.search(rf"^{name}=\S+$", written, re.MULTILINE), name
    assert "DATABASE_URL" not in written
    assert "REDIS_URL" not in written


def printed_blocks(made_run: MadeRun) -> list[tuple[str, str]]:
    """The command blocks `make run` printed: (title, commands), each once, however many
    times the README had it started.
    """
    found = PRINTED_BLOCK.findall(made_run.output())
    return list(dict.fromkeys((title, body) for title, body in found if "curl " in body))


def test_every_command_make_run_prints_answers_the_demo_profile_in_its_mode(
    made_run: MadeRun, tmp_path: Path
) -> None:
    printed = printed_blocks(made_run)
    assert [title for title, _ in printed] == [
        "Session mode (cookies + CSRF)",
        "JWT, header (mobile)",
        "JWT, cookies (browser)",
    ]
    username, _ = made_run.printed_login()
    for title, body in printed:
        shell = Terminal(made_run.clone, made_run.newcomer_env(), tmp_path / title[:7])
        try:
            ran = [shell.run(command) for command in re.sub(r"\\\n\s*", " ", body).splitlines()]
        finally:
            shell.close()
        assert all(r.status == 0 for r in ran), (title, ran)
        statuses = [status for r in ran for status, _, _ in r.curls]
        assert statuses, title
        assert all(status == 200 for status in statuses), (title, statuses)
        profile = json.loads(ran[-1].output)
        assert profile["username"] == username, (title, profile)
        assert set(profile) == {"id", "username", "email", "display_name", "bio", "date_joined"}


@pytest.mark.parametrize("block", WALK_THROUGHS, ids=block_id)
def test_each_walk_through_answers_as_the_readme_says(
    block: Block, made_run: MadeRun, terminal: Terminal
) -> None:
    walk_throughs_follow(block, made_run, terminal)


def test_the_readme_walks_through_each_mode_accounts_two_step_sign_in_the_cli_providers() -> None:
    sections = {block.section for block in WALK_THROUGHS}
    assert {
        "Each mode with curl",
        "Accounts",
        "The mobile client in five lines",
        "Sign in with Google, Apple or any OpenID provider",
    } <= sections
    assert any(s.startswith("Two-step sign-in") for s in sections)
    # Every answer the README writes is one the tests can read.
    for block in WALK_THROUGHS:
        for step in block.steps():
            if isinstance(step, Command):
                for answer in step.answers:
                    answer_parse(answer)


def compose_config_command(command: str) -> str:
    """A `docker compose … up …` command as Debian's docker-compose checks it instead:
    the same options and environment, `config` for `up` and what follows it.
    """
    return re.sub(r"\bup\b.*$", "config", COMPOSE.sub("docker-compose", command))


@pytest.mark.parametrize("block", COMPOSE_BLOCKS, ids=block_id)
def test_each_compose_block_writes_what_the_compose_file_needs_and_leaves_make_runs_env(
    block: Block, made_run: MadeRun, tmp_path: Path
) -> None:
    require_service(shutil.which("docker-compose") is not None, "docker-compose is not installed")
    made_env = (made_run.clone / ".env").read_text()
    shell = Terminal(made_run.clone, made_run.newcomer_env(), tmp_path)
    try:
        # The Production block comes first in the README: the stack's secrets, once.
        for step in [*COMPOSE_BLOCKS[0].steps(), *block.steps()]:
            assert isinstance(step, Command), f"a compose block asks nothing: {step}"
            command = step.text
            if COMPOSE.search(command):
                command = compose_config_command(command)
            ran = shell.run(command)
            assert ran.status == 0, f"{command}\n{ran.output}"
            if "config" in command:
                services = set(re.findall(r"^  (\S+):$", ran.output, re.MULTILINE))
                assert {"app", "migrate", "nginx", "postgres", "redis"} <= services, ran.output
    finally:
        shell.close()
    assert (made_run.clone / ".env").read_text() == made_env
