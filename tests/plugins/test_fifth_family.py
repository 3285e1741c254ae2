"""A fifth family, shipped as its own package, joins the platform through one entry point.

``acme-range`` is built here from its own ``pyproject.toml`` and installed with ``uv pip
install --target`` into a folder the RiskOps processes find on ``PYTHONPATH``: no file of
RiskOps is edited, and its promotion policy comes from the user's own policy file
(``RISKOPS_POLICY_FILE``). Through the real command line it trains and registers, its floor
gate promotes a model that beats the naive forecast and refuses one that does not, its
champion is listed by ``GET /models`` and answers on the family's own route over real HTTP
(``riskops serve``, BentoML), and the stored model loads back through the verified loader
with the family's own skops allow-list.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytestmark = pytest.mark.slow

PACKAGE = {
    "pyproject.toml": """
        [project]
        name = "acme-range"
        version = "0.1.0"
        description = "Next-day absolute move of an index: a RiskOps family from another team."
        requires-python = ">=3.11"

        [project.entry-points."riskops.families"]
        range = "acme_range.family:RangeFamily"

        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"
        """,
    "acme_range/__init__.py": '"""The range family for RiskOps."""\n',
    "acme_range/model.py": '''
        """An exponentially weighted forecast of the next day's absolute return."""

        import numpy as np
        import pandas as pd
        from sklearn.base import BaseEstimator


        class RangeForecaster(BaseEstimator):
            """``scale`` times the EWMA (weight ``1 - decay``) of absolute percent returns."""

            def __init__(self, decay: float = 0.94, scale: float = 1.0):
                self.decay = decay
                self.scale = scale

            def fit(self, X: pd.DataFrame, y=None) -> "RangeForecaster":
                self.level_ = float(np.abs(X["ret"].to_numpy(dtype=float)).mean())
                return self

            def predict(self, X: pd.DataFrame) -> np.ndarray:
                """Row ``t``: the forecast for the day after it, from the fitted level."""
                level, out = self.level_, []
                for move in np.abs(X["ret"].to_numpy(dtype=float)):
                    level = self.decay * level + (1 - self.decay) * move
                    out.append(self.scale * level)
                return np.asarray(out)
        ''',
    "acme_range/serving.py": '''
        """``POST /range/forecast``: the next day's absolute move after the given returns."""

        from typing import Annotated

        import pandas as pd
        from pydantic import BaseModel, Field

        from riskops.serving.payloads import ModelRef, Routed
        from riskops.serving.route import Route, model_ref, require


        class RangeRequest(Routed):
            returns: Annotated[list[float], Field(min_length=1, max_length=5000)]


        class RangeResponse(BaseModel):
            model: ModelRef
            forecast: float


        def prepare(estimator):
            require(estimator, "predict")


        def forecast(champion, request, request_id):
            frame = pd.DataFrame({"ret": request.returns})
            value = float(champion.estimator.predict(frame)[-1])
            body = {"model": model_ref(champion), "forecast": value}
            log = [{"request_id": request_id, "model_version": champion.version, "forecast": value}]
            return body, log


        ROUTE = Route(
            family="range",
            path="/range/forecast",
            api_name="range_forecast",
            request=RangeRequest,
            response=RangeResponse,
            prepare=prepare,
            handle=forecast,
            summary="The next day's absolute move, percent.",
        )
        ''',
    "acme_range/family.py": '''
        """The range family: the next day's absolute return of an index, judged on the last
        500 days against the naive forecast (the training span's mean absolute return)."""

        from typing import Any, ClassVar

        import numpy as np
        import pandas as pd

        from riskops.families.base import Family, TrainingOutcome
        from riskops.families.contracts import Contract

        EVAL_DAYS = 500


        class RangeFamily(Family):
            """Next-day absolute move of one index, from an exponentially weighted average."""

            name: ClassVar[str] = "range"
            registered_name: ClassVar[str] = "range_forecast"
            domain: ClassVar[str] = "market"
            default_dataset: ClassVar[str | None] = "sp500"
            models: ClassVar[tuple[str, ...]] = ("ewma", "doubled")
            primary_metric: ClassVar[str] = "mae"
            key_metrics: ClassVar[tuple[str, ...]] = ("mae", "mae_naive")
            contract: ClassVar[Contract] = Contract(
                required=(("fit",), ("predict",)), hint="fit(X), predict(X) on a 'ret' column"
            )
            trusted_types: ClassVar[tuple[str, ...]] = ("acme_range.model.RangeForecaster",)

            def builtin(self, kind, options):
                from acme_range.model import RangeForecaster

                return RangeForecaster(scale=2.0 if kind == "doubled" else 1.0)

            def _fit(self, dataset, options, workdir, spec, kind):
                frame = self.features(dataset)
                first_eval = len(frame) - EVAL_DAYS
                evaluation = frame.assign(evaluated=np.arange(len(frame)) >= first_eval)
                metrics = self.evaluate(spec.fit(frame.iloc[:first_eval]), evaluation)
                estimator = spec.fit(frame)
                return TrainingOutcome(
                    estimator=estimator,
                    model_kind=kind,
                    params={"model": kind, "eval_days": EVAL_DAYS, "scale": spec.scale},
                    metrics=metrics,
                    evidence={"eval_start": str(frame.index[first_eval].date())},
                    artifact_dir=workdir,
                    input_example=frame.tail(30).reset_index(drop=True),
                    reference=frame.iloc[:first_eval].reset_index(drop=True),
                    evaluation=evaluation,
                )

            def evaluate(self, estimator, evaluation) -> dict[str, float]:
                moves = evaluation["ret"].abs().to_numpy()
                mask = evaluation["evaluated"].to_numpy()
                # row t forecasts day t + 1: the forecasts for the evaluated days
                forecast = estimator.predict(evaluation[["ret"]])[:-1][mask[1:]]
                naive = moves[~mask].mean()
                return {
                    "mae": float(np.abs(moves[mask] - forecast).mean()),
                    "mae_naive": float(np.abs(moves[mask] - naive).mean()),
                    "n_eval": float(mask.sum()),
                }

            def features(self, dataset) -> pd.DataFrame:
                return dataset.series().astype(float).rename("ret").to_frame()

            def score(self, estimator, features) -> pd.Series:
                return pd.Series(estimator.predict(features), index=features.index)

            def service_route(self) -> Any:
                from acme_range.serving import ROUTE

                return ROUTE
        ''',
}

POLICY = """
range_forecast:
  family: range
  floors:
    - {metric: mae, max_metric: mae_naive, why: "no worse than the naive forecast"}
  data_drift: {max_drift_share: 0.5, stattest: psi, threshold: 0.2}
  champion:
    - {metric: mae, higher_is_better: false, max_degradation: 0.0}
"""


def _uv() -> list[str]:
    """uv: the one ``uv run`` started this suite with, else the one on ``PATH``."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """``acme-range`` built from its sources and installed into a target folder, offline (uv
    builds it with the hatchling RiskOps's own build left in uv's cache)."""
    source = tmp_path / "acme-range"
    for relative, text in PACKAGE.items():
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    site = tmp_path / "site"
    done = subprocess.run(
        [
            *_uv(),
            "pip",
            "install",
            "--offline",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "acme_range" / "family.py").exists()
    return site


@pytest.fixture
def plugin_env(riskops_home: Path, plugin_site: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of RiskOps processes that have the plug-in installed, with a policy
    file that adds the plug-in's model to the bundled policies (RiskOps's own file unread)."""
    from riskops.settings import Settings

    policies = tmp_path / "policies.yaml"
    policies.write_text(Settings().policy_file.read_text() + POLICY)
    paths = [str(plugin_site), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "RISKOPS_POLICY_FILE": str(policies),
        "COLUMNS": "200",
    }


def _riskops(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    riskops = Path(sys.executable).with_name("riskops")
    done = subprocess.run(
        [str(riskops), *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(
            f"riskops {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _service(env: dict[str, str], home: Path) -> Iterator[str]:
    port = _free_port()
    riskops = str(Path(sys.executable).with_name("riskops"))
    log = home / "service.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [riskops, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "RISKOPS_SWAP_POLL_SECONDS": "0.5", "BENTOML_DO_NOT_TRACK": "true"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print(log.read_text(errors="replace")[-5000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _served(url: str, name: str, timeout: float = 180.0) -> dict[str, Any]:
    """Poll ``GET /models`` until ``name`` is served (the other families have no champion
    in this home, so ``/readyz`` never turns ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            models = httpx.get(f"{url}/models", timeout=5).json()["models"]
            row = next((m for m in models if m["name"] == name), None)
            if row is not None and row["status"] == "serving":
                return row
        time.sleep(0.5)
    pytest.fail(f"{name} not served after {timeout:.0f} s")


@pytest.fixture
def plugin_in_process(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test process sees the installed plug-in too (to load its champion back)."""
    import riskops.families as families

    def forget() -> None:
        families._entry_points.cache_clear()
        families._family_class.cache_clear()
        families.trusted_types.cache_clear()

    monkeypatch.syspath_prepend(str(plugin_site))
    importlib.invalidate_caches()
    forget()
    yield
    forget()
    for module in [m for m in sys.modules if m == "acme_range" or m.startswith("acme_range.")]:
        sys.modules.pop(module)


def test_an_installed_fifth_family_trains_is_gated_and_is_served(
    riskops_home: Path, plugin_env: dict[str, str], plugin_in_process: None
) -> None:
    # Given the acme-range package installed beside RiskOps (one entry point, no RiskOps edit)
    # When the command line trains its default kind and promotes it
    code, trained = _riskops(plugin_env, "train", "range")
    assert code == 0, trained
    assert (trained["model"]["name"], trained["model"]["version"]) == ("range_forecast", 1)
    assert trained["metrics"]["mae"] < trained["metrics"]["mae_naive"]
    code, promoted = _riskops(plugin_env, "promote", "range_forecast")
    # Then the floor of its own policy was judged, and passed
    assert (code, promoted["outcome"]) == (0, "promoted"), promoted
    floors = [r for r in promoted["report"]["results"] if r["gate"].startswith("floor")]
    assert [(r["gate"], r["passed"]) for r in floors] == [("floor:mae", True)], promoted

    # When a kind that doubles its forecast is trained and offered
    code, doubled = _riskops(plugin_env, "train", "range", "--model", "doubled")
    assert code == 0, doubled
    code, refused = _riskops(plugin_env, "promote", "range_forecast")
    # Then the same gate refuses it (exit 3), and says why
    assert (code, refused["outcome"]) == (3, "refused"), refused
    failed = {r["gate"]: r["reason"] for r in refused["report"]["results"] if not r["passed"]}
    assert "mae = " in failed["floor:mae"] and "mae_naive" in failed["floor:mae"], refused

    # When the service runs with the plug-in installed
    with _service(plugin_env, riskops_home) as url:
        row = _served(url, "range_forecast")
        # Then /models lists the champion on the family's own route
        assert (row["family"], row["route"], row["version"]) == ("range", "/range/forecast", 1)
        returns = [0.5, -1.2, 2.0, -0.3]
        answer = httpx.post(f"{url}/range/forecast", json={"returns": returns}, timeout=30)

    # and the route answers with version 1's forecast, which the verified loader gives back
    # from the stored skops file under the family's own allow-list
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == {"name": "range_forecast", "version": 1}
    from riskops.lifecycle import Lifecycle

    loaded = Lifecycle().loader.load("range_forecast", 1)
    assert type(loaded.estimator).__module__ == "acme_range.model"
    import pandas as pd

    expected = loaded.estimator.predict(pd.DataFrame({"ret": returns}))[-1]
    assert body["forecast"] == pytest.approx(float(expected), rel=1e-12)
    assert np.isfinite(body["forecast"]) and body["forecast"] > 0
