"""`manage.py runserver`, as `make run` serves, its application inside the WSGI checker.

`python -m tests.runserver ADDR:PORT [runserver's options]`: the project's settings, and
whatever of the environment they read.
"""

import os
import sys
from typing import Any

import django
from django.core.management import get_commands, load_command_class
from django.core.management.commands.runserver import Command as RunserverCommand

from tests.wsgi import WsgiApplication, checked


def main(argv: list[str]) -> None:
    """Serve as `manage.py runserver *argv` would, every response checked."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    # The installed apps' runserver (whitenoise's, over staticfiles' and Django's own).
    command = load_command_class(get_commands()["runserver"], "runserver")
    assert isinstance(command, RunserverCommand)
    handler = command.get_handler

    def get_handler(*args: Any, **options: Any) -> WsgiApplication:
        return checked(handler(*args, **options))

    command.get_handler = get_handler  # type: ignore[method-assign,assignment]
    command.run_from_argv(["manage.py", "runserver", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
