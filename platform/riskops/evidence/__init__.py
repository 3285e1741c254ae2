"""The live evidence store (:mod:`riskops.evidence.store`) and its group-commit writer
(:mod:`riskops.evidence.writer`).

A library below the families: a family declares its kinds of evidence (credit decisions and
outcomes, the market's live observations and forecasts) and writes and reads them here; the
ledger seals the streams its decisions read and verifies them.
"""
