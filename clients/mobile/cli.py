"""The command line client: one login per store file, one line per error, non-zero on failure."""

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

from clients.mobile.client import DEFAULT_SERVER, DualauthClient
from clients.mobile.errors import (
    DualauthError,
    InvalidCredentialsError,
    InvalidInputError,
    LoginEndedError,
    NotLoggedInError,
    ServerUnavailableError,
    ThrottledError,
)
from clients.mobile.store import DEFAULT_STORE_PATH, FileTokenStore

Command = Callable[[DualauthClient, argparse.Namespace], str]


def _connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Given after the command, an option must not reset the value given before it.
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER if defaults else argparse.SUPPRESS,
        help=f"API base URL (default {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--store",
        default=str(DEFAULT_STORE_PATH) if defaults else argparse.SUPPRESS,
        help=f"token file, readable by you alone; the device token goes beside it "
        f"(default {DEFAULT_STORE_PATH})",
    )


def parser_build() -> argparse.ArgumentParser:
    """The argument parser; `--server` and `--store` go before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, defaults=False)
    parser = argparse.ArgumentParser(
        prog="python -m clients.mobile",
        description="A dualauth client over JWT (Authorization: Bearer).",
    )
    _connection_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        """The subcommand `name`, carried out by `func`."""
        subparser = commands.add_parser(name, parents=[common], help=help_text)
        subparser.set_defaults(func=func)
        return subparser

    login = command("login", _login, "log in and store the tokens")
    login.add_argument("username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    command("profile", _profile, "show my profile")
    edit = command("edit", _edit, "change my display name or bio")
    edit.add_argument("--display-name")
    edit.add_argument("--bio")
    command("devices", _devices, "list my logins, * marks this one")
    revoke = command("revoke", _revoke, "end one of my logins")
    revoke.add_argument("device_id", metavar="ID")
    command("logout", _logout, "end this login")
    command("logout-all", _logout_all, "end every login of mine")
    return parser


def _password_read(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("Password: ")


def _login(client: DualauthClient, args: argparse.Namespace) -> str:
    """Log in and store the tokens; what to print."""
    password = _password_read(args.password_stdin)
    if not password:
        raise DualauthError("no password given", code="validation_error")
    client.login(args.username, password)
    return f"logged in to {client.server} as {args.username}"


def _profile(client: DualauthClient, args: argparse.Namespace) -> str:
    """My profile, one field a line."""
    profile = client.profile()
    return "\n".join(f"{key}: {value}" for key, value in profile.items())


def _edit(client: DualauthClient, args: argparse.Namespace) -> str:
    """Change my display name and/or bio; what to print."""
    if args.display_name is None and args.bio is None:
        raise DualauthError("nothing to change: give --display-name and/or --bio")
    profile = client.profile_update(display_name=args.display_name, bio=args.bio)
    return f"updated: display_name={profile['display_name']!r} bio={profile['bio']!r}"


def _devices(client: DualauthClient, args: argparse.Namespace) -> str:
    """My logins, one a line, * marking this one."""
    return "\n".join(
        f"{'*' if device['current'] else ' '} {device['id']}  "
        f"since {device['created_at']}  last used {device['last_used_at']}  "
        f"{device['ip'] or '-'}  {device['user_agent'] or '-'}"
        for device in client.devices()
    )


def _revoke(client: DualauthClient, args: argparse.Namespace) -> str:
    """End one of my logins; what to print."""
    client.device_revoke(args.device_id)
    return f"revoked {args.device_id}"


def _logout(client: DualauthClient, args: argparse.Namespace) -> str:
    """End this login; what to print."""
    client.logout()
    return "logged out"


def _logout_all(client: DualauthClient, args: argparse.Namespace) -> str:
    """End every login of mine; what to print."""
    client.logout_all()
    return "logged out everywhere"


def error_message(error: DualauthError) -> str:
    """One line for people."""
    if isinstance(error, InvalidCredentialsError):
        return "wrong username or password"
    if isinstance(error, ThrottledError):
        return f"too many failed logins: try again in {error.retry_after} s"
    if isinstance(error, LoginEndedError):
        return f"{error.message} ({error.code}); the tokens were removed: log in again"
    if isinstance(error, NotLoggedInError):
        return "not logged in: run `python -m clients.mobile login USERNAME` first"
    if isinstance(error, InvalidInputError) and error.errors:
        fields = "; ".join(
            f"{field}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
            for field, messages in error.errors.items()
        )
        return f"invalid input: {fields}"
    if isinstance(error, ServerUnavailableError):
        return error.message
    return f"{error.message} ({error.code})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 on any failure, 2 on bad usage."""
    args = parser_build().parse_args(argv)
    command: Command = args.func
    try:
        with DualauthClient(args.server, store=FileTokenStore(args.store)) as client:
            output = command(client, args)
    except DualauthError as error:
        print(f"error: {error_message(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    if output:
        print(output)
    return 0
