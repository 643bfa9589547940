"""Schemathesis fuzzes every operation of the schema against `make run`'s server, in each
mode's credentials, with its conformance checks: zero failures.

Operations come from the served schema, so a new endpoint is fuzzed without a word here.
Those that end the login they are called with are fuzzed apart, each on a throwaway account,
so that the rest of the run keeps its credentials.
"""

import re
import subprocess
import time

import pytest

from common.conf import dualauth_settings
from common.routes import JWT_COOKIE, MODE_ROUTES, MODES, SESSION, SHARED_ROUTES
from tests.live import BIN
from tests.schema.conftest import Credentials, FuzzSite

pytestmark = pytest.mark.server

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
)
# The operations that end the login that calls them (or, refreshing a cookie login, make
# its cookies stale), as (method, route).
DESTRUCTIVE = (
    ("POST", MODE_ROUTES[SESSION]["logout"]),
    ("POST", MODE_ROUTES[JWT_COOKIE]["logout"]),
    ("POST", MODE_ROUTES[JWT_COOKIE]["refresh"]),
    ("POST", SHARED_ROUTES["logout-all"]),
    ("DELETE", SHARED_ROUTES["account"]),
)
# Cases per operation in the fuzzing phase, beyond the schema-driven coverage phase.
MAX_EXAMPLES = 8
DESTRUCTIVE_EXAMPLES = 4


def operation_name(method: str, route: str) -> str:
    """How Schemathesis names an operation: `METHOD /path`."""
    return f"{method} {dualauth_settings.API_PREFIX}{route}"


def fuzz(site: FuzzSite, credentials: Credentials, *filters: str, examples: int) -> str:
    """Run Schemathesis over the operations `filters` select; its report, once it passed."""
    headers = [
        arg for name, value in credentials.headers.items() for arg in ("-H", f"{name}: {value}")
    ]
    started = time.monotonic()
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            site.schema_url,
            f"--checks={CHECKS}",
            "--phases=examples,coverage,fuzzing",
            f"--max-examples={examples}",
            "--seed=20",
            "--no-color",
            "--warnings=off",
            "--request-timeout=15",
            # The credential is ours, in fixed headers: a case "without the cookie" would
            # still carry it.
            "--generation-with-security-parameters=false",
            # runserver's answers reach a kept-alive connection some 40 ms late (tests/sites.py).
            "-H",
            "Connection: close",
            *headers,
            *filters,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20000:]
    generated = re.search(r"(\d+) generated", report)
    print(
        f"{credentials.mode} {' '.join(filters)[:60]}: "
        f"{generated[1] if generated else '?'} cases in {time.monotonic() - started:.1f} s"
    )
    return report


@pytest.mark.parametrize("mode", MODES)
def test_every_operation_conforms_to_the_schema_in_each_mode(
    fuzz_site: FuzzSite, mode: str
) -> None:
    excluded = [
        arg
        for method, route in DESTRUCTIVE
        for arg in ("--exclude-name", operation_name(method, route))
    ]
    fuzz(fuzz_site, fuzz_site.login(mode), *excluded, examples=MAX_EXAMPLES)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("method", "route"), DESTRUCTIVE)
def test_each_operation_that_ends_a_login_conforms_on_a_throwaway_account(
    fuzz_site: FuzzSite, mode: str, method: str, route: str
) -> None:
    credentials = fuzz_site.login(mode)
    fuzz(
        fuzz_site,
        credentials,
        "--include-name",
        operation_name(method, route),
        examples=DESTRUCTIVE_EXAMPLES,
    )
