"""Sustained mixed load over two instances: no 5xx, and no live login ever refused.

Runs for SOAK_SECONDS (default 20); `pytest -s` shows the figures, and
test-artifacts/soak.json keeps them.
"""

import functools
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import User

from tests.conftest import PASSWORD
from tests.modes import MODES
from tests.stack.clients import StackClient
from tests.stack.conftest import Stack

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent.parent
THREADS = 8
USERS = 4
OPERATIONS_PER_LOGIN = 6


class Tally:
    """Every response's status, and every response that broke a promise."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.errors = 0

    def record(self, what: str, agent: StackClient, response: httpx.Response, ok: int) -> None:
        """Count `response`; a status other than `ok` is a failure."""
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code != ok:
                self.failures.append(f"{agent.mode} {what}: {response.status_code} {response.text}")

    def fail(self, agent: StackClient, error: Exception) -> None:
        """Count a request that got no answer at all, or a broken turn."""
        with self.lock:
            self.errors += 1
            self.failures.append(f"{agent.mode}: {type(error).__name__}: {error}")


def worker(index: int, stack: Stack, users: list[User], deadline: float, tally: Tally) -> None:
    """Log in, use, rotate and log out, in every mode in turn, on random instances."""
    rng = random.Random(index)
    turn = 0
    while time.monotonic() < deadline:
        mode = MODES[(index + turn) % len(MODES)]
        turn += 1
        user = users[rng.randrange(len(users))]
        agent = StackClient(mode)
        try:
            tally.record(
                "login", agent, agent.login(rng.choice(stack.urls), user.username, PASSWORD), 200
            )
            bio = f"thread {index} turn {turn}"
            operations: list[tuple[str, Callable[[str], httpx.Response]]] = [
                ("profile", agent.profile),
                ("profile_update", functools.partial(agent.profile_update, bio=bio)),
                ("refresh", agent.refresh),
            ]
            for _ in range(OPERATIONS_PER_LOGIN):
                name, operation = rng.choice(operations)
                tally.record(name, agent, operation(rng.choice(stack.urls)), 200)
            replay = agent.clone()
            tally.record("logout", agent, agent.logout(rng.choice(stack.urls)), 204)
            tally.record("replay", replay, replay.profile(rng.choice(stack.urls)), 401)
            replay.close()
        except Exception as e:  # a dropped connection counts against the stack, it never hides
            tally.fail(agent, e)
        finally:
            agent.close()


def test_mixed_load_over_two_instances_gives_no_5xx_and_loses_no_login(
    stack: Stack, transactional_db: None, make_user: Callable[..., User]
) -> None:
    users = [make_user(f"soak{i}") for i in range(USERS)]
    seconds = float(os.environ.get("SOAK_SECONDS", "20"))
    tally = Tally()
    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(i, stack, users, started + seconds, tally))
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    elapsed = time.monotonic() - started
    requests = sum(tally.statuses.values())
    figures = {
        "seconds": round(elapsed, 1),
        "threads": THREADS,
        "instances": len(stack.urls),
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1),
        "statuses": {str(code): n for code, n in sorted(tally.statuses.items())},
        "errors": tally.errors,
        "failures": len(tally.failures),
    }
    print(f"\nsoak: {json.dumps(figures)}")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "soak.json").write_text(json.dumps(figures, indent=2) + "\n")
    assert not any(thread.is_alive() for thread in threads)
    assert not [code for code in tally.statuses if code >= 500], tally.failures[:10]
    assert tally.failures == [], tally.failures[:10]
    assert requests > 0
