"""gunicorn's workers count into files that one scrape of /metrics sums."""

from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_shared_cache
from tests.modes import LOGIN_PATHS

MODE = "jwt-header"
# Enough fresh connections that both workers take some; bounded, so a broken setup ends.
MAX_ATTEMPTS = 200


def failed_logins(families: list) -> float:
    """The failed jwt-header logins in these metric families."""
    return sum(
        sample.value
        for family in families
        for sample in family.samples
        if sample.name == "dualauth_logins_total"
        and sample.labels == {"mode": MODE, "outcome": "failed"}
    )


def per_worker(directory: Path) -> dict[str, float]:
    """Each worker's failed logins, from its own counter file."""
    return {
        path.name: failed_logins(list(MultiProcessCollector.merge([str(path)])))
        for path in directory.glob("counter_*.db")
    }


@pytest.mark.server
def test_one_scrape_sums_the_counts_of_every_worker(live_server_factory, tmp_path, db):
    require_shared_cache()
    server = live_server_factory(
        workers=2,
        threads=1,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        LOGIN_FAILURES_PER_ADDRESS="100000",
    )
    sent = 0
    while sent < MAX_ATTEMPTS:
        # A new connection each time: the kernel hands it to either worker.
        response = httpx.post(
            f"{server.url}{LOGIN_PATHS[MODE]}",
            json={"username": f"nobody-{sent}", "password": "wrong"},
            headers={"Connection": "close"},
        )
        assert response.status_code == 401, response.text
        sent += 1
        counts = per_worker(tmp_path)
        if sent >= 10 and len([c for c in counts.values() if c > 0]) == 2:
            break
    counts = per_worker(tmp_path)
    assert len([c for c in counts.values() if c > 0]) == 2, counts
    scrape = httpx.get(f"{server.url}/metrics")
    assert scrape.status_code == 200
    assert failed_logins(list(text_string_to_metric_families(scrape.text))) == sent
    assert sum(counts.values()) == sent
