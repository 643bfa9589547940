"""`python -m bench.capacity`: what a login keeps in PostgreSQL and Redis; what each step costs.

    DATABASE_URL=postgres://... REDIS_URL=redis://... python -m bench.capacity [--logins 10000]

Through dualauth's own services, in a database and cache key prefix of its own: per mode,
`--logins` logins, each authenticated once; the bytes per login of each table and of
Redis; for one login, refresh, touch and logout, the SQL statements and Redis round trips
each makes; the CPU of logins and refreshes. Writes `capacity.json` into `--out` and
prints it; docs/SCALING.md reads it. PostgreSQL and Redis only.
"""

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.env import BenchEnv, arguments_parser, measured
from bench.inproc import round_trips
from common.routes import MODES, SESSION, Mode

LOGINS = 10_000
# Operations timed for their CPU: enough for a stable mean, few enough to stay quick.
TIMED = 1_000
# Each table, and which of its rows a mode's mean row size is taken over.
TABLES = {"common_loginfamily": "mode = %s", "django_session": "%s <> ''"}
# What names each kind of cache entry a login writes (common/selectors.py; cached_db's).
KEY_KINDS = {"session": "django.contrib.sessions", "family": ":family:", "user": ":user:"}


def table_bytes(mode: str) -> dict[str, dict[str, int]]:
    """Each table's rows and bytes (in all: heap, TOAST, indexes; in its indexes).

    `row` is the mean `pg_column_size` of a row: of a family of `mode`, of any session.
    """
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for table, rows_of_mode in TABLES.items():
            cursor.execute(
                f"SELECT count(*), pg_total_relation_size(%s), pg_indexes_size(%s),"  # noqa: S608
                f" (SELECT coalesce(avg(pg_column_size(t.*)), 0) FROM {table} t"
                f" WHERE {rows_of_mode}) FROM {table}",
                [table, table, mode],
            )
            rows, total, indexes, row = cursor.fetchone()
            sizes[table] = {"rows": rows, "total": total, "indexes": indexes, "row": round(row)}
    return sizes


def redis_client() -> Any:
    """A client of the cache's Redis, through django-redis."""
    from django.core.cache import cache

    return cache.client.get_client(write=True)  # type: ignore[attr-defined]


def key_bytes(prefix: str) -> dict[str, dict[str, int]]:
    """Per kind of entry (`KEY_KINDS`), the keys under `prefix` and their `MEMORY USAGE` in all;
    and Redis's `used_memory` (every database of the server, ours a part of it).
    """
    client = redis_client()
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    usages = pipe.execute()
    kinds = {kind: {"keys": 0, "bytes": 0} for kind in KEY_KINDS}
    for key, used in zip(keys, usages, strict=True):
        for kind, marker in KEY_KINDS.items():
            if marker in key.decode():
                kinds[kind]["keys"] += 1
                kinds[kind]["bytes"] += int(used or 0)
    return kinds | {"used_memory": {"bytes": int(client.info("memory")["used_memory"])}}


def cpu_ms(call: Callable[[Any], object], items: list[Any]) -> float:
    """Mean process CPU ms of `call` over `items`, each in a transaction of its own."""
    from django.db import transaction

    start = time.process_time()
    for item in items:
        with transaction.atomic():
            call(item)
    return (time.process_time() - start) * 1000 / len(items)


def logins_make(mode: Mode, users: list[Any]) -> list[tuple[Any, uuid.UUID, str]]:
    """One login of each user in `mode`: (user, family id, refresh token or "")."""
    from django.db import transaction

    from bench.seed import login_make
    from common.models import LoginFamily

    refresh = {}
    with transaction.atomic():
        for user in users:
            made = login_make(user, mode)
            refresh[user.pk] = "" if mode == SESSION else made.refresh
    families = dict(LoginFamily.objects.filter(mode=mode).values_list("user_id", "id"))
    return [(user, families[user.pk], refresh[user.pk]) for user in users]


def mode_measure(mode: Mode, users: list[Any], prefix: str) -> dict[str, Any]:
    """Bytes per login of `mode` in PostgreSQL and Redis, and what its operations cost."""
    from django.core.cache import cache

    from bench.seed import login_make, login_request
    from common.cache import cache_delete
    from common.logins import family_revoke, family_touch, login_authenticate
    from common.selectors import family_cache_key, user_cache_key
    from jwt_auth.services import token_refresh

    count = len(users)
    # Earlier modes' family and user entries go (else they would expire during this one's
    # count); each mode then pays for its users' snapshots: one login per user, the dearest case.
    client = redis_client()
    for kind in ("family", "user"):
        for key in client.scan_iter(match=f"*{prefix}*{KEY_KINDS[kind]}*", count=1000):
            client.delete(key)
    tables, keys = table_bytes(mode), key_bytes(prefix)
    logins = logins_make(mode, users)
    for user, family_id, _ in logins:
        login_authenticate(family_id=family_id, user_id=user.pk)
    tables_after, keys_after = table_bytes(mode), key_bytes(prefix)
    grown = {
        name: {k: (after[name][k] - before[name][k]) for k in after[name]}
        for before, after in ((tables, tables_after), (keys, keys_after))
        for name in after
    }
    postgres = {
        table: {
            "rows": grown[table]["rows"],
            "bytes_per_login": grown[table]["total"] / count,
            "index_bytes_per_login": grown[table]["indexes"] / count,
            "row_bytes": tables_after[table]["row"],
        }
        for table in TABLES
    }
    redis = {
        kind: {
            "keys": grown[kind]["keys"],
            "bytes_per_key": grown[kind]["bytes"] / max(1, grown[kind]["keys"]),
        }
        for kind in KEY_KINDS
    }
    key_total = sum(grown[kind]["bytes"] for kind in KEY_KINDS)
    memory = grown["used_memory"]["bytes"]
    user, family_id, refresh = logins[0]
    operations = {}
    with round_trips() as operations["login"]:
        login_make(user, mode)
    cache_delete(family_cache_key(family_id, user.pk))
    cache_delete(user_cache_key(user.pk))
    with round_trips() as operations["authenticate_miss"]:
        login_authenticate(family_id=family_id, user_id=user.pk)
    with round_trips() as operations["authenticate"]:
        login_authenticate(family_id=family_id, user_id=user.pk)
    with round_trips() as operations["touch"]:
        family_touch(family_id=family_id)
    if refresh:
        with round_trips() as operations["refresh"]:
            token_refresh(raw=refresh, request=login_request())
    with round_trips() as operations["logout"]:
        family_revoke(family_id=family_id, user_id=user.pk, reason="logout")
    marker = client.memory_usage(cache.make_key(family_cache_key(family_id, user.pk)), samples=0)
    timed = logins[1 : 1 + TIMED]
    cpu = {"login_service_ms": cpu_ms(lambda u: login_make(u, mode), [u for u, _, _ in timed])}
    if refresh:
        cpu["refresh_service_ms"] = cpu_ms(
            lambda r: token_refresh(raw=r, request=login_request()), [r for _, _, r in timed]
        )
    return {
        "logins": count,
        "postgres": postgres,
        "redis": redis,
        "redis_keys_bytes_per_login": key_total / count,
        "redis_used_memory_per_login": memory / count,
        "redis_overhead_factor": memory / key_total if key_total else None,
        "revoked_marker_bytes": marker,
        "operations": operations,
        "cpu": cpu,
    }


def main(argv: list[str] | None = None) -> None:
    """Measure every mode, write `capacity.json`, print it."""
    parser = arguments_parser("python -m bench.capacity", __doc__)
    parser.add_argument("--logins", type=int, default=LOGINS, help="logins (and users) per mode")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not (url.startswith(("postgres://", "postgresql://")) and os.environ.get("REDIS_URL")):
        raise SystemExit(
            "bench.capacity measures PostgreSQL and Redis: set DATABASE_URL and REDIS_URL"
        )

    def measure(env: BenchEnv) -> dict[str, Any]:

        from bench.seed import users_create

        users = users_create("capacity-user-", args.logins)
        modes = {mode: mode_measure(mode, users, env.cache_prefix) for mode in MODES}
        return {"logins": args.logins, "modes": modes, "meta": env.meta}

    result, _ = measured("capacity", measure, args.out, "capacity.json")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
