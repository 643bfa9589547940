"""Where the tokens and the device token live: JSON files only their owner can read, or memory."""

import contextlib
import json
import os
import stat
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from clients.mobile.dpop import DpopKey
from clients.mobile.errors import StoreError

DEFAULT_STORE_PATH = Path("~/.config/dualauth/tokens.json")
# Refresh this long before the access token expires, at most; short lifetimes get a fifth of it.
MAX_SAFETY_MARGIN = 30.0


@dataclass(frozen=True)
class Tokens:
    """A token pair and when to refresh it (Unix times, so that they survive a restart)."""

    # Kept out of repr, so that a traceback or a log line never shows a token.
    access: str = field(repr=False)
    refresh: str = field(repr=False)
    expires_at: float
    refresh_at: float
    # "DPoP" when the server bound them to this device's key (clients/mobile/dpop.py).
    token_type: str = "Bearer"

    @classmethod
    def issued(
        cls,
        *,
        access: str,
        refresh: str,
        expires_in: float,
        now: float,
        token_type: str = "Bearer",  # noqa: S107 (a scheme's name, not a secret)
    ) -> "Tokens":
        """Tokens received at `now`, to be refreshed a safety margin before they expire."""
        margin = min(MAX_SAFETY_MARGIN, expires_in / 5)
        return cls(access, refresh, now + expires_in, now + expires_in - margin, token_type)

    @property
    def bound(self) -> bool:
        """Whether only a proof of this device's key makes them usable."""
        return self.token_type.lower() == "dpop"

    def needs_refresh(self, now: float) -> bool:
        """Whether the access token is expired or about to expire."""
        return now >= self.refresh_at


class TokenStore(Protocol):
    """Load, save and forget the tokens of one login; keep the device token across logins.

    The device token is forgotten only with the account it logged in to.
    """

    def load(self) -> Tokens | None:
        """The stored tokens, or None when logged out."""

    def save(self, tokens: Tokens) -> None:
        """Replace the stored tokens."""

    def clear(self) -> None:
        """Forget the tokens; the device token stays."""

    def device_token_load(self) -> str | None:
        """The device token of the latest login from this device, or None."""

    def device_token_save(self, device_token: str) -> None:
        """Replace the device token."""

    def device_token_clear(self) -> None:
        """Forget the device token too (its account is gone)."""

    def dpop_key_load(self) -> DpopKey | None:
        """This device's DPoP key, or None before the first login."""

    def dpop_key_save(self, key: DpopKey) -> None:
        """Keep this device's DPoP key, for as long as the store."""


class MemoryTokenStore:
    """Tokens kept in this process only (an app with its own secure storage wraps this idea)."""

    def __init__(self) -> None:
        self._tokens: Tokens | None = None
        self._device_token: str | None = None
        self._dpop_key: DpopKey | None = None
        self._lock = threading.Lock()

    def load(self) -> Tokens | None:
        """The tokens, or None."""
        with self._lock:
            return self._tokens

    def save(self, tokens: Tokens) -> None:
        """Keep `tokens`."""
        with self._lock:
            self._tokens = tokens

    def clear(self) -> None:
        """Forget the tokens; the device token stays."""
        with self._lock:
            self._tokens = None

    def device_token_load(self) -> str | None:
        """The device token, or None."""
        with self._lock:
            return self._device_token

    def device_token_save(self, device_token: str) -> None:
        """Keep `device_token`."""
        with self._lock:
            self._device_token = device_token

    def device_token_clear(self) -> None:
        """Forget the device token."""
        with self._lock:
            self._device_token = None

    def dpop_key_load(self) -> DpopKey | None:
        """The DPoP key, or None."""
        with self._lock:
            return self._dpop_key

    def dpop_key_save(self, key: DpopKey) -> None:
        """Keep `key`."""
        with self._lock:
            self._dpop_key = key


def _private_read(path: Path) -> bytes | None:
    """The content of `path`, None when there is none, StoreError when others may read it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StoreError(f"cannot read the token store {path}: {e.strerror}") from e
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        # Checked on the open file, not the path, so a swap in between changes nothing.
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreError(
                f"refusing the token store {path}: mode "
                f"{stat.S_IMODE(info.st_mode):04o} lets others read it; "
                f"run `chmod 600 {path}` if you trust it, or delete it and log in again"
            )
        if info.st_uid != os.geteuid():
            raise StoreError(f"refusing the token store {path}: another user owns it")
        return file.read()


def _private_write(path: Path, data: dict[str, object] | bytes) -> None:
    """Write `data` (JSON, or bytes as they are) to a new file of mode 0600 beside `path`, then
    rename it over.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file with O_EXCL and mode 0600 whatever the umask.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(data if isinstance(data, bytes) else json.dumps(data).encode())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as e:
        raise StoreError(f"cannot write the token store {path}: {e.strerror}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _corrupt(path: Path) -> StoreError:
    return StoreError(f"the token store {path} is corrupt; delete it and log in again")


class FileTokenStore:
    """JSON files of mode 0600, replaced atomically, refused when others can read them.

    The tokens go to `path`; the device token to `device_path` beside it
    (tokens.json → tokens.device.json), which logging out leaves in place.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE_PATH) -> None:
        self.path = Path(path).expanduser()
        self.device_path = self.path.with_name(f"{self.path.stem}.device{self.path.suffix}")
        # The key beside the tokens (tokens.json -> tokens.dpop.pem), kept across logins.
        self.key_path = self.path.with_name(f"{self.path.stem}.dpop.pem")

    def load(self) -> Tokens | None:
        """The stored tokens, None when there is no file, StoreError when it is unsafe."""
        raw = _private_read(self.path)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return Tokens(
                access=str(data["access"]),
                refresh=str(data["refresh"]),
                expires_at=float(data["expires_at"]),
                refresh_at=float(data["refresh_at"]),
                token_type=str(data.get("token_type", "Bearer")),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise _corrupt(self.path) from e

    def save(self, tokens: Tokens) -> None:
        """Write a new file of mode 0600 beside the old one, then rename it over the old one."""
        _private_write(self.path, asdict(tokens))

    def clear(self) -> None:
        """Delete the tokens' file; the device token's stays."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def device_token_load(self) -> str | None:
        """The stored device token, None when there is none, StoreError when it is unsafe."""
        raw = _private_read(self.device_path)
        if raw is None:
            return None
        try:
            return str(json.loads(raw)["device_token"])
        except (ValueError, KeyError, TypeError) as e:
            raise _corrupt(self.device_path) from e

    def device_token_save(self, device_token: str) -> None:
        """Replace the device token's file as atomically as the tokens' one."""
        _private_write(self.device_path, {"device_token": device_token})

    def device_token_clear(self) -> None:
        """Delete the device token's file."""
        with contextlib.suppress(FileNotFoundError):
            self.device_path.unlink()

    def dpop_key_load(self) -> DpopKey | None:
        """The stored DPoP key, None when there is none, StoreError when it is unsafe."""
        raw = _private_read(self.key_path)
        if raw is None:
            return None
        try:
            return DpopKey.from_pem(raw)
        except ValueError as e:
            raise _corrupt(self.key_path) from e

    def dpop_key_save(self, key: DpopKey) -> None:
        """Write the key to its own file of mode 0600, as atomically as the tokens."""
        _private_write(self.key_path, key.to_pem())
