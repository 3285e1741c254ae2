"""The governance console: server-rendered pages over the library, for model-risk reviewers.

``riskops console`` serves :func:`create_app` with uvicorn. Pages (all need the ``view``
permission; every action the permission of the library call behind it):

==========================================  ===============================================
``GET /login``, ``POST /login``             a token in, a session cookie out
``GET /``                                   the inventory: tier, owner, champion,
                                            challenger, shadow, validation, findings, live
``GET /models/{name}/versions/{v}``         metrics, gates and reasons, drift, SHAP plots,
                                            card and report, lineage, history, findings
``POST /models/{name}/versions/{v}/promote``  request the promotion (``promote``)
``GET /approvals``                          pending requests with their gates
``POST /approvals/{name}/{v}/approve``      with a reason (``approve``; not your own)
``POST /approvals/{name}/{v}/reject``       with a reason (``reject``)
``GET /audit``                              the trail, newest first, with its verification
``GET /findings``, ``POST /findings``,      the register; add and close (``findings``)
``POST /findings/{id}/close``
``GET /artifacts/{name}/{v}/{path}``        a figure, the card or a report of the version
==========================================  ===============================================

Errors map as the CLI's exit codes do: not authenticated 401 (pages redirect to the login),
a missing permission 403 naming it, bad input 400, a refused promotion 409, not found 404.
The pages work without JavaScript: plain links and forms, labelled, keyboard-operable.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from riskops.errors import (
    AuthenticationError,
    BadInputError,
    NotFoundError,
    PermissionDenied,
    PromotionRefused,
    RiskOpsError,
)
from riskops.identity.roles import Principal, require
from riskops.settings import Settings
from services.console import views
from services.console.sessions import COOKIE, Session, Sessions

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["url"] = lambda s: quote(str(s), safe="")
    env.filters["num"] = _number
    return env


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass(frozen=True)
class Section:
    """One section of a page: ``templates/<kind>/NN_<id>.html``, titled after its id."""

    id: str
    template: str

    @property
    def title(self) -> str:
        return self.id.replace("_", " ").capitalize()


def sections(kind: str) -> list[Section]:
    """The sections of a page (``templates/<kind>/NN_<id>.html``), in file-name order:
    a new section is one template there."""
    out = []
    for path in sorted((TEMPLATES / kind).glob("*.html")):
        stem = path.stem.split("_", 1)
        out.append(Section(stem[-1], f"{kind}/{path.name}"))
    return out


class Console:
    """Holds the settings, the authenticator and the sessions of one console process."""

    def __init__(self, settings: Settings, authenticator: Any = None) -> None:
        from riskops.identity.authenticator import Authenticator

        self.settings = settings
        self.auth = authenticator or Authenticator(settings).start()
        self.sessions = Sessions()
        self.templates = _environment()
        self.workdir = views.new_workdir(settings)

    # ---------------------------------------------------------------- helpers
    def session_of(self, request: Request) -> tuple[Session, Principal]:
        session = self.sessions.get(request.cookies.get(COOKIE))
        if session is None:
            raise AuthenticationError("session: log in with your token")
        try:
            principal = self.auth.authenticate(session.token)
        except AuthenticationError:
            self.sessions.drop(request.cookies.get(COOKIE))
            raise
        return session, principal

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        session: Session | None = None,
        principal: Principal | None = None,
        **context: Any,
    ) -> HTMLResponse:
        flash = list(session.flash) if session else []
        if session:
            session.flash.clear()
        html = self.templates.get_template(template).render(
            request=request,
            me=principal,
            csrf=session.csrf if session else "",
            flash=flash,
            sections=sections,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def error_page(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, AuthenticationError):
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
            status = 401
        elif isinstance(exc, PermissionDenied):
            status = 403
        elif isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, PromotionRefused):
            status = 409
        elif isinstance(exc, BadInputError):
            status = 400
        else:
            status = 500
        session = self.sessions.get(request.cookies.get(COOKIE))
        principal = None
        if session is not None:
            try:
                principal = self.auth.authenticate(session.token)
            except AuthenticationError:
                session = None
        message = str(exc) if isinstance(exc, RiskOpsError) else "unexpected error (see logs)"
        return self.render(
            request,
            "error.html",
            status,
            session,
            principal,
            code=status,
            message=message,
            permission=getattr(exc, "permission", None),
        )

    def act(
        self,
        request: Request,
        csrf: str | None,
        action: Callable[[Principal], str],
        back: str,
    ) -> Response:
        """A form's action as the logged-in principal; its message flashed on ``back``."""
        session, principal = self.session_of(request)
        if not session.csrf_ok(csrf):
            raise PermissionDenied(
                "csrf: the form is stale; reload the page", "csrf", principal.name
            )
        message = action(principal)
        session.flash.append(("ok", message))
        return RedirectResponse(back, 303)


def create_app(settings: Settings | None = None, authenticator: Any = None) -> FastAPI:
    """The console's ASGI app (``uvicorn --factory services.console.app:create_app``)."""
    settings = settings or Settings()
    console = Console(settings, authenticator)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        console.auth.stop()
        shutil.rmtree(console.workdir, ignore_errors=True)

    app = FastAPI(
        title="RiskOps console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = console
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(RiskOpsError)
    async def _riskops_error(request: Request, exc: RiskOpsError) -> Response:
        return console.error_page(request, exc)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("x-content-type-options", "nosniff")
        response.headers.setdefault("referrer-policy", "same-origin")
        response.headers.setdefault(
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        return response

    # ------------------------------------------------------------------ login
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> Response:
        return console.render(request, "login.html", next=_local(next), error=None)

    @app.post("/login")
    def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
        try:
            principal = console.auth.authenticate(token)
            require(principal, "view", "use the console")
        except (AuthenticationError, PermissionDenied) as exc:
            return console.render(request, "login.html", 401, next=_local(next), error=str(exc))
        sid, session = console.sessions.create(token.strip())
        session.flash.append(("ok", f"logged in as {principal.name}"))
        response = RedirectResponse(_local(next), 303)
        response.set_cookie(
            COOKIE,
            sid,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        console.sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # ----------------------------------------------------------------- pages
    @app.get("/", response_class=HTMLResponse)
    def inventory_page(request: Request) -> Response:
        from riskops.inventory import inventory

        session, me = console.session_of(request)
        require(me, "view", "see the inventory")
        return console.render(request, "inventory.html", 200, session, me, rows=inventory(settings))

    @app.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
    def version_page(request: Request, name: str, version: int) -> Response:
        session, me = console.session_of(request)
        require(me, "view", "see a version")
        v = views.version_view(settings, name, version, console.workdir / "facts")
        return console.render(request, "version.html", 200, session, me, v=v)

    @app.get("/artifacts/{name}/{version}/{path:path}")
    def artifact(request: Request, name: str, version: int, path: str) -> Response:
        _, me = console.session_of(request)
        require(me, "view", "see a version's documents")
        local = views.served_artifact(settings, name, version, path, console.workdir / "files")
        headers = {}
        if path.endswith(".html"):
            # Reports embed Evidently's scripts: run them in an opaque origin, away from
            # the console's cookies and pages.
            headers["content-security-policy"] = "sandbox allow-scripts"
        return FileResponse(local, headers=headers)

    @app.get("/approvals", response_class=HTMLResponse)
    def approvals_page(request: Request) -> Response:
        session, me = console.session_of(request)
        require(me, "view", "see pending approvals")
        pending = views.pending_approvals(settings)
        return console.render(request, "approvals.html", 200, session, me, pending=pending)

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, model: str = "") -> Response:
        session, me = console.session_of(request)
        require(me, "view", "read the audit trail")
        return console.render(
            request, "audit.html", 200, session, me, a=views.audit_view(settings, model)
        )

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(request: Request) -> Response:
        session, me = console.session_of(request)
        require(me, "view", "see findings")
        return console.render(
            request, "findings.html", 200, session, me, findings=views.findings_view(settings)
        )

    # ---------------------------------------------------------------- actions
    def lifecycle(principal: Principal) -> Any:
        from riskops.lifecycle import Lifecycle

        return Lifecycle(settings, principal=principal)

    @app.post("/models/{name}/versions/{version}/promote")
    def promote(request: Request, name: str, version: int, csrf: str = Form("")) -> Response:
        def go(me: Principal) -> str:
            result = lifecycle(me).promote(name, version)
            if result.refused:
                return f"{name} v{version} refused: " + "; ".join(result.reasons())
            return result.note or (
                f"{name} v{version} promoted" if result.promoted else f"{name} v{version}"
            )

        return console.act(request, csrf, go, f"/models/{quote(name)}/versions/{version}")

    @app.post("/approvals/{name}/{version}/approve")
    def approve(
        request: Request, name: str, version: int, reason: str = Form(""), csrf: str = Form("")
    ) -> Response:
        def go(me: Principal) -> str:
            out = lifecycle(me).approve(name, version, reason)
            if out.promoted:
                return f"{name} v{version} approved and promoted to champion"
            if out.refused:
                return f"{name} v{version} refused at approval: " + "; ".join(out.reasons())
            approvals = out.approvals or {"required": 0, "approved_by": []}
            left = approvals["required"] - len(approvals["approved_by"])
            return f"{name} v{version} approved; {left} more approval(s) needed"

        return console.act(request, csrf, go, "/approvals")

    @app.post("/approvals/{name}/{version}/reject")
    def reject(
        request: Request, name: str, version: int, reason: str = Form(""), csrf: str = Form("")
    ) -> Response:
        def go(me: Principal) -> str:
            lifecycle(me).reject(name, version, reason)
            return f"{name} v{version} rejected"

        return console.act(request, csrf, go, "/approvals")

    @app.post("/findings")
    def add_finding(
        request: Request,
        model: str = Form(""),
        version: str = Form(""),
        severity: str = Form(""),
        owner: str = Form(""),
        due: str = Form(""),
        text: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        from riskops.findings import FindingsRegister

        def go(me: Principal) -> str:
            try:
                number = int(version)
            except ValueError:
                raise BadInputError(f"version: {version!r} is not a version number") from None
            found = FindingsRegister(settings, me).add(model, number, severity, owner, due, text)
            return f"finding #{found.id} recorded on {model} v{number}"

        return console.act(request, csrf, go, "/findings")

    @app.post("/findings/{finding}/close")
    def close_finding(
        request: Request, finding: int, reason: str = Form(""), csrf: str = Form("")
    ) -> Response:
        from riskops.findings import FindingsRegister

        def go(me: Principal) -> str:
            FindingsRegister(settings, me).close(finding, reason)
            return f"finding #{finding} closed"

        return console.act(request, csrf, go, "/findings")

    return app


def _local(target: str) -> str:
    """Only redirect within the console (``next`` comes from the query string)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"
