"""The CLI reference page, generated from the Typer app so that it cannot drift from it.

Run at every ``mkdocs build`` by ``docs/hooks.py``; by hand::

    .venv/bin/python docs/gen_cli.py > /tmp/cli.md

Typer's own documentation writer (what ``typer riskops.cli.app utils docs`` prints) walks
the command tree; every command, argument, option, choice and default comes from the code.
"""

from __future__ import annotations

INTRO = """\
Generated from the command line itself (`riskops.cli.app`, with Typer's documentation
writer) at every build of these pages; `riskops COMMAND --help` prints the same.

Conventions shared by every command:

* `--json` prints one JSON object on stdout instead of the tables.
* Exit codes: `0` done, `1` unexpected error, `2` bad input (the message names the field,
  the rule and the value), `3` a promotion refused by a gate.
* Quiet by default: the command's story goes to stdout; the logs of MLflow, Prefect,
  Evidently and the other libraries go to `$RISKOPS_HOME/logs/riskops.log`. `riskops
  --verbose COMMAND` shows them on stderr too.
* Every command works on the home named by `RISKOPS_HOME` (see the
  [settings reference](settings.md)).
"""


def markdown() -> str:
    """The page: a short introduction, then every command of ``riskops``."""
    import typer
    from typer.cli import get_docs_for_click
    from typer.models import Context

    from riskops.cli import app

    command = typer.main.get_command(app)
    context = Context(command, info_name="riskops")
    body = get_docs_for_click(obj=command, ctx=context, name="riskops", title="CLI reference")
    title, _, rest = body.partition("\n")
    return f"{title}\n\n{INTRO}\n{rest.lstrip()}"


if __name__ == "__main__":
    print(markdown(), end="")
