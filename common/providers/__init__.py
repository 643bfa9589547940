"""External providers: sign-in with Google, Apple or any OpenID Connect provider, in every mode."""
