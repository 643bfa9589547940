"""deploy/nginx.conf run by a real nginx in front of live servers, and what it logged."""

import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from bench.processes import first_answer, free_port, http_answer, process_start, process_stop
from tests.conftest import require_service
from tests.live import ROOT, LiveServer

# The upstream server Docker's DNS resolves to every instance of the `app` service.
APP_SERVER = re.compile(r"^( *)server app:8000 resolve([^;]*);$", re.MULTILINE)
# What the nginx image's main configuration, around the site's, says too: the types of the
# static files, and an access log of every request line with its Referer.
MIME_TYPES = Path("/etc/nginx/mime.types")
LOG_FORMAT = (
    "'$remote_addr - $remote_user [$time_local] \"$request\" '"
    " '$status $body_bytes_sent \"$http_referer\" '"
    ' \'"$http_user_agent" "$http_x_forwarded_for"\''
)


@dataclass
class Proxy:
    """nginx with the deployed configuration, its upstreams pointed at live servers."""

    url: str
    process: "Popen[bytes]"
    instances: Sequence[LiveServer]
    directory: Path

    def log_text(self) -> str:
        """Everything nginx logged: its access log (every request line) and its error log."""
        return "".join(
            path.read_text(errors="replace")
            for path in (self.directory / "access.log", self.directory / "error.log")
            if path.exists()
        )


def nginx_config(
    tmp: Path, port: int, instances: Sequence[LiveServer], static: Path | None = None
) -> Path:
    """deploy/nginx.conf with local upstreams, port and static files (`static`, else an empty
    folder), wrapped in a main config as the nginx image's (file types, the access log).

    Where Docker's DNS would answer `app` with each instance's address, each live server
    is named instead, with the same parameters (this nginx may predate `resolve`).
    """
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site, found = APP_SERVER.subn(
        lambda match: "\n".join(
            f"{match[1]}server 127.0.0.1:{server.port}{match[2]};" for server in instances
        ),
        site,
    )
    assert found == 1
    site = re.sub(r"listen 8000;", f"listen 127.0.0.1:{port};", site)
    if static is None:
        static = tmp / "static"
        static.mkdir()
    site = site.replace("alias /srv/static/;", f"alias {static}/;")
    (tmp / "site.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\ndaemon off;\nevents {{}}\n"
        f"http {{\n  include {MIME_TYPES};\n  default_type application/octet-stream;\n"
        f"  log_format main {LOG_FORMAT};\n  access_log {tmp}/access.log main;\n"
        + "".join(
            f"  {kind}_temp_path {tmp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp}/site.conf;\n}}\n"
    )
    return main


@contextmanager
def nginx_in_front(
    instances: Sequence[LiveServer],
    tmp: Path,
    static: Path | None = None,
    port: int | None = None,
) -> Iterator[Proxy]:
    """nginx on `port` (else a free one) in front of `instances`, its files in `tmp`;
    stopped at the end.
    """
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require_service(Path(nginx).exists() and MIME_TYPES.exists(), "nginx is not installed")
    port = port or free_port()
    config = nginx_config(tmp, port, instances, static)
    output = tmp / "output.log"
    process = process_start([nginx, "-c", str(config), "-p", str(tmp)], output)
    url = f"http://127.0.0.1:{port}"
    try:
        first_answer(
            process,
            lambda: http_answer(f"{url}/api/health/"),
            log_path=output,
            timeout=10,
            interval=0.05,
        )
        yield Proxy(url=url, process=process, instances=instances, directory=tmp)
    finally:
        process_stop(process)
