"""Generic statistics: pure NumPy/SciPy functions returning frozen dataclasses with ``to_dict()``."""
