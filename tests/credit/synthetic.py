"""Small seeded applicants with awkward categories and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

HOMES = ["own, outright", "rent (private)", "with parents", "mortgage/loan"]
JOBS = ["full-time", "part time; contract", "self-employed & co."]


def make_applicants(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Applicants whose default risk rises with debt ratio and falls with age and income.

    Categories contain spaces and punctuation; about 8% of incomes and 5% of homes are
    missing.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(19, 75, n).astype(float)
    income = rng.lognormal(7.5, 0.5, n)
    debt_ratio = rng.beta(2, 5, n)
    home = rng.choice(HOMES, n, p=[0.3, 0.35, 0.2, 0.15]).astype(object)
    job = rng.choice(JOBS, n, p=[0.6, 0.25, 0.15]).astype(object)
    logit = (
        -1.2
        + 4.0 * (debt_ratio - 0.3)
        - 0.03 * (age - 45)
        - 0.6 * (np.log(income) - 7.5)
        + 0.8 * (home == "rent (private)")
        + 0.5 * (job == "part time; contract")
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.uniform(size=n) < 0.08] = np.nan
    home[rng.uniform(size=n) < 0.05] = None
    X = pd.DataFrame(
        {"age": age, "income": income, "debt ratio": debt_ratio, "home": home, "job": job}
    )
    return X, pd.Series(y, name="default")
