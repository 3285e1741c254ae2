"""Plots of a VaR model's backtest: breaches of VaR and ES, and the Basel traffic-light history.

Drawn by the family when it trains (logged with the run) and by its documents when a run
logged the forecasts but not the plots.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# The Basel traffic light counts exceptions over the last 250 trading days.
from riskops.market.var_backtests import TRAFFIC_LIGHT_DAYS

__all__ = ["TRAFFIC_LIGHT_DAYS", "plot_exceedances", "plot_traffic_light_history"]


def plot_exceedances(forecasts: pd.DataFrame, level: float, asset: str, out_dir: Path) -> Path:
    """Returns against -VaR and -ES over the window, breaches marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from riskops.market.rolling import level_tag

    tag = level_tag(level)
    ret, var, es = forecasts["ret"], forecasts[f"var_{tag}"], forecasts[f"es_{tag}"]
    breach = -ret > var
    fig, ax = plt.subplots(figsize=(12, 5))
    ax.plot(ret.index, ret, color="0.6", lw=0.6, label="return")
    ax.plot(var.index, -var, color="tab:blue", lw=1.1, label=f"-VaR {tag}%")
    ax.plot(es.index, -es, color="tab:purple", lw=0.8, ls="--", label=f"-ES {tag}%")
    ax.scatter(ret.index[breach], ret[breach], color="tab:red", s=18, zorder=3, label="breach")
    expected = (1 - level) * len(ret)
    ax.set_title(
        f"{asset}: {int(breach.sum())} breaches of the {tag}% VaR in {len(ret)} days"
        f" (expected {expected:.1f})",
        fontsize=10,
    )
    ax.set_ylabel("daily return, %")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / f"exceedances_{tag}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_traffic_light_history(forecasts: pd.DataFrame, level: float, out_dir: Path) -> Path:
    """Rolling 250-day exception count of the VaR at ``level``, over the Basel zones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    from riskops.market.rolling import level_tag

    tag = level_tag(level)
    hits = (-forecasts["ret"] > forecasts[f"var_{tag}"]).astype(int)
    days = min(TRAFFIC_LIGHT_DAYS, len(hits))
    count = hits.rolling(days).sum().dropna()
    p = 1 - level
    # Smallest counts whose cumulative probability reaches 95% and 99.99% (yellow, red).
    yellow = int(np.argmax(stats.binom.cdf(np.arange(days + 1), days, p) >= 0.95))
    red = int(np.argmax(stats.binom.cdf(np.arange(days + 1), days, p) >= 0.9999))
    top = max(float(count.max()) if len(count) else 0.0, red + 2)
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.axhspan(-0.5, yellow - 0.5, color="tab:green", alpha=0.15, label="green")
    ax.axhspan(yellow - 0.5, red - 0.5, color="gold", alpha=0.25, label="yellow")
    ax.axhspan(red - 0.5, top + 0.5, color="tab:red", alpha=0.15, label="red")
    ax.step(count.index, count, where="post", color="black", lw=1.2, label=f"exceptions, {days}d")
    ax.set_ylim(-0.5, top + 0.5)
    ax.set_ylabel(f"exceptions of the {tag}% VaR")
    ax.set_title(f"Basel traffic light, rolling {days}-day exception count", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "traffic_light_history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
