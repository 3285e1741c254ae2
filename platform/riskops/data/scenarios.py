"""Deliberately shifted datasets, to show that the gates refuse unrepresentative training data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskops.data.credit import CreditDataset


def shifted_credit(dataset: CreditDataset, seed: int = 7) -> pd.DataFrame:
    """A different population: young applicants only, with inflated incomes and loan sizes.

    The kind of extract a challenger gets trained on by mistake (one branch, one channel,
    another currency unit), and that must never replace the champion.
    """
    rng = np.random.default_rng(seed)
    frame = dataset.frame
    young = frame[frame["Age"] <= frame["Age"].quantile(0.4)].copy()
    for column, factor in (("Income", 3.0), ("Amount", 2.5), ("Price", 2.5), ("Expenses", 1.8)):
        noise = rng.lognormal(0.0, 0.1, len(young))
        young[column] = (young[column] * factor * noise).round(0)
    return young.reset_index(drop=True)
