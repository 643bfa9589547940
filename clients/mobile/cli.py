"""The command line client: one login per store file, one line per error, non-zero on failure."""

import argparse
import getpass
import sys
from collections.abc import Sequence

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
    login = commands.add_parser("login", parents=[common], help="log in and store the tokens")
    login.add_argument("username")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    commands.add_parser("profile", parents=[common], help="show my profile")
    edit = commands.add_parser("edit", parents=[common], help="change my display name or bio")
    edit.add_argument("--display-name")
    edit.add_argument("--bio")
    commands.add_parser("devices", parents=[common], help="list my logins, * marks this one")
    revoke = commands.add_parser("revoke", parents=[common], help="end one of my logins")
    revoke.add_argument("device_id", metavar="ID")
    commands.add_parser("logout", parents=[common], help="end this login")
    commands.add_parser("logout-all", parents=[common], help="end every login of mine")
    return parser


def _password_read(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("Password: ")


def _run(client: DualauthClient, args: argparse.Namespace) -> str:
    """Carry out the command; what to print."""
    if args.command == "login":
        password = _password_read(args.password_stdin)
        if not password:
            raise DualauthError("no password given", code="validation_error")
        client.login(args.username, password)
        return f"logged in to {client.server} as {args.username}"
    if args.command == "profile":
        profile = client.profile()
        return "\n".join(f"{key}: {value}" for key, value in profile.items())
    if args.command == "edit":
        if args.display_name is None and args.bio is None:
            raise DualauthError("nothing to change: give --display-name and/or --bio")
        profile = client.profile_update(display_name=args.display_name, bio=args.bio)
        return f"updated: display_name={profile['display_name']!r} bio={profile['bio']!r}"
    if args.command == "devices":
        return "\n".join(
            f"{'*' if device['current'] else ' '} {device['id']}  "
            f"since {device['created_at']}  last used {device['last_used_at']}  "
            f"{device['ip'] or '-'}  {device['user_agent'] or '-'}"
            for device in client.devices()
        )
    if args.command == "revoke":
        client.device_revoke(args.device_id)
        return f"revoked {args.device_id}"
    if args.command == "logout":
        client.logout()
        return "logged out"
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
    try:
        with DualauthClient(args.server, store=FileTokenStore(args.store)) as client:
            output = _run(client, args)
    except DualauthError as error:
        print(f"error: {error_message(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    if output:
        print(output)
    return 0
