"""Credit PD family: metrics, models, explanations, family contract, public data."""
