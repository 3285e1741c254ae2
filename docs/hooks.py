"""MkDocs hooks: the reference pages are generated from the code at every build.

``mkdocs.yml`` names this file under ``hooks:``. Each generator is a script beside it
(``gen_cli.py``, ``gen_http.py``, ``gen_settings.py``, ``gen_policy.py``) that can also be run
by hand; the pages they write exist only in the built site, never in the checkout, so they
cannot drift from the code they describe.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent

# page in the site -> the generator script that writes it
GENERATED = {
    "reference/cli.md": "gen_cli.py",
    "reference/http.md": "gen_http.py",
    "reference/settings.md": "gen_settings.py",
    "reference/policy.md": "gen_policy.py",
}


def _module(script: str) -> ModuleType:
    name = f"_riskops_docs_{Path(script).stem}"
    spec = importlib.util.spec_from_file_location(name, HERE / script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@cache
def page(uri: str) -> str:
    """The Markdown of a generated page (built once per process: ``mkdocs serve`` rebuilds
    often, and the HTTP reference imports the service)."""
    return str(_module(GENERATED[uri]).markdown())


def on_config(config: Any) -> Any:
    """Included files (``--8<--``) are found from the repository root, wherever mkdocs runs."""
    root = str(Path(config.config_file_path).resolve().parent)
    snippets = config.mdx_configs.setdefault("pymdownx.snippets", {})
    snippets["base_path"] = [root]
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri in GENERATED:
        files.append(File.generated(config, uri, content=page(uri)))
    return files
