"""The mobile client against a real server over real HTTP: tokens, refresh, errors, the CLI.

The account flows run against a server that mails a real SMTP server; the second factor
against a server that can keep authenticator secrets, with codes made by pyotp.
"""

import base64
import dataclasses
import hashlib
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework_simplejwt import settings as simplejwt_settings

from bench.processes import free_port
from clients.mobile import DualauthClient, FileTokenStore, MemoryTokenStore, Tokens
from clients.mobile.client import LOGIN_PATH, REFRESH_PATH, key_from
from clients.mobile.client import _error as client_error
from clients.mobile.errors import (
    DpopProofError,
    DualauthError,
    EmailNotVerifiedError,
    InsufficientAuthenticationError,
    InvalidCredentialsError,
    InvalidInputError,
    KeyNotValidError,
    LoginRevokedError,
    MfaCodeNotValidError,
    MfaRequiredError,
    MfaTokenNotValidError,
    NotLoggedInError,
    ReauthenticationRequiredError,
    ServerUnavailableError,
    StoreError,
    ThrottledError,
)
from common.conf import dualauth_settings
from common.models import LoginFamily
from tests.clients.conftest import (
    Traffic,
    audit_events,
    expired_copy,
    login_make_stale,
    totp_code,
    totp_code_wrong,
)
from tests.conftest import require_shared_cache
from tests.live import ROOT, LiveServer
from tests.mail import key_of, link_of, text_of
from tests.oidc import CLIENT_ID, NATIVE_CLIENT_ID, OidcProvider, OidcServer

NEW_PASSWORD = "a brand new passphrase 42"

pytestmark = pytest.mark.server


def current_device_id(client: DualauthClient) -> str:
    """The id of the client's own login."""
    return next(device["id"] for device in client.devices() if device["current"])


def second_login(server: LiveServer, user: User, password: str) -> DualauthClient:
    """Another device of the same user, tokens in memory."""
    other = DualauthClient(server.url, store=MemoryTokenStore())
    other.login(user.username, password)
    return other


class LoseFirstRefreshReply(httpx.BaseTransport):
    """A real transport that lets the first refresh reach the server, then loses its reply."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost: list[dict[str, object]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward `request`; drop the first refresh reply after the server has answered."""
        response = self.inner.handle_request(request)
        if request.url.path == REFRESH_PATH and not self.lost:
            response.read()
            self.lost.append({"status": response.status_code, **json.loads(response.content)})
            response.close()
            raise httpx.ReadError("connection reset before the reply arrived", request=request)
        return response

    def close(self) -> None:
        """Close the real transport."""
        self.inner.close()


def test_login_reads_and_edits_the_profile(alice_mobile):
    assert alice_mobile.profile()["username"] == "alice"

    updated = alice_mobile.profile_update(display_name="Alice L.", bio="Hello")

    assert (updated["display_name"], updated["bio"]) == ("Alice L.", "Hello")
    assert alice_mobile.profile()["display_name"] == "Alice L."


def test_invalid_input_is_an_error_naming_the_field(alice_mobile):
    with pytest.raises(InvalidInputError) as caught:
        alice_mobile.profile_update(display_name="x" * 101)

    assert caught.value.code == "validation_error"
    assert "display_name" in caught.value.errors


def test_the_store_file_is_readable_by_its_owner_alone(alice_mobile, token_path):
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in token_path.parent.iterdir()) == [
        "tokens.device.json",
        "tokens.dpop.pem",
        "tokens.json",
    ]
    for path in token_path.parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_store_file_is_private_even_under_a_permissive_umask(tmp_path):
    store = FileTokenStore(tmp_path / "tokens.json")
    previous = os.umask(0)
    try:
        store.save(Tokens("a", "r", expires_at=1.0, refresh_at=1.0))
        store.save(Tokens("a2", "r2", expires_at=2.0, refresh_at=2.0))
    finally:
        os.umask(previous)

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == Tokens("a2", "r2", expires_at=2.0, refresh_at=2.0)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_store_file_that_others_can_read_is_refused(alice_mobile, token_path, mode):
    token_path.chmod(mode)

    with pytest.raises(StoreError, match="chmod 600"):
        alice_mobile.profile()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_the_device_token_file_is_private_and_refused_when_others_can_read_it(
    alice_mobile, live_user, password, token_path, traffic, mode
):
    device_path = FileTokenStore(token_path).device_path
    assert stat.S_IMODE(device_path.stat().st_mode) == 0o600
    device_path.chmod(mode)
    traffic.clear()

    with pytest.raises(StoreError, match="chmod 600"):
        alice_mobile.login(live_user.username, password)

    assert traffic.sent == []


def test_the_access_token_is_refreshed_at_its_refresh_time_and_not_before(
    alice_mobile, token_path, traffic, clock
):
    before = FileTokenStore(token_path).load()
    assert before is not None
    lifetime = simplejwt_settings.api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()
    assert before.expires_at == clock() + lifetime
    assert clock() < before.refresh_at < before.expires_at

    clock.move_to(before.refresh_at - 1)
    traffic.clear()
    assert alice_mobile.profile()["username"] == "alice"
    assert traffic.received == [("/api/jwt/profile/", 200)]

    clock.move_to(before.refresh_at)
    traffic.clear()
    assert alice_mobile.profile()["username"] == "alice"
    assert traffic.received == [(REFRESH_PATH, 200), ("/api/jwt/profile/", 200)]
    after = FileTokenStore(token_path).load()
    assert after is not None
    assert (after.access, after.refresh) != (before.access, before.refresh)
    assert after.expires_at == before.refresh_at + lifetime


def test_a_401_token_not_valid_refreshes_once_and_retries(alice_mobile, token_path, traffic):
    store = FileTokenStore(token_path)
    tokens = store.load()
    assert tokens is not None
    # By the client's clock the token is fresh: only the server's 401 tells it otherwise.
    store.save(dataclasses.replace(tokens, access=expired_copy(tokens.access)))
    traffic.clear()

    assert alice_mobile.profile()["username"] == "alice"

    assert traffic.received == [
        ("/api/jwt/profile/", 401),
        (REFRESH_PATH, 200),
        ("/api/jwt/profile/", 200),
    ]


def test_concurrent_requests_after_expiry_share_one_refresh(
    alice_mobile, token_server, token_path, traffic, clock
):
    family_id = current_device_id(alice_mobile)
    refreshed_before = audit_events(token_server, "refresh", family_id)
    tokens = FileTokenStore(token_path).load()
    assert tokens is not None
    clock.move_to(tokens.expires_at)
    traffic.clear()
    start = threading.Barrier(8)

    def read_profile() -> str:
        start.wait()
        return alice_mobile.profile()["username"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        usernames = list(pool.map(lambda _: read_profile(), range(8)))

    assert usernames == ["alice"] * 8
    assert len(traffic.refreshes()) == 1
    assert audit_events(token_server, "refresh", family_id) == refreshed_before + 1


def test_a_lost_refresh_reply_is_retried_with_the_same_token_and_keeps_the_login(
    live_user, password, token_server, token_path, clock
):
    transport = LoseFirstRefreshReply()
    traffic = Traffic()
    store = FileTokenStore(token_path)
    client = DualauthClient(
        token_server.url,
        store=store,
        transport=transport,
        event_hooks=traffic.hooks(),
        clock=clock,
    )
    client.login(live_user.username, password)
    family_id = current_device_id(client)
    tokens = store.load()
    assert tokens is not None
    clock.move_to(tokens.expires_at)

    assert client.profile()["username"] == "alice"

    first, retry = traffic.refreshes()
    assert first == retry
    lost = transport.lost[0]
    assert lost["status"] == 200
    stored = FileTokenStore(token_path).load()
    assert stored is not None
    assert stored.refresh == lost["refresh"] != first
    assert audit_events(token_server, "reuse_detected", family_id) == 0
    assert current_device_id(client) == family_id
    client.close()


@pytest.mark.parametrize("expired", [False, True], ids=["access-live", "access-expired"])
def test_a_revoked_device_gets_the_revoked_error_and_its_store_is_cleared(
    alice_mobile, token_server, live_user, password, token_path, clock, expired
):
    other = second_login(token_server, live_user, password)
    target = next(device["id"] for device in other.devices() if not device["current"])
    other.device_revoke(target)
    if expired:
        # The client refreshes first, and the refresh is what the server refuses.
        tokens = FileTokenStore(token_path).load()
        assert tokens is not None
        clock.move_to(tokens.expires_at)

    with pytest.raises(LoginRevokedError) as caught:
        alice_mobile.profile()

    assert caught.value.code == "token_revoked"
    assert not token_path.exists()
    with pytest.raises(NotLoggedInError):
        alice_mobile.profile()
    assert other.profile()["username"] == "alice"
    other.close()


def test_logout_revokes_this_login_and_forgets_its_tokens(alice_mobile, token_server, token_path):
    tokens = FileTokenStore(token_path).load()
    assert tokens is not None

    alice_mobile.logout()

    assert not token_path.exists()
    refused = httpx.post(f"{token_server.url}{REFRESH_PATH}", json={"refresh": tokens.refresh})
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")


def test_logout_all_ends_every_login_of_the_user(
    alice_mobile, token_server, live_user, password, token_path
):
    other = second_login(token_server, live_user, password)

    alice_mobile.logout_all()

    assert not token_path.exists()
    with pytest.raises(LoginRevokedError):
        other.profile()
    assert other.store.load() is None
    other.close()


@pytest.mark.parametrize(
    "end", [DualauthClient.logout, DualauthClient.logout_all], ids=["logout", "logout-all"]
)
def test_the_device_token_is_kept_through_logout_sent_with_the_next_login_and_replaced(
    alice_mobile, live_user, password, token_path, traffic, end
):
    store = FileTokenStore(token_path)
    first = store.device_token_load()
    assert first

    end(alice_mobile)

    assert store.load() is None
    assert store.device_token_load() == first
    traffic.clear()
    alice_mobile.login(live_user.username, password)
    (sent,) = [request for request in traffic.sent if request.url.path == LOGIN_PATH]
    assert json.loads(sent.content)["device_token"] == first
    second = store.device_token_load()
    assert second is not None
    assert second != first


def test_a_memory_store_keeps_the_device_token_when_it_forgets_the_tokens():
    store = MemoryTokenStore()
    store.save(Tokens("a", "r", expires_at=1.0, refresh_at=1.0))
    store.device_token_save("device")

    store.clear()

    assert (store.load(), store.device_token_load()) == (None, "device")


def test_a_wrong_password_is_an_invalid_credentials_error(mobile, live_user, token_path):
    with pytest.raises(InvalidCredentialsError) as caught:
        mobile.login(live_user.username, "wrong password")

    assert (caught.value.code, caught.value.status) == ("invalid_credentials", 401)
    assert not token_path.exists()


def test_a_throttled_login_says_when_to_retry(strict_throttle, live_user, password, tmp_path):
    client = DualauthClient(strict_throttle.url, store=FileTokenStore(tmp_path / "t.json"))
    for _ in range(2):
        with pytest.raises(InvalidCredentialsError):
            client.login(live_user.username, "wrong password")

    with pytest.raises(ThrottledError) as caught:
        client.login(live_user.username, password)

    assert caught.value.code == "throttled"
    assert caught.value.retry_after > 0
    client.close()


def test_an_attacker_who_locks_the_username_does_not_lock_out_a_device_that_logged_in_before(
    alice_mobile, token_server, live_user, password
):
    alice_mobile.logout()
    limit = dualauth_settings.LOGIN_FAILURES_PER_USERNAME
    guesses = {"username": live_user.username, "password": "wrong password"}
    statuses = [
        httpx.post(f"{token_server.url}{LOGIN_PATH}", json=guesses).status_code
        for _ in range(limit + 1)
    ]
    assert statuses == [401] * limit + [429]

    alice_mobile.login(live_user.username, password)

    assert alice_mobile.profile()["username"] == "alice"
    stranger = DualauthClient(token_server.url, store=MemoryTokenStore())
    with pytest.raises(ThrottledError):
        stranger.login(live_user.username, password)
    stranger.close()


def test_a_server_that_is_down_is_a_server_unavailable_error(tmp_path):
    store = FileTokenStore(tmp_path / "tokens.json")
    client = DualauthClient(f"http://127.0.0.1:{free_port()}", store=store)

    with pytest.raises(ServerUnavailableError) as caught:
        client.login("alice", "whatever")

    assert caught.value.code == "server_unavailable"
    client.close()


def test_a_refresh_that_cannot_reach_the_server_keeps_the_tokens(tmp_path):
    store = FileTokenStore(tmp_path / "tokens.json")
    tokens = Tokens("access", "refresh", expires_at=0.0, refresh_at=0.0)
    store.save(tokens)
    client = DualauthClient(f"http://127.0.0.1:{free_port()}", store=store)

    with pytest.raises(ServerUnavailableError):
        client.profile()

    assert store.load() == tokens
    client.close()


def cli(
    server: str, store: Path, *args: str, stdin: str | None = None, options_first: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the command line client in a new process; options go after the command or before."""
    options = ["--server", server, "--store", str(store)]
    argv = [*options, *args] if options_first else [*args, *options]
    return subprocess.run(
        [sys.executable, "-m", "clients.mobile", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_the_cli_logs_in_edits_lists_revokes_and_logs_out(
    token_server, live_user, password, token_path
):
    url = token_server.url
    login = cli(url, token_path, "login", "alice", "--password-stdin", stdin=f"{password}\n")
    assert login.returncode == 0, login.stderr
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600

    edit = cli(url, token_path, "edit", "--display-name", "Al", "--bio", "from the CLI")
    assert edit.returncode == 0, edit.stderr
    profile = cli(url, token_path, "profile", options_first=True)
    assert "username: alice" in profile.stdout
    assert "display_name: Al" in profile.stdout

    other = second_login(token_server, live_user, password)
    devices = cli(url, token_path, "devices").stdout.splitlines()
    assert len(devices) == 2
    mine = [line for line in devices if line.startswith("*")]
    assert len(mine) == 1
    others = [line.split()[0] for line in devices if not line.startswith("*")]
    revoke = cli(url, token_path, "revoke", others[0])
    assert revoke.returncode == 0, revoke.stderr
    with pytest.raises(LoginRevokedError):
        other.profile()

    assert cli(url, token_path, "logout").returncode == 0
    assert not token_path.exists()
    after = cli(url, token_path, "profile")
    assert after.returncode != 0
    assert after.stderr.strip() == (
        "error: not logged in: run `python -m clients.mobile login USERNAME` first"
    )
    other.close()


def test_the_cli_says_a_wrong_password_in_one_line(token_server, live_user, token_path):
    result = cli(token_server.url, token_path, "login", "alice", "--password-stdin", stdin="nope\n")

    assert result.returncode != 0
    assert result.stderr.splitlines() == ["error: wrong username or password"]
    assert not token_path.exists()


def test_the_cli_refuses_a_world_readable_store(token_server, live_user, password, token_path):
    cli(token_server.url, token_path, "login", "alice", "--password-stdin", stdin=password)
    token_path.chmod(0o644)

    result = cli(token_server.url, token_path, "profile")

    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1
    assert "chmod 600" in result.stderr


def test_the_cli_says_when_the_server_is_down(tmp_path):
    result = cli(
        f"http://127.0.0.1:{free_port()}",
        tmp_path / "t.json",
        "login",
        "alice",
        "--password-stdin",
        stdin="pw\n",
    )

    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1
    assert "cannot reach the server" in result.stderr


Answer = str | Callable[[str], str]


def cli_in_terminal(
    server: str, store: Path, *args: str, answers: list[tuple[str, Answer]]
) -> tuple[int, str]:
    """Run the command line client in a pseudo-terminal; its exit code and what the terminal showed.

    Each answer is typed once its prompt shows, in order; a callable answer is called then,
    with what the terminal showed so far.
    """
    controller, terminal = pty.openpty()
    # A session of its own has no controlling terminal: getpass uses this one, not the tester's.
    process = subprocess.Popen(
        [sys.executable, "-m", "clients.mobile", *args, "--server", server, "--store", str(store)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(terminal)
    shown, answered_up_to, pending = b"", 0, list(answers)
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], deadline - time.monotonic())
            assert ready, f"the CLI hung; it showed: {shown.decode(errors='replace')}"
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the client closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            while pending and pending[0][0].encode() in shown[answered_up_to:]:
                prompt, answer = pending.pop(0)
                answered_up_to = shown.index(prompt.encode(), answered_up_to) + len(prompt)
                if callable(answer):
                    answer = answer(shown.decode(errors="replace"))
                os.write(controller, f"{answer}\n".encode())
        return process.wait(timeout=60), shown.decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()


def tampered(key: str) -> str:
    """`key` with one character of its signature changed (a middle one: all its bits count)."""
    signed, _, signature = key.rpartition(".")
    middle = len(signature) // 2
    other = "A" if signature[middle] != "A" else "B"
    return f"{signed}.{signature[:middle]}{other}{signature[middle + 1 :]}"


def test_a_signup_mails_a_key_that_verifies_the_address_and_only_then_logs_in(
    mail_mobile, smtp_server, new_address, password, transactional_db
):
    email = new_address("sam")

    answer = mail_mobile.signup(username="sam", email=email, password=password)

    assert answer["code"] == "verification_sent"
    (mail,) = smtp_server.wait(email)
    with pytest.raises(EmailNotVerifiedError) as caught:
        mail_mobile.login("sam", password)
    assert (caught.value.code, caught.value.status) == ("email_not_verified", 403)
    assert mail_mobile.store.load() is None
    with pytest.raises(InvalidCredentialsError):
        mail_mobile.login("sam", "wrong password")
    # The key alone verifies no account: its password is asked, and the key still works.
    for wrong in (None, "wrong password"):
        with pytest.raises(InvalidInputError) as refused:
            mail_mobile.email_verify(key=key_of(mail), password=wrong)
        assert "password" in refused.value.errors

    verified = mail_mobile.email_verify(key=key_of(mail), password=password)

    assert verified == {"email": email, "verified": True}

    mail_mobile.login("sam", password)
    assert mail_mobile.account() == {
        "username": "sam",
        "email": email,
        "email_verified": True,
        "mfa": {"totp": False, "passkeys": 0, "recovery_codes_left": 0},
    }


def test_the_cli_signs_up_by_asking_and_verifies_with_the_whole_link_from_the_mail(
    mail_server, smtp_server, new_address, password, token_path, transactional_db
):
    url, email = mail_server.url, new_address("sam")
    signup = cli(url, token_path, "signup", "--password-stdin", stdin=f"sam\n{email}\n{password}\n")
    assert signup.returncode == 0, signup.stderr
    assert "verify LINK" in signup.stdout
    first = smtp_server.wait(email)[0]
    resend = cli(url, token_path, "resend-verification", email)
    assert resend.returncode == 0, resend.stderr
    second = smtp_server.wait(email, count=2)[1]

    unproven = cli(url, token_path, "verify", link_of(second), "--password-stdin", stdin="\n")
    assert unproven.returncode == 1
    assert unproven.stderr.startswith("error: invalid input: password: ")
    assert len(unproven.stderr.splitlines()) == 1

    verify = cli(
        url, token_path, "verify", link_of(second), "--password-stdin", stdin=f"{password}\n"
    )

    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.strip() == f"verified {email}"
    # Verifying changed the state that the first key was bound to.
    used = cli(url, token_path, "verify", link_of(first), "--password-stdin", stdin=f"{password}\n")
    assert used.returncode == 1
    assert used.stderr.splitlines() == [
        "error: This link is not valid: it was used, it expired, or it is not ours. (key_not_valid)"
    ]
    login = cli(url, token_path, "login", "sam", "--password-stdin", stdin=f"{password}\n")
    assert login.returncode == 0, login.stderr


def test_the_cli_asks_for_the_pasted_link_and_the_password_without_echo_in_a_terminal(
    mail_mobile, mail_server, smtp_server, new_address, password, token_path, transactional_db
):
    email = new_address("sam")
    mail_mobile.signup(username="sam", email=email, password=password)
    link = link_of(smtp_server.wait(email)[0])

    status, shown = cli_in_terminal(
        mail_server.url,
        token_path,
        "verify",
        answers=[
            ("Link (or key) from the mail: ", link),
            ("Password of the new account (empty for an address change): ", password),
        ],
    )

    assert status == 0, shown
    assert f"verified {email}" in shown
    assert password not in shown, "the password is typed without echo"
    mail_mobile.login("sam", password)


def test_the_cli_tells_an_unverified_account_how_to_verify_in_one_line(
    mail_mobile, mail_server, smtp_server, new_address, password, token_path, transactional_db
):
    email = new_address("sam")
    mail_mobile.signup(username="sam", email=email, password=password)

    login = cli(mail_server.url, token_path, "login", "sam", "--password-stdin", stdin=password)

    assert login.returncode == 1
    assert login.stderr.splitlines() == [
        "error: your address is not verified yet: follow the link mailed to it, "
        "or run `python -m clients.mobile resend-verification EMAIL`"
    ]
    assert not token_path.exists()


def test_a_password_reset_ends_every_login_and_only_the_new_password_logs_in(
    mail_mobile, mail_server, smtp_server, mail_user, password, traffic, tmp_path
):
    mail_mobile.login(mail_user.username, password)
    other = second_login(mail_server, mail_user, password)
    traffic.clear()

    mail_mobile.password_reset(email=mail_user.email)

    # Logged in or not, the public endpoints get no credential.
    assert [request.headers.get("Authorization") for request in traffic.sent] == [None]
    (mail,) = smtp_server.wait(mail_user.email)
    confirm = cli(
        mail_server.url,
        tmp_path / "cli.json",
        "reset-password-confirm",
        link_of(mail),
        "--password-stdin",
        stdin=f"{NEW_PASSWORD}\n",
    )
    assert confirm.returncode == 0, confirm.stderr
    with pytest.raises(LoginRevokedError):
        mail_mobile.profile()
    assert mail_mobile.store.load() is None
    with pytest.raises(LoginRevokedError):
        other.profile()
    with pytest.raises(InvalidCredentialsError):
        mail_mobile.login(mail_user.username, password)
    mail_mobile.login(mail_user.username, NEW_PASSWORD)
    assert mail_mobile.profile()["username"] == mail_user.username
    with pytest.raises(KeyNotValidError):
        mail_mobile.password_reset_confirm(key=key_of(mail), new_password="yet another passphrase")
    other.close()


def test_a_tampered_key_is_a_key_not_valid_error_and_the_true_key_still_works(
    mail_mobile, smtp_server, mail_user, password
):
    mail_mobile.password_reset(email=mail_user.email)
    key = key_of(smtp_server.wait(mail_user.email)[0])

    with pytest.raises(KeyNotValidError) as caught:
        mail_mobile.password_reset_confirm(key=tampered(key), new_password=NEW_PASSWORD)

    assert (caught.value.code, caught.value.status) == ("key_not_valid", 400)
    with pytest.raises(KeyNotValidError):
        mail_mobile.email_verify(key=tampered(key))
    mail_mobile.password_reset_confirm(key=key, new_password=NEW_PASSWORD)
    mail_mobile.login(mail_user.username, NEW_PASSWORD)


@pytest.mark.parametrize(
    "text",
    [
        "KEY.2x.Sig-_",
        "http://127.0.0.1:8000/#action=verify-email&key=KEY.2x.Sig-_",
        "  https://app.example/spa/#action=undo&key=KEY.2x.Sig-_\n",
        "http://127.0.0.1:8000/?action=verify-email&key=KEY.2x.Sig-_",
        "  https://app.example/#/welcome?action=reset-password&key=KEY.2x.Sig-_\n",
        "action=verify-email&key=KEY.2x.Sig-_",
    ],
    ids=["key", "link", "pasted-link", "query-link", "app-route-link", "parameters"],
)
def test_a_key_is_taken_bare_or_from_the_link_that_holds_it(text):
    assert key_from(text) == "KEY.2x.Sig-_"


@pytest.mark.parametrize(
    "link", ["http://127.0.0.1:8000/?action=forgot-password", "http://127.0.0.1:8000/#action=undo"]
)
def test_a_link_without_a_key_is_refused_before_anything_is_sent(mobile, traffic, link):
    with pytest.raises(KeyNotValidError, match="holds no key"):
        mobile.email_verify(key=link)
    with pytest.raises(KeyNotValidError, match="holds no key"):
        mobile.signin_change_undo(key=link)

    assert traffic.sent == []


def test_the_mail_after_the_last_one_allowed_to_an_address_is_throttled_with_retry_after(
    mail_mobile, mail_server, new_address, token_path
):
    email, limit = new_address("flood"), dualauth_settings.ACCOUNT_MAILS_PER_EMAIL
    first = cli(mail_server.url, token_path, "reset-password", email)
    assert first.returncode == 0, first.stderr
    assert "a mail is on its way" in first.stdout
    for _ in range(limit - 1):
        assert mail_mobile.password_reset(email=email)["code"] == "mail_sent"

    with pytest.raises(ThrottledError) as caught:
        mail_mobile.password_reset(email=email)

    assert caught.value.code == "throttled"
    window = dualauth_settings.ACCOUNT_THROTTLE_WINDOW.total_seconds()
    assert 0 < caught.value.retry_after <= window
    throttled = cli(mail_server.url, token_path, "reset-password", email)
    assert throttled.returncode == 1
    (line,) = throttled.stderr.splitlines()
    assert re.fullmatch(r"error: too many attempts: try again in \d+ s", line)


def test_reauthentication_takes_the_password_and_refuses_a_wrong_one_or_a_code_with_typed_errors(
    alice_mobile, token_server, password, token_path
):
    with pytest.raises(InvalidInputError) as wrong:
        alice_mobile.reauthenticate(password="wrong password")
    assert list(wrong.value.errors) == ["password"]
    with pytest.raises(MfaCodeNotValidError) as code:
        alice_mobile.reauthenticate(code="123456")
    assert (code.value.code, code.value.status) == ("mfa_code_not_valid", 400)

    before = timezone.now()
    until = alice_mobile.reauthenticate(password=password)["reauthenticated_until"]

    assert datetime.fromisoformat(until) >= before + dualauth_settings.REAUTH_WINDOW
    again = cli(token_server.url, token_path, "reauthenticate", "--password-stdin", stdin=password)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("confirmed: sensitive actions are open until ")


def test_failures_elsewhere_do_not_keep_this_device_from_reauthenticating(
    alice_mobile, token_server, live_user, password
):
    for _ in range(dualauth_settings.LOGIN_FAILURES_PER_USERNAME + 1):
        httpx.post(
            f"{token_server.url}{LOGIN_PATH}",
            json={"username": live_user.username, "password": "wrong password"},
        )
    elsewhere = DualauthClient(token_server.url, store=MemoryTokenStore())
    with elsewhere, pytest.raises(ThrottledError):
        elsewhere.login(live_user.username, password)

    assert alice_mobile.reauthenticate(password=password)["reauthenticated_until"]


def test_the_cli_changes_the_email_of_a_login_that_is_not_fresh_after_asking_the_password(
    mail_server, smtp_server, mail_user, password, new_address, token_path
):
    url, old, new = mail_server.url, mail_user.email, new_address("alice-new")
    login = cli(url, token_path, "login", mail_user.username, "--password-stdin", stdin=password)
    assert login.returncode == 0, login.stderr
    client = DualauthClient(url, store=FileTokenStore(token_path))
    family_id = current_device_id(client)
    login_make_stale(family_id)
    with pytest.raises(ReauthenticationRequiredError) as caught:
        client.email_change(email=new)
    assert (caught.value.code, caught.value.status) == ("reauthentication_required", 403)
    assert client.store.load() is not None
    before = timezone.now()

    status, shown = cli_in_terminal(
        url,
        token_path,
        "change-email",
        new,
        answers=[("Confirm your password to go on: ", password)],
    )

    assert status == 0, shown
    assert password not in shown, "the password is typed without echo"
    assert LoginFamily.objects.get(pk=family_id).authenticated_at >= before
    (change,) = smtp_server.wait(new)
    assert f"email: {old}" in cli(url, token_path, "account").stdout.splitlines()
    # An address change's key needs no password: an empty line sends none.
    verify = cli(url, token_path, "verify", key_of(change), "--password-stdin", stdin="\n")
    assert verify.stdout.strip() == f"verified {new}", verify.stderr
    account = cli(url, token_path, "account").stdout.splitlines()
    assert {f"email: {new}", "email_verified: True"} <= set(account)
    (told,) = smtp_server.wait(old)
    assert new in text_of(told)
    client.close()


def test_the_cli_undoes_an_email_change_by_a_link_pasted_in_a_terminal_and_every_login_ends(
    mail_mobile, mail_server, smtp_server, mail_user, password, new_address, tmp_path
):
    # Someone with the password moves the account to an address of theirs.
    old, new = mail_user.email, new_address("thief")
    mail_mobile.login(mail_user.username, password)
    mail_mobile.email_change(email=new)
    mail_mobile.email_verify(key=key_of(smtp_server.wait(new)[0]))
    (told,) = smtp_server.wait(old)

    status, shown = cli_in_terminal(
        mail_server.url,
        tmp_path / "cli.json",
        "undo",
        answers=[("Link (or key) from the mail: ", link_of(told)), ("[y/N] ", "y")],
    )

    assert status == 0, shown
    assert "undone: the address was changed" in shown
    assert "reset-password-confirm LINK" in shown
    with pytest.raises(LoginRevokedError):
        mail_mobile.profile()
    assert User.objects.get(pk=mail_user.pk).email == old
    reset = smtp_server.wait(old, count=2)[-1]
    assert "action=reset-password" in link_of(reset)
    with pytest.raises(InvalidCredentialsError):
        mail_mobile.login(mail_user.username, password)
    again = cli(mail_server.url, tmp_path / "cli.json", "undo", link_of(told), "--yes")
    assert again.returncode == 1
    assert again.stderr.startswith("error: This link is not valid")


def test_the_cli_deletes_the_account_with_the_password_on_stdin_and_forgets_every_token(
    mail_server, mail_user, password, token_path
):
    url = mail_server.url
    login = cli(url, token_path, "login", mail_user.username, "--password-stdin", stdin=password)
    assert login.returncode == 0, login.stderr
    store = FileTokenStore(token_path)
    client = DualauthClient(url, store=store)
    login_make_stale(current_device_id(client))
    with pytest.raises(ReauthenticationRequiredError):
        client.account_delete()
    assert store.load() is not None
    assert store.device_token_load() is not None

    delete = cli(
        url, token_path, "delete-account", "--yes", "--password-stdin", stdin=f"{password}\n"
    )

    assert delete.returncode == 0, delete.stderr
    assert (token_path.exists(), store.device_path.exists()) == (False, False)
    assert not User.objects.filter(pk=mail_user.pk).exists()
    with pytest.raises(InvalidCredentialsError):
        client.login(mail_user.username, password)
    client.close()


def test_the_cli_deletes_nothing_unless_the_deletion_is_confirmed(
    token_server, live_user, password, token_path
):
    url = token_server.url
    cli(url, token_path, "login", live_user.username, "--password-stdin", stdin=password)

    refused = cli(url, token_path, "delete-account", stdin="n\n")

    assert refused.returncode == 1
    question, error = refused.stderr.splitlines()
    assert question.startswith(f"Delete the account alice ({live_user.email})")
    assert error == "error: nothing deleted (not_confirmed)"
    assert User.objects.filter(pk=live_user.pk).exists()
    assert token_path.exists()


def bearer_profile(server: LiveServer, store: FileTokenStore) -> httpx.Response:
    """GET /api/jwt/profile/ with the access token in `store`, sent by hand: with a proof of
    the store's key when the login is bound to it.
    """
    tokens = store.load()
    assert tokens is not None
    url = f"{server.url}/api/jwt/profile/"
    key = store.dpop_key_load()
    if not tokens.bound or key is None:
        return httpx.get(url, headers={"Authorization": f"Bearer {tokens.access}"})
    proof = key.proof(method="GET", url=url, access_token=tokens.access)
    return httpx.get(url, headers={"Authorization": f"DPoP {tokens.access}", "DPoP": proof})


def printed_codes(shown: str) -> list[str]:
    """The recovery codes the CLI printed: the indented lines under its warning."""
    after = shown.split("store them somewhere safe now.", 1)[1]
    return [line.strip() for line in after.splitlines() if line.startswith("  ")]


def test_the_cli_asks_a_totp_user_for_the_code_again_after_a_wrong_one_and_stores_nothing_before(
    mfa_server, totp_user, password, token_path
):
    code_prompt = "Code from your authenticator app (or a recovery code): "

    def code(right: bool) -> Callable[[str], str]:
        def typed(shown: str) -> str:
            # The password was right, yet until the code is there is no login to store.
            assert not token_path.exists(), shown
            return totp_code(totp_user.secret) if right else totp_code_wrong(totp_user.secret)

        return typed

    status, shown = cli_in_terminal(
        mfa_server.url,
        token_path,
        "login",
        "alice",
        answers=[("Password: ", password), (code_prompt, code(False)), (code_prompt, code(True))],
    )

    assert status == 0, shown
    assert "That code did not work; try again." in shown
    assert f"logged in to {mfa_server.url} as alice" in shown
    store = FileTokenStore(token_path)
    profile = bearer_profile(mfa_server, store)
    assert (profile.status_code, profile.json()["username"]) == (200, "alice")
    assert profile.headers["Auth-Mode"] == "jwt-header"
    assert store.device_token_load()


def test_a_password_alone_stores_nothing_and_the_code_logs_in_with_the_device_token(
    mfa_mobile, mfa_server, totp_user, password, token_path, traffic
):
    store = FileTokenStore(token_path)

    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)

    pending = caught.value
    assert {"totp", "recovery_code"} <= set(pending.methods)
    assert pending.expires_in == dualauth_settings.MFA_TOKEN_LIFETIME.total_seconds()
    assert pending.mfa_token not in repr(pending)
    assert (store.load(), store.device_token_load()) == (None, None)
    with pytest.raises(MfaCodeNotValidError) as wrong:
        mfa_mobile.mfa_authenticate(pending.mfa_token, totp_code_wrong(totp_user.secret))
    assert (wrong.value.code, wrong.value.status) == ("mfa_code_not_valid", 400)
    assert store.load() is None

    mfa_mobile.mfa_authenticate(pending.mfa_token, totp_code(totp_user.secret))

    assert bearer_profile(mfa_server, store).json()["username"] == "alice"
    assert mfa_mobile.profile()["username"] == "alice"
    device_token = store.device_token_load()
    assert device_token
    with pytest.raises(MfaTokenNotValidError) as reused:
        mfa_mobile.mfa_authenticate(pending.mfa_token, totp_code(totp_user.secret, 1))
    assert (reused.value.code, reused.value.status) == ("mfa_token_not_valid", 400)
    # The next login, second step and all, sends the device token and keeps the new one.
    mfa_mobile.logout()
    traffic.clear()
    with pytest.raises(MfaRequiredError) as again:
        mfa_mobile.login("alice", password)
    (sent,) = [request for request in traffic.sent if request.url.path == LOGIN_PATH]
    assert json.loads(sent.content)["device_token"] == device_token
    mfa_mobile.mfa_authenticate(again.value.mfa_token, totp_code(totp_user.secret, 1))
    assert store.device_token_load() not in (None, device_token)


def test_a_recovery_code_completes_one_login_only_and_is_counted(mfa_mobile, totp_user, password):
    first, second = totp_user.recovery_codes[:2]
    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)

    mfa_mobile.mfa_authenticate(caught.value.mfa_token, first)

    assert mfa_mobile.recovery_codes_status() == dualauth_settings.RECOVERY_CODE_COUNT - 1
    mfa_mobile.logout()
    with pytest.raises(MfaRequiredError) as again:
        mfa_mobile.login("alice", password)
    with pytest.raises(MfaCodeNotValidError):
        mfa_mobile.mfa_authenticate(again.value.mfa_token, first)
    assert mfa_mobile.store.load() is None
    # A wrong code leaves the pending login open for the next try.
    mfa_mobile.mfa_authenticate(again.value.mfa_token, second)
    assert mfa_mobile.recovery_codes_status() == dualauth_settings.RECOVERY_CODE_COUNT - 2


def test_the_cli_takes_the_code_from_an_option_or_the_next_line_and_says_a_wrong_one_in_one_line(
    mfa_server, totp_user, password, token_path
):
    url, wrong = mfa_server.url, totp_code_wrong(totp_user.secret)
    refused = cli(
        url, token_path, "login", "alice", "--password-stdin", "--code", wrong, stdin=password
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: that code is wrong, or was used already (mfa_code_not_valid)"
    ]
    assert not token_path.exists()

    piped = cli(
        url,
        token_path,
        "login",
        "alice",
        "--password-stdin",
        stdin=f"{password}\n{totp_code(totp_user.secret)}\n",
    )

    assert piped.returncode == 0, piped.stderr
    assert bearer_profile(mfa_server, FileTokenStore(token_path)).status_code == 200
    by_option = cli(
        url,
        token_path,
        "login",
        "alice",
        "--password-stdin",
        "--code",
        totp_user.recovery_codes[0],
        stdin=password,
    )
    assert by_option.returncode == 0, by_option.stderr
    assert "recovery codes left: 9" in cli(url, token_path, "recovery-codes").stdout


def test_the_cli_turns_on_an_authenticator_app_whose_secret_and_printed_recovery_codes_log_in(
    mfa_server, mfa_mobile, live_user, password, token_path
):
    url = mfa_server.url
    login = cli(url, token_path, "login", "alice", "--password-stdin", stdin=password)
    assert login.returncode == 0, login.stderr
    secrets_shown = []

    def code(shown: str) -> str:
        (secret,) = re.findall(r"or type in this secret: ([A-Z2-7]+)", shown)
        secrets_shown.append(secret)
        return totp_code(secret)

    status, shown = cli_in_terminal(
        url, token_path, "totp-enable", answers=[("Code from your authenticator app: ", code)]
    )

    assert status == 0, shown
    (secret,) = secrets_shown
    (otpauth,) = re.findall(r"otpauth://\S+", shown)
    query = parse_qs(urlsplit(otpauth).query)
    assert (query["secret"], query["issuer"]) == ([secret], [dualauth_settings.TOTP_ISSUER])
    codes = printed_codes(shown)
    assert len(set(codes)) == dualauth_settings.RECOVERY_CODE_COUNT
    assert "mfa.totp: True" in cli(url, token_path, "account").stdout.splitlines()
    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)
    mfa_mobile.mfa_authenticate(caught.value.mfa_token, codes[-1])
    mfa_mobile.logout()
    with pytest.raises(MfaRequiredError) as again:
        mfa_mobile.login("alice", password)
    mfa_mobile.mfa_authenticate(again.value.mfa_token, totp_code(secret, 1))
    twice = cli(url, token_path, "totp-enable")
    assert twice.returncode == 1
    assert "the authenticator app is on already" in twice.stderr


def test_the_cli_turns_the_app_off_after_asking_the_password_of_a_login_that_is_not_fresh(
    mfa_server, mfa_mobile, totp_user, password, token_path
):
    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)
    mfa_mobile.mfa_authenticate(caught.value.mfa_token, totp_code(totp_user.secret))
    login_make_stale(current_device_id(mfa_mobile))
    with pytest.raises(ReauthenticationRequiredError):
        mfa_mobile.totp_disable()

    status, shown = cli_in_terminal(
        mfa_server.url,
        token_path,
        "totp-disable",
        answers=[("Confirm your password to go on: ", password)],
    )

    assert status == 0, shown
    assert password not in shown
    assert mfa_mobile.account()["mfa"] == {"totp": False, "passkeys": 0, "recovery_codes_left": 0}
    assert mfa_mobile.totp_status()["enabled"] is False
    mfa_mobile.logout()
    mfa_mobile.login("alice", password)
    assert mfa_mobile.profile()["username"] == "alice"


def test_the_cli_counts_and_regenerates_recovery_codes_and_the_old_ones_die(
    mfa_server, mfa_mobile, totp_user, password, token_path
):
    url = mfa_server.url
    code = totp_code(totp_user.secret)
    login = cli(
        url, token_path, "login", "alice", "--password-stdin", "--code", code, stdin=password
    )
    assert login.returncode == 0, login.stderr
    count = dualauth_settings.RECOVERY_CODE_COUNT
    assert cli(url, token_path, "recovery-codes").stdout == f"recovery codes left: {count}\n"

    regenerated = cli(url, token_path, "recovery-codes", "--regenerate")

    assert regenerated.returncode == 0, regenerated.stderr
    new_codes = printed_codes(regenerated.stdout)
    assert len(set(new_codes)) == count
    assert not set(new_codes) & set(totp_user.recovery_codes)
    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)
    with pytest.raises(MfaCodeNotValidError):
        mfa_mobile.mfa_authenticate(caught.value.mfa_token, totp_user.recovery_codes[0])
    mfa_mobile.mfa_authenticate(caught.value.mfa_token, new_codes[0])
    assert mfa_mobile.recovery_codes_status() == count - 1


def test_a_totp_user_reauthenticates_a_login_that_is_not_fresh_with_a_code_from_the_cli(
    mfa_server, mfa_mobile, totp_user, password, token_path
):
    with pytest.raises(MfaRequiredError) as caught:
        mfa_mobile.login("alice", password)
    mfa_mobile.mfa_authenticate(caught.value.mfa_token, totp_code(totp_user.secret))
    family_id = current_device_id(mfa_mobile)
    login_make_stale(family_id)
    url, wrong = mfa_server.url, totp_code_wrong(totp_user.secret)
    refused = cli(url, token_path, "reauthenticate", "--code", wrong)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: that code is wrong, or was used already (mfa_code_not_valid)"
    ]
    before = timezone.now()

    again = cli(url, token_path, "reauthenticate", "--code", totp_code(totp_user.secret, 1))

    assert again.returncode == 0, again.stderr
    assert LoginFamily.objects.get(pk=family_id).authenticated_at >= before
    assert len(mfa_mobile.recovery_codes_regenerate()) == dualauth_settings.RECOVERY_CODE_COUNT


@pytest.fixture(scope="session")
def dpop_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A real server that binds every token login to its client's key and asks for nonces."""
    require_shared_cache()
    return live_server_factory(DPOP="required", DPOP_NONCE="true")


def test_a_login_binds_its_tokens_to_a_key_kept_beside_them_readable_by_its_owner_alone(
    alice_mobile, token_path
):
    tokens = FileTokenStore(token_path).load()
    assert tokens is not None
    assert tokens.token_type == "DPoP"
    key_path = FileTokenStore(token_path).key_path
    assert key_path.parent == token_path.parent
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = FileTokenStore(token_path).dpop_key_load()
    assert key is not None
    claims = json.loads(base64.urlsafe_b64decode(tokens.access.split(".")[1] + "==").decode())
    assert claims["cnf"] == {"jkt": key.thumbprint}
    assert alice_mobile.profile()["username"] == "alice"


def test_a_copied_token_store_without_its_key_is_refused_everywhere(
    alice_mobile, token_server, token_path, tmp_path
):
    stolen_path = tmp_path / "thief" / "tokens.json"
    stolen_path.parent.mkdir(mode=0o700)
    for path in (token_path, FileTokenStore(token_path).device_path):
        copy = stolen_path.with_name(path.name)
        copy.write_bytes(path.read_bytes())
        copy.chmod(0o600)
    stolen = FileTokenStore(stolen_path).load()
    assert stolen is not None
    family_before = LoginFamily.objects.get()

    thief = DualauthClient(token_server.url, store=FileTokenStore(stolen_path))
    with pytest.raises(DualauthError) as refused:
        thief.profile()
    assert refused.value.status == 401
    assert refused.value.code == "invalid_dpop_proof"
    with pytest.raises(DualauthError):
        thief.devices()
    thief.close()
    with httpx.Client(base_url=token_server.url) as raw:
        bearer = {"Authorization": f"Bearer {stolen.access}"}
        for path in ("/api/jwt/profile/", "/api/profile/", "/api/jwt/devices/"):
            assert raw.get(path, headers=bearer).status_code == 401
        as_cookie = raw.get("/api/profile/", cookies={"access_token": stolen.access})
        assert as_cookie.status_code == 401
        refresh = raw.post("/api/jwt/token/refresh/", json={"refresh": stolen.refresh})
        assert refresh.status_code == 400
        assert refresh.json()["code"] == "invalid_dpop_proof"
        logout_all = raw.post("/api/logout-all/", headers=bearer)
        assert logout_all.status_code == 401

    family = LoginFamily.objects.get()
    assert (family.refresh_jti, family.revoked_at) == (family_before.refresh_jti, None)
    assert alice_mobile.profile()["username"] == "alice"


def test_the_cli_works_against_a_server_that_requires_dpop_and_nonces(
    dpop_server, live_user, password, token_path
):
    url = dpop_server.url
    login = cli(url, token_path, "login", "alice", "--password-stdin", stdin=f"{password}\n")
    assert login.returncode == 0, login.stderr
    assert FileTokenStore(token_path).key_path.exists()
    profile = cli(url, token_path, "profile")
    assert profile.returncode == 0, profile.stderr
    assert "username: alice" in profile.stdout
    tokens = FileTokenStore(token_path).load()
    assert tokens is not None
    assert tokens.token_type == "DPoP"
    without_key = DualauthClient(url, store=MemoryTokenStore(), dpop=False)
    with pytest.raises(DualauthError) as refused:
        without_key.login("alice", password)
    assert isinstance(refused.value, DpopProofError)
    assert refused.value.code == "invalid_dpop_proof"
    without_key.close()
    assert cli(url, token_path, "logout").returncode == 0


def test_a_nonce_the_server_asks_for_is_signed_into_the_retry(
    dpop_server, live_user, password, tmp_path
):
    traffic = Traffic()
    with DualauthClient(
        dpop_server.url, store=MemoryTokenStore(), event_hooks=traffic.hooks()
    ) as client:
        client.login("alice", password)
        assert client.profile()["username"] == "alice"
    assert traffic.received == [(LOGIN_PATH, 400), (LOGIN_PATH, 200), ("/api/jwt/profile/", 200)]


def test_a_step_up_challenge_is_an_error_that_says_what_it_asks_for():
    request = httpx.Request("POST", "http://testserver/api/anything/")
    response = httpx.Response(
        401,
        request=request,
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
            'error_description="A stronger authentication method is required", '
            'acr_values="urn:example:mfa urn:example:phr"'
        },
        json={"detail": "Authenticate again.", "code": "insufficient_user_authentication"},
    )
    error = client_error(response, now=time.time())
    assert isinstance(error, InsufficientAuthenticationError)
    # The CLI reauthenticates and retries on it, as on a sensitive action's 403.
    assert isinstance(error, ReauthenticationRequiredError)
    assert error.acr_values == ["urn:example:mfa", "urn:example:phr"]
    recent = httpx.Response(
        401,
        request=request,
        headers={"WWW-Authenticate": 'DPoP error="insufficient_user_authentication", max_age=300'},
        json={"detail": "Authenticate again.", "code": "insufficient_user_authentication"},
    )
    assert client_error(recent, now=time.time()).max_age == 300


@pytest.fixture(scope="module")
def provider_site(live_server_factory: Any) -> Iterator[tuple[OidcProvider, LiveServer]]:
    """A real provider, and a server that accepts its ID tokens for the iOS client id."""
    require_shared_cache()
    with OidcServer() as provider:
        server = live_server_factory(
            workers=1,
            DEBUG="true",
            PROVIDERS="test",
            PROVIDER_TEST_ISSUER=provider.issuer,
            PROVIDER_TEST_CLIENT_ID=CLIENT_ID,
            PROVIDER_TEST_AUDIENCES=NATIVE_CLIENT_ID,
        )
        yield provider, server


def test_the_cli_logs_in_with_a_providers_id_token_read_from_stdin(
    provider_site, transactional_db, token_path
):
    provider, server = provider_site
    listed = cli(server.url, token_path, "providers")
    assert listed.stdout.split() == ["test", "Test", "id_token"]
    nonce = cli(server.url, token_path, "provider-nonce").stdout.strip()
    # As Apple's SDKs send it: the nonce's SHA-256, for the native client id.
    token = provider.id_token(
        aud=NATIVE_CLIENT_ID,
        sub="cli-user",
        email="cli@example.com",
        nonce=hashlib.sha256(nonce.encode()).hexdigest(),
    )
    args = ["login", "--provider", "test", "--nonce", nonce, "--id-token", "-"]
    login = cli(server.url, token_path, *args, stdin=f"{token}\n")
    assert login.returncode == 0, login.stderr
    assert "email: cli@example.com" in cli(server.url, token_path, "profile").stdout
    # A provider's login binds the tokens to the client's key, as a password's does.
    stored = FileTokenStore(token_path).load()
    assert stored is not None
    assert stored.token_type == "DPoP"
    replay = cli(server.url, token_path, *args, stdin=f"{token}\n")
    assert replay.returncode != 0
    assert "error:" in replay.stderr
    assert len(replay.stderr.strip().splitlines()) == 1
