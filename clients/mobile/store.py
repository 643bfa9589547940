"""Where the tokens live: a JSON file only its owner can read, or memory."""

import contextlib
import json
import os
import stat
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

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

    @classmethod
    def issued(cls, *, access: str, refresh: str, expires_in: float, now: float) -> "Tokens":
        """Tokens received at `now`, to be refreshed a safety margin before they expire."""
        margin = min(MAX_SAFETY_MARGIN, expires_in / 5)
        return cls(access, refresh, now + expires_in, now + expires_in - margin)

    def needs_refresh(self, now: float) -> bool:
        """Whether the access token is expired or about to expire."""
        return now >= self.refresh_at


class TokenStore(Protocol):
    """Load, save and forget the tokens of one login."""

    def load(self) -> Tokens | None:
        """The stored tokens, or None when logged out."""

    def save(self, tokens: Tokens) -> None:
        """Replace the stored tokens."""

    def clear(self) -> None:
        """Forget the tokens."""


class MemoryTokenStore:
    """Tokens kept in this process only (an app with its own secure storage wraps this idea)."""

    def __init__(self) -> None:
        self._tokens: Tokens | None = None
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
        """Forget the tokens."""
        with self._lock:
            self._tokens = None


class FileTokenStore:
    """A JSON file of mode 0600, replaced atomically, refused when others can read it."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE_PATH) -> None:
        self.path = Path(path).expanduser()

    def load(self) -> Tokens | None:
        """The stored tokens, None when there is no file, StoreError when it is unsafe."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read the token store {self.path}: {e.strerror}") from e
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            # Checked on the open file, not the path, so a swap in between changes nothing.
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise StoreError(
                    f"refusing the token store {self.path}: mode "
                    f"{stat.S_IMODE(info.st_mode):04o} lets others read it; "
                    f"run `chmod 600 {self.path}` if you trust it, or delete it and log in again"
                )
            if info.st_uid != os.geteuid():
                raise StoreError(f"refusing the token store {self.path}: another user owns it")
            raw = file.read()
        try:
            data = json.loads(raw)
            return Tokens(
                access=str(data["access"]),
                refresh=str(data["refresh"]),
                expires_at=float(data["expires_at"]),
                refresh_at=float(data["refresh_at"]),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise StoreError(
                f"the token store {self.path} is corrupt; delete it and log in again"
            ) from e

    def save(self, tokens: Tokens) -> None:
        """Write a new file of mode 0600 beside the old one, then rename it over the old one."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with O_EXCL and mode 0600 whatever the umask.
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                os.fchmod(file.fileno(), 0o600)
                json.dump(asdict(tokens), file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except OSError as e:
            raise StoreError(f"cannot write the token store {self.path}: {e.strerror}") from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    def clear(self) -> None:
        """Delete the file."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
