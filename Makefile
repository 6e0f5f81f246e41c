# Every target sets up what it needs on a fresh machine, idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers: most slow tests wait on subprocesses and emulated orgs rather than
# compute, so more workers than cores pays off.
PYTEST_WORKERS ?= 4
# Debian packages the tests need (keyring backends, systemd-analyze, promtool, zip for bench).
APT_PACKAGES := zip unzip dbus-daemon dbus-bin gnome-keyring systemd prometheus

.PHONY: dist audit audit-or-say test test-fast lint typecheck pytest demo bench bench-quick reliability system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check daemon tests bench
	$(BIN)/ruff format --check daemon tests bench
	PYTHONPATH=daemon $(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal

# bandit over daemon/ and pip-audit over the dependencies (see .ci/audit.py).
audit: $(STAMP)
	$(BIN)/python .ci/audit.py

# `make test` runs where no vulnerability service answers (CI, offline boxes): there the audit
# says plainly that no dependency was audited instead of failing; `make audit` alone fails.
audit-or-say: $(STAMP)
	ALLOW_UNAUDITED=1 $(BIN)/python .ci/audit.py

# The README's test command: lint, types, security checks, and every test (slow ones included).
test: lint typecheck audit-or-say pytest

# The fast set only, for a developer's inner loop.
test-fast: $(STAMP) system-deps
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal -m 'not slow'

# The reliability suite at full size (make test runs it shortened), with its summary table.
reliability: $(STAMP) system-deps
	RELIABILITY_SCALE=full $(BIN)/pytest tests/reliability

# The whole loop against the built-in emulator: authorize, run the daemon, publish twice.
demo: $(STAMP)
	$(BIN)/sfsync --config examples/demo.toml config check
	$(BIN)/sfsync demo

# The benchmarks of bench/ (see bench/README.md): a table of figures against their targets and
# bench/results.json; about 10 minutes on 2 cores. bench-quick runs each row once, smaller (CI).
bench: $(STAMP) system-deps
	$(BIN)/python -m bench.run

bench-quick: $(STAMP) system-deps
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info daemon/*.egg-info

# The wheel and sdist to install on a box (see systemd/README.md, "Installing on a box"), and a
# wheelhouse of every dependency for a box without internet access.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m pip wheel --quiet --no-deps -w dist .
	$(BIN)/python -m pip wheel --quiet -w dist/wheelhouse dist/sfsync-*.whl
	$(BIN)/python -m pip install --quiet build && $(BIN)/python -m build --sdist --outdir dist .
