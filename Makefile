# revlink: every developer command. The virtualenv lives in .venv/ at the repo root.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BUF := node_modules/.bin/buf
FRONTEND := frontend
FRONTEND_STAMP := $(FRONTEND)/node_modules/.installed
DASHBOARD := $(FRONTEND)/dist/index.html
# Everything `vite build` reads; generated output, tests and dependencies are left out.
DASHBOARD_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/public -type f \
	-not -name '*.test.ts' 2>/dev/null) $(wildcard $(FRONTEND)/index.html \
	$(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig*.json)
TYPED := bridges revlink $(wildcard apps cloud)
PYTEST_ARGS ?=

.PHONY: help install protos api-client lint typecheck buf frontend-check test demo bench fuzz lock clean

help:
	@echo "make demo      run the whole system on this machine (simulated RevPi)"
	@echo "make test      run every check and test (what CI runs)"
	@echo "make bench     run the benchmarks in tests/bench (not part of make test)"
	@echo "make fuzz      the long hostile-input runs: >100,000 generated requests at every door"
	@echo "make protos    regenerate revlink/*/v1 from protos/"
	@echo "make api-client  regenerate the dashboard's typed API client from the cloud's OpenAPI"
	@echo "make lock      re-resolve requirements.lock from pyproject.toml"
	@echo "make install   create .venv and install Python and npm dependencies"

$(PY_STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# `npm install` rather than `npm ci`: the lock records only the buf binaries this registry
# serves (linux), which `npm ci` calls out of sync; `npm install` honours the lock as it is.
$(NODE_STAMP): package.json package-lock.json
	npm install --no-fund --no-audit --loglevel=error
	touch $@

$(FRONTEND_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-fund --no-audit --loglevel=error
	touch $@

$(DASHBOARD): $(FRONTEND_STAMP) $(DASHBOARD_SOURCES)
	cd $(FRONTEND) && npm run --silent build

install: $(PY_STAMP) $(NODE_STAMP) $(DASHBOARD)

protos: $(PY_STAMP)
	$(PY) protos/generate.py

# The OpenAPI document is written from the routes; the TypeScript types from the document.
api-client: $(PY_STAMP) $(FRONTEND_STAMP)
	$(PY) -m cloud.openapi $(FRONTEND)/openapi.json
	cd $(FRONTEND) && npm run --silent api:generate

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy $(TYPED)

# buf breaking compares with the previous commit when the clone has one.
buf: $(NODE_STAMP)
	$(BUF) lint
	if git rev-parse -q --verify HEAD~1 >/dev/null; then \
		$(BUF) breaking --against '.git#ref=HEAD~1'; \
	else echo "buf breaking: no previous commit to compare with"; fi

frontend-check: $(FRONTEND_STAMP)
	cd $(FRONTEND) && npm run --silent lint && npm run --silent typecheck \
		&& npm run --silent format:check && npm run --silent test:unit

test: install lint typecheck buf frontend-check
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: install
	$(BIN)/revlink demo

bench: install
	for bench in tests/bench/bench_*.py; do \
		$(PY) -m tests.bench.$$(basename $$bench .py) || exit 1; \
	done

# The fuzz tests `make test` runs, at full size: over 100,000 generated inputs at each door.
fuzz: install
	REVLINK_FUZZ_EXAMPLES=1100 REVLINK_FUZZ_SOCKET_INPUTS=100000 $(PY) -m pytest -q -s \
		tests/cloud/test_rest_fuzz.py tests/cloud/test_hostile_input.py

lock: $(PY_STAMP)
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
	rm -rf $(FRONTEND)/node_modules $(FRONTEND)/dist $(FRONTEND)/e2e-output
