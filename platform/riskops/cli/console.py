"""``riskops console``: the governance console in a browser (``services.console``).

The console is an adapter like the service: the CLI starts it at run time, the library
never imports it. It needs identities (every page is someone's): a home without any is
told how to create its first admin.
"""

from __future__ import annotations

from typing import Annotated

import typer

from riskops.cli.output import command, stderr


def console(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 3100,
    host: Annotated[str, typer.Option("--host", help="Interface (default: this machine only).")] = (
        "127.0.0.1"
    ),
) -> None:
    """Serve the governance console: inventory, versions, approvals, audit, findings."""
    with command(False):
        from riskops.errors import BadInputError
        from riskops.identity.resolve import provider_configured
        from riskops.settings import Settings

        settings = Settings()
        if not provider_configured(settings):
            raise BadInputError(
                "console: this home has no identities and the console needs them; create "
                "the first admin with `riskops users bootstrap NAME`"
            )
        settings.ensure_home()
        settings.export_environment()
        import uvicorn

        stderr.print(f"console on http://{host}:{port} (home {settings.home})", highlight=False)
        uvicorn.run(
            "services.console.app:create_app",
            factory=True,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
        )
