"""The HTTP service over the champions (BentoML): ``services.service:RiskService``."""
