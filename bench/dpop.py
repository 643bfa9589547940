"""`python -m bench.dpop`: what a DPoP-bound request costs beyond a Bearer one, in-process.

The load benchmarks replay fixed requests, which a proof (one `jti`, one use) forbids, so
DPoP's row is measured here, part by part, against the Redis of `REDIS_URL`: the proof's
verification (JWS, JWK, claims), and the `SET NX` of its `jti` added to the login's `MGET`
(one pipeline, the same round trip). Prints one Markdown row; `--json` the figures.
"""

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable

ROUNDS = 2000


def _median_us(action: Callable[[], object], rounds: int) -> float:
    """The median time of `action`, in microseconds, after a warm-up."""
    for _ in range(min(100, rounds)):
        action()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def measure(rounds: int) -> dict[str, float]:
    """The parts of DPoP's cost per request, median microseconds."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from clients.mobile.dpop import DpopKey
    from common.cache import cache_claim, cache_get_many, cache_get_many_and_add
    from jwt_auth.dpop import dpop_proof_verify

    key = DpopKey.generate()
    url = "http://127.0.0.1:8000/api/jwt/profile/"
    access = "a" * 600
    proofs = [key.proof(method="GET", url=url, access_token=access) for _ in range(rounds + 100)]
    signed = iter(proofs)

    def verify() -> object:
        return dpop_proof_verify(
            proof=next(signed), method="GET", url=url, access_token=access, resource=True
        )

    keys = [f"bench:dpop:{{t}}:{uuid.uuid4().hex}", f"bench:dpop:{{t}}:{uuid.uuid4().hex}"]

    def sign() -> object:
        return key.proof(method="GET", url=url, access_token=access)

    def two_trips() -> object:
        cache_get_many(keys)
        return cache_claim(f"bench:dpop:{{t}}:{uuid.uuid4().hex}", timeout=5)

    return {
        "sign_us": _median_us(sign, rounds),
        "mget_then_set_nx_us": _median_us(two_trips, rounds),
        "verify_us": _median_us(verify, rounds),
        "mget_us": _median_us(lambda: cache_get_many(keys), rounds),
        "mget_set_nx_us": _median_us(
            lambda: cache_get_many_and_add(
                keys, add_key=f"bench:dpop:{{t}}:{uuid.uuid4().hex}", add_value=1, timeout=5
            ),
            rounds,
        ),
    }


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(prog="python -m bench.dpop", description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    pipelined = figures["mget_set_nx_us"] - figures["mget_us"]
    second_trip = figures["mget_then_set_nx_us"] - figures["mget_us"]
    added = figures["verify_us"] + pipelined
    print(
        f"| jwt-header + DPoP | +{added:.0f} µs per request: the proof verified in "
        f"{figures['verify_us']:.0f} µs; its `SET NX` in the login's pipeline "
        f"+{pipelined:.0f} µs over the `MGET` alone ({figures['mget_us']:.0f} µs; "
        f"+{second_trip:.0f} µs as a second round trip) | the client signs a proof in "
        f"{figures['sign_us']:.0f} µs |"
    )


if __name__ == "__main__":
    main()
