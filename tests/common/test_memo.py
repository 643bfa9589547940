"""The per-process memos of the hot path under gthread workers: many threads, no error."""

import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import UUIDField
from django.utils import timezone

from common.memo import BoundedMemo
from jwt_auth import tokens
from jwt_auth.tokens import FamilyAccessToken, KeyedTokenBackend, token_build

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


def test_a_memo_gives_back_what_was_put_and_none_for_the_rest():
    memo: BoundedMemo[str, int] = BoundedMemo(size=2)
    memo.put("a", 1)
    memo.put("a", 2)
    assert (memo.get("a"), memo.get("b"), len(memo)) == (2, None, 1)


def test_a_full_memo_forgets_its_oldest_entry_first():
    memo: BoundedMemo[int, str] = BoundedMemo(size=3)
    for i in range(4):
        memo.put(i, str(i))
    assert [memo.get(i) for i in range(4)] == [None, "1", "2", "3"]
    assert len(memo) == 3


def test_a_full_memo_replacing_a_value_forgets_nothing():
    memo: BoundedMemo[int, str] = BoundedMemo(size=2)
    memo.put(1, "one")
    memo.put(2, "two")
    memo.put(1, "uno")
    assert [memo.get(1), memo.get(2)] == ["uno", "two"]


def test_a_cleared_memo_remembers_nothing():
    memo: BoundedMemo[int, int] = BoundedMemo(size=2)
    memo.put(1, 1)
    memo.clear()
    assert (memo.get(1), len(memo)) == (None, 0)


# The lock CountingLock wraps, whatever `threading.Lock` is patched to.
REAL_LOCK = threading.Lock


class CountingLock:
    """A lock that counts how many times it was taken."""

    taken = 0

    def __init__(self) -> None:
        self.lock = REAL_LOCK()

    def __enter__(self) -> bool:
        CountingLock.taken += 1
        return self.lock.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.lock.__exit__(*exc)


def test_a_hit_takes_no_lock_a_change_does(monkeypatch):
    monkeypatch.setattr(threading, "Lock", CountingLock)
    monkeypatch.setattr(CountingLock, "taken", 0)
    memo: BoundedMemo[str, tuple[str, int]] = BoundedMemo(size=2)
    memo.put("a", ("a", 1))
    assert CountingLock.taken == 1
    assert memo.get("a") == ("a", 1)
    memo.put("a", ("a", 1))
    assert CountingLock.taken == 1
    memo.put("a", ("a", 2))
    assert (CountingLock.taken, memo.get("a")) == (2, ("a", 2))


def test_a_remembered_none_is_remembered():
    memo: BoundedMemo[str, int | None] = BoundedMemo(size=2)
    memo.put("a", None)
    memo.put("b", 1)
    memo.put("c", 2)
    assert (len(memo), memo.get("b"), memo.get("c")) == (2, 1, 2)


def test_a_memo_filled_by_many_threads_at_once_stays_within_its_size():
    memo: BoundedMemo[int, int] = BoundedMemo(size=4)
    _hammer(lambda i: memo.put(i, i) or memo.get(i - 1), rounds=40_000)
    assert len(memo) <= 4


def _raw_tokens(count: int) -> list[str]:
    """`count` valid access tokens, the i-th with the jti `i` in hex."""
    now = timezone.now()
    # A key of the user model the tests run with: a token naming another kind is invalid.
    user_id = uuid.UUID(int=1) if isinstance(get_user_model()._meta.pk, UUIDField) else 1
    return [
        token_build(
            FamilyAccessToken,
            user_id=user_id,
            family_id="0" * 32,
            jti=f"{i:032x}",
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        for i in range(count)
    ]


def test_the_verified_token_memo_gives_each_token_its_own_claims_under_threads(monkeypatch):
    # A memo smaller than the tokens in use: it forgets and verifies again all the time.
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_KEPT", 4)
    backend = KeyedTokenBackend()
    raws = _raw_tokens(256)

    def decode(i: int) -> None:
        assert backend.decode(raws[i % len(raws)])["jti"] == f"{i % len(raws):032x}"

    _hammer(decode, rounds=8_000)


def test_claims_a_caller_changes_are_not_what_the_next_decode_gives():
    backend = KeyedTokenBackend()
    (raw,) = _raw_tokens(1)
    backend.decode(raw)
    # The token is remembered now: this decode, and the next, read the memo.
    first = backend.decode(raw)
    expected = dict(first)
    first["jti"] = "f" * 32
    assert backend.decode(raw) == expected


def test_a_discarded_key_is_forgotten_and_the_others_kept() -> None:
    memo: BoundedMemo[str, int] = BoundedMemo(4)
    memo.put("a", 1)
    memo.put("b", 2)
    memo.discard("a")
    memo.discard("never put")
    assert memo.get("a") is None
    assert memo.get("b") == 2
    assert len(memo) == 1
