"""The client's address, believing proxy headers from configured proxies only; where the SPA is."""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.http.request import split_domain_port

from common.conf import dualauth_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def address_in(address: str, cidrs: Iterable[str]) -> bool:
    """Whether `address` is in one of `cidrs` (addresses or networks); False for no address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(cidrs)))


def client_ip(request: HttpRequest) -> str:
    """The address of the client: the nearest hop that is not one of our proxies."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = dualauth_settings.TRUSTED_PROXIES
    if not proxies or not address_in(remote, proxies):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not address_in(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote
    return remote


def frontend_url(*, request: HttpRequest) -> str:
    """The SPA's URL, which account mails and provider sign-ins lead to: FRONTEND_URL, else
    (development) this site's root.
    """
    return str(dualauth_settings.FRONTEND_URL or _site_root(request))


def _site_root(request: HttpRequest) -> str:
    """This site's root, where no FRONTEND_URL is set (development): the request's host, with
    its port only if ALLOWED_HOSTS lists that host and port together.

    ALLOWED_HOSTS vouches for a host name alone: any port would pass it.
    """
    host, port = split_domain_port(request.get_host())
    if port and f"{host}:{port}" in [allowed.lower() for allowed in settings.ALLOWED_HOSTS]:
        host = f"{host}:{port}"
    return f"{request.scheme}://{host}/"
