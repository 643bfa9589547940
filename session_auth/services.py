"""Session logins: Django's login and logout, each session recorded as a login family."""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, login, logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from common.conf import dualauth_settings
from common.credentials import Credential
from common.exceptions import SessionNotValid
from common.logins import family_create, family_revoke, family_touch, login_claim_authenticate
from common.memo import BoundedMemo
from common.models import LoginFamily
from common.principal import Principal, UserModel, user_id_parse
from common.routes import SESSION
from common.selectors import LoginClaim, login_cache_get, login_claim, user_get, user_hash_tag
from session_auth.sessions import SessionStore, session_key_hash_tag

FAMILY_SESSION_KEY = "_dualauth_family"
SEEN_SESSION_KEY = "_dualauth_seen"
# Where `session_login` leaves the login's methods (`amr`) for `session_family_start`.
LOGIN_METHODS_ATTRIBUTE = "dualauth_amr"
# Sessions this process has authenticated: key -> their login, the oldest forgotten first.
KNOWN_SESSIONS_KEPT = 4096
_known_sessions: BoundedMemo[str, LoginClaim] = BoundedMemo(KNOWN_SESSIONS_KEPT)


def session_login(
    *, request: HttpRequest, user: UserModel, remember: bool, amr: str = "pwd"
) -> None:
    """Log `user` in under a new session key and a new CSRF token, as a new family proved by
    the methods `amr`.
    """
    session_family_end(request=request, reason="superseded")
    # Nothing of an earlier login carries over; Django's login() then cycles the key.
    request.session.flush()
    _session_tag_set(request=request, user=user)
    # Django's login() hands the request, and nothing else of ours, to the family's start.
    setattr(request, LOGIN_METHODS_ATTRIBUTE, amr)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if not remember:
        # The cookie ends with the browser; the server-side session still ends at the
        # absolute timeout, with its family.
        request.session.set_expiry(0)


def session_family_start(*, request: HttpRequest, user: UserModel) -> LoginFamily:
    """Make the session `login()` just started a login family; any login, the admin's included.

    A login over an earlier login's session of the same user (Django keeps its key
    then) ends the earlier family and moves the session to a new key; so does a key
    without the user's hash tag (a login that is not `session_login`'s, the admin's).
    """
    untagged = _session_tag_set(request=request, user=user)
    earlier = request.session.get(FAMILY_SESSION_KEY)
    if earlier:
        session_family_end(request=request, reason="superseded")
    if earlier or untagged:
        request.session.cycle_key()
    absolute = dualauth_settings.SESSION_ABSOLUTE_TIMEOUT
    family = family_create(
        user=user,
        request=request,
        mode=SESSION,
        lifetime=absolute,
        amr=getattr(request, LOGIN_METHODS_ATTRIBUTE, "pwd"),
    )
    request.session[FAMILY_SESSION_KEY] = family.pk.hex
    request.session[SEEN_SESSION_KEY] = int(time.time())
    request.session.set_expiry(int(absolute.total_seconds()))
    return family


def session_family_end(*, request: HttpRequest, reason: str) -> bool:
    """Revoke the family of the request's session, if it has a live one."""
    family_id = request.session.get(FAMILY_SESSION_KEY)
    user_id = request.session.get(SESSION_KEY)
    if not family_id or not user_id:
        return False
    return family_revoke(
        family_id=family_id, user_id=user_id_parse(user_id), reason=reason, request=request
    )


def _session_tag_set(*, request: HttpRequest, user: UserModel) -> bool:
    """Have the keys made for this session end in the user's hash tag; True if its key does not."""
    store = request.session
    if not isinstance(store, SessionStore):
        return False
    store.new_key_hash_tag = user_hash_tag(user.pk)
    return session_key_hash_tag(store.session_key) != store.new_key_hash_tag


@dataclass(frozen=True, slots=True)
class SessionRead:
    """A session's data as a request read it, and the login it names (None: it names none)."""

    data: Mapping[str, Any]
    claim: LoginClaim | None
    # The login's cache entries, when the one round trip that read the session fetched them.
    prefetched: dict[str, Any] | None = None


def session_read(*, request: HttpRequest) -> SessionRead:
    """The session's data and login, with the login's cache entries when one round trip can
    fetch both.

    A process that has seen this session knows its login, so it reads the session's cache
    entry together with the login's, when its key carries the user's hash tag (a cluster
    reads one slot at a time). Otherwise, or when the entry is gone or names another
    login, the session loads the usual way and the login is read after it.
    """
    store = request.session
    known = _known_sessions.get(store.session_key or "")
    if known is not None and isinstance(store, SessionStore) and store.hash_tag == known.hash_tag:
        cache_key = store.cache_key
        values = login_cache_get(claim=known, extra_keys=(cache_key,))
        data = values.get(cache_key)
        # The session holds the ids as `session_family_start` and Django's login() write them.
        if (
            data
            and data.get(FAMILY_SESSION_KEY) == known.family_id.hex
            and data.get(SESSION_KEY) == str(known.user_id)
        ):
            return SessionRead(data=data, claim=known, prefetched=values)
    raw_family = store.get(FAMILY_SESSION_KEY)
    user_id = user_id_parse(store.get(SESSION_KEY))
    claim = (
        login_claim(family_id=raw_family, user_id=user_id)
        if raw_family and user_id is not None
        else None
    )
    return SessionRead(data=store, claim=claim)


def session_login_resolve(
    *, request: HttpRequest, read: SessionRead
) -> tuple[Principal, Credential]:
    """The principal and login of the live session `read`, or 401; ends a session idle for
    too long.
    """
    data, claim = read.data, read.claim
    found = (
        login_claim_authenticate(claim=claim, prefetched=read.prefetched)
        if claim is not None
        else None
    )
    # Django's own check: the session was made with the user's current password.
    if (
        claim is None
        or found is None
        or not constant_time_compare(
            data.get(HASH_SESSION_KEY, ""), found[1].get_session_auth_hash()
        )
    ):
        if data.get(FAMILY_SESSION_KEY):
            request.session.flush()
        raise SessionNotValid()
    state, principal = found
    _known_sessions.put(str(request.session.session_key), claim)
    now = time.time()
    idle = now - data.get(SEEN_SESSION_KEY, 0)
    if idle > dualauth_settings.SESSION_IDLE_TIMEOUT.total_seconds():
        family_revoke(
            family_id=claim.family_id, user_id=principal.pk, reason="idle_timeout", request=request
        )
        request.session.flush()
        raise SessionNotValid()
    if idle > dualauth_settings.TOUCH_INTERVAL.total_seconds():
        request.session[SEEN_SESSION_KEY] = int(now)
    family_touch(family_id=claim.family_id)
    credential = Credential(
        mode=SESSION,
        family_id=claim.family_id,
        authenticated_at=state.authenticated_at,
        amr=state.amr,
    )
    return principal, credential


def session_authenticate(*, request: HttpRequest) -> tuple[Principal, Credential]:
    """The principal and login of a live session, or 401; ends a session idle for too long."""
    return session_login_resolve(request=request, read=session_read(request=request))


def session_password_changed(*, request: HttpRequest, user: UserModel) -> None:
    """Keep this session across its user's password change: a new key, and the new hash."""
    request.session.cycle_key()
    request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()


def session_logout(*, request: HttpRequest) -> None:
    """End this session: Django's logout deletes it, and its family is revoked on the way."""
    logout(request)


def session_user(*, request: HttpRequest) -> UserModel | AnonymousUser:
    """The user of the request's live session of a live family, loaded whole; else anonymous.

    This is `request.user` for every view outside the API, the Django admin's included.
    """
    try:
        principal, _ = session_authenticate(request=request)
    except SessionNotValid:
        return AnonymousUser()
    return user_get(user_id=principal.pk) or AnonymousUser()
