"""The RiskOps BentoML service: the four champions behind one HTTP API.

Serve with ``riskops serve`` (or ``bentoml serve services.service:RiskService``).

=============================  ===========================================================
Route                          Answer
=============================  ===========================================================
``POST /credit/score``         PD, rating grade and reason codes per applicant
``POST /var/forecast``         next-day VaR and ES (percent) at the requested levels
``POST /volatility/forecast``  daily variance and volatility path over a horizon
``POST /anomaly/score``        anomaly score, percentile, alert flag and drivers per day
(a plug-in family's route)     whatever its family's route declares
``POST /market/observe``      new bars for the live champions (idempotent per series, time)
``GET /market/live``           every live champion: last observation, zone, exceptions,
                               p-values, alarms
``GET /models``                what is served: name, alias, version, request schema
``GET /models/{name}/perfor…`` the newest audited validation tests on matured outcomes
``GET /metrics``               Prometheus: BentoML's ``bentoml_*`` and ``riskops_*``
``GET /livez``, ``/readyz``    probes
=============================  ===========================================================

Everything model-specific lives in the families' routes (``riskops/<family>/serving.py``,
collected by :mod:`services.adapters`); this module only builds one BentoML API per route
and wires it to champions, metrics, the decision store, the inference log and auth.

A route whose answers are decisions (credit: :attr:`riskops.serving.route.Route.record`)
has its records appended to the model's stream of the live evidence store by a group-commit
writer (:class:`riskops.evidence.writer.GroupCommitWriter`, one per model and worker): the
request awaits the commit of the batch holding its rows and only then is answered. A full
queue of requests waiting for a commit (``RISKOPS_DECISIONS_MAX_PENDING``), a store that
fails or a commit slower than ``RISKOPS_DECISIONS_COMMIT_TIMEOUT_SECONDS`` answer ``503``;
an id the model already decided ``409``: no ``200`` is ever sent without its record.
Other routes' records go to the inference log, off the request path. Each worker process holds the
champions in memory (:class:`~services.champions.ChampionHolder`) and swaps them in place when the
registry's ``champion`` alias moves, so promotions need no restart.

Performance notes: handlers are ``async`` and score small credit batches directly on the
event loop (the model needs well under a millisecond; a thread hop would cost more), larger
batches and the market models in a bounded thread pool per route
(:class:`~services.limits.WorkLimits`), so that a large batch neither blocks the event loop
nor takes the threads of other routes. Bodies are bounded in size and read time
(:class:`~services.limits.BodyLimitMiddleware`) and ``/readyz`` reports the champions
(:mod:`services.readiness`). Responses are serialised with orjson
straight from dicts. BentoML's access log is off by default (one log line per request
halves throughput; the inference log records every request anyway); enable it with
``--arg access_log=true``. OpenTelemetry spans of the model routes are off by default too:
without a configured exporter they are discarded, yet creating them cost 0.3 ms per request
(a single-applicant credit request takes about 0.7 ms of CPU without them);
``--arg tracing=true`` (with an exporter in BentoML's configuration) turns them on.
"""

import asyncio
import functools
import gc
import itertools
import logging
import os
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bentoml
import orjson
from fastapi import FastAPI
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from riskops.errors import BadInputError
from riskops.evidence.store import EvidenceConflict, EvidenceStore
from riskops.evidence.writer import GroupCommitWriter, WriterOverloaded, WriterUnavailable
from riskops.live.serving import LiveRoutes, ObserveRequest
from riskops.serving.errors import ServingError
from riskops.serving.payloads import MAX_ROWS, ModelsResponse
from riskops.serving.route import Champion, Route
from services import adapters, direct, readiness, webhooks
from services.champions import ChampionHolder
from services.directory import ChampionDirectory
from services.docs import DocsMiddleware
from services.limits import BodyLimitMiddleware, Overloaded, WorkLimits
from services.middleware import CallerAuthMiddleware, JsonOnlyMiddleware, current_caller_name
from services.observability import LogPump, ServedMetrics, metrics
from services.readiness import ReadinessMiddleware
from services.shadow import ShadowLane


class ServeArguments(BaseModel):
    """``bentoml serve ... --arg workers=2``; ``riskops serve --workers 2`` passes them."""

    workers: int = Field(default=1, ge=1, le=64)
    access_log: bool = False
    tracing: bool = False


ARGS = bentoml.use_arguments(ServeArguments)
logger = logging.getLogger("riskops.serving")


def _image() -> Any:
    """The Bento's image (``bentoml build``): Python 3.11 with the project's own runtime
    dependencies, read from ``pyproject.toml`` so that the list is never copied by hand, and
    not re-resolved at build time, so that ``bentoml build`` works offline. ``riskops`` is
    imported from the Bento's sources (``PYTHONPATH`` in ``bentofile.yaml``)."""
    image = bentoml.images.Image(python_version="3.11", lock_python_packages=False)
    ours = Path(__file__).resolve().parents[1] / "pyproject.toml"
    # BentoML reads it relative to the working directory, which is the build context when
    # building; elsewhere (serving) the image is not used.
    if Path("pyproject.toml").resolve() == ours and ours.exists():
        image = image.pyproject_toml("pyproject.toml")
    return image


# GET routes: BentoML APIs are POST-only, so /models is a FastAPI class view mounted beside them.
models_app = FastAPI(title="riskops", docs_url=None, redoc_url=None, openapi_url=None)


class _InvalidBodyFilter(logging.Filter):
    """BentoML logs a traceback at ERROR for every body that fails validation and for every
    client that disconnects mid-request. A client's mistake or departure is not a server
    error: keep one INFO line, so real errors stand out."""

    def filter(self, record: logging.LogRecord) -> bool:
        from starlette.requests import ClientDisconnect

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ClientDisconnect):
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "%s: client disconnected"
            record.args = (path,)
            record.exc_info = record.exc_text = None
        elif isinstance(error, ValidationError):
            path = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg = "%s: %d invalid field(s), answered 400"
            record.args = (path, error.error_count())
            record.exc_info = record.exc_text = None
        return True


def _configure_logging() -> None:
    """``riskops.*`` records (swaps, load failures) go to BentoML's handlers; invalid bodies
    are logged as one line instead of a traceback."""
    ours = logging.getLogger("riskops")
    if not ours.handlers:
        for handler in logging.getLogger("bentoml").handlers:
            ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = False
    http = logging.getLogger("bentoml._internal.server.http_app")
    if not any(isinstance(f, _InvalidBodyFilter) for f in http.filters):
        http.addFilter(_InvalidBodyFilter())


_REQUEST_IDS = itertools.count()


def _request_id() -> str:
    """A request id unique across workers and restarts: 64 random bits drawn once per
    process (its pid folded in, so that a forked worker differs) and a counter; 32 hex
    digits like a UUID's, without a system call per request (``uuid4`` reads
    ``os.urandom`` each time: 2% of a one-applicant credit request)."""
    return f"{_process_prefix(os.getpid())}{next(_REQUEST_IDS):016x}"


@functools.cache
def _process_prefix(pid: int) -> str:
    return uuid.uuid4().hex[:16]


def _body_of(request: Any, name: str | None) -> bytes:
    """A request as the JSON body it came in (when BentoML's endpoint parsed it)."""
    return orjson.dumps({**request.model_dump(exclude_unset=True), "model": name})


def _shadow_environment(settings: Any) -> dict[str, str]:
    """The shadow process's environment: the worker's, its settings exported."""
    import os

    environment = dict(os.environ)
    environment["RISKOPS_HOME"] = str(settings.home)
    return environment


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class _RiskService:
    """RiskOps champions: credit PD, VaR/ES, volatility, market anomaly detection and any
    plug-in family's models, one route per family."""

    def __init__(self) -> None:
        from riskops.families import registered_name
        from riskops.inference_log import InferenceLogWriter
        from riskops.settings import Settings
        from services.champions import LedgerSource

        _configure_logging()
        settings = Settings()
        settings.export_environment()
        self.settings = settings
        self.routes = adapters.routes()
        outputs = tuple(o for route in self.routes.values() for o in route.outputs)
        self.metrics = metrics(outputs)
        self._bound: dict[tuple[str, str], ServedMetrics] = {}
        self.writers: dict[str, InferenceLogWriter] = {}
        self.recorders: dict[str, GroupCommitWriter] = {}
        self._store: EvidenceStore | None = None

        def on_new(name: str, family: str, holder: ChampionHolder) -> None:
            holder.on_swap(self._on_swap)
            kind = self.routes[family].record if family in self.routes else None
            if kind is None:
                self.writers[name] = InferenceLogWriter(settings, name).start()
                return
            if self._store is None:
                self._store = EvidenceStore(settings)
            self.recorders[name] = GroupCommitWriter(
                self._store, kind, name, max_pending=settings.decisions_max_pending
            ).start()

        # Every registered champion by name: each family's standard model from the start, any
        # other (a user's card_pd...) as soon as it has a champion (services.directory).
        self.live = LiveRoutes(settings, on_alarm=_alarm_events())
        self.directory = ChampionDirectory(
            LedgerSource(settings),
            {family: route.prepare for family, route in self.routes.items()},
            {family: registered_name(family) for family in self.routes},
            on_new,
            live=self.live.forecasts,
        )
        for family in self.routes:
            self.directory.add(registered_name(family), family)
        self.log = LogPump(self.writers).start()
        self.shadows = ShadowLane(
            settings.shadow_max_pending, _shadow_environment(settings), settings
        )
        threads = {family: route.threads for family, route in self.routes.items()}
        self.work = WorkLimits(threads, max_waiting=settings.serve_max_waiting)
        # Load the champions side by side: startup (and /readyz) waits for the slowest.
        with ThreadPoolExecutor(max_workers=max(1, len(self.routes))) as pool:
            list(pool.map(lambda h: h.refresh(), self.directory.holders().values()))
        self.directory.discover()
        self.directory.refresh_shadows()
        if any(self.directory.shadow_version(name) for name in self.directory.holders()):
            self.shadows.start()  # warm before the first request it is handed
        self.directory.start(settings.swap_poll_seconds)
        readiness.publish(self.directory.holders)
        direct.publish(self._answer)
        _listen_to_webhooks(settings, self.directory)
        # What is loaded by now (libraries, the first champions) lives about as long as the
        # process; keeping it out of the cyclic collector's generations shortens the full
        # collections that pause requests. A champion swapped out later is still freed by
        # reference counting.
        gc.freeze()

    def _served(self, route: Route, model: str, version: str) -> ServedMetrics:
        key = (model, version)
        served = self._bound.get(key)
        if served is None:
            served = ServedMetrics.bind(self.metrics, route.outputs, model, version)
            self._bound[key] = served
        return served

    def _on_swap(self, champion: Champion) -> None:
        self.metrics.champion_version.labels(champion.name).set(champion.version)
        self.metrics.swaps.labels(champion.name).inc()

    @property
    def holders(self) -> dict[str, ChampionHolder]:
        """Every held champion by registered model name."""
        return self.directory.holders()

    def __is_ready__(self) -> bool:
        """BentoML's readiness hook; ``/readyz`` itself is answered by
        :class:`~services.readiness.ReadinessMiddleware`, with the reasons."""
        return readiness.report()[0]

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        direct.publish(None)
        self.directory.stop()
        self.log.close()
        self.shadows.close()
        for recorder in self.recorders.values():
            recorder.close()

    async def _serve(
        self, route: Route, request: Any, name: str | None, request_body: bytes | None = None
    ) -> Response:
        """Run one request against the champion of the moment; map outcomes to statuses.

        The caller (authenticated by :class:`~services.middleware.CallerAuthMiddleware`) is
        recorded with every logged decision.
        """
        started = time.perf_counter()
        family = route.family
        # read once: one version per request
        model, champion, known = self.directory.current(family, name)
        version = str(champion.version) if champion is not None else "none"
        m = self.metrics
        try:
            if not known:
                raise adapters.unknown_model(model, family, self.directory)
            if champion is None:
                raise adapters.unavailable(model, family)
            request_id = _request_id()
            if route.inline(request):
                body, log = route.handle(champion, request, request_id)
            else:
                body, log = await self.work.run(family, route.handle, champion, request, request_id)
        except ServingError as exc:
            m.requests.labels(model, version, str(exc.status)).inc()
            return _json(exc.body, exc.status, exc.headers)
        except Overloaded as exc:
            m.requests.labels(model, version, "503").inc()
            busy = {
                "error": "Overloaded",
                "message": f"{exc.waiting} requests for {model} are already waiting; retry later",
                "model": model,
            }
            return _json(busy, 503, {"Retry-After": "1"})
        except Exception:
            m.requests.labels(model, version, "500").inc()
            raise  # BentoML logs the traceback and answers 500
        caller = current_caller_name()
        for row in log:
            row["caller"] = caller
        recorder = self.recorders.get(model)
        if recorder is not None:
            refused = await self._record(recorder, model, log)
            if refused is not None:
                m.requests.labels(model, version, str(refused.status_code)).inc()
                return refused
        else:
            self.log.put(model, log)
            dropped = self.writers[model].dropped
            if dropped:
                m.log_dropped.labels(model).set(dropped)
        served = self._served(route, model, version)
        served.latency.observe(time.perf_counter() - started)
        served.ok.inc()
        served.rows.inc(len(log))
        served.batch_rows.observe(len(log))
        served.observe(log)
        response = _json(body, 200, {"x-request-id": request_id})
        shadow = self.directory.shadow_version(model)
        if shadow is not None and shadow != champion.version:
            # The champion's answer is built: the shadow gets the request now, off the hot
            # path (services.shadow), dropped and counted when it cannot keep up.
            raw = request_body if request_body is not None else _body_of(request, name)
            self.shadows.submit(route.path, model, shadow, request_id, caller, raw)
        return response

    async def _answer(self, path: str, body: bytes) -> Response:
        """A model route's answer to a raw ``POST`` body (:mod:`services.direct`): the body
        validated by the route's BentoML input spec, as BentoML's endpoint would (same 400),
        then :meth:`_serve`."""
        route, spec = _DIRECT[path]
        try:
            parsed = spec.model_validate_json(body or b"{}")
        except ValidationError as exc:
            logger.info("%s: %d invalid field(s), answered 400", path, exc.error_count())
            detail = {
                "error": f"{exc.error_count()} validation error for {exc.title}",
                "detail": exc.errors(include_context=False, include_input=False),
            }
            return _json(detail, 400)
        fields = {key: getattr(parsed, key) for key in type(parsed).model_fields}
        name = fields.pop("model", None)
        return await self._serve(route, route.request.model_construct(**fields), name, body)

    def record_beside(
        self, model: str, rows: list[dict[str, Any]], role: str = "shadow"
    ) -> Future[Any] | None:
        """Record another version's answers to a request beside the champion's decisions,
        off the hot path: ``rows`` as the route's handler built them for that version
        (``route.handle(shadow, request, request_id)``'s records, same ids and request id),
        recorded under ``role`` (``shadow``) in ``model``'s stream by the same group-commit
        writer, with the caller of the request in progress. Returns the commit's future (an
        :class:`~riskops.evidence.store.EvidenceConflict` if that version already answered an
        id, :class:`~riskops.evidence.writer.WriterOverloaded` when the queue is full), or
        ``None`` when ``model``'s answers are not decisions (its route logs them)."""
        from riskops.credit.decisions import with_role

        recorder = self.recorders.get(model)
        if recorder is None:
            return None
        caller = current_caller_name()
        beside = with_role(rows, role)
        for row in beside:
            row["caller"] = caller
        try:
            return recorder.submit(beside)
        except WriterOverloaded as exc:
            refused: Future[Any] = Future()
            refused.set_exception(exc)
            return refused

    async def _record(
        self, recorder: GroupCommitWriter, model: str, rows: list[dict[str, Any]]
    ) -> Response | None:
        """Wait until ``rows`` are committed; the refusal to send instead, if they are not."""
        try:
            future = recorder.submit(rows)
            await asyncio.wait_for(
                asyncio.wrap_future(future), self.settings.decisions_commit_timeout_seconds
            )
        except WriterOverloaded as exc:
            busy = {
                "error": "Overloaded",
                "message": f"{exc.pending} requests for {model} already wait for their "
                "decisions to be recorded; retry later",
                "model": model,
            }
            return _json(busy, 503, {"Retry-After": "1"})
        except EvidenceConflict as exc:
            ids = list(exc.keys)
            decided = {
                "error": "AlreadyDecided",
                "message": f"{model} already decided {len(ids)} of these id(s): {ids[:10]}; "
                "an application id is decided once (send a new id for a new application)",
                "model": model,
                "ids": ids,
            }
            return _json(decided, 409)
        except BadInputError as exc:
            return _json({"error": "BadRequest", "message": str(exc), "model": model}, 400)
        except (WriterUnavailable, TimeoutError) as exc:
            why = (
                "the decisions were not committed in time (they may still be: a retry with "
                "the same ids is then answered 409)"
                if isinstance(exc, TimeoutError)
                else "the decision store failed and recorded none of them"
            )
            unavailable = {
                "error": "DecisionsNotRecorded",
                "message": f"{model}: {why}; no answer is sent without its record, retry later",
                "model": model,
            }
            return _json(unavailable, 503, {"Retry-After": "1"})
        return None

    @models_app.get("/models", response_model=ModelsResponse)
    async def models(self) -> dict[str, Any]:
        """Every served model: name, family, route, alias, version, freshness, request schema
        and, for a champion that could not load, the error."""
        out = []
        for name, holder in self.directory.holders().items():
            family = self.directory.family_of(name) or ""
            row = holder.status()
            row["family"] = row.get("family") or family
            row["route"] = adapters.route_path(family)
            row["default"] = self.directory.defaults.get(family) == name
            champion = holder.current
            schema = getattr(champion.state, "row_schema", None) if champion else None
            if schema is not None:
                row["request_schema"] = schema
            row["max_rows"] = MAX_ROWS
            shadow = self.directory.shadow_version(name)
            if shadow is not None:
                row["shadow"] = {"version": shadow, **(self.shadows.status(name) or {})}
                row["shadow"]["version"] = shadow
            out.append(row)
        return {"models": out}

    @models_app.get("/models/{name}/performance")
    async def performance(self, name: str) -> Response:
        """The newest audited run of the model's live monitor (credit: the validation tests
        on matured outcomes, ``riskops outcomes NAME``): per version and grade, the alarms,
        the seals of the evidence read; 404 when none ran."""
        import anyio.to_thread

        from riskops.names import model_name

        try:
            name = model_name(name, "name")
        except BadInputError as exc:
            return _json({"error": "BadRequest", "message": str(exc)}, 400)
        found = await anyio.to_thread.run_sync(_latest_performance, self.settings, name)
        if found is None:
            message = (
                f"no validation tests on matured outcomes were recorded for {name}: record "
                f"outcomes (riskops outcomes {name} --data FILE ...) or run them (--report)"
            )
            return _json({"error": "NotEvaluated", "message": message, "model": name}, 404)
        return _json(found)

    @models_app.get("/market/live")
    async def market_live(self) -> Response:
        """Every live champion's record since its promotion (see :mod:`riskops.live.record`)."""
        import asyncio

        return _json(await asyncio.to_thread(self.live.live))


def _latest_performance(settings: Any, name: str) -> dict[str, Any] | None:
    """The newest audit record of a live monitor's run of ``name`` (any family's monitor:
    credit's ``outcome_tests``...), as ``{"seq", "ts", "actor", "action", **body}``."""
    from riskops.audit import AuditTrail
    from riskops.families import families

    actions = {monitor.name for family in families() for monitor in family.monitors()}
    runs = [r for r in AuditTrail(settings).records(name) if r.action in actions]
    if not runs:
        return None
    newest = max(runs, key=lambda r: r.seq)
    return {
        "seq": newest.seq,
        "ts": newest.ts,
        "actor": newest.actor,
        "action": newest.action,
        **newest.body,
    }


def _alarm_events() -> Any:
    """The Prefect event of an audited live alarm, when a Prefect API is configured."""
    import importlib
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return None
    return importlib.import_module("pipelines.events").emit_performance


OBSERVE_PATH = "/market/observe"


def _observe_api() -> Any:
    """``POST /market/observe``: bars for the live champions, through the one live path."""

    async def market_observe(self: _RiskService, **fields: Any) -> Any:
        import asyncio

        request = ObserveRequest.model_construct(**fields)
        try:
            body = await asyncio.to_thread(self.live.observe, request, current_caller_name())
        except ServingError as exc:
            return _json(exc.body, exc.status, exc.headers)
        return _json(body)

    market_observe.__doc__ = "New bars for the live champions: outcomes, forecasts, alarms."
    return bentoml.api(route=OBSERVE_PATH, input_spec=ObserveRequest)(market_observe)


_DIRECT: dict[str, tuple[Route, Any]] = {}
"""Route path -> the route and its BentoML API's input spec (:meth:`_RiskService._answer`)."""


def _listen_to_webhooks(settings: Any, directory: ChampionDirectory) -> None:
    """With a tracking server and ``RISKOPS_WEBHOOK_URL``: register the registry webhook and
    let its deliveries wake the polls (:mod:`services.webhooks`)."""
    if settings.webhook_url is None:
        return
    from riskops.errors import BadInputError

    if settings.is_local_tracking():
        raise BadInputError(
            "RISKOPS_WEBHOOK_URL: webhooks need an MLflow tracking server "
            f"({settings.mlflow_tracking_uri} is a local store: the poll is what it has)"
        )
    if settings.webhook_secret is None:
        raise BadInputError(
            "RISKOPS_WEBHOOK_SECRET: required with RISKOPS_WEBHOOK_URL (MLflow signs each "
            "delivery with it; every worker checks the same one)"
        )
    from riskops import tracking

    secret = settings.webhook_secret.get_secret_value()
    webhooks.register(tracking.client(settings), settings.webhook_url, secret)
    webhooks.publish(secret, directory.wake)


def _route_api(route: Route) -> Any:
    """One BentoML API serving ``route``: the body validated against the route's request
    model (400 on a bad shape), then answered by the family's handler."""

    async def api(self: _RiskService, **fields: Any) -> Any:
        name = fields.pop("model", None)
        return await self._serve(route, route.request.model_construct(**fields), name)

    api.__name__ = api.__qualname__ = route.api_name
    api.__doc__ = route.summary
    method = bentoml.api(route=route.path, input_spec=route.request, output_spec=route.response)(
        api
    )
    _DIRECT[route.path] = (route, method.input_spec)
    return method


def _service() -> Any:
    """The service class: :class:`_RiskService` with one API per installed family's route.

    Built when this module is imported, because BentoML serves a class
    (``services.service:RiskService``); the routes come from the families' entry points."""
    routes = adapters.routes()
    namespace = {route.api_name: _route_api(route) for route in routes.values()}
    # BentoML binds a FastAPI class view only to functions in the served class's own
    # namespace, not inherited ones.
    namespace["models"] = vars(_RiskService)["models"]
    namespace["performance"] = vars(_RiskService)["performance"]
    namespace["market_live"] = vars(_RiskService)["market_live"]
    namespace["market_observe"] = _observe_api()
    service_class = type("RiskService", (_RiskService,), namespace)
    service_class.__doc__ = _RiskService.__doc__
    service_class.__module__ = __name__
    paths = [route.path for route in routes.values()]
    service: Any = bentoml.asgi_app(models_app, path="/")(
        bentoml.service(
            name="riskops",
            image=_image(),
            workers=ARGS.workers,
            traffic={"timeout": 120},
            logging={"access": {"enabled": ARGS.access_log}},
            tracing={} if ARGS.tracing else {"excluded_urls": paths},
        )(service_class)
    )
    service.add_asgi_middleware(
        CallerAuthMiddleware, model_routes=tuple(paths), permissions={OBSERVE_PATH: "observe"}
    )
    service.add_asgi_middleware(JsonOnlyMiddleware, routes=(*paths, OBSERVE_PATH))
    service.add_asgi_middleware(BodyLimitMiddleware)
    service.add_asgi_middleware(ReadinessMiddleware)
    service.add_asgi_middleware(webhooks.WebhookMiddleware)
    service.add_asgi_middleware(DocsMiddleware)
    # Innermost: the hot path, after every check above and BentoML's metrics and limits.
    service.add_asgi_middleware(direct.DirectRouteMiddleware, routes=tuple(paths))
    return service


RiskService = _service()
