"""A Python client of dualauth's JWT header mode, for scripts and apps, with a CLI on top."""

from clients.mobile.client import DualauthClient
from clients.mobile.store import FileTokenStore, MemoryTokenStore, Tokens, TokenStore

__all__ = ["DualauthClient", "FileTokenStore", "MemoryTokenStore", "TokenStore", "Tokens"]
