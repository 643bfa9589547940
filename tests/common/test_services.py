"""The health check."""

from rest_framework.test import APIClient


def test_the_health_check_names_a_cache_that_is_down(api, db, cache_down):
    response = APIClient().get("/api/health/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
    }
