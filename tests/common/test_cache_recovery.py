"""The cache's recovery: what an instance owes the cache is paid from a thread, with no request."""

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from common.cache_recovery import (
    CacheRecovery,
    _status,
    cache_identity,
    cache_recovery_owe,
    cache_recovery_serve,
    cache_recovery_start,
)
from common.conf import CACHE_ALIAS, dualauth_settings
from common.logins import families_revoke
from common.models import LoginFamily
from common.selectors import REVOKED, family_cache_key
from tests.conftest import PASSWORD, eventually, login_name
from tests.modes import ModeClient

# How long a test waits for the recovery thread before it calls the debt unpaid.
PAID_WITHIN = 10.0


@pytest.fixture
def recoveries() -> Iterator[list[CacheRecovery]]:
    """Recovery threads a test starts; stopped at its end."""
    started: list[CacheRecovery] = []
    yield started
    for recovery in started:
        recovery.stop()


@pytest.fixture
def cached_login(transactional_db: None, user: Any) -> LoginFamily:
    """Alice's JWT login, committed for other threads to see, its live state in the cache."""
    client = ModeClient("jwt-header")
    assert client.login(login_name("alice"), PASSWORD).status_code == 200
    assert client.request("get", client.profile_path).status_code == 200
    family = LoginFamily.objects.get(user=user)
    assert isinstance(caches[CACHE_ALIAS].get(family_cache_key(family.pk, user.pk)), tuple)
    return family


def own_deployment() -> override_settings:
    """A deployment of this test's own (a key prefix nobody else uses): the servers other
    tests started pay only the revocations pending for theirs.
    """
    own = {**caches.settings[CACHE_ALIAS], "KEY_PREFIX": f"own-{time.time_ns()}"}
    return override_settings(CACHES={**caches.settings, CACHE_ALIAS: own})


def redis_unreachable(dead_cache: dict[str, Any]) -> override_settings:
    """This deployment's cache, its Redis out of reach: its keys, where nothing answers."""
    prefix = caches.settings[CACHE_ALIAS].get("KEY_PREFIX", "")
    return override_settings(
        CACHES={**caches.settings, CACHE_ALIAS: {**dead_cache, "KEY_PREFIX": prefix}}
    )


def _recoveries() -> float:
    """How many debts this process has paid the cache."""
    return REGISTRY.get_sample_value("dualauth_cache_recoveries_total") or 0.0


def _marked_revoked(family: LoginFamily) -> bool:
    """Whether the cache comes to mark `family` revoked; read past common/cache.py, which
    would recover itself.
    """
    key = family_cache_key(family.pk, family.user_id)
    return eventually(lambda: caches[CACHE_ALIAS].get(key) == REVOKED, within=PAID_WITHIN)


def test_a_revocation_that_missed_the_cache_reaches_it_with_no_further_request(
    cached_login, dead_cache, recoveries
):
    recoveries.append(cache_recovery_start())
    with redis_unreachable(dead_cache):
        families_revoke(user_id=cached_login.user_id, reason="during outage")
    # The revoking process serves nothing more; its recovery thread writes the revocation.
    assert _marked_revoked(cached_login)


def test_a_new_process_pays_the_revocations_a_dead_one_may_have_owed(cached_login, recoveries):
    # A process revoked it in the database, and died before the cache took the revocation.
    LoginFamily.objects.filter(pk=cached_login.pk).update(
        revoked_at=timezone.now(), revoke_reason="logout"
    )
    recoveries.append(cache_recovery_serve())
    assert _marked_revoked(cached_login)


def test_a_new_process_owes_nothing_older_than_a_cached_family_can_be(cached_login, recoveries):
    long_ago = timezone.now() - dualauth_settings.FAMILY_CACHE_TTL - timedelta(seconds=1)
    LoginFamily.objects.filter(pk=cached_login.pk).update(revoked_at=long_ago)
    recovered = _recoveries()
    recoveries.append(cache_recovery_serve())
    assert eventually(lambda: _recoveries() == recovered + 1, within=PAID_WITHIN)
    assert (
        caches[CACHE_ALIAS].get(family_cache_key(cached_login.pk, cached_login.user_id)) != REVOKED
    )


def test_a_revocation_stays_pending_in_the_database_until_the_cache_takes_it(
    cached_login, dead_cache, make_user
):
    with own_deployment():
        with redis_unreachable(dead_cache):
            families_revoke(user_id=cached_login.user_id, reason="during outage")
        assert LoginFamily.objects.get(pk=cached_login.pk).cache_pending == cache_identity()
        bob = make_user("bob")
        client = ModeClient("session")
        assert client.login(login_name("bob"), PASSWORD).status_code == 200
        families_revoke(user_id=bob.pk, reason="logout")
        assert not LoginFamily.objects.get(user=bob).cache_pending


def test_a_process_that_saw_no_failure_writes_the_revocations_another_could_not(
    cached_login, recoveries
):
    # Another process revoked it and could not reach the cache: only the database knows.
    LoginFamily.objects.filter(pk=cached_login.pk).update(
        revoked_at=timezone.now(), revoke_reason="logout", cache_pending=cache_identity()
    )
    recoveries.append(cache_recovery_start())
    assert _marked_revoked(cached_login)
    assert eventually(
        lambda: not LoginFamily.objects.get(pk=cached_login.pk).cache_pending, within=PAID_WITHIN
    )


def test_one_process_of_a_host_polls_and_another_takes_over_when_it_ends(transactional_db):
    with own_deployment():
        _elect_and_take_over()


def test_a_revocation_pending_for_another_deployment_is_left_to_its_processes(
    cached_login, make_user, recoveries
):
    bob = make_user("bob")
    client = ModeClient("jwt-header")
    assert client.login(login_name("bob"), PASSWORD).status_code == 200
    mine = LoginFamily.objects.get(user=bob)
    now = timezone.now()
    LoginFamily.objects.filter(pk=mine.pk).update(revoked_at=now, cache_pending=cache_identity())
    LoginFamily.objects.filter(pk=cached_login.pk).update(
        revoked_at=now, cache_pending="another-cache"
    )
    recoveries.append(cache_recovery_start())
    # A poll has run once this deployment's revocation is written.
    assert _marked_revoked(mine)
    assert LoginFamily.objects.get(pk=cached_login.pk).cache_pending == "another-cache"
    assert (
        caches[CACHE_ALIAS].get(family_cache_key(cached_login.pk, cached_login.user_id)) != REVOKED
    )


def _elect_and_take_over() -> None:
    first, second = CacheRecovery(), CacheRecovery()
    assert first.elected()
    assert not second.elected()
    # A process that ends releases its lock: the same as a recovery stopped here.
    first.start()
    first.stop()
    assert second.elected()
    second.start()
    second.stop()


def test_the_host_pollers_owed_file_that_the_cache_refused_a_write_makes_the_others_owe_it(
    transactional_db,
):
    # A deployment of its own: the servers other tests started poll for theirs.
    own = {**caches.settings[CACHE_ALIAS], "KEY_PREFIX": f"owed-{time.time_ns()}"}
    with override_settings(CACHES={**caches.settings, CACHE_ALIAS: own}):
        poller, other = CacheRecovery(), CacheRecovery()
        assert poller.elected()
        recovered = _recoveries()
        for recovery in (poller, other):
            recovery.start()
        try:
            # What the poller says when its write of a pending revocation fails.
            poller.owed_file_write(time.time() - 60)
            # The other process owes the cache, and pays it (this cache takes writes).
            assert eventually(lambda: _recoveries() == recovered + 1, within=PAID_WITHIN)
        finally:
            for recovery in (poller, other):
                recovery.stop()


def test_a_poller_that_owes_the_cache_still_tells_the_host_that_it_refused_a_write(
    cached_login, own_redis
):
    # A Redis that answers reads but holds writes (a manual failover's CLIENT PAUSE WRITE)
    # keeps the poller's own process owing: its poll must go on all the same, or the host's
    # other processes, reading that Redis, never learn that it lacks the revocation.
    with own_deployment():
        control = own_redis.client()
        poller = CacheRecovery()
        assert poller.elected()
        owed_file = poller._owed_file
        owed_file.unlink(missing_ok=True)
        control.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
        try:
            cache_recovery_owe(time.time() - 60)
            LoginFamily.objects.filter(pk=cached_login.pk).update(
                revoked_at=timezone.now(), revoke_reason="logout", cache_pending=cache_identity()
            )
            poller.start()
            assert eventually(owed_file.exists, within=PAID_WITHIN)
            assert LoginFamily.objects.get(pk=cached_login.pk).cache_pending == cache_identity()
        finally:
            control.execute_command("CLIENT", "UNPAUSE")
        try:
            assert eventually(lambda: _status.owed_since is None, within=PAID_WITHIN)
            assert eventually(
                lambda: not LoginFamily.objects.get(pk=cached_login.pk).cache_pending,
                within=PAID_WITHIN,
            )
        finally:
            poller.stop()
