"""`--configs` picks the configurations a bench command measures."""

import pytest

from bench.configs import Config, configs_named
from bench.server import DUALAUTH, STOCK

CONFIGS = [
    Config("baseline", STOCK, "/constant/", "constant", "n/a", ()),
    Config("session", DUALAUTH, "/api/session/profile/", "session", "next request", ()),
    Config("jwt-header", DUALAUTH, "/api/jwt/profile/", "Bearer", "next request", ()),
]


def test_without_names_every_configuration_is_measured() -> None:
    assert configs_named(CONFIGS, None) == CONFIGS


def test_the_named_configurations_are_measured_in_the_runs_order() -> None:
    assert [c.name for c in configs_named(CONFIGS, "jwt-header,baseline")] == [
        "baseline",
        "jwt-header",
    ]


def test_an_unknown_name_stops_the_run_and_says_which() -> None:
    with pytest.raises(SystemExit, match="no such configuration: jwt-headr"):
        configs_named(CONFIGS, "baseline,jwt-headr")
