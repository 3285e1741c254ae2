"""``riskops users …``, ``riskops login``, ``logout`` and ``whoami``: identities and tokens.

A new home has no identities and runs in the local single-user mode (every record names
the self-declared ``RISKOPS_ACTOR`` or operating-system user). ``riskops users bootstrap
NAME`` creates its first admin and prints the admin's token once; from then on every
command that acts needs a token (``RISKOPS_TOKEN`` or ``riskops login``), and the admin
adds the others with ``riskops users add NAME --role ROLE``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from riskops.cli import options as opt
from riskops.cli.output import command, emit, stderr, stdout

app = typer.Typer(
    help="Identities and their tokens: bootstrap the first admin, add, list, revoke.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The person's or service account's name.")]
Roles = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="data_scientist, validator, admin or service (repeat for several).",
    ),
]


def _print_token(name: str, token: str) -> None:
    stdout.print(f"token for {name} (shown once; store it, e.g. `riskops login`):")
    # Plain print: no wrapping or markup may alter a secret.
    print(token)


@app.command()
def bootstrap(name: Name, json_out: opt.Json = False) -> None:
    """Create the first admin of a home that has no identities yet; prints its token once."""
    with command(json_out):
        from riskops import access
        from riskops.settings import Settings

        who, issued = access.bootstrap(Settings(), name)
        payload = {
            "name": who,
            "roles": ["admin"],
            "token_id": issued.token_id,
            "token": issued.token,
        }
        emit(payload, json_out, lambda: _print_token(who, issued.token))


@app.command()
def add(name: Name, role: Roles, json_out: opt.Json = False) -> None:
    """Add a person or service account (admin only); prints its token once."""
    with command(json_out):
        from riskops import access
        from riskops.identity.resolve import current
        from riskops.settings import Settings

        settings = Settings()
        who, issued = access.add(settings, current(settings), name, role)
        payload = {
            "name": who,
            "roles": sorted(set(role)),
            "token_id": issued.token_id,
            "token": issued.token,
        }
        emit(payload, json_out, lambda: _print_token(who, issued.token))


@app.command()
def token(name: Name, json_out: opt.Json = False) -> None:
    """Issue one more token to an identity (admin only; rotation); prints it once."""
    with command(json_out):
        from riskops import access
        from riskops.identity.resolve import current
        from riskops.settings import Settings

        settings = Settings()
        issued = access.issue(settings, current(settings), name)
        payload = {"name": name, "token_id": issued.token_id, "token": issued.token}
        emit(payload, json_out, lambda: _print_token(name, issued.token))


@app.command("list")
def list_(json_out: opt.Json = False) -> None:
    """Every identity, its roles, and whether it is revoked."""
    with command(json_out):
        from riskops import access
        from riskops.identity.resolve import current
        from riskops.settings import Settings

        settings = Settings()
        rows = [r.to_dict() for r in access.listing(settings, current(settings))]

        def render() -> None:
            from rich.table import Table

            table = Table("name", "kind", "roles", "tokens", "state")
            for r in rows:
                state = f"revoked {r['revoked_at'][:19]}" if r["revoked_at"] else "active"
                table.add_row(
                    r["name"], r["kind"], ", ".join(r["roles"]), str(r["active_tokens"]), state
                )
            stdout.print(table)

        emit({"identities": rows}, json_out, render)


@app.command()
def revoke(name: Name, json_out: opt.Json = False) -> None:
    """Revoke an identity and all its tokens at once (admin only)."""
    with command(json_out):
        from riskops import access
        from riskops.identity.resolve import current
        from riskops.settings import Settings

        settings = Settings()
        result = access.revoke(settings, current(settings), name)
        emit(
            result,
            json_out,
            lambda: stdout.print(
                f"{result['identity']} revoked ({result['tokens_revoked']} token(s)); servers "
                "refuse it within a second",
                highlight=False,
            ),
        )


def login(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from standard input.")
    ] = False,
    json_out: opt.Json = False,
) -> None:
    """Check a token and store it for this home (in your config folder, mode 0600)."""
    with command(json_out):
        from riskops.identity.resolve import login as store_login
        from riskops.settings import Settings

        secret = sys.stdin.readline() if token_stdin else typer.prompt("token", hide_input=True)
        principal, path = store_login(Settings(), secret)
        payload = {**principal.to_dict(), "stored_in": str(path)}
        emit(
            payload,
            json_out,
            lambda: stdout.print(
                f"logged in as {principal.name} ({', '.join(sorted(principal.roles))}); token "
                f"stored in {path}",
                highlight=False,
            ),
        )


def logout(json_out: opt.Json = False) -> None:
    """Forget the token stored for this home."""
    with command(json_out):
        from riskops.identity.resolve import logout as forget
        from riskops.settings import Settings

        removed = forget(Settings())
        emit(
            {"removed": removed},
            json_out,
            lambda: stdout.print("logged out" if removed else "no stored token for this home"),
        )


def whoami(json_out: opt.Json = False) -> None:
    """Who this command runs as, with roles and how the identity was established."""
    with command(json_out):
        from riskops.identity.resolve import current
        from riskops.settings import Settings

        principal = current(Settings())
        payload = {**principal.to_dict(), "permissions": sorted(principal.permissions)}

        def render() -> None:
            stdout.print(
                f"{principal.name} ({principal.source}); roles: "
                f"{', '.join(sorted(principal.roles)) or '-'}; may: "
                f"{', '.join(sorted(principal.permissions))}",
                highlight=False,
            )
            if principal.source == "self_declared":
                stderr.print(
                    "[yellow]note[/yellow] local single-user mode: the name is not "
                    "authenticated (riskops users bootstrap NAME to start using identities)"
                )

        emit(payload, json_out, render)
