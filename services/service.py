"""The RiskOps BentoML service: the four champions behind one HTTP API.

Serve with ``riskops serve`` (or ``bentoml serve services.service:RiskService``).

=============================  ===========================================================
Route                          Answer
=============================  ===========================================================
``POST /credit/score``         PD, rating grade and reason codes per applicant
``POST /var/forecast``         next-day VaR and ES (percent) at the requested levels
``POST /volatility/forecast``  daily variance and volatility path over a horizon
``POST /anomaly/score``        anomaly score, percentile, alert flag and drivers per day
``GET /models``                what is served: name, alias, version, request schema
``GET /metrics``               Prometheus: BentoML's ``bentoml_*`` and ``riskops_*``
``GET /livez``, ``/readyz``    probes
=============================  ===========================================================

Everything model-specific lives in :mod:`services.adapters`; this module only wires routes
to champions, metrics, the inference log and auth. Each worker process holds the champions
in memory (:class:`~services.champions.ChampionHolder`) and swaps them in place when the
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

import gc
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bentoml
import orjson
from fastapi import FastAPI
from pydantic import BaseModel, Field, ValidationError
from starlette.responses import Response

from services import adapters, payloads, readiness
from services.champions import Champion, ChampionHolder
from services.directory import ChampionDirectory
from services.docs import DocsMiddleware
from services.limits import BodyLimitMiddleware, Overloaded, WorkLimits
from services.middleware import CallerAuthMiddleware, JsonOnlyMiddleware, current_caller_name
from services.observability import LogPump, ServedMetrics, metrics
from services.readiness import ReadinessMiddleware


class ServeArguments(BaseModel):
    """``bentoml serve ... --arg workers=2``; ``riskops serve --workers 2`` passes them."""

    workers: int = Field(default=1, ge=1, le=64)
    access_log: bool = False
    tracing: bool = False


MODEL_ROUTES = ("/credit/score", "/var/forecast", "/volatility/forecast", "/anomaly/score")

ROUTE_THREADS = {"credit": 2, "var": 2, "volatility": 2, "anomaly": 1}
"""Threads each route's expensive work may use at once, per worker process (2 cores): one
large anomaly batch at a time, so that it cannot take the cores credit requests need."""


ARGS = bentoml.use_arguments(ServeArguments)


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


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


@bentoml.asgi_app(models_app, path="/")
@bentoml.service(
    name="riskops",
    image=_image(),
    workers=ARGS.workers,
    traffic={"timeout": 120},
    logging={"access": {"enabled": ARGS.access_log}},
    tracing={} if ARGS.tracing else {"excluded_urls": list(MODEL_ROUTES)},
)
class RiskService:
    """RiskOps champions: credit PD, VaR/ES, volatility and market anomaly detection."""

    def __init__(self) -> None:
        from riskops.inference_log import InferenceLogWriter
        from riskops.registry import Registry
        from riskops.settings import Settings

        _configure_logging()
        settings = Settings()
        settings.export_environment()
        self.settings = settings
        self.metrics = metrics()
        self._bound: dict[tuple[str, str], ServedMetrics] = {}
        self.writers: dict[str, InferenceLogWriter] = {}

        def on_new(name: str, family: str, holder: ChampionHolder) -> None:
            holder.on_swap(self._on_swap)
            self.writers[name] = InferenceLogWriter(settings, name).start()

        # Every registered champion by name: the four standard models from the start, any
        # other (a user's card_pd...) as soon as it has a champion (services.directory).
        self.directory = ChampionDirectory(
            Registry(settings),
            {family: route.prepare for family, route in adapters.ROUTES.items()},
            {family: route.model for family, route in adapters.ROUTES.items()},
            on_new,
        )
        for family, route in adapters.ROUTES.items():
            self.directory.add(route.model, family)
        self.log = LogPump(self.writers).start()
        self.work = WorkLimits(dict(ROUTE_THREADS), max_waiting=settings.serve_max_waiting)
        # Load the champions side by side: startup (and /readyz) waits for the slowest.
        with ThreadPoolExecutor(max_workers=len(adapters.ROUTES)) as pool:
            list(pool.map(lambda h: h.refresh(), self.directory.holders().values()))
        self.directory.discover()
        self.directory.start(settings.swap_poll_seconds)
        readiness.publish(self.directory.holders)
        # What is loaded by now (libraries, the first champions) lives about as long as the
        # process; keeping it out of the cyclic collector's generations shortens the full
        # collections that pause requests. A champion swapped out later is still freed by
        # reference counting.
        gc.freeze()

    def _served(self, family: str, model: str, version: str) -> ServedMetrics:
        key = (model, version)
        served = self._bound.get(key)
        if served is None:
            served = self._bound[key] = ServedMetrics.bind(self.metrics, family, model, version)
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
        self.directory.stop()
        self.log.close()

    async def _serve(
        self,
        family: str,
        handler: Callable[[Champion, str], tuple[dict[str, Any], list[dict[str, Any]]]],
        inline: bool = False,
        name: str | None = None,
    ) -> Response:
        """Run one request against the champion of the moment; map outcomes to statuses.

        The caller (authenticated by :class:`~services.middleware.CallerAuthMiddleware`) is
        recorded with every logged decision.
        """
        started = time.perf_counter()
        # read once: one version per request
        model, champion, known = self.directory.current(family, name)
        version = str(champion.version) if champion is not None else "none"
        m = self.metrics
        try:
            if not known:
                raise adapters.unknown_model(model, family, self.directory)
            if champion is None:
                raise adapters.unavailable(model, family)
            request_id = uuid.uuid4().hex
            if inline:
                body, log = handler(champion, request_id)
            else:
                body, log = await self.work.run(family, handler, champion, request_id)
        except adapters.ServingError as exc:
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
        self.log.put(model, log)
        dropped = self.writers[model].dropped
        if dropped:
            m.log_dropped.labels(model).set(dropped)
        served = self._served(family, model, version)
        served.latency.observe(time.perf_counter() - started)
        served.ok.inc()
        served.rows.inc(len(log))
        served.batch_rows.observe(len(log))
        if served.credit_pd is not None:
            for row in log:
                served.credit_pd.observe(row["pd"])
        elif served.alerts is not None:
            alerts = sum(row["alert"] for row in log)
            if alerts:
                served.alerts.inc(alerts)
        return _json(body, 200, {"x-request-id": request_id})

    @bentoml.api(
        route="/credit/score",
        input_spec=payloads.CreditScoreRequest,
        output_spec=payloads.CreditScoreResponse,
    )
    async def credit_score(
        self,
        applicants: list[dict[str, Any]],
        reasons: int = 4,
        model: str | None = None,
    ) -> Any:
        """Probability of default, rating grade and reason codes for each applicant."""
        return await self._serve(
            "credit",
            lambda champion, rid: adapters.score_credit(champion, applicants, reasons, rid),
            inline=len(applicants) <= adapters.INLINE_ROWS,
            name=model,
        )

    @bentoml.api(
        route="/var/forecast",
        input_spec=payloads.VaRRequest,
        output_spec=payloads.VaRResponse,
    )
    async def var_forecast(self, **fields: Any) -> Any:
        """Next-day Value-at-Risk and Expected Shortfall (percent) at each level."""
        name = fields.pop("model", None)
        request = payloads.VaRRequest.model_construct(**fields)
        return await self._serve(
            "var",
            lambda champion, rid: adapters.forecast_var(champion, request, rid),
            name=name,
        )

    @bentoml.api(
        route="/volatility/forecast",
        input_spec=payloads.VolatilityRequest,
        output_spec=payloads.VolatilityResponse,
    )
    async def volatility_forecast(self, **fields: Any) -> Any:
        """Daily variance and volatility for each of the next ``horizon`` days."""
        name = fields.pop("model", None)
        request = payloads.VolatilityRequest.model_construct(**fields)
        return await self._serve(
            "volatility",
            lambda champion, rid: adapters.forecast_volatility(champion, request, rid),
            name=name,
        )

    @bentoml.api(
        route="/anomaly/score",
        input_spec=payloads.AnomalyRequest,
        output_spec=payloads.AnomalyResponse,
    )
    async def anomaly_score(self, **fields: Any) -> Any:
        """Anomaly score, alert flag and top drivers for feature rows or a price window."""
        name = fields.pop("model", None)
        request = payloads.AnomalyRequest.model_construct(**fields)
        return await self._serve(
            "anomaly",
            lambda champion, rid: adapters.score_anomaly(champion, request, rid),
            name=name,
        )

    @models_app.get("/models", response_model=payloads.ModelsResponse)
    async def models(self) -> dict[str, Any]:
        """Every served model: name, family, route, alias, version, freshness, request schema
        and, for a champion that could not load, the error."""
        out = []
        for name, holder in self.directory.holders().items():
            family = self.directory.family_of(name) or ""
            row = holder.status()
            row["family"] = row.get("family") or family
            row["route"] = adapters.ROUTE_PATHS.get(family)
            row["default"] = self.directory.defaults.get(family) == name
            champion = holder.current
            schema = getattr(champion.state, "row_schema", None) if champion else None
            if schema is not None:
                row["request_schema"] = schema
            row["max_rows"] = payloads.MAX_ROWS
            out.append(row)
        return {"models": out}


# @bentoml.service turns the class into a Service object, which the type checker cannot see.
_service: Any = RiskService
_service.add_asgi_middleware(CallerAuthMiddleware, model_routes=MODEL_ROUTES)
_service.add_asgi_middleware(JsonOnlyMiddleware, routes=MODEL_ROUTES)
_service.add_asgi_middleware(BodyLimitMiddleware)
_service.add_asgi_middleware(ReadinessMiddleware)
_service.add_asgi_middleware(DocsMiddleware)
