"""DPoP (RFC 9449): proofs that a request comes from the holder of a client's key.

A proof is a JWT the client signs with its key for one request: checked here as the RFC's
section 4.3 says, with PyJWT and cryptography doing the JWS and the JWK. What a proof
proves is the key's thumbprint (RFC 7638), which a bound login keeps (`cnf.jkt`).
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from rest_framework import status

from common.cache import cache_claim
from common.conf import dualauth_settings
from common.exceptions import DpopBoundToken, DpopNonceRequired, DpopProofNotValid, TokenNotValid
from common.memo import BoundedMemo

PROOF_TYPE = "dpop+jwt"
HEADER = "HTTP_DPOP"
SCHEME = "dpop"
BEARER = "bearer"
NONCE_HEADER = "DPoP-Nonce"
# The members of a public JWK of each key type, which its thumbprint hashes (RFC 7638 3.2).
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
# Members that only a private (or a symmetric) key has: a proof's `jwk` has none of them.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# Headers that would name another key or extend the rules (RFC 8725 3.10).
REFUSED_HEADERS = frozenset({"crit", "jku", "x5u", "x5c", "kid"})
# Longer than any proof of an allowed key (an RSA-4096 `jwk` and an `ath` fit in 2 kB).
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
DEFAULT_PORTS = {"http": 80, "https": 443}
NONCE_SALT = "dualauth.dpop.nonce"
# Proofs seen by this process while the shared cache could not answer: a replay reaching
# the same process is still refused.
_seen_here: BoundedMemo[str, float] = BoundedMemo(16384)


@dataclass(frozen=True)
class DpopProof:
    """A verified proof: the thumbprint of the key that signed it, and its `jti`."""

    jkt: str
    jti: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members, base64url."""
    members = THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def access_token_hash(token: str) -> str:
    """A proof's `ath` for `token`: base64url of its SHA-256."""
    return _b64url(hashlib.sha256(token.encode()).digest())


def htu_normalise(url: str) -> str | None:
    """`url` as proofs are compared: no query nor fragment, the scheme and host lower-cased,
    a default port dropped (RFC 9449 4.3, RFC 3986 6.2.2 and 6.2.3); None if it is no URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def request_url(request: HttpRequest) -> str:
    """The URL the request reached, as Django builds it (behind a proxy, as
    SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST make it), without its query.
    """
    return request.build_absolute_uri(request.path)


def dpop_nonce_issue(now: float | None = None) -> str:
    """A nonce current on every instance for DPOP_NONCE_LIFETIME at least: nothing is stored."""
    period = dualauth_settings.DPOP_NONCE_LIFETIME.total_seconds()
    window = int((time.time() if now is None else now) // period)
    return f"{window}.{_nonce_mac(window)}"


def _nonce_mac(window: int) -> str:
    return _b64url(salted_hmac(NONCE_SALT, str(window), algorithm="sha256").digest()[:16])


def dpop_nonce_valid(nonce: Any) -> bool:
    """Whether `nonce` is one this service issued in the current or the previous window."""
    if not isinstance(nonce, str):
        return False
    window, _, mac = nonce.partition(".")
    if not window.isdigit() or len(window) > 20:
        return False
    period = dualauth_settings.DPOP_NONCE_LIFETIME.total_seconds()
    current = int(time.time() // period)
    return int(window) in (current, current - 1) and hmac.compare_digest(
        mac, _nonce_mac(int(window))
    )


def dpop_challenge(error: str, description: str) -> str:
    """A `WWW-Authenticate: DPoP` challenge (RFC 9449 7.1) naming the allowed algorithms."""
    algorithms = " ".join(dualauth_settings.DPOP_ALGORITHMS)
    return f'DPoP algs="{algorithms}", error="{error}", error_description="{description}"'


def _refusal(description: str, *, resource: bool) -> DpopProofNotValid:
    """The answer to a bad proof: 400 at a token endpoint, 401 with a challenge at a resource."""
    if not resource:
        return DpopProofNotValid(f"The DPoP proof is not valid: {description}.")
    return DpopProofNotValid(
        f"The DPoP proof is not valid: {description}.",
        status_code=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": dpop_challenge("invalid_dpop_proof", description)},
    )


def _nonce_refusal(*, resource: bool) -> DpopNonceRequired:
    """The answer to a proof without a current nonce: the nonce to sign the next one with."""
    headers = {NONCE_HEADER: dpop_nonce_issue()}
    if not resource:
        return DpopNonceRequired(headers=headers)
    headers["WWW-Authenticate"] = dpop_challenge(
        "use_dpop_nonce", "Authorization server requires nonce in DPoP proof"
    )
    return DpopNonceRequired(status_code=status.HTTP_401_UNAUTHORIZED, headers=headers)


def dpop_proof_verify(
    *, proof: str, method: str, url: str, access_token: str | None, resource: bool
) -> DpopProof:
    """The proof's key and `jti`, once every check of RFC 9449 4.3 holds; its `jti` is the
    caller's to record. A refusal is `invalid_dpop_proof` or `use_dpop_nonce`.
    """
    if not proof or len(proof) > MAX_PROOF_LENGTH or "," in proof:
        raise _refusal("one DPoP header holding one JWT is expected", resource=resource)
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.InvalidTokenError as e:
        raise _refusal("it is not a JWT", resource=resource) from e
    if header.get("typ") != PROOF_TYPE:
        raise _refusal(f"its typ must be {PROOF_TYPE}", resource=resource)
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in dualauth_settings.DPOP_ALGORITHMS:
        raise _refusal("its alg is not allowed", resource=resource)
    if REFUSED_HEADERS & set(header):
        raise _refusal("its header names another key or extends the rules", resource=resource)
    jwk = header.get("jwk")
    if (
        not isinstance(jwk, dict)
        or jwk.get("kty") not in THUMBPRINT_MEMBERS
        or PRIVATE_MEMBERS & set(jwk)
        or not all(isinstance(jwk.get(name), str) for name in THUMBPRINT_MEMBERS[jwk["kty"]])
    ):
        raise _refusal("its jwk must be a public key", resource=resource)
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
        claims = jwt.api_jws.decode_complete(proof, key=key.key, algorithms=[algorithm])
        payload = json.loads(claims["payload"])
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as e:
        raise _refusal("its signature does not verify with its jwk", resource=resource) from e
    if not isinstance(payload, dict):
        raise _refusal("its claims are not an object", resource=resource)
    _claims_check(payload, method=method, url=url, access_token=access_token, resource=resource)
    return DpopProof(jkt=jwk_thumbprint(jwk), jti=payload["jti"])


def _claims_check(
    payload: dict[str, Any], *, method: str, url: str, access_token: str | None, resource: bool
) -> None:
    """Refuse a proof made for another request, at another time, or without the nonce."""
    jti, iat = payload.get("jti"), payload.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise _refusal("its jti is missing", resource=resource)
    if payload.get("htm") != method:
        raise _refusal("its htm is not this request's method", resource=resource)
    htu = payload.get("htu")
    if not isinstance(htu, str) or htu_normalise(htu) != htu_normalise(url):
        raise _refusal("its htu is not this request's URL", resource=resource)
    if access_token is not None:
        ath = payload.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath, access_token_hash(access_token)
        ):
            raise _refusal("its ath is not the hash of this access token", resource=resource)
    if dualauth_settings.DPOP_NONCE and not dpop_nonce_valid(payload.get("nonce")):
        raise _nonce_refusal(resource=resource)
    leeway = dualauth_settings.DPOP_IAT_LEEWAY.total_seconds()
    if (
        not isinstance(iat, int | float)
        or isinstance(iat, bool)
        or not abs(time.time() - iat) <= leeway
    ):
        raise _refusal("its iat is not within the accepted window", resource=resource)


def dpop_replay_key(proof: DpopProof, *, hash_tag: str) -> str:
    """The cache key remembering that `proof` was used; `hash_tag` places it (a cluster slot)."""
    digest = hashlib.sha256(f"{proof.jkt}.{proof.jti}".encode()).hexdigest()[:32]
    return f"dpop:{{{hash_tag}}}:{digest}"


def dpop_replay_timeout() -> float:
    """How long a proof's `jti` is remembered: as long as its `iat` is accepted."""
    return 2 * dualauth_settings.DPOP_IAT_LEEWAY.total_seconds()


def dpop_first_use(key: str, stored: bool | None) -> bool:
    """Whether the proof of `key` is used for the first time, given whether the shared
    cache stored its key (None: the cache could not answer, and this process decides).
    """
    if stored is not None:
        return stored
    now = time.time()
    seen = _seen_here.get(key)
    if seen is not None and now - seen < dpop_replay_timeout():
        return False
    _seen_here.put(key, now)
    return True


def dpop_replayed(*, resource: bool) -> DpopProofNotValid:
    """The answer to a proof used before."""
    return _refusal("it was used before", resource=resource)


def dpop_request_proof(request: HttpRequest, *, scheme: str, raw: str) -> DpopProof | None:
    """The verified proof of a resource request sent as `Authorization: DPoP <raw>`; None
    for `Bearer`, 401 for any other scheme. The entry point of the `jwt-header`
    authentication; its `jti` is recorded with the login's cache read (jwt_auth/services.py).
    """
    scheme = scheme.lower()
    if scheme == BEARER:
        return None
    if scheme != SCHEME:
        raise TokenNotValid("Authorization header must be `Bearer <access token>`.")
    proof = request.META.get(HEADER)
    if proof is None:
        raise _refusal("the request has no DPoP header", resource=True)
    return dpop_proof_verify(
        proof=proof,
        method=request.method or "",
        url=request_url(request),
        access_token=raw,
        resource=True,
    )


def dpop_token_proof(request: HttpRequest) -> DpopProof | None:
    """The verified proof of a token request (login, refresh) of the `jwt-header` mode, its
    `jti` recorded; None when it has none and the policy lets it go unbound.
    """
    policy = dualauth_settings.DPOP
    proof = request.META.get(HEADER)
    if policy == "off":
        return None
    if proof is None:
        if policy == "required":
            raise DpopProofNotValid("This server requires a DPoP proof with every token request.")
        return None
    verified = dpop_proof_verify(
        proof=proof,
        method=request.method or "",
        url=request_url(request),
        access_token=None,
        resource=False,
    )
    key = dpop_replay_key(verified, hash_tag=verified.jkt[:4])
    timeout = dpop_replay_timeout()
    if not dpop_first_use(key, cache_claim(key, timeout=timeout)):
        raise dpop_replayed(resource=False)
    return verified


def dpop_bound_token_refusal() -> DpopBoundToken:
    """The answer to a bound token sent as `Bearer`, or in the access cookie (RFC 9449 7.2)."""
    return DpopBoundToken(
        headers={
            "WWW-Authenticate": dpop_challenge(
                "invalid_token", "This token is bound to a key: send it with the DPoP scheme"
            )
        }
    )


def dpop_other_key_refusal() -> DpopProofNotValid:
    """The answer to a bound token sent with a proof of another key."""
    return _refusal("it is signed by another key than the token is bound to", resource=True)


def dpop_unbound_token_refusal() -> TokenNotValid:
    """The answer to a token bound to no key sent with the DPoP scheme."""
    return TokenNotValid("This token is bound to no key: send it as `Authorization: Bearer`.")
