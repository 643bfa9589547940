"""What the bench's tests share: running one of its commands as a user would."""

import os
import subprocess
import sys

from tests.live import ROOT

# The figures are not what these tests check: cheap hashing keeps a bench's seeding fast.
CHEAP_HASHING = {"PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher"}


def bench_run(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m <module> <args>` from the checkout's root, which must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    return done
