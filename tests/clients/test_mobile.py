"""The mobile client against a real server over real HTTP: tokens, refresh, errors, the CLI."""

import dataclasses
import json
import os
import stat
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User
from rest_framework_simplejwt import settings as simplejwt_settings

from bench.processes import free_port
from clients.mobile import DualauthClient, FileTokenStore, MemoryTokenStore, Tokens
from clients.mobile.client import LOGIN_PATH, REFRESH_PATH
from clients.mobile.errors import (
    InvalidCredentialsError,
    InvalidInputError,
    LoginRevokedError,
    NotLoggedInError,
    ServerUnavailableError,
    StoreError,
    ThrottledError,
)
from common.conf import dualauth_settings
from tests.clients.conftest import Traffic, audit_events, expired_copy
from tests.live import ROOT, LiveServer

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
        "tokens.json",
    ]


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
