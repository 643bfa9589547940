"""A second, minimal Django project that adopts dualauth, as a team adds it to its own."""
