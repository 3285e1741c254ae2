"""Generic statistics: pure NumPy/SciPy functions returning frozen results."""
