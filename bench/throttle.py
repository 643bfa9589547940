"""`python -m bench.throttle`: what counting a failed login costs, Redis up and Redis down.

A Redis of its own on a free port, stopped by PID halfway. Each attempt is a wrong
password for a new username, sent through the WSGI app in-process (MD5 hashes, so that
the throttle's share shows), counted in Redis, then with Redis stopped in each
THROTTLE_FALLBACK. Prints the median (and 90th percentile) ms per attempt of each.
"""

import logging
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from django.test import Client

from bench.env import bench_env_setup
from bench.processes import RedisServer, free_port

ATTEMPTS = 300
WARM_UP = 20
LOGIN_PATH = "/api/jwt/token/"


def _attempts(client: Client) -> list[float]:
    """The ms each of ATTEMPTS wrong logins took (after WARM_UP more), each for a username
    never tried before.
    """
    run = uuid.uuid4().hex[:8]
    times = []
    for i in range(WARM_UP + ATTEMPTS):
        body = {"username": f"nobody-{run}-{i}", "password": "wrong"}
        start = time.perf_counter()
        response = client.post(LOGIN_PATH, body, content_type="application/json")
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 401, response.content
    return times[WARM_UP:]


def main() -> None:
    """Measure the three configurations and print their figures."""
    tmp = Path(tempfile.gettempdir())
    redis_server = RedisServer(free_port(), tmp / f"bench-throttle-{os.getpid()}.log").start()
    os.environ.update(
        {
            "REDIS_URL": redis_server.url,
            "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            # Every attempt comes from one address: only the per-username buckets may refuse.
            "LOGIN_FAILURES_PER_ADDRESS": str(10**9),
            "ALLOWED_HOSTS": "testserver",
        }
    )
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env = bench_env_setup("throttle")
    # Every attempt is a 401 and a cache failure: their log lines would swamp the figures.
    logging.disable(logging.CRITICAL)
    try:
        from django.conf import settings
        from django.test.utils import override_settings

        client = Client()
        results = {}
        results["redis up"] = _attempts(client)
        redis_server.stop()
        for fallback in ("database", "process"):
            with override_settings(DUALAUTH={**settings.DUALAUTH, "THROTTLE_FALLBACK": fallback}):
                results[f"redis down, {fallback}"] = _attempts(client)
        print(f"ms per failed login attempt ({ATTEMPTS} each, in-process, MD5 hashes)")
        for name, times in results.items():
            p90 = statistics.quantiles(times, n=10)[-1]
            print(f"  {name:<24} median {statistics.median(times):6.2f}   p90 {p90:6.2f}")
    finally:
        redis_server.stop()
        # Its keys went with the Redis of its own.
        env.redis_url = ""
        env.cleanup()


if __name__ == "__main__":
    main()
