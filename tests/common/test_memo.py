"""The per-process memos of the hot path under gthread workers: many threads, no error."""

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.utils import timezone

from common.memo import BoundedMemo
from jwt_auth import tokens
from jwt_auth.tokens import DualAccessToken, KeyedTokenBackend, token_build

THREADS = 8


@pytest.fixture(autouse=True)
def _switch_threads_often() -> Iterator[None]:
    # Threads switch every few bytecodes, as they do under load, instead of every 5 ms.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _hammer(work: Callable[[int], None], rounds: int) -> None:
    """Run `work(i)` for `rounds` values of i on THREADS threads at once; re-raise any error."""
    barrier = threading.Barrier(THREADS)

    def worker(offset: int) -> None:
        barrier.wait()
        for i in range(offset, rounds, THREADS):
            work(i)

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(worker, offset) for offset in range(THREADS)]:
            future.result()


def test_a_memo_filled_by_many_threads_at_once_stays_within_its_size():
    memo: BoundedMemo[int, int] = BoundedMemo(size=4)
    _hammer(lambda i: memo.put(i, i) or memo.get(i - 1), rounds=40_000)
    assert len(memo) <= 4


def test_the_verified_token_memo_is_safe_under_threads(monkeypatch):
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_KEPT", 4)
    backend = KeyedTokenBackend()
    now = timezone.now()
    raws = [
        token_build(
            DualAccessToken,
            user_id=1,
            family_id="0" * 32,
            jti=f"{i:032x}",
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        for i in range(256)
    ]
    _hammer(lambda i: backend.decode(raws[i % len(raws)]), rounds=8_000)
    assert len(backend._verified) <= 4


def test_both_hot_path_memos_are_thread_safe_memos():
    from session_auth import services

    assert isinstance(services._known_sessions, BoundedMemo)
    assert isinstance(tokens.token_backend()._verified, BoundedMemo)
