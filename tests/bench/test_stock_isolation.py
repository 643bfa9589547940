"""The bench's stock rows run stock code only: nothing of dualauth is loaded to serve them.

A fresh interpreter loads each stock settings module, its URLs, its WSGI application,
its credential seeder and the in-process runner, and serves a request on each stock
route that needs no database; then lists every module it has imported.
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import django
import pytest

from tests.live import ROOT

STOCK_SETTINGS = (
    "bench.stock.settings",
    "bench.stock.settings_cache",
    "bench.stock.settings_cached_db",
)
# dualauth's own packages: its apps, and the project whose settings configure them.
DUALAUTH_PACKAGES = {"common", "jwt_auth", "session_auth", "project"}
# The bench modules a stock server or process may load: the stock project, the runner.
STOCK_BENCH_MODULES = {"bench", "bench.inproc"}

SCRIPT = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.urls import get_resolver
from rest_framework_simplejwt.tokens import AccessToken
import bench.stock.seed
from bench.inproc import call, environ
from bench.stock.wsgi import application

token = AccessToken()
token["user_id"] = 1
requests = {
    "/constant/": {},
    "/jwt/stateless/": {"Authorization": f"Bearer {token}"},
    "/jwt/profile/": {"Authorization": "Bearer not-a-token"},
    "/token/profile/": {},
    "/session/profile/": {},
}
statuses = {
    path: call(application, environ("GET", path, headers, ""))
    for path, headers in requests.items()
}
get_resolver().url_patterns
print(json.dumps({
    "statuses": statuses,
    "modules": sorted(sys.modules),
    "middleware": settings.MIDDLEWARE,
    "apps": settings.INSTALLED_APPS,
    "rest_framework": hasattr(settings, "REST_FRAMEWORK"),
}))
"""


def _startproject_middleware() -> list[str]:
    """MIDDLEWARE as `django-admin startproject` writes it, read from Django's own template."""
    template = Path(django.__file__).parent / "conf/project_template/project_name/settings.py-tpl"
    found = re.search(r"^MIDDLEWARE = \[.*?^\]", template.read_text(), re.MULTILINE | re.DOTALL)
    assert found is not None
    return list(ast.literal_eval(found.group(0).split("=", 1)[1].strip()))


def _load(settings_module: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("settings_module", STOCK_SETTINGS)
def test_a_stock_project_loads_and_serves_nothing_of_dualauth(settings_module):
    loaded = _load(settings_module)
    assert loaded["statuses"] == {
        "/constant/": 200,
        "/jwt/stateless/": 200,
        "/jwt/profile/": 401,
        "/token/profile/": 401,
        "/session/profile/": 403,
    }
    modules = loaded["modules"]
    assert not {m for m in modules if m.split(".")[0] in DUALAUTH_PACKAGES}
    bench = {m for m in modules if m == "bench" or m.startswith("bench.")}
    assert {m for m in bench if not m.startswith("bench.stock")} == STOCK_BENCH_MODULES
    assert loaded["middleware"] == _startproject_middleware()
    assert not loaded["rest_framework"], "DRF runs with its own defaults"
    assert not [app for app in loaded["apps"] if app.split(".")[0] in DUALAUTH_PACKAGES]
