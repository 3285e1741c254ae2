"""Bring your own model: the Python entry point behind ``riskops.register``.

``riskops.register(estimator, family=..., data=..., name=...)`` and ``riskops register
FAMILY --model-uri URI`` both end in :meth:`riskops.lifecycle.Lifecycle.register`, the
path the built-in kinds take too (``riskops train`` registers ``builtin_spec(kind)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from riskops.errors import BadInputError

__all__ = ["load_logged_estimator", "register"]

_TRAIN = ("level", "dist", "seed", "tune", "tune_timeout_s")


def register(
    estimator: Any,
    family: str = "credit",
    data: str | Path | None = None,
    target: str | None = None,
    positive_label: str | None = None,
    name: str | None = None,
    **options: Any,
) -> Any:
    """See :func:`riskops.register`."""
    from riskops.families import get_family
    from riskops.families.base import TrainOptions
    from riskops.lifecycle import Lifecycle, TrainRequest

    get_family(family).check(estimator)  # before the data is even read
    settings = options.pop("settings", None)
    recent = options.pop("recent", None)
    dataset = options.pop("dataset", None)
    train = {k: options.pop(k) for k in _TRAIN if k in options}
    extra = dict(options.pop("extra", None) or {})
    request = TrainRequest.build(
        family,
        data=data,
        dataset=dataset,
        recent=recent,
        options=TrainOptions(model=None, extra=extra, **train),
        name=name,
        estimator=estimator,
        target=target,
        positive_label=positive_label,
        **options,
    )
    return Lifecycle(settings).run(request)


def load_logged_estimator(settings: Any, model_uri: str) -> Any:
    """A model logged with plain MLflow (``runs:/…``, ``models:/…``), as it was fitted:
    loaded with MLflow's scikit-learn flavour. The lifecycle fits a clone of it (never the
    object itself); what it was fitted on (``feature_names_in_``) says which columns the
    clone reads."""
    from riskops.tracking import configure

    if not model_uri.startswith(("runs:/", "models:/")):
        raise BadInputError(f"--model-uri: {model_uri!r}; use runs:/RUN_ID/PATH or models:/NAME/V")
    configure(settings)
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow.sklearn.load_model(model_uri)
    except MlflowException as exc:
        if "untrusted types" not in str(exc):
            raise BadInputError(f"--model-uri: cannot load {model_uri}: {exc}") from None
        model = _load_skops(model_uri)
    except OSError as exc:
        raise BadInputError(f"--model-uri: cannot load {model_uri}: {exc}") from None
    return model


_TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "xgboost.", "builtins.")


def _load_skops(model_uri: str) -> Any:
    """A model MLflow saved in the skops format (its default for scikit-learn): loaded with
    the types of the scientific libraries trusted, and refused with their names otherwise
    (skops never runs code of a type it was not told to trust)."""
    import mlflow.artifacts

    from riskops.serialization import skops_io

    sio = skops_io()
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    files = sorted(folder.rglob("*.skops"))
    if not files:
        raise BadInputError(f"--model-uri: {model_uri} holds no scikit-learn model file")
    untrusted = sio.get_untrusted_types(file=files[0])
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_MODULES)]
    if foreign:
        raise BadInputError(
            f"--model-uri: {model_uri} uses types outside scikit-learn, NumPy, SciPy and "
            f"LightGBM that RiskOps will not load unreviewed: {foreign}"
        )
    return sio.load(files[0], trusted=untrusted)
