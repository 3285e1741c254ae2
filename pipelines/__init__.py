"""Prefect 3 flows: thin adapters that wire :mod:`riskops.lifecycle` into tasks.

Telemetry is off and Prefect's state lives under ``RISKOPS_HOME`` (see
:func:`riskops.settings.Settings.export_environment`), set before Prefect is imported.
"""
