"""A stock Django project for the bench's stock rows: nothing of dualauth runs in it."""
