"""`newsletter users ...`: the workbench's accounts (editors and admins)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from newsletter.cli.boundary import config_option, handle_errors, load_app, out
from newsletter.errors import AccountError

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of prompting for it.",
)


def _password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise AccountError("no password on standard input; pipe one line to --password-stdin")
        return password
    if not sys.stdin.isatty():
        # click would echo a warning and end with a bare "Aborted!" at the end of the input.
        raise AccountError(
            "standard input is not a terminal, so the password cannot be typed here; pipe it "
            "in with --password-stdin (one line)"
        )
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@click.group()
def users() -> None:
    """Workbench accounts: editors review and approve issues in `newsletter serve` at /admin;
    admins also manage accounts. Passwords are stored only as argon2id hashes."""


@users.command("add")
@config_option
@click.argument("email")
@click.option("--role", type=click.Choice(["editor", "admin"]), default="editor", show_default=True)
@password_stdin_option
@handle_errors
def users_add(config_path: Path | None, email: str, role: str, password_stdin: bool) -> None:
    """Add an account that can sign in at /admin/login (password at least 10 characters)."""
    from newsletter.service.accounts import add_account

    app = load_app(config_path)
    view = add_account(app, email, role, _password(password_stdin))
    out.print(f"{view.email}: added as {view.role}")


@users.command("list")
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def users_list(config_path: Path | None, fmt: str) -> None:
    """List the accounts with their role and last sign-in (never a password or hash)."""
    from newsletter.service.accounts import list_accounts

    rows = list_accounts(load_app(config_path))
    if fmt == "json":
        data = [
            {
                "email": r.email,
                "role": r.role,
                "created_at": r.created_at.isoformat(),
                "last_login_at": r.last_login_at.isoformat() if r.last_login_at else None,
            }
            for r in rows
        ]
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table("email", "role", "created (UTC)", "last sign-in (UTC)")
    for r in rows:
        last = r.last_login_at.isoformat()[:16].replace("T", " ") if r.last_login_at else "never"
        table.add_row(r.email, r.role, r.created_at.isoformat()[:16].replace("T", " "), last)
    out.print(table)


@users.command("remove")
@config_option
@click.argument("email")
@handle_errors
def users_remove(config_path: Path | None, email: str) -> None:
    """Remove an account and sign it out everywhere (the last admin stays)."""
    from newsletter.service.accounts import remove_account

    remove_account(load_app(config_path), email)
    out.print(f"{email.strip()}: removed")


@users.command("passwd")
@config_option
@click.argument("email")
@password_stdin_option
@handle_errors
def users_passwd(config_path: Path | None, email: str, password_stdin: bool) -> None:
    """Set a new password for an account and sign it out everywhere."""
    from newsletter.service.accounts import change_password

    change_password(load_app(config_path), email, _password(password_stdin))
    out.print(f"{email.strip()}: password changed; signed out everywhere")


COMMANDS = [users]
