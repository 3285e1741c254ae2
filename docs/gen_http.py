"""The HTTP reference page, generated from the service's OpenAPI schema so that it cannot drift.

Run at every ``mkdocs build`` by ``docs/hooks.py``; by hand::

    .venv/bin/python docs/gen_http.py > /tmp/http.md

The schema is the one the service publishes at ``/docs.json``: BentoML builds it from the
service class (``services.service``), whose routes come from the installed families, without
starting a server. :func:`schema` runs in a child process with throw-away ``RISKOPS_HOME`` and
``BENTOML_HOME`` folders, so that nothing is written to the user's homes or the checkout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REF = "#/components/schemas/"


def _spec_in_this_process() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from services.docs import DESCRIPTION, TITLE
    from services.service import RiskService

    spec: dict[str, Any] = RiskService.openapi_spec.asdict()
    # The service rewrites BentoML's boilerplate the same way when it answers /docs.json.
    spec["info"] = {"title": TITLE, "description": DESCRIPTION}
    return spec


def schema() -> dict[str, Any]:
    """The service's OpenAPI schema, built in a child process."""
    with tempfile.TemporaryDirectory(prefix="riskops-docs-") as tmp:
        env = {
            **os.environ,
            "RISKOPS_HOME": str(Path(tmp) / "home"),
            "BENTOML_HOME": str(Path(tmp) / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"building the OpenAPI schema failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


# ------------------------------------------------------------------------------- render


def _name(ref: str) -> str:
    return ref.removeprefix(REF)


def _display(name: str) -> str:
    """BentoML names a route's body and answer ``<Model>IODescriptor``; drop the suffix."""
    return name.removesuffix("IODescriptor")


def _slug(text: str) -> str:
    """The anchor Python-Markdown's table of contents gives a heading with this text."""
    text = unicodedata.normalize("NFKD", text)
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchor(name: str) -> str:
    return _slug(_display(name))


def _type(node: dict[str, Any]) -> str:
    if "$ref" in node:
        name = _name(node["$ref"])
        return f"[{_display(name)}](#{_anchor(name)})"
    if "anyOf" in node or "oneOf" in node:
        options = [_type(option) for option in node.get("anyOf", node.get("oneOf", []))]
        return " or ".join(dict.fromkeys(options))
    kind = node.get("type")
    if kind == "array":
        return f"array of {_type(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"object of {_type(node['additionalProperties'])}"
    if "enum" in node:
        return " or ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    return str(kind or "any")


_LIMITS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minItems", "items ≥ {}"),
    ("maxItems", "items ≤ {}"),
    ("pattern", "matches `{}`"),
    ("format", "format {}"),
)


def _constraints(node: dict[str, Any]) -> str:
    found = [template.format(node[key]) for key, template in _LIMITS if key in node]
    for option in node.get("anyOf", []):
        found += [template.format(option[key]) for key, template in _LIMITS if key in option]
    return ", ".join(found)


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _fields(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["(no fields)", ""]
    required = set(schema.get("required", []))
    lines = [
        "| field | type | required | default | constraints | description |",
        "|---|---|---|---|---|---|",
    ]
    for name, node in properties.items():
        default = "" if "default" not in node else f"`{json.dumps(node['default'])}`"
        lines.append(
            f"| `{name}` | {_cell(_type(node))} | {'yes' if name in required else ''} "
            f"| {_cell(default)} | {_cell(_constraints(node))} "
            f"| {_cell(node.get('description', ''))} |"
        )
    if schema.get("additionalProperties") is False:
        lines += ["", "Other fields are refused (400)."]
    return [*lines, ""]


def _example(schema: dict[str, Any]) -> dict[str, Any] | None:
    """A body from the fields' own examples (the ones the service's tests send)."""
    body = {}
    for name, node in schema.get("properties", {}).items():
        if node.get("examples"):
            body[name] = node["examples"][0]
        elif name in schema.get("required", []) and "default" in node:
            body[name] = node["default"]
    return body or None


def _references(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(_name(node["$ref"]))
        for value in node.values():
            _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)


def _reachable(spec: dict[str, Any], roots: set[str]) -> list[str]:
    schemas = spec.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        more: set[str] = set()
        _references(schemas[name], more)
        todo += sorted(more - seen)
    return sorted(seen, key=_display)


def _body_schema(content: dict[str, Any]) -> dict[str, Any] | None:
    media = content.get("application/json") or next(iter(content.values()), None)
    return None if media is None else media.get("schema")


def _operation(method: str, path: str, op: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    lines = [f"## `{method.upper()} {path}`", ""]
    text = op.get("description") or op.get("summary") or ""
    if text:
        lines += [text.strip(), ""]
    schemas = spec.get("components", {}).get("schemas", {})
    body = _body_schema(op.get("requestBody", {}).get("content", {}))
    if body is not None:
        if "$ref" in body:
            body = schemas[_name(body["$ref"])]
        lines += ["**Request body** (JSON):", "", *_fields(body)]
        example = _example(body)
        if example is not None:
            lines += ["Example:", "", "```json", json.dumps(example, indent=2), "```", ""]
    responses = op.get("responses", {})
    if responses:
        lines += ["**Responses**:", "", "| status | meaning | body |", "|---|---|---|"]
        inline: list[tuple[str, dict[str, Any]]] = []
        for status, answer in responses.items():
            schema = _body_schema(answer.get("content", {}))
            if schema is None:
                shape = ""
            elif "$ref" in schema:
                shape = _type(schema)
            else:
                shape = "below"
                inline.append((status, schema))
            lines.append(f"| {status} | {_cell(answer.get('description', ''))} | {shape} |")
        lines.append("")
        for status, schema in inline:
            lines += [f"Response `{status}` fields:", "", *_fields(schema)]
    return lines


def markdown(spec: dict[str, Any] | None = None) -> str:
    """The page: the service's own description, each route, then each schema they use."""
    spec = schema() if spec is None else spec
    info = spec.get("info", {})
    lines = [
        "# HTTP reference",
        "",
        "Generated from the service's OpenAPI schema (the one `riskops serve` publishes at "
        "`/docs.json`, with its Swagger page at `/`) at every build of these pages. A family "
        "installed as a plug-in adds its own route, which appears here once installed.",
        "",
        info.get("description", "").strip(),
        "",
        "| method | path | what |",
        "|---|---|---|",
    ]
    operations = [
        (method, path, op)
        for path, methods in spec.get("paths", {}).items()
        for method, op in methods.items()
    ]
    for method, path, op in operations:
        summary = (op.get("description") or op.get("summary") or "").strip().split("\n")[0]
        anchor = _slug(f"{method.upper()} {path}")
        lines.append(f"| {method.upper()} | [`{path}`](#{anchor}) | {_cell(summary)} |")
    lines.append("")
    roots: set[str] = set()
    for method, path, op in operations:
        lines += _operation(method, path, op, spec)
        _references(op, roots)
    schemas = spec.get("components", {}).get("schemas", {})
    names = _reachable(spec, roots)
    if names:
        lines += ["## Schemas", ""]
        for name in names:
            lines += [f"### {_display(name)}", ""]
            if schemas[name].get("description"):
                lines += [_cell(schemas[name]["description"]), ""]
            lines += _fields(schemas[name])
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--json"]:
        print(json.dumps(_spec_in_this_process()))
    else:
        print(markdown(), end="")
