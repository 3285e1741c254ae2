"""RiskOps: one governed lifecycle for credit, VaR, volatility and market-anomaly models.

Importing this package is cheap on purpose: the heavy libraries (MLflow, Evidently,
SHAP, LightGBM) are imported by the modules that need them, when they need them.
"""

__version__ = "0.1.0"

FAMILIES = ("credit", "var", "volatility", "anomaly")
"""The four model families, in the order the lifecycle trains them."""
