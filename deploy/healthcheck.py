"""The container's health probe: exit 0 when the instance's /api/health/ says ok.

It asks the instance itself, as the first allowed host and as if through the
TLS proxy, so that neither ALLOWED_HOSTS nor the HTTPS redirect turns it away.
"""

import os
import sys
import urllib.error
import urllib.request

first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
host = first if first and first != "*" else "localhost"
request = urllib.request.Request(
    "http://127.0.0.1:8000/api/health/",
    headers={"Host": host, "X-Forwarded-Proto": "https"},
)
try:
    with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except (urllib.error.URLError, OSError) as e:
    print(f"unhealthy: {e}", file=sys.stderr)
    sys.exit(1)
