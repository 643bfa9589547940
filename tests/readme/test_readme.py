"""The README, run: `make run` on a fresh clone, every command it prints, every walk-through.

Nothing the README tells a newcomer to type is copied here: the blocks are read from the
README and run as written (tests/readme/readme.py says how its answers are written), so a
change to the README changes what runs, and a README that stops working fails.
"""

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import require_service
from tests.live import ROOT
from tests.readme.conftest import MadeRun, Ran, Terminal, link_key
from tests.readme.readme import (
    Ask,
    Block,
    Command,
    answer_parse,
    blocks,
    shape_match,
    text_match,
)

# The walk-throughs run in order in one newcomer's shell, as a reader runs them: on one
# xdist worker (tests/conftest.py, CORES_BOUND), with the README's SPA tests and their `make run`.
pytestmark = pytest.mark.server

README = ROOT / "README.md"
# What `make run` prints after the server is up: blocks titled "Name:" of indented commands.
PRINTED_BLOCK = re.compile(r"\n(\S[^\n]*):\n((?:[ \t]+[^\n]*\n)+)")
COMPOSE = re.compile(r"\bdocker compose\b")
WALK_THROUGHS = [b for b in blocks(README) if b.language == "sh" and not COMPOSE.search(b.text)]
COMPOSE_BLOCKS = [b for b in blocks(README) if b.language == "sh" and COMPOSE.search(b.text)]
# The lines of the walk-throughs this process's terminal has followed.
FOLLOWED: set[int] = set()


def block_id(block: Block) -> str:
    """A block's name in test ids: its section and line."""
    return f"{block.section}@{block.line}"


@pytest.fixture(scope="session")
def terminal(made_run: MadeRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """The newcomer's terminal at the clone's root, kept through the walk-throughs (whatever
    other tests their worker runs in between).
    """
    shell = Terminal(made_run.clone, made_run.newcomer_env(), tmp_path_factory.mktemp("shell"))
    yield shell
    shell.close()


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
    """The command blocks `make run` printed: (title, commands)."""
    found = PRINTED_BLOCK.findall(made_run.output())
    return [(title, body) for title, body in found if "curl " in body]


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


def reader_supplies(made_run: MadeRun, ask: Ask, links_before: int) -> str:
    """What a reader puts in `ask.name`, from where the README tells them to find it."""
    if ask.name == "PASSWORD":
        return made_run.printed_login()[1]
    if ask.name == "LINK":
        return made_run.link_after(links_before)
    if ask.name == "KEY":
        return link_key(made_run.link_after(links_before))
    raise AssertionError(f"the README asks the reader for {ask.name} ({ask.what}); from where?")


def answers_check(command: Command, ran: Ran, made_run: MadeRun) -> None:
    """`ran` answered what the README says `command` answers."""
    where = f"README line {command.line}: {command.text}\n{ran.output}"
    assert ran.status == 0, where
    assert not [c for c in ran.curls if c[0] >= 500], where
    if not command.answers:
        assert all(status < 400 for status, _, _ in ran.curls), (where, ran.curls)
    lines = [line.strip() for line in ran.output.splitlines()]
    for answer in command.answers:
        expected = answer_parse(made_run.command(answer))
        if expected.text is not None:
            assert any(text_match(expected.text, line) for line in lines), (answer, where)
            continue
        assert ran.curls, f"{where}\nan answer with a status or a body is a curl's"
        status = ran.curls[-1][0]
        if expected.status is not None:
            assert status == expected.status, (answer, status, ran.body, where)
        else:
            assert status < 400, (answer, status, ran.body, where)
        if expected.shape is not None:
            assert shape_match(expected.shape, json.loads(ran.body)), (answer, ran.body, where)


def walk_through_follow(block: Block, made_run: MadeRun, terminal: Terminal) -> None:
    """Run `block` in the terminal as a reader does, checking each answer it promises."""
    steps = block.steps()
    assert any(isinstance(step, Command) for step in steps), "a walk-through runs something"
    links_before = len(made_run.links())
    for step in steps:
        if isinstance(step, Ask):
            value = reader_supplies(made_run, step, links_before)
            terminal.run(f"{step.name}={shlex.quote(value)}")
            continue
        links_before = len(made_run.links())
        command = made_run.command(step.text)
        printed = made_run.serve(command)
        ran = terminal.run(command) if printed is None else Ran(0, printed, [], "")
        answers_check(step, ran, made_run)
    FOLLOWED.add(block.line)


@pytest.mark.parametrize("block", WALK_THROUGHS, ids=block_id)
def test_each_walk_through_answers_as_the_readme_says(
    block: Block, made_run: MadeRun, terminal: Terminal
) -> None:
    # A reader reads in order: what an earlier walk-through set up (a variable, a login),
    # a later one uses, whatever order the tests are run in.
    # Each is followed once: one that an earlier test followed was checked then.
    for step in WALK_THROUGHS[: WALK_THROUGHS.index(block) + 1]:
        if step.line not in FOLLOWED:
            walk_through_follow(step, made_run, terminal)


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
