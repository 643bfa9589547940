"""The account around the login: signup, verification, reset, email change, re-authentication."""
