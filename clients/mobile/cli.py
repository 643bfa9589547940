"""The command line client: one login per store file, one line per error, non-zero on failure."""

import argparse
import getpass
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from clients.mobile.client import DEFAULT_SERVER, DualauthClient
from clients.mobile.errors import (
    DpopProofError,
    DualauthError,
    EmailNotVerifiedError,
    InsufficientAuthenticationError,
    InvalidCredentialsError,
    InvalidInputError,
    LoginEndedError,
    MfaCodeNotValidError,
    MfaRequiredError,
    MfaTokenNotValidError,
    NotLoggedInError,
    ReauthenticationRequiredError,
    ServerUnavailableError,
    ThrottledError,
)
from clients.mobile.store import DEFAULT_STORE_PATH, FileTokenStore

PROG = "python -m clients.mobile"
# The environment variable that names the server when --server does not.
SERVER_VARIABLE = "DUALAUTH_SERVER"
Command = Callable[[DualauthClient, argparse.Namespace], str]
T = TypeVar("T")
# Wrong codes typed in a row before the CLI gives up; the server ends the login sooner or later.
CODE_TRIES = 3
CODE_METHODS = ("totp", "recovery_code")
# Asked rather than given on the command line, a key stays out of the shell's history.
KEY_HELP = "the key or the whole link from the mail (asked when not given)"
# What each change an undo key reverses was, for its owner.
CHANGES = {
    "passkey_added": "a passkey was added",
    "passkey_removed": "a passkey was removed",
    "totp_enabled": "an authenticator app was set up",
    "totp_disabled": "the authenticator app was turned off",
    "recovery_codes_generated": "new recovery codes were made",
    "recovery_code_used": "a recovery code was used to log in",
    "email_changed": "the address was changed",
    "password_changed": "the password was changed",
    "password_reset": "the password was reset",
    "identity_linked": "an external sign-in was linked",
}


def _connection_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    # Given after the command, an option must not reset the value given before it.
    server = os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER
    parser.add_argument(
        "--server",
        default=server if defaults else argparse.SUPPRESS,
        help=f"API base URL (default: ${SERVER_VARIABLE}, else {DEFAULT_SERVER})",
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
        prog=PROG,
        description="A dualauth client over JWT (Authorization: Bearer).",
    )
    _connection_options(parser, defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Command, help_text: str) -> argparse.ArgumentParser:
        """The subcommand `name`, carried out by `func`."""
        subparser = commands.add_parser(name, parents=[common], help=help_text)
        subparser.set_defaults(func=func)
        return subparser

    def password_stdin(subparser: argparse.ArgumentParser, what: str = "the password") -> None:
        """Give `subparser` the option --password-stdin, which reads `what`."""
        subparser.add_argument(
            "--password-stdin", action="store_true", help=f"read {what} from standard input"
        )

    login = command("login", _login, "log in and store the tokens")
    login.add_argument("username", nargs="?", help="not with --provider")
    password_stdin(login)
    login.add_argument(
        "--provider", metavar="NAME", help="log in with an ID token of this external provider"
    )
    login.add_argument(
        "--id-token",
        metavar="TOKEN",
        help="the provider's ID token, or - to read it from standard input (with --provider)",
    )
    login.add_argument(
        "--nonce",
        help="the nonce the ID token carries, from `provider-nonce` (with --provider)",
    )
    login.add_argument(
        "--code",
        help="the authenticator app's code or a recovery code, if the account has a second "
        "factor (asked when needed and not given)",
    )
    command("providers", _providers, "list the external providers the server offers")
    command(
        "provider-nonce",
        _provider_nonce,
        "print a single-use nonce to give the provider's SDK before it signs in",
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

    signup = command("signup", _signup, "create an account; a link to verify it is mailed")
    signup.add_argument("username", nargs="?", help="asked when not given")
    signup.add_argument("email", nargs="?", help="asked when not given")
    password_stdin(signup)
    verify = command(
        "verify",
        _verify,
        "verify an address with the key or link mailed to it; a new account's needs its password",
    )
    verify.add_argument("key", metavar="KEY_OR_LINK", nargs="?", help=KEY_HELP)
    password_stdin(verify, "the password (an empty line: none, for an address change)")
    resend = command("resend-verification", _resend_verification, "mail a new verification link")
    resend.add_argument("email", metavar="EMAIL")
    reset = command("reset-password", _reset_password, "mail a link that sets a new password")
    reset.add_argument("email", metavar="EMAIL")
    reset_confirm = command(
        "reset-password-confirm",
        _reset_password_confirm,
        "set a new password with the key or link mailed; every login of the account ends",
    )
    reset_confirm.add_argument("key", metavar="KEY_OR_LINK")
    password_stdin(reset_confirm, "the new password")
    undo = command(
        "undo",
        _undo,
        "this wasn't me: undo the change a mail told of; every login ends, a reset is mailed",
    )
    undo.add_argument("key", metavar="KEY_OR_LINK", nargs="?", help=KEY_HELP)
    undo.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    command("account", _account, "show my account")
    change_email = command(
        "change-email", _change_email, "move my account to EMAIL once the link mailed there is used"
    )
    change_email.add_argument("email", metavar="EMAIL")
    password_stdin(change_email, "the password, if the server asks for it again,")
    delete = command("delete-account", _delete_account, "delete my account for good")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    password_stdin(delete, "the password, if the server asks for it again,")
    reauthenticate = command(
        "reauthenticate",
        _reauthenticate,
        "confirm my password (or a second-factor code): sensitive actions open for a while",
    )
    password_stdin(reauthenticate)
    reauthenticate.add_argument(
        "--code", help="confirm with the authenticator app's code or a recovery code instead"
    )
    totp_enable = command(
        "totp-enable",
        _totp_enable,
        "turn on an authenticator app: shows its secret, asks a code, shows recovery codes once",
    )
    totp_enable.add_argument(
        "--qr", action="store_true", help="also draw the secret as a QR code in the terminal"
    )
    password_stdin(totp_enable, "the password, if the server asks for it again,")
    totp_disable = command("totp-disable", _totp_disable, "turn the authenticator app off")
    password_stdin(totp_disable, "the password, if the server asks for it again,")
    recovery = command(
        "recovery-codes", _recovery_codes, "how many recovery codes are left, or new ones"
    )
    recovery.add_argument(
        "--regenerate", action="store_true", help="make new codes; the old ones stop working"
    )
    password_stdin(recovery, "the password, if the server asks for it again,")
    return parser


def _password_read(from_stdin: bool, prompt: str = "Password: ") -> str:
    """A password: a line of standard input, or typed at `prompt` without echo; never empty."""
    password = sys.stdin.readline().rstrip("\r\n") if from_stdin else getpass.getpass(prompt)
    if not password:
        raise DualauthError("no password given", code="validation_error")
    return password


def _new_password_read(from_stdin: bool, prompt: str) -> str:
    """A new password: a line of standard input, or typed twice alike."""
    password = _password_read(from_stdin, prompt)
    if not from_stdin and getpass.getpass("Once more: ") != password:
        raise DualauthError("the two passwords differ", code="validation_error")
    return password


def _ask(prompt: str) -> str:
    """A line of standard input, after `prompt` on standard error (the output stays clean)."""
    print(prompt, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    # A terminal echoes the answer's newline; a pipe does not, and what follows needs its line.
    if not sys.stdin.isatty():
        print(file=sys.stderr)
    return answer.strip()


def _freshly(client: DualauthClient, args: argparse.Namespace, action: Callable[[], T]) -> T:
    """`action()`; if the server wants a fresh login, reauthenticate by password and retry once."""
    try:
        return action()
    except ReauthenticationRequiredError:
        password = _password_read(args.password_stdin, "Confirm your password to go on: ")
        client.reauthenticate(password=password)
    return action()


def _code_prompt(methods: Sequence[str]) -> str:
    """What to ask for a code, given the methods the server takes."""
    if "totp" not in methods:
        return "Recovery code: "
    if "recovery_code" not in methods:
        return "Code from your authenticator app: "
    return "Code from your authenticator app (or a recovery code): "


def _with_code(prompt: str, given: str | None, action: Callable[[str], T]) -> T:
    """`action(code)` with the code `given`, else asked at `prompt`, again after a wrong one."""
    if given is not None:
        return action(given)
    tries = 1
    while True:
        code = _ask(prompt)
        if not code:
            raise DualauthError("no code given", code="validation_error")
        try:
            return action(code)
        except MfaCodeNotValidError:
            if tries == CODE_TRIES:
                raise
            tries += 1
            print("That code did not work; try again.", file=sys.stderr)


def _login(client: DualauthClient, args: argparse.Namespace) -> str:
    """Log in, with the second step if the account has one, and store the tokens; what to print."""
    if args.provider:
        return _login_provider(client, args)
    if not args.username:
        raise DualauthError("give a username, or --provider", code="validation_error")
    password = _password_read(args.password_stdin)
    try:
        client.login(args.username, password)
    except MfaRequiredError as pending:
        _second_step(client, args, pending)
    return f"logged in to {client.server} as {args.username}"


def _login_provider(client: DualauthClient, args: argparse.Namespace) -> str:
    """Log in with a provider's ID token (from standard input with `-`) and its nonce."""
    if not args.id_token or not args.nonce:
        raise DualauthError(
            "--provider needs --id-token (or - for standard input) and --nonce "
            "(from `provider-nonce`)",
            code="validation_error",
        )
    id_token = sys.stdin.readline() if args.id_token == "-" else args.id_token
    try:
        client.login_provider(args.provider, id_token.strip(), args.nonce)
    except MfaRequiredError as pending:
        _second_step(client, args, pending)
    return f"logged in to {client.server} with {args.provider}"


def _providers(client: DualauthClient, args: argparse.Namespace) -> str:
    """The providers the server offers, one a line: id, name, flows."""
    return "\n".join(f"{p['id']}\t{p['name']}\t{','.join(p['flows'])}" for p in client.providers())


def _provider_nonce(client: DualauthClient, args: argparse.Namespace) -> str:
    """A nonce for the provider's SDK."""
    return client.provider_nonce()


def _second_step(
    client: DualauthClient, args: argparse.Namespace, pending: MfaRequiredError
) -> None:
    """Finish a login that asked for the second factor, with --code or a prompt."""
    mfa_token = pending.mfa_token
    if not set(CODE_METHODS) & set(pending.methods):
        raise DualauthError(
            "this account's second factor is a passkey, which the command line cannot use: "
            "sign in with a browser",
            code="mfa_method_not_supported",
        ) from None
    _with_code(
        _code_prompt(pending.methods),
        args.code,
        lambda code: client.mfa_authenticate(mfa_token, code),
    )


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


def _signup(client: DualauthClient, args: argparse.Namespace) -> str:
    """Sign up, asking what the arguments lack; what to print."""
    username = args.username or _ask("Username: ")
    email = args.email or _ask("Email: ")
    password = _new_password_read(args.password_stdin, "Password: ")
    answer = client.signup(username=username, email=email, password=password)
    if answer["code"] == "verification_sent":
        return f"{answer['detail']}\nThen run: {PROG} verify LINK"
    return answer["detail"]


def _key_or_ask(given: str | None) -> str:
    """The key or link given, else one pasted at a prompt."""
    key = given or _ask("Link (or key) from the mail: ")
    if not key:
        raise DualauthError("no key given", code="validation_error")
    return key


def _verify(client: DualauthClient, args: argparse.Namespace) -> str:
    """Verify an address with the key or link mailed to it, and the password of a new
    account (none for an address change); what to print.
    """
    key = _key_or_ask(args.key)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password of the new account (empty for an address change): ")
    verified = client.email_verify(key=key, password=password or None)
    return f"verified {verified['email']}"


def _undo(client: DualauthClient, args: argparse.Namespace) -> str:
    """Undo the change a mail told of, once confirmed; what to print."""
    key = _key_or_ask(args.key)
    if not args.yes:
        answer = _ask(
            "Undo the change, end every login of the account and replace its password? [y/N] "
        )
        if answer.casefold() not in ("y", "yes"):
            raise DualauthError("nothing undone", code="not_confirmed")
    undone = client.signin_change_undo(key=key)["undone"]
    what = CHANGES.get(undone, undone)
    return (
        f"undone: {what}\nEvery login of the account ended and its password was replaced: "
        f"follow the link mailed to its address, or run: {PROG} reset-password-confirm LINK"
    )


def _resend_verification(client: DualauthClient, args: argparse.Namespace) -> str:
    """Ask for a new verification mail; what to print."""
    return client.email_resend(email=args.email)["detail"]


def _reset_password(client: DualauthClient, args: argparse.Namespace) -> str:
    """Ask for a password reset mail; what to print."""
    answer = client.password_reset(email=args.email)
    return f"{answer['detail']}\nThen run: {PROG} reset-password-confirm LINK"


def _reset_password_confirm(client: DualauthClient, args: argparse.Namespace) -> str:
    """Set a new password with the key or link mailed; what to print."""
    new_password = _new_password_read(args.password_stdin, "New password: ")
    client.password_reset_confirm(key=args.key, new_password=new_password)
    return "password changed; every login of the account ended: log in with the new password"


def _account(client: DualauthClient, args: argparse.Namespace) -> str:
    """My account, one field a line."""
    account = client.account()
    lines = [f"{key}: {value}" for key, value in account.items() if key != "mfa"]
    lines += [f"mfa.{key}: {value}" for key, value in account["mfa"].items()]
    return "\n".join(lines)


def _change_email(client: DualauthClient, args: argparse.Namespace) -> str:
    """Ask to move my account to another address; what to print."""
    answer = _freshly(client, args, lambda: client.email_change(email=args.email))
    return (
        f"{answer['detail']}\nYour address changes once the link mailed to {args.email} is "
        f"followed, or with: {PROG} verify LINK"
    )


def _delete_account(client: DualauthClient, args: argparse.Namespace) -> str:
    """Delete my account, once confirmed; what to print."""
    if not args.yes:
        account = client.account()
        answer = _ask(
            f"Delete the account {account['username']} ({account['email']}) and all its data, "
            "for good? [y/N] "
        )
        if answer.casefold() not in ("y", "yes"):
            raise DualauthError("nothing deleted", code="not_confirmed")
    _freshly(client, args, client.account_delete)
    return "account deleted; its tokens were removed"


def _reauthenticate(client: DualauthClient, args: argparse.Namespace) -> str:
    """Confirm my password, or a second-factor code, for this login; what to print."""
    if args.code is not None:
        answer = client.reauthenticate(code=args.code)
    else:
        answer = client.reauthenticate(password=_password_read(args.password_stdin))
    return f"confirmed: sensitive actions are open until {answer['reauthenticated_until']}"


def _recovery_codes_shown(codes: Sequence[str]) -> str:
    """New recovery codes, one a line, under a warning that they are shown once."""
    lines = [
        "Your recovery codes. Each works once, in place of an app code, if you lose the app.",
        "They are shown this once: store them somewhere safe now.",
        *(f"  {code}" for code in codes),
    ]
    return "\n".join(lines)


def _qr_text(url: str) -> str:
    """`url` as a QR code drawn with block characters, for a terminal."""
    try:
        # Imported here: only --qr needs it, and the client itself does not.
        import segno
    except ImportError:
        raise DualauthError(
            "--qr needs the segno package (pip install segno); the URL above holds the same",
            code="qr_unavailable",
        ) from None
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def _totp_enable(client: DualauthClient, args: argparse.Namespace) -> str:
    """Turn on an authenticator app: its secret out, a code in; the recovery codes to print."""
    status = client.totp_status()
    if status["enabled"]:
        raise DualauthError(
            f"the authenticator app is on already; to set up another, run `{PROG} totp-disable` "
            "first",
            code="totp_enabled",
        )
    url, secret = status["otpauth_url"] or "", status["secret"] or ""
    shown = [
        "Add this account to your authenticator app: scan or open this URL",
        f"  {url}",
        f"or type in this secret: {secret}",
    ]
    if args.qr:
        shown.append(_qr_text(url))
    # Out before the question: the app needs the secret to show a code.
    print("\n".join(shown), flush=True)
    codes = _with_code(
        "Code from your authenticator app: ",
        None,
        lambda code: _freshly(client, args, lambda: client.totp_enable(code)),
    )
    return f"The authenticator app is on.\n{_recovery_codes_shown(codes)}"


def _totp_disable(client: DualauthClient, args: argparse.Namespace) -> str:
    """Turn the authenticator app off; what to print."""
    _freshly(client, args, client.totp_disable)
    return "the authenticator app is off: logins need the password alone unless a passkey is left"


def _recovery_codes(client: DualauthClient, args: argparse.Namespace) -> str:
    """How many recovery codes are left, or new ones; what to print."""
    if args.regenerate:
        codes = _freshly(client, args, client.recovery_codes_regenerate)
        return f"New recovery codes; the old ones no longer work.\n{_recovery_codes_shown(codes)}"
    return f"recovery codes left: {client.recovery_codes_status()}"


def error_message(error: DualauthError) -> str:
    """One line for people."""
    if isinstance(error, InvalidCredentialsError):
        return "wrong username or password"
    if isinstance(error, ThrottledError):
        return f"too many attempts: try again in {error.retry_after} s"
    if isinstance(error, LoginEndedError):
        return f"{error.message} ({error.code}); the tokens were removed: log in again"
    if isinstance(error, NotLoggedInError):
        return f"not logged in: run `{PROG} login USERNAME` first"
    if isinstance(error, EmailNotVerifiedError):
        return (
            "your address is not verified yet: follow the link mailed to it, "
            f"or run `{PROG} resend-verification EMAIL`"
        )
    if isinstance(error, DpopProofError):
        return (
            "the server refused this device's key for this login (a token store copied "
            f"without its key, or a clock far off): run `{PROG} login USERNAME` again"
        )
    if isinstance(error, InsufficientAuthenticationError) and error.acr_values:
        return f"this needs a stronger login ({' or '.join(error.acr_values)}): log in again"
    if isinstance(error, ReauthenticationRequiredError):
        return (
            f"this needs your password again: run `{PROG} reauthenticate` "
            f"(or `{PROG} reauthenticate --code CODE`), then try again"
        )
    if isinstance(error, MfaCodeNotValidError):
        return "that code is wrong, or was used already (mfa_code_not_valid)"
    if isinstance(error, MfaTokenNotValidError):
        return (
            "this login waited too long for its code, or had too many wrong ones: log in again "
            "(mfa_token_not_valid)"
        )
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
    except EOFError:
        print("\nerror: no answer given", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    if output:
        print(output)
    return 0
