"""Bench-only settings: the product's, plus the bench routes and what stock simplejwt needs.

Stock simplejwt authenticates with `AUTH_TOKEN_CLASSES`: pointing it at dualauth's own
access token class lets the stock paths accept the very tokens a dualauth login issues
(same signature, same claims), decoded by stock code with no revocation check.
"""

from datetime import timedelta

from project.settings import *  # noqa: F403
from project.settings import SIMPLE_JWT

ROOT_URLCONF = "bench.urls"

SIMPLE_JWT = {
    **SIMPLE_JWT,
    "AUTH_TOKEN_CLASSES": ("jwt_auth.tokens.DualAccessToken",),
    # A long run must not see its tokens expire; the lifetime costs nothing per request.
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=3),
}
