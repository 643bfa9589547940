"""Schemathesis fuzzes every operation of the schema against `make run`'s server, in each
mode's credentials, with its conformance checks: zero failures.

Operations come from the served schema, so a new endpoint is fuzzed without a word here.
Those that end the login they are called with each get a throwaway account of their own
(tests/schema/conftest.py), so that the other operations keep their credentials all the run.
"""

import time

import pytest

from common.routes import MODES
from tests.schema.conftest import FuzzRun

pytestmark = pytest.mark.server


@pytest.mark.parametrize("mode", MODES)
def test_every_operation_conforms_to_the_schema_in_each_mode(
    fuzz_runs: dict[str, FuzzRun], mode: str
) -> None:
    run = fuzz_runs[mode]
    report = run.report()
    operations, cases = report["operations"], report["test_cases"]
    assert operations["tested"] == operations["total"], operations
    assert operations["errored"] == operations["skipped"] == 0, operations
    assert cases["with_failures"] == cases["errored"] == 0, cases
    print(
        f"{mode}: {operations['tested']} operations, {cases['generated']} cases,"
        f" {time.monotonic() - run.started:.1f} s"
    )
