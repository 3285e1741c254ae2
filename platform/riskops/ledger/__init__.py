"""The audited ledger is the truth; MLflow aliases are a view of it.

Who is champion, previous, challenger or shadow of a model, which approvals are pending, and
what each registered version *is* (its identity and the hashes of its files and evidence) are
pure folds over the hash-chained audit trail (:mod:`.state`). Nothing reads an MLflow alias to
decide anything: RiskOps writes aliases after the audit record, as a convenience for MLflow's
UI and clients, and :mod:`.verify` reports any alias that disagrees with the fold. Models and
evidence are read through :mod:`.loader`, which checks a version's identity and hashes
against the fold before anything is deserialised or judged.
"""
