"""Second factors: authenticator apps (TOTP), recovery codes, and logins waiting for one."""
