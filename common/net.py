"""The client's address, believing proxy headers from configured proxies only."""

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.http import HttpRequest

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
