"""The product as a newcomer runs it: a fresh copy of the repository, `make run`, a terminal."""

import email
import email.policy
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from bench.processes import free_port, http_answer
from tests.clients.spa import sign_up, verify_by_password
from tests.conftest import require_service
from tests.live import ROOT, server_log_watch
from tests.readme.readme import (
    Ask,
    Block,
    Command,
    answer_parse,
    blocks,
    shape_match,
    text_match,
)

# What `make run` may take on a machine whose dependencies are installed: migrations, the
# static files, the demo account, the server's checks.
SERVE_TIMEOUT = 300
# The environment a newcomer's shell has: nothing of the project's, nothing of the tests'.
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR")
PRINTED_LOGIN = re.compile(r"Log in as: (\S+) / (\S+)")
# Django's console backend ends each mail with this line.
MAIL_END = "\n" + "-" * 79 + "\n"
# A mail's own headers (not those of its parts): its type, then its MIME version and subject.
MAIL_START = re.compile(r"^Content-Type: .*\n(?:[ \t].*\n)*MIME-Version: .*\nSubject: ", re.M)
MAIL_LINK = re.compile(r"https?://[^\s\"'<>]+")
# The README's examples name the default port; a newcomer who set PORT changes them so.
DEFAULT_ADDRESS = re.compile(r"\b(127\.0\.0\.1|localhost):8000\b")
# And the development provider's (`make provider`), which the tests serve on a free port too.
PROVIDER_ADDRESS = re.compile(r"\b(127\.0\.0\.1|localhost):9000\b")
# A README command that serves until stopped: `make run` or `make provider`, variables before.
SERVING = re.compile(r"^(?:[A-Z][A-Z0-9_]*=\S*\s+)*make (run|provider)$")
# The password of the accounts the tests sign up: one no password validator refuses.
NEW_PASSWORD = "tea at six with the March Hare"


def clone_make(destination: Path) -> Path:
    """A copy of what a fresh clone of this working tree holds (uncommitted work included).

    The virtual environment is lent, not built again: CI builds its own from the lock files
    on a fresh clone every run, and building it again here would test pip, not the README.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file():
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    return destination


def newcomer_env(home: Path, **variables: str) -> dict[str, str]:
    """A newcomer's environment: a PATH and a home, and `variables`; nothing else."""
    env = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    return {**env, "HOME": str(home), **variables}


@dataclass
class MadeRun:
    """`make run` serving a fresh clone, as the README starts it, and the other servers the
    README starts beside it (`make provider`).
    """

    clone: Path
    port: int
    log_path: Path
    home: Path
    provider_port: int
    process: "subprocess.Popen[bytes] | None" = None
    provider: "subprocess.Popen[bytes] | None" = None

    @property
    def url(self) -> str:
        """Where it serves."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def named_url(self) -> str:
        """Where it serves, by a host name: browsers make passkeys for a domain only."""
        return f"http://localhost:{self.port}"

    def output(self) -> str:
        """Everything `make run` printed so far."""
        return self.log_path.read_text(errors="replace")

    def printed_login(self) -> tuple[str, str]:
        """The demo account's username and password, as `make run` printed them."""
        found = PRINTED_LOGIN.search(self.output())
        assert found, "make run prints the demo account's login"
        return found[1], found[2]

    def mails(self) -> list[EmailMessage]:
        """The mails printed so far (Django's console backend), oldest first."""
        found = []
        for chunk in self.output().split(MAIL_END)[:-1]:
            start = MAIL_START.search(chunk)
            if start is None:
                continue
            message = email.message_from_string(chunk[start.start() :], policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def links(self) -> list[str]:
        """The links of the mails printed so far, oldest first, as a reader copies them from
        the plain text.
        """
        found = []
        for message in self.mails():
            part = message.get_body(preferencelist=("plain",))
            assert part is not None, "an account mail has a plain-text part"
            found += [link for link in MAIL_LINK.findall(str(part.get_content())) if "key=" in link]
        return found

    def link_after(self, count: int, timeout: float = 20.0) -> str:
        """The newest mail link once more than `count` were printed (mail goes out in the
        background); fails after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            links = self.links()
            if len(links) > count:
                return links[-1]
            time.sleep(0.05)
        raise AssertionError(f"no new mail link in make run's output:\n{self.output()[-3000:]}")

    def newcomer_env(self, **variables: str) -> dict[str, str]:
        """The environment of a newcomer's terminal beside this server."""
        return newcomer_env(self.home, **variables)

    def command(self, text: str) -> str:
        """A README command as a newcomer types it beside these servers."""
        return readme_command(text, self.port, self.provider_port)

    def _launch(self, command: str, log_path: Path) -> "subprocess.Popen[bytes]":
        """`command` typed in a terminal of its own at the clone, its output to `log_path`."""
        with log_path.open("ab") as log:
            return subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", command],
                cwd=self.clone,
                env=self.newcomer_env(PORT=str(self.port), PROVIDER_PORT=str(self.provider_port)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, command: str = "make run") -> None:
        """Start `make run` by `command`; returns once it serves."""
        process = self.process = self._launch(command, self.log_path)
        self._wait(process, f"{self.url}/api/health/", self.output)

    def serve(self, command: str) -> str | None:
        """Run `command` as the README has a reader do if it serves until stopped, in a
        terminal of its own: each is stopped (Ctrl-C) if it serves and started again so. What
        it printed by the time it serves; None, and nothing done, for any other command.
        """
        serving = SERVING.match(command)
        if serving is None:
            return None
        if serving[1] == "run":
            self.stop_make_run()
            start = self.log_path.stat().st_size
            self.start(command)
            return self.output()[start:]
        self.stop_provider()
        log_path = self.clone / "make-provider.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        process = self.provider = self._launch(command, log_path)
        discovery = f"http://127.0.0.1:{self.provider_port}/.well-known/openid-configuration"
        self._wait(process, discovery, lambda: log_path.read_text(errors="replace"))
        server_log_watch(log_path)
        return log_path.read_text(errors="replace")[start:]

    @staticmethod
    def _wait(process: "subprocess.Popen[bytes]", url: str, output: Callable[[], str]) -> None:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while http_answer(url, accept={200}) is None:
            assert process.poll() is None, f"it exited:\n{output()}"
            assert time.monotonic() < deadline, f"it never served:\n{output()}"
            time.sleep(0.2)

    def stop_make_run(self) -> None:
        """Stop make and everything it started (the server and its reloader)."""
        if self.process is not None:
            process_group_stop(self.process)

    def stop_provider(self) -> None:
        """Stop `make provider` if it was started."""
        if self.provider is not None:
            process_group_stop(self.provider)

    def stop(self) -> None:
        """Stop `make run` and the provider started beside it."""
        self.stop_make_run()
        self.stop_provider()


def process_group_stop(process: "subprocess.Popen[bytes]") -> None:
    """Stop `process` and everything it started, as Ctrl-C in its terminal does."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def link_key(link: str) -> str:
    """The `key` a mail link carries, in its fragment or its query string."""
    parts = urlsplit(link)
    keys = parse_qs(parts.fragment).get("key") or parse_qs(parts.query).get("key")
    assert keys, f"the link carries a key: {link}"
    return keys[0]


@pytest.fixture(scope="session")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MadeRun]:
    """`PORT=… make run` in a fresh clone, with a newcomer's environment; stopped at the end."""
    require_service(shutil.which("make") is not None, "make is not installed")
    require_service((ROOT / ".venv" / "bin" / "python").exists(), "no .venv: run `make test`")
    clone = clone_make(tmp_path_factory.mktemp("clone"))
    home = tmp_path_factory.mktemp("home")
    made = MadeRun(
        clone=clone,
        port=free_port(),
        log_path=clone / "make-run.log",
        home=home,
        provider_port=free_port(),
    )
    try:
        made.start()
        server_log_watch(made.log_path)
        yield made
    finally:
        made.stop()


@dataclass(frozen=True)
class Account:
    """An account of a test's own: what its owner signs up and signs in with."""

    username: str
    email: str
    password: str


def verified_text(email: str) -> str:
    """What the SPA says once a verification link of `email` has worked."""
    return f"Your address {email} is verified. You can sign in now."


@pytest.fixture
def new_account() -> Account:
    """A username and an address no account of make run's database has, and a password."""
    username = f"reader-{uuid.uuid4().hex[:12]}"
    return Account(username, f"{username}@example.com", NEW_PASSWORD)


@pytest.fixture
def account(made_run: MadeRun, chromium: Browser, new_account: Account) -> Account:
    """`new_account`, signed up in the SPA and verified by the link of the mail make run
    printed, in a browser profile of its own; not signed in.
    """
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(made_run.url)
        mailed = len(made_run.links())
        sign_up(
            page,
            username=new_account.username,
            email=new_account.email,
            password=new_account.password,
        )
        page.goto(made_run.link_after(mailed))
        verify_by_password(page, new_account.password)
        expect(page.get_by_role("status")).to_have_text(verified_text(new_account.email))
    finally:
        context.close()
    return new_account


@dataclass
class Ran:
    """What a command did in the terminal: its exit status, its output, the curls it made."""

    status: int
    output: str
    # (HTTP status, method, URL) of each curl the command ran, in order.
    curls: list[tuple[int, str, str]]
    # The body of its last curl.
    body: str


class Terminal:
    """One bash, as a newcomer's terminal: commands run one at a time, variables kept.

    Every `curl` also notes its status and body aside (a shell function around it), so that
    the answer of a command whose output went into a variable can be checked too; what the
    command itself prints is unchanged.
    """

    def __init__(self, cwd: Path, env: dict[str, str], workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.curl_log = workdir / "curl.log"
        self.curl_body = workdir / "curl.body"
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.run(
            f"curl() {{ command curl -w '%{{stderr}}@@curl %{{http_code}} %{{method}} "
            f"%{{url_effective}}\\n' \"$@\" 2>>'{self.curl_log}' | tee '{self.curl_body}'; "
            'return "${PIPESTATUS[0]}"; }'
        )

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def run(self, command: str, timeout: float = 120.0) -> Ran:
        """Run `command` as typed at the prompt; what it did."""
        assert self.process.stdin is not None
        marker = f"@@done-{uuid.uuid4().hex}"
        curls_before = self._curls()
        self.curl_body.write_text("")
        self.process.stdin.write(f"{command}\nprintf '\\n{marker} %s\\n' \"$?\"\n")
        self.process.stdin.flush()
        output: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{command!r} did not end within {timeout} s") from None
            if line.startswith(marker):
                status = int(line.split()[1])
                break
            output.append(line)
        text = "".join(output)
        # The newline before the marker is ours, not the command's.
        text = text[:-1] if text.endswith("\n") else text
        curls = self._curls()[len(curls_before) :]
        return Ran(status, text, curls, self.curl_body.read_text(errors="replace"))

    def _curls(self) -> list[tuple[int, str, str]]:
        if not self.curl_log.exists():
            return []
        found = []
        for line in self.curl_log.read_text().splitlines():
            if line.startswith("@@curl "):
                _, status, method, url = line.split(" ", 3)
                found.append((int(status), method, url))
        return found

    def close(self) -> None:
        """End the shell."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def readme_command(text: str, port: int, provider_port: int) -> str:
    """A README command as a newcomer who served on `port`, and the development provider on
    `provider_port`, types it.
    """
    text = DEFAULT_ADDRESS.sub(lambda found: f"{found[1]}:{port}", text)
    return PROVIDER_ADDRESS.sub(lambda found: f"{found[1]}:{provider_port}", text)


README = ROOT / "README.md"
COMPOSE = re.compile(r"\bdocker compose\b")
WALK_THROUGHS = [b for b in blocks(README) if b.language == "sh" and not COMPOSE.search(b.text)]
# The lines of the walk-throughs this process's terminal has followed.
FOLLOWED: set[int] = set()


@pytest.fixture(scope="session")
def terminal(made_run: MadeRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    """The newcomer's terminal at the clone's root, kept through the walk-throughs (whatever
    other tests their worker runs in between).
    """
    shell = Terminal(made_run.clone, made_run.newcomer_env(), tmp_path_factory.mktemp("shell"))
    yield shell
    shell.close()


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


def walk_throughs_follow(block: Block, made_run: MadeRun, terminal: Terminal) -> None:
    """Follow the walk-throughs up to `block` as a reader reads, in order: what an earlier one
    set up (a variable, a login, a server), a later one uses, whatever order the tests run in.
    Each is followed once: one that an earlier test followed was checked then.
    """
    for step in WALK_THROUGHS[: WALK_THROUGHS.index(block) + 1]:
        if step.line not in FOLLOWED:
            walk_through_follow(step, made_run, terminal)
