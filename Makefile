# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap uv and the
# locked environment themselves; a machine needs only Python 3.11 and pip.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: bootstrap install install-deep demo test test-fast lint serve bench clean

bootstrap:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check uv

install: bootstrap
	$(UV) sync --frozen --python $(PYTHON)

# PyTorch for the LSTM/Transformer models: the CPU wheel, never the CUDA build.
install-deep: install
	$(UV) pip install --python .venv/bin/python --find-links /opt/wheels "torch==2.13.0"

demo: install
	$(RUN) riskops demo

test: install
	$(RUN) pytest

test-fast: install
	$(RUN) pytest -m "not slow and not production"

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

serve: install
	$(RUN) riskops serve

bench: install
	for script in bench/bench_*.py; do $(RUN) python $$script || exit 1; done

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
