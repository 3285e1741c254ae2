"""The command line's conventions, kept in one place: usage errors under ``--json`` as the
JSON envelope (:mod:`riskops.cli.output`), and flags shown without a value type.

Keep this module free of heavy imports: it runs before every command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup


class RiskOpsGroup(TyperGroup):
    """The ``riskops`` command group.

    * With ``--json`` anywhere on the command line, a usage error (an unknown option, a bad
      choice, a missing argument) is the one JSON object of the envelope on stdout, exit 2,
      instead of Typer's box on stderr.
    * Flags (``--json``, ``--force``, ``--retrain/--no-retrain``) take no value, so their
      help shows none (Typer 0.2x prints ``<bool>`` beside them).
    """

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _flags_show_no_value_type()
        argv = list(sys.argv[1:] if args is None else args)
        if "--json" not in argv:
            return super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=standalone_mode,
                **extra,
            )
        try:
            returned = super().main(
                args=argv,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.TyperException as exc:  # Typer's own click's errors (it vendors click)
            from riskops.cli.output import envelope, error_object, print_json

            kind = "UsageError" if isinstance(exc, _usage_error()) else type(exc).__name__
            print_json(envelope({}, error_object(kind, exc.format_message(), exc.exit_code)))
            code = exc.exit_code
        except typer.Abort:
            code = 1
        else:
            # Without standalone mode click returns what the command returned (None), or
            # the code of a ``typer.Exit`` it raised.
            code = returned if isinstance(returned, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_error() -> type:
    """The ``UsageError`` class of the click copy Typer runs on (a base of BadParameter)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def _flags_show_no_value_type() -> None:
    """Typer's rich help prints a value type beside every option, flags included
    (``--json <bool>``); a flag takes no value, so it shows none."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_riskops_flags", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    display_type_rich._riskops_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
