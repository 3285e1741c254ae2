"""RiskOps: one governed lifecycle for credit, VaR, volatility and market-anomaly models.

Importing this package is cheap on purpose: the heavy libraries (MLflow, Evidently,
SHAP, LightGBM) are imported by the modules that need them, when they need them.
"""

__version__ = "0.1.0"


def register(
    estimator: object,
    family: str = "credit",
    data: str | None = None,
    target: str | None = None,
    positive_label: str | None = None,
    name: str | None = None,
    **options: object,
) -> object:
    """Register your own unfitted estimator as a challenger, through the family's lifecycle.

    The platform checks the family's contract (:mod:`riskops.families.contracts`), clones
    the estimator, fits it on its own split of ``data`` (a CSV or Parquet file; the
    family's bundled data when ``None``), evaluates it independently, explains it, logs
    it to MLflow and registers it as ``name``'s challenger. ``riskops promote NAME`` then
    gates it like any built-in model.

    Parameters
    ----------
    estimator
        Unfitted model: credit, a scikit-learn binary classifier or Pipeline with
        ``predict_proba`` on the raw applicant frame; volatility, ``fit`` /
        ``forecast_variance`` / ``variance_path``; var, a ``riskops.market.var.VaRModel``;
        anomaly, a scikit-learn outlier detector.
    family
        ``credit``, ``var``, ``volatility`` or ``anomaly``.
    data, target, positive_label
        The data and, for credit, the outcome column and the value meaning default.
    name
        Registered model name (default: the family's standard name, e.g. ``credit_pd``).
    **options
        Column mapping (``date_col``, ``price_col``, ``return_col``, ``return_scale``,
        ``high_col``, ``low_col``, ``volume_col``), ``dataset`` (a bundled market series),
        ``recent`` (a file of recent data for drift), ``level``, ``dist``, ``seed``,
        ``extra`` (family options, e.g. ``{"test_size": 0.3}``) and ``settings``.

    Returns
    -------
    riskops.lifecycle.TrainResult
        ``to_dict()`` has the shape of ``riskops train --json``.
    """
    from riskops.byom import register as _register

    return _register(estimator, family, data, target, positive_label, name, **options)
