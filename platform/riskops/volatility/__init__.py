"""The volatility family plug-in: next-day variance forecasts against GARCH(1,1).

Its models (GARCH, GJR, EGARCH, HAR with LightGBM, LSTM and Transformer) live in the market
domain (:mod:`riskops.market.volatility`, :mod:`riskops.market.deep`); this package holds
what makes them a family: training and evaluation (:mod:`.family`), serving
(:mod:`.serving`) and its part of model cards and reports (:mod:`.documents`).
"""
