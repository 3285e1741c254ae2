# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap uv and the
# locked environment themselves; a machine needs only Python 3.11 and pip.
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never
# Installed packages get their bytecode at install time. Where PYTHONDONTWRITEBYTECODE is
# set (as on this project's CI machines) Python never writes .pyc files, so without this
# every process compiled MLflow, Prefect, pandas... from source: `riskops report` spent 63%
# of its 12 s compiling, Prefect's temporary server 6 of its 9.5 s of imports.
export UV_COMPILE_BYTECODE := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: bootstrap sync install install-deep demo test test-fast lint docs serve live bench clean
.PHONY: image-tools base-image image test-container clean-images

bootstrap:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check uv

# The seeds: MLflow's and Prefect's databases migrated, and the Tree SHAP kernels compiled,
# once per environment (platform/riskops/seeds.py); each new RISKOPS_HOME starts from copies.
SEEDS := .venv/bin/python -m pipelines.seeds

sync: bootstrap
	$(UV) sync --frozen --python $(PYTHON)

install: sync
	$(SEEDS)

# PyTorch for the LSTM/Transformer models (the `deep` extra): the CPU wheel the machine
# provides in its pip find-links folder, never the CUDA build from the index. It is not in
# uv.lock (a local, platform-specific wheel cannot be locked for every platform), so the
# `deep` extra stays empty and this target installs it into the locked environment. The
# seeds are built meanwhile: Prefect's migrations keep one core busy, PyTorch's bytecode
# the other (about 20 s together instead of 30 s one after the other).
TORCH_WHEELS ?= /opt/wheels
TORCH_VERSION ?= 2.13.0
install-deep: sync
	$(SEEDS) & seeds=$$!; \
	$(UV) pip install --python .venv/bin/python --find-links $(TORCH_WHEELS) \
		"torch==$(TORCH_VERSION)+cpu"; torch=$$?; \
	wait $$seeds; built=$$?; \
	test $$torch -eq 0 && test $$built -eq 0

demo: install
	$(RUN) riskops demo

# CI runs the deep-model tests too: with CI=true a skipped deep test fails the run. Two
# pytest-xdist workers; tests/conftest.py keeps tests that share a fixture on one worker.
test: install-deep
	$(RUN) pytest -n 2

test-fast: install
	$(RUN) pytest -n 2 -m "not slow and not production"

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports --no-cache
	$(MAKE) --no-print-directory docs

# The user docs (mkdocs.yml, docs/), built strictly: a broken link, anchor or include, or a
# reference page whose generator fails (docs/hooks.py), fails the build. The site goes to a
# temporary folder, never into the checkout. tests/docs/ runs the same build in `make test`.
docs: install
	@site=$$(mktemp -d); trap 'rm -rf "$$site"' EXIT; \
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict --quiet --site-dir "$$site" && echo "docs: built (strict)"

serve: install
	$(RUN) riskops serve

# The live path on a local broker: a redis-server of its own (Debian's package, installed
# when missing), stopped with the consumer. Publish observations to the riskops:obs:* streams
# (riskops.live.brokers.RedisStreams.publish_observations) or replay a file instead:
# `riskops stream --replay FILE --speed 50` needs no broker.
REDIS_PORT ?= 6379
live: install
	@command -v redis-server >/dev/null 2>&1 || { $(APT_GET) update -qq && \
		$(APT_GET) install -y -qq --no-install-recommends redis-server >/dev/null; }
	@dir=$$(mktemp -d); \
	redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --save '' --dir $$dir \
		>$$dir/redis.log 2>&1 & redis=$$!; \
	trap 'kill $$redis 2>/dev/null; rm -rf '"$$dir" EXIT INT TERM; \
	$(RUN) riskops stream --broker redis://127.0.0.1:$(REDIS_PORT)/0

bench: install
	for script in bench/bench_*.py; do $(RUN) python $$script || exit 1; done

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache

# ------------------------------------------------------------------------- container images
# `make image`: the RiskOps and MLflow images from infra/docker/*.Dockerfile, with docker when
# an engine answers, else with buildah on a Python base image built from Debian packages
# (made once by infra/image/base.sh, kept in buildah's storage and reused). `make
# test-container`: build, train + promote + serve inside the image, check from the host.
# buildah and debootstrap are installed with apt-get when missing (root). Nothing is written
# into the checkout: images live in buildah's (or docker's) storage, scratch files in $TMPDIR.
export STORAGE_DRIVER ?= vfs
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
BUILDAH_TOOLS := buildah debootstrap

image-tools:
	@missing=""; \
	for tool in $(BUILDAH_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing="$$missing debian-archive-keyring"; \
	if [ -n "$$missing" ]; then \
		echo "image-tools: installing$$missing (apt-get)"; \
		$(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

base-image: image-tools
	infra/image/base.sh

image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		infra/image/build.sh; \
	else \
		$(MAKE) --no-print-directory image-tools && IMAGE_BUILDER=buildah infra/image/build.sh; \
	fi

test-container: image-tools
	nice -n 10 infra/image/test-container.sh

# Removes the images (and so the reused base image); a cold build starts from debootstrap.
clean-images:
	@images=$$(buildah images --noheading --format '{{.Name}}:{{.Tag}}' 2>/dev/null | \
		grep -E '^localhost/riskops(-mlflow|-python)?:' || true); \
	if [ -n "$$images" ]; then buildah rmi --force $$images; fi
