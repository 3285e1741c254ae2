"""Bring your own model: the Python entry point behind ``riskops.register``.

``riskops.register(estimator, family=..., data=..., name=...)`` and ``riskops register
FAMILY --model-uri URI`` both end in :meth:`riskops.lifecycle.Lifecycle.register`, the
path the built-in kinds take too (``riskops train`` registers ``builtin_spec(kind)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskops.errors import BadInputError

__all__ = ["LoggedSpecification", "load_logged_estimator", "register"]

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
    provenance = options.pop("provenance", None)  # riskops register --model-uri's record
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
        provenance=provenance,
        target=target,
        positive_label=positive_label,
        **options,
    )
    return Lifecycle(settings).run(request)


@dataclass(frozen=True)
class LoggedSpecification:
    """A logged model for the lifecycle to clone and fit, and how it was read (recorded with
    the registration in the audit trail)."""

    estimator: Any
    provenance: dict[str, Any]


def load_logged_estimator(
    settings: Any, model_uri: str, *, trust_pickle: bool = False
) -> LoggedSpecification:
    """A scikit-learn model logged with plain MLflow (``runs:/…``, ``models:/…``), read
    without running code of the file in this process. The lifecycle fits a clone of it
    (never the object itself).

    * ``skops`` (MLflow's default): loaded here as it was fitted, scikit-learn, NumPy, SciPy,
      LightGBM and XGBoost types trusted, any other refused by name (skops runs no code);
      what it was fitted on (``feature_names_in_``) says which columns the clone reads;
    * ``pickle``/``cloudpickle``: refused (exit 2) unless ``trust_pickle``; then unpickled in
      a separate Python without RiskOps's secrets, which returns the specification as JSON,
      rebuilt here from scikit-learn, LightGBM and XGBoost classes only
      (:mod:`riskops.pickle_sandbox`).

    The files are checked before any of them is read: the model file named by ``MLmodel``
    must lie inside the model's folder and be a regular file.
    """
    from riskops.settings import scratch_dir
    from riskops.tracking import configure

    if not model_uri.startswith(("runs:/", "models:/")):
        raise BadInputError(f"--model-uri: {model_uri!r}; use runs:/RUN_ID/PATH or models:/NAME/V")
    configure(settings)
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    with scratch_dir(settings, "byom") as scratch:
        try:
            folder = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=model_uri, dst_path=str(scratch / "model")
                )
            )
        except (MlflowException, OSError) as exc:
            raise BadInputError(f"--model-uri: cannot load {model_uri}: {exc}") from None
        fmt, model_file = _sklearn_flavour(folder, model_uri)
        digest = _sha256(model_file)
        provenance: dict[str, Any] = {"model_uri": model_uri, "format": fmt, "sha256": digest}
        if fmt == "skops":
            model = _load_skops(model_file, model_uri)
            provenance["loaded"] = "in process, skops with trusted types only"
            return LoggedSpecification(model, provenance)
        if not trust_pickle:
            raise BadInputError(
                f"--model-uri: {model_uri} is a {fmt} file, and unpickling runs whatever code "
                "it holds: RiskOps does not unpickle it unless you pass --trust-pickle (it is "
                "then read in a separate process without RiskOps's secrets, keeping only the "
                "unfitted specification). Or log it with "
                "mlflow.sklearn.log_model(..., serialization_format='skops')"
            )
        from riskops.pickle_sandbox import rebuild, specification_in_sandbox

        specification = specification_in_sandbox(model_file, scratch, "--model-uri")
        estimator = rebuild(specification, "--model-uri")
        provenance |= {
            "trusted_pickle": True,
            "loaded": "in a separate process without RiskOps's secrets; specification only",
        }
        return LoggedSpecification(estimator, provenance)


_PICKLE_FORMATS = ("pickle", "cloudpickle")


def _sklearn_flavour(folder: Path, model_uri: str) -> tuple[str, Path]:
    """The serialisation format and model file of a logged scikit-learn model, from its
    ``MLmodel`` (read as YAML data; the file it names must lie inside the folder)."""
    import yaml

    from riskops.data.files import open_regular

    with open_regular(folder / "MLmodel", model_uri, "--model-uri", max_bytes=1 << 20) as handle:
        try:
            meta = yaml.safe_load(handle.read())
        except yaml.YAMLError:
            meta = None
    flavours = meta.get("flavors") if isinstance(meta, dict) else None
    sklearn = flavours.get("sklearn") if isinstance(flavours, dict) else None
    if not isinstance(sklearn, dict):
        found = sorted(flavours) if isinstance(flavours, dict) else []
        raise BadInputError(
            f"--model-uri: {model_uri} is not a scikit-learn model (MLflow flavours: {found})"
        )
    # MLflow reads a missing format as pickle: so does RiskOps (it must then be trusted).
    fmt = str(sklearn.get("serialization_format") or "pickle")
    if fmt != "skops" and fmt not in _PICKLE_FORMATS:
        raise BadInputError(f"--model-uri: {model_uri}: unknown serialization format {fmt!r}")
    name = str(sklearn.get("pickled_model") or ("model.skops" if fmt == "skops" else "model.pkl"))
    model_file = (folder / name).resolve()
    if not model_file.is_relative_to(folder.resolve()):
        raise BadInputError(f"--model-uri: {model_uri}: its model file {name!r} lies outside it")
    with open_regular(model_file, model_uri, "--model-uri"):
        pass  # a regular file: never a FIFO or a device handed to a loader
    return fmt, model_file


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


_TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "xgboost.", "builtins.")


def _load_skops(model_file: Path, model_uri: str) -> Any:
    """A model MLflow saved in the skops format (its default for scikit-learn): loaded with
    the types of the scientific libraries trusted, and refused with their names otherwise
    (skops never runs code of a type it was not told to trust)."""
    from riskops.serialization import skops_io

    sio = skops_io()
    untrusted = sio.get_untrusted_types(file=model_file)
    foreign = [t for t in untrusted if not t.startswith(_TRUSTED_MODULES)]
    if foreign:
        raise BadInputError(
            f"--model-uri: {model_uri} uses types outside scikit-learn, NumPy, SciPy and "
            f"LightGBM that RiskOps will not load unreviewed: {foreign}"
        )
    return sio.load(model_file, trusted=untrusted)
