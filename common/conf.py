"""The project's own knobs: `dualauth_settings`, the `DUALAUTH` setting merged over defaults."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Cookie names and flags of the JWT cookie transport; their paths follow where the
    # project mounts dualauth's URLs (jwt_auth/cookies.py).
    "ACCESS_COOKIE_NAME": "access_token",
    "REFRESH_COOKIE_NAME": "refresh_token",
    "COOKIE_SAMESITE": "Lax",
    "COOKIE_SECURE": False,
    # A refresh token presented again within this period gets the same successor.
    "REFRESH_GRACE_PERIOD": timedelta(seconds=5),
    # Absolute lifetime of a token family: refresh chains end after it.
    "FAMILY_LIFETIME": timedelta(days=30),
    # A session unused for this long ends; any session ends after the absolute timeout.
    "SESSION_IDLE_TIMEOUT": timedelta(days=2),
    "SESSION_ABSOLUTE_TIMEOUT": timedelta(days=14),
    # How often a live login's `last_seen_at` is written: at most once per period.
    "TOUCH_INTERVAL": timedelta(seconds=60),
    # How long a live family's state (and its user's snapshot) stays cached. Revocations
    # overwrite it at once, and are written again wherever a write may have been lost.
    "FAMILY_CACHE_TTL": timedelta(seconds=60),
    # How soon a revocation made by one process is refused by the others. "strict": every
    # request reads the login's state from the cache (revoked on the very next request).
    # "push": each process keeps the states it read in memory, and Redis pushes every change
    # to every process (common/push.py): no round trip in the steady state, a revocation
    # refused elsewhere once its message arrives (the delivery time of Redis pub/sub), and
    # `strict` again whenever the push channel is in doubt. Needs the Redis cache.
    "REVOCATION": "strict",
    # Under `push`: an entry kept in memory is read again from the cache after this long
    # (at most FAMILY_CACHE_TTL), whatever was pushed.
    "PUSH_MAX_AGE": timedelta(seconds=30),
    # Under `push`: how often each process pings its channel; two heartbeats without an
    # answer put the channel in doubt.
    "PUSH_HEARTBEAT": timedelta(milliseconds=200),
    # How often one serving process per host looks in the database for revocations the
    # cache has not taken (their maker could not reach it) and writes them there if it can:
    # the longest an instance that reads the cache may vouch for a login revoked elsewhere.
    "CACHE_PENDING_POLL": timedelta(milliseconds=250),
    # Failed logins allowed per window, per username and per client address.
    "LOGIN_FAILURES_PER_USERNAME": 5,
    "LOGIN_FAILURES_PER_ADDRESS": 30,
    "LOGIN_FAILURE_WINDOW": timedelta(minutes=15),
    # A device that logged in before proves it with a signed device token (OWASP's
    # device cookies): it is exempt from the username and address limits, so that
    # nobody can lock the owner out, and limited on its own instead.
    "LOGIN_FAILURES_PER_DEVICE": 5,
    "DEVICE_COOKIE_NAME": "login_device",
    "DEVICE_TOKEN_LIFETIME": timedelta(days=90),
    # Where the throttles count while the shared cache cannot: "database" (shared by every
    # instance, a few statements per attempt) or "process" (each process on its own, so
    # the limits multiply by the processes serving).
    "THROTTLE_FALLBACK": "database",
    # Addresses or networks (CIDR) whose X-Forwarded-For is believed.
    "TRUSTED_PROXIES": [],
    # Keys that still verify tokens after a rotation: secrets one per line (HMAC) or PEMs.
    "JWT_PREVIOUS_KEYS": "",
    # One process may keep its own cache; with more, each would miss the others' revocations.
    "ALLOW_PROCESS_LOCAL_CACHE": False,
    # How deeply a JSON body may nest lists and objects; deeper ones are a 400.
    "JSON_MAX_DEPTH": 32,
    # Accounts. `mandatory`: a login needs a verified address; `optional`: the address is
    # verified by its mail, the login does not wait for it; `none`: no verification mail.
    "EMAIL_VERIFICATION": "mandatory",
    "VERIFICATION_KEY_LIFETIME": timedelta(days=3),
    "RESET_KEY_LIFETIME": timedelta(hours=1),
    # How long the "this wasn't me" key of a mail about a sign-in change works.
    "UNDO_LIFETIME": timedelta(days=7),
    # Where the links of account mails point (`?action=...&key=...`); None: this site's SPA.
    "FRONTEND_URL": None,
    # A login is fresh for this long after it began or was re-authenticated: sensitive
    # actions (email change, account deletion, second factors) need a fresh login.
    "REAUTH_WINDOW": timedelta(seconds=300),
    # Calls of each public account endpoint per client address, and mails to one address,
    # per window.
    "ACCOUNT_REQUESTS_PER_ADDRESS": 30,
    "ACCOUNT_MAILS_PER_EMAIL": 3,
    "ACCOUNT_THROTTLE_WINDOW": timedelta(minutes=15),
    # Seconds to wait before each new try of a mail the SMTP server refused or did not take.
    "MAIL_RETRY_DELAYS": (1.0, 5.0, 30.0),
    # Second factors. The keys that encrypt TOTP secrets (Fernet, base64 of 32 bytes): the
    # first encrypts, every one decrypts, so a key can be rotated. Never SECRET_KEY.
    "MFA_ENCRYPTION_KEYS": [],
    # A login waiting for its second factor lives this long, or until this many wrong codes.
    "MFA_TOKEN_LIFETIME": timedelta(minutes=5),
    "MFA_MAX_ATTEMPTS": 5,
    # The issuer an authenticator app shows beside the account, and how many recovery codes.
    "TOTP_ISSUER": "dualauth",
    "RECOVERY_CODE_COUNT": 10,
    # The WebAuthn relying party: its id (a domain) and the origins passkeys are used from.
    # None and []: the host and origin of the request, which ALLOWED_HOSTS vouches for.
    "WEBAUTHN_RP_ID": None,
    "WEBAUTHN_RP_NAME": "dualauth",
    "WEBAUTHN_ORIGINS": [],
    # How long a WebAuthn challenge may be answered.
    "WEBAUTHN_CHALLENGE_LIFETIME": timedelta(minutes=2),
    # Who may read `/metrics`: clients in these networks (CIDR), or bearing this token
    # (`Authorization: Bearer <token>`, 32 characters at least; empty: no token opens it).
    "METRICS_ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
    "METRICS_TOKEN": "",
    # DPoP (RFC 9449) on the `jwt-header` mode: "off" (the `DPoP` header is ignored),
    # "optional" (a login binds to the client's key whenever it sends a proof) or
    # "required" (a login or refresh of that mode without a proof is refused).
    "DPOP": "optional",
    # The signature algorithms a proof may use: asymmetric ones only (DPOP_ALGORITHM_CHOICES).
    "DPOP_ALGORITHMS": ["ES256", "EdDSA"],
    # How far a proof's `iat` may be from the server's clock, either way; its `jti` is
    # remembered for twice as long, so that a proof works once.
    "DPOP_IAT_LEEWAY": timedelta(seconds=60),
    # Whether proofs must carry a nonce of this server (`DPoP-Nonce`), and how long one
    # stays current (at least this long, at most twice).
    "DPOP_NONCE": False,
    "DPOP_NONCE_LIFETIME": timedelta(minutes=5),
    # Step-up (RFC 9470): the `acr` values a login can claim, each with the `amr` methods it
    # needs all of, strongest first: {"urn:example:phr": ["hwk"], "urn:example:mfa": ["mfa"]}.
    # A login's `acr` is the first whose methods it used; none mapped, tokens carry no `acr`.
    "ACR_VALUES": {},
    # External providers (common/providers/), by id: {"issuer", "client_id", "client_secret",
    # "audiences", "name"}; `google` and `apple` need no issuer. An identity is (issuer, sub).
    "PROVIDERS": {},
    # Link an unknown identity to the account holding its address, when both sides verified it.
    "PROVIDER_AUTO_LINK": False,
    # Provider ids whose ID token's `amr` claim "mfa" stands for the account's second factor.
    "PROVIDER_MFA_TRUSTED": [],
    # Clock skew allowed on an ID token's `exp` and `iat`.
    "PROVIDER_LEEWAY": timedelta(seconds=60),
    # How long a sign-in nonce, and the redirect flow's state cookie, may be used.
    "PROVIDER_NONCE_LIFETIME": timedelta(minutes=10),
    "PROVIDER_STATE_LIFETIME": timedelta(minutes=10),
    # How long a provider's JWKS is kept, and the least time between two fetches of it for a
    # key id it does not hold (rotation), so that unknown key ids cannot make us fetch often.
    "PROVIDER_JWKS_LIFETIME": timedelta(hours=1),
    "PROVIDER_JWKS_COOLDOWN": timedelta(seconds=30),
    # The timeout of every call to a provider (discovery, JWKS, token endpoint).
    "PROVIDER_HTTP_TIMEOUT": timedelta(seconds=5),
}

# The alias of CACHES holding revocation state and throttle counters.
CACHE_ALIAS = "dualauth"
MAX_REFRESH_GRACE_PERIOD = timedelta(seconds=60)
INTEGER_KEYS = (
    "LOGIN_FAILURES_PER_USERNAME",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_FAILURES_PER_DEVICE",
    "ACCOUNT_REQUESTS_PER_ADDRESS",
    "ACCOUNT_MAILS_PER_EMAIL",
    "MFA_MAX_ATTEMPTS",
    "RECOVERY_CODE_COUNT",
)
EMAIL_VERIFICATION_CHOICES = ("mandatory", "optional", "none")
THROTTLE_FALLBACK_CHOICES = ("database", "process")
# Settings dualauth derives, and what to do instead of setting them.
REMOVED = {
    "API_PREFIX": "the prefix is where your URLconf includes common.urls",
    "ACCESS_COOKIE_PATH": "the access cookie's path is the API prefix",
    "REFRESH_COOKIE_PATH": "the refresh cookie's path is the API prefix + 'jwt/cookie/'",
}
DPOP_CHOICES = ("off", "optional", "required")
REVOCATION_CHOICES = ("strict", "push")
# The JWS algorithms PyJWT verifies with a public key: a proof never uses a shared secret.
DPOP_ALGORITHM_CHOICES = (
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
)


class DualauthSettings:
    """Attribute access to `settings.DUALAUTH` with defaults, validated on first use.

    Each value read becomes an attribute of its own, as DRF's `APISettings` does, so that
    the next read is a plain attribute lookup; `reload()` forgets them all.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None
        self._cached: set[str] = set()

    def _load(self) -> dict[str, Any]:
        user = getattr(settings, "DUALAUTH", {})
        removed = sorted(set(user) & set(REMOVED))
        if removed:
            raise ImproperlyConfigured(
                "Remove "
                + "; ".join(f"DUALAUTH[{name!r}]: {REMOVED[name]}" for name in removed)
                + "."
            )
        unknown = set(user) - set(DEFAULTS)
        if unknown:
            raise KeyError(f"Unknown DUALAUTH settings: {sorted(unknown)}")
        values = {**DEFAULTS, **user}
        for key in INTEGER_KEYS:
            values[key] = int(values[key])
        if values["EMAIL_VERIFICATION"] not in EMAIL_VERIFICATION_CHOICES:
            raise ValueError(
                f"DUALAUTH['EMAIL_VERIFICATION'] must be one of {EMAIL_VERIFICATION_CHOICES}"
            )
        if values["THROTTLE_FALLBACK"] not in THROTTLE_FALLBACK_CHOICES:
            raise ValueError(
                f"DUALAUTH['THROTTLE_FALLBACK'] must be one of {THROTTLE_FALLBACK_CHOICES}"
            )
        if not timedelta(0) <= values["REFRESH_GRACE_PERIOD"] <= MAX_REFRESH_GRACE_PERIOD:
            raise ValueError("DUALAUTH['REFRESH_GRACE_PERIOD'] must be between 0 and 60 seconds")
        if values["REVOCATION"] not in REVOCATION_CHOICES:
            raise ValueError(f"DUALAUTH['REVOCATION'] must be one of {REVOCATION_CHOICES}")
        if values["DPOP"] not in DPOP_CHOICES:
            raise ValueError(f"DUALAUTH['DPOP'] must be one of {DPOP_CHOICES}")
        values["DPOP_ALGORITHMS"] = list(values["DPOP_ALGORITHMS"])
        if not values["DPOP_ALGORITHMS"] or not set(values["DPOP_ALGORITHMS"]) <= set(
            DPOP_ALGORITHM_CHOICES
        ):
            raise ValueError(
                f"DUALAUTH['DPOP_ALGORITHMS'] must be some of {DPOP_ALGORITHM_CHOICES}"
            )
        return values

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(name)
        if self._values is None:
            self._values = self._load()
        value = self._values[name]
        self._cached.add(name)
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        """Forget the merged values; the next access reads the settings again."""
        for name in self._cached:
            delattr(self, name)
        self._cached.clear()
        self._values = None


dualauth_settings = DualauthSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == "DUALAUTH":
        dualauth_settings.reload()


setting_changed.connect(_reload)
