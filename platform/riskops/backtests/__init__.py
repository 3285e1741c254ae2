"""Regulatory backtests of Value-at-Risk and Expected Shortfall forecasts.

Every VaR test takes a boolean exceedance series (``True`` on the days the loss
exceeded the VaR) and the VaR confidence level (0.95, 0.99...), and returns a frozen
result with the statistic, its p-value and a pass/fail decision at size ``alpha``:

* :func:`kupiec_pof` -- Kupiec's (1995) proportion-of-failures likelihood ratio,
  the unconditional coverage test.
* :func:`christoffersen_independence` -- Christoffersen's (1998) first-order Markov
  test that an exception today does not make one tomorrow more likely.
* :func:`conditional_coverage` -- their sum, Christoffersen's joint test.
* :func:`traffic_light` -- the Basel Committee's (1996) green/yellow/red zones with
  the plus-factor to the capital multiplier.

The tests above are asymptotic and two-sided; their real size in the samples a bank has
(250 days at 99%: 2.5 expected exceptions) is far from nominal, and the two-sided POF
test refuses a VaR with zero exceptions. The promotion gates therefore read tests whose
size holds in small samples and that only refuse a VaR for being too low:

* :func:`binomial_coverage` -- the exact one-sided binomial test of too many exceptions
  (the test behind the Basel traffic light).
* :func:`tail_coverage` -- the exact one-sided test of too many exceptions at a high
  level given the exceptions at a lower one (a conditional form of the multinomial
  backtest of Kratz, Lok and McNeil, 2018).
* :func:`independence_mc` -- Christoffersen's statistic with an exact Monte Carlo
  (permutation) p-value in the sense of Dufour (2006).
* :func:`conditional_coverage_mc` -- Christoffersen's joint statistic with a Monte Carlo
  p-value under the correct model (Berkowitz, Christoffersen and Pelletier, 2011).
* :func:`clustering_mc` -- the Ljung-Box statistic of the exceptions over ten lags with
  the same exact Monte Carlo p-value: the first-order Markov statistic misses clusters
  that last weeks (a historical-simulation VaR in a volatility regime), which
  Berkowitz, Christoffersen and Pelletier (2011) found the multi-lag tests see.

Expected Shortfall is backtested by :func:`acerbi_szekely_z2` (Acerbi and Szekely,
2014, test 2, p-value simulated under the null) and :func:`mcneil_frey` (McNeil and
Frey, 2000, zero-mean test of the exceedance residuals, bootstrap p-value).

References
----------
Basel Committee on Banking Supervision (1996), Supervisory framework for the use of
"backtesting" in conjunction with the internal models approach to market risk.
Kupiec, P. (1995), Techniques for verifying the accuracy of risk measurement models,
Journal of Derivatives 3(2).
Christoffersen, P. (1998), Evaluating interval forecasts, International Economic Review
39(4).
Christoffersen, P. and Pelletier, D. (2004), Backtesting Value-at-Risk: a duration-based
approach, Journal of Financial Econometrics 2(1).
Dufour, J.-M. (2006), Monte Carlo tests with nuisance parameters: a general approach to
finite-sample inference and nonstandard asymptotics, Journal of Econometrics 133(2).
Berkowitz, J., Christoffersen, P. and Pelletier, D. (2011), Evaluating Value-at-Risk
models with desk-level data, Management Science 57(12).
Kratz, M., Lok, Y. H. and McNeil, A. J. (2018), Multinomial VaR backtests: a simple
implicit approach to backtesting expected shortfall, Journal of Banking and Finance 88.

Conventions follow MATLAB's ``varbacktest`` and R's ``rugarch::VaRTest``: losses and
VaR are positive numbers, an exception is ``loss > VaR``, and the transition counts
``n_ij`` count days in state ``i`` followed by a day in state ``j`` (1 = exception).
Only NumPy and SciPy are used, so importing this package is cheap.

The tests live in :mod:`~riskops.backtests.coverage` (the classical ones),
:mod:`~riskops.backtests.exact` (the gates' small-sample tests) and
:mod:`~riskops.backtests.es` (Expected Shortfall); every one is importable from here.
"""

from __future__ import annotations

from riskops.backtests._common import exceedances
from riskops.backtests.coverage import (
    ConditionalCoverageResult,
    IndependenceResult,
    PofResult,
    TrafficLightResult,
    christoffersen_independence,
    conditional_coverage,
    kupiec_pof,
    tick_loss,
    traffic_light,
)
from riskops.backtests.es import (
    McNeilFreyResult,
    Z2Result,
    acerbi_szekely_z2,
    mcneil_frey,
)
from riskops.backtests.exact import (
    BinomialResult,
    MonteCarloResult,
    binomial_coverage,
    clustering_mc,
    conditional_coverage_mc,
    independence_mc,
    tail_coverage,
)

__all__ = [
    "BinomialResult",
    "ConditionalCoverageResult",
    "IndependenceResult",
    "McNeilFreyResult",
    "MonteCarloResult",
    "PofResult",
    "TrafficLightResult",
    "Z2Result",
    "acerbi_szekely_z2",
    "binomial_coverage",
    "christoffersen_independence",
    "clustering_mc",
    "conditional_coverage",
    "conditional_coverage_mc",
    "exceedances",
    "independence_mc",
    "kupiec_pof",
    "mcneil_frey",
    "tail_coverage",
    "tick_loss",
    "traffic_light",
]
