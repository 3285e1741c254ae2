"""The plot of a volatility model's backtest: forecast and benchmark against realised volatility.

Drawn by the family when it trains (logged with the run) and by its documents when a run
logged the forecasts but not the plot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_forecasts"]


def plot_forecasts(
    table: pd.DataFrame, metrics: dict[str, float], model: str, asset: str, out_dir: Path
) -> Path:
    """Forecast and benchmark volatility against the absolute return over the window."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5))
    ax.plot(table.index, np.sqrt(table["realised"]), color="0.75", lw=0.6, label="|return|")
    ax.plot(
        table.index,
        np.sqrt(table["benchmark"]),
        color="tab:orange",
        lw=1.0,
        label="GARCH(1,1)-normal (benchmark)",
    )
    ax.plot(table.index, np.sqrt(table["forecast"]), color="tab:blue", lw=1.2, label=f"{model}")
    ax.set_ylabel(f"{asset} daily volatility, %")
    ax.set_title(
        f"Out-of-sample one-step forecasts: QLIKE {metrics['qlike']:.4f}"
        f" vs benchmark {metrics['qlike_benchmark']:.4f}"
        f" (DM {metrics['dm_stat']:.2f}, p={metrics['dm_pvalue']:.3f})",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(out_dir) / "forecast_vs_realised.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
