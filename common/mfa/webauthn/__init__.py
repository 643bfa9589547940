"""Passkeys (WebAuthn Level 2): registration, their list, and logins with them."""
