"""The VaR family plug-in: next-day Value-at-Risk and Expected Shortfall, backtested.

Its models (historical simulation, filtered historical simulation, GARCH-t, LightGBM
quantiles) live in the market domain (:mod:`riskops.market.var`); this package holds what
makes them a family: training and backtesting (:mod:`.family`), serving (:mod:`.serving`)
and its part of model cards and reports (:mod:`.documents`).
"""
